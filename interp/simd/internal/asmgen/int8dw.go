package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// requant8 emits the epilogue of an integer convolution whose exact sums
// are held as floats (the int8 depthwise path): per element
//
//	y = min(max(float32(acc·m) + b, lo), hi)            (as i32ScaleShiftClip)
//	dst = clamp(roundeven(y/s) + z, qlo, qhi), NaN → 0  (as quantize8)
//
// in one pass, for len(dst) rounded down to 8; the caller does the tail.
func requant8(name string, signed bool) {
	TEXT(name, NOSPLIT, "func(dst []byte, acc []float32, m, b, lo, hi, s, z, qlo, qhi float32)")
	Pragma("noescape")
	Doc(name+": dst[i] = quantize(clip(acc[i]·m + b, lo, hi), s, z, qlo, qhi), product and sum rounded",
		"separately, for i < len(dst) rounded down to 8.")
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
	Label(name + "_loop")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	VMOVUPS(Mem{Base: pa}, x)
	VMULPS(mv, x, x)
	VADDPS(bv, x, x)
	VMAXPS(lov, x, x)
	VMINPS(hiv, x, x)
	VDIVPS(sc, x, x)
	VROUNDPS(Imm(0), x, x) // to nearest, ties to even
	VADDPS(z, x, x)
	// NaN as the second source of max and min passes through both.
	VMAXPS(x, qlo, x)
	VMINPS(x, qhi, x)
	VCMPPS(Imm(7), x, x, msk) // ordered: all ones unless NaN
	VANDPS(msk, x, x)
	VCVTPS2DQ(x, x) // exact: x is integral and in range
	VEXTRACTI128(Imm(1), x, h)
	VPACKSSDW(h, x.AsX(), h)
	if signed {
		VPACKSSWB(h, h, h)
	} else {
		VPACKUSWB(h, h, h)
	}
	MOVQ(h, Mem{Base: d})
	ADDQ(U32(8), d)
	ADDQ(U32(32), pa)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
