package verify

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Float is a metric that may be infinite or NaN; JSON has no such numbers, so
// they are written as null.
type Float float64

// MarshalJSON writes non-finite values as null.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// OutputReport holds the error metrics of one output, aggregated over every
// sample compared. A is the reference (expected), B the candidate (actual).
type OutputReport struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	// Shape is the output's shape in the last sample compared.
	Shape    []int `json:"shape"`
	Elements int64 `json:"elements"`
	// Exact is set for integer, bool and string outputs, compared for equality.
	Exact bool `json:"exact"`

	MaxAbsErr Float `json:"max_abs_err"`
	// MaxRelErr is max |a-b|/|a| over the elements where a != 0 (elements
	// where the reference is zero are judged by the absolute tolerance).
	MaxRelErr Float `json:"max_rel_err"`
	// RelL2 is ||a-b|| / ||a|| over all samples.
	RelL2  Float `json:"rel_l2"`
	Cosine Float `json:"cosine"`
	// Top1Agreement is the share of rows whose argmax agrees, for 2-D float
	// outputs [batch, classes]; nil otherwise.
	Top1Agreement *float64 `json:"top1_agreement"`

	// Mismatches counts the elements beyond the element-wise tolerance the
	// comparison ran with (atol + rtol·|a|; equality for exact outputs).
	Mismatches int64 `json:"mismatches"`
	NaNA       int64 `json:"nan_a"`
	InfA       int64 `json:"inf_a"`
	NaNB       int64 `json:"nan_b"`
	InfB       int64 `json:"inf_b"`

	// The element with the largest absolute error: sample number, index
	// within the output, and both values.
	WorstSample   int   `json:"worst_sample"`
	WorstIndex    []int `json:"worst_index"`
	WorstExpected Float `json:"worst_expected"`
	WorstActual   Float `json:"worst_actual"`

	// Noise is the output's own float32 rounding noise on the same inputs,
	// when measured (see NoiseFloor): errors within Tolerance.NoiseMultiple
	// times it are rounding, not a wrong rewrite.
	Noise *NoiseFloor `json:"noise_floor,omitempty"`

	// Problem describes a structural mismatch (missing output, shape or type
	// differences); an output with a problem never passes.
	Problem string `json:"problem,omitempty"`
}

// acc accumulates one output's metrics sample by sample, so that no sample
// needs to be kept once compared.
type acc struct {
	r                     OutputReport
	sumA2, sumB2, sumD2   float64
	dot                   float64
	top1Rows, top1Agree   int64
	top1                  bool
	worstSet              bool
	atol, rtol            float64
	nonFiniteDisagree     bool
	maxAbs, maxRel        float64
	worstExp, worstActual float64
}

func newAcc(name string, tol Tolerance) *acc {
	return &acc{r: OutputReport{Name: name}, atol: tol.ATol, rtol: tol.RTol, top1: true}
}

// values flattens a tensor to float64 for the metrics; exact says the type is
// compared for equality; strs holds string elements instead.
func values(t *interp.Tensor) (vals []float64, strs []string, exact bool, err error) {
	switch d := t.Data.(type) {
	case []float32:
		vals = make([]float64, len(d))
		for i, x := range d {
			vals[i] = float64(x)
		}
		return vals, nil, false, nil
	case []float64:
		return d, nil, false, nil
	case []string:
		return nil, d, true, nil
	case []bool:
		vals = make([]float64, len(d))
		for i, x := range d {
			if x {
				vals[i] = 1
			}
		}
		return vals, nil, true, nil
	case []int64:
		return conv(d), nil, true, nil
	case []int32:
		return conv(d), nil, true, nil
	case []int16:
		return conv(d), nil, true, nil
	case []int8:
		return conv(d), nil, true, nil
	case []uint64:
		return conv(d), nil, true, nil
	case []uint32:
		return conv(d), nil, true, nil
	case []complex64:
		// Real and imaginary parts interleaved: errors apply to both.
		vals = make([]float64, 0, 2*len(d))
		for _, x := range d {
			vals = append(vals, float64(real(x)), float64(imag(x)))
		}
		return vals, nil, false, nil
	case []complex128:
		vals = make([]float64, 0, 2*len(d))
		for _, x := range d {
			vals = append(vals, real(x), imag(x))
		}
		return vals, nil, false, nil
	case []uint16:
		if t.DType == onnx.Float16 || t.DType == onnx.BFloat16 {
			f, err := interp.AsFloat32(t)
			if err != nil {
				return nil, nil, false, err
			}
			return conv(f), nil, false, nil
		}
		return conv(d), nil, true, nil
	case []uint8:
		if interp.IsFloat8(t.DType) || t.DType == onnx.Float4E2M1 || t.DType == onnx.Float8E8M0 {
			vals = make([]float64, len(d))
			for i, b := range d {
				vals[i] = float64(interp.Float8ToFloat32(t.DType, b))
			}
			return vals, nil, false, nil
		}
		return conv(d), nil, true, nil
	}
	return nil, nil, false, fmt.Errorf("cannot compare %s values", t.DType)
}

func conv[T int64 | int32 | int16 | int8 | uint64 | uint32 | uint16 | uint8 | float32](d []T) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out
}

// add compares one sample's output. sample numbers the sample for the worst
// element's position.
func (c *acc) add(sample int, a, b *interp.Tensor) error {
	if c.r.Problem != "" {
		return nil
	}
	if a == nil || b == nil {
		c.r.Problem = "output missing"
		return nil
	}
	if a.Kind != b.Kind {
		c.r.Problem = fmt.Sprintf("kind differs: %s vs %s", a, b)
		return nil
	}
	if a.Kind == interp.KindMap {
		return c.addMap(sample, a, b)
	}
	if a.Kind != interp.KindTensor {
		// Sequences and optionals: compare element by element under one name.
		if len(a.Elems) != len(b.Elems) {
			c.r.Problem = fmt.Sprintf("%s vs %s", a, b)
			return nil
		}
		for i := range a.Elems {
			if err := c.add(sample, a.Elems[i], b.Elems[i]); err != nil {
				return err
			}
		}
		return nil
	}
	c.r.DType = a.DType.String()
	c.r.Shape = slices.Clone(a.Shape)
	if a.DType != b.DType {
		c.r.Problem = fmt.Sprintf("type differs: %s vs %s", a.DType, b.DType)
		return nil
	}
	if !slices.Equal(a.Shape, b.Shape) {
		c.r.Problem = fmt.Sprintf("shape differs: %s vs %s", a, b)
		return nil
	}
	va, sa, exact, err := values(a)
	if err != nil {
		return err
	}
	vb, sb, _, err := values(b)
	if err != nil {
		return err
	}
	c.r.Exact = exact
	if sa != nil {
		c.r.Elements += int64(len(sa))
		for i := range sa {
			if sa[i] != sb[i] {
				c.r.Mismatches++
				if !c.worstSet {
					c.worstSet, c.maxAbs = true, math.Inf(1)
					c.r.WorstSample, c.r.WorstIndex = sample, unravel(i, a.Shape)
				}
			}
		}
		c.top1 = false
		return nil
	}
	c.r.Elements += int64(len(va))
	stride := 1
	if a.DType == onnx.Complex64 || a.DType == onnx.Complex128 {
		stride = 2
	}
	for i := range va {
		x, y := va[i], vb[i]
		c.count(x, y)
		d := math.Abs(x - y)
		finite := !math.IsNaN(x) && !math.IsNaN(y) && !math.IsInf(x, 0) && !math.IsInf(y, 0)
		if !finite {
			// Both NaN, or the same infinity, is the same behaviour.
			if (math.IsNaN(x) && math.IsNaN(y)) || x == y {
				continue
			}
			d = math.Inf(1)
			c.nonFiniteDisagree = true
		} else {
			c.sumA2 += x * x
			c.sumB2 += y * y
			c.sumD2 += (x - y) * (x - y)
			c.dot += x * y
		}
		if exact {
			if x != y {
				c.r.Mismatches++
			}
		} else if !(d <= c.atol+c.rtol*math.Abs(x)) {
			c.r.Mismatches++
		}
		if x != 0 && finite {
			c.maxRel = max(c.maxRel, d/math.Abs(x))
		}
		if d > c.maxAbs || !c.worstSet {
			c.worstSet, c.maxAbs = true, d
			c.worstExp, c.worstActual = x, y
			c.r.WorstSample, c.r.WorstIndex = sample, unravel(i/stride, a.Shape)
		}
	}
	if c.top1 && !exact && a.Rank() == 2 && a.Shape[1] > 1 && stride == 1 {
		rows, cols := a.Shape[0], a.Shape[1]
		for r := range rows {
			if argmax(va[r*cols:(r+1)*cols]) == argmax(vb[r*cols:(r+1)*cols]) {
				c.top1Agree++
			}
			c.top1Rows++
		}
	} else {
		c.top1 = false
	}
	return nil
}

// addMap compares two maps: the same keys (in any order) and, key by key,
// values within the tolerance, as one tensor of the values in a's order.
func (c *acc) addMap(sample int, a, b *interp.Tensor) error {
	ka, va, err := a.MapEntries()
	if err != nil {
		c.r.Problem = "reference: " + err.Error()
		return nil
	}
	kb, vb, err := b.MapEntries()
	if err != nil {
		c.r.Problem = err.Error()
		return nil
	}
	if ka.DType != kb.DType || va.DType != vb.DType || ka.Len() != kb.Len() {
		c.r.Problem = fmt.Sprintf("map differs: %s vs %s", a, b)
		return nil
	}
	keyOf := interp.ElemString
	at := make(map[string]int, kb.Len())
	for i := range kb.Len() {
		at[keyOf(kb, i)] = i
	}
	perm := make([]int, ka.Len())
	for i := range ka.Len() {
		j, ok := at[keyOf(ka, i)]
		if !ok {
			c.r.Problem = fmt.Sprintf("map key %s is missing", keyOf(ka, i))
			return nil
		}
		perm[i] = j
		delete(at, keyOf(ka, i))
	}
	if len(at) > 0 {
		c.r.Problem = fmt.Sprintf("map keys differ: %s vs %s", a, b) // repeated keys
		return nil
	}
	vbInA, err := interp.GatherElems(vb, perm)
	if err != nil {
		return err
	}
	return c.add(sample, va, vbInA)
}

func (c *acc) count(x, y float64) {
	switch {
	case math.IsNaN(x):
		c.r.NaNA++
	case math.IsInf(x, 0):
		c.r.InfA++
	}
	switch {
	case math.IsNaN(y):
		c.r.NaNB++
	case math.IsInf(y, 0):
		c.r.InfB++
	}
}

// report finishes the aggregate metrics.
func (c *acc) report() OutputReport {
	r := c.r
	if r.Problem != "" {
		r.MaxAbsErr, r.MaxRelErr, r.RelL2, r.Cosine = Float(math.Inf(1)), Float(math.Inf(1)), Float(math.Inf(1)), 0
		if r.WorstIndex == nil {
			r.WorstIndex = []int{}
		}
		return r
	}
	r.MaxAbsErr, r.MaxRelErr = Float(c.maxAbs), Float(c.maxRel)
	r.WorstExpected, r.WorstActual = Float(c.worstExp), Float(c.worstActual)
	switch {
	case c.sumD2 == 0:
		r.RelL2 = 0
	case c.sumA2 == 0:
		r.RelL2 = Float(math.Inf(1))
	default:
		r.RelL2 = Float(math.Sqrt(c.sumD2) / math.Sqrt(c.sumA2))
	}
	if c.nonFiniteDisagree {
		r.RelL2 = Float(math.Inf(1))
	}
	switch {
	case c.sumA2 == 0 && c.sumB2 == 0:
		r.Cosine = 1
	case c.sumA2 == 0 || c.sumB2 == 0:
		r.Cosine = 0
	default:
		r.Cosine = Float(min(1, c.dot/(math.Sqrt(c.sumA2)*math.Sqrt(c.sumB2))))
	}
	if c.sumD2 == 0 && !c.nonFiniteDisagree {
		r.Cosine = 1 // identical outputs: exactly 1, not 0.9999999999999998
	}
	if c.top1 && c.top1Rows > 0 {
		v := float64(c.top1Agree) / float64(c.top1Rows)
		r.Top1Agreement = &v
	}
	if r.WorstIndex == nil {
		r.WorstIndex = []int{}
	}
	return r
}

// unravel turns a flat element index into a multi-index for shape.
func unravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for k := len(shape) - 1; k >= 0; k-- {
		if shape[k] > 0 {
			idx[k] = i % shape[k]
			i /= shape[k]
		}
	}
	return idx
}

// argmax returns the first index of the largest value; NaN never wins.
func argmax(v []float64) int {
	best := -1
	for i, x := range v {
		if math.IsNaN(x) {
			continue
		}
		if best < 0 || x > v[best] {
			best = i
		}
	}
	return best
}
