package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// pool2x2 emits the 2×2 stride-2 pooling row kernel on zmm: output i reads
// r0[2i], r0[2i+1], r1[2i], r1[2i+1] (a, b, c, d), split into even and odd
// lanes by two permutes a row. avg writes (((0 + a) + b) + c) + d times 1/4
// (the scalar loop's order, and a product by 1/4 rounds as the division by
// 4); max writes max32(max32(max32(max32(-Inf, a), b), c), d), where
// max32(v, x) is x if x > v, else v: VMAXPS returns its second source when
// the first is not greater (NaN, equal zeros), so NaN taps are skipped and
// the first of equal taps is kept, as in the scalar loop.
func pool2x2(name string, avg bool) {
	TEXT(name, NOSPLIT, "func(dst, r0, r1 []float32)")
	Pragma("noescape")
	what := "max"
	if avg {
		what = "mean"
	}
	Doc(name + ": dst[i] = the " + what + " of r0[2i], r0[2i+1], r1[2i], r1[2i+1] (in that order) for i < len(dst) rounded down to 16; r0 and r1 must hold twice that.")
	evenIdx := GLOBL(name+"_even", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(2*i))
	}
	oddIdx := GLOBL(name+"_odd", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(2*i+1))
	}
	d := Load(Param("dst").Base(), GP64())
	p0 := Load(Param("r0").Base(), GP64())
	p1 := Load(Param("r1").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(4), n)
	even, odd, init := ZMM(), ZMM(), ZMM()
	VMOVUPS(evenIdx, even)
	VMOVUPS(oddIdx, odd)
	if avg {
		VBROADCASTSS(vc(0.25), init) // the scale; the sum starts from a zeroed register
	} else {
		VBROADCASTSS(vc(float32(math.Inf(-1))), init)
	}
	Label(name + "_loop")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	acc := ZMM()
	if avg {
		VPXORD(acc, acc, acc)
	} else {
		VMOVAPS(init, acc)
	}
	for _, p := range []Register{p0, p1} {
		lo, hi, e, o := ZMM(), ZMM(), ZMM(), ZMM()
		VMOVUPS(Mem{Base: p}, lo)
		VMOVUPS(Mem{Base: p, Disp: 64}, hi)
		VMOVAPS(even, e)
		VPERMI2PS(hi, lo, e)
		VMOVAPS(odd, o)
		VPERMI2PS(hi, lo, o)
		for _, t := range []VecVirtual{e, o} {
			if avg {
				VADDPS(t, acc, acc) // acc + t, acc the first source as in s += t
			} else {
				VMAXPS(acc, t, acc) // t if t > acc, else acc
			}
		}
	}
	if avg {
		VMULPS(init, acc, acc)
	}
	VMOVUPS(acc, Mem{Base: d})
	ADDQ(U32(128), p0)
	ADDQ(U32(128), p1)
	ADDQ(U32(64), d)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
