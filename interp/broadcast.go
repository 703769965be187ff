package interp

import (
	"fmt"

	"github.com/onnxslim/onnxslim/onnx"
)

// BroadcastShape returns the numpy-broadcast shape of the given shapes.
func BroadcastShape(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := &out[off+i]
			switch {
			case d == *o || d == 1:
			case *o == 1:
				*o = d
			default:
				return nil, fmt.Errorf("shapes %v cannot be broadcast together", shapes)
			}
		}
	}
	return out, nil
}

// broadcastStrides gives the element strides of a tensor of shape in when it is
// read as the broadcast shape out: 0 along broadcast dimensions.
func broadcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	off := len(out) - len(in)
	stride := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			st[off+i] = stride
		}
		stride *= in[i]
	}
	return st
}

// forEachRow walks an output of shape out row by row (the last dimension),
// calling fn with the output offset, the offsets into each input, the row
// length and each input's step along the row (0 or 1).
func forEachRow(out []int, strides [][]int, fn func(o int, offs []int, n int, steps []int)) {
	total := numElements(out)
	if total == 0 {
		return
	}
	if len(out) == 0 {
		offs := make([]int, len(strides))
		steps := make([]int, len(strides))
		fn(0, offs, 1, steps)
		return
	}
	out, strides = coalesce(out, strides)
	last := len(out) - 1
	n := out[last]
	steps := make([]int, len(strides))
	for k, st := range strides {
		steps[k] = st[last]
	}
	idx := make([]int, len(out))
	offs := make([]int, len(strides))
	for o := 0; o < total; o += n {
		fn(o, offs, n, steps)
		// Advance the multi-index over all but the last dimension.
		for d := last - 1; d >= 0; d-- {
			idx[d]++
			for k, st := range strides {
				offs[k] += st[d]
			}
			if idx[d] < out[d] {
				break
			}
			for k, st := range strides {
				offs[k] -= st[d] * out[d]
			}
			idx[d] = 0
		}
	}
}

// coalesce drops the size-1 dimensions of out and merges each dimension
// into the one before it where every operand walks the two as one (its
// stride there is the inner stride times the inner size: contiguous, or 0
// in both), so that rows are as long as the broadcast allows: a [1,C,H,W]
// times [1,C,1,1] walks C rows of H·W, not C·H rows of W. The walk's order
// and offsets are unchanged.
func coalesce(out []int, strides [][]int) ([]int, [][]int) {
	shape := make([]int, 0, len(out))
	st := make([][]int, len(strides))
	for d, n := range out {
		if n == 1 && d < len(out)-1 || n == 1 && len(shape) > 0 {
			continue
		}
		j := len(shape) - 1
		merge := j >= 0
		for k := range strides {
			merge = merge && st[k][j] == strides[k][d]*n
		}
		if merge {
			shape[j] *= n
			for k := range st {
				st[k][j] = strides[k][d]
			}
			continue
		}
		shape = append(shape, n)
		for k := range st {
			st[k] = append(st[k], strides[k][d])
		}
	}
	return shape, st
}

// Binary applies f elementwise to a and b (numpy broadcasting) and returns a
// tensor of type dt. T is the storage type of both inputs, R of the output.
func Binary[T, R any](ctx *Ctx, dt onnx.DataType, a, b *Tensor, f func(T, T) R) (*Tensor, error) {
	shape, err := BroadcastShape(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	x, ok1 := a.Data.([]T)
	y, ok2 := b.Data.([]T)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("input types %s and %s differ", a.DType, b.DType)
	}
	out := ctx.New(dt, shape...)
	z := out.Data.([]R)
	switch {
	case len(x) == len(z) && len(y) == len(z):
		for i := range z {
			z[i] = f(x[i], y[i])
		}
	case len(y) == 1 && len(x) == len(z):
		c := y[0]
		for i := range z {
			z[i] = f(x[i], c)
		}
	case len(x) == 1 && len(y) == len(z):
		c := x[0]
		for i := range z {
			z[i] = f(c, y[i])
		}
	default:
		st := [][]int{broadcastStrides(a.Shape, shape), broadcastStrides(b.Shape, shape)}
		forEachRow(shape, st, func(o int, offs []int, n int, steps []int) {
			ia, ib, sa, sb := offs[0], offs[1], steps[0], steps[1]
			for k := 0; k < n; k++ {
				z[o+k] = f(x[ia+k*sa], y[ib+k*sb])
			}
		})
	}
	return out, nil
}

// Unary applies f elementwise, returning a tensor of type dt.
func Unary[T, R any](ctx *Ctx, dt onnx.DataType, a *Tensor, f func(T) R) (*Tensor, error) {
	x, ok := a.Data.([]T)
	if !ok {
		return nil, fmt.Errorf("input type %s is not supported", a.DType)
	}
	out := ctx.New(dt, a.Shape...)
	z := out.Data.([]R)
	for i, v := range x {
		z[i] = f(v)
	}
	return out, nil
}

// Broadcast returns x expanded to shape (a copy), for kernels with more than two inputs.
func Broadcast[T any](ctx *Ctx, t *Tensor, shape []int) *Tensor {
	out := ctx.New(t.DType, shape...)
	x, z := t.Data.([]T), out.Data.([]T)
	forEachRow(shape, [][]int{broadcastStrides(t.Shape, shape)}, func(o int, offs []int, n int, steps []int) {
		for k := 0; k < n; k++ {
			z[o+k] = x[offs[0]+k*steps[0]]
		}
	})
	return out
}
