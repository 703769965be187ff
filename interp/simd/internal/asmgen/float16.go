package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// float16Sat emits the float32 → float16 conversion of mode=fp16 weights
// with F16C's VCVTPS2PH (round to nearest even, as the Go twin): finite
// values beyond ±65504 are first saturated to ±65504 (and counted), and
// NaNs come out as sign|0x7E00 like the Go twin rather than with F16C's
// truncated payload. Eight floats a round; the caller does the tail.
func float16Sat() {
	TEXT("float16SatAVX", NOSPLIT, "func(dst []uint16, x []float32) int")
	Pragma("noescape")
	Doc("float16SatAVX: dst[i] = float16 of x[i] (round to nearest even; finite |x| > 65504 → ±65504, counted; NaN → sign|0x7E00)",
		"for i < len(dst) rounded down to 8; returns how many were saturated. Needs F16C and POPCNT.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(3), n)
	cnt := GP64()
	XORQ(cnt, cnt)
	x, a, m, m2, s := YMM(), YMM(), YMM(), YMM(), YMM()
	h := XMM()
	r := GP64()
	Label("f16sat_loop")
	TESTQ(n, n)
	JZ(LabelRef("f16sat_done"))
	VMOVUPS(Mem{Base: px}, x)
	VANDPS(vcBits(0x7FFFFFFF), x, a)
	VCMPPS(Imm(0x1E), vc(65504), a, m)            // |x| > 65504 (false for NaN)
	VCMPPS(Imm(0x12), vc(math.MaxFloat32), a, m2) // |x| ≤ MaxFloat32: finite (false for NaN)
	VANDPS(m2, m, m)
	VANDPS(vcBits(0x80000000), x, s)
	VORPS(vc(65504), s, s)
	VBLENDVPS(m, s, x, x)
	VMOVMSKPS(m, r.As32())
	POPCNTL(r.As32(), r.As32())
	ADDQ(r, cnt)
	cvtPH(x, h)
	VMOVDQU(h, Mem{Base: d})
	ADDQ(U32(16), d)
	ADDQ(U32(32), px)
	DECQ(n)
	JMP(LabelRef("f16sat_loop"))
	Label("f16sat_done")
	Store(cnt, ReturnIndex(0))
	end()
}

// cvtPH converts the eight floats of x to float16 bits in h with
// VCVTPS2PH (round to nearest even), NaN lanes as sign|0x7E00 like the Go
// twins rather than with F16C's truncated payload.
func cvtPH(x, h VecVirtual) {
	VCVTPS2PH(Imm(0), x, h)
	m := YMM()
	nw, hi, f := XMM(), XMM(), XMM()
	VCMPPS(Imm(3), x, x, m) // unordered: NaN
	VEXTRACTF128(Imm(1), m, hi)
	VPACKSSDW(hi, m.AsX(), nw)
	VPAND(vcBits(0x80008000), h, f)
	VPOR(vcBits(0x7E007E00), f, f)
	VPBLENDVB(nw, f, h, h)
}

// float16s emits the plain float32 → float16 conversion (float16 tensors'
// compute, rounded back after float32 kernels): VCVTPS2PH rounding to
// nearest even, overflow to ±Inf, NaNs as sign|0x7E00 like the Go twin.
// Eight floats a round; the caller does the tail.
func float16s() {
	TEXT("float16sAVX", NOSPLIT, "func(dst []uint16, x []float32)")
	Pragma("noescape")
	Doc("float16sAVX: dst[i] = float16 of x[i] (round to nearest even; NaN → sign|0x7E00) for i < len(dst) rounded down to 8. Needs F16C.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(3), n)
	x, h := YMM(), XMM()
	Label("f16s_loop")
	TESTQ(n, n)
	JZ(LabelRef("f16s_done"))
	VMOVUPS(Mem{Base: px}, x)
	cvtPH(x, h)
	VMOVDQU(h, Mem{Base: d})
	ADDQ(U32(16), d)
	ADDQ(U32(32), px)
	DECQ(n)
	JMP(LabelRef("f16s_loop"))
	Label("f16s_done")
	end()
}

// fromFloat16s emits the exact float16 → float32 widening with VCVTPH2PS
// (a NaN keeps its payload and comes out quiet, as the Go twin). Eight
// values a round; the caller does the tail.
func fromFloat16s() {
	TEXT("fromFloat16sAVX", NOSPLIT, "func(dst []float32, h []uint16)")
	Pragma("noescape")
	Doc("fromFloat16sAVX: dst[i] = float32 of the float16 h[i] for i < len(dst) rounded down to 8. Needs F16C.")
	d := Load(Param("dst").Base(), GP64())
	ph := Load(Param("h").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(3), n)
	x := YMM()
	Label("f16w_loop")
	TESTQ(n, n)
	JZ(LabelRef("f16w_done"))
	VCVTPH2PS(Mem{Base: ph}, x)
	VMOVUPS(x, Mem{Base: d})
	ADDQ(U32(32), d)
	ADDQ(U32(16), ph)
	DECQ(n)
	JMP(LabelRef("f16w_loop"))
	Label("f16w_done")
	end()
}

// blockQuantI4 emits int4 block quantization's inner step, in float64 as
// the Go twin computes it: dst[i] = clamp(roundeven(float64(x[i]) /
// float64(s[i])), -8, 7), a NaN quotient giving 0 (Go's int8 of NaN on
// amd64). Eight elements a round; the caller does the tail.
func blockQuantI4() {
	TEXT("blockQuantI4AVX", NOSPLIT, "func(dst []byte, x, s []float32)")
	Pragma("noescape")
	Doc("blockQuantI4AVX: dst[i] = clamp(roundeven(float64(x[i])/float64(s[i])), -8, 7) (NaN: 0) for i < len(dst) rounded down to 8.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	ps := Load(Param("s").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(3), n)
	lo8, hi7 := bcastF64(-8), bcastF64(7)
	a0, a1, b0, b1 := YMM(), YMM(), YMM(), YMM()
	Label("bq4_loop")
	TESTQ(n, n)
	JZ(LabelRef("bq4_done"))
	VCVTPS2PD(Mem{Base: px}, a0)
	VCVTPS2PD(Mem{Base: px, Disp: 16}, a1)
	VCVTPS2PD(Mem{Base: ps}, b0)
	VCVTPS2PD(Mem{Base: ps, Disp: 16}, b1)
	VDIVPD(b0, a0, a0)
	VDIVPD(b1, a1, a1)
	VROUNDPD(Imm(0), a0, a0) // to nearest, ties to even
	VROUNDPD(Imm(0), a1, a1)
	clampInt4Bytes(a0, a1, lo8, hi7)
	VMOVQ(a0.AsX(), Mem{Base: d})
	ADDQ(U32(8), d)
	ADDQ(U32(32), px)
	ADDQ(U32(32), ps)
	DECQ(n)
	JMP(LabelRef("bq4_loop"))
	Label("bq4_done")
	end()
}

// bcastF64 returns a new ymm register holding v in every float64 lane.
func bcastF64(v float64) VecVirtual { return bcastF64In(YMM(), v) }

// bcastF64In sets every float64 lane of dst (ymm or zmm) to v.
func bcastF64In(dst VecVirtual, v float64) VecVirtual {
	t := GP64()
	MOVQ(U64(math.Float64bits(v)), t)
	VMOVQ(t, dst.AsX())
	VBROADCASTSD(dst.AsX(), dst)
	return dst
}

// packNibbles packs the bytes of b's low half in pairs, the first of each
// in the low nibble, into b's low quarter: each 16-bit lane's low nibble,
// and its high byte's low nibble shifted to the high one (t is scratch).
func packNibbles(b, t Op) {
	VPSRLW(Imm(4), b, t)
	VPAND(vcBits(0x000F000F), b, b)
	VPAND(vcBits(0x00F000F0), t, t)
	VPOR(t, b, b)
	VPACKUSWB(b, b, b)
}

// clampInt4Bytes clamps the eight rounded quotients in a0 and a1 (four
// float64 each) to [lo8, hi7] and leaves them a byte each in a0's low
// eight bytes, as Go's int8 of the clamped value: the quotient is max and
// min's second source, so a NaN passes through, and its conversion
// (0x80000000) keeps a low byte of 0.
func clampInt4Bytes(a0, a1, lo8, hi7 VecVirtual) {
	VMAXPD(a0, lo8, a0)
	VMAXPD(a1, lo8, a1)
	VMINPD(a0, hi7, a0)
	VMINPD(a1, hi7, a1)
	VCVTTPD2DQY(a0, a0.AsX())
	VCVTTPD2DQY(a1, a1.AsX())
	// Each int32's low byte (truncation, as Go's int8 conversion).
	VPAND(vcBits(0xFF), a0.AsX(), a0.AsX())
	VPAND(vcBits(0xFF), a1.AsX(), a1.AsX())
	VPACKUSDW(a1.AsX(), a0.AsX(), a0.AsX())
	VPACKUSWB(a0.AsX(), a0.AsX(), a0.AsX())
}

// quantPackI4 emits blocked int4 quantization's step for one row with
// its per-column scales, packed: clamp(roundeven(float64(x)/float64(s)),
// -8, 7) two to a byte, low nibble first. The quotient is x times r, the
// scale's reciprocal in float64: within 2e-15 of x/s, while an x/s that
// is not a tie k+½ lies at least 2⁻²⁵ from one (x and s are float32), so
// the rounding is the division's except near a tie, where the eight are
// divided. Eight elements a round; the caller does the tail.
func quantPackI4() {
	TEXT("quantPackI4AVX", NOSPLIT, "func(dst []byte, x, s []float32, r []float64)")
	Pragma("noescape")
	Doc("quantPackI4AVX: QuantPackI4's step for len(x) rounded down to 8 (r = 1/s in float64).")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	ps := Load(Param("s").Base(), GP64())
	pr := Load(Param("r").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	SHRQ(Imm(3), n)
	lo8, hi7, lim := bcastF64(-8), bcastF64(7), bcastF64(0.25-0x1p-30)
	a0, a1, y0, y1, e0, e1 := YMM(), YMM(), YMM(), YMM(), YMM(), YMM()
	m := GP32()
	Label("qp4_loop")
	TESTQ(n, n)
	JZ(LabelRef("qp4_done"))
	VCVTPS2PD(Mem{Base: px}, a0)
	VCVTPS2PD(Mem{Base: px, Disp: 16}, a1)
	VMULPD(Mem{Base: pr}, a0, y0)
	VMULPD(Mem{Base: pr, Disp: 32}, a1, y1)
	VROUNDPD(Imm(0), y0, e0) // to nearest, ties to even
	VROUNDPD(Imm(0), y1, e1)
	VSUBPD(e0, y0, y0)
	VSUBPD(e1, y1, y1)
	VMULPD(y0, y0, y0)
	VMULPD(y1, y1, y1)
	VCMPPD(Imm(0x1E), lim, y0, y0) // (y - round y)² > ¼ - 2⁻³⁰: near a tie (false for NaN)
	VCMPPD(Imm(0x1E), lim, y1, y1)
	VORPD(y1, y0, y0)
	VMOVMSKPD(y0, m)
	TESTL(m, m)
	JZ(LabelRef("qp4_clamp"))
	VCVTPS2PD(Mem{Base: ps}, y0)
	VCVTPS2PD(Mem{Base: ps, Disp: 16}, y1)
	VDIVPD(y0, a0, y0)
	VDIVPD(y1, a1, y1)
	VROUNDPD(Imm(0), y0, e0)
	VROUNDPD(Imm(0), y1, e1)
	Label("qp4_clamp")
	clampInt4Bytes(e0, e1, lo8, hi7) // the eight values a byte each
	packNibbles(e0.AsX(), e1.AsX())
	VMOVD(e0.AsX(), Mem{Base: d})
	ADDQ(U32(4), d)
	ADDQ(U32(32), px)
	ADDQ(U32(32), ps)
	ADDQ(U32(64), pr)
	DECQ(n)
	JMP(LabelRef("qp4_loop"))
	Label("qp4_done")
	end()
}

// quantPackI4_512 is quantPackI4 on zmm, sixteen elements a round (the
// caller does the rest): the same arithmetic (the reciprocal's product,
// rounded to even; near a tie the division), the near-tie test in a mask
// register, and VPMOVDB for the bytes (truncation, as the ymm kernel's
// masking and packing).
func quantPackI4_512() {
	TEXT("quantPackI4AVX512", NOSPLIT, "func(dst []byte, x, s []float32, r []float64)")
	Pragma("noescape")
	Doc("quantPackI4AVX512: quantPackI4AVX for len(x) rounded down to 16, on zmm.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	ps := Load(Param("s").Base(), GP64())
	pr := Load(Param("r").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	SHRQ(Imm(4), n)
	lo8, hi7, lim := bcastF64In(ZMM(), -8), bcastF64In(ZMM(), 7), bcastF64In(ZMM(), 0.25-0x1p-30)
	a0, a1, y0, y1, e0, e1 := ZMM(), ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
	b, t := XMM(), XMM()
	Label("qp4z_loop")
	TESTQ(n, n)
	JZ(LabelRef("qp4z_done"))
	VCVTPS2PD(Mem{Base: px}, a0)
	VCVTPS2PD(Mem{Base: px, Disp: 32}, a1)
	VMULPD(Mem{Base: pr}, a0, y0)
	VMULPD(Mem{Base: pr, Disp: 64}, a1, y1)
	VRNDSCALEPD(Imm(0), y0, e0) // to nearest, ties to even
	VRNDSCALEPD(Imm(0), y1, e1)
	VSUBPD(e0, y0, y0)
	VSUBPD(e1, y1, y1)
	VMULPD(y0, y0, y0)
	VMULPD(y1, y1, y1)
	VCMPPD(Imm(0x1E), lim, y0, K1) // (y - round y)² > ¼ - 2⁻³⁰: near a tie (false for NaN)
	VCMPPD(Imm(0x1E), lim, y1, K2)
	KORTESTW(K2, K1)
	JZ(LabelRef("qp4z_clamp"))
	VCVTPS2PD(Mem{Base: ps}, y0)
	VCVTPS2PD(Mem{Base: ps, Disp: 32}, y1)
	VDIVPD(y0, a0, y0)
	VDIVPD(y1, a1, y1)
	VRNDSCALEPD(Imm(0), y0, e0)
	VRNDSCALEPD(Imm(0), y1, e1)
	Label("qp4z_clamp")
	// The rounded quotient as the second source: a NaN passes through,
	// and converts to 0x80000000, whose low byte is 0.
	VMAXPD(e0, lo8, e0)
	VMAXPD(e1, lo8, e1)
	VMINPD(e0, hi7, e0)
	VMINPD(e1, hi7, e1)
	VCVTTPD2DQ(e0, e0.AsY())
	VCVTTPD2DQ(e1, e1.AsY())
	VINSERTI64X4(Imm(1), e1.AsY(), e0, e0)
	VPMOVDB(e0, b) // each int32's low byte
	packNibbles(b, t)
	VMOVQ(b, Mem{Base: d})
	ADDQ(U32(8), d)
	ADDQ(U32(64), px)
	ADDQ(U32(64), ps)
	ADDQ(U32(128), pr)
	DECQ(n)
	JMP(LabelRef("qp4z_loop"))
	Label("qp4z_done")
	end()
}
