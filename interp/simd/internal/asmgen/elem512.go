package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// binary512 emits dst[i] = op(a[i], b[i]) on zmm: two vectors a step,
// then one, then the last n mod 16 through mask K1. op leaves its result
// in d and sees NaN lanes as the ymm kernel's instruction does.
func binary512(name, what string, op func(a, b, d VecVirtual)) {
	TEXT(name, NOSPLIT, "func(dst, a, b []float32)")
	Pragma("noescape")
	Doc(name+": "+what+" for i < len(dst), on zmm.", "a and b must be at least as long as dst.")
	d := Load(Param("dst").Base(), GP64())
	pa := Load(Param("a").Base(), GP64())
	pb := Load(Param("b").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	rem := tailMask(n)
	SHRQ(Imm(4), n) // whole vectors
	Label(name + "_pairs")
	CMPQ(n, Imm(2))
	JB(LabelRef(name + "_one"))
	x0, y0, x1, y1 := ZMM(), ZMM(), ZMM(), ZMM()
	VMOVUPS(Mem{Base: pa}, x0)
	VMOVUPS(Mem{Base: pb}, y0)
	VMOVUPS(Mem{Base: pa, Disp: 64}, x1)
	VMOVUPS(Mem{Base: pb, Disp: 64}, y1)
	op(x0, y0, x0)
	op(x1, y1, x1)
	VMOVUPS(x0, Mem{Base: d})
	VMOVUPS(x1, Mem{Base: d, Disp: 64})
	ADDQ(Imm(128), pa)
	ADDQ(Imm(128), pb)
	ADDQ(Imm(128), d)
	SUBQ(Imm(2), n)
	JMP(LabelRef(name + "_pairs"))
	Label(name + "_one")
	TESTQ(n, n)
	JZ(LabelRef(name + "_tail"))
	x, y := ZMM(), ZMM()
	VMOVUPS(Mem{Base: pa}, x)
	VMOVUPS(Mem{Base: pb}, y)
	op(x, y, x)
	VMOVUPS(x, Mem{Base: d})
	ADDQ(Imm(64), pa)
	ADDQ(Imm(64), pb)
	ADDQ(Imm(64), d)
	Label(name + "_tail")
	TESTQ(rem, rem)
	JZ(LabelRef(name + "_done"))
	xt, yt := ZMM(), ZMM()
	VMOVUPS_Z(Mem{Base: pa}, K1, xt)
	VMOVUPS_Z(Mem{Base: pb}, K1, yt)
	op(xt, yt, xt)
	VMOVUPS(xt, K1, Mem{Base: d})
	Label(name + "_done")
	end()
}

func elementwise512() {
	binary512("addAVX512", "dst[i] = a[i] + b[i]", func(a, b, d VecVirtual) { VADDPS(b, a, d) })
	binary512("subAVX512", "dst[i] = a[i] - b[i]", func(a, b, d VecVirtual) { VSUBPS(b, a, d) })
	binary512("mulAVX512", "dst[i] = a[i] * b[i]", func(a, b, d VecVirtual) { VMULPS(b, a, d) })
	binary512("divAVX512", "dst[i] = a[i] / b[i]", func(a, b, d VecVirtual) { VDIVPS(b, a, d) })
	biasClip512()
	// As maxSkipNaNAVX: VMAXPS returns its second source (b) when either is NaN.
	binary512("maxSkipNaNAVX512", "dst[i] = a[i] if a[i] > b[i], else b[i]", func(a, b, d VecVirtual) { VMAXPS(b, a, d) })
}

// biasClip512 is biasClip on zmm, 16 floats a step (the last len(dst) mod
// 16 through mask K1), with its arithmetic: x + bias, then the bounds with
// x as VMAXPS's and VMINPS's second (Intel) source, so NaN passes through.
func biasClip512() {
	name := "biasClipAVX512"
	TEXT(name, NOSPLIT, "func(dst, x []float32, bias, lo, hi float32)")
	Pragma("noescape")
	Doc(name + ": dst[i] = min(max(x[i]+bias, lo), hi) for i < len(dst); NaN stays NaN.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	b, lo, hi := ZMM(), ZMM(), ZMM()
	bcastParam("bias", b)
	bcastParam("lo", lo)
	bcastParam("hi", hi)
	rem := tailMask(n)
	SHRQ(Imm(4), n)
	zmmMap(name, n, rem, px, d, func(x VecVirtual) VecVirtual {
		VADDPS(b, x, x)
		VMAXPS(x, lo, x)
		VMINPS(x, hi, x)
		return x
	})
	end()
}
