package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// dwPlaneBlocked512 emits the plane form of the 3×3 depthwise kernel on
// zmm with output rows register-blocked: four output rows (then two, then
// one) a column block, so each input row is loaded once per block and
// feeds every output row that reads it (up to three at stride 1, two at
// stride 2) instead of once per tap per output. The nine filter taps, the
// bias and +0 stay in registers. Per output the products and sums are
// dwKernel512's, in the same order and operand order (four taps a group
// from +0, then p8, then the bias), so the bits are those of the row
// kernels. Column blocks run from the last to the first: the last block's
// columns past OutW land in the next row's first block, which is stored
// after it.
func dwPlaneBlocked512(name string, s int) {
	TEXT(name, NOSPLIT, "func(dst, src, w []float32, bias float32, rows, ow8, dstStride, pw int)")
	Doc(fmt.Sprintf("%s: dwPlane3s%dAVX's whole channel on zmm, four output rows a column block (the same bits).", name, s))
	Pragma("noescape")
	w, bias, zero, even, odd := dw3Consts512(name, s)
	dBase := Load(Param("dst").Base(), GP64())
	rBase := Load(Param("src").Base(), GP64())
	left := Load(Param("rows"), GP64())
	n8 := Load(Param("ow8"), GP64())
	SHRQ(Imm(3), n8)
	dStride := Load(Param("dstStride"), GP64())
	SHLQ(Imm(2), dStride)
	rowB := Load(Param("pw"), GP64())
	SHLQ(Imm(2), rowB)
	off, p, q := GP64(), GP64(), GP64()

	// load returns input row p's three column taps for the block: x_c[j]
	// = row[s·j+c] for the block's outputs j.
	load := func(wide bool) (x0, x1, x2 VecVirtual) {
		if s == 1 {
			vec := func() VecVirtual {
				if wide {
					return ZMM()
				}
				return YMM()
			}
			x0, x1, x2 = vec(), vec(), vec()
			VMOVUPS(Mem{Base: p}, x0)
			VMOVUPS(Mem{Base: p, Disp: 4}, x1)
			VMOVUPS(Mem{Base: p, Disp: 8}, x2)
			return
		}
		x0, x1, x2 = ZMM(), ZMM(), ZMM()
		if !wide {
			// Eight outputs read 16 floats (VPERMPS takes indices mod 16).
			VPERMPS(Mem{Base: p}, even, x0)
			VPERMPS(Mem{Base: p}, odd, x1)
			VPERMPS(Mem{Base: p, Disp: 8}, even, x2)
			return x0.AsY().(VecVirtual), x1.AsY().(VecVirtual), x2.AsY().(VecVirtual)
		}
		a, next := ZMM(), ZMM()
		VMOVUPS(Mem{Base: p}, a)
		VMOVAPS(even, x0)
		VPERMI2PS(Mem{Base: p, Disp: 64}, a, x0)
		VMOVAPS(odd, x1)
		VPERMI2PS(Mem{Base: p, Disp: 64}, a, x1)
		// Column 2 is column 0 one output on: x0's lanes 1..15, then
		// row[32].
		VBROADCASTSS(Mem{Base: p, Disp: 128}, next)
		VALIGND(Imm(1), x0, next, x2)
		return
	}

	group := func(R int, wide bool) {
		as := func(v VecVirtual) VecVirtual {
			if wide {
				return v
			}
			return v.AsY().(VecVirtual)
		}
		vec := func() VecVirtual {
			if wide {
				return ZMM()
			}
			return YMM()
		}
		MOVQ(rBase, p)
		MOVQ(dBase, q)
		if s == 2 {
			// Input columns run twice as fast as output columns.
			ADDQ(off, p)
		}
		ADDQ(off, p)
		ADDQ(off, q)
		sum, acc := make([]VecVirtual, R), make([]VecVirtual, R)
		for o := range sum {
			sum[o], acc[o] = vec(), vec()
		}
		nIn := s*(R-1) + 3
		for i := 0; i < nIn; i++ {
			x := [3]VecVirtual{}
			x[0], x[1], x[2] = load(wide)
			for o := 0; o < R; o++ {
				if dw3RowStep(i-s*o, x, w, bias, zero, sum[o], acc[o], as, vec) {
					VMOVUPS(acc[o], Mem{Base: q})
					if o < R-1 {
						ADDQ(dStride, q)
					}
				}
			}
			if i < nIn-1 {
				ADDQ(rowB, p)
			}
		}
	}

	for _, R := range []int{4, 2, 1} {
		lbl := rowGroup(name, R, left)
		// The last eight-column block when their count is odd, on ymm.
		TESTQ(U32(1), n8)
		JZ(LabelRef(lbl + "_wide"))
		MOVQ(n8, off)
		DECQ(off)
		SHLQ(Imm(5), off)
		group(R, false)
		Label(lbl + "_wide")
		MOVQ(n8, off)
		ANDQ(I32(-2), off)
		SHLQ(Imm(5), off)
		Label(lbl + "_block")
		SUBQ(Imm(64), off)
		JS(LabelRef(lbl + "_rowsdone"))
		group(R, true)
		JMP(LabelRef(lbl + "_block"))
		Label(lbl + "_rowsdone")
		for k := 0; k < R; k++ {
			ADDQ(dStride, dBase)
		}
		for k := 0; k < s*R; k++ {
			ADDQ(rowB, rBase)
		}
		SUBQ(Imm(uint64(R)), left)
		JMP(LabelRef(lbl))
	}
	Label(name + "_done")
	end()
}

// dwDirect512 emits the 3×3 depthwise kernel that reads the input planes
// in place, with no zero-bordered copy: rows holds the padded plane's row
// pointers (a padding row points at a zero row), and each 16-output column
// block of blocks (four int64s: the byte offset of its first input
// column from a row's start, which may be negative; four 16-bit lane
// masks; the block's class, which of its loads need their masks; its first
// output's byte offset) loads the input columns that lie inside the row,
// the others reading +0 under the masks as from a zero border. The masks
// at stride 1 are taps 0, 1, 2's and the store's; at stride 2 the two
// 16-float halves', the column after them (a broadcast), and the store's.
// Output rows are register-blocked as in dwPlaneBlocked512 (four, two,
// one); a row's stores stay inside it. Per output the products and sums
// are dwKernel512's, so the same bits.
func dwDirect512(name string, s int) {
	TEXT(name, NOSPLIT, "func(dst *float32, rows []*float32, blocks []int64, w []float32, bias float32, outRows, dstStride int)")
	Doc(fmt.Sprintf("%s: outRows rows of the stride-%d 3×3 depthwise convolution, row i at dst[i·dstStride:], reading", name, s),
		fmt.Sprintf("the input rows rows[%d·i+r] (r < 3) under the column blocks' masks.", s))
	Pragma("noescape")
	w, bias, zero, even, odd := dw3Consts512(name, s)
	dBase := Load(Param("dst"), GP64())
	rp := Load(Param("rows").Base(), GP64())
	left := Load(Param("outRows"), GP64())
	dStride := Load(Param("dstStride"), GP64())
	SHLQ(Imm(2), dStride)
	bb := Load(Param("blocks").Base(), GP64())
	bend := Load(Param("blocks").Len(), GP64())
	LEAQ(Mem{Base: bb, Index: bend, Scale: 8}, bend)
	bp, off, p, q, dcol := GP64(), GP64(), GP64(), GP64(), GP64()

	// load loads under load i's mask (K1, K2, K3) when bit i of cls is
	// set, plainly otherwise.
	load := func(i int, cls int) (x0, x1, x2 VecVirtual) {
		MOVQ(Mem{Base: rp, Disp: 8 * i}, p)
		ADDQ(off, p)
		x0, x1, x2 = ZMM(), ZMM(), ZMM()
		mov := func(m Mem, i int, dst VecVirtual) {
			if cls&(1<<i) != 0 {
				VMOVUPS_Z(m, []Op{K1, K2, K3}[i], dst)
			} else {
				VMOVUPS(m, dst)
			}
		}
		// At an edge (class 1: the block's first input column is the
		// left padding; class 4: its last is the right padding) the
		// padding lane comes from shifting a plain load of the row's
		// columns with +0 (VALIGND), not from a masked load: a masked
		// load whose masked-off lane lies across a page boundary (a row
		// that starts or ends on one, as rows of a page-aligned tensor
		// do) took hundreds of cycles on Zen 5, and such loads were 40%
		// of the kernel's samples on 64×30×48 (perf, cpu-clock).
		if s == 1 {
			switch cls {
			case 1:
				VMOVUPS(Mem{Base: p, Disp: 4}, x1)
				VMOVUPS(Mem{Base: p, Disp: 8}, x2)
				VALIGND(Imm(15), zero, x1, x0)
			case 4:
				VMOVUPS(Mem{Base: p}, x0)
				VMOVUPS(Mem{Base: p, Disp: 4}, x1)
				VALIGND(Imm(1), x1, zero, x2)
			default:
				mov(Mem{Base: p}, 0, x0)
				mov(Mem{Base: p, Disp: 4}, 1, x1)
				mov(Mem{Base: p, Disp: 8}, 2, x2)
			}
			return
		}
		a, b, next := ZMM(), ZMM(), ZMM()
		if cls == 1 {
			VMOVUPS(Mem{Base: p, Disp: 4}, a)
			VALIGND(Imm(15), zero, a, a)
		} else {
			mov(Mem{Base: p}, 0, a)
		}
		mov(Mem{Base: p, Disp: 64}, 1, b)
		VMOVAPS(even, x0)
		VPERMI2PS(b, a, x0)
		VMOVAPS(odd, x1)
		VPERMI2PS(b, a, x1)
		// Column 2 is column 0 one output on: x0's lanes 1..15, then
		// the column after the 32.
		switch {
		case cls == 4: // the column after the 32 is padding
			VMOVAPS(zero, next)
		case cls&4 != 0:
			VBROADCASTSS_Z(Mem{Base: p, Disp: 128}, K3, next)
		default:
			VBROADCASTSS(Mem{Base: p, Disp: 128}, next)
		}
		VALIGND(Imm(1), x0, next, x2)
		return
	}

	group := func(R int, cls int) {
		MOVQ(dBase, q)
		ADDQ(dcol, q)
		sum, acc := make([]VecVirtual, R), make([]VecVirtual, R)
		for o := range sum {
			sum[o], acc[o] = ZMM(), ZMM()
		}
		for i := 0; i < s*(R-1)+3; i++ {
			x0, x1, x2 := load(i, cls)
			for o := 0; o < R; o++ {
				if dw3RowStep(i-s*o, [3]VecVirtual{x0, x1, x2}, w, bias, zero, sum[o], acc[o], func(v VecVirtual) VecVirtual { return v }, ZMM) {
					if cls == 7 {
						VMOVUPS(acc[o], K4, Mem{Base: q})
					} else {
						VMOVUPS(acc[o], Mem{Base: q})
					}
					if o < R-1 {
						ADDQ(dStride, q)
					}
				}
			}
		}
	}

	for _, R := range []int{4, 2, 1} {
		lbl := rowGroup(name, R, left)
		MOVQ(bb, bp)
		Label(lbl + "_block")
		MOVQ(Mem{Base: bp}, off)
		KMOVW(Mem{Base: bp, Disp: 8}, K1)
		KMOVW(Mem{Base: bp, Disp: 10}, K2)
		KMOVW(Mem{Base: bp, Disp: 12}, K3)
		KMOVW(Mem{Base: bp, Disp: 14}, K4)
		MOVQ(Mem{Base: bp, Disp: 24}, dcol)
		// The block's class: which loads need their masks (masked loads
		// were slower than plain ones even under full masks, `go test
		// -bench Depthwise/3x3s1_140`).
		for _, c := range []int{0, 1, 4} {
			CMPQ(Mem{Base: bp, Disp: 16}, Imm(uint64(c)))
			JE(LabelRef(fmt.Sprintf("%s_c%d", lbl, c)))
		}
		for _, c := range []int{7, 0, 1, 4} {
			Label(fmt.Sprintf("%s_c%d", lbl, c))
			group(R, c)
			JMP(LabelRef(lbl + "_next"))
		}
		Label(lbl + "_next")
		ADDQ(Imm(32), bp)
		CMPQ(bp, bend)
		JB(LabelRef(lbl + "_block"))
		for k := 0; k < R; k++ {
			ADDQ(dStride, dBase)
		}
		ADDQ(U32(uint64(8*s*R)), rp)
		SUBQ(Imm(uint64(R)), left)
		JMP(LabelRef(lbl))
	}
	Label(name + "_done")
	end()
}

// dw3RowStep emits what input row kr (0, 1, 2) of an output's window adds
// to it, given that row's three column taps x: row 0 starts the first
// group (p0, p1, p2), row 1 closes it with p3 (added to +0 into acc) and
// starts the second (p4, p5), row 2 closes that (p6, p7, added to acc),
// then p8 and the bias — dwKernel512's order and operand order. It reports
// whether the output is finished (in acc). as narrows a zmm constant to
// the block's width and vec makes a temporary of it.
func dw3RowStep(kr int, x [3]VecVirtual, w []VecVirtual, bias, zero, sum, acc VecVirtual, as func(VecVirtual) VecVirtual, vec func() VecVirtual) bool {
	prod := func(k int, x VecVirtual) VecVirtual {
		t := vec()
		VMULPS(x, as(w[k]), t)
		return t
	}
	switch kr {
	case 0: // p0, p1, p2
		VMULPS(x[0], as(w[0]), sum)
		VADDPS(prod(1, x[1]), sum, sum)
		VADDPS(prod(2, x[2]), sum, sum)
	case 1: // p3 closes the first group; p4, p5
		VADDPS(prod(3, x[0]), sum, sum)
		VADDPS(as(zero), sum, acc)
		VMULPS(x[1], as(w[4]), sum)
		VADDPS(prod(5, x[2]), sum, sum)
	case 2: // p6, p7 close the second group; p8, the bias
		VADDPS(prod(6, x[0]), sum, sum)
		VADDPS(prod(7, x[1]), sum, sum)
		VADDPS(acc, sum, acc)
		VADDPS(acc, prod(8, x[2]), acc)
		VADDPS(as(bias), acc, acc)
		return true
	}
	return false
}

// rowGroup opens the code for groups of R output rows (R = 4, 2, 1 in
// turn): its label, name_rR, and a jump to the next smaller group (or to
// name_done) when fewer than R rows are left.
func rowGroup(name string, R int, left Register) string {
	lbl := fmt.Sprintf("%s_r%d", name, R)
	next := fmt.Sprintf("%s_r%d", name, R/2)
	if R == 1 {
		next = name + "_done"
	}
	Label(lbl)
	CMPQ(left, Imm(uint64(R)))
	JB(LabelRef(next))
	return lbl
}
