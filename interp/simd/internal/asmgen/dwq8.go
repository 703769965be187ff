package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// dwQ8 emits the fused int8 depthwise convolution: for chans channels of
// 8-bit planes x (each psz bytes, rows pw bytes apart, padded with the
// input's zero point so that padding adds nothing), per output (oh, ow)
//
//	acc = Σ_t w[t]·x[oh·rowStep + ow·stride + offs[t]] − corr     (exact: integers below 2^24)
//	y   = min(max(float32(acc·mult) + bias, lo), hi)              (as requant8)
//	dst = clamp(roundeven(y/s) + z, qlo, qhi), NaN → 0
//
// with per channel w (taps floats), prm = mult, bias, corr (corr = zx·Σw).
// Consecutive outputs of a row are one vector: lanes read consecutive
// bytes (stride 1) or every other byte (stride 2, the even bytes of 16-bit
// words), so any kernel size, dilation and padding runs the same loop. The
// last block of a row is stored masked (zmm) or byte by byte (ymm); loads
// may read up to 2·lanes bytes past the last tap, which the caller's
// planes hold.
func dwQ8(name string, stride int, signed, zmm bool) {
	TEXT(name, NOSPLIT, "func(dst []byte, x *byte, offs []int32, w, prm []float32, chans, outH, outW, rowStep, psz int, lo, hi, s, z, qlo, qhi float32)")
	Pragma("noescape")
	Doc(name+": the fused int8 depthwise convolution and requantization of chans channels (see dwQ8Go),",
		fmt.Sprintf("stride %d, signed %v.", stride, signed))
	lanes := 8
	vec := func() VecVirtual { return YMM() }
	if zmm {
		lanes = 16
		vec = func() VecVirtual { return ZMM() }
	}
	lov, hiv, sc, zv, qlo, qhi := vec(), vec(), vec(), vec(), vec(), vec()
	for _, p := range []struct {
		name string
		v    VecVirtual
	}{{"lo", lov}, {"hi", hiv}, {"s", sc}, {"z", zv}, {"qlo", qlo}, {"qhi", qhi}} {
		bcastParam(p.name, p.v)
	}
	var ff VecVirtual
	if stride == 2 && !signed {
		ff = vec()
		t := GP32()
		MOVL(U32(0xff), t)
		tx := XMM()
		VMOVD(t, tx)
		VPBROADCASTD(tx, ff)
	}
	mv, bv, cv := vec(), vec(), vec()
	acc, xv, wv := vec(), vec(), vec()

	// Counters kept on the stack: channels left, rows left, this row's
	// and this channel's base.
	cLeft, rLeft, rowBase, chBase := AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8)
	{
		t := Load(Param("chans"), GP64())
		MOVQ(t, cLeft)
		xb := Load(Param("x"), GP64())
		MOVQ(xb, chBase)
	}
	d := Load(Param("dst").Base(), GP64())
	wp := Load(Param("w").Base(), GP64())
	pp := Load(Param("prm").Base(), GP64())

	Label(name + "_chan")
	{
		t := GP64()
		MOVQ(cLeft, t)
		TESTQ(t, t)
		JZ(LabelRef(name + "_done"))
	}
	VBROADCASTSS(Mem{Base: pp}, mv)
	VBROADCASTSS(Mem{Base: pp, Disp: 4}, bv)
	VBROADCASTSS(Mem{Base: pp, Disp: 8}, cv)
	{
		t := Load(Param("outH"), GP64())
		MOVQ(t, rLeft)
		b := GP64()
		MOVQ(chBase, b)
		MOVQ(b, rowBase)
	}

	Label(name + "_row")
	{
		t := GP64()
		MOVQ(rLeft, t)
		TESTQ(t, t)
		JZ(LabelRef(name + "_chanEnd"))
	}
	col := GP64()
	MOVQ(rowBase, col)
	rem := Load(Param("outW"), GP64())

	Label(name + "_blk")
	TESTQ(rem, rem)
	JZ(LabelRef(name + "_rowEnd"))
	if zmm {
		VPXORD(acc, acc, acc)
	} else {
		VXORPS(acc, acc, acc)
	}
	offs := Load(Param("offs").Base(), GP64())
	taps := Load(Param("offs").Len(), GP64())
	t, o := GP64(), GP64()
	XORQ(t, t)
	acc2 := vec()
	if zmm {
		VPXORD(acc2, acc2, acc2)
	} else {
		VXORPS(acc2, acc2, acc2)
	}
	// tap adds tap t+u into a: two accumulators halve the FMA chain (the
	// sums are exact, so their order does not matter).
	tap := func(u int, a VecVirtual) {
		MOVLQSX(Mem{Base: offs, Index: t, Scale: 4, Disp: 4 * u}, o)
		src := Mem{Base: col, Index: o, Scale: 1}
		switch {
		case stride == 1 && signed:
			VPMOVSXBD(src, xv)
		case stride == 1:
			VPMOVZXBD(src, xv)
		default:
			// The even bytes: the low byte of each 16-bit word.
			VPMOVZXWD(src, xv)
			if signed {
				VPSLLD(Imm(24), xv, xv)
				VPSRAD(Imm(24), xv, xv)
			} else if zmm {
				VPANDD(ff, xv, xv)
			} else {
				VPAND(ff, xv, xv)
			}
		}
		VCVTDQ2PS(xv, xv)
		VBROADCASTSS(Mem{Base: wp, Index: t, Scale: 4, Disp: 4 * u}, wv)
		VFMADD231PS(xv, wv, a)
	}
	r := GP64()
	Label(name + "_tap2")
	MOVQ(taps, r)
	SUBQ(t, r)
	CMPQ(r, Imm(2))
	JL(LabelRef(name + "_tap1"))
	tap(0, acc)
	tap(1, acc2)
	ADDQ(Imm(2), t)
	JMP(LabelRef(name + "_tap2"))
	Label(name + "_tap1")
	TESTQ(r, r)
	JZ(LabelRef(name + "_sum"))
	tap(0, acc)
	Label(name + "_sum")
	VADDPS(acc2, acc, acc)

	Label(name + "_req")
	VSUBPS(cv, acc, acc)
	VMULPS(mv, acc, acc)
	VADDPS(bv, acc, acc)
	VMAXPS(lov, acc, acc)
	VMINPS(hiv, acc, acc)
	VDIVPS(sc, acc, acc)
	if zmm {
		VRNDSCALEPS(Imm(0), acc, acc) // to nearest, ties to even
	} else {
		VROUNDPS(Imm(0), acc, acc)
	}
	VADDPS(zv, acc, acc)
	// NaN as the second source of max and min passes through both.
	VMAXPS(acc, qlo, acc)
	VMINPS(acc, qhi, acc)
	if zmm {
		k := K()
		VCMPPS(Imm(7), acc, acc, k) // ordered: set unless NaN
		VMOVAPS_Z(acc, k, acc)
		VCVTPS2DQ(acc, acc) // exact: integral and in range
		CMPQ(rem, Imm(uint64(lanes)))
		JL(LabelRef(name + "_tail"))
		VPMOVDB(acc, Mem{Base: d})
		ADDQ(Imm(uint64(lanes)), d)
		ADDQ(Imm(uint64(lanes*stride)), col)
		SUBQ(Imm(uint64(lanes)), rem)
		JMP(LabelRef(name + "_blk"))
		Label(name + "_tail")
		tb := GP64()
		LEAQ(lowMasks(), tb)
		km := K()
		KMOVW(Mem{Base: tb, Index: rem, Scale: 2}, km)
		VPMOVDB(acc, km, Mem{Base: d})
		ADDQ(rem, d)
		XORQ(rem, rem)
		JMP(LabelRef(name + "_blk"))
	} else {
		msk := YMM()
		VCMPPS(Imm(7), acc, acc, msk)
		VANDPS(msk, acc, acc)
		VCVTPS2DQ(acc, acc)
		h := XMM()
		VEXTRACTI128(Imm(1), acc, h)
		VPACKSSDW(h, acc.AsX(), h)
		if signed {
			VPACKSSWB(h, h, h)
		} else {
			VPACKUSWB(h, h, h)
		}
		CMPQ(rem, Imm(uint64(lanes)))
		JL(LabelRef(name + "_tail"))
		MOVQ(h, Mem{Base: d})
		ADDQ(Imm(uint64(lanes)), d)
		ADDQ(Imm(uint64(lanes*stride)), col)
		SUBQ(Imm(uint64(lanes)), rem)
		JMP(LabelRef(name + "_blk"))
		Label(name + "_tail")
		b := GP64()
		MOVQ(h, b)
		Label(name + "_byte")
		MOVB(b.As8(), Mem{Base: d})
		SHRQ(Imm(8), b)
		INCQ(d)
		DECQ(rem)
		JNZ(LabelRef(name + "_byte"))
		JMP(LabelRef(name + "_blk"))
	}

	Label(name + "_rowEnd")
	{
		step := Load(Param("rowStep"), GP64())
		ADDQ(step, rowBase)
		DECQ(rLeft)
		JMP(LabelRef(name + "_row"))
	}

	Label(name + "_chanEnd")
	{
		sz := Load(Param("psz"), GP64())
		ADDQ(sz, chBase)
		n := Load(Param("offs").Len(), GP64())
		SHLQ(Imm(2), n)
		ADDQ(n, wp)
		ADDQ(Imm(12), pp)
		DECQ(cLeft)
		JMP(LabelRef(name + "_chan"))
	}
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

var lowMaskTable *Mem

// lowMasks is a table of 16-bit masks: entry i (at 2i) has the low i bits set.
func lowMasks() Mem {
	if lowMaskTable == nil {
		m := GLOBL("lowmasks", RODATA|NOPTR)
		for i := 0; i <= 16; i++ {
			DATA(2*i, U16(uint16(1<<i-1)))
		}
		lowMaskTable = &m
	}
	return *lowMaskTable
}

// dwQ8Variants are the fused depthwise kernels of each level: stride 1 or
// 2, uint8 or int8 input.
var dwQ8Variants = []struct {
	name   string
	stride int
	signed bool
}{{"dwQ8S1U8", 1, false}, {"dwQ8S1I8", 1, true}, {"dwQ8S2U8", 2, false}, {"dwQ8S2I8", 2, true}}
