package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// packA6 emits the AVX-512 packing of six rows of A (row stride lda floats)
// into the GEMM's 6-row panel layout, 16 columns a block:
//
//	dst[16·6·b + 6p + i] = a[i·lda + 16b + p]	(i < 6, p < 16, b < blocks)
//
// Six row loads, then two rounds of two-source permutes: the rows are
// interleaved in pairs (r0,r1), (r2,r3), (r4,r5), each pair a run of
// 64-bit (row i, row i+1) elements; then each output vector takes its
// eight 64-bit elements from the three pairs, two permutes a vector. A
// pure copy: the bits are those of the scalar loop.
func packA6() {
	name := "packA6AVX512"
	TEXT(name, NOSPLIT, "func(dst, a []float32, lda, blocks int)")
	Pragma("noescape")
	Doc(name + " packs six rows of a (row stride lda) as 6-row panel steps, 16 columns a block: dst[96b + 6p + i] = a[i·lda + 16b + p].")
	// Pair interleave: lo takes columns 0..7 of both rows, hi 8..15
	// (indices ≥ 16 select the second source).
	pairLo := GLOBL("packa6_pairlo", RODATA|NOPTR)
	for q := 0; q < 8; q++ {
		DATA(8*q, U32(q))
		DATA(8*q+4, U32(16+q))
	}
	pairHi := GLOBL("packa6_pairhi", RODATA|NOPTR)
	for q := 0; q < 8; q++ {
		DATA(8*q, U32(8+q))
		DATA(8*q+4, U32(24+q))
	}
	// Output vector v (of three a half) holds 64-bit elements e = 8v+j,
	// e = 3p + s: pair s at column p. The first permute takes pairs 0 and
	// 1 (index p, or 8+p; the pair-2 slots take anything), the second
	// keeps slot j (index j) or takes pair 2 at p (index 8+p).
	first := GLOBL("packa6_first", RODATA|NOPTR)
	for e := 0; e < 24; e++ {
		p, s := e/3, e%3
		f := uint64(p)
		if s == 1 {
			f = uint64(8 + p)
		}
		DATA(8*e, U64(f))
	}
	second := GLOBL("packa6_second", RODATA|NOPTR)
	for e := 0; e < 24; e++ {
		p, s := e/3, e%3
		g := uint64(e % 8)
		if s == 2 {
			g = uint64(8 + p)
		}
		DATA(8*e, U64(g))
	}
	d := Load(Param("dst").Base(), GP64())
	a := Load(Param("a").Base(), GP64())
	lda := Load(Param("lda"), GP64())
	n := Load(Param("blocks"), GP64())
	SHLQ(Imm(2), lda)
	a3 := GP64()
	LEAQ(Mem{Base: a, Index: lda, Scale: 2}, a3)
	ADDQ(lda, a3) // row 3
	rows := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5}
	pairs := []VecPhysical{Z6, Z7, Z8, Z9, Z10, Z11} // lo, hi of each pair
	t, u := Z12, Z13
	Label("packa6_loop")
	TESTQ(n, n)
	JZ(LabelRef("packa6_done"))
	VMOVUPS(Mem{Base: a}, rows[0])
	VMOVUPS(Mem{Base: a, Index: lda, Scale: 1}, rows[1])
	VMOVUPS(Mem{Base: a, Index: lda, Scale: 2}, rows[2])
	VMOVUPS(Mem{Base: a3}, rows[3])
	VMOVUPS(Mem{Base: a3, Index: lda, Scale: 1}, rows[4])
	VMOVUPS(Mem{Base: a3, Index: lda, Scale: 2}, rows[5])
	for s := 0; s < 3; s++ {
		VMOVUPS(pairLo, pairs[2*s])
		VPERMI2PS(rows[2*s+1], rows[2*s], pairs[2*s])
		VMOVUPS(pairHi, pairs[2*s+1])
		VPERMI2PS(rows[2*s+1], rows[2*s], pairs[2*s+1])
	}
	for h := 0; h < 2; h++ {
		for v := 0; v < 3; v++ {
			VMOVUPS(first.Offset(64*v), t)
			VPERMI2PD(pairs[2+h], pairs[h], t)
			VMOVUPS(second.Offset(64*v), u)
			VPERMI2PD(pairs[4+h], t, u)
			VMOVUPS(u, Mem{Base: d, Disp: 64 * (3*h + v)})
		}
	}
	ADDQ(U32(64), a)
	ADDQ(U32(64), a3)
	ADDQ(U32(384), d)
	DECQ(n)
	JMP(LabelRef("packa6_loop"))
	Label("packa6_done")
	VZEROUPPER()
	RET()
}

// segRows emits the im2col copy of a panel whose 16 outputs span up to four
// output rows: each output row's outputs are a run of consecutive floats,
// read with one masked load, merged into the panel row:
//
//	dst[16r+t] = *(base + rows[r] + segs[s] + 4t) for the s whose mask
//	masks[s] has bit t, 0 where none has it
//
// (offsets in bytes). Lanes outside a mask are not read, so the offsets may
// point anywhere for them. Four masked loads a row instead of a 16-lane
// gather.
func segRows() {
	TEXT("segRowsAVX512", NOSPLIT, "func(dst []float32, base *float32, rows []int32, segs *[4]int32, masks *[4]uint16)")
	Pragma("noescape")
	Doc("segRowsAVX512 writes 16 floats per row r: dst[16r+t] = *(base + rows[r] + segs[s] + 4t) for the s with bit t of masks[s], else 0.")
	d := Load(Param("dst").Base(), GP64())
	b := Load(Param("base"), GP64())
	r := Load(Param("rows").Base(), GP64())
	n := Load(Param("rows").Len(), GP64())
	sp := Load(Param("segs"), GP64())
	mp := Load(Param("masks"), GP64())
	ks := []Register{K1, K2, K3, K4}
	offs := make([]Register, 4)
	for s := range offs {
		offs[s] = GP64()
		MOVLQSX(Mem{Base: sp, Disp: 4 * s}, offs[s])
		KMOVW(Mem{Base: mp, Disp: 2 * s}, ks[s])
	}
	off := GP64()
	Label("segrows_loop")
	TESTQ(n, n)
	JZ(LabelRef("segrows_done"))
	MOVLQSX(Mem{Base: r}, off)
	ADDQ(b, off)
	VMOVUPS_Z(Mem{Base: off, Index: offs[0], Scale: 1}, ks[0], Z0)
	for s := 1; s < 4; s++ {
		VMOVUPS(Mem{Base: off, Index: offs[s], Scale: 1}, ks[s], Z0)
	}
	VMOVUPS(Z0, Mem{Base: d})
	ADDQ(U32(64), d)
	ADDQ(U32(4), r)
	DECQ(n)
	JMP(LabelRef("segrows_loop"))
	Label("segrows_done")
	VZEROUPPER()
	RET()
}
