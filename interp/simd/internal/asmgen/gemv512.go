package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// axpy8512 is axpy8 on zmm: y[i] += s[r]·x_r[i] for r = 0…7 in turn, each
// element's eight multiply-adds fused and in the same order as the ymm
// kernel's (so the same bits), eight vectors of y a round so that eight
// chains of multiply-adds are in flight (the ymm kernel's four leave the
// FMA units waiting on latency when B is in cache: a large model's few-row
// products), then one vector, then the last len(y) mod 16 through mask K1.
func axpy8512() {
	const name = "axpy8AVX512"
	TEXT(name, NOSPLIT, "func(y []float32, x *float32, ldx int, s *[8]float32)")
	Pragma("noescape")
	Doc(name + ": for r = 0..7 in turn, y[i] += s[r]*x[r*ldx+i] for i < len(y), on zmm.")
	py, n, sv, row, ptrs := axpy8Args(func() VecVirtual { return ZMM() })
	adv := func(elems int) {
		for _, p := range ptrs {
			ADDQ(U32(4*elems), p)
		}
		SUBQ(U32(elems), n)
	}
	const u = 8
	Label(name + "_loopu")
	CMPQ(n, U32(16*u))
	JL(LabelRef(name + "_loop1"))
	ys := make([]VecVirtual, u)
	for v := range ys {
		ys[v] = ZMM()
		VMOVUPS(Mem{Base: py, Disp: 64 * v}, ys[v])
	}
	// Row by row across the eight vectors: eight independent chains.
	for r := range sv {
		for v := range ys {
			VFMADD231PS(row(r, 64*v), sv[r], ys[v])
		}
	}
	for v := range ys {
		VMOVUPS(ys[v], Mem{Base: py, Disp: 64 * v})
	}
	adv(16 * u)
	JMP(LabelRef(name + "_loopu"))
	Label(name + "_loop1")
	CMPQ(n, Imm(16))
	JL(LabelRef(name + "_tail"))
	y := ZMM()
	VMOVUPS(Mem{Base: py}, y)
	for r := range sv {
		VFMADD231PS(row(r, 0), sv[r], y)
	}
	VMOVUPS(y, Mem{Base: py})
	adv(16)
	JMP(LabelRef(name + "_loop1"))
	Label(name + "_tail")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	tailMask(n) // n < 16 here: K1 has its low n bits
	yt := ZMM()
	VMOVUPS_Z(Mem{Base: py}, K1, yt)
	for r := range sv {
		x := ZMM()
		VMOVUPS_Z(row(r, 0), K1, x) // masked: no read past the rows' ends
		VFMADD231PS(x, sv[r], yt)
	}
	VMOVUPS(yt, K1, Mem{Base: py})
	Label(name + "_done")
	end()
}
