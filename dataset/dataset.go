// Package dataset reads the data folders of the CLI contract (inputs,
// calibration and evaluation sets) and makes seeded random inputs, yielding
// batches a model accepts. Samples are streamed, never all held in memory.
//
// A folder holds one .npy per graph input (named after the input) or
// input_0.pb, input_1.pb, … in graph-input order; arrays whose leading
// dimension exceeds the model's fixed batch size hold that many samples. A
// folder may instead hold test_data_set_0/, test_data_set_1/, … in that layout.
// labels.npy (int64, one per sample) makes it a labelled evaluation set.
package dataset

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Batch is one feed for the model: a tensor per input name, the labels of its
// samples when the folder is labelled, and where it came from.
type Batch struct {
	Inputs map[string]*interp.Tensor
	Labels []int64
	Source string
}

// Reader yields batches; Next returns io.EOF after the last one.
type Reader interface {
	Next() (*Batch, error)
	// Samples is the total number of samples (not batches).
	Samples() int
	Close() error
}

// Options control batching.
type Options struct {
	// Dims fixes symbolic dimensions by name (the CLI's --dim NAME=VALUE).
	Dims map[string]int64
	// BatchSize is used when the model's batch dimension is symbolic (default 32).
	BatchSize int
}

// Open reads the data folder dir for a model with the given inputs.
func Open(dir string, inputs []*onnx.Value, opts Options) (Reader, error) {
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) > 0 {
		sort.Slice(sets, func(i, j int) bool { return setIndex(sets[i]) < setIndex(sets[j]) })
		return &setsReader{sets: sets, inputs: inputs, opts: opts}, nil
	}
	return openFlat(dir, inputs, opts)
}

func setIndex(p string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(p), "test_data_set_"))
	return n
}

// setsReader walks test_data_set_* subfolders, each a flat folder.
type setsReader struct {
	sets   []string
	inputs []*onnx.Value
	opts   Options
	cur    Reader
	i      int
}

func (r *setsReader) Samples() int { return len(r.sets) }

func (r *setsReader) Next() (*Batch, error) {
	for {
		if r.cur == nil {
			if r.i >= len(r.sets) {
				return nil, io.EOF
			}
			cur, err := openFlat(r.sets[r.i], r.inputs, r.opts)
			if err != nil {
				return nil, err
			}
			r.cur, r.i = cur, r.i+1
		}
		b, err := r.cur.Next()
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			continue
		}
		return b, err
	}
}

func (r *setsReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}

// flatReader streams one folder of .npy or .pb files.
type flatReader struct {
	dir     string
	inputs  []*onnx.Value
	arrays  []*npyArray // per input, nil when read from .pb
	pbs     []*interp.Tensor
	labels  *npyArray
	samples int // along axis 0 of the files
	batch   int // samples per feed
	next    int
	done    bool
}

func openFlat(dir string, inputs []*onnx.Value, opts Options) (Reader, error) {
	r := &flatReader{dir: dir, inputs: inputs, arrays: make([]*npyArray, len(inputs)), pbs: make([]*interp.Tensor, len(inputs))}
	ok := false
	defer func() {
		if !ok {
			r.Close()
		}
	}()
	for i, v := range inputs {
		npyPath := filepath.Join(dir, v.Name+".npy")
		pbPath := filepath.Join(dir, fmt.Sprintf("input_%d.pb", i))
		switch {
		case exists(npyPath):
			a, err := openNpy(npyPath)
			if err != nil {
				return nil, err
			}
			r.arrays[i] = a
		case exists(pbPath):
			b, err := os.ReadFile(pbPath)
			if err != nil {
				return nil, err
			}
			d, err := onnx.DecodeDatum(b, v.Type)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", pbPath, err)
			}
			t, err := interp.FromDatum(d)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", pbPath, err)
			}
			r.pbs[i] = t
		default:
			return nil, fmt.Errorf("%s: no data for input %q (expected %s.npy or input_%d.pb)", dir, v.Name, v.Name, i)
		}
	}
	if p := filepath.Join(dir, "labels.npy"); exists(p) {
		a, err := openNpy(p)
		if err != nil {
			return nil, err
		}
		if a.dtype != onnx.Int64 && a.dtype != onnx.Int32 || len(a.shape) != 1 {
			return nil, fmt.Errorf("%s: labels must be a 1-D int64 array, got %s%v", p, a.dtype, a.shape)
		}
		r.labels = a
	}
	if err := r.plan(opts); err != nil {
		return nil, err
	}
	ok = true
	return r, nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// plan decides how many samples the files hold and how many go in one feed.
func (r *flatReader) plan(opts Options) error {
	r.samples, r.batch = -1, -1
	for i, v := range r.inputs {
		shape := r.fileShape(i)
		n, batch := 1, 1
		if v.Type != nil && v.Type.HasShape() && len(v.Type.Shape) > 0 && len(shape) == len(v.Type.Shape) {
			d0 := v.Type.Shape[0]
			size, static := int64(0), false
			if d0.IsStatic() {
				size, static = d0.Value, true
			} else if val, ok := opts.Dims[d0.Param]; ok {
				size, static = val, true
			}
			if static {
				if size <= 0 || int64(shape[0])%size != 0 {
					return fmt.Errorf("%s: input %q has %d rows, not a multiple of the model's batch size %d", r.dir, v.Name, shape[0], size)
				}
				n, batch = shape[0]/int(size), int(size)
			} else {
				// A symbolic batch: feed in chunks.
				bs := opts.BatchSize
				if bs <= 0 {
					bs = 32
				}
				n, batch = shape[0], min(bs, shape[0])
				r.batch = batch
				if r.samples < 0 {
					r.samples = n
				}
				if r.samples != n {
					return fmt.Errorf("%s: inputs hold different numbers of samples (%d and %d)", r.dir, r.samples, n)
				}
				continue
			}
			if r.samples >= 0 && r.samples != n*batch {
				return fmt.Errorf("%s: inputs hold different numbers of samples (%d and %d)", r.dir, r.samples, n*batch)
			}
			r.samples, r.batch = n*batch, batch
			continue
		}
		// Without a declared batch dimension the file is one feed.
		if r.samples < 0 {
			r.samples, r.batch = n, batch
		}
		if len(shape) > 0 {
			r.samples, r.batch = shape[0], shape[0]
		}
	}
	if r.samples < 0 {
		r.samples, r.batch = 1, 1
	}
	if r.labels != nil && r.labels.shape[0] != r.samples {
		return fmt.Errorf("%s: labels.npy has %d labels for %d samples", r.dir, r.labels.shape[0], r.samples)
	}
	return nil
}

func (r *flatReader) fileShape(i int) []int {
	if r.arrays[i] != nil {
		return r.arrays[i].shape
	}
	return r.pbs[i].Shape
}

func (r *flatReader) Samples() int { return r.samples }

func (r *flatReader) Next() (*Batch, error) {
	if r.next >= r.samples || r.done {
		return nil, io.EOF
	}
	count := min(r.batch, r.samples-r.next)
	b := &Batch{Inputs: map[string]*interp.Tensor{}, Source: fmt.Sprintf("%s[%d:%d]", r.dir, r.next, r.next+count)}
	for i, v := range r.inputs {
		var t *interp.Tensor
		var err error
		switch {
		case r.arrays[i] != nil:
			if len(r.arrays[i].shape) == 0 {
				t, err = r.arrays[i].rows(0, 1)
			} else {
				t, err = r.arrays[i].rows(r.next, count)
			}
		case count == r.samples:
			t = r.pbs[i]
		default:
			t, err = sliceRows(r.pbs[i], r.next, count)
		}
		if err != nil {
			return nil, err
		}
		b.Inputs[v.Name] = t
	}
	if r.labels != nil {
		lt, err := r.labels.rows(r.next, count)
		if err != nil {
			return nil, err
		}
		switch d := lt.Data.(type) {
		case []int64:
			b.Labels = d
		case []int32:
			for _, x := range d {
				b.Labels = append(b.Labels, int64(x))
			}
		}
	}
	r.next += count
	return b, nil
}

func sliceRows(t *interp.Tensor, from, count int) (*interp.Tensor, error) {
	if len(t.Shape) == 0 {
		return nil, errors.New("cannot split a scalar into samples")
	}
	row := t.Len() / max(1, t.Shape[0])
	shape := append([]int{count}, t.Shape[1:]...)
	out := interp.Make(t.DType, shape...)
	if err := copyElems(out, t, from*row, count*row); err != nil {
		return nil, err
	}
	return out, nil
}

func copyElems(dst, src *interp.Tensor, off, n int) error {
	switch d := dst.Data.(type) {
	case []float32:
		copy(d, src.Data.([]float32)[off:off+n])
	case []float64:
		copy(d, src.Data.([]float64)[off:off+n])
	case []int64:
		copy(d, src.Data.([]int64)[off:off+n])
	case []int32:
		copy(d, src.Data.([]int32)[off:off+n])
	case []uint8:
		copy(d, src.Data.([]uint8)[off:off+n])
	case []int8:
		copy(d, src.Data.([]int8)[off:off+n])
	case []uint16:
		copy(d, src.Data.([]uint16)[off:off+n])
	case []bool:
		copy(d, src.Data.([]bool)[off:off+n])
	default:
		return fmt.Errorf("cannot split %s data into samples", src.DType)
	}
	return nil
}

func (r *flatReader) Close() error {
	for _, a := range r.arrays {
		if a != nil {
			a.Close()
		}
	}
	if r.labels != nil {
		r.labels.Close()
	}
	return nil
}
