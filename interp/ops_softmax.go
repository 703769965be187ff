package interp

import (
	"math"

	"github.com/onnxslim/onnxslim/interp/simd"
)

type softmaxKind int

const (
	softmax softmaxKind = iota
	logSoftmax
	hardmax
)

// softmaxRows applies the op to every vector of length dim with stride inner.
func softmaxRows(kind softmaxKind, x, y []float32, outer, dim, inner int) {
	if inner == 1 && kind != hardmax && dim > 0 {
		// Contiguous rows: the simd kernels (polynomial exp, relative error
		// below 3e-7 per element).
		f := simd.Softmax
		if kind == logSoftmax {
			f = simd.LogSoftmax
		}
		for o := 0; o < outer; o++ {
			f(y[o*dim:(o+1)*dim], x[o*dim:(o+1)*dim])
		}
		return
	}
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*dim*inner + in
			m := float32(math.Inf(-1))
			mi := 0
			for k := 0; k < dim; k++ {
				if v := x[base+k*inner]; v > m {
					m, mi = v, k
				}
			}
			switch kind {
			case hardmax:
				for k := 0; k < dim; k++ {
					y[base+k*inner] = 0
				}
				y[base+mi*inner] = 1
			case softmax:
				var s float32
				for k := 0; k < dim; k++ {
					e := float32(math.Exp(float64(x[base+k*inner] - m)))
					y[base+k*inner] = e
					s += e
				}
				for k := 0; k < dim; k++ {
					y[base+k*inner] /= s
				}
			case logSoftmax:
				var s float64
				for k := 0; k < dim; k++ {
					s += math.Exp(float64(x[base+k*inner] - m))
				}
				ls := float32(math.Log(s))
				for k := 0; k < dim; k++ {
					y[base+k*inner] = x[base+k*inner] - m - ls
				}
			}
		}
	}
}

// softmaxBuilder: before opset 13 the input is coerced to 2-D at axis
// (default 1); from 13 the op runs along axis (default -1).
func softmaxBuilder(kind softmaxKind, since int64) Builder {
	return func(b *Build) (Kernel, error) {
		def := int64(-1)
		if since < 13 {
			def = 1
		}
		axis := b.Int("axis", def)
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			t := in[0]
			x, err := floatIn(t)
			if err != nil {
				return nil, err
			}
			r := len(t.Shape)
			if r == 0 {
				r = 1
			}
			ax, err := normAxis(axis, r)
			if err != nil {
				return nil, err
			}
			shape := t.Shape
			if len(shape) == 0 {
				shape = []int{1}
			}
			outer, dim, inner := prod(shape[:ax]), shape[ax], prod(shape[ax+1:])
			if since < 13 {
				dim, inner = prod(shape[ax:]), 1
			}
			y := newFloats(ctx, t.Shape...)
			softmaxRows(kind, x, y, outer, dim, inner)
			out, err := floatOut(t.DType, t.Shape, y)
			return []*Tensor{out}, err
		}, nil
	}
}

func init() {
	for _, v := range []int64{1, 11, 13} {
		Register("", "Softmax", v, softmaxBuilder(softmax, v))
		Register("", "LogSoftmax", v, softmaxBuilder(logSoftmax, v))
		Register("", "Hardmax", v, softmaxBuilder(hardmax, v))
	}
}
