// Package calib is the calibration data and output measurement that
// data-driven passes (quantize, prune, lowrank) share: a streamed Source of
// input batches (the pass's own calib= folder, the CLI's --inputs, or
// seeded random inputs), Stream to run batches in parallel, Activations to
// observe inner tensors, and a Measurer of a candidate model's outputs'
// agreement with a reference.
package calib

import (
	"errors"
	"fmt"
	"io"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// RandomSamples is the number of seeded random inputs used when there is
// no data folder.
const RandomSamples = 64

// randomSeed seeds the random inputs (fixed: runs repeat).
const randomSeed = 20240607

// Source yields calibration batches one at a time: only the batches in
// flight are in memory.
type Source struct {
	next   func() (map[string]*interp.Tensor, error) // io.EOF after the last
	close  func() error
	total  int
	origin string
	limit  int
	open   func(limit int) (*Source, error) // the same samples from the start
}

// Open opens the calibration data of a pass for model m: the folder dir
// (the pass's calib= option); when dir is "", the CLI's --inputs folder
// (c.Inputs); when that is "" too, RandomSamples seeded random inputs
// (c.Dims fixes symbolic dimensions). limit caps the samples (0: all).
func Open(c *passes.Context, m *onnx.Model, dir string, limit int) (*Source, error) {
	inputs := modelInputs(m)
	var open func(limit int) (*Source, error)
	open = func(limit int) (src *Source, err error) {
		defer func() {
			if src != nil {
				src.limit, src.open = limit, open
			}
		}()
		switch {
		case dir != "":
			return openDir(c, inputs, dir, "calib="+dir, limit)
		case c.Inputs != "":
			return openDir(c, inputs, c.Inputs, "--inputs "+c.Inputs, limit)
		}
		return openRandom(c, inputs, limit), nil
	}
	return open(limit)
}

// modelInputs are the graph inputs a caller feeds (not initializers).
func modelInputs(m *onnx.Model) []*onnx.Value {
	var out []*onnx.Value
	for _, v := range m.Graph.Inputs {
		if v.Const == nil {
			out = append(out, v)
		}
	}
	return out
}

func openRandom(c *passes.Context, inputs []*onnx.Value, limit int) *Source {
	n := limit
	if n <= 0 {
		n = RandomSamples
	}
	i := 0
	return &Source{
		next: func() (map[string]*interp.Tensor, error) {
			if i >= n {
				return nil, io.EOF
			}
			i++
			return dataset.Generate(inputs, uint64(randomSeed+i), dataset.Options{Dims: c.InputDims(), Fill: c.Fill})
		},
		close:  func() error { return nil },
		total:  n,
		origin: fmt.Sprintf("%d seeded random %s", n, plural(n, "sample")),
	}
}

func openDir(c *passes.Context, inputs []*onnx.Value, dir, what string, limit int) (*Source, error) {
	r, err := dataset.Open(dir, inputs, dataset.Options{Dims: c.Dims, Fill: c.Fill})
	if err != nil {
		return nil, fmt.Errorf("calibration data (%s): %w", what, err)
	}
	total := r.Samples()
	if limit > 0 && limit < total {
		total = limit
	}
	seen := 0
	return &Source{
		next: func() (map[string]*interp.Tensor, error) {
			if seen >= total {
				return nil, io.EOF
			}
			b, err := r.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					err = fmt.Errorf("calibration data (%s): %w", what, err)
				}
				return nil, err
			}
			seen += BatchSamples(b.Inputs)
			return b.Inputs, nil
		},
		close:  r.Close,
		total:  total,
		origin: fmt.Sprintf("%s (%d %s)", what, total, plural(total, "sample")),
	}, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// Next returns the next batch (a tensor per input name), io.EOF after the last.
func (s *Source) Next() (map[string]*interp.Tensor, error) { return s.next() }

// Close releases the files behind the source.
func (s *Source) Close() error { return s.close() }

// Total is the number of samples the source yields (an upper bound: a
// folder's last batch may hold more than the limit).
func (s *Source) Total() int { return s.total }

// Origin says where the samples come from, for reports: "calib=DIR (64
// samples)", "--inputs DIR (1 sample)", "64 seeded random samples".
func (s *Source) Origin() string { return s.origin }

// Reopen returns a new source that yields the same samples from the start,
// at most limit of them (0: as many as s).
func (s *Source) Reopen(limit int) (*Source, error) {
	if limit <= 0 || limit > s.total {
		limit = s.limit
	}
	return s.open(limit)
}

// BatchSamples is the leading dimension of a batch's first tensor input.
func BatchSamples(in map[string]*interp.Tensor) int {
	for _, t := range in {
		if len(t.Shape) > 0 {
			return t.Shape[0]
		}
	}
	return 1
}
