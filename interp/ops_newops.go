package interp

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// Recent standard ops: CumProd (26), Swish (24), SwiGLU (28), TensorScatter
// (24) and CausalConvWithState (27).

// sigmoid64 is the logistic function without overflow for large |x|.
func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// floatMap2 applies f to the elements of float tensors a and b of one shape
// (b may be nil), computing in float64 and returning a tensor of a's type.
func floatMap2(ctx *Ctx, a, b *Tensor, f func(x, y float64) float64) (*Tensor, error) {
	x, err := attnIn[float64](a)
	if err != nil {
		return nil, err
	}
	var y []float64
	if b != nil {
		if b.DType != a.DType || fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
			return nil, fmt.Errorf("inputs %s and %s must have the same type and shape", a, b)
		}
		if y, err = attnIn[float64](b); err != nil {
			return nil, err
		}
	}
	switch a.DType {
	case onnx.Float:
		out := ctx.New(onnx.Float, a.Shape...)
		z := out.Floats()
		for i, v := range x {
			var w float64
			if y != nil {
				w = y[i]
			}
			z[i] = float32(f(v, w))
		}
		return out, nil
	}
	z := make([]float64, len(x))
	for i, v := range x {
		var w float64
		if y != nil {
			w = y[i]
		}
		z[i] = f(v, w)
	}
	return attnOut(a.DType, a.Shape, z)
}

func buildSwish(b *Build) (Kernel, error) {
	alpha := float64(b.Float("alpha", 1))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		out, err := floatMap2(ctx, in[0], nil, func(x, _ float64) float64 { return x * sigmoid64(alpha*x) })
		return []*Tensor{out}, err
	}, nil
}

func buildSwiGLU(b *Build) (Kernel, error) {
	alpha := float64(b.Float("alpha", 1))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("SwiGLU needs inputs A and B")
		}
		out, err := floatMap2(ctx, in[0], in[1], func(a, b float64) float64 { return a * sigmoid64(alpha*a) * b })
		return []*Tensor{out}, err
	}, nil
}

// cumProd writes the (exclusive, reverse) running products of x along the
// middle axis of (outer, dim, inner) to y.
func cumProd[T number](x, y []T, outer, dim, inner int, exclusive, reverse bool) {
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*dim*inner + in
			acc := T(1)
			for s := 0; s < dim; s++ {
				k := s
				if reverse {
					k = dim - 1 - s
				}
				i := base + k*inner
				if exclusive {
					y[i] = acc
					acc *= x[i]
				} else {
					acc *= x[i]
					y[i] = acc
				}
			}
		}
	}
}

func buildCumProd(b *Build) (Kernel, error) {
	exclusive, reverse := b.Int("exclusive", 0) != 0, b.Int("reverse", 0) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("CumProd needs x and axis")
		}
		x := in[0]
		ax, err := intsOf(in[1])
		if err != nil || len(ax) != 1 {
			return nil, fmt.Errorf("axis must be a single int32 or int64 value, got %s", in[1])
		}
		if x.Rank() == 0 {
			return nil, fmt.Errorf("x must have rank ≥ 1")
		}
		axis, err := normAxis(ax[0], x.Rank())
		if err != nil {
			return nil, err
		}
		outer, dim, inner := prod(x.Shape[:axis]), x.Shape[axis], prod(x.Shape[axis+1:])
		var out *Tensor
		switch d := x.Data.(type) {
		case []float32:
			out = ctx.New(x.DType, x.Shape...)
			cumProd(d, out.Data.([]float32), outer, dim, inner, exclusive, reverse)
		case []float64:
			out = ctx.New(x.DType, x.Shape...)
			cumProd(d, out.Data.([]float64), outer, dim, inner, exclusive, reverse)
		case []int64:
			out = ctx.New(x.DType, x.Shape...)
			cumProd(d, out.Data.([]int64), outer, dim, inner, exclusive, reverse)
		case []int32:
			out = ctx.New(x.DType, x.Shape...)
			cumProd(d, out.Data.([]int32), outer, dim, inner, exclusive, reverse)
		case []uint64:
			out = ctx.New(x.DType, x.Shape...)
			cumProd(d, out.Data.([]uint64), outer, dim, inner, exclusive, reverse)
		case []uint32:
			out = ctx.New(x.DType, x.Shape...)
			cumProd(d, out.Data.([]uint32), outer, dim, inner, exclusive, reverse)
		case []uint16:
			if x.DType != onnx.Float16 && x.DType != onnx.BFloat16 {
				return nil, fmt.Errorf("type %s is not supported", x.DType)
			}
			f, err := AsFloat32(x)
			if err != nil {
				return nil, err
			}
			y := newFloats(ctx, x.Shape...)
			cumProd(f, y, outer, dim, inner, exclusive, reverse)
			if out, err = FromFloat32(x.DType, x.Shape, y); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("type %s is not supported", x.DType)
		}
		return []*Tensor{out}, nil
	}, nil
}

func buildTensorScatter(b *Build) (Kernel, error) {
	axisAttr := b.Int("axis", -2)
	mode := b.String("mode", "linear")
	if mode != "linear" && mode != "circular" {
		return nil, fmt.Errorf("unknown mode %q (want linear or circular)", mode)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("TensorScatter needs past_cache and update")
		}
		cache, upd := in[0], in[1]
		r := cache.Rank()
		if upd.Rank() != r || upd.DType != cache.DType {
			return nil, fmt.Errorf("update %s does not match past_cache %s", upd, cache)
		}
		axis, err := normAxis(axisAttr, r)
		if err != nil {
			return nil, err
		}
		if axis == 0 {
			return nil, fmt.Errorf("axis must not be the batch axis 0")
		}
		for i := range cache.Shape {
			if i != axis && cache.Shape[i] != upd.Shape[i] {
				return nil, fmt.Errorf("update %v differs from past_cache %v outside axis %d", upd.Shape, cache.Shape, axis)
			}
		}
		batch, maxSeq, seq := cache.Shape[0], cache.Shape[axis], upd.Shape[axis]
		if seq > maxSeq {
			return nil, fmt.Errorf("update has %d positions along axis %d, more than the cache's %d", seq, axis, maxSeq)
		}
		var write []int64
		if len(in) > 2 && in[2] != nil {
			if write, err = intsOf(in[2]); err != nil {
				return nil, fmt.Errorf("write_indices: %w", err)
			}
			if len(write) != batch {
				return nil, fmt.Errorf("write_indices has %d values for batch size %d", len(write), batch)
			}
		}
		out := ctx.New(cache.DType, cache.Shape...)
		copyElems(out.Data, cache.Data, 0, 0, cache.Len())
		outer := prod(cache.Shape[:axis]) // includes the batch axis
		perBatch := outer / max(batch, 1)
		inner := prod(cache.Shape[axis+1:])
		for o := 0; o < outer; o++ {
			var w int64
			if write != nil {
				w = write[o/max(perBatch, 1)]
			}
			for s := 0; s < seq; s++ {
				pos := w + int64(s)
				if mode == "circular" {
					pos = ((pos % int64(maxSeq)) + int64(maxSeq)) % int64(maxSeq)
				}
				if pos < 0 || pos >= int64(maxSeq) {
					return nil, fmt.Errorf("write index %d + %d is outside the cache length %d", w, s, maxSeq)
				}
				copyElems(out.Data, upd.Data, (o*maxSeq+int(pos))*inner, (o*seq+s)*inner, inner)
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

func buildCausalConvWithState(b *Build) (Kernel, error) {
	act := b.String("activation", "none")
	switch act {
	case "none", "silu", "swish":
	default:
		return nil, fmt.Errorf("unknown activation %q (want silu, swish or none)", act)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("CausalConvWithState needs input and weight")
		}
		xt, wt := in[0], in[1]
		if xt.Rank() != 3 || wt.Rank() != 3 {
			return nil, fmt.Errorf("input and weight must be 3-D, got %s and %s", xt, wt)
		}
		n, c, l := xt.Shape[0], xt.Shape[1], xt.Shape[2]
		k := wt.Shape[2]
		if wt.Shape[0] != c || wt.Shape[1] != 1 || k < 1 {
			return nil, fmt.Errorf("weight %v must be (channels=%d, 1, k ≥ 1)", wt.Shape, c)
		}
		x, err := attnIn[float32](xt)
		if err != nil {
			return nil, err
		}
		w, err := attnIn[float32](wt)
		if err != nil {
			return nil, fmt.Errorf("weight: %w", err)
		}
		var bias, state []float32
		if len(in) > 2 && in[2] != nil {
			if in[2].Len() != c {
				return nil, fmt.Errorf("bias %v must have %d elements", in[2].Shape, c)
			}
			if bias, err = attnIn[float32](in[2]); err != nil {
				return nil, fmt.Errorf("bias: %w", err)
			}
		}
		if len(in) > 3 && in[3] != nil {
			s := in[3].Shape
			if len(s) != 3 || s[0] != n || s[1] != c || s[2] != k-1 {
				return nil, fmt.Errorf("past_state %v must be (%d, %d, %d)", s, n, c, k-1)
			}
			if state, err = attnIn[float32](in[3]); err != nil {
				return nil, fmt.Errorf("past_state: %w", err)
			}
		}
		y := newFloats(ctx, n, c, l)
		present := newFloats(ctx, n, c, k-1)
		padded := make([]float32, k-1+l) // past state (or zeros) followed by the input
		for bc := 0; bc < n*c; bc++ {
			ch := bc % c
			clear(padded)
			if state != nil {
				copy(padded, state[bc*(k-1):(bc+1)*(k-1)])
			}
			copy(padded[k-1:], x[bc*l:(bc+1)*l])
			kw := w[ch*k : (ch+1)*k]
			yr := y[bc*l : (bc+1)*l]
			for t := range yr {
				var s float32
				if bias != nil {
					s = bias[ch]
				}
				for i, wv := range kw {
					s += wv * padded[t+i]
				}
				if act != "none" {
					s = float32(float64(s) * sigmoid64(float64(s)))
				}
				yr[t] = s
			}
			copy(present[bc*(k-1):], padded[l:])
		}
		yo, err := FromFloat32(xt.DType, xt.Shape, y)
		if err != nil {
			return nil, err
		}
		po, err := FromFloat32(xt.DType, []int{n, c, k - 1}, present)
		return []*Tensor{yo, po}, err
	}, nil
}

func init() {
	Register("", "Swish", 24, buildSwish)
	Register("", "SwiGLU", 28, buildSwiGLU)
	Register("", "CumProd", 26, buildCumProd)
	Register("", "TensorScatter", 24, buildTensorScatter)
	Register("", "CausalConvWithState", 27, buildCausalConvWithState)
}
