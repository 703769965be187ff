package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// requant8 emits the epilogue of an integer convolution: per element
//
//	y = min(max(float32(acc·m) + b, lo), hi)            (as i32ScaleShiftClip)
//	dst = clamp(roundeven(y/s) + z, qlo, qhi), NaN → 0  (as quantize8)
//
// in one pass, for len(dst) rounded down to 8; the caller does the tail.
// The sums acc are exact floats (the int8 depthwise path) or, with ints,
// int32s plus t (the int8 GEMM path), converted as i32ScaleShiftClip does.
//
// With zmm (AVX-512 F), blocks of 16 run (VRNDSCALEPS for VROUNDPS, a
// zeroing-masked move for the NaN mask, VPMOVDB for the packs: the values
// are in range by then), then the last 0..15 values under a mask: the zmm
// kernels take every value, the ymm ones len(dst) rounded down to 8.
func requant8(name string, signed, ints, zmm bool) {
	if ints {
		TEXT(name, NOSPLIT, "func(dst []byte, acc []int32, t int32, m, b, lo, hi, s, z, qlo, qhi float32)")
	} else {
		TEXT(name, NOSPLIT, "func(dst []byte, acc []float32, m, b, lo, hi, s, z, qlo, qhi float32)")
	}
	Pragma("noescape")
	upTo := "for i < len(dst) rounded down to 8."
	if zmm {
		upTo = "for every i < len(dst) (the last ones under a mask)."
	}
	Doc(name+": dst[i] = quantize(clip(acc[i]·m + b, lo, hi), s, z, qlo, qhi), product and sum rounded",
		"separately, "+upTo)
	d := Load(Param("dst").Base(), GP64())
	pa := Load(Param("acc").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(3), n)
	mv, bv, lov, hiv, sc, z, qlo, qhi := YMM(), YMM(), YMM(), YMM(), YMM(), YMM(), YMM(), YMM()
	for _, p := range []struct {
		name string
		v    VecVirtual
	}{{"m", mv}, {"b", bv}, {"lo", lov}, {"hi", hiv}, {"s", sc}, {"z", z}, {"qlo", qlo}, {"qhi", qhi}} {
		bcastParam(p.name, p.v)
	}
	x, msk := YMM(), YMM()
	h := XMM()
	var tv VecVirtual
	if ints {
		tv = YMM()
		tx := XMM()
		VMOVD(Load(Param("t"), GP32()), tx)
		VPBROADCASTD(tx, tv)
	}
	if zmm {
		requant16(name, signed, ints, d, pa, n, tv)
	}
	Label(name + "_loop")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	if ints {
		VPADDD(Mem{Base: pa}, tv, x)
		VCVTDQ2PS(x, x)
	} else {
		VMOVUPS(Mem{Base: pa}, x)
	}
	VMULPS(mv, x, x)
	VADDPS(bv, x, x)
	VMAXPS(lov, x, x)
	VMINPS(hiv, x, x)
	VDIVPS(sc, x, x)
	VROUNDPS(Imm(0), x, x) // to nearest, ties to even
	VADDPS(z, x, x)
	packQ8(signed, x, qlo, qhi, msk, h)
	MOVQ(h, Mem{Base: d})
	ADDQ(U32(8), d)
	ADDQ(U32(32), pa)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// addQ8 emits the fused QDQ residual Add: per element
//
//	y = (float32(a) − za)·sa + (float32(b) − zb)·sb   (as two DequantizeLinear and an Add)
//	dst = clamp(roundeven(y/s) + z, qlo, qhi), NaN → 0 (as quantize8)
//
// with a, b and dst all uint8 or all int8 (signed), for len(dst) rounded
// down to 8; the caller does the tail.
func addQ8(name string, signed bool) {
	TEXT(name, NOSPLIT, "func(dst, a, b []byte, za, sa, zb, sb, s, z, qlo, qhi float32)")
	Pragma("noescape")
	Doc(name+": dst[i] = quantize((a[i]−za)·sa + (b[i]−zb)·sb, s, z, qlo, qhi), each step rounded",
		"as DequantizeLinear, Add and QuantizeLinear round it, for i < len(dst) rounded down to 8.")
	d := Load(Param("dst").Base(), GP64())
	pa := Load(Param("a").Base(), GP64())
	pb := Load(Param("b").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(3), n)
	za, sa, zb, sb, sc, z, qlo, qhi := YMM(), YMM(), YMM(), YMM(), YMM(), YMM(), YMM(), YMM()
	for _, p := range []struct {
		name string
		v    VecVirtual
	}{{"za", za}, {"sa", sa}, {"zb", zb}, {"sb", sb}, {"s", sc}, {"z", z}, {"qlo", qlo}, {"qhi", qhi}} {
		bcastParam(p.name, p.v)
	}
	x, y, msk := YMM(), YMM(), YMM()
	h := XMM()
	load := func(m Mem, v VecVirtual) {
		if signed {
			VPMOVSXBD(m, v)
		} else {
			VPMOVZXBD(m, v)
		}
	}
	Label(name + "_loop")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	load(Mem{Base: pa}, x)
	VCVTDQ2PS(x, x)
	VSUBPS(za, x, x)
	VMULPS(sa, x, x)
	load(Mem{Base: pb}, y)
	VCVTDQ2PS(y, y)
	VSUBPS(zb, y, y)
	VMULPS(sb, y, y)
	VADDPS(y, x, x)
	VDIVPS(sc, x, x)
	VROUNDPS(Imm(0), x, x) // to nearest, ties to even
	VADDPS(z, x, x)
	packQ8(signed, x, qlo, qhi, msk, h)
	MOVQ(h, Mem{Base: d})
	ADDQ(U32(8), d)
	ADDQ(U32(8), pa)
	ADDQ(U32(8), pb)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// requant16 emits requant8's loop over blocks of 16 with zmm; n counts
// blocks of 8 and is left with at most one.
func requant16(name string, signed, ints bool, d, pa, n Register, tv VecVirtual) {
	mv, bv, lov, hiv, sc, z, qlo, qhi := ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	for _, p := range []struct {
		name string
		v    VecVirtual
	}{{"m", mv}, {"b", bv}, {"lo", lov}, {"hi", hiv}, {"s", sc}, {"z", z}, {"qlo", qlo}, {"qhi", qhi}} {
		bcastParam(p.name, p.v)
	}
	var tz VecVirtual
	if ints {
		tz = ZMM()
		VPBROADCASTD(tv.AsX(), tz)
	}
	x := ZMM()
	k := K()
	// body requantizes x's lanes into bytes at d, under mask km when not nil.
	body := func(km Register) {
		switch {
		case ints && km != nil:
			VMOVDQU32_Z(Mem{Base: pa}, km, x)
			VPADDD(x, tz, x)
			VCVTDQ2PS(x, x)
		case ints:
			VPADDD(Mem{Base: pa}, tz, x)
			VCVTDQ2PS(x, x)
		case km != nil:
			VMOVUPS_Z(Mem{Base: pa}, km, x)
		default:
			VMOVUPS(Mem{Base: pa}, x)
		}
		requantStoreZ(x, mv, q8Epilogue{bv, lov, hiv, sc, z, qlo, qhi}, k, km, d)
	}
	Label(name + "_z")
	CMPQ(n, Imm(2))
	JL(LabelRef(name + "_zdone"))
	body(nil)
	ADDQ(U32(16), d)
	ADDQ(U32(64), pa)
	SUBQ(Imm(2), n)
	JMP(LabelRef(name + "_z"))
	Label(name + "_zdone")
	// The last 0..15 values under a mask: nothing is left to the caller.
	r := Load(Param("dst").Len(), GP64())
	ANDQ(Imm(15), r)
	JZ(LabelRef(name + "_done"))
	tb := GP64()
	LEAQ(lowMasks(), tb)
	km := K()
	KMOVW(Mem{Base: tb, Index: r, Scale: 2}, km)
	body(km)
	JMP(LabelRef(name + "_done"))
	_ = signed // in range already: truncating packs serve both types
}

// i32Requant8Rows emits the int8 GEMM path's epilogue for a block of rows
// in one call (AVX-512): row i of src (cols int32s, rows back to back)
// becomes row i of dst (ldd bytes apart) as i32Requant8 with t[i], m[i]
// and b[i]; the last 0..15 values of a row under a mask. One kernel per
// block instead of a call per row: at N = 49 the calls cost more than the
// values.
func i32Requant8Rows(name string) {
	TEXT(name, NOSPLIT, "func(dst []byte, ldd int, src []int32, rows, cols int, t []int32, m, b []float32, lo, hi, s, z, qlo, qhi float32)")
	Pragma("noescape")
	Doc(name+": dst[i·ldd+j] = quantize(clip(float32(src[i·cols+j]+t[i])·m[i] + b[i], lo, hi), s, z, qlo, qhi)",
		"for i < rows, j < cols, product and sum rounded separately (zmm; either 8-bit type: the values are in range).")
	lov, hiv, sc, zv, qlo, qhi := ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	for _, p := range []struct {
		name string
		v    VecVirtual
	}{{"lo", lov}, {"hi", hiv}, {"s", sc}, {"z", zv}, {"qlo", qlo}, {"qhi", qhi}} {
		bcastParam(p.name, p.v)
	}
	tv, mv, bv, x := ZMM(), ZMM(), ZMM(), ZMM()
	k := K()
	rowDst := Load(Param("dst").Base(), GP64())
	pa := Load(Param("src").Base(), GP64())
	ri := GP64()
	XORQ(ri, ri)
	Label(name + "_row")
	{
		n := Load(Param("rows"), GP64())
		CMPQ(ri, n)
		JGE(LabelRef(name + "_done"))
	}
	{
		tp := Load(Param("t").Base(), GP64())
		VPBROADCASTD(Mem{Base: tp, Index: ri, Scale: 4}, tv)
		mp := Load(Param("m").Base(), GP64())
		VBROADCASTSS(Mem{Base: mp, Index: ri, Scale: 4}, mv)
		bp := Load(Param("b").Base(), GP64())
		VBROADCASTSS(Mem{Base: bp, Index: ri, Scale: 4}, bv)
	}
	d := GP64()
	MOVQ(rowDst, d)
	rem := Load(Param("cols"), GP64())
	body := func(km Register) {
		if km != nil {
			VMOVDQU32_Z(Mem{Base: pa}, km, x)
			VPADDD(x, tv, x)
		} else {
			VPADDD(Mem{Base: pa}, tv, x)
		}
		VCVTDQ2PS(x, x)
		requantStoreZ(x, mv, q8Epilogue{bv, lov, hiv, sc, zv, qlo, qhi}, k, km, d)
	}
	Label(name + "_16")
	CMPQ(rem, Imm(16))
	JL(LabelRef(name + "_tail"))
	body(nil)
	ADDQ(Imm(16), d)
	ADDQ(Imm(64), pa)
	SUBQ(Imm(16), rem)
	JMP(LabelRef(name + "_16"))
	Label(name + "_tail")
	TESTQ(rem, rem)
	JZ(LabelRef(name + "_next"))
	{
		tb := GP64()
		LEAQ(lowMasks(), tb)
		km := K()
		KMOVW(Mem{Base: tb, Index: rem, Scale: 2}, km)
		body(km)
		SHLQ(Imm(2), rem)
		ADDQ(rem, pa)
	}
	Label(name + "_next")
	{
		ldd := Load(Param("ldd"), GP64())
		ADDQ(ldd, rowDst)
	}
	INCQ(ri)
	JMP(LabelRef(name + "_row"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// requantStoreZ scales x (zmm) by mult, adds the bias, applies Clip,
// quantizes (rounded to even, + z, clamped, NaN → 0) and stores the 16
// bytes at d, under mask km when not nil; k is a scratch mask.
func requantStoreZ(x, mult VecVirtual, e q8Epilogue, k, km, d Register) {
	VMULPS(mult, x, x)
	VADDPS(e.bias, x, x)
	VMAXPS(e.lo, x, x)
	VMINPS(e.hi, x, x)
	VDIVPS(e.s, x, x)
	VRNDSCALEPS(Imm(0), x, x) // to nearest, ties to even
	VADDPS(e.z, x, x)
	VMAXPS(x, e.qlo, x)
	VMINPS(x, e.qhi, x)
	VCMPPS(Imm(7), x, x, k) // ordered: set unless NaN
	VMOVAPS_Z(x, k, x)
	VCVTPS2DQ(x, x) // exact: x is integral and in range
	if km != nil {
		VPMOVDB(x, km, Mem{Base: d})
	} else {
		VPMOVDB(x, Mem{Base: d})
	}
}
