package main

import (
	"github.com/mmcloughlin/avo/ir"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// vpdpbusdBcst emits VPDPBUSD.BCST m, u, acc: acc's int32 lanes += the four
// u8 (u) · s8 (m, one dword broadcast) products of each lane. avo 0.5 has
// no AVX512_VNNI forms, so the instruction is built by hand (the Go
// assembler knows it).
func vpdpbusdBcst(m Mem, u, acc VecPhysical) {
	Instruction(&ir.Instruction{
		Opcode:   "VPDPBUSD",
		Suffixes: []string{"BCST"},
		Operands: []Op{m, u, acc},
		Inputs:   []Op{m, u, acc},
		Outputs:  []Op{acc},
		ISA:      []string{"AVX512_VNNI"},
	})
}

// gemmU8I8VNNI emits the 8×32 integer micro-kernel: c = a·b over k4 steps,
// a an 8-row int8 panel (32 bytes a step), b a 32-column uint8 panel (128
// bytes a step), c int32 with row stride ldc.
func gemmU8I8VNNI() {
	name := "gemmU8I8VNNI"
	TEXT(name, NOSPLIT, "func(k4 int, a *int8, b *uint8, c *int32, ldc int)")
	Pragma("noescape")
	Doc(name + " is the 8×32 u8·s8 micro-kernel (AVX-512 VNNI): c = a·b over k4 packed steps of four, int32 sums.")
	k := Load(Param("k4"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	zs := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23}
	acc := zs[:16]
	for _, r := range acc {
		VPXORD(r, r, r)
	}
	v := [][2]VecPhysical{{zs[16], zs[17]}, {zs[18], zs[19]}}
	step := func(s int) {
		u := v[s%2]
		VMOVDQU32(Mem{Base: b, Disp: 128 * s}, u[0])
		VMOVDQU32(Mem{Base: b, Disp: 128*s + 64}, u[1])
		for i := 0; i < 8; i++ {
			m := Mem{Base: a, Disp: 32*s + 4*i}
			vpdpbusdBcst(m, u[0], acc[2*i])
			vpdpbusdBcst(m, u[1], acc[2*i+1])
		}
	}
	const unroll = 4
	lbl := func(s string) string { return "i8v_" + s }
	Label(lbl("loop4"))
	CMPQ(k, Imm(unroll))
	JL(LabelRef(lbl("loop1")))
	PREFETCHT0(Mem{Base: b, Disp: 128 * unroll * 2})
	PREFETCHT0(Mem{Base: b, Disp: 128*unroll*2 + 64})
	for s := 0; s < unroll; s++ {
		step(s)
	}
	ADDQ(U32(32*unroll), a)
	ADDQ(U32(128*unroll), b)
	SUBQ(U32(unroll), k)
	JMP(LabelRef(lbl("loop4")))
	Label(lbl("loop1"))
	TESTQ(k, k)
	JZ(LabelRef(lbl("store")))
	step(0)
	ADDQ(U32(32), a)
	ADDQ(U32(128), b)
	DECQ(k)
	JMP(LabelRef(lbl("loop1")))
	Label(lbl("store"))
	for i := 0; i < 8; i++ {
		VMOVDQU32(acc[2*i], Mem{Base: c})
		VMOVDQU32(acc[2*i+1], Mem{Base: c, Disp: 64})
		if i < 7 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// gemmU8I8AVX2 emits the AVX2 twin of gemmU8I8VNNI over the same packed
// panels. VPMADDUBSW would add two u8·s8 products into a saturating int16
// (255·127·2 > 32767), so both operands are widened to 16 bits and
// multiplied by VPMADDWD, whose int32 pair sums cannot overflow. The tile is
// done in 2-row × 16-column parts, each over all of k (the B panel stays in
// L1); each accumulator lane holds a pair sum, and the pairs of a column are
// added at the end.
func gemmU8I8AVX2() {
	name := "gemmU8I8AVX2"
	TEXT(name, NOSPLIT, "func(k4 int, a *int8, b *uint8, c *int32, ldc int)")
	Pragma("noescape")
	Doc(name + " is the 8×32 u8·s8 micro-kernel (AVX2, exact through 16-bit VPMADDWD): c = a·b over k4 packed steps of four, int32 sums.")
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	for r0 := 0; r0 < 8; r0 += 2 {
		for h := 0; h < 2; h++ {
			lbl := func(s string) string { return "i8a_" + s + string(rune('0'+r0)) + string(rune('0'+h)) }
			k := Load(Param("k4"), GP64())
			a := Load(Param("a"), GP64())
			b := Load(Param("b"), GP64())
			var acc [2][4]VecVirtual
			for i := range acc {
				for j := range acc[i] {
					acc[i][j] = YMM()
					VPXOR(acc[i][j], acc[i][j], acc[i][j])
				}
			}
			Label(lbl("loop"))
			TESTQ(k, k)
			JZ(LabelRef(lbl("done")))
			var bv [4]VecVirtual
			for j := range bv {
				bv[j] = YMM()
				VPMOVZXBW(Mem{Base: b, Disp: 64*h + 16*j}, bv[j])
			}
			for i := 0; i < 2; i++ {
				w := XMM()
				VPBROADCASTD(Mem{Base: a, Disp: 4 * (r0 + i)}, w)
				wy := YMM()
				VPMOVSXBW(w, wy)
				for j := range bv {
					t := YMM()
					VPMADDWD(bv[j], wy, t)
					VPADDD(t, acc[i][j], acc[i][j])
				}
			}
			ADDQ(U32(32), a)
			ADDQ(U32(128), b)
			DECQ(k)
			JMP(LabelRef(lbl("loop")))
			Label(lbl("done"))
			c := Load(Param("c"), GP64())
			if r0 > 0 {
				off := GP64()
				MOVQ(ldc, off)
				IMUL3Q(Imm(uint64(r0)), off, off)
				ADDQ(off, c)
			}
			for i := 0; i < 2; i++ {
				for q := 0; q < 2; q++ {
					s := YMM()
					// lane 0: c0 c1 c4 c5, lane 1: c2 c3 c6 c7, then in order.
					VPHADDD(acc[i][2*q+1], acc[i][2*q], s)
					VPERMQ(Imm(0xD8), s, s)
					VMOVDQU(s, Mem{Base: c, Disp: 64*h + 32*q})
				}
				if i == 0 {
					ADDQ(ldc, c)
				}
			}
		}
	}
	VZEROUPPER()
	RET()
}

// packU8x4 emits the packing of one full 32-column panel of a uint8
// matrix for the integer GEMM: for each of k4 steps, rows 4q..4q+3 (ldb
// bytes apart) are interleaved byte by byte into 32 columns × 4 bytes.
func packU8x4() {
	name := "packU8x4AVX"
	TEXT(name, NOSPLIT, "func(dst *uint8, src *uint8, ldb int, k4 int)")
	Pragma("noescape")
	Doc(name + " packs k4 steps of four 32-byte rows of src (ldb bytes apart) into dst as 32 columns × 4 bytes a step.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	ldb := Load(Param("ldb"), GP64())
	k := Load(Param("k4"), GP64())
	ldb3 := GP64()
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
	Label("pk_loop")
	TESTQ(k, k)
	JZ(LabelRef("pk_done"))
	for h := 0; h < 2; h++ {
		r := [4]VecVirtual{XMM(), XMM(), XMM(), XMM()}
		VMOVDQU(Mem{Base: src, Disp: 16 * h}, r[0])
		VMOVDQU(Mem{Base: src, Index: ldb, Scale: 1, Disp: 16 * h}, r[1])
		VMOVDQU(Mem{Base: src, Index: ldb, Scale: 2, Disp: 16 * h}, r[2])
		VMOVDQU(Mem{Base: src, Index: ldb3, Scale: 1, Disp: 16 * h}, r[3])
		t0, t1, t2, t3 := XMM(), XMM(), XMM(), XMM()
		VPUNPCKLBW(r[1], r[0], t0) // r0[0] r1[0] r0[1] r1[1] … (columns 0-7)
		VPUNPCKHBW(r[1], r[0], t1) // columns 8-15
		VPUNPCKLBW(r[3], r[2], t2)
		VPUNPCKHBW(r[3], r[2], t3)
		o := [4]VecVirtual{XMM(), XMM(), XMM(), XMM()}
		VPUNPCKLWD(t2, t0, o[0]) // columns 0-3, four rows each
		VPUNPCKHWD(t2, t0, o[1])
		VPUNPCKLWD(t3, t1, o[2])
		VPUNPCKHWD(t3, t1, o[3])
		for i := range o {
			VMOVDQU(o[i], Mem{Base: dst, Disp: 64*h + 16*i})
		}
	}
	ADDQ(U32(128), dst)
	LEAQ(Mem{Base: src, Index: ldb, Scale: 4}, src)
	DECQ(k)
	JMP(LabelRef("pk_loop"))
	Label("pk_done")
	RET()
}

// colSumsU8 emits the column sums of a packed uint8 panel (k4 steps of 32
// columns × 4 bytes): sums[j] = Σ of column j's bytes. VPMADDUBSW against
// int8 ones adds byte pairs (at most 510: no saturation), VPMADDWD against
// int16 ones the pairs, into one int32 lane a column. The integer
// convolutions' zero-point fix needs these sums; the Go loop over the
// unpacked columns cost more than the product.
func colSumsU8() {
	name := "colSumsU8AVX2"
	TEXT(name, NOSPLIT, "func(k4 int, b *uint8, sums *int32)")
	Pragma("noescape")
	Doc(name + " sets sums[0..32) to the column sums of a packed uint8 panel of k4 steps (32 columns × 4 bytes a step).")
	k := Load(Param("k4"), GP64())
	b := Load(Param("b"), GP64())
	s := Load(Param("sums"), GP64())
	ones8, ones16 := YMM(), YMM()
	VMOVDQU(vcBits(0x01010101), ones8)
	VMOVDQU(vcBits(0x00010001), ones16)
	acc := [4]VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range acc {
		VPXOR(a, a, a)
	}
	Label("cs8_loop")
	TESTQ(k, k)
	JZ(LabelRef("cs8_done"))
	for i, a := range acc {
		t := YMM()
		VMOVDQU(Mem{Base: b, Disp: 32 * i}, t)
		VPMADDUBSW(ones8, t, t) // u8 t · s8 ones: pair sums in int16
		VPMADDWD(ones16, t, t)
		VPADDD(t, a, a)
	}
	ADDQ(U32(128), b)
	DECQ(k)
	JMP(LabelRef("cs8_loop"))
	Label("cs8_done")
	for i, a := range acc {
		VMOVDQU(a, Mem{Base: s, Disp: 32 * i})
	}
	VZEROUPPER()
	RET()
}

// i32ScaleShiftClip emits dst[i] = min(max(float32(src[i]+t)·s + b, lo), hi)
// for n a multiple of 8, the product and the sum rounded separately (no
// FMA), as the Go twin computes it: the requantization of integer
// convolution rows.
func i32ScaleShiftClip() {
	name := "i32ScaleShiftClipAVX"
	TEXT(name, NOSPLIT, "func(dst *float32, src *int32, n int, t int32, s, b, lo, hi float32)")
	Pragma("noescape")
	Doc(name + " sets dst[i] = min(max(float32(src[i]+t)·s + b, lo), hi) for n (a multiple of 8) elements.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	tv, sv, bv, lov, hiv := YMM(), YMM(), YMM(), YMM(), YMM()
	tg := Load(Param("t"), GP32())
	tx := XMM()
	VMOVD(tg, tx)
	VPBROADCASTD(tx, tv)
	bcastParam("s", sv)
	bcastParam("b", bv)
	bcastParam("lo", lov)
	bcastParam("hi", hiv)
	Label("rq_loop")
	CMPQ(n, Imm(8))
	JL(LabelRef("rq_done"))
	x := YMM()
	VPADDD(Mem{Base: src}, tv, x)
	VCVTDQ2PS(x, x)
	VMULPS(sv, x, x)
	VADDPS(bv, x, x)
	VMAXPS(lov, x, x)
	VMINPS(hiv, x, x)
	VMOVUPS(x, Mem{Base: dst})
	ADDQ(U32(32), src)
	ADDQ(U32(32), dst)
	SUBQ(U32(8), n)
	JMP(LabelRef("rq_loop"))
	Label("rq_done")
	VZEROUPPER()
	RET()
}

// vpdpbusd emits VPDPBUSD m, u, acc without broadcast: acc's int32 lanes
// += the four u8 (u) · s8 (m) products of each lane.
func vpdpbusd(m Op, u, acc Op) {
	Instruction(&ir.Instruction{
		Opcode:   "VPDPBUSD",
		Operands: []Op{m, u, acc},
		Inputs:   []Op{m, u, acc},
		Outputs:  []Op{acc},
		ISA:      []string{"AVX512_VNNI"},
	})
}

// gemvU8I8VNNI emits the matrix-vector product of the int8 GEMM (one
// column of B): for each of panels packed A panels (k4 steps × 8 rows × 4
// bytes), c[0..8) = the panel's rows · x, where x2 holds x's steps in
// pairs, each step's four bytes repeated for the 8 rows (64 bytes a pair):
// one VPDPBUSD covers two steps of 8 rows, even steps in the low lanes and
// odd ones in the high, added together at the end. An odd last step runs
// on ymm. No column panel to pack, no 32-column tile for one column.
func gemvU8I8VNNI() {
	name := "gemvU8I8VNNI"
	TEXT(name, NOSPLIT, "func(k4 int, a *int8, x2 *uint8, panels int, c *int32)")
	Pragma("noescape")
	Doc(name + " is the int8 GEMM's matrix-vector product (AVX-512 VNNI): 8 rows of c per packed A panel.")
	a := Load(Param("a"), GP64())
	c := Load(Param("c"), GP64())
	np := Load(Param("panels"), GP64())
	acc, xv, hi := Z0, Z1, Y2
	Label("gemv_panel")
	TESTQ(np, np)
	JZ(LabelRef("gemv_done"))
	VPXORD(acc, acc, acc)
	xp := Load(Param("x2"), GP64())
	n := Load(Param("k4"), GP64())
	SHRQ(Imm(1), n)
	Label("gemv_pair")
	TESTQ(n, n)
	JZ(LabelRef("gemv_fold"))
	VMOVDQU32(Mem{Base: xp}, xv)
	vpdpbusd(Mem{Base: a}, xv, acc)
	ADDQ(Imm(64), a)
	ADDQ(Imm(64), xp)
	DECQ(n)
	JMP(LabelRef("gemv_pair"))
	Label("gemv_fold")
	VEXTRACTI64X4(Imm(1), acc, hi)
	VPADDD(hi, acc.AsY(), acc.AsY())
	odd := Load(Param("k4"), GP64())
	TESTQ(U32(1), odd)
	JZ(LabelRef("gemv_store"))
	VMOVDQU32(Mem{Base: xp}, xv.AsY())
	vpdpbusd(Mem{Base: a}, Y1, Y0)
	ADDQ(Imm(32), a)
	Label("gemv_store")
	VMOVDQU32(acc.AsY(), Mem{Base: c})
	ADDQ(Imm(32), c)
	DECQ(np)
	JMP(LabelRef("gemv_panel"))
	Label("gemv_done")
	VZEROUPPER()
	RET()
}

// packQ8 clamps x (eight float32 lanes, integral after rounding) to
// [lo, hi], zeroes NaN lanes (NaN as the second source of max and min
// passes through both; msk is scratch) and packs it into the low eight
// bytes of h, signed or unsigned.
func packQ8(signed bool, x VecVirtual, lo, hi Op, msk VecVirtual, h VecVirtual) {
	VMAXPS(x, lo, x)
	VMINPS(x, hi, x)
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
}
