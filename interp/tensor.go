// Package interp is onnxslim's reference interpreter: it executes an onnx.Model
// node by node with kernels registered per (domain, op type, since-version).
package interp

import (
	"fmt"
	"strings"

	"github.com/onnxslim/onnxslim/onnx"
)

// Kind says whether a runtime value is a tensor, a sequence, an optional or a map.
type Kind uint8

// The kinds of runtime values.
const (
	KindTensor Kind = iota
	KindSequence
	KindOptional
	KindMap
)

// Tensor is a runtime value. For tensors, Data holds the elements in row-major
// order as a typed slice chosen by DType:
//
//	Float []float32, Double []float64, Float16 and BFloat16 []uint16 (bit patterns),
//	Int64 []int64, Int32 []int32, Int16 []int16, Int8 []int8, Uint8 []uint8,
//	Uint16 []uint16, Uint32 []uint32, Uint64 []uint64, Bool []bool, String []string,
//	Complex64 []complex64, Complex128 []complex128, float8 and float4 types []uint8
//	(bit patterns, one element per byte), Int4 and Int2 []int8 and Uint4 and Uint2
//	[]uint8 (unpacked, one element per byte).
//
// Sequences (Kind == KindSequence) hold their elements in Elems; an optional
// holds zero or one element in Elems. A map (the ai.onnx.ml ops' map(K, V),
// see NewMap) holds two 1-D tensors of the same length in Elems: its keys
// (int64 or string) and its values, entry i mapping Elems[0][i] to
// Elems[1][i]; DType is the values' element type. Kernels never modify their inputs:
// tensors may alias model weights and be shared between runs.
type Tensor struct {
	Kind  Kind
	DType onnx.DataType // element type; for sequences and optionals, of the elements when known
	Shape []int
	Data  any
	Elems []*Tensor
}

// NewMap returns a map value of parallel 1-D key and value tensors (no copy).
// Keys are integers (int64 for the ai.onnx.ml ops) or strings.
func NewMap(keys, values *Tensor) *Tensor {
	return &Tensor{Kind: KindMap, DType: values.DType, Elems: []*Tensor{keys, values}}
}

// mapType is map(key type,value type).
func (t *Tensor) mapType() string {
	key := onnx.Undefined
	if len(t.Elems) > 0 && t.Elems[0] != nil {
		key = t.Elems[0].DType
	}
	return fmt.Sprintf("map(%s,%s)", key, t.DType)
}

// MapEntries returns a map value's keys and values, or an error when t is not
// a well-formed map.
func (t *Tensor) MapEntries() (keys, values *Tensor, err error) {
	if t == nil || t.Kind != KindMap {
		return nil, nil, fmt.Errorf("expected a map, got %s", t)
	}
	if len(t.Elems) != 2 || t.Elems[0] == nil || t.Elems[1] == nil {
		return nil, nil, fmt.Errorf("malformed map: %d parts, want keys and values", len(t.Elems)) // not t.String, which calls this
	}
	keys, values = t.Elems[0], t.Elems[1]
	if keys.Rank() != 1 || values.Rank() != 1 || keys.Len() != values.Len() {
		return nil, nil, fmt.Errorf("malformed map: keys %s, values %s", keys, values)
	}
	if !keys.DType.IsInteger() && keys.DType != onnx.String {
		return nil, nil, fmt.Errorf("map keys must be integers or strings, got %s", keys.DType)
	}
	return keys, values, nil
}

// Len is the number of elements implied by the shape.
func (t *Tensor) Len() int { return numElements(t.Shape) }

// Rank is len(Shape).
func (t *Tensor) Rank() int { return len(t.Shape) }

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// String describes the value for error messages: float32[1,3,224,224].
func (t *Tensor) String() string {
	if t == nil {
		return "<none>"
	}
	switch t.Kind {
	case KindSequence:
		if len(t.Elems) > 0 && t.Elems[0] != nil && t.Elems[0].Kind == KindMap {
			return fmt.Sprintf("seq(%d×%s)", len(t.Elems), t.Elems[0].mapType())
		}
		return fmt.Sprintf("seq(%d×%s)", len(t.Elems), t.DType)
	case KindOptional:
		if len(t.Elems) == 0 {
			return "optional(empty)"
		}
		return "optional(" + t.Elems[0].String() + ")"
	case KindMap:
		if k, _, err := t.MapEntries(); err == nil {
			return fmt.Sprintf("%s×%d", t.mapType(), k.Len())
		}
		return "map(malformed)"
	}
	parts := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		parts[i] = fmt.Sprint(d)
	}
	return t.DType.String() + "[" + strings.Join(parts, ",") + "]"
}

// makeData allocates a zeroed slice of n elements of the storage type for dt.
func makeData(dt onnx.DataType, n int) (any, error) {
	switch dt {
	case onnx.Float:
		return make([]float32, n), nil
	case onnx.Double:
		return make([]float64, n), nil
	case onnx.Float16, onnx.BFloat16, onnx.Uint16:
		return make([]uint16, n), nil
	case onnx.Int64:
		return make([]int64, n), nil
	case onnx.Int32:
		return make([]int32, n), nil
	case onnx.Int16:
		return make([]int16, n), nil
	case onnx.Int8, onnx.Int4, onnx.Int2:
		return make([]int8, n), nil
	case onnx.Uint8, onnx.Uint4, onnx.Uint2, onnx.Float8E4M3FN, onnx.Float8E4M3FNUZ,
		onnx.Float8E5M2, onnx.Float8E5M2FNUZ, onnx.Float8E8M0, onnx.Float4E2M1:
		return make([]uint8, n), nil
	case onnx.Uint32:
		return make([]uint32, n), nil
	case onnx.Uint64:
		return make([]uint64, n), nil
	case onnx.Bool:
		return make([]bool, n), nil
	case onnx.String:
		return make([]string, n), nil
	case onnx.Complex64:
		return make([]complex64, n), nil
	case onnx.Complex128:
		return make([]complex128, n), nil
	}
	return nil, fmt.Errorf("data type %s is not supported by the interpreter", dt)
}

// elemBytes is the in-memory size of one element of dt's storage type.
func elemBytes(dt onnx.DataType) int64 {
	switch dt {
	case onnx.String:
		return 16
	case onnx.Int4, onnx.Uint4, onnx.Int2, onnx.Uint2, onnx.Float4E2M1, onnx.Bool:
		return 1
	}
	b := int64(dt.BitSize() / 8)
	if b == 0 {
		b = 1
	}
	return b
}

// Make returns a new zeroed tensor without a memory limit check; kernels
// allocate through Ctx.New instead.
func Make(dt onnx.DataType, shape ...int) *Tensor {
	d, err := makeData(dt, numElements(shape))
	if err != nil {
		panic(err)
	}
	return &Tensor{DType: dt, Shape: append([]int{}, shape...), Data: d}
}

// FromSlice wraps a typed slice as a tensor of the given shape (no copy).
func FromSlice[T any](dt onnx.DataType, shape []int, data []T) *Tensor {
	return &Tensor{DType: dt, Shape: append([]int{}, shape...), Data: data}
}

// Scalar returns a rank-0 tensor.
func Scalar[T any](dt onnx.DataType, v T) *Tensor {
	return &Tensor{DType: dt, Shape: []int{}, Data: []T{v}}
}

// Data returns the tensor's elements as []T; it panics if T is not the storage type.
func Data[T any](t *Tensor) []T { return t.Data.([]T) }

// Floats returns a float32 tensor's elements (nil if it is not float32).
func (t *Tensor) Floats() []float32 { f, _ := t.Data.([]float32); return f }

// Reshaped returns a tensor sharing t's data with a new shape of the same size.
func (t *Tensor) Reshaped(shape []int) *Tensor {
	return &Tensor{DType: t.DType, Shape: shape, Data: t.Data}
}

// ElemString formats element i of a tensor, e.g. to match map keys.
func ElemString(t *Tensor, i int) string { return fmt.Sprint(sliceData(t.Data, i, i+1)) }

// GatherElems returns the 1-D tensor of t's elements at idx, in that order.
func GatherElems(t *Tensor, idx []int) (*Tensor, error) {
	d, err := makeData(t.DType, len(idx))
	if err != nil {
		return nil, err
	}
	for i, j := range idx {
		if j < 0 || j >= t.Len() {
			return nil, fmt.Errorf("index %d is out of range for %s", j, t)
		}
		copyElems(d, t.Data, i, j, 1)
	}
	return &Tensor{DType: t.DType, Shape: []int{len(idx)}, Data: d}, nil
}
