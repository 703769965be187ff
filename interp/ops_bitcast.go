package interp

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// BitCast reinterprets each element's bits as another type of the same width.
// Elements go through a uint64 holding their little-endian bit pattern.

// elemBits returns a function giving element i's bit pattern.
func elemBits(t *Tensor) (func(i int) uint64, error) {
	mask := uint64(1)<<uint(t.DType.BitSize()) - 1
	switch d := t.Data.(type) {
	case []float32:
		return func(i int) uint64 { return uint64(math.Float32bits(d[i])) }, nil
	case []float64:
		return func(i int) uint64 { return math.Float64bits(d[i]) }, nil
	case []complex64:
		return func(i int) uint64 {
			return uint64(math.Float32bits(real(d[i]))) | uint64(math.Float32bits(imag(d[i])))<<32
		}, nil
	case []int64:
		return func(i int) uint64 { return uint64(d[i]) }, nil
	case []int32:
		return func(i int) uint64 { return uint64(uint32(d[i])) }, nil
	case []int16:
		return func(i int) uint64 { return uint64(uint16(d[i])) }, nil
	case []int8:
		return func(i int) uint64 { return uint64(uint8(d[i])) & mask }, nil
	case []uint8:
		return func(i int) uint64 { return uint64(d[i]) & mask }, nil
	case []uint16:
		return func(i int) uint64 { return uint64(d[i]) }, nil
	case []uint32:
		return func(i int) uint64 { return uint64(d[i]) }, nil
	case []uint64:
		return func(i int) uint64 { return d[i] }, nil
	case []bool:
		return func(i int) uint64 {
			if d[i] {
				return 1
			}
			return 0
		}, nil
	}
	return nil, fmt.Errorf("type %s cannot be bitcast", t.DType)
}

// setElemBits stores bit patterns into out's elements.
func setElemBits(out *Tensor, bits func(i int) uint64) error {
	n := out.Len()
	w := uint(out.DType.BitSize())
	switch d := out.Data.(type) {
	case []float32:
		for i := range n {
			d[i] = math.Float32frombits(uint32(bits(i)))
		}
	case []float64:
		for i := range n {
			d[i] = math.Float64frombits(bits(i))
		}
	case []complex64:
		for i := range n {
			b := bits(i)
			d[i] = complex(math.Float32frombits(uint32(b)), math.Float32frombits(uint32(b>>32)))
		}
	case []int64:
		for i := range n {
			d[i] = int64(bits(i))
		}
	case []int32:
		for i := range n {
			d[i] = int32(uint32(bits(i)))
		}
	case []int16:
		for i := range n {
			d[i] = int16(uint16(bits(i)))
		}
	case []int8:
		// int8, int4, int2: sign-extend from the type's width.
		for i := range n {
			d[i] = int8(int64(bits(i)<<(64-w)) >> (64 - w))
		}
	case []uint8:
		for i := range n {
			d[i] = uint8(bits(i))
		}
	case []uint16:
		for i := range n {
			d[i] = uint16(bits(i))
		}
	case []uint32:
		for i := range n {
			d[i] = uint32(bits(i))
		}
	case []uint64:
		for i := range n {
			d[i] = bits(i)
		}
	case []bool:
		for i := range n {
			d[i] = bits(i) != 0
		}
	default:
		return fmt.Errorf("cannot bitcast to %s", out.DType)
	}
	return nil
}

func bitCastBuilder(b *Build) (Kernel, error) {
	to := onnx.DataType(b.Int("to", 0))
	if to == onnx.Undefined || to == onnx.String {
		return nil, fmt.Errorf("bad target type %s", to)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if x.DType == onnx.String || x.DType.BitSize() != to.BitSize() {
			return nil, fmt.Errorf("cannot bitcast %s to %s: the bit widths differ", x.DType, to)
		}
		out := ctx.New(to, x.Shape...)
		if to == onnx.Complex128 {
			copy(out.Data.([]complex128), x.Data.([]complex128))
			return []*Tensor{out}, nil
		}
		bits, err := elemBits(x)
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, setElemBits(out, bits)
	}, nil
}

func init() {
	Register("", "BitCast", 26, needInputs(1, bitCastBuilder))
}
