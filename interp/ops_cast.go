package interp

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// CastOptions are the attributes of Cast that affect float8 targets.
type CastOptions struct {
	Saturate  bool // clamp out-of-range values to ±max (Cast-19+ saturate)
	E8M0Round int  // rounding for float8e8m0 targets: e8m0Up, e8m0Down or e8m0Nearest
}

// DefaultCastOptions are Cast's attribute defaults.
var DefaultCastOptions = CastOptions{Saturate: true, E8M0Round: e8m0Up}

// castSource is an input decoded to one of four exact representations:
// every float type widens exactly to float64, signed integers and bool to
// int64, unsigned integers to uint64.
type castSource struct {
	f []float64
	i []int64
	u []uint64
	s []string
}

func castWiden[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64, R int64 | uint64 | float64](d []T) []R {
	out := make([]R, len(d))
	for i, v := range d {
		out[i] = R(v)
	}
	return out
}

func decodeCastSource(t *Tensor) (castSource, error) {
	switch d := t.Data.(type) {
	case []float32:
		return castSource{f: castWiden[float32, float64](d)}, nil
	case []float64:
		return castSource{f: d}, nil
	case []int64:
		return castSource{i: d}, nil
	case []int32:
		return castSource{i: castWiden[int32, int64](d)}, nil
	case []int16:
		return castSource{i: castWiden[int16, int64](d)}, nil
	case []int8: // int8, int4, int2
		return castSource{i: castWiden[int8, int64](d)}, nil
	case []uint64:
		return castSource{u: d}, nil
	case []uint32:
		return castSource{u: castWiden[uint32, uint64](d)}, nil
	case []uint16:
		switch t.DType {
		case onnx.Float16, onnx.BFloat16:
			f, err := AsFloat32(t)
			if err != nil {
				return castSource{}, err
			}
			return castSource{f: castWiden[float32, float64](f)}, nil
		}
		return castSource{u: castWiden[uint16, uint64](d)}, nil
	case []uint8:
		if IsFloat8(t.DType) {
			f := make([]float64, len(d))
			for i, b := range d {
				f[i] = Float8ToFloat64(t.DType, b)
			}
			return castSource{f: f}, nil
		}
		return castSource{u: castWiden[uint8, uint64](d)}, nil
	case []bool:
		out := make([]int64, len(d))
		for i, b := range d {
			if b {
				out[i] = 1
			}
		}
		return castSource{i: out}, nil
	case []string:
		return castSource{s: d}, nil
	}
	return castSource{}, fmt.Errorf("cannot cast from %s", t.DType)
}

// castFloatToInt64 truncates toward zero; NaN and out-of-range values give
// math.MinInt64, as the x86 conversion numpy relies on does.
func castFloatToInt64(f float64) int64 {
	if !(f > -9223372036854775808.0-1025 && f < 9223372036854775808.0) {
		return math.MinInt64
	}
	return int64(f)
}

func castFloatToUint64(f float64) uint64 {
	if f >= 9223372036854775808.0 && f < 18446744073709551616.0 {
		return uint64(f)
	}
	return uint64(castFloatToInt64(f))
}

// castTarget writes converted values into an output of one type.
type castTarget struct {
	fromFloat  func(i int, v float64)
	fromInt    func(i int, v int64)
	fromUint   func(i int, v uint64)
	fromString func(i int, v string) error // nil: parse as a number first
}

// castIntTarget writes integers of storage T, wrapping modulo 2^bits (bits < 8
// for int4/int2 and uint4/uint2).
func castIntTarget[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64](out []T, bits uint, signed bool) castTarget {
	put := func(i int, v uint64) {
		if bits < 8 {
			if signed {
				v = uint64(int64(v<<(64-bits)) >> (64 - bits))
			} else {
				v &= 1<<bits - 1
			}
		}
		out[i] = T(v)
	}
	return castTarget{
		fromFloat: func(i int, v float64) {
			if signed {
				put(i, uint64(castFloatToInt64(v)))
			} else {
				put(i, castFloatToUint64(v))
			}
		},
		fromInt:  func(i int, v int64) { put(i, uint64(v)) },
		fromUint: put,
	}
}

// castFloatTarget writes floats through enc, which rounds a float64 once.
func castFloatTarget[T any](out []T, enc func(float64) T) castTarget {
	return castTarget{
		fromFloat: func(i int, v float64) { out[i] = enc(v) },
		fromInt:   func(i int, v int64) { out[i] = enc(float64(v)) },
		fromUint:  func(i int, v uint64) { out[i] = enc(float64(v)) },
	}
}

func newCastTarget(out *Tensor, src onnx.DataType, opt CastOptions) (castTarget, error) {
	switch d := out.Data.(type) {
	case []float32:
		t := castFloatTarget(d, func(v float64) float32 { return float32(v) })
		// int64 → float32 must round once, not through float64.
		t.fromInt = func(i int, v int64) { d[i] = float32(v) }
		t.fromUint = func(i int, v uint64) { d[i] = float32(v) }
		return t, nil
	case []float64:
		return castFloatTarget(d, func(v float64) float64 { return v }), nil
	case []int64:
		return castIntTarget(d, 64, true), nil
	case []int32:
		return castIntTarget(d, 32, true), nil
	case []int16:
		return castIntTarget(d, 16, true), nil
	case []int8:
		return castIntTarget(d, uint(out.DType.BitSize()), true), nil
	case []uint64:
		return castIntTarget(d, 64, false), nil
	case []uint32:
		return castIntTarget(d, 32, false), nil
	case []uint16:
		switch out.DType {
		case onnx.Float16:
			return castFloatTarget(d, Float64ToFloat16), nil
		case onnx.BFloat16:
			// ml_dtypes rounds wider types to float32 first.
			return castFloatTarget(d, func(v float64) uint16 { return Float32ToBFloat16(float32(v)) }), nil
		}
		return castIntTarget(d, 16, false), nil
	case []uint8:
		switch {
		case out.DType == onnx.Float8E8M0:
			return castFloatTarget(d, func(v float64) uint8 { return float32ToE8M0(float32(v), opt.Saturate, opt.E8M0Round) }), nil
		case IsFloat8(out.DType):
			m, _ := miniFloatFormat(out.DType)
			return castFloatTarget(d, func(v float64) uint8 { return uint8(m.encode(v, opt.Saturate)) }), nil
		}
		return castIntTarget(d, uint(out.DType.BitSize()), false), nil
	case []bool:
		return castTarget{
			fromFloat: func(i int, v float64) { d[i] = v != 0 },
			fromInt:   func(i int, v int64) { d[i] = v != 0 },
			fromUint:  func(i int, v uint64) { d[i] = v != 0 },
			fromString: func(i int, v string) error {
				switch strings.ToLower(strings.TrimSpace(v)) {
				case "true":
					d[i] = true
					return nil
				case "false":
					d[i] = false
					return nil
				}
				return errCastNotBool
			},
		}, nil
	case []string:
		return castStringTarget(d, src), nil
	}
	return castTarget{}, fmt.Errorf("cannot cast to %s", out.DType)
}

var errCastNotBool = fmt.Errorf("not a boolean literal")

// castStringTarget formats numbers the way numpy's astype(str) does: the
// shortest representation that reads back as the same value of the source
// type, positional between 1e-4 and 1e16, scientific outside.
func castStringTarget(out []string, src onnx.DataType) castTarget {
	return castTarget{
		fromFloat: func(i int, v float64) { out[i] = castFormatFloat(v, src) },
		fromInt: func(i int, v int64) {
			switch {
			case src != onnx.Bool:
				out[i] = strconv.FormatInt(v, 10)
			case v != 0:
				out[i] = "True"
			default:
				out[i] = "False"
			}
		},
		fromUint:   func(i int, v uint64) { out[i] = strconv.FormatUint(v, 10) },
		fromString: func(i int, v string) error { out[i] = v; return nil },
	}
}

// castFormatFloat formats v, a value of source type dt, like numpy's str().
func castFormatFloat(v float64, dt onnx.DataType) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	case v == 0:
		if math.Signbit(v) {
			return "-0.0"
		}
		return "0.0"
	}
	// Shortest digit count that round-trips through dt.
	digits := -1
	bits := 64
	switch dt {
	case onnx.Float:
		bits = 32
	case onnx.Double:
	default:
		same := func(s string) bool {
			w, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return false
			}
			if dt == onnx.Float16 {
				return Float64ToFloat16(w) == Float64ToFloat16(v)
			}
			if dt == onnx.BFloat16 {
				return Float32ToBFloat16(float32(w)) == Float32ToBFloat16(float32(v))
			}
			if IsFloat8(dt) {
				return Float64ToFloat8(dt, w, true) == Float64ToFloat8(dt, v, true)
			}
			return w == v
		}
		for p := 1; p <= 17; p++ {
			if same(strconv.FormatFloat(v, 'e', p-1, 64)) {
				digits = p
				break
			}
		}
	}
	a := math.Abs(v)
	if a >= 1e16 || a < 1e-4 {
		if digits > 0 {
			return strconv.FormatFloat(v, 'e', digits-1, 64)
		}
		return strconv.FormatFloat(v, 'e', -1, bits)
	}
	var s string
	if digits > 0 {
		// Round to the digit count, then print positionally.
		r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'e', digits-1, 64), 64)
		s = strconv.FormatFloat(r, 'f', -1, 64)
	} else {
		s = strconv.FormatFloat(v, 'f', -1, bits)
	}
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// castParseNumber reads a string as ONNX Cast does: integers exactly, otherwise
// plain or scientific floats, with INF/+INF/-INF/NaN in any case.
func castParseNumber(s string, bits int) (castSource, error) {
	s = strings.TrimSpace(s)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return castSource{i: []int64{i}}, nil
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return castSource{u: []uint64{u}}, nil
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return castSource{f: []float64{f}}, nil // ±Inf or 0
		}
		return castSource{}, fmt.Errorf("cannot cast string %q to a number", s)
	}
	return castSource{f: []float64{f}}, nil
}

// CastTensor converts t to type to with Cast's semantics.
func CastTensor(ctx *Ctx, t *Tensor, to onnx.DataType, opt CastOptions) (*Tensor, error) {
	if t.Kind != KindTensor {
		return nil, fmt.Errorf("Cast takes a tensor, got %s", t)
	}
	if to == t.DType {
		return t, nil // kernels never modify inputs, so the data can be shared
	}
	if t.DType == onnx.Complex64 || t.DType == onnx.Complex128 || to == onnx.Complex64 || to == onnx.Complex128 {
		return nil, fmt.Errorf("Cast between %s and %s is not supported", t.DType, to)
	}
	out := ctx.New(to, t.Shape...)
	if castFast(t, out) {
		return out, nil
	}
	src, err := decodeCastSource(t)
	if err != nil {
		return nil, err
	}
	dst, err := newCastTarget(out, t.DType, opt)
	if err != nil {
		return nil, err
	}
	switch {
	case src.f != nil:
		for i, v := range src.f {
			dst.fromFloat(i, v)
		}
	case src.i != nil:
		for i, v := range src.i {
			dst.fromInt(i, v)
		}
	case src.u != nil:
		for i, v := range src.u {
			dst.fromUint(i, v)
		}
	case src.s != nil:
		bits := 64
		if to == onnx.Float {
			bits = 32
		}
		for i, s := range src.s {
			if dst.fromString != nil && dst.fromString(i, s) == nil {
				continue
			}
			v, err := castParseNumber(s, bits)
			if err != nil {
				return nil, err
			}
			switch {
			case v.i != nil:
				dst.fromInt(i, v.i[0])
			case v.u != nil:
				dst.fromUint(i, v.u[0])
			default:
				dst.fromFloat(i, v.f[0])
			}
		}
	}
	return out, nil
}

// castNative is the storage of the types Go converts exactly as Cast does.
type castNative interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64
}

func castNativeTo[S castNative](src []S, out any) {
	switch d := out.(type) {
	case []float32:
		castConvert(src, d)
	case []float64:
		castConvert(src, d)
	case []int64:
		castConvert(src, d)
	case []int32:
		castConvert(src, d)
	case []int16:
		castConvert(src, d)
	case []int8:
		castConvert(src, d)
	case []uint64:
		castConvert(src, d)
	case []uint32:
		castConvert(src, d)
	case []uint16:
		castConvert(src, d)
	case []uint8:
		castConvert(src, d)
	}
}

func castConvert[S, D castNative](src []S, dst []D) {
	for i, v := range src {
		dst[i] = D(v)
	}
}

// castNativeType reports whether dt's storage holds its values as a plain
// Go number (not float16, float8, 4/2-bit, bool or string).
func castNativeType(dt onnx.DataType) bool {
	switch dt {
	case onnx.Float, onnx.Double, onnx.Int64, onnx.Int32, onnx.Int16, onnx.Int8,
		onnx.Uint64, onnx.Uint32, onnx.Uint16, onnx.Uint8:
		return true
	}
	return false
}

// castFast converts the common cases without widening through float64:
// between native types where Go's conversion is Cast's (integers wrap,
// floats round to nearest even; float to integer is left to the slow path
// for its NaN and range rules), and float32 to and from float16/bfloat16.
func castFast(t, out *Tensor) bool {
	from, to := t.DType, out.DType
	if castNativeType(from) && castNativeType(to) && !(from.IsFloat() && !to.IsFloat()) {
		switch d := t.Data.(type) {
		case []float32:
			castNativeTo(d, out.Data)
		case []float64:
			castNativeTo(d, out.Data)
		case []int64:
			castNativeTo(d, out.Data)
		case []int32:
			castNativeTo(d, out.Data)
		case []int16:
			castNativeTo(d, out.Data)
		case []int8:
			castNativeTo(d, out.Data)
		case []uint64:
			castNativeTo(d, out.Data)
		case []uint32:
			castNativeTo(d, out.Data)
		case []uint16:
			castNativeTo(d, out.Data)
		case []uint8:
			castNativeTo(d, out.Data)
		default:
			return false
		}
		return true
	}
	switch {
	case from == onnx.Bool && castNativeType(to): // masks: a Go bool is the byte 0 or 1
		castNativeTo(asBits[uint8](t.Data), out.Data)
		return true
	case from == onnx.Float && to == onnx.Float16:
		simd.Float16s(out.Data.([]uint16), t.Data.([]float32))
		return true
	case from == onnx.Float16 && to == onnx.Float:
		simd.FromFloat16s(out.Data.([]float32), t.Data.([]uint16))
		return true
	case from == onnx.Float && to == onnx.BFloat16:
		z := out.Data.([]uint16)
		for i, v := range t.Data.([]float32) {
			z[i] = Float32ToBFloat16(v)
		}
		return true
	case from == onnx.BFloat16 && to == onnx.Float:
		z := out.Data.([]float32)
		for i, v := range t.Data.([]uint16) {
			z[i] = BFloat16ToFloat32(v)
		}
		return true
	}
	return false
}

func castOptions(b *Build) (CastOptions, error) {
	opt := DefaultCastOptions
	if b.Opset >= 19 {
		opt.Saturate = b.Int("saturate", 1) != 0
	}
	if b.Opset >= 25 {
		m, ok := parseE8M0RoundMode(b.String("round_mode", "up"))
		if !ok {
			return opt, fmt.Errorf("round_mode %q is not one of up, down, nearest", b.String("round_mode", ""))
		}
		opt.E8M0Round = m
	}
	return opt, nil
}

func buildCast(b *Build) (Kernel, error) {
	var to onnx.DataType
	if a := b.Node.Attr("to"); a != nil && len(a.String) > 0 {
		// Cast-1 took the type name as a string.
		dt, ok := onnx.ParseDataType(strings.ToLower(string(a.String)))
		if !ok {
			return nil, fmt.Errorf("Cast: unknown type %q", a.String)
		}
		to = dt
	} else {
		if !b.Has("to") {
			return nil, fmt.Errorf("Cast: missing attribute to")
		}
		to = onnx.DataType(b.Int("to", 0))
	}
	if _, err := makeData(to, 0); err != nil || to == onnx.Undefined {
		return nil, fmt.Errorf("Cast: unsupported target type %s", to)
	}
	opt, err := castOptions(b)
	if err != nil {
		return nil, err
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		out, err := CastTensor(ctx, in[0], to, opt)
		return []*Tensor{out}, err
	}, nil
}

func buildCastLike(b *Build) (Kernel, error) {
	opt, err := castOptions(b)
	if err != nil {
		return nil, err
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		out, err := CastTensor(ctx, in[0], in[1].DType, opt)
		return []*Tensor{out}, err
	}, nil
}

func init() {
	ewRegister("Cast", 1, buildCast, 1, 6, 9, 13, 19, 21, 23, 24, 25)
	ewRegister("CastLike", 2, buildCastLike, 15, 19, 21, 23, 24, 25)
}
