package interp

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// Elementwise math: unary functions, Pow, Mod, and the ewVariadic Min, Max,
// Sum and Mean. Helpers shared by the activation and logic files are here too.

// ewMapFloat applies f to each element of a float tensor (float, double,
// float16, bfloat16). Values are computed in float64 and rounded once to the
// tensor's type; f32, when given, is a faster float32 path.
func ewMapFloat(ctx *Ctx, t *Tensor, f func(float64) float64, f32 func(float32) float32) (*Tensor, error) {
	switch d := t.Data.(type) {
	case []float32:
		out := ctx.New(t.DType, t.Shape...)
		z := out.Data.([]float32)
		if f32 != nil {
			for i, v := range d {
				z[i] = f32(v)
			}
		} else {
			for i, v := range d {
				z[i] = float32(f(float64(v)))
			}
		}
		return out, nil
	case []float64:
		out := ctx.New(t.DType, t.Shape...)
		z := out.Data.([]float64)
		for i, v := range d {
			z[i] = f(v)
		}
		return out, nil
	case []uint16:
		var dec func(uint16) float32
		var enc func(float64) uint16
		switch t.DType {
		case onnx.Float16:
			dec, enc = Float16ToFloat32, Float64ToFloat16
		case onnx.BFloat16:
			dec, enc = BFloat16ToFloat32, func(v float64) uint16 { return Float32ToBFloat16(float32(v)) }
		default:
			return nil, fmt.Errorf("type %s is not supported (float types only)", t.DType)
		}
		out := ctx.New(t.DType, t.Shape...)
		z := out.Data.([]uint16)
		for i, v := range d {
			z[i] = enc(f(float64(dec(v))))
		}
		return out, nil
	}
	return nil, fmt.Errorf("type %s is not supported (float types only)", t.DType)
}

// ewUnary holds one elementwise function per number class; a nil entry
// means the class is not supported by the op.
type ewUnary struct {
	f   func(float64) float64
	f32 func(float32) float32  // optional fast path for float32
	vec func(dst, x []float32) // optional whole-slice float32 kernel (interp/simd)
	i   func(int64) int64
	u   func(uint64) uint64
}

func ewMapInt[T int8 | int16 | int32 | int64](ctx *Ctx, t *Tensor, f func(int64) int64) (*Tensor, error) {
	return Unary(ctx, t.DType, t, func(v T) T { return T(f(int64(v))) })
}

func ewMapUint[T uint8 | uint16 | uint32 | uint64](ctx *Ctx, t *Tensor, f func(uint64) uint64) (*Tensor, error) {
	return Unary(ctx, t.DType, t, func(v T) T { return T(f(uint64(v))) })
}

// ewMapNum applies the function of fns matching t's type to each element.
func ewMapNum(ctx *Ctx, t *Tensor, fns ewUnary) (*Tensor, error) {
	if err := needTensor(t); err != nil {
		return nil, err
	}
	switch t.DType {
	case onnx.Float, onnx.Double, onnx.Float16, onnx.BFloat16:
		if fns.f == nil {
			return nil, unsupportedType(t)
		}
		if x, ok := t.Data.([]float32); ok && fns.vec != nil {
			out := ctx.reuseInput(t)
			fns.vec(out.Floats(), x)
			return out, nil
		}
		if t.DType == onnx.Float16 && (fns.vec != nil || fns.f32 != nil) {
			return ctx.halfBlocks(t, func(x []float32) {
				if fns.vec != nil {
					fns.vec(x, x)
					return
				}
				for i, v := range x {
					x[i] = fns.f32(v)
				}
			}), nil
		}
		return ewMapFloat(ctx, t, fns.f, fns.f32)
	case onnx.Int8, onnx.Int16, onnx.Int32, onnx.Int64:
		if fns.i == nil {
			return nil, unsupportedType(t)
		}
		switch t.DType {
		case onnx.Int8:
			return ewMapInt[int8](ctx, t, fns.i)
		case onnx.Int16:
			return ewMapInt[int16](ctx, t, fns.i)
		case onnx.Int32:
			return ewMapInt[int32](ctx, t, fns.i)
		}
		return ewMapInt[int64](ctx, t, fns.i)
	case onnx.Uint8, onnx.Uint16, onnx.Uint32, onnx.Uint64:
		if fns.u == nil {
			return nil, unsupportedType(t)
		}
		switch t.DType {
		case onnx.Uint8:
			return ewMapUint[uint8](ctx, t, fns.u)
		case onnx.Uint16:
			return ewMapUint[uint16](ctx, t, fns.u)
		case onnx.Uint32:
			return ewMapUint[uint32](ctx, t, fns.u)
		}
		return ewMapUint[uint64](ctx, t, fns.u)
	}
	return nil, unsupportedType(t)
}

// unsupportedType is ewMapNum's error, made only when returned (made up
// front, it was an allocation a unary node and run).
func unsupportedType(t *Tensor) error {
	return fmt.Errorf("type %s is not supported", t.DType)
}

// ewBinary holds one broadcasting binary function per number class.
type ewBinary struct {
	f   func(x, y float64) float64
	f32 func(x, y float32) float32 // optional fast path for float32
	// same32 and right32, optional: z = f32(x, y) over float32 inputs of
	// one shape, and z = f32(x, c) for a one-element y, in one call with
	// f32 inlined (a call through a func value per element cost 4 ns: Max
	// with a constant was most of a tf2onnx audio net's time).
	same32  func(z, x, y []float32)
	right32 func(z, x []float32, c float32)
	i       func(x, y int64) int64
	u       func(x, y uint64) uint64
}

func max32s(z, x, y []float32) {
	x, y = x[:len(z)], y[:len(z)]
	for i := range z {
		z[i] = nanMax(x[i], y[i])
	}
}

// max32c and min32c use Go's max and min, which compile without
// branches (nanMax's mispredict on data around c), where they agree with
// nanMax and nanMin bit for bit: c neither NaN nor the zero whose ties Go
// orders the other way (-0 for max, +0 for min).
func max32c(z, x []float32, c float32) {
	x = x[:len(z)]
	if c != c || c == 0 && math.Signbit(float64(c)) {
		for i := range z {
			z[i] = nanMax(x[i], c)
		}
		return
	}
	for i := range z {
		z[i] = max(x[i], c)
	}
}

func min32s(z, x, y []float32) {
	x, y = x[:len(z)], y[:len(z)]
	for i := range z {
		z[i] = nanMin(x[i], y[i])
	}
}

func min32c(z, x []float32, c float32) {
	x = x[:len(z)]
	if c != c || c == 0 && !math.Signbit(float64(c)) {
		for i := range z {
			z[i] = nanMin(x[i], c)
		}
		return
	}
	for i := range z {
		z[i] = min(x[i], c)
	}
}

func ewBinInt[T int8 | int16 | int32 | int64](ctx *Ctx, a, b *Tensor, f func(x, y int64) int64) (*Tensor, error) {
	return Binary(ctx, a.DType, a, b, func(x, y T) T { return T(f(int64(x), int64(y))) })
}

func ewBinUint[T uint8 | uint16 | uint32 | uint64](ctx *Ctx, a, b *Tensor, f func(x, y uint64) uint64) (*Tensor, error) {
	return Binary(ctx, a.DType, a, b, func(x, y T) T { return T(f(uint64(x), uint64(y))) })
}

// ewFloat32s returns a float32 view or copy of a float16/bfloat16/float tensor.
func ewFloat32s(t *Tensor) (*Tensor, error) {
	f, err := AsFloat32(t)
	if err != nil {
		return nil, err
	}
	return FromSlice(onnx.Float, t.Shape, f), nil
}

// ewBinaryNum applies fns elementwise to a and b (same type, numpy broadcasting).
func ewBinaryNum(ctx *Ctx, a, b *Tensor, fns ewBinary) (*Tensor, error) {
	if a.DType != b.DType {
		return nil, fmt.Errorf("input types %s and %s differ", a.DType, b.DType)
	}
	unsupported := fmt.Errorf("type %s is not supported", a.DType)
	dt := a.DType
	switch dt {
	case onnx.Float, onnx.Double, onnx.Float16, onnx.BFloat16:
		if fns.f == nil {
			return nil, unsupported
		}
		f32 := fns.f32
		if f32 == nil {
			f32 = func(x, y float32) float32 { return float32(fns.f(float64(x), float64(y))) }
		}
		switch dt {
		case onnx.Float:
			if fns.same32 != nil && slices.Equal(a.Shape, b.Shape) {
				out := ctx.newRaw(dt, a.Shape...)
				fns.same32(out.Floats(), a.Floats(), b.Floats())
				return out, nil
			}
			if fns.right32 != nil && b.Len() == 1 {
				if shape, err := BroadcastShape(a.Shape, b.Shape); err == nil && numElements(shape) == a.Len() {
					out := ctx.newRaw(dt, shape...)
					fns.right32(out.Floats(), a.Floats(), b.Floats()[0])
					return out, nil
				}
			}
			return Binary(ctx, dt, a, b, f32)
		case onnx.Double:
			return Binary(ctx, dt, a, b, fns.f)
		}
		x, err := ewFloat32s(a)
		if err != nil {
			return nil, err
		}
		y, err := ewFloat32s(b)
		if err != nil {
			return nil, err
		}
		// Round the float64 result once to float16/bfloat16.
		var enc func(float64) uint16
		if dt == onnx.Float16 {
			enc = Float64ToFloat16
		} else {
			enc = func(v float64) uint16 { return Float32ToBFloat16(float32(v)) }
		}
		return Binary(ctx, dt, x, y, func(p, q float32) uint16 { return enc(fns.f(float64(p), float64(q))) })
	case onnx.Int8, onnx.Int16, onnx.Int32, onnx.Int64:
		if fns.i == nil {
			return nil, unsupported
		}
		switch dt {
		case onnx.Int8:
			return ewBinInt[int8](ctx, a, b, fns.i)
		case onnx.Int16:
			return ewBinInt[int16](ctx, a, b, fns.i)
		case onnx.Int32:
			return ewBinInt[int32](ctx, a, b, fns.i)
		}
		return ewBinInt[int64](ctx, a, b, fns.i)
	case onnx.Uint8, onnx.Uint16, onnx.Uint32, onnx.Uint64:
		if fns.u == nil {
			return nil, unsupported
		}
		switch dt {
		case onnx.Uint8:
			return ewBinUint[uint8](ctx, a, b, fns.u)
		case onnx.Uint16:
			return ewBinUint[uint16](ctx, a, b, fns.u)
		case onnx.Uint32:
			return ewBinUint[uint32](ctx, a, b, fns.u)
		}
		return ewBinUint[uint64](ctx, a, b, fns.u)
	}
	return nil, unsupported
}

// ewUnaryBuilder makes a builder for an attribute-free elementwise op.
func ewUnaryBuilder(fns ewUnary) Builder {
	return func(b *Build) (Kernel, error) {
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			out, err := ewMapNum(ctx, in[0], fns)
			return []*Tensor{out}, err
		}, nil
	}
}

func ewFloatOnly(f func(float64) float64) ewUnary { return ewUnary{f: f} }

// The float32 loops of the simple unary ops (Abs, Sqrt, Round, Floor and
// Ceil run simd kernels): a loop each, as a function value per element
// cost more than the operation (Sqrt, Round 5–10× ONNX Runtime's time).
// Each gives the bits the float64 path gives: negation is exact, and a
// correctly rounded float64 quotient of float32s rounds to the float32 one.
func negVec(dst, x []float32) {
	for i, v := range x {
		dst[i] = -v
	}
}

func reciprocalVec(dst, x []float32) {
	for i, v := range x {
		dst[i] = 1 / v
	}
}

func ewSignF(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return v // ±0 and NaN
}

func ewAbsI(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func ewSignI(v int64) int64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func ewSignU(v uint64) uint64 {
	if v > 0 {
		return 1
	}
	return 0
}

// ewIpow raises x to a non-negative integer power with wrap-around, as
// numpy's integer power does; negative powers truncate toward zero.
func ewIpow(x, e int64) int64 {
	if e < 0 {
		switch x {
		case 1:
			return 1
		case -1:
			if e%2 == 0 {
				return 1
			}
			return -1
		}
		return 0
	}
	r := int64(1)
	for e > 0 {
		if e&1 == 1 {
			r *= x
		}
		x *= x
		e >>= 1
	}
	return r
}

func ewBuildPow(bld *Build) (Kernel, error) {
	align := ewLegacyAlign(bld)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		return ewPow(ctx, in[0], align(in[1], in[0]))
	}, nil
}

// ewPow computes Pow with base and exponent of possibly different types;
// the result has the base's type.
func ewPow(ctx *Ctx, a, b *Tensor) ([]*Tensor, error) {
	if a.DType == onnx.Float && b.Len() == 1 {
		// x² and x¹ are exact in float32: the common squares of a
		// decomposed LayerNorm need no math.Pow. x³ (GPT-2's tanh GELU)
		// in float64 is what math.Pow computes: x·x is exact there, so
		// both round x³ once to float64, then to float32.
		if e, _ := AsFloat32(b); e != nil && (e[0] == 2 || e[0] == 1 || e[0] == 3) {
			x := a.Floats()
			shape, err := BroadcastShape(a.Shape, b.Shape)
			if err == nil && numElements(shape) == len(x) {
				out := ctx.newRaw(onnx.Float, shape...)
				switch y := out.Floats(); e[0] {
				case 2:
					simd.Mul(y, x, x)
				case 3:
					for i, v := range x {
						w := float64(v)
						y[i] = float32(w * w * w)
					}
				default:
					copy(y, x)
				}
				return []*Tensor{out}, nil
			}
		}
	}
	if a.DType == b.DType && a.DType.IsFloat() {
		out, err := ewBinaryNum(ctx, a, b, ewBinary{f: math.Pow})
		return []*Tensor{out}, err
	}
	x, err := CastTensor(ctx, a, onnx.Double, DefaultCastOptions)
	if err != nil {
		return nil, err
	}
	y, err := CastTensor(ctx, b, onnx.Double, DefaultCastOptions)
	if err != nil {
		return nil, err
	}
	f := math.Pow
	if a.DType.IsInteger() && b.DType.IsInteger() {
		f = func(p, q float64) float64 { return float64(ewIpow(int64(p), int64(q))) }
		if a.DType == onnx.Int64 || a.DType == onnx.Uint64 {
			// float64 cannot hold every int64: compute in integers.
			xi, err := CastTensor(ctx, a, onnx.Int64, DefaultCastOptions)
			if err != nil {
				return nil, err
			}
			yi, err := CastTensor(ctx, b, onnx.Int64, DefaultCastOptions)
			if err != nil {
				return nil, err
			}
			r, err := Binary(ctx, onnx.Int64, xi, yi, ewIpow)
			if err != nil {
				return nil, err
			}
			out, err := CastTensor(ctx, r, a.DType, DefaultCastOptions)
			return []*Tensor{out}, err
		}
	}
	r, err := Binary(ctx, onnx.Double, x, y, f)
	if err != nil {
		return nil, err
	}
	out, err := CastTensor(ctx, r, a.DType, DefaultCastOptions)
	return []*Tensor{out}, err
}

func ewBuildMod(b *Build) (Kernel, error) {
	var fns ewBinary
	if b.Int("fmod", 0) != 0 {
		// C fmod: the result has the sign of the dividend.
		fns = ewBinary{
			f: math.Mod,
			i: func(x, y int64) int64 {
				if y == 0 {
					return 0
				}
				return x % y
			},
		}
	} else {
		// Python-style: the result has the sign of the divisor.
		fns = ewBinary{
			f: func(x, y float64) float64 {
				r := math.Mod(x, y)
				if r != 0 && (r < 0) != (y < 0) {
					r += y
				}
				return r
			},
			i: func(x, y int64) int64 {
				if y == 0 {
					return 0 // numpy's result for a zero divisor
				}
				r := x % y
				if r != 0 && (r < 0) != (y < 0) {
					r += y
				}
				return r
			},
		}
	}
	fns.u = func(x, y uint64) uint64 {
		if y == 0 {
			return 0
		}
		return x % y
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		out, err := ewBinaryNum(ctx, in[0], in[1], fns)
		return []*Tensor{out}, err
	}, nil
}

// ewVariadic folds fns over all inputs with broadcasting (Min, Max, Sum);
// a single input is returned as is.
func ewVariadic(fns ewBinary) Builder {
	return func(b *Build) (Kernel, error) {
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			out, err := ewFoldInputs(ctx, in, fns)
			return []*Tensor{out}, err
		}, nil
	}
}

func ewFoldInputs(ctx *Ctx, in []*Tensor, fns ewBinary) (*Tensor, error) {
	var acc *Tensor
	for _, t := range in {
		if t == nil {
			continue
		}
		if acc == nil {
			acc = t
			if !fns.supports(t.DType) {
				return nil, fmt.Errorf("type %s is not supported", t.DType)
			}
			continue
		}
		var err error
		if acc, err = ewBinaryNum(ctx, acc, t, fns); err != nil {
			return nil, err
		}
	}
	if acc == nil {
		return nil, fmt.Errorf("needs at least one input")
	}
	return acc, nil
}

// supports reports whether fns has a function for dt's number class.
func (fns ewBinary) supports(dt onnx.DataType) bool {
	switch dt {
	case onnx.Float, onnx.Double, onnx.Float16, onnx.BFloat16:
		return fns.f != nil
	case onnx.Int8, onnx.Int16, onnx.Int32, onnx.Int64:
		return fns.i != nil
	case onnx.Uint8, onnx.Uint16, onnx.Uint32, onnx.Uint64:
		return fns.u != nil
	}
	return false
}

// nanMin and nanMax propagate NaN, as ONNX's Min and Max do (Go's min and
// max do too, but also order -0 before +0, which numpy does not).
func nanMin[T float32 | float64](x, y T) T {
	switch {
	case x != x:
		return x
	case y != y:
		return y
	case x < y:
		return x
	}
	return y
}

func nanMax[T float32 | float64](x, y T) T {
	switch {
	case x != x:
		return x
	case y != y:
		return y
	case x > y:
		return x
	}
	return y
}

var (
	ewMinFns = ewBinary{f: nanMin[float64], f32: nanMin[float32], same32: min32s, right32: min32c, i: func(x, y int64) int64 { return min(x, y) }, u: func(x, y uint64) uint64 { return min(x, y) }}
	ewMaxFns = ewBinary{f: nanMax[float64], f32: nanMax[float32], same32: max32s, right32: max32c, i: func(x, y int64) int64 { return max(x, y) }, u: func(x, y uint64) uint64 { return max(x, y) }}
	ewSumFns = ewBinary{f: func(x, y float64) float64 { return x + y }, f32: func(x, y float32) float32 { return x + y }, same32: simd.Add}
)

func ewBuildMean(b *Build) (Kernel, error) {
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		// Sum in float64 and divide, rounding once to the input type.
		var acc *Tensor
		n := 0
		for _, t := range in {
			if t == nil {
				continue
			}
			if !t.DType.IsFloat() || t.DType != in[0].DType {
				return nil, fmt.Errorf("input type %s is not supported (all inputs must have the same float type)", t.DType)
			}
			x, err := CastTensor(ctx, t, onnx.Double, DefaultCastOptions)
			if err != nil {
				return nil, err
			}
			n++
			if acc == nil {
				acc = x
			} else if acc, err = Binary(ctx, onnx.Double, acc, x, func(p, q float64) float64 { return p + q }); err != nil {
				return nil, err
			}
		}
		if acc == nil {
			return nil, fmt.Errorf("Mean needs at least one input")
		}
		m, err := ewMapFloat(ctx, acc, func(v float64) float64 { return v / float64(n) }, nil)
		if err != nil {
			return nil, err
		}
		out, err := CastTensor(ctx, m, in[0].DType, DefaultCastOptions)
		return []*Tensor{out}, err
	}, nil
}

func ewIsNaNKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	out, err := ewFloatPredicate(ctx, in[0], func(v float64) bool { return math.IsNaN(v) })
	return []*Tensor{out}, err
}

// ewFloatPredicate evaluates p on each element of a float tensor (any float
// type, float8 included), giving a bool tensor.
func ewFloatPredicate(ctx *Ctx, t *Tensor, p func(float64) bool) (*Tensor, error) {
	if !t.DType.IsFloat() && !IsFloat8(t.DType) {
		return nil, fmt.Errorf("type %s is not supported (float types only)", t.DType)
	}
	src, err := decodeCastSource(t)
	if err != nil {
		return nil, err
	}
	out := ctx.New(onnx.Bool, t.Shape...)
	z := out.Data.([]bool)
	for i, v := range src.f {
		z[i] = p(v)
	}
	return out, nil
}

func ewBuildIsInf(b *Build) (Kernel, error) {
	neg, pos := b.Int("detect_negative", 1) != 0, b.Int("detect_positive", 1) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		out, err := ewFloatPredicate(ctx, in[0], func(v float64) bool {
			return (pos && math.IsInf(v, 1)) || (neg && math.IsInf(v, -1))
		})
		return []*Tensor{out}, err
	}, nil
}

// ewRegister registers b for op at each version, checking that the first
// arity inputs are present tensors before the kernel runs.
func ewRegister(op string, arity int, b Builder, versions ...int64) {
	checked := func(bld *Build) (Kernel, error) {
		k, err := b(bld)
		if err != nil {
			return nil, err
		}
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			if len(in) < arity {
				return nil, fmt.Errorf("%s needs %d inputs, got %d", op, arity, len(in))
			}
			for i, t := range in[:arity] {
				if t == nil {
					return nil, fmt.Errorf("%s: input %d is required", op, i)
				}
				if t.Kind != KindTensor {
					return nil, fmt.Errorf("%s: input %d must be a tensor, got %s", op, i, t)
				}
			}
			return k(ctx, in)
		}, nil
	}
	for _, v := range versions {
		Register("", op, v, checked)
	}
}

func init() {
	std := []int64{1, 6, 13}
	ewRegister("Abs", 1, ewUnaryBuilder(ewUnary{f: math.Abs, vec: simd.Abs, i: ewAbsI, u: func(v uint64) uint64 { return v }}), std...)
	ewRegister("Neg", 1, ewUnaryBuilder(ewUnary{f: func(v float64) float64 { return -v }, vec: negVec, i: func(v int64) int64 { return -v }}), std...)
	// Exp, Erf (and the activations) run polynomial kernels on float32
	// (interp/simd: relative error below 3e-7 for exp, absolute below 4e-7
	// for erf, far inside the 1e-3 the conformance tests allow).
	ewRegister("Exp", 1, ewUnaryBuilder(ewUnary{f: math.Exp, vec: simd.Exp}), std...)
	ewRegister("Log", 1, ewUnaryBuilder(ewUnary{f: math.Log, vec: simd.Log}), std...)
	ewRegister("Sqrt", 1, ewUnaryBuilder(ewUnary{f: math.Sqrt, vec: simd.Sqrt}), std...)
	ewRegister("Reciprocal", 1, ewUnaryBuilder(ewUnary{f: func(v float64) float64 { return 1 / v }, vec: reciprocalVec}), std...)
	ewRegister("Floor", 1, ewUnaryBuilder(ewUnary{f: math.Floor, vec: simd.Floor}), std...)
	ewRegister("Ceil", 1, ewUnaryBuilder(ewUnary{f: math.Ceil, vec: simd.Ceil}), std...)
	ewRegister("Round", 1, ewUnaryBuilder(ewUnary{f: math.RoundToEven, vec: simd.Round}), 11, 22)
	ewRegister("Sign", 1, ewUnaryBuilder(ewUnary{f: ewSignF, i: ewSignI, u: ewSignU}), 9, 13)
	for op, f := range map[string]func(float64) float64{
		"Tan": math.Tan, "Asin": math.Asin, "Acos": math.Acos, "Atan": math.Atan,
	} {
		ewRegister(op, 1, ewUnaryBuilder(ewFloatOnly(f)), 7, 22)
	}
	ewRegister("Sin", 1, ewUnaryBuilder(ewUnary{f: math.Sin, vec: simd.Sin}), 7, 22)
	ewRegister("Cos", 1, ewUnaryBuilder(ewUnary{f: math.Cos, vec: simd.Cos}), 7, 22)
	for op, f := range map[string]func(float64) float64{
		"Sinh": math.Sinh, "Cosh": math.Cosh, "Asinh": math.Asinh, "Acosh": math.Acosh, "Atanh": math.Atanh,
	} {
		ewRegister(op, 1, ewUnaryBuilder(ewFloatOnly(f)), 9, 22)
	}
	ewRegister("Erf", 1, ewUnaryBuilder(ewUnary{f: math.Erf, vec: simd.Erf,
		i: func(v int64) int64 { return int64(math.Erf(float64(v))) },
		u: func(v uint64) uint64 { return uint64(math.Erf(float64(v))) }}), 9, 13)
	ewRegister("IsNaN", 1, func(*Build) (Kernel, error) { return ewIsNaNKernel, nil }, 9, 13, 20)
	ewRegister("IsInf", 1, ewBuildIsInf, 10, 20)
	ewRegister("Pow", 2, ewBuildPow, 1, 7, 12, 13, 15)
	ewRegister("Mod", 2, ewBuildMod, 10, 13)
	ewRegister("Min", 1, ewVariadic(ewMinFns), 1, 6, 8, 12, 13)
	ewRegister("Max", 1, ewVariadic(ewMaxFns), 1, 6, 8, 12, 13)
	ewRegister("Sum", 1, ewVariadic(ewSumFns), 1, 6, 8, 13)
	ewRegister("Mean", 1, ewBuildMean, 1, 6, 8, 13)
}
