package simd

import "math"

// Float16 rounds a float32 to half precision bits (round to nearest
// even; NaN becomes sign|0x7E00, the quiet NaN without payload).
func Float16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xFF
	mant := b & 0x7FFFFF
	if exp == 0xFF {
		if mant != 0 {
			return sign | 0x7E00 // NaN
		}
		return sign | 0x7C00
	}
	e := exp - 127 + 15
	if e >= 0x1F {
		return sign | 0x7C00 // overflow to infinity
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		rem := mant & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint16(e)<<10 | uint16(mant>>13)
	rem := mant & 0x1FFF
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the correct rounding
	}
	return sign | r
}

// FromFloat16 widens half precision bits to float32, exactly; a NaN keeps
// its payload and comes out quiet (as F16C's VCVTPH2PS).
func FromFloat16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1F
	mant := uint32(h) & 0x3FF
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant·2^-24, exact in float32
		f := float32(mant) / (1 << 24)
		return math.Float32frombits(sign | math.Float32bits(f))
	case exp == 0x1F && mant != 0:
		return math.Float32frombits(sign | 0x7FC00000 | mant<<13)
	case exp == 0x1F:
		return math.Float32frombits(sign | 0x7F800000)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// Float16s converts x to float16 bits in dst as Float16 does (F16C where
// the CPU has it). dst must be as long as x.
func Float16s(dst []uint16, x []float32) { convertBlocks("Float16s", dst, x, ks.f16s, Float16) }

// FromFloat16s widens the float16 bits h into dst as FromFloat16 does.
// dst must be as long as h.
func FromFloat16s(dst []float32, h []uint16) {
	convertBlocks("FromFloat16s", dst, h, ks.fromF16s, FromFloat16)
}

// convertBlocks runs a conversion kernel over whole blocks of eight and
// the scalar conversion one over the tail.
func convertBlocks[D, S any](name string, dst []D, src []S, blocks func([]D, []S), one func(S) D) {
	if len(dst) != len(src) {
		panic("simd: " + name + ": dst and src differ in length")
	}
	blocks(dst, src)
	tail := len(dst) &^ 7
	for i, v := range src[tail:] {
		dst[tail+i] = one(v)
	}
}

// float16sBlocks and fromFloat16sBlocks are the Go level's kernels: whole
// blocks of eight, as the assembly twins.
func float16sBlocks(dst []uint16, x []float32) {
	for i, v := range x[:len(dst)&^7] {
		dst[i] = Float16(v)
	}
}

func fromFloat16sBlocks(dst []float32, h []uint16) {
	for i, v := range h[:len(dst)&^7] {
		dst[i] = FromFloat16(v)
	}
}

// Float16Sat converts x to float16 bits in dst as Float16 does, except
// that finite values beyond float16's range (|x| > 65504) become ±65504
// instead of ±Inf; it returns how many it saturated. Infinities stay
// infinite. dst must be as long as x.
func Float16Sat(dst []uint16, x []float32) int {
	if len(dst) != len(x) {
		panic("simd: Float16Sat: dst and x differ in length")
	}
	n := ks.f16Sat(dst, x)
	tail := len(dst) &^ 7
	return n + float16SatGo(dst[tail:], x[tail:])
}

// float16SatGo is Float16Sat's Go twin (every element).
func float16SatGo(dst []uint16, x []float32) int {
	n := 0
	for i, v := range x[:len(dst)] {
		if a := math.Float32frombits(math.Float32bits(v) &^ (1 << 31)); a > 65504 && a <= math.MaxFloat32 {
			v = math.Float32frombits(math.Float32bits(v)&(1<<31) | math.Float32bits(65504))
			n++
		}
		dst[i] = Float16(v)
	}
	return n
}

// float16SatBlocks runs float16SatGo on whole blocks of eight only, as the
// assembly twin does (the Go level's kernel).
func float16SatBlocks(dst []uint16, x []float32) int {
	return float16SatGo(dst[:len(dst)&^7], x)
}
