// Package dataset reads the data folders of the CLI contract (inputs,
// calibration and evaluation sets) and makes seeded random inputs, yielding
// batches a model accepts. Samples are streamed, never all held in memory.
//
// A folder holds one .npy per graph input (named after the input) or
// input_0.pb, input_1.pb, … in graph-input order (ONNX's backend-test layout:
// one sample), or test_data_set_0/, test_data_set_1/, … (one sample each).
// How many samples a .npy array holds follows from the input's declared
// shape, never from dimension 0 alone (see flatReader.plan). labels.npy
// (int64, one per sample) makes it a labelled evaluation set.
package dataset

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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
	// Fill sets inputs to a constant of their declared shape (the CLI's
	// --fill NAME=VALUE), in place of the folder's data or random data.
	Fill map[string]float64
}

// Open reads the data folder dir for a model with the given inputs.
func Open(dir string, inputs []*onnx.Value, opts Options) (Reader, error) {
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) > 0 {
		sort.Slice(sets, func(i, j int) bool { return setIndex(sets[i]) < setIndex(sets[j]) })
		return &setsReader{sets: sets, inputs: inputs, opts: opts}, nil
	}
	return openFlat(dir, inputs, opts, false)
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
			cur, err := openFlat(r.sets[r.i], r.inputs, r.opts, true)
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

// feedMode says how one input's array is cut into feeds.
type feedMode int8

const (
	whole   feedMode = iota // the same array in every feed (one sample, scalars, state)
	rows                    // consecutive rows along axis 0, keeping the axis (a batch axis)
	stacked                 // one row per feed without axis 0 (the array stacks samples)
	lifted                  // the whole array with a leading axis of 1 added (the model's batch of 1)
)

// flatReader streams one folder of .npy or .pb files.
type flatReader struct {
	dir     string
	inputs  []*onnx.Value
	arrays  []*npyArray // per input, nil when read from .pb or filled
	pbs     []*interp.Tensor
	modes   []feedMode
	labels  *npyArray
	samples int // samples in the folder
	batch   int // samples per feed
	next    int
	oneSet  bool // a backend-test folder: one feed, whatever the shapes
}

func openFlat(dir string, inputs []*onnx.Value, opts Options, oneSet bool) (Reader, error) {
	r := &flatReader{dir: dir, inputs: inputs, arrays: make([]*npyArray, len(inputs)), pbs: make([]*interp.Tensor, len(inputs)),
		modes: make([]feedMode, len(inputs)), oneSet: oneSet}
	ok := false
	defer func() {
		if !ok {
			r.Close()
		}
	}()
	for i, v := range inputs {
		npyPath := filepath.Join(dir, v.Name+".npy")
		pbPath := filepath.Join(dir, fmt.Sprintf("input_%d.pb", i))
		if val, ok := opts.Fill[v.Name]; ok {
			t, err := Filled(v, val, opts.Dims)
			if err != nil {
				return nil, err
			}
			r.pbs[i] = t
			continue
		}
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
			r.oneSet = true // input_N.pb is the backend-test layout: one sample
		case exists(filepath.Join(dir, "input_0.pb")):
			// A backend-test case may omit trailing optional inputs: not fed.
		default:
			return nil, fmt.Errorf("%s: no data for input %q (expected %s.npy or input_%d.pb, or give --fill %s=VALUE)", dir, v.Name, v.Name, i, v.Name)
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

// fit reports whether an array's shape fits a declared shape: same rank and
// every static dimension equal (symbolic ones take any size).
func fit(declared onnx.Shape, shape []int) bool {
	if len(declared) != len(shape) {
		return false
	}
	for i, d := range declared {
		if d.IsStatic() && d.Value != int64(shape[i]) {
			return false
		}
	}
	return true
}

// plan decides, from each input's declared shape, how the files are cut into
// samples and feeds. The rules, in order, for an array:
//   - read from input_N.pb or a test_data_set_N/ folder, filled, a scalar, or
//     an input without a declared shape: one sample, fed whole;
//   - fits the declared shape, whose first dimension is symbolic (a batch
//     axis; --dim may fix its size): its rows are samples, fed in batches;
//   - the declared first dimension is static d and the array has k·d rows,
//     the rest fitting: k feeds of d rows (more samples than the model's batch);
//   - fits the declared shape exactly otherwise: one sample (a state input
//     such as [2,1,128] is never split);
//   - one dimension more than declared, the rest fitting: the array stacks
//     samples, one per feed;
//   - one dimension less, the declared first being 1 or symbolic: one sample
//     to which the batch axis is added.
//
// Anything else is an error naming the input, its declared shape and the
// array's shape. Inputs that carry several samples must agree on their count;
// whole inputs are fed with every sample.
func (r *flatReader) plan(opts Options) error {
	type split struct {
		i, n, batch int // input, samples, samples per feed (0: any)
	}
	var splits []split
	for i, v := range r.inputs {
		if r.arrays[i] == nil || r.oneSet {
			r.modes[i] = whole
			if err := r.checkWhole(i, v); err != nil {
				return err
			}
			continue
		}
		shape := r.arrays[i].shape
		if v.Type == nil || !v.Type.HasShape() || len(shape) == 0 {
			r.modes[i] = whole
			continue
		}
		decl := v.Type.Shape
		switch {
		case len(decl) > 0 && fit(decl, shape) && !decl[0].IsStatic():
			size := opts.Dims[decl[0].Param]
			switch {
			case size > 0 && shape[0]%int(size) != 0:
				return fmt.Errorf("%s: input %q (declared %s, %s fixed to %d by --dim) has %d rows, not a multiple of %d",
					r.dir, v.Name, decl, decl[0].Param, size, shape[0], size)
			case size > 0:
				splits = append(splits, split{i, shape[0], int(size)})
			default:
				splits = append(splits, split{i, shape[0], 0})
			}
			r.modes[i] = rows
		case len(decl) > 0 && decl[0].IsStatic() && decl[0].Value > 0 && shape[0] > int(decl[0].Value) &&
			shape[0]%int(decl[0].Value) == 0 && fit(decl[1:], shape[1:]):
			r.modes[i] = rows
			splits = append(splits, split{i, shape[0], int(decl[0].Value)})
		case fit(decl, shape):
			r.modes[i] = whole
		case len(shape) == len(decl)+1 && fit(decl, shape[1:]):
			r.modes[i] = stacked
			splits = append(splits, split{i, shape[0], 1})
		case len(shape)+1 == len(decl) && (!decl[0].IsStatic() || decl[0].Value == 1) && fit(decl[1:], shape):
			r.modes[i] = lifted
		default:
			return fmt.Errorf("%s: input %q: the model declares %s, the array is %s%v", r.arrays[i].path, v.Name, v.Type, r.arrays[i].dtype, shape)
		}
	}
	r.samples, r.batch = 1, 1
	if len(splits) > 1 && slices.ContainsFunc(splits, func(s split) bool { return s.n != splits[0].n }) {
		// Symbolic first dims of different names and lengths (sequence
		// lengths, not a shared batch): the arrays fit as they are, one sample.
		syms := map[string]bool{}
		free := true
		for _, s := range splits {
			p := r.inputs[s.i].Type.Shape[0].Param
			free = free && s.batch == 0 && r.modes[s.i] == rows && !syms[p]
			syms[p] = true
		}
		if free {
			for _, s := range splits {
				r.modes[s.i] = whole
			}
			splits = nil
		}
	}
	if len(splits) > 0 {
		first := splits[0]
		batch := 0
		for _, s := range splits {
			if s.n != first.n {
				a, b := r.inputs[first.i], r.inputs[s.i]
				return fmt.Errorf("%s: inputs hold different numbers of samples: %q (declared %s) has %d in an array of %v, %q (declared %s) has %d in an array of %v",
					r.dir, a.Name, a.Type, first.n, r.arrays[first.i].shape, b.Name, b.Type, s.n, r.arrays[s.i].shape)
			}
			if s.batch > 0 && batch > 0 && s.batch != batch {
				return fmt.Errorf("%s: inputs %q and %q need feeds of %d and %d samples", r.dir, r.inputs[first.i].Name, r.inputs[s.i].Name, batch, s.batch)
			}
			if s.batch > 0 {
				batch = s.batch
			}
		}
		if batch == 0 {
			batch = opts.BatchSize
			if batch <= 0 {
				batch = 32
			}
		}
		r.samples, r.batch = first.n, min(batch, first.n)
	}
	if r.labels != nil && r.labels.shape[0] != r.samples {
		return fmt.Errorf("%s: labels.npy has %d labels for %d samples", r.dir, r.labels.shape[0], r.samples)
	}
	return nil
}

// checkWhole checks an array fed as it is against the declared shape, so that
// a mismatch names the input, the declared shape and the array's shape.
func (r *flatReader) checkWhole(i int, v *onnx.Value) error {
	shape, where := r.fileShape(i), r.dir
	if r.arrays[i] != nil {
		where = r.arrays[i].path
	}
	if r.arrays[i] == nil && r.pbs[i] == nil || r.pbs[i] != nil && r.pbs[i].Kind != interp.KindTensor {
		return nil
	}
	if v.Type == nil || v.Type.Kind != onnx.TypeTensor || !v.Type.HasShape() || fit(v.Type.Shape, shape) {
		return nil
	}
	return fmt.Errorf("%s: input %q: the model declares %s, the data is %v", where, v.Name, v.Type, shape)
}

func (r *flatReader) fileShape(i int) []int {
	if r.arrays[i] != nil {
		return r.arrays[i].shape
	}
	return r.pbs[i].Shape
}

func (r *flatReader) Samples() int { return r.samples }

func (r *flatReader) Next() (*Batch, error) {
	if r.next >= r.samples {
		return nil, io.EOF
	}
	count := min(r.batch, r.samples-r.next)
	src := r.dir
	if r.samples > 1 {
		src = fmt.Sprintf("%s[%d:%d]", r.dir, r.next, r.next+count)
	}
	b := &Batch{Inputs: map[string]*interp.Tensor{}, Source: src}
	for i, v := range r.inputs {
		if r.arrays[i] == nil && r.pbs[i] == nil {
			continue // omitted
		}
		t, err := r.feed(i, count)
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

// feed cuts input i's part of the next feed of count samples.
func (r *flatReader) feed(i, count int) (*interp.Tensor, error) {
	a := r.arrays[i]
	if r.pbs[i] != nil {
		return r.pbs[i], nil // read once: the same array in every feed
	}
	switch r.modes[i] {
	case rows:
		return a.rows(r.next, count)
	case stacked:
		t, err := a.rows(r.next, 1)
		if err != nil {
			return nil, err
		}
		return t.Reshaped(append([]int{}, a.shape[1:]...)), nil
	case lifted:
		t, err := a.whole()
		if err != nil {
			return nil, err
		}
		r.pbs[i] = t.Reshaped(append([]int{1}, a.shape...))
		return r.pbs[i], nil
	}
	t, err := a.whole()
	r.pbs[i] = t
	return t, err
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
