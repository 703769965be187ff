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
	if kind != hardmax && dim > 0 && (inner > 1 || dim < shortSoftmax) {
		softmaxAcross(kind, x, y, outer, dim, inner)
		return
	}
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

// shortSoftmax is the row length under which contiguous rows go through
// softmaxAcross: a few kernel calls per two-class score cost more than
// the arithmetic.
const shortSoftmax = 16

// softmaxAcross is softmaxRows for strided vectors (inner > 1) and short
// rows: the vectors of an outer index lie side by side, so each pass runs
// over all of them at once — maxima, x - max, one Exp over the whole
// block, sums, and the division (Softmax) or the log shift (LogSoftmax).
// The maxima and sums are elementwise across the dim slices of length
// inner; with inner = 1, in plain loops along each short row.
func softmaxAcross(kind softmaxKind, x, y []float32, outer, dim, inner int) {
	if inner == 1 {
		// Short rows side by side: the maxima and sums in plain loops, the
		// exponentials in one call over every row.
		n := outer * dim
		for o := 0; o < n; o += dim {
			xr, yr := x[o:o+dim], y[o:o+dim]
			m := xr[0]
			for _, v := range xr[1:] {
				m = max(m, v)
			}
			for k, v := range xr {
				yr[k] = v - m
			}
		}
		if kind == logSoftmax {
			e := make([]float32, n)
			simd.Exp(e, y[:n])
			for o := 0; o < n; o += dim {
				var s float32
				for _, v := range e[o : o+dim] {
					s += v
				}
				ls := float32(math.Log(float64(s)))
				for k := o; k < o+dim; k++ {
					y[k] -= ls
				}
			}
			return
		}
		simd.Exp(y[:n], y[:n])
		for o := 0; o < n; o += dim {
			yr := y[o : o+dim]
			var s float32
			for _, v := range yr {
				s += v
			}
			for k := range yr {
				yr[k] /= s
			}
		}
		return
	}
	softmaxStrided(kind, x, y, outer, dim, inner)
}

// softmaxStrided is softmaxAcross's passes over vectors of stride inner.
func softmaxStrided(kind softmaxKind, x, y []float32, outer, dim, inner int) {
	m := make([]float32, inner)
	s := make([]float32, inner)
	for o := 0; o < outer; o++ {
		xo, yo := x[o*dim*inner:(o+1)*dim*inner], y[o*dim*inner:(o+1)*dim*inner]
		copy(m, xo[:inner])
		for k := 1; k < dim; k++ {
			for i, v := range xo[k*inner : (k+1)*inner] {
				m[i] = max(m[i], v)
			}
		}
		for k := 0; k < dim; k++ {
			simd.Sub(yo[k*inner:(k+1)*inner], xo[k*inner:(k+1)*inner], m)
		}
		if kind == logSoftmax {
			// x - max is kept in y; the exponentials go to a scratch row.
			clear(s)
			e := make([]float32, inner)
			for k := 0; k < dim; k++ {
				simd.Exp(e, yo[k*inner:(k+1)*inner])
				simd.Add(s, s, e)
			}
			for i := range s {
				s[i] = float32(math.Log(float64(s[i])))
			}
			for k := 0; k < dim; k++ {
				simd.Sub(yo[k*inner:(k+1)*inner], yo[k*inner:(k+1)*inner], s)
			}
			continue
		}
		simd.Exp(yo, yo)
		copy(s, yo[:inner])
		for k := 1; k < dim; k++ {
			simd.Add(s, s, yo[k*inner:(k+1)*inner])
		}
		for k := 0; k < dim; k++ {
			simd.Div(yo[k*inner:(k+1)*inner], yo[k*inner:(k+1)*inner], s)
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
