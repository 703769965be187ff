package grad

import (
	"fmt"

	"github.com/onnxslim/onnxslim/interp"
)

// f returns the float32 elements of forward input i (an error when it is
// missing or not float32, so that a rule never reads past a wrong type).
func (c *call) f(i int) ([]float32, error) {
	if i >= len(c.in) || c.in[i] == nil {
		return nil, fmt.Errorf("input %d is missing", i)
	}
	x, ok := c.in[i].Data.([]float32)
	if !ok {
		return nil, fmt.Errorf("input %d is %s, not float32", i, c.in[i].DType)
	}
	return x, nil
}

// has reports whether input i is present.
func (c *call) has(i int) bool { return i < len(c.in) && c.in[i] != nil }

// wants reports whether input i's gradient is needed.
func (c *call) wants(i int) bool { return i < len(c.need) && c.need[i] }

// ints returns an integer input's elements.
func ints(t *interp.Tensor) ([]int64, error) {
	switch d := t.Data.(type) {
	case []int64:
		return d, nil
	case []int32:
		out := make([]int64, len(d))
		for i, v := range d {
			out[i] = int64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s tensor where integers are expected", t.DType)
}

// strides are the row-major element strides of shape.
func strides(shape []int) []int {
	s := make([]int, len(shape))
	k := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = k
		k *= shape[i]
	}
	return s
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// bcastIndex maps each element of out to the element of in that numpy-style
// (multidirectional) broadcasting reads for it; in is right-aligned to out.
func bcastIndex(out, in []int) ([]int, error) {
	if len(in) > len(out) {
		return nil, fmt.Errorf("shape %v does not broadcast to %v", in, out)
	}
	off := len(out) - len(in)
	st := make([]int, len(out))
	ist := strides(in)
	for i := range in {
		switch in[i] {
		case out[off+i]:
			st[off+i] = ist[i]
		case 1:
		default:
			return nil, fmt.Errorf("shape %v does not broadcast to %v", in, out)
		}
	}
	n := numel(out)
	idx := make([]int, n)
	if n == 0 {
		return idx, nil
	}
	pos := make([]int, len(out))
	cur := 0
	for k := 0; k < n; k++ {
		idx[k] = cur
		for d := len(out) - 1; d >= 0; d-- {
			pos[d]++
			cur += st[d]
			if pos[d] < out[d] {
				break
			}
			cur -= st[d] * pos[d]
			pos[d] = 0
		}
	}
	return idx, nil
}

// reduceTo sums d (of shape out) over the axes along which in was broadcast.
func reduceTo(d []float64, out, in []int) ([]float64, error) {
	if numel(in) == len(d) {
		return append([]float64(nil), d...), nil
	}
	idx, err := bcastIndex(out, in)
	if err != nil {
		return nil, err
	}
	r := make([]float64, numel(in))
	for k, j := range idx {
		r[j] += d[k]
	}
	return r, nil
}

// normAxis resolves a possibly negative axis against rank.
func normAxis(axis int64, rank int) (int, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(axis), nil
}
