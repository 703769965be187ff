package interp

import (
	"fmt"
	"slices"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// number is every storage type that supports arithmetic.
type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// arith dispatches a binary arithmetic op over the storage type of a and b.
// float16 and bfloat16 are computed in float32 and rounded back.
func arith(ctx *Ctx, op byte, a, b *Tensor, f32 func(x, y float32) float32, f64 func(x, y float64) float64, i64 func(x, y int64) int64, u64 func(x, y uint64) uint64) (*Tensor, error) {
	if a.DType != b.DType {
		return nil, fmt.Errorf("input types %s and %s differ", a.DType, b.DType)
	}
	dt := a.DType
	switch dt {
	case onnx.Float:
		return arithF32(ctx, op, a, b)
	case onnx.Double:
		return Binary(ctx, dt, a, b, f64)
	case onnx.Float16, onnx.BFloat16:
		x, err := ctx.float32Of(a)
		if err != nil {
			return nil, err
		}
		y, err := ctx.float32Of(b)
		if err != nil {
			return nil, err
		}
		r, err := arithF32(ctx, op, FromSlice(onnx.Float, a.Shape, x), FromSlice(onnx.Float, b.Shape, y))
		if err != nil {
			return nil, err
		}
		return ctx.roundFloat32(dt, r), nil
	case onnx.Int64:
		return Binary(ctx, dt, a, b, i64)
	case onnx.Int32:
		return Binary(ctx, dt, a, b, func(x, y int32) int32 { return int32(i64(int64(x), int64(y))) })
	case onnx.Int16:
		return Binary(ctx, dt, a, b, func(x, y int16) int16 { return int16(i64(int64(x), int64(y))) })
	case onnx.Int8:
		return Binary(ctx, dt, a, b, func(x, y int8) int8 { return int8(i64(int64(x), int64(y))) })
	case onnx.Uint64:
		return Binary(ctx, dt, a, b, u64)
	case onnx.Uint32:
		return Binary(ctx, dt, a, b, func(x, y uint32) uint32 { return uint32(u64(uint64(x), uint64(y))) })
	case onnx.Uint16:
		return Binary(ctx, dt, a, b, func(x, y uint16) uint16 { return uint16(u64(uint64(x), uint64(y))) })
	case onnx.Uint8:
		return Binary(ctx, dt, a, b, func(x, y uint8) uint8 { return uint8(u64(uint64(x), uint64(y))) })
	}
	return nil, fmt.Errorf("type %s is not supported", dt)
}

// arithF32 is Add, Sub, Mul or Div of float32 tensors through the simd kernels:
// whole slices when the shapes match, else one call per innermost run of
// the broadcast (a scalar operand becomes AddScalar or Scale). Every form
// rounds exactly as x op y does, so results match Binary's.
func arithF32(ctx *Ctx, op byte, a, b *Tensor) (*Tensor, error) {
	shape := a.Shape // equal shapes (a residual Add): no shape to make
	if !slices.Equal(a.Shape, b.Shape) {
		var err error
		if shape, err = BroadcastShape(a.Shape, b.Shape); err != nil {
			return nil, err
		}
	}
	x, y := a.Floats(), b.Floats()
	n := numElements(shape)
	var out *Tensor
	switch {
	// An operand of the result's size is read at each index just before
	// the result is written there, so a dying one can hold the result.
	case len(x) == n && ctx.reusable(a):
		out = newTensor(onnx.Float, shape, x) // copies shape
	case len(y) == n && ctx.reusable(b):
		out = newTensor(onnx.Float, shape, y)
	default:
		out = ctx.newRaw(onnx.Float, shape...)
	}
	z := out.Floats()
	whole := func(z, x, y []float32) {
		switch op {
		case '+':
			simd.Add(z, x, y)
		case '-':
			simd.Sub(z, x, y)
		case '/':
			simd.Div(z, x, y)
		default:
			simd.Mul(z, x, y)
		}
	}
	if len(x) == len(z) && len(y) == len(z) {
		whole(z, x, y)
		return out, nil
	}
	// An operand that broadcasts only over leading dimensions repeats with
	// a period of its own size. A short period (a [N,2] box times a [2]
	// scale) would cost a kernel call per few elements: tile it instead
	// and run the kernel over many periods at a time.
	if len(x) == len(z) && len(y) < shortRun && repeats(shape, b.Shape) {
		t := tiled(ctx, y, len(z))
		for o := 0; o < len(z); o += len(t) {
			e := min(len(z), o+len(t))
			whole(z[o:e], x[o:e], t[:e-o])
		}
		return out, nil
	}
	if len(y) == len(z) && len(x) < shortRun && repeats(shape, a.Shape) {
		t := tiled(ctx, x, len(z))
		for o := 0; o < len(z); o += len(t) {
			e := min(len(z), o+len(t))
			whole(z[o:e], t[:e-o], y[o:e])
		}
		return out, nil
	}
	st := [][]int{broadcastStrides(a.Shape, shape), broadcastStrides(b.Shape, shape)}
	forEachRow(shape, st, func(o int, offs []int, n int, steps []int) {
		zr := z[o : o+n]
		ia, ib, sa, sb := offs[0], offs[1], steps[0], steps[1]
		switch {
		case sa == 1 && sb == 1:
			xr, yr := x[ia:ia+n], y[ib:ib+n]
			switch op {
			case '+':
				simd.Add(zr, xr, yr)
			case '-':
				simd.Sub(zr, xr, yr)
			case '/':
				simd.Div(zr, xr, yr)
			default:
				simd.Mul(zr, xr, yr)
			}
		case sb == 0 && (sa == 1 || n == 1):
			xr, c := x[ia:ia+n], y[ib]
			switch op {
			case '+':
				simd.AddScalar(zr, xr, c)
			case '-':
				simd.AddScalar(zr, xr, -c)
			case '/':
				simd.DivScalar(zr, xr, c)
			default:
				simd.Scale(zr, xr, c)
			}
		case sa == 0 && sb == 1:
			c, yr := x[ia], y[ib:ib+n]
			switch op {
			case '+':
				simd.AddScalar(zr, yr, c)
			case '-':
				// c - y as -1·y + c: the product is exact, so one rounding.
				simd.ScaleShift(zr, yr, -1, c)
			case '/':
				simd.ScalarDiv(zr, yr, c)
			default:
				simd.Scale(zr, yr, c)
			}
		default:
			f := add[float32]
			switch op {
			case '-':
				f = sub[float32]
			case '*':
				f = mul[float32]
			case '/':
				f = func(x, y float32) float32 { return x / y }
			}
			for k := range zr {
				zr[k] = f(x[ia+k*sa], y[ib+k*sb])
			}
		}
	})
	return out, nil
}

// shortRun is the innermost run length under which arithF32 tiles a
// repeating operand rather than call a kernel per run.
const shortRun = 64

// repeats reports whether a tensor of shape in, broadcast to out, is its
// own data repeated: in, without leading 1s, is out's trailing dimensions.
func repeats(out, in []int) bool {
	for len(in) > 0 && in[0] == 1 {
		in = in[1:]
	}
	if len(in) > len(out) {
		return false
	}
	return slices.Equal(in, out[len(out)-len(in):])
}

// tiled returns v repeated to a multiple of len(v) of at least a few
// hundred floats (at most n), in the step's scratch space.
func tiled(ctx *Ctx, v []float32, n int) []float32 {
	p := max(1, len(v))
	t := ctx.scratch(min(n, (512+p-1)/p*p))
	for o := 0; o < len(t); o += p {
		copy(t[o:], v)
	}
	return t
}

func add[T number](x, y T) T { return x + y }
func sub[T number](x, y T) T { return x - y }
func mul[T number](x, y T) T { return x * y }

func divInt[T ~int64 | ~uint64](x, y T) T {
	if y == 0 {
		panic(kernelError{fmt.Errorf("integer division by zero")})
	}
	return x / y
}

func init() {
	arithOp := func(op byte, f32 func(x, y float32) float32, f64 func(x, y float64) float64, i64 func(x, y int64) int64, u64 func(x, y uint64) uint64) Builder {
		return func(b *Build) (Kernel, error) {
			align := ewLegacyAlign(b)
			return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
				out, err := arith(ctx, op, in[0], align(in[1], in[0]), f32, f64, i64, u64)
				return []*Tensor{out}, err
			}, nil
		}
	}
	for _, v := range []int64{1, 7} {
		Register("", "Add", v, arithOp('+', add[float32], add[float64], add[int64], add[uint64]))
		Register("", "Sub", v, arithOp('-', sub[float32], sub[float64], sub[int64], sub[uint64]))
		Register("", "Mul", v, arithOp('*', mul[float32], mul[float64], mul[int64], mul[uint64]))
		Register("", "Div", v, arithOp('/', func(x, y float32) float32 { return x / y }, func(x, y float64) float64 { return x / y }, divInt[int64], divInt[uint64]))
	}
}
