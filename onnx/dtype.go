package onnx

import "fmt"

// DataType is an ONNX tensor element type (TensorProto.DataType).
type DataType int32

// The ONNX element types, numbered as in onnx.proto.
const (
	Undefined      DataType = 0
	Float          DataType = 1
	Uint8          DataType = 2
	Int8           DataType = 3
	Uint16         DataType = 4
	Int16          DataType = 5
	Int32          DataType = 6
	Int64          DataType = 7
	String         DataType = 8
	Bool           DataType = 9
	Float16        DataType = 10
	Double         DataType = 11
	Uint32         DataType = 12
	Uint64         DataType = 13
	Complex64      DataType = 14
	Complex128     DataType = 15
	BFloat16       DataType = 16
	Float8E4M3FN   DataType = 17
	Float8E4M3FNUZ DataType = 18
	Float8E5M2     DataType = 19
	Float8E5M2FNUZ DataType = 20
	Uint4          DataType = 21
	Int4           DataType = 22
	Float4E2M1     DataType = 23
	Float8E8M0     DataType = 24
	Uint2          DataType = 25
	Int2           DataType = 26
)

var dtypeNames = map[DataType]string{
	Undefined: "undefined", Float: "float32", Uint8: "uint8", Int8: "int8", Uint16: "uint16",
	Int16: "int16", Int32: "int32", Int64: "int64", String: "string", Bool: "bool",
	Float16: "float16", Double: "float64", Uint32: "uint32", Uint64: "uint64",
	Complex64: "complex64", Complex128: "complex128", BFloat16: "bfloat16",
	Float8E4M3FN: "float8e4m3fn", Float8E4M3FNUZ: "float8e4m3fnuz", Float8E5M2: "float8e5m2",
	Float8E5M2FNUZ: "float8e5m2fnuz", Uint4: "uint4", Int4: "int4", Float4E2M1: "float4e2m1",
	Float8E8M0: "float8e8m0", Uint2: "uint2", Int2: "int2",
}

// String returns the numpy-style name used in reports and JSON ("float32", "int64", …).
func (d DataType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// ParseDataType is the inverse of String; it also accepts ONNX's "float" and "double".
func ParseDataType(s string) (DataType, bool) {
	switch s {
	case "float":
		return Float, true
	case "double":
		return Double, true
	}
	for d, n := range dtypeNames {
		if n == s {
			return d, true
		}
	}
	return Undefined, false
}

// Known reports whether d is one of the element types this version of ONNX defines.
func (d DataType) Known() bool { _, ok := dtypeNames[d]; return ok && d != Undefined }

// BitSize is the number of bits one element occupies in raw_data (0 for string and undefined).
func (d DataType) BitSize() int {
	switch d {
	case Int2, Uint2:
		return 2
	case Int4, Uint4, Float4E2M1:
		return 4
	case Uint8, Int8, Bool, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float8E8M0:
		return 8
	case Uint16, Int16, Float16, BFloat16:
		return 16
	case Float, Int32, Uint32:
		return 32
	case Int64, Double, Uint64, Complex64:
		return 64
	case Complex128:
		return 128
	}
	return 0
}

// RawSize is the number of raw_data bytes that n elements of d occupy (sub-byte types packed).
func (d DataType) RawSize(n int64) int64 {
	b := int64(d.BitSize())
	return (n*b + 7) / 8
}

// IsFloat reports whether d is a floating-point type (any width, including float8/float4).
func (d DataType) IsFloat() bool {
	switch d {
	case Float, Double, Float16, BFloat16, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float4E2M1, Float8E8M0:
		return true
	}
	return false
}

// IsInteger reports whether d is a signed or unsigned integer type (any width).
func (d DataType) IsInteger() bool {
	switch d {
	case Uint8, Int8, Uint16, Int16, Int32, Int64, Uint32, Uint64, Uint4, Int4, Uint2, Int2:
		return true
	}
	return false
}
