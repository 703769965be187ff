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

// dwcIn emits the channel-minor layout of 16 channels for the
// channel-lane depthwise kernel: for each input position p < len(offs),
// dst[offs[p]+c] = x[c·xStride+p] for c < nch and 0 for nch ≤ c < 16.
// Sixteen positions a step: 16 channel rows loaded (the last step under a
// mask), transposed in registers, stored as 16 position vectors.
func dwcIn() {
	name := "dwcInAVX512"
	TEXT(name, NOSPLIT, "func(dst, x *float32, xStride, nch int, offs []int32)")
	Pragma("noescape")
	Doc(name+": dst[offs[p]+c] = x[c·xStride+p] for c < nch, 0 for nch ≤ c < 16, p < len(offs)",
		"(16 channels laid out channel-minor; offs and xStride in floats).")
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
	CMPQ(rem, Imm(16))
	JLE(LabelRef(name + "_mask"))
	MOVQ(U32(16), rem)
	Label(name + "_mask")
	LEAQ(lowMasks(), tb)
	KMOVW(Mem{Base: tb, Index: rem, Scale: 2}, K1)
	MOVQ(x, p)
	for c := 0; c < 16; c++ {
		zero, next := fmt.Sprintf("%s_zero%d", name, c), fmt.Sprintf("%s_next%d", name, c)
		CMPQ(nch, Imm(uint64(c)))
		JLE(LabelRef(zero))
		VMOVUPS_Z(Mem{Base: p}, K1, zr(c))
		ADDQ(xs, p)
		JMP(LabelRef(next))
		Label(zero)
		VPXORD(zr(c), zr(c), zr(c))
		Label(next)
	}
	transpose16()
	for j := 0; j < 16; j++ {
		CMPQ(rem, Imm(uint64(j)))
		JLE(LabelRef(name + "_stored"))
		MOVLQSX(Mem{Base: offs, Disp: 4 * j}, o)
		VMOVUPS(zr(j), Mem{Base: d, Index: o, Scale: 4})
	}
	Label(name + "_stored")
	ADDQ(U32(64), x)
	ADDQ(U32(64), offs)
	SUBQ(rem, n)
	JMP(LabelRef(name + "_blk"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// dwcOut emits the channel-lane depthwise kernel: 16 channels a vector
// over the channel-minor input src (16 floats a position), for each output
// o < len(outOffs) and channel c < nch
//
//	y[c·yStride+o] = bias[c] + Σ_t w[16t+c]·src[outOffs[o]+tapOffs[t]+c]
//
// summed as dwTaps sums (unfused products, four taps a group added to the
// running total from +0, then a pair, then one, then the bias; the same
// operand order, so the same bits). Sixteen outputs a step are computed
// into Z0..Z15, transposed to channel rows and stored 16 outputs a row
// (the last step under a mask).
func dwcOut() {
	name := "dwcOutAVX512"
	TEXT(name, NOSPLIT, "func(y *float32, yStride, nch int, src *float32, outOffs, tapOffs []int32, w, bias *float32)")
	Pragma("noescape")
	Doc(name+": y[c·yStride+o] = bias[c] + Σ_t w[16t+c]·src[outOffs[o]+tapOffs[t]+c] for c < nch, o < len(outOffs),",
		"summed as dwTaps sums (16 channels a vector; offsets and yStride in floats).")
	y := Load(Param("y"), GP64())
	outs := Load(Param("outOffs").Base(), GP64())
	n := Load(Param("outOffs").Len(), GP64())
	rem := GP64()
	Label(name + "_blk")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	MOVQ(n, rem)
	CMPQ(rem, Imm(16))
	JLE(LabelRef(name + "_outs"))
	MOVQ(U32(16), rem)
	Label(name + "_outs")
	// Four outputs at a time share each tap's offset and filter load;
	// outputs past rem repeat the quad's first (their sums are not stored).
	for q := 0; q < 4; q++ {
		lbl := fmt.Sprintf("%s_q%d", name, q)
		CMPQ(rem, Imm(uint64(4*q)))
		JLE(LabelRef(name + "_transpose"))
		var bp [4]GPVirtual
		sv, pv := [4]VecPhysical{}, [4]VecPhysical{}
		for u := 0; u < 4; u++ {
			bp[u] = GP64()
			sv[u], pv[u] = zr(16+u), zr(20+u)
		}
		wv := Z24
		tp, wp, r, o := GP64(), GP64(), GP64(), GP64()
		Load(Param("src"), tp)
		for u := 0; u < 4; u++ {
			j := 4*q + u
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
			VPXORD(zr(j), zr(j), zr(j))
		}
		Load(Param("tapOffs").Base(), tp)
		Load(Param("tapOffs").Len(), r)
		Load(Param("w"), wp)
		// prod sets dst[u] = w[t+k]·src[bp[u]+..] for the four outputs (w
		// the first source, as in dwTaps).
		prod := func(k int, dst [4]VecPhysical) {
			MOVLQSX(Mem{Base: tp, Disp: 4 * k}, o)
			VMOVUPS(Mem{Base: wp, Disp: 64 * k}, wv)
			for u := 0; u < 4; u++ {
				VMULPS(Mem{Base: bp[u], Index: o, Scale: 4}, wv, dst[u])
			}
		}
		addS := func() {
			for u := 0; u < 4; u++ {
				VADDPS(pv[u], sv[u], sv[u])
			}
		}
		addAcc := func() {
			for u := 0; u < 4; u++ {
				acc := zr(4*q + u)
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
		ADDQ(U32(256), wp)
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
		ADDQ(U32(128), wp)
		SUBQ(Imm(2), r)
		Label(lbl + "_g1")
		TESTQ(r, r)
		JZ(LabelRef(lbl + "_bias"))
		prod(0, sv)
		addAcc()
		Label(lbl + "_bias")
		Load(Param("bias"), tp)
		for u := 0; u < 4; u++ {
			acc := zr(4*q + u)
			VADDPS(Mem{Base: tp}, acc, acc)
		}
	}
	Label(name + "_transpose")
	transpose16()
	tb, yp, ys, nch := GP64(), GP64(), GP64(), GP64()
	LEAQ(lowMasks(), tb)
	KMOVW(Mem{Base: tb, Index: rem, Scale: 2}, K1)
	Load(Param("yStride"), ys)
	SHLQ(Imm(2), ys)
	Load(Param("nch"), nch)
	MOVQ(y, yp)
	for c := 0; c < 16; c++ {
		CMPQ(nch, Imm(uint64(c)))
		JLE(LabelRef(name + "_stored"))
		VMOVUPS(zr(c), K1, Mem{Base: yp})
		ADDQ(ys, yp)
	}
	Label(name + "_stored")
	ADDQ(U32(64), y)
	ADDQ(U32(64), outs)
	SUBQ(rem, n)
	JMP(LabelRef(name + "_blk"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
