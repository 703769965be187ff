package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gemmCol emits the one-column kernel over np full 6-row A panels (the
// second astride floats after the first, and so on): for column j of a
// packed 16-column B panel (b points at its step 0, steps 16 floats apart),
//
//	out[8p + i] = Σ_s a_p[6s + i] · b[16s]	(i < 6; lanes 6, 7 are scratch)
//
// one FMA chain per element in step order from +0, as in the 16-column
// kernels, so the sums are theirs bit for bit. A ragged last B panel of one
// or two columns costs a sixteenth-wide pass per column instead of a whole
// panel. Each step loads eight floats of a panel (two of the next step);
// the last step loads six through a mask, so nothing past the panel is read.
func gemmCol(np int) {
	name := fmt.Sprintf("gemmCol%dAVX", np)
	TEXT(name, NOSPLIT, "func(k int, a *float32, astride int, b *float32, out *float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s: out[8p+i] = Σ_s a[p·astride + 6s + i]·b[16s] for %d 6-row panels p, i < 6, over k ≥ 1 steps.", name, np))
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	as := Load(Param("astride"), GP64())
	b := Load(Param("b"), GP64())
	out := Load(Param("out"), GP64())
	SHLQ(Imm(2), as)
	ptrs := make([]GPVirtual, np)
	for p := range ptrs {
		ptrs[p] = GP64()
		if p == 0 {
			MOVQ(a, ptrs[p])
		} else {
			LEAQ(Mem{Base: ptrs[p-1], Index: as, Scale: 1}, ptrs[p])
		}
	}
	acc := make([]VecPhysical, np)
	for p := range acc {
		acc[p] = Y(p)
		VXORPS(acc[p], acc[p], acc[p])
	}
	t, x := Y(8), Y(9)
	lbl := func(s string) string { return fmt.Sprintf("gcol%d_%s", np, s) }
	DECQ(k) // the last step is masked
	Label(lbl("loop"))
	TESTQ(k, k)
	JZ(LabelRef(lbl("last")))
	VBROADCASTSS(Mem{Base: b}, t)
	for p := range ptrs {
		VMOVUPS(Mem{Base: ptrs[p]}, x)
		VFMADD231PS(x, t, acc[p])
	}
	for p := range ptrs {
		ADDQ(U32(24), ptrs[p])
	}
	ADDQ(U32(64), b)
	DECQ(k)
	JMP(LabelRef(lbl("loop")))
	Label(lbl("last"))
	m := Y(10)
	VMOVUPS(mask.Offset(4*(8-6)), m) // six lanes
	VBROADCASTSS(Mem{Base: b}, t)
	for p := range ptrs {
		VMASKMOVPS(Mem{Base: ptrs[p]}, m, x)
		VFMADD231PS(x, t, acc[p])
	}
	for p := range acc {
		VMOVUPS(acc[p], Mem{Base: out, Disp: 32 * p})
	}
	VZEROUPPER()
	RET()
}
