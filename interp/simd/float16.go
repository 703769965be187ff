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
