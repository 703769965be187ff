package interp

import (
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// miniFloat describes a small binary float format (float8 and float4 types):
// one sign bit, expBits exponent bits and mantBits mantissa bits.
type miniFloat struct {
	expBits, mantBits int
	bias              int
	max               float64 // largest finite value
	// fn: no infinities, NaN is the all-ones pattern (S.1111.111).
	// uz: no negative zero, NaN is 0x80.
	// inf: IEEE-like, infinities at exponent all ones with mantissa 0.
	// When none is set the format has neither NaN nor infinities (float4e2m1).
	fn, uz, inf bool
}

var (
	fmtE4M3FN   = miniFloat{expBits: 4, mantBits: 3, bias: 7, max: 448, fn: true}
	fmtE4M3FNUZ = miniFloat{expBits: 4, mantBits: 3, bias: 8, max: 240, uz: true}
	fmtE5M2     = miniFloat{expBits: 5, mantBits: 2, bias: 15, max: 57344, inf: true}
	fmtE5M2FNUZ = miniFloat{expBits: 5, mantBits: 2, bias: 16, max: 57344, uz: true}
	fmtE2M1     = miniFloat{expBits: 2, mantBits: 1, bias: 1, max: 6}
	fmtF16      = miniFloat{expBits: 5, mantBits: 10, bias: 15, max: 65504, inf: true}
)

func miniFloatFormat(dt onnx.DataType) (*miniFloat, bool) {
	switch dt {
	case onnx.Float8E4M3FN:
		return &fmtE4M3FN, true
	case onnx.Float8E4M3FNUZ:
		return &fmtE4M3FNUZ, true
	case onnx.Float8E5M2:
		return &fmtE5M2, true
	case onnx.Float8E5M2FNUZ:
		return &fmtE5M2FNUZ, true
	case onnx.Float4E2M1:
		return &fmtE2M1, true
	}
	return nil, false
}

func (m *miniFloat) signBit() uint16 { return 1 << (m.expBits + m.mantBits) }

// nan returns the NaN pattern; formats without NaN use the pattern of -0,
// as ml_dtypes (and so the ONNX reference) does for float4e2m1.
func (m *miniFloat) nan(neg bool) uint16 {
	switch {
	case m.uz:
		return m.signBit()
	case m.fn:
		if neg {
			return m.signBit()<<1 - 1
		}
		return m.signBit() - 1
	case m.inf:
		// A quiet NaN: exponent all ones and the top mantissa bit.
		b := uint16(1<<m.expBits-1)<<m.mantBits | 1<<(m.mantBits-1)
		if neg {
			b |= m.signBit()
		}
		return b
	}
	return m.signBit()
}

// encode rounds f to the format (round to nearest even). With saturate,
// values beyond the range (and infinities) clamp to ±max; without it they
// become infinity where the format has one and NaN otherwise.
func (m *miniFloat) encode(f float64, saturate bool) uint16 {
	neg := math.Signbit(f)
	if math.IsNaN(f) {
		return m.nan(neg)
	}
	var sign uint16
	if neg {
		sign = m.signBit()
	}
	a := math.Abs(f)
	overflow := func() uint16 {
		switch {
		case saturate || (!m.fn && !m.uz && !m.inf):
			return sign | m.encodeFinite(m.max)
		case m.inf:
			return sign | uint16(1<<m.expBits-1)<<m.mantBits
		}
		return m.nan(neg)
	}
	if math.IsInf(a, 0) {
		return overflow()
	}
	r := m.round(a)
	if r > m.max {
		return overflow()
	}
	if r == 0 {
		if m.uz {
			return 0 // no negative zero: 0x80 is NaN
		}
		return sign
	}
	return sign | m.encodeFinite(r)
}

// round rounds a non-negative finite value to the nearest representable
// magnitude (ties to even), ignoring the upper range limit.
func (m *miniFloat) round(a float64) float64 {
	emin := 1 - m.bias // exponent of the smallest normal
	_, e := math.Frexp(a)
	e-- // a = 1.x · 2^e
	if e < emin {
		e = emin
	}
	q := math.Ldexp(1, e-m.mantBits) // spacing of representable values near a
	return math.RoundToEven(a/q) * q
}

// encodeFinite gives the bits of a representable positive magnitude r.
func (m *miniFloat) encodeFinite(r float64) uint16 {
	emin := 1 - m.bias
	_, e := math.Frexp(r)
	e--
	if e < emin { // subnormal
		return uint16(r / math.Ldexp(1, emin-m.mantBits))
	}
	mant := uint16(r/math.Ldexp(1, e-m.mantBits)) - 1<<m.mantBits
	return uint16(e+m.bias)<<m.mantBits | mant
}

// decode converts bits to float64 (exactly).
func (m *miniFloat) decode(b uint16) float64 {
	if m.uz && b == m.signBit() {
		return math.NaN()
	}
	neg := b&m.signBit() != 0
	exp := int(b>>m.mantBits) & (1<<m.expBits - 1)
	mant := int(b) & (1<<m.mantBits - 1)
	if m.fn && exp == 1<<m.expBits-1 && mant == 1<<m.mantBits-1 {
		return math.NaN()
	}
	if m.inf && exp == 1<<m.expBits-1 {
		if mant != 0 {
			return math.NaN()
		}
		if neg {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	var v float64
	if exp == 0 {
		v = math.Ldexp(float64(mant), 1-m.bias-m.mantBits)
	} else {
		v = math.Ldexp(float64(mant|1<<m.mantBits), exp-m.bias-m.mantBits)
	}
	if neg {
		v = -v
	}
	return v
}

// E8M0 rounding modes of Cast's round_mode attribute.
const (
	e8m0Up = iota
	e8m0Down
	e8m0Nearest
)

func parseE8M0RoundMode(s string) (int, bool) {
	switch s {
	case "up", "":
		return e8m0Up, true
	case "down":
		return e8m0Down, true
	case "nearest":
		return e8m0Nearest, true
	}
	return 0, false
}

// float32ToE8M0 converts to float8e8m0 (a biased power-of-two exponent) the
// way the ONNX reference does: from the float32 bit pattern, NaN and
// infinities to 0xFF, rounding the mantissa away by mode.
func float32ToE8M0(f float32, saturate bool, mode int) uint8 {
	bits := math.Float32bits(f)
	exp := (bits >> 23) & 0xFF
	if exp == 0xFF {
		return 0xFF
	}
	up := false
	switch mode {
	case e8m0Up:
		up = bits&0x7FFFFF != 0
	case e8m0Nearest:
		g := bits&0x400000 != 0
		r := bits&0x200000 != 0
		s := bits&0x1FFFFF != 0
		up = g && (r || s || exp > 0)
	}
	if up && saturate && exp == 0xFE {
		up = false
	}
	if up {
		exp++
	}
	return uint8(exp)
}

// e8m0ToFloat64 decodes float8e8m0: 2^(b-127), 0xFF is NaN.
func e8m0ToFloat64(b uint8) float64 {
	if b == 0xFF {
		return math.NaN()
	}
	return math.Ldexp(1, int(b)-127)
}

// Float32ToFloat8 converts f to the bits of a float8 type (or float4e2m1)
// with round to nearest even and the saturation rules of Cast; e8m0 rounds up.
func Float32ToFloat8(dt onnx.DataType, f float32, saturate bool) uint8 {
	return Float64ToFloat8(dt, float64(f), saturate)
}

// Float64ToFloat8 is Float32ToFloat8 for a float64 value (rounded once).
func Float64ToFloat8(dt onnx.DataType, f float64, saturate bool) uint8 {
	if dt == onnx.Float8E8M0 {
		return float32ToE8M0(float32(f), saturate, e8m0Up)
	}
	if m, ok := miniFloatFormat(dt); ok {
		return uint8(m.encode(f, saturate))
	}
	return 0
}

// Float8ToFloat32 converts the bits of a float8 type (or float4e2m1) to float32.
func Float8ToFloat32(dt onnx.DataType, b uint8) float32 {
	return float32(Float8ToFloat64(dt, b))
}

// Float8ToFloat64 converts the bits of a float8 type (or float4e2m1) to float64.
func Float8ToFloat64(dt onnx.DataType, b uint8) float64 {
	if dt == onnx.Float8E8M0 {
		return e8m0ToFloat64(b)
	}
	if m, ok := miniFloatFormat(dt); ok {
		return m.decode(uint16(b))
	}
	return math.NaN()
}

// IsFloat8 reports whether dt is stored as one byte of a small float format
// (float8 variants and float4e2m1).
func IsFloat8(dt onnx.DataType) bool {
	_, ok := miniFloatFormat(dt)
	return ok || dt == onnx.Float8E8M0
}

// Float64ToFloat16 rounds a float64 to half precision once (a detour through
// float32 could round twice).
func Float64ToFloat16(f float64) uint16 {
	if g := float32(f); float64(g) == f {
		return Float32ToFloat16(g) // exact in float32: one rounding either way
	}
	return fmtF16.encode(f, false)
}
