package verify

import (
	"fmt"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// DefaultCacheBytes bounds the reference outputs a Checker keeps in memory.
const DefaultCacheBytes = 256 << 20

// Checker compares candidates against one reference model on fixed inputs:
// the main command's default verification and --verify-each, where the
// reference is the original model and a candidate is the model after each
// pass. The reference session is built once and its outputs are cached (up
// to DefaultCacheBytes; beyond that it is re-run), so checking after every
// pass costs one run of the candidate per sample.
type Checker struct {
	ref   *interp.Session
	opts  Options
	cache *refCache
	model *onnx.Model // the reference, for its noise floor
	noise map[string]NoiseFloor
	// measured says the noise floor was measured (noise may still be nil).
	measured bool
}

// NewChecker builds the reference session and runs it once on every sample, so
// that a reference that cannot run fails here, before any pass, with a
// *ReferenceError.
func NewChecker(reference *onnx.Model, opts Options) (*Checker, error) {
	opts = opts.forReference(reference)
	s, err := interp.NewSession(reference, opts.Interp)
	if err != nil {
		return nil, &ReferenceError{Inputs: opts.inputDescription(), Err: err}
	}
	c := &Checker{ref: s, opts: opts, cache: &refCache{limit: DefaultCacheBytes}, model: reference}
	r, err := OpenInputs(s.Inputs(), opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	warm := opts
	warm.Progress = nil
	if _, err := compare(s, nil, r, warm, c.cache); err != nil {
		return nil, err
	}
	if opts.tolerance().NoiseMultiple > 0 && floatWeightBytes(reference) <= noiseWeightBytes {
		c.measureNoise()
	}
	return c, nil
}

// measureNoise measures the reference's noise floor once.
func (c *Checker) measureNoise() {
	if !c.measured {
		c.noise, c.measured = noiseFloors(c.ref, c.model, c.opts, c.cache), true
	}
}

// Noise is the reference's noise floor per output, if measured.
func (c *Checker) Noise() map[string]NoiseFloor { return c.noise }

// Check compares a candidate model with the reference. The candidate must
// keep the reference's graph inputs; a candidate that fails to build or run
// is a *CandidateError.
func (c *Checker) Check(candidate *onnx.Model) (*Report, error) {
	s, err := interp.NewSession(candidate, c.opts.Interp)
	if err != nil {
		return nil, &CandidateError{Err: err}
	}
	return c.CheckSession(s)
}

// CheckSession is Check for a session already built.
func (c *Checker) CheckSession(candidate *interp.Session) (*Report, error) {
	r, err := OpenInputs(c.ref.Inputs(), c.opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rep, err := compare(c.ref, candidate, r, c.opts, c.cache)
	if err != nil {
		return nil, err
	}
	tol := c.opts.tolerance()
	if tol.NoiseMultiple > 0 && !c.measured && !rep.OK(tol) {
		c.measureNoise() // a large model's floor, measured when needed
	}
	rep.withNoise(c.noise)
	return rep, nil
}

// Tolerance is the tolerance the checker compares with.
func (c *Checker) Tolerance() Tolerance { return c.opts.tolerance() }

// refCache holds reference outputs by batch number within a byte budget.
type refCache struct {
	limit, used int64
	outs        map[int][]*interp.Tensor
	full        bool
}

func (c *refCache) get(i int) []*interp.Tensor { return c.outs[i] }

func (c *refCache) put(i int, ts []*interp.Tensor) {
	if c.full {
		return
	}
	var n int64
	for _, t := range ts {
		n += tensorBytes(t)
	}
	if c.used+n > c.limit {
		c.full = true
		return
	}
	if c.outs == nil {
		c.outs = map[int][]*interp.Tensor{}
	}
	c.outs[i], c.used = ts, c.used+n
}

func tensorBytes(t *interp.Tensor) int64 {
	if t == nil {
		return 0
	}
	if t.Kind != interp.KindTensor {
		var n int64
		for _, e := range t.Elems {
			n += tensorBytes(e)
		}
		return n
	}
	b := int64(t.DType.BitSize()) / 8
	if b == 0 {
		b = 8
	}
	return int64(t.Len()) * b
}

// String describes the checker's inputs for messages.
func (c *Checker) String() string {
	return fmt.Sprintf("verification on %s", c.opts.inputDescription())
}
