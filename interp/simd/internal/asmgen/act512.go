package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The odd rational activations (tanh, erf, and gelu through erf) on zmm:
// the ymm kernels' instructions in the same order on 16 lanes, constants
// broadcast from the same tables, the saturation test into a mask
// register, so each lane gets the ymm kernel's bits (TestActivations512).

// bc broadcasts the constant v into a new zmm.
func bc(v float32) VecVirtual {
	z := ZMM()
	VBROADCASTSS(vc(v), z)
	return z
}

func bcBits(b uint32) VecVirtual {
	z := ZMM()
	VBROADCASTSS(vcBits(b), z)
	return z
}

// oddRational512 is oddRational on zmm.
func oddRational512(x VecVirtual, lim, sat float32, a, b []float32) VecVirtual {
	sgn, big := ZMM(), ZMM()
	VANDPS(bcBits(0x80000000), x, sgn)
	VORPS(bc(1), sgn, sgn) // ±1
	VANDPS(bcBits(0x7fffffff), x, big)
	VCMPPS(Imm(13), bc(sat), big, K2) // |x| >= sat (GE_OS; false for NaN)
	// clamp(x, -lim, lim), in clamp's operand order.
	t := bc(lim)
	VMINPS(x, t, t)
	VBROADCASTSS(vc(-lim), x)
	VMAXPS(t, x, x)
	x2 := ZMM()
	VMULPS(x, x, x2)
	p := bc(a[len(a)-1])
	for i := len(a) - 2; i >= 0; i-- {
		VFMADD213PS(bc(a[i]), x2, p)
	}
	VMULPS(x, p, p)
	q := bc(b[len(b)-1])
	for i := len(b) - 2; i >= 0; i-- {
		VFMADD213PS(bc(b[i]), x2, q)
	}
	VDIVPS(q, p, p)
	VBLENDMPS(sgn, p, K2, p) // p = big ? sgn : p
	return p
}

func tanh512(x VecVirtual) VecVirtual { return oddRational512(x, tanhMax, 9, tanhA, tanhB) }
func erf512(x VecVirtual) VecVirtual  { return oddRational512(x, 4, 3.92, erfA, erfB) }

func gelu512(x VecVirtual) VecVirtual {
	t := ZMM()
	VMULPS(bc(float32(1/math.Sqrt2)), x, t)
	e := erf512(t)
	VADDPS(bc(1), e, e)
	VMULPS(bc(0.5), x, x)
	VMULPS(x, e, e)
	return e
}

// unary512 emits dst[i] = f(x[i]) on zmm, 16 floats a step, the last
// len(dst) mod 16 through mask K1.
func unary512(name, what string, f func(x VecVirtual) VecVirtual) {
	TEXT(name, NOSPLIT, "func(dst, x []float32)")
	Pragma("noescape")
	Doc(name + ": " + what + " for i < len(dst), on zmm with the ymm kernel's arithmetic.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	rem, tb := GP64(), GP64()
	MOVQ(n, rem)
	ANDQ(Imm(15), rem)
	LEAQ(lowMasks(), tb)
	KMOVW(Mem{Base: tb, Index: rem, Scale: 2}, K1)
	SHRQ(Imm(4), n)
	Label(name + "_loop")
	TESTQ(n, n)
	JZ(LabelRef(name + "_tail"))
	x := ZMM()
	VMOVUPS(Mem{Base: px}, x)
	VMOVUPS(f(x), Mem{Base: d})
	ADDQ(Imm(64), px)
	ADDQ(Imm(64), d)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_tail")
	TESTQ(rem, rem)
	JZ(LabelRef(name + "_done"))
	xt := ZMM()
	VMOVUPS_Z(Mem{Base: px}, K1, xt)
	VMOVUPS(f(xt), K1, Mem{Base: d})
	Label(name + "_done")
	end()
}
