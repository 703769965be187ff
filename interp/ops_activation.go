package interp

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// Activations: elementwise functions with float attributes, Clip and PRelu.

func ewSigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x) // no overflow for very negative x
	return e / (1 + e)
}

func ewSigmoid32(x float32) float32 { return float32(ewSigmoid(float64(x))) }

// ewSoftplus is log(1+exp(x)) without overflow for large x.
func ewSoftplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// softplusVec is Softplus on float32 as max(x, 0) + log(1 + e^−|x|): the
// exponential by simd.Exp a block at a time, the logarithm by log1pUnit
// in float64 (math.Log1p was 71% of a Mish model's time). NaN stays NaN,
// ±Inf give +Inf and 0.
func softplusVec(dst, x []float32) {
	var t [256]float32
	for i := 0; i < len(x); i += len(t) {
		xs := x[i:min(i+len(t), len(x))]
		ts := t[:len(xs)]
		for k, v := range xs {
			ts[k] = math.Float32frombits(math.Float32bits(v) | 1<<31) // −|v|
		}
		simd.Exp(ts, ts)
		ds := dst[i : i+len(xs)]
		for k, v := range xs {
			ds[k] = float32(float64(max(v, 0)) + log1pUnit(float64(ts[k])))
		}
	}
}

// log1pUnit is log(1 + t) for t in [0, 1] (NaN gives NaN): 2·atanh(z) with
// z = t/(2+t) ≤ 1/3, its odd series to z¹⁷ (relative error under 1e-10).
func log1pUnit(t float64) float64 {
	z := t / (2 + t)
	z2 := z * z
	p := 1.0 / 17
	for _, c := range [...]float64{1.0 / 15, 1.0 / 13, 1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1} {
		p = p*z2 + c
	}
	return 2 * z * p
}

// mishVec is Mish on float32: x·tanh(softplus(x)), softplusVec then
// simd.Tanh and simd.Mul a block at a time (dst may be x).
func mishVec(dst, x []float32) {
	var g [256]float32
	for i := 0; i < len(x); i += len(g) {
		xs := x[i:min(i+len(g), len(x))]
		gs := g[:len(xs)]
		softplusVec(gs, xs)
		simd.Tanh(gs, gs)
		simd.Mul(dst[i:i+len(xs)], xs, gs)
	}
}

// ewActivation makes a builder whose function is chosen from the node's
// attributes once.
func ewActivation(mk func(b *Build) ewUnary) Builder {
	return func(b *Build) (Kernel, error) {
		fns := mk(b)
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			out, err := ewMapNum(ctx, in[0], fns)
			return []*Tensor{out}, err
		}, nil
	}
}

func ewFixed(fns ewUnary) func(*Build) ewUnary { return func(*Build) ewUnary { return fns } }

func buildGelu(b *Build) (Kernel, error) {
	var f func(float64) float64
	switch mode := b.String("approximate", "none"); mode {
	case "none":
		f = func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
		return ewActivation(ewFixed(ewUnary{f: f, vec: simd.Gelu}))(b)
	case "tanh":
		c := math.Sqrt(2 / math.Pi)
		f = func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(c*(x+0.044715*x*x*x))) }
	default:
		return nil, fmt.Errorf("approximate %q is not one of none, tanh", mode)
	}
	return ewActivation(ewFixed(ewUnary{f: f}))(b)
}

// clipBound reads Clip's optional min and max inputs (opset 11+) as scalars.
func clipBound(t *Tensor) (float64, int64, uint64, error) {
	if t.Len() != 1 {
		return 0, 0, 0, fmt.Errorf("Clip min and max must be scalars, got %s", t)
	}
	src, err := decodeCastSource(t)
	if err != nil {
		return 0, 0, 0, err
	}
	switch {
	case src.f != nil:
		return src.f[0], 0, 0, nil
	case src.i != nil:
		return 0, src.i[0], 0, nil
	case src.u != nil:
		return 0, 0, src.u[0], nil
	}
	return 0, 0, 0, fmt.Errorf("Clip bound of type %s is not supported", t.DType)
}

// clipFns clamps to [lo, hi], applying the upper bound last so that
// min > max gives max, as the spec says; NaN passes through.
func clipFns(flo, fhi float64, ilo, ihi int64, ulo, uhi uint64) ewUnary {
	lo32, hi32 := float32(flo), float32(fhi)
	return ewUnary{
		vec: func(dst, x []float32) { simd.Clip(dst, x, lo32, hi32) },
		f: func(v float64) float64 {
			if v < flo {
				v = flo
			}
			if v > fhi {
				v = fhi
			}
			return v
		},
		f32: func(v float32) float32 {
			if v < lo32 {
				v = lo32
			}
			if v > hi32 {
				v = hi32
			}
			return v
		},
		i: func(v int64) int64 { return min(max(v, ilo), ihi) },
		u: func(v uint64) uint64 { return min(max(v, ulo), uhi) },
	}
}

func buildClip(b *Build) (Kernel, error) {
	if b.Opset < 11 {
		// Clip-1/6 take the bounds as attributes, by default ±FLT_MAX.
		lo := float64(b.Float("min", -math.MaxFloat32))
		hi := float64(b.Float("max", math.MaxFloat32))
		return ewActivation(ewFixed(clipFns(lo, hi, 0, 0, 0, 0)))(b)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		flo, fhi := math.Inf(-1), math.Inf(1)
		ilo, ihi := int64(math.MinInt64), int64(math.MaxInt64)
		ulo, uhi := uint64(0), uint64(math.MaxUint64)
		if len(in) > 1 && in[1] != nil {
			if in[1].DType != x.DType {
				return nil, fmt.Errorf("Clip min has type %s, input has %s", in[1].DType, x.DType)
			}
			f, i, u, err := clipBound(in[1])
			if err != nil {
				return nil, err
			}
			flo, ilo, ulo = f, i, u
		}
		if len(in) > 2 && in[2] != nil {
			if in[2].DType != x.DType {
				return nil, fmt.Errorf("Clip max has type %s, input has %s", in[2].DType, x.DType)
			}
			f, i, u, err := clipBound(in[2])
			if err != nil {
				return nil, err
			}
			fhi, ihi, uhi = f, i, u
		}
		out, err := ewMapNum(ctx, x, clipFns(flo, fhi, ilo, ihi, ulo, uhi))
		return []*Tensor{out}, err
	}, nil
}

func buildPRelu(b *Build) (Kernel, error) {
	fns := ewBinary{
		f: func(x, s float64) float64 {
			if x < 0 {
				return s * x
			}
			return x
		},
		f32: func(x, s float32) float32 {
			if x < 0 {
				return s * x
			}
			return x
		},
		i: func(x, s int64) int64 {
			if x < 0 {
				return s * x
			}
			return x
		},
		u: func(x, s uint64) uint64 { return x },
	}
	legacy := b.Opset < 7
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x, slope := in[0], in[1]
		if legacy && slope.Rank() == 1 && x.Rank() >= 2 && slope.Shape[0] == x.Shape[1] {
			// Before opset 7 a 1-D slope holds one value per channel (axis 1).
			shape := make([]int, x.Rank()-1)
			for i := range shape {
				shape[i] = 1
			}
			shape[0] = slope.Shape[0]
			slope = slope.Reshaped(shape)
		}
		// The slope broadcasts to the input's shape, not the other way.
		shape, err := BroadcastShape(x.Shape, slope.Shape)
		if err != nil || len(shape) != len(x.Shape) || numElements(shape) != x.Len() {
			return nil, fmt.Errorf("PRelu slope %v does not broadcast to input %v", slope.Shape, x.Shape)
		}
		if x.DType == onnx.Float && slope.DType == onnx.Float {
			return []*Tensor{preluF32(ctx, x, slope, shape)}, nil
		}
		out, err := ewBinaryNum(ctx, x, slope, fns)
		return []*Tensor{out}, err
	}, nil
}

// Selu1Alpha and Selu1Gamma are Selu-1's defaults (Selu-6 gave them more
// digits).
const (
	Selu1Alpha = 1.6732
	Selu1Gamma = 1.0507
)

func init() {
	ewRegister("Relu", 1, ewActivation(ewFixed(ewUnary{
		f: func(x float64) float64 {
			if x < 0 {
				return 0
			}
			return x
		},
		f32: func(x float32) float32 {
			if x < 0 {
				return 0
			}
			return x
		},
		vec: simd.Relu,
		i:   func(x int64) int64 { return max(x, 0) },
	})), 1, 6, 13, 14)
	ewRegister("LeakyRelu", 1, ewActivation(func(b *Build) ewUnary {
		alpha := float64(b.Float("alpha", 0.01))
		a32 := float32(alpha)
		return ewUnary{
			f: func(x float64) float64 {
				if x < 0 {
					return alpha * x
				}
				return x
			},
			f32: func(x float32) float32 {
				if x < 0 {
					return a32 * x
				}
				return x
			},
			vec: func(dst, x []float32) { simd.Leaky(dst, x, a32) },
		}
	}), 1, 6, 16)
	ewRegister("PRelu", 2, buildPRelu, 1, 6, 7, 9, 16)
	// Sigmoid, Tanh and Gelu use the polynomial kernels of interp/simd on
	// float32 (errors below 1e-6; see that package).
	ewRegister("Sigmoid", 1, ewActivation(ewFixed(ewUnary{f: ewSigmoid, f32: ewSigmoid32, vec: simd.Sigmoid})), 1, 6, 13)
	ewRegister("Tanh", 1, ewActivation(ewFixed(ewUnary{f: math.Tanh, vec: simd.Tanh})), 1, 6, 13)
	ewRegister("HardSigmoid", 1, ewActivation(func(b *Build) ewUnary {
		alpha, beta := float64(b.Float("alpha", 0.2)), float64(b.Float("beta", 0.5))
		a32, b32 := float32(alpha), float32(beta)
		return ewUnary{f: func(x float64) float64 { return math.Max(0, math.Min(1, alpha*x+beta)) },
			vec: func(dst, x []float32) { simd.ScaleShiftClip(dst, x, a32, b32, 0, 1) }}
	}), 1, 6, 22)
	// HardSwish (MobileNetV3): x·HardSigmoid(x) with alpha 1/6, in float32
	// vectors as ONNX Runtime computes it.
	ewRegister("HardSwish", 1, ewActivation(ewFixed(ewUnary{f: func(x float64) float64 {
		return x * math.Max(0, math.Min(1, x/6+0.5))
	}, vec: func(dst, x []float32) {
		// By blocks: the gate goes to a buffer, as dst may be x.
		g := make([]float32, min(len(x), 1024))
		for i := 0; i < len(x); i += len(g) {
			n := min(len(g), len(x)-i)
			simd.ScaleShiftClip(g[:n], x[i:i+n], 1.0/6, 0.5, 0, 1)
			simd.Mul(dst[i:i+n], x[i:i+n], g[:n])
		}
	}})), 14, 22)
	ewRegister("Gelu", 1, buildGelu, 20)
	ewRegister("Softplus", 1, ewActivation(ewFixed(ewUnary{f: ewSoftplus, vec: softplusVec})), 1, 22)
	ewRegister("Softsign", 1, ewActivation(ewFixed(ewUnary{f: func(x float64) float64 { return x / (1 + math.Abs(x)) }})), 1, 22)
	ewRegister("Elu", 1, ewActivation(func(b *Build) ewUnary {
		alpha := float64(b.Float("alpha", 1))
		return ewUnary{f: func(x float64) float64 {
			if x < 0 {
				return alpha * math.Expm1(x)
			}
			return x
		}, vec: func(dst, x []float32) { eluVec(dst, x, 1, float32(alpha), 1) }}
	}), 1, 6, 22)
	ewRegister("Selu", 1, ewActivation(func(b *Build) ewUnary {
		alpha := float64(b.Float("alpha", 1.67326319217681884765625))
		gamma := float64(b.Float("gamma", 1.05070102214813232421875))
		if b.Opset < 6 { // Selu-1's defaults had fewer digits
			alpha, gamma = float64(b.Float("alpha", Selu1Alpha)), float64(b.Float("gamma", Selu1Gamma))
		}
		return ewUnary{f: func(x float64) float64 {
			if x <= 0 {
				return gamma * alpha * math.Expm1(x)
			}
			return gamma * x
		}, vec: func(dst, x []float32) { eluVec(dst, x, 1, float32(alpha), float32(gamma)) }}
	}), 1, 6, 22)
	ewRegister("Celu", 1, ewActivation(func(b *Build) ewUnary {
		alpha := float64(b.Float("alpha", 1))
		return ewUnary{f: func(x float64) float64 {
			return math.Max(0, x) + math.Min(0, alpha*math.Expm1(x/alpha))
		}, vec: func(dst, x []float32) { eluVec(dst, x, float32(1/alpha), float32(alpha), 1) }}
	}), 12)
	ewRegister("Mish", 1, ewActivation(ewFixed(ewUnary{f: func(x float64) float64 { return x * math.Tanh(ewSoftplus(x)) }, vec: mishVec})), 18, 22)
	ewRegister("ThresholdedRelu", 1, ewActivation(func(b *Build) ewUnary {
		alpha := float64(b.Float("alpha", 1))
		return ewUnary{f: func(x float64) float64 {
			if x > alpha {
				return x
			}
			return 0
		}}
	}), 10, 22)
	ewRegister("Shrink", 1, ewActivation(func(b *Build) ewUnary {
		bias, lambd := float64(b.Float("bias", 0)), float64(b.Float("lambd", 0.5))
		f := func(x float64) float64 {
			switch {
			case x < -lambd:
				return x + bias
			case x > lambd:
				return x - bias
			}
			return 0
		}
		return ewUnary{
			f: f,
			i: func(x int64) int64 { return int64(f(float64(x))) },
			u: func(x uint64) uint64 { return uint64(f(float64(x))) },
		}
	}), 9)
	ewRegister("Clip", 1, buildClip, 1, 6, 11, 12, 13)
}

// preluF32 is float32 PRelu through the simd kernels, one call per innermost
// run of the broadcast (a per-channel slope is one Leaky call per run).
func preluF32(ctx *Ctx, x, slope *Tensor, shape []int) *Tensor {
	out := ctx.newRaw(onnx.Float, shape...)
	z, xs, s := out.Floats(), x.Floats(), slope.Floats()
	if len(s) == len(z) {
		simd.PRelu(z, xs, s)
		return out
	}
	st := [][]int{broadcastStrides(x.Shape, shape), broadcastStrides(slope.Shape, shape)}
	forEachRow(shape, st, func(o int, offs []int, n int, steps []int) {
		xr := xs[offs[0] : offs[0]+n]
		if steps[1] == 0 {
			simd.Leaky(z[o:o+n], xr, s[offs[1]])
			return
		}
		simd.PRelu(z[o:o+n], xr, s[offs[1]:offs[1]+n])
	})
	return out
}

// eluVec is the ELU family on float32 vectors, the way ONNX Runtime
// computes them (exp(x) − 1, not expm1): dst = γ·max(x, 0) + γ·α·(exp(s·min(x,
// 0)) − 1), which is Elu (s = γ = 1), Selu (s = 1) and Celu (s = 1/α, γ =
// 1). min(x, 0) puts the exponential's argument at 0 where x > 0, so the
// second term vanishes there without a branch. Near 0 the subtraction
// loses the digits expm1 keeps: the error is at most about γ·α·1.2e-7
// absolute (TestEluVec). dst may be x.
func eluVec(dst, x []float32, s, alpha, gamma float32) {
	var buf [1024]float32
	for i := 0; i < len(x); i += len(buf) {
		n := min(len(buf), len(x)-i)
		xs, t, d := x[i:i+n], buf[:n], dst[i:i+n]
		simd.Clip(t, xs, float32(math.Inf(-1)), 0)
		if s != 1 {
			simd.Scale(t, t, s)
		}
		simd.Exp(t, t)
		simd.ScaleShift(t, t, gamma*alpha, -gamma*alpha)
		simd.Relu(d, xs)
		if gamma != 1 {
			simd.Scale(d, d, gamma)
		}
		simd.Add(d, d, t)
	}
}
