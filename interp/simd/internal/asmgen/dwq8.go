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
// with per channel w (taps floats), mult, bias and wsum = Σw (corr = zx·wsum).
// Consecutive outputs of a row are one vector: lanes read consecutive
// bytes (stride 1) or every other byte (stride 2, the even bytes of 16-bit
// words), so any kernel size, dilation and padding runs the same loop. The
// last block of a row is stored masked (zmm) or byte by byte (ymm); loads
// may read up to 2·lanes bytes past the last tap, which the caller's
// planes hold.
func dwQ8(name string, stride int, signed, zmm bool) {
	TEXT(name, NOSPLIT, "func(dst []byte, x *byte, offs []int32, w, mult, bias, wsum []float32, chans, outH, outW, rowStep, psz int, zx, lo, hi, s, z, qlo, qhi float32)")
	Pragma("noescape")
	Doc(name+": the fused int8 depthwise convolution and requantization of chans channels (see dwQ8Go),",
		fmt.Sprintf("stride %d, signed %v.", stride, signed))
	f := newQ8Frame(stride, signed, zmm, "zx")
	lanes, vec, ff, zxv := f.lanes, f.vec, f.ff, f.extra[0]
	cLeft, rLeft, rowBase, chBase, ci, d, wp := f.cLeft, f.rLeft, f.rowBase, f.chBase, f.ci, f.d, f.wp
	mv, bv, cv := vec(), vec(), vec()
	acc, xv, wv := vec(), vec(), vec()

	Label(name + "_chan")
	{
		t := GP64()
		MOVQ(cLeft, t)
		TESTQ(t, t)
		JZ(LabelRef(name + "_done"))
	}
	{
		i := GP64()
		MOVQ(ci, i)
		for _, q := range []struct {
			name string
			v    VecVirtual
		}{{"mult", mv}, {"bias", bv}, {"wsum", cv}} {
			b := Load(Param(q.name).Base(), GP64())
			VBROADCASTSS(Mem{Base: b, Index: i, Scale: 4}, q.v)
		}
		VMULPS(zxv, cv, cv) // zx·Σw: exact, as the Go twin's product
	}
	{
		t := Load(Param("outH"), GP64())
		MOVQ(t, rLeft)
		b := GP64()
		MOVQ(chBase, b)
		MOVQ(b, rowBase)
	}

	col, rem, offs, taps := q8RowBlock(name, zmm, acc, rLeft, rowBase)
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
		loadQ8Floats(src, xv, ff, stride, signed, zmm)
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
	f.epi.bias = bv
	requantQ8Block(name, zmm, signed, acc, f.epi, lanes, stride, rem, d, col)
	q8ChannelEnds(name, rowBase, rLeft, chBase, wp, ci, cLeft)
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

// planeRows emits the copy of chans channels of rows×w bytes (x, dense)
// into planes psz bytes apart with rows pw bytes apart: the interior of
// dwQ8's zero-point-bordered planes, which it leaves untouched. Every byte
// is copied exactly (masked on zmm, by 8 and by 1 on ymm): the border
// around each row stays as it was.
func planeRows(name string, zmm bool) {
	TEXT(name, NOSPLIT, "func(dst, x *byte, chans, rows, w, pw, psz int)")
	Pragma("noescape")
	Doc(name + ": dst[c·psz + r·pw + i] = x[(c·rows + r)·w + i] for c < chans, r < rows, i < w.")
	src := Load(Param("x"), GP64())
	chBase := Load(Param("dst"), GP64())
	cLeft := Load(Param("chans"), GP64())
	Label(name + "_chan")
	TESTQ(cLeft, cLeft)
	JZ(LabelRef(name + "_done"))
	row := GP64()
	MOVQ(chBase, row)
	rLeft := Load(Param("rows"), GP64())
	Label(name + "_row")
	TESTQ(rLeft, rLeft)
	JZ(LabelRef(name + "_chanEnd"))
	d := GP64()
	MOVQ(row, d)
	rem := Load(Param("w"), GP64())
	if zmm {
		v := ZMM()
		Label(name + "_64")
		CMPQ(rem, Imm(64))
		JL(LabelRef(name + "_tail"))
		VMOVDQU8(Mem{Base: src}, v)
		VMOVDQU8(v, Mem{Base: d})
		ADDQ(Imm(64), src)
		ADDQ(Imm(64), d)
		SUBQ(Imm(64), rem)
		JMP(LabelRef(name + "_64"))
		Label(name + "_tail")
		TESTQ(rem, rem)
		JZ(LabelRef(name + "_rowEnd"))
		tb := GP64()
		LEAQ(lowMasks64(), tb)
		k := K()
		KMOVQ(Mem{Base: tb, Index: rem, Scale: 8}, k)
		VMOVDQU8_Z(Mem{Base: src}, k, v)
		VMOVDQU8(v, k, Mem{Base: d})
		ADDQ(rem, src)
	} else {
		v := YMM()
		Label(name + "_32")
		CMPQ(rem, Imm(32))
		JL(LabelRef(name + "_8"))
		VMOVDQU(Mem{Base: src}, v)
		VMOVDQU(v, Mem{Base: d})
		ADDQ(Imm(32), src)
		ADDQ(Imm(32), d)
		SUBQ(Imm(32), rem)
		JMP(LabelRef(name + "_32"))
		Label(name + "_8")
		t := GP64()
		CMPQ(rem, Imm(8))
		JL(LabelRef(name + "_1"))
		MOVQ(Mem{Base: src}, t)
		MOVQ(t, Mem{Base: d})
		ADDQ(Imm(8), src)
		ADDQ(Imm(8), d)
		SUBQ(Imm(8), rem)
		JMP(LabelRef(name + "_8"))
		Label(name + "_1")
		TESTQ(rem, rem)
		JZ(LabelRef(name + "_rowEnd"))
		MOVB(Mem{Base: src}, t.As8())
		MOVB(t.As8(), Mem{Base: d})
		INCQ(src)
		INCQ(d)
		DECQ(rem)
		JMP(LabelRef(name + "_1"))
	}
	Label(name + "_rowEnd")
	{
		pw := Load(Param("pw"), GP64())
		ADDQ(pw, row)
		DECQ(rLeft)
		JMP(LabelRef(name + "_row"))
	}
	Label(name + "_chanEnd")
	{
		sz := Load(Param("psz"), GP64())
		ADDQ(sz, chBase)
		DECQ(cLeft)
		JMP(LabelRef(name + "_chan"))
	}
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

var lowMask64Table *Mem

// lowMasks64 is a table of 64-bit masks: entry i (at 8i) has the low i bits set.
func lowMasks64() Mem {
	if lowMask64Table == nil {
		m := GLOBL("lowmasks64", RODATA|NOPTR)
		for i := 0; i <= 64; i++ {
			v := ^uint64(0)
			if i < 64 {
				v = 1<<uint(i) - 1
			}
			DATA(8*i, U64(v))
		}
		lowMask64Table = &m
	}
	return *lowMask64Table
}

// dwQ8VNNI emits the fused int8 depthwise convolution on AVX-512 VNNI and
// VBMI for uint8 input and filters that fit int8: for each kernel row, the
// 64 bytes at the block's start are loaded once and each group of four
// taps becomes, per output lane, the dword of its four input bytes
// (VPERMB with the caller's index table: lane l, byte b reads byte
// l·stride + (4g+b)·dilation), summed by one VPDPBUSD against the group's
// four int8 weights. The int32 sums minus zx·Σw are exact; the epilogue is
// dwQ8's on their float32 conversion. Each kernel row reads 64 bytes from
// its start, which the caller's planes hold.
func dwQ8VNNI(name string) {
	TEXT(name, NOSPLIT, "func(dst []byte, x, idx *byte, wq *int32, mult, bias []float32, corr []int32, chans, outH, outW, kh, groups, rowStep, dRow, colStep, psz int, lo, hi, s, z, qlo, qhi float32)")
	Pragma("noescape")
	Doc(name+": the fused int8 depthwise convolution and requantization of chans channels of uint8 planes",
		"with int8 filters (four taps a VPDPBUSD; see dwQ8Go).")
	lov, hiv, sc, zv, qlo, qhi := Z0, Z1, Z2, Z3, Z4, Z5
	for _, p := range []struct {
		name string
		v    VecPhysical
	}{{"lo", lov}, {"hi", hiv}, {"s", sc}, {"z", zv}, {"qlo", qlo}, {"qhi", qhi}} {
		VBROADCASTSS(paramAddr(p.name), p.v)
	}
	mv, bv, cv, acc, row, ix, tmp := Z6, Z7, Z8, Z9, Z10, Z11, Z12
	cLeft, rLeft, rowBase, chBase, ci, wch := AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8)
	{
		t := Load(Param("chans"), GP64())
		MOVQ(t, cLeft)
		xb := Load(Param("x"), GP64())
		MOVQ(xb, chBase)
		MOVQ(U32(0), ci)
		w := Load(Param("wq"), GP64())
		MOVQ(w, wch)
	}
	d := Load(Param("dst").Base(), GP64())

	Label(name + "_chan")
	{
		t := GP64()
		MOVQ(cLeft, t)
		TESTQ(t, t)
		JZ(LabelRef(name + "_done"))
		i := GP64()
		MOVQ(ci, i)
		m := Load(Param("mult").Base(), GP64())
		VBROADCASTSS(Mem{Base: m, Index: i, Scale: 4}, mv)
		b := Load(Param("bias").Base(), GP64())
		VBROADCASTSS(Mem{Base: b, Index: i, Scale: 4}, bv)
		c := Load(Param("corr").Base(), GP64())
		VPBROADCASTD(Mem{Base: c, Index: i, Scale: 4}, cv)
		h := Load(Param("outH"), GP64())
		MOVQ(h, rLeft)
		cb := GP64()
		MOVQ(chBase, cb)
		MOVQ(cb, rowBase)
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

	// Blocks of 32 outputs as two independent chains while a row has
	// them, then blocks of 16.
	acc2, row2, tmp2 := Z13, Z14, Z15
	type blk struct{ acc, row, tmp VecPhysical }
	pairs := []blk{{acc, row, tmp}, {acc2, row2, tmp2}}
	sums := func(lbl string, bs []blk) {
		rp, wp, ki := GP64(), GP64(), GP64()
		for _, q := range bs {
			VPXORD(q.acc, q.acc, q.acc)
		}
		MOVQ(col, rp)
		MOVQ(wch, wp)
		MOVQ(paramAddr("kh"), ki)
		Label(lbl + "_krow")
		for k, q := range bs {
			VMOVDQU8(Mem{Base: rp, Disp: 0}, q.row)
			if k > 0 {
				// The second block starts 16·stride bytes on.
				st := GP64()
				MOVQ(paramAddr("colStep"), st)
				VMOVDQU8(Mem{Base: rp, Index: st, Scale: 1}, q.row)
			}
		}
		ip, g := GP64(), GP64()
		MOVQ(paramAddr("idx"), ip)
		MOVQ(paramAddr("groups"), g)
		Label(lbl + "_grp")
		VMOVDQU8(Mem{Base: ip}, ix)
		for _, q := range bs {
			VPERMB(q.row, ix, q.tmp)
			vpdpbusdBcst(Mem{Base: wp}, q.tmp, q.acc)
		}
		ADDQ(Imm(64), ip)
		ADDQ(Imm(4), wp)
		DECQ(g)
		JNZ(LabelRef(lbl + "_grp"))
		ADDQ(paramAddr("dRow"), rp)
		DECQ(ki)
		JNZ(LabelRef(lbl + "_krow"))
		for _, q := range bs {
			VPSUBD(cv, q.acc, q.acc)
			VCVTDQ2PS(q.acc, q.acc)
			VMULPS(mv, q.acc, q.acc)
			VADDPS(bv, q.acc, q.acc)
			VMAXPS(lov, q.acc, q.acc)
			VMINPS(hiv, q.acc, q.acc)
			VDIVPS(sc, q.acc, q.acc)
			VRNDSCALEPS(Imm(0), q.acc, q.acc) // to nearest, ties to even
			VADDPS(zv, q.acc, q.acc)
			VMAXPS(q.acc, qlo, q.acc)
			VMINPS(q.acc, qhi, q.acc)
			VCMPPS(Imm(7), q.acc, q.acc, K1) // ordered: set unless NaN
			VMOVAPS_Z(q.acc, K1, q.acc)
			VCVTPS2DQ(q.acc, q.acc)
		}
	}

	Label(name + "_blk2")
	CMPQ(rem, Imm(32))
	JL(LabelRef(name + "_blk"))
	sums(name+"_p", pairs)
	VPMOVDB(acc, Mem{Base: d})
	VPMOVDB(acc2, Mem{Base: d, Disp: 16})
	ADDQ(Imm(32), d)
	{
		st := GP64()
		MOVQ(paramAddr("colStep"), st)
		ADDQ(st, col)
		ADDQ(st, col)
	}
	SUBQ(Imm(32), rem)
	JMP(LabelRef(name + "_blk2"))

	Label(name + "_blk")
	TESTQ(rem, rem)
	JZ(LabelRef(name + "_rowEnd"))
	sums(name+"_s", pairs[:1])
	CMPQ(rem, Imm(16))
	JL(LabelRef(name + "_tail"))
	VPMOVDB(acc, Mem{Base: d})
	ADDQ(Imm(16), d)
	ADDQ(paramAddr("colStep"), col)
	SUBQ(Imm(16), rem)
	JMP(LabelRef(name + "_blk"))
	Label(name + "_tail")
	tb := GP64()
	LEAQ(lowMasks(), tb)
	KMOVW(Mem{Base: tb, Index: rem, Scale: 2}, K2)
	VPMOVDB(acc, K2, Mem{Base: d})
	ADDQ(rem, d)
	XORQ(rem, rem)
	JMP(LabelRef(name + "_blk"))

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
		n := Load(Param("kh"), GP64())
		g := Load(Param("groups"), GP64())
		IMULQ(g, n)
		SHLQ(Imm(2), n)
		ADDQ(n, wch)
		INCQ(ci)
		DECQ(cLeft)
		JMP(LabelRef(name + "_chan"))
	}
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// paramAddr is the stack address of the parameter name.
func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// evenBytes emits dst[i] = src[2i] for the whole blocks of 32 of len(dst)
// (src holds 2·that many bytes): the stride-2 im2col rows of the int8
// convolutions. On zmm, VPMOVWB keeps the low byte of each 16-bit word; on
// ymm, the words' high bytes are cleared and VPACKUSWB packs them (then
// VPERMQ undoes its lane interleave).
func evenBytes(name string, zmm bool) {
	TEXT(name, NOSPLIT, "func(dst, src []byte)")
	Pragma("noescape")
	Doc(name + ": dst[i] = src[2i] for i < len(dst) rounded down to 32; src must hold twice that.")
	d := Load(Param("dst").Base(), GP64())
	s := Load(Param("src").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(5), n)
	m := YMM()
	if !zmm {
		t := GP32()
		MOVL(U32(0x00ff00ff), t)
		VMOVD(t, m.AsX())
		VPBROADCASTD(m.AsX(), m)
	}
	Label(name + "_loop")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	if zmm {
		v := ZMM()
		VMOVDQU16(Mem{Base: s}, v)
		VPMOVWB(v, Mem{Base: d})
	} else {
		a, b := YMM(), YMM()
		VPAND(Mem{Base: s}, m, a)
		VPAND(Mem{Base: s, Disp: 32}, m, b)
		VPACKUSWB(b, a, a)
		VPERMQ(Imm(0xD8), a, a)
		VMOVDQU(a, Mem{Base: d})
	}
	ADDQ(Imm(64), s)
	ADDQ(Imm(32), d)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// dwQ8F emits the QDQ depthwise convolution of the float path, fused: for
// chans channels of 8-bit planes x (as dwQ8), per output
//
//	p_t = ((float32(x) − zx)·sx)·w[t]             (DequantizeLinear, then an unfused product)
//	acc = Σ p_t in MLAS's order: four taps a group summed left to right,
//	      each group added to the running sum from +0, then a pair, then one
//	y   = min(max(acc + bias, lo), hi)             (the conv's bias, Clip)
//	dst = clamp(roundeven(y/s) + z, qlo, qhi), NaN → 0   (QuantizeLinear)
//
// with float filters w (the dequantized weights, taps floats a channel):
// every step rounds as the float path's DequantizeLinear, depthwise
// kernels, Clip and QuantizeLinear round it, so the bytes are that path's.
func dwQ8F(name string, stride int, signed, zmm bool) {
	TEXT(name, NOSPLIT, "func(dst []byte, x *byte, offs []int32, w, bias []float32, chans, outH, outW, rowStep, psz int, zx, sx, lo, hi, s, z, qlo, qhi float32)")
	Pragma("noescape")
	Doc(name+": the float path's QDQ depthwise convolution (DequantizeLinear, Conv, Clip, QuantizeLinear)",
		fmt.Sprintf("of chans channels in one pass, bit for bit (see dwQ8FGo); stride %d, signed %v.", stride, signed))
	f := newQ8Frame(stride, signed, zmm, "zx", "sx")
	lanes, vec, ff, zxv, sxv := f.lanes, f.vec, f.ff, f.extra[0], f.extra[1]
	cLeft, rLeft, rowBase, chBase, ci, d, wp := f.cLeft, f.rLeft, f.rowBase, f.chBase, f.ci, f.d, f.wp
	bv, acc, sum, p, wv := vec(), vec(), vec(), vec(), vec()

	Label(name + "_chan")
	{
		t := GP64()
		MOVQ(cLeft, t)
		TESTQ(t, t)
		JZ(LabelRef(name + "_done"))
		i := GP64()
		MOVQ(ci, i)
		b := Load(Param("bias").Base(), GP64())
		VBROADCASTSS(Mem{Base: b, Index: i, Scale: 4}, bv)
		h := Load(Param("outH"), GP64())
		MOVQ(h, rLeft)
		cb := GP64()
		MOVQ(chBase, cb)
		MOVQ(cb, rowBase)
	}
	col, rem, offs, taps := q8RowBlock(name, zmm, acc, rLeft, rowBase)
	t, o, r := GP64(), GP64(), GP64()
	XORQ(t, t)
	// prod sets dst = ((x − zx)·sx)·w[t+u] for tap t+u.
	prod := func(u int, dst VecVirtual) {
		MOVLQSX(Mem{Base: offs, Index: t, Scale: 4, Disp: 4 * u}, o)
		src := Mem{Base: col, Index: o, Scale: 1}
		loadQ8Floats(src, dst, ff, stride, signed, zmm)
		VSUBPS(zxv, dst, dst)
		VMULPS(sxv, dst, dst)
		VBROADCASTSS(Mem{Base: wp, Index: t, Scale: 4, Disp: 4 * u}, wv)
		VMULPS(wv, dst, dst)
	}
	Label(name + "_g4")
	MOVQ(taps, r)
	SUBQ(t, r)
	CMPQ(r, Imm(4))
	JL(LabelRef(name + "_g2"))
	prod(0, sum)
	for u := 1; u < 4; u++ {
		prod(u, p)
		VADDPS(p, sum, sum)
	}
	VADDPS(acc, sum, acc)
	ADDQ(Imm(4), t)
	JMP(LabelRef(name + "_g4"))
	Label(name + "_g2")
	CMPQ(r, Imm(2))
	JL(LabelRef(name + "_g1"))
	prod(0, sum)
	prod(1, p)
	VADDPS(p, sum, sum)
	VADDPS(acc, sum, acc)
	ADDQ(Imm(2), t)
	SUBQ(Imm(2), r)
	Label(name + "_g1")
	TESTQ(r, r)
	JZ(LabelRef(name + "_epi"))
	prod(0, sum)
	VADDPS(acc, sum, acc)
	Label(name + "_epi")
	f.epi.bias = bv
	requantQ8Block(name, zmm, signed, acc, f.epi, lanes, stride, rem, d, col)
	q8ChannelEnds(name, rowBase, rLeft, chBase, wp, ci, cLeft)
}

// storeQ8Block converts the clamped block acc (NaN lanes to zero) to
// bytes and stores lanes of them at d, or, under rem lanes, the first rem
// (a mask on zmm, byte by byte on ymm); then it advances d, col (by
// lanes·stride) and rem, and jumps back to name_blk.
func storeQ8Block(name string, zmm, signed bool, acc VecVirtual, lanes, stride int, rem, d, col Register) {
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
}

// q8RowBlock opens the fused int8 depthwise kernels' row loop (to
// name_chanEnd when rLeft rows are done) and their block loop over the
// row's outW outputs (to name_rowEnd when rem is 0), clearing acc for the
// block; it returns the column pointer, the outputs left in the row and
// the tap offsets' base and count.
func q8RowBlock(name string, zmm bool, acc VecVirtual, rLeft, rowBase Op) (col, rem, offs, taps Register) {
	Label(name + "_row")
	{
		t := GP64()
		MOVQ(rLeft, t)
		TESTQ(t, t)
		JZ(LabelRef(name + "_chanEnd"))
	}
	col = GP64()
	MOVQ(rowBase, col)
	rem = Load(Param("outW"), GP64())

	Label(name + "_blk")
	TESTQ(rem, rem)
	JZ(LabelRef(name + "_rowEnd"))
	if zmm {
		VPXORD(acc, acc, acc)
	} else {
		VXORPS(acc, acc, acc)
	}
	offs = Load(Param("offs").Base(), GP64())
	taps = Load(Param("offs").Len(), GP64())
	return col, rem, offs, taps
}

// loadQ8Floats widens lanes bytes at src to float32 in dst: consecutive
// bytes (stride 1) or the even bytes, the low byte of each 16-bit word
// (stride 2); ff holds 0xff in each lane.
func loadQ8Floats(src Mem, dst, ff VecVirtual, stride int, signed, zmm bool) {
	switch {
	case stride == 1 && signed:
		VPMOVSXBD(src, dst)
	case stride == 1:
		VPMOVZXBD(src, dst)
	default:
		VPMOVZXWD(src, dst)
		if signed {
			VPSLLD(Imm(24), dst, dst)
			VPSRAD(Imm(24), dst, dst)
		} else if zmm {
			VPANDD(ff, dst, dst)
		} else {
			VPAND(ff, dst, dst)
		}
	}
	VCVTDQ2PS(dst, dst)
}

// q8Epilogue is the broadcast constants of requantQ8Block.
type q8Epilogue struct{ bias, lo, hi, s, z, qlo, qhi VecVirtual }

// requantQ8Block adds the bias to a block's sums, applies Clip [lo, hi],
// quantizes (y/s rounded to even, + z, clamped to [qlo, qhi], NaN → 0) and
// stores the bytes.
func requantQ8Block(name string, zmm, signed bool, acc VecVirtual, e q8Epilogue, lanes, stride int, rem, d, col Register) {
	bv, lov, hiv, sc, zv, qlo, qhi := e.bias, e.lo, e.hi, e.s, e.z, e.qlo, e.qhi
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
	storeQ8Block(name, zmm, signed, acc, lanes, stride, rem, d, col)
}

// q8ChannelEnds emits the row and channel loop ends of dwQ8 and dwQ8F
// (labels _rowEnd, _chanEnd, _done): the next row, then the next channel's
// plane and filter taps.
func q8ChannelEnds(name string, rowBase, rLeft, chBase Op, wp Register, ci, cLeft Op) {
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
		INCQ(ci)
		DECQ(cLeft)
		JMP(LabelRef(name + "_chan"))
	}
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// q8Frame is what dwQ8 and dwQ8F set up alike: the vector width, the
// epilogue's broadcast constants (all but the per-channel bias), further
// broadcast parameters, the 0xff lane mask of stride 2 with unsigned bytes,
// the counters kept on the stack (channels left, rows left, this row's and
// this channel's base, the channel index), dst and the filters.
type q8Frame struct {
	lanes                             int
	vec                               func() VecVirtual
	epi                               q8Epilogue
	extra                             []VecVirtual
	ff                                VecVirtual
	cLeft, rLeft, rowBase, chBase, ci Mem
	d, wp                             Register
}

func newQ8Frame(stride int, signed, zmm bool, extra ...string) q8Frame {
	f := q8Frame{lanes: 8, vec: func() VecVirtual { return YMM() }}
	if zmm {
		f.lanes = 16
		f.vec = func() VecVirtual { return ZMM() }
	}
	e := &f.epi
	e.lo, e.hi, e.s, e.z, e.qlo, e.qhi = f.vec(), f.vec(), f.vec(), f.vec(), f.vec(), f.vec()
	for _, p := range []struct {
		name string
		v    VecVirtual
	}{{"lo", e.lo}, {"hi", e.hi}, {"s", e.s}, {"z", e.z}, {"qlo", e.qlo}, {"qhi", e.qhi}} {
		bcastParam(p.name, p.v)
	}
	for _, name := range extra {
		v := f.vec()
		bcastParam(name, v)
		f.extra = append(f.extra, v)
	}
	if stride == 2 && !signed {
		f.ff = f.vec()
		t := GP32()
		MOVL(U32(0xff), t)
		tx := XMM()
		VMOVD(t, tx)
		VPBROADCASTD(tx, f.ff)
	}
	f.cLeft, f.rLeft, f.rowBase, f.chBase, f.ci = AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8)
	t := Load(Param("chans"), GP64())
	MOVQ(t, f.cLeft)
	xb := Load(Param("x"), GP64())
	MOVQ(xb, f.chBase)
	MOVQ(U32(0), f.ci)
	f.d = Load(Param("dst").Base(), GP64())
	f.wp = Load(Param("w").Base(), GP64())
	return f
}
