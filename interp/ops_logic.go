package interp

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"unsafe"

	"github.com/onnxslim/onnxslim/onnx"
)

// Logic: comparisons, boolean and bitwise ops, BitShift and Where.

type ewCmpKind int

const (
	ewEq ewCmpKind = iota
	ewLt
	ewGt
	ewLe
	ewGe
)

// ewCompareT compares with IEEE semantics (any comparison with NaN is false).
func ewCompareT[T cmp.Ordered](ctx *Ctx, a, b *Tensor, k ewCmpKind) (*Tensor, error) {
	if out := compareFlat[T](ctx, a, b, k); out != nil {
		return out, nil
	}
	var f func(x, y T) bool
	switch k {
	case ewEq:
		f = func(x, y T) bool { return x == y }
	case ewLt:
		f = func(x, y T) bool { return x < y }
	case ewGt:
		f = func(x, y T) bool { return x > y }
	case ewLe:
		f = func(x, y T) bool { return x <= y }
	default:
		f = func(x, y T) bool { return x >= y }
	}
	return Binary(ctx, onnx.Bool, a, b, f)
}

// compareFlat is ewCompareT of two tensors of one shape, or of a tensor
// and a single value, as a loop per comparison (a function value per
// element cost 2 ns of the 2.3 an element took); nil otherwise.
func compareFlat[T cmp.Ordered](ctx *Ctx, a, b *Tensor, k ewCmpKind) *Tensor {
	x, y := a.Data.([]T), b.Data.([]T)
	shape, err := BroadcastShape(a.Shape, b.Shape)
	if err != nil || numElements(shape) != len(x) || (len(y) != 1 && len(y) != len(x)) || !slices.Equal(a.Shape, shape) {
		return nil
	}
	out := ctx.newRaw(onnx.Bool, shape...) // every element is written
	z := out.Data.([]bool)
	if len(y) == 1 && len(x) != 1 {
		c := y[0]
		switch k {
		case ewEq:
			for i, v := range x {
				z[i] = v == c
			}
		case ewLt:
			for i, v := range x {
				z[i] = v < c
			}
		case ewGt:
			for i, v := range x {
				z[i] = v > c
			}
		case ewLe:
			for i, v := range x {
				z[i] = v <= c
			}
		default:
			for i, v := range x {
				z[i] = v >= c
			}
		}
		return out
	}
	y = y[:len(x)]
	switch k {
	case ewEq:
		for i, v := range x {
			z[i] = v == y[i]
		}
	case ewLt:
		for i, v := range x {
			z[i] = v < y[i]
		}
	case ewGt:
		for i, v := range x {
			z[i] = v > y[i]
		}
	case ewLe:
		for i, v := range x {
			z[i] = v <= y[i]
		}
	default:
		for i, v := range x {
			z[i] = v >= y[i]
		}
	}
	return out
}

func ewCompare(ctx *Ctx, a, b *Tensor, k ewCmpKind) (*Tensor, error) {
	if a.DType != b.DType {
		return nil, fmt.Errorf("input types %s and %s differ", a.DType, b.DType)
	}
	switch a.Data.(type) {
	case []float32:
		return ewCompareT[float32](ctx, a, b, k)
	case []float64:
		return ewCompareT[float64](ctx, a, b, k)
	case []int64:
		return ewCompareT[int64](ctx, a, b, k)
	case []int32:
		return ewCompareT[int32](ctx, a, b, k)
	case []int16:
		return ewCompareT[int16](ctx, a, b, k)
	case []int8:
		return ewCompareT[int8](ctx, a, b, k)
	case []uint64:
		return ewCompareT[uint64](ctx, a, b, k)
	case []uint32:
		return ewCompareT[uint32](ctx, a, b, k)
	case []uint16:
		if a.DType == onnx.Float16 || a.DType == onnx.BFloat16 {
			x, err := ewFloat32s(a)
			if err != nil {
				return nil, err
			}
			y, err := ewFloat32s(b)
			if err != nil {
				return nil, err
			}
			return ewCompareT[float32](ctx, x, y, k)
		}
		return ewCompareT[uint16](ctx, a, b, k)
	case []uint8:
		if IsFloat8(a.DType) {
			break
		}
		return ewCompareT[uint8](ctx, a, b, k)
	case []string:
		return ewCompareT[string](ctx, a, b, k)
	case []bool:
		if k == ewEq {
			return Binary(ctx, onnx.Bool, a, b, func(x, y bool) bool { return x == y })
		}
	}
	return nil, fmt.Errorf("type %s is not supported", a.DType)
}

// ewLegacyAlign handles the broadcast and axis attributes of binary ops
// before opset 7: with broadcast=1 the second input's shape matches the first
// one's from axis on, which numpy broadcasting expresses as trailing ones.
func ewLegacyAlign(b *Build) func(y *Tensor, x *Tensor) *Tensor {
	if b.Opset >= 7 || b.Int("broadcast", 0) == 0 || !b.Has("axis") {
		return func(y, _ *Tensor) *Tensor { return y }
	}
	axis := int(b.Int("axis", 0))
	return func(y, x *Tensor) *Tensor {
		ax := axis
		if ax < 0 {
			ax += x.Rank()
		}
		trailing := x.Rank() - ax - y.Rank()
		if ax < 0 || trailing <= 0 {
			return y // already aligned, or invalid: broadcasting reports it
		}
		shape := append([]int{}, y.Shape...)
		for ; trailing > 0; trailing-- {
			shape = append(shape, 1)
		}
		return y.Reshaped(shape)
	}
}

func ewCompareBuilder(k ewCmpKind) Builder {
	return func(b *Build) (Kernel, error) {
		align := ewLegacyAlign(b)
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			out, err := ewCompare(ctx, in[0], align(in[1], in[0]), k)
			return []*Tensor{out}, err
		}, nil
	}
}

func ewBoolBuilder(f func(x, y bool) bool) Builder {
	return func(b *Build) (Kernel, error) {
		align := ewLegacyAlign(b)
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			if in[0].DType != onnx.Bool || in[1].DType != onnx.Bool {
				return nil, fmt.Errorf("inputs must be bool, got %s and %s", in[0].DType, in[1].DType)
			}
			out, err := Binary(ctx, onnx.Bool, in[0], align(in[1], in[0]), f)
			return []*Tensor{out}, err
		}, nil
	}
}

func ewNotKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if in[0].DType != onnx.Bool {
		return nil, fmt.Errorf("input must be bool, got %s", in[0].DType)
	}
	out := ctx.newRaw(onnx.Bool, in[0].Shape...)
	z := asBits[uint8](out.Data)
	for i, v := range asBits[uint8](in[0].Data) { // a Go bool is the byte 0 or 1
		z[i] = v ^ 1
	}
	return []*Tensor{out}, nil
}

func ewBitwiseBuilder(i func(x, y int64) int64, u func(x, y uint64) uint64) Builder {
	return func(b *Build) (Kernel, error) {
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			out, err := ewBinaryNum(ctx, in[0], in[1], ewBinary{i: i, u: u})
			return []*Tensor{out}, err
		}, nil
	}
}

func buildBitShift(b *Build) (Kernel, error) {
	var f func(x, y uint64) uint64
	switch d := b.String("direction", ""); d {
	case "LEFT":
		f = func(x, y uint64) uint64 { return x << y }
	case "RIGHT":
		f = func(x, y uint64) uint64 { return x >> y }
	default:
		return nil, fmt.Errorf("direction %q is not LEFT or RIGHT", d)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		out, err := ewBinaryNum(ctx, in[0], in[1], ewBinary{u: f})
		return []*Tensor{out}, err
	}, nil
}

// whereT selects x where c is true, else y, broadcasting all three: the
// general form, for strings and complex numbers (whereBits for the rest).
func whereT[T any](ctx *Ctx, c, x, y *Tensor, shape []int) (*Tensor, error) {
	cd := c.Data.([]bool)
	xd, ok1 := x.Data.([]T)
	yd, ok2 := y.Data.([]T)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("input types %s and %s differ", x.DType, y.DType)
	}
	out := ctx.New(x.DType, shape...)
	z := out.Data.([]T)
	st := [][]int{broadcastStrides(c.Shape, shape), broadcastStrides(x.Shape, shape), broadcastStrides(y.Shape, shape)}
	forEachRow(shape, st, func(o int, offs []int, n int, steps []int) {
		for k := range z[o : o+n] {
			if cd[offs[0]+k*steps[0]] {
				z[o+k] = xd[offs[1]+k*steps[1]]
			} else {
				z[o+k] = yd[offs[2]+k*steps[2]]
			}
		}
	})
	return out, nil
}

// whereBits is whereT for types of U's size, selecting their bits
// without a branch: random masks (attention, thresholds) make a branch a
// coin flip.
func whereBits[U uint8 | uint16 | uint32 | uint64](ctx *Ctx, c, x, y *Tensor, shape []int) (*Tensor, error) {
	cd := asBits[uint8](c.Data) // whereKernel checked x's and y's types match
	xd, yd := asBits[U](x.Data), asBits[U](y.Data)
	out := ctx.newRaw(x.DType, shape...) // every element is written
	z := asBits[U](out.Data)
	st := [][]int{broadcastStrides(c.Shape, shape), broadcastStrides(x.Shape, shape), broadcastStrides(y.Shape, shape)}
	forEachRow(shape, st, func(o int, offs []int, n int, steps []int) {
		ic, ix, iy := offs[0], offs[1], offs[2]
		zr := z[o : o+n]
		switch {
		case steps[0] == 1 && steps[1] == 1 && steps[2] == 0: // a mask over a fill value
			cr, xr, yv := cd[ic:ic+n], xd[ix:ix+n], yd[iy]
			for k := range zr {
				m := -U(cr[k])
				zr[k] = xr[k]&m | yv&^m
			}
		case steps[0] == 1 && steps[1] == 0 && steps[2] == 1:
			cr, xv, yr := cd[ic:ic+n], xd[ix], yd[iy:iy+n]
			for k := range zr {
				m := -U(cr[k])
				zr[k] = xv&m | yr[k]&^m
			}
		case steps[0] == 1 && steps[1] == 1 && steps[2] == 1:
			cr, xr, yr := cd[ic:ic+n], xd[ix:ix+n], yd[iy:iy+n]
			for k := range zr {
				m := -U(cr[k])
				zr[k] = xr[k]&m | yr[k]&^m
			}
		default:
			for k := range zr {
				m := -U(cd[ic+k*steps[0]])
				zr[k] = xd[ix+k*steps[1]]&m | yd[iy+k*steps[2]]&^m
			}
		}
	})
	return out, nil
}

// asBits views a tensor's numeric or bool data as unsigned words of the
// same size (a Go bool is one byte, 0 or 1).
func asBits[U uint8 | uint16 | uint32 | uint64](data any) []U {
	v := reflect.ValueOf(data)
	if v.Kind() != reflect.Slice || v.Type().Elem().Size() != unsafe.Sizeof(U(0)) {
		panic(fmt.Sprintf("asBits: %T is not a slice of %d-byte words", data, unsafe.Sizeof(U(0))))
	}
	if v.Len() == 0 {
		return nil
	}
	return unsafe.Slice((*U)(v.UnsafePointer()), v.Len())
}

func whereKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	c, x, y := in[0], in[1], in[2]
	if c.DType != onnx.Bool {
		return nil, fmt.Errorf("Where condition must be bool, got %s", c.DType)
	}
	if x.DType != y.DType {
		return nil, fmt.Errorf("Where inputs have types %s and %s", x.DType, y.DType)
	}
	shape, err := BroadcastShape(c.Shape, x.Shape, y.Shape)
	if err != nil {
		return nil, err
	}
	var out *Tensor
	switch x.Data.(type) {
	case []float32, []int32, []uint32:
		out, err = whereBits[uint32](ctx, c, x, y, shape)
	case []float64, []int64, []uint64:
		out, err = whereBits[uint64](ctx, c, x, y, shape)
	case []int16, []uint16:
		out, err = whereBits[uint16](ctx, c, x, y, shape)
	case []int8, []uint8, []bool:
		out, err = whereBits[uint8](ctx, c, x, y, shape)
	case []string:
		out, err = whereT[string](ctx, c, x, y, shape)
	case []complex64:
		out, err = whereT[complex64](ctx, c, x, y, shape)
	case []complex128:
		out, err = whereT[complex128](ctx, c, x, y, shape)
	default:
		return nil, fmt.Errorf("type %s is not supported", x.DType)
	}
	return []*Tensor{out}, err
}

func init() {
	ewRegister("Equal", 2, ewCompareBuilder(ewEq), 1, 7, 11, 13, 19)
	ewRegister("Less", 2, ewCompareBuilder(ewLt), 1, 7, 9, 13)
	ewRegister("Greater", 2, ewCompareBuilder(ewGt), 1, 7, 9, 13)
	ewRegister("LessOrEqual", 2, ewCompareBuilder(ewLe), 12, 16)
	ewRegister("GreaterOrEqual", 2, ewCompareBuilder(ewGe), 12, 16)
	ewRegister("And", 2, ewBoolBuilder(func(x, y bool) bool { return x && y }), 1, 7)
	ewRegister("Or", 2, ewBoolBuilder(func(x, y bool) bool { return x || y }), 1, 7)
	ewRegister("Xor", 2, ewBoolBuilder(func(x, y bool) bool { return x != y }), 1, 7)
	ewRegister("Not", 1, func(*Build) (Kernel, error) { return ewNotKernel, nil }, 1)
	ewRegister("BitwiseAnd", 2, ewBitwiseBuilder(func(x, y int64) int64 { return x & y }, func(x, y uint64) uint64 { return x & y }), 18)
	ewRegister("BitwiseOr", 2, ewBitwiseBuilder(func(x, y int64) int64 { return x | y }, func(x, y uint64) uint64 { return x | y }), 18)
	ewRegister("BitwiseXor", 2, ewBitwiseBuilder(func(x, y int64) int64 { return x ^ y }, func(x, y uint64) uint64 { return x ^ y }), 18)
	ewRegister("BitwiseNot", 1, func(*Build) (Kernel, error) {
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			out, err := ewMapNum(ctx, in[0], ewUnary{i: func(v int64) int64 { return ^v }, u: func(v uint64) uint64 { return ^v }})
			return []*Tensor{out}, err
		}, nil
	}, 18)
	ewRegister("BitShift", 2, buildBitShift, 11)
	ewRegister("Where", 3, func(*Build) (Kernel, error) { return whereKernel, nil }, 9, 16)
}
