package interp

import (
	"fmt"

	"github.com/onnxslim/onnxslim/onnx"
)

// number is every storage type that supports arithmetic.
type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// arith dispatches a binary arithmetic op over the storage type of a and b.
// float16 and bfloat16 are computed in float32 and rounded back.
func arith(ctx *Ctx, a, b *Tensor, f32 func(x, y float32) float32, f64 func(x, y float64) float64, i64 func(x, y int64) int64, u64 func(x, y uint64) uint64) (*Tensor, error) {
	if a.DType != b.DType {
		return nil, fmt.Errorf("input types %s and %s differ", a.DType, b.DType)
	}
	dt := a.DType
	switch dt {
	case onnx.Float:
		return Binary(ctx, dt, a, b, f32)
	case onnx.Double:
		return Binary(ctx, dt, a, b, f64)
	case onnx.Float16, onnx.BFloat16:
		x, err := AsFloat32(a)
		if err != nil {
			return nil, err
		}
		y, err := AsFloat32(b)
		if err != nil {
			return nil, err
		}
		r, err := Binary(ctx, onnx.Float, FromSlice(onnx.Float, a.Shape, x), FromSlice(onnx.Float, b.Shape, y), f32)
		if err != nil {
			return nil, err
		}
		return FromFloat32(dt, r.Shape, r.Floats())
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
	arithOp := func(f32 func(x, y float32) float32, f64 func(x, y float64) float64, i64 func(x, y int64) int64, u64 func(x, y uint64) uint64) Builder {
		return func(b *Build) (Kernel, error) {
			return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
				out, err := arith(ctx, in[0], in[1], f32, f64, i64, u64)
				return []*Tensor{out}, err
			}, nil
		}
	}
	for _, v := range []int64{1, 7} {
		Register("", "Add", v, arithOp(add[float32], add[float64], add[int64], add[uint64]))
		Register("", "Sub", v, arithOp(sub[float32], sub[float64], sub[int64], sub[uint64]))
		Register("", "Mul", v, arithOp(mul[float32], mul[float64], mul[int64], mul[uint64]))
		Register("", "Div", v, arithOp(func(x, y float32) float32 { return x / y }, func(x, y float64) float64 { return x / y }, divInt[int64], divInt[uint64]))
	}
}
