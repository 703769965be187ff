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
	lo8, hi7 := YMM(), YMM()
	t := GP64()
	MOVQ(U64(math.Float64bits(-8)), t)
	VMOVQ(t, lo8.AsX())
	VBROADCASTSD(lo8.AsX(), lo8)
	MOVQ(U64(math.Float64bits(7)), t)
	VMOVQ(t, hi7.AsX())
	VBROADCASTSD(hi7.AsX(), hi7)
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
	// The quotient as the second source: a NaN passes through max and min.
	VMAXPD(a0, lo8, a0)
	VMAXPD(a1, lo8, a1)
	VMINPD(a0, hi7, a0)
	VMINPD(a1, hi7, a1)
	VCVTTPD2DQY(a0, a0.AsX()) // NaN: 0x80000000, whose low byte is 0
	VCVTTPD2DQY(a1, a1.AsX())
	// Keep each int32's low byte (truncation, as Go's int8 conversion).
	VPAND(vcBits(0xFF), a0.AsX(), a0.AsX())
	VPAND(vcBits(0xFF), a1.AsX(), a1.AsX())
	VPACKUSDW(a1.AsX(), a0.AsX(), a0.AsX())
	VPACKUSWB(a0.AsX(), a0.AsX(), a0.AsX())
	VMOVQ(a0.AsX(), Mem{Base: d})
	ADDQ(U32(8), d)
	ADDQ(U32(32), px)
	ADDQ(U32(32), ps)
	DECQ(n)
	JMP(LabelRef("bq4_loop"))
	Label("bq4_done")
	end()
}
