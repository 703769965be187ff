package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// width is the vector width a generator emits for: ymm (8 lanes,
// constants read from their 8-lane tables) or zmm (16 lanes, constants
// broadcast from the same tables into registers), so one generator gives
// both levels the same arithmetic (oddRational; TestActivations512).
type width int

const (
	ymm width = 8
	zmm width = 16
)

// vec is a new vector register of w.
func (w width) vec() VecVirtual {
	if w == zmm {
		return ZMM()
	}
	return YMM()
}

// c is the constant v as an operand of w's instructions.
func (w width) c(v float32) Op { return w.cBits(math.Float32bits(v)) }

func (w width) cBits(b uint32) Op {
	if w == zmm {
		z := ZMM()
		VBROADCASTSS(vcBits(b), z)
		return z
	}
	return vcBits(b)
}

// set loads the constant v into every lane of r.
func (w width) set(r VecVirtual, v float32) {
	if w == zmm {
		VBROADCASTSS(vc(v), r)
	} else {
		VMOVUPS(vc(v), r)
	}
}

// load is a new register holding the constant v.
func (w width) load(v float32) VecVirtual {
	r := w.vec()
	w.set(r, v)
	return r
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
	rem := tailMask(n)
	SHRQ(Imm(4), n)
	zmmMap(name, n, rem, px, d, f)
	end()
}

// tailMask sets K1 to the low n mod 16 lanes and returns n mod 16.
func tailMask(n Register) Register {
	rem, tb := GP64(), GP64()
	MOVQ(n, rem)
	ANDQ(Imm(15), rem)
	LEAQ(lowMasks(), tb)
	KMOVW(Mem{Base: tb, Index: rem, Scale: 2}, K1)
	return rem
}

// zmmMap emits dst = f(src) over full steps of 16 floats (full is counted
// down) and then rem floats (0–15) through mask K1 (tailMask), advancing
// src and dst; src and dst may be the same. It falls through to the code
// after it.
func zmmMap(name string, full, rem, src, dst Register, f func(x VecVirtual) VecVirtual) {
	Label(name + "_loop")
	TESTQ(full, full)
	JZ(LabelRef(name + "_tail"))
	x := ZMM()
	VMOVUPS(Mem{Base: src}, x)
	VMOVUPS(f(x), Mem{Base: dst})
	ADDQ(Imm(64), src)
	if dst != src {
		ADDQ(Imm(64), dst)
	}
	DECQ(full)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_tail")
	TESTQ(rem, rem)
	JZ(LabelRef(name + "_mapped"))
	xt := ZMM()
	VMOVUPS_Z(Mem{Base: src}, K1, xt)
	VMOVUPS(f(xt), K1, Mem{Base: dst})
	Label(name + "_mapped")
}
