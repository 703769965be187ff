package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// zr returns the i-th of the 32 ZMM registers.
func zr(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[i]
}

// transpose16 transposes the 16×16 floats in Z0..Z15 (row i in Zi) in
// place, using Z16..Z31 as scratch: pairs of rows interleaved by floats,
// then by pairs of floats, then 128-bit lanes exchanged twice.
func transpose16() {
	for i := 0; i < 8; i++ {
		a, b := zr(2*i), zr(2*i+1)
		VUNPCKLPS(b, a, zr(16+2*i))
		VUNPCKHPS(b, a, zr(16+2*i+1))
	}
	// u[4g+k] lane l holds column 4l+k of rows 4g..4g+3.
	for g := 0; g < 4; g++ {
		t := func(i int) VecPhysical { return zr(16 + 4*g + i) }
		VUNPCKLPD(t(2), t(0), zr(4*g))
		VUNPCKHPD(t(2), t(0), zr(4*g+1))
		VUNPCKLPD(t(3), t(1), zr(4*g+2))
		VUNPCKHPD(t(3), t(1), zr(4*g+3))
	}
	for k := 0; k < 4; k++ {
		VSHUFF32X4(Imm(0x88), zr(4+k), zr(k), zr(16+k))
		VSHUFF32X4(Imm(0xdd), zr(4+k), zr(k), zr(20+k))
		VSHUFF32X4(Imm(0x88), zr(12+k), zr(8+k), zr(24+k))
		VSHUFF32X4(Imm(0xdd), zr(12+k), zr(8+k), zr(28+k))
	}
	for k := 0; k < 4; k++ {
		VSHUFF32X4(Imm(0x88), zr(24+k), zr(16+k), zr(k))
		VSHUFF32X4(Imm(0xdd), zr(24+k), zr(16+k), zr(8+k))
		VSHUFF32X4(Imm(0x88), zr(28+k), zr(20+k), zr(4+k))
		VSHUFF32X4(Imm(0xdd), zr(28+k), zr(20+k), zr(12+k))
	}
}

// transpose8 transposes the 8×8 floats in Y0..Y7 (row i in Yi), using
// Y8..Y15: row j of the result is in Y(8+j).
func transpose8() {
	for i := 0; i < 4; i++ {
		a, b := Y(2*i), Y(2*i+1)
		VUNPCKLPS(b, a, Y(8+2*i))
		VUNPCKHPS(b, a, Y(8+2*i+1))
	}
	// u[4g+k] lane l holds column 4l+k of rows 4g..4g+3.
	for g := 0; g < 2; g++ {
		t := func(i int) VecPhysical { return Y(8 + 4*g + i) }
		VUNPCKLPD(t(2), t(0), Y(4*g))
		VUNPCKHPD(t(2), t(0), Y(4*g+1))
		VUNPCKLPD(t(3), t(1), Y(4*g+2))
		VUNPCKHPD(t(3), t(1), Y(4*g+3))
	}
	for k := 0; k < 4; k++ {
		VPERM2F128(Imm(0x20), Y(4+k), Y(k), Y(8+k))
		VPERM2F128(Imm(0x31), Y(4+k), Y(k), Y(12+k))
	}
}

// chanLanes is what the channel-lane kernels need of a vector width: lanes
// channels a vector, its registers, its transpose (and where row j of the
// result is).
type chanLanes struct {
	lanes     int
	suffix    string
	reg       func(i int) VecPhysical
	transpose func()
	row       func(j int) VecPhysical
}

var chanZMM = chanLanes{16, "AVX512", zr, transpose16, zr}
var chanYMM = chanLanes{8, "AVX", Y, transpose8, func(j int) VecPhysical { return Y(8 + j) }}

// dwcIn emits the channel-minor layout of L channels (L = 16 on zmm, 8 on
// ymm) for the channel-lane depthwise kernel: for each input position
// p < len(offs), dst[offs[p]+c] = x[c·xStride+p] for c < nch and 0 for
// nch ≤ c < L. L positions a step: L channel rows loaded (the last step
// under a mask), transposed in registers, stored as L position vectors.
func dwcIn(v chanLanes) {
	name := "dwcIn" + v.suffix
	L := v.lanes
	TEXT(name, NOSPLIT, "func(dst, x *float32, xStride, nch int, offs []int32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s: dst[offs[p]+c] = x[c·xStride+p] for c < nch, 0 for nch ≤ c < %d, p < len(offs)", name, L),
		fmt.Sprintf("(%d channels laid out channel-minor; offs and xStride in floats).", L))
	d := Load(Param("dst"), GP64())
	x := Load(Param("x"), GP64())
	xs := Load(Param("xStride"), GP64())
	SHLQ(Imm(2), xs)
	nch := Load(Param("nch"), GP64())
	offs := Load(Param("offs").Base(), GP64())
	n := Load(Param("offs").Len(), GP64())
	rem, p, o, tb := GP64(), GP64(), GP64(), GP64()
	Label(name + "_blk")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	MOVQ(n, rem)
	CMPQ(rem, Imm(uint64(L)))
	JLE(LabelRef(name + "_mask"))
	MOVQ(U32(uint64(L)), rem)
	Label(name + "_mask")
	if L == 16 {
		LEAQ(lowMasks(), tb)
		KMOVW(Mem{Base: tb, Index: rem, Scale: 2}, K1)
	} else {
		// Y15 is free until the transpose: the first rem lanes.
		LEAQ(mask, tb)
		MOVQ(U32(8), o)
		SUBQ(rem, o)
		VMOVUPS(Mem{Base: tb, Index: o, Scale: 4}, Y15)
	}
	MOVQ(x, p)
	for c := 0; c < L; c++ {
		zero, next := fmt.Sprintf("%s_zero%d", name, c), fmt.Sprintf("%s_next%d", name, c)
		CMPQ(nch, Imm(uint64(c)))
		JLE(LabelRef(zero))
		if L == 16 {
			VMOVUPS_Z(Mem{Base: p}, K1, zr(c))
		} else {
			VMASKMOVPS(Mem{Base: p}, Y15, Y(c))
		}
		ADDQ(xs, p)
		JMP(LabelRef(next))
		Label(zero)
		if L == 16 {
			VPXORD(zr(c), zr(c), zr(c))
		} else {
			VXORPS(Y(c), Y(c), Y(c))
		}
		Label(next)
	}
	v.transpose()
	for j := 0; j < L; j++ {
		CMPQ(rem, Imm(uint64(j)))
		JLE(LabelRef(name + "_stored"))
		MOVLQSX(Mem{Base: offs, Disp: 4 * j}, o)
		VMOVUPS(v.row(j), Mem{Base: d, Index: o, Scale: 4})
	}
	Label(name + "_stored")
	ADDQ(U32(uint64(4*L)), x)
	ADDQ(U32(uint64(4*L)), offs)
	SUBQ(rem, n)
	JMP(LabelRef(name + "_blk"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// dwcOut emits the channel-lane depthwise kernel: L channels a vector (16
// on zmm, 8 on ymm) over the channel-minor input src (L floats a
// position), for each output o < len(outOffs) and channel c < nch
//
//	y[c·yStride+o] = bias[c] + Σ_t w[Lt+c]·src[outOffs[o]+tapOffs[t]+c]
//
// summed as dwTaps sums (unfused products, four taps a group added to the
// running total from +0, then a pair, then one, then the bias; the same
// operand order, so the same bits). L outputs a step are computed into
// the first L registers, G at a time (4 on zmm, 2 on ymm) sharing each
// tap's offset and filter load, transposed to channel rows and stored L
// outputs a row (the last step under a mask).
func dwcOut(v chanLanes) {
	name := "dwcOut" + v.suffix
	L := v.lanes
	G := 4
	if L == 8 {
		G = 2
	}
	TEXT(name, NOSPLIT, "func(y *float32, yStride, nch int, src *float32, outOffs, tapOffs []int32, w, bias *float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s: y[c·yStride+o] = bias[c] + Σ_t w[%dt+c]·src[outOffs[o]+tapOffs[t]+c] for c < nch, o < len(outOffs),", name, L),
		fmt.Sprintf("summed as dwTaps sums (%d channels a vector; offsets and yStride in floats).", L))
	y := Load(Param("y"), GP64())
	outs := Load(Param("outOffs").Base(), GP64())
	n := Load(Param("outOffs").Len(), GP64())
	rem := GP64()
	Label(name + "_blk")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	MOVQ(n, rem)
	CMPQ(rem, Imm(uint64(L)))
	JLE(LabelRef(name + "_outs"))
	MOVQ(U32(uint64(L)), rem)
	Label(name + "_outs")
	// Outputs past rem repeat their group's first (their sums are not
	// stored).
	for q := 0; q < L/G; q++ {
		lbl := fmt.Sprintf("%s_q%d", name, q)
		CMPQ(rem, Imm(uint64(G*q)))
		JLE(LabelRef(name + "_transpose"))
		bp := make([]GPVirtual, G)
		sv, pv := make([]VecPhysical, G), make([]VecPhysical, G)
		for u := 0; u < G; u++ {
			bp[u] = GP64()
			sv[u], pv[u] = v.reg(L+u), v.reg(L+G+u)
		}
		wv := v.reg(L + 2*G)
		tp, wp, r, o := GP64(), GP64(), GP64(), GP64()
		Load(Param("src"), tp)
		for u := 0; u < G; u++ {
			j := G*q + u
			if u > 0 {
				CMPQ(rem, Imm(uint64(j)))
				JLE(LabelRef(fmt.Sprintf("%s_first%d", lbl, u)))
			}
			MOVLQSX(Mem{Base: outs, Disp: 4 * j}, o)
			LEAQ(Mem{Base: tp, Index: o, Scale: 4}, bp[u])
			if u > 0 {
				JMP(LabelRef(fmt.Sprintf("%s_next%d", lbl, u)))
				Label(fmt.Sprintf("%s_first%d", lbl, u))
				MOVQ(bp[0], bp[u])
				Label(fmt.Sprintf("%s_next%d", lbl, u))
			}
			if L == 16 {
				VPXORD(zr(j), zr(j), zr(j))
			} else {
				VXORPS(Y(j), Y(j), Y(j))
			}
		}
		Load(Param("tapOffs").Base(), tp)
		Load(Param("tapOffs").Len(), r)
		Load(Param("w"), wp)
		// prod sets dst[u] = w[t+k]·src[bp[u]+..] for the G outputs (w
		// the first source, as in dwTaps).
		prod := func(k int, dst []VecPhysical) {
			MOVLQSX(Mem{Base: tp, Disp: 4 * k}, o)
			VMOVUPS(Mem{Base: wp, Disp: 4 * L * k}, wv)
			for u := 0; u < G; u++ {
				VMULPS(Mem{Base: bp[u], Index: o, Scale: 4}, wv, dst[u])
			}
		}
		addS := func() {
			for u := 0; u < G; u++ {
				VADDPS(pv[u], sv[u], sv[u])
			}
		}
		addAcc := func() {
			for u := 0; u < G; u++ {
				acc := v.reg(G*q + u)
				VADDPS(acc, sv[u], acc)
			}
		}
		Label(lbl + "_g4")
		CMPQ(r, Imm(4))
		JL(LabelRef(lbl + "_g2"))
		prod(0, sv)
		for k := 1; k < 4; k++ {
			prod(k, pv)
			addS()
		}
		addAcc()
		ADDQ(Imm(16), tp)
		ADDQ(U32(uint64(16*L)), wp)
		SUBQ(Imm(4), r)
		JMP(LabelRef(lbl + "_g4"))
		Label(lbl + "_g2")
		CMPQ(r, Imm(2))
		JL(LabelRef(lbl + "_g1"))
		prod(0, sv)
		prod(1, pv)
		addS()
		addAcc()
		ADDQ(Imm(8), tp)
		ADDQ(U32(uint64(8*L)), wp)
		SUBQ(Imm(2), r)
		Label(lbl + "_g1")
		TESTQ(r, r)
		JZ(LabelRef(lbl + "_bias"))
		prod(0, sv)
		addAcc()
		Label(lbl + "_bias")
		Load(Param("bias"), tp)
		for u := 0; u < G; u++ {
			acc := v.reg(G*q + u)
			VADDPS(Mem{Base: tp}, acc, acc)
		}
	}
	Label(name + "_transpose")
	v.transpose()
	tb, yp, ys, nch := GP64(), GP64(), GP64(), GP64()
	if L == 16 {
		LEAQ(lowMasks(), tb)
		KMOVW(Mem{Base: tb, Index: rem, Scale: 2}, K1)
	} else {
		// Y0 is free after the transpose: the first rem lanes.
		LEAQ(mask, tb)
		MOVQ(U32(8), ys)
		SUBQ(rem, ys)
		VMOVUPS(Mem{Base: tb, Index: ys, Scale: 4}, Y0)
	}
	Load(Param("yStride"), ys)
	SHLQ(Imm(2), ys)
	Load(Param("nch"), nch)
	MOVQ(y, yp)
	for c := 0; c < L; c++ {
		CMPQ(nch, Imm(uint64(c)))
		JLE(LabelRef(name + "_stored"))
		if L == 16 {
			VMOVUPS(zr(c), K1, Mem{Base: yp})
		} else {
			VMASKMOVPS(v.row(c), Y0, Mem{Base: yp})
		}
		ADDQ(ys, yp)
	}
	Label(name + "_stored")
	ADDQ(U32(uint64(4*L)), y)
	ADDQ(U32(uint64(4*L)), outs)
	SUBQ(rem, n)
	JMP(LabelRef(name + "_blk"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
