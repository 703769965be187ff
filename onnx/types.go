package onnx

import (
	"fmt"
	"strconv"
	"strings"
)

// TypeKind says which of TypeProto's alternatives a Type is.
type TypeKind int

// The kinds of ONNX value types.
const (
	TypeNone TypeKind = iota // TypeProto with no alternative set
	TypeTensor
	TypeSparseTensor
	TypeSequence
	TypeMap
	TypeOptional
	TypeOpaque
)

// Type is an ONNX value type: a tensor (element type and optional shape),
// a sequence, map or optional of another type, a sparse tensor, or opaque.
type Type struct {
	Kind       TypeKind
	Elem       DataType // tensor and sparse tensor element type; map key type
	Shape      Shape    // tensor and sparse tensor; nil means the rank is unknown
	Inner      *Type    // sequence and optional element type, map value type
	Denotation string
	Domain     string // opaque
	Name       string // opaque

	hasShape bool // a shape message was present (distinguishes rank-0 from unknown)
	hasInner bool
	unknown  []byte
}

// TensorType returns the type of a tensor with the given element type and shape.
func TensorType(elem DataType, shape Shape) *Type {
	return &Type{Kind: TypeTensor, Elem: elem, Shape: shape, hasShape: shape != nil}
}

// HasShape reports whether the shape (possibly of rank 0) is known.
func (t *Type) HasShape() bool { return t != nil && (t.hasShape || t.Shape != nil) }

// SetShape sets the tensor shape; nil makes the rank unknown.
func (t *Type) SetShape(s Shape) { t.Shape = s; t.hasShape = s != nil }

// Clone returns a deep copy.
func (t *Type) Clone() *Type {
	if t == nil {
		return nil
	}
	c := *t
	if t.Shape != nil {
		c.Shape = append(Shape{}, t.Shape...)
	}
	c.Inner = t.Inner.Clone()
	return &c
}

// String renders the type as in reports: float32[N,3,224,224], seq(int64[?]).
func (t *Type) String() string {
	if t == nil {
		return "?"
	}
	switch t.Kind {
	case TypeTensor, TypeSparseTensor:
		s := t.Elem.String()
		if t.HasShape() {
			s += t.Shape.String()
		}
		if t.Kind == TypeSparseTensor {
			s = "sparse(" + s + ")"
		}
		return s
	case TypeSequence:
		return "seq(" + t.Inner.String() + ")"
	case TypeOptional:
		return "opt(" + t.Inner.String() + ")"
	case TypeMap:
		return "map(" + t.Elem.String() + "," + t.Inner.String() + ")"
	case TypeOpaque:
		return "opaque(" + t.Domain + "." + t.Name + ")"
	}
	return "?"
}

// DimKind says whether a dimension is a number, a symbol, or unknown.
type DimKind int8

// The kinds of a dimension.
const (
	DimUnknown DimKind = iota
	DimValue
	DimParam
)

// Dim is one dimension of a shape: a number, a symbolic name such as "N", or unknown.
type Dim struct {
	Kind       DimKind
	Value      int64
	Param      string
	Denotation string
}

// D returns a numeric dimension.
func D(v int64) Dim { return Dim{Kind: DimValue, Value: v} }

// Sym returns a symbolic dimension.
func Sym(name string) Dim { return Dim{Kind: DimParam, Param: name} }

// IsStatic reports whether the dimension is a known number.
func (d Dim) IsStatic() bool { return d.Kind == DimValue }

func (d Dim) String() string {
	switch d.Kind {
	case DimValue:
		return strconv.FormatInt(d.Value, 10)
	case DimParam:
		return d.Param
	}
	return "?"
}

// Shape is a list of dimensions.
type Shape []Dim

// ShapeOf returns a static shape from numbers.
func ShapeOf(dims ...int64) Shape {
	s := make(Shape, len(dims))
	for i, v := range dims {
		s[i] = D(v)
	}
	return s
}

// Static returns the dimensions as numbers, and false if any is not a known number.
func (s Shape) Static() ([]int64, bool) {
	out := make([]int64, len(s))
	for i, d := range s {
		if !d.IsStatic() {
			return nil, false
		}
		out[i] = d.Value
	}
	return out, true
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Equal reports whether two types are the same, including shapes and symbolic names.
func (t *Type) Equal(u *Type) bool {
	if t == nil || u == nil {
		return t == u
	}
	if t.Kind != u.Kind || t.Elem != u.Elem || t.Denotation != u.Denotation || t.Domain != u.Domain ||
		t.Name != u.Name || t.HasShape() != u.HasShape() || len(t.Shape) != len(u.Shape) {
		return false
	}
	for i := range t.Shape {
		if t.Shape[i] != u.Shape[i] {
			return false
		}
	}
	return t.Inner.Equal(u.Inner)
}

// StringPair is one entry of ONNX's string-to-string lists (metadata_props, external_data).
type StringPair struct{ Key, Value string }

// OpsetID is one opset import: a domain ("" is ai.onnx) and its version.
type OpsetID struct {
	Domain  string
	Version int64
}

func (o OpsetID) String() string {
	d := o.Domain
	if d == "" {
		d = "ai.onnx"
	}
	return fmt.Sprintf("%s v%d", d, o.Version)
}

// MergeTypes returns primary with what it leaves unknown filled in from
// secondary: the element type, the shape, single unknown dimensions, inner
// types. Where both know something and disagree, primary wins. Neither
// argument is changed; an unknown never replaces a known.
func MergeTypes(primary, secondary *Type) *Type {
	if primary == nil || primary.Kind == TypeNone {
		if secondary == nil || secondary.Kind == TypeNone {
			return primary.Clone()
		}
		return secondary.Clone()
	}
	out := primary.Clone()
	if secondary == nil || secondary.Kind != primary.Kind {
		return out
	}
	switch primary.Kind {
	case TypeSequence, TypeOptional, TypeMap:
		out.Inner = MergeTypes(primary.Inner, secondary.Inner)
		if out.Kind == TypeMap && out.Elem == Undefined {
			out.Elem = secondary.Elem
		}
		return out
	case TypeTensor, TypeSparseTensor:
	default:
		return out
	}
	if out.Elem == Undefined {
		out.Elem = secondary.Elem
	} else if secondary.Elem != Undefined && secondary.Elem != out.Elem {
		return out // different values: nothing of secondary's shape applies
	}
	switch {
	case !secondary.HasShape():
	case !out.HasShape():
		out.SetShape(append(Shape{}, secondary.Shape...))
	case len(out.Shape) == len(secondary.Shape):
		for i, d := range out.Shape {
			if d.Kind == DimUnknown && secondary.Shape[i].Kind != DimUnknown {
				out.Shape[i] = secondary.Shape[i]
			}
		}
	}
	return out
}
