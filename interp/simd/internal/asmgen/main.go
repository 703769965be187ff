// Command asmgen writes interp/simd's AVX2+FMA kernels (simd_amd64.s) and
// their Go declarations (simd_amd64_stubs.go) with avo. It lives in its own
// module so that the main module does not depend on avo.
//
//	cd interp/simd/internal/asmgen && go run . -out ../../simd_amd64.s -stubs ../../simd_amd64_stubs.go -pkg simd
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")
	maskTable()
	fmaPeak()
	for _, rows := range []bool{false, true} {
		for m := 1; m <= 6; m++ {
			gemmKernel(m, rows)
		}
	}
	for p := 1; p <= 8; p++ {
		gemmCol(p)
	}
	packRow()
	gatherRows()
	quantize8("quantizeU8AVX", false)
	quantize8("quantizeI8AVX", true)
	dequantize8("dequantizeU8AVX", false)
	dequantize8("dequantizeI8AVX", true)
	widen4("widenI4AVX", true)
	widen4("widenU4AVX", false)
	copyRows()
	binary("addAVX", "dst[i] = a[i] + b[i]", func(a, b Op, d VecVirtual) { VADDPS(b, a, d) })
	binary("subAVX", "dst[i] = a[i] - b[i]", func(a, b Op, d VecVirtual) { VSUBPS(b, a, d) })
	binary("mulAVX", "dst[i] = a[i] * b[i]", func(a, b Op, d VecVirtual) { VMULPS(b, a, d) })
	binary("divAVX", "dst[i] = a[i] / b[i]", func(a, b Op, d VecVirtual) { VDIVPS(b, a, d) })
	withScalar("divScalarAVX", "dst[i] = x[i] / c", func(x, c VecVirtual) { VDIVPS(c, x, x) })
	withScalar("scalarDivAVX", "dst[i] = c / x[i]", func(x, c VecVirtual) { VDIVPS(x, c, x) })
	// VMAXPS returns its second source when either is NaN: a NaN in a
	// keeps b (max pooling skips NaN taps).
	binary("maxSkipNaNAVX", "dst[i] = a[i] if a[i] > b[i], else b[i]", func(a, b Op, d VecVirtual) { VMAXPS(b, a, d) })
	// int4's per-block scale: a running max of |b|, bit for bit as Go
	// compiles max(a, |b|) on amd64 (NaN payloads, ±0 included):
	// -((min(min(-a, -|b|), -a)) | min(-a, -|b|)), MINPS as MINSS.
	binary("maxAbsAVX", "dst[i] = max(a[i], |b[i]|) as Go's max on amd64", func(a, b Op, d VecVirtual) {
		nx, ny, t := YMM(), YMM(), YMM()
		if _, ok := b.(Mem); ok {
			VMOVUPS(b, ny)
			VORPS(vcBits(0x80000000), ny, ny)
		} else {
			VORPS(vcBits(0x80000000), b, ny)
		}
		VXORPS(vcBits(0x80000000), a, nx)
		VMINPS(ny, nx, t) // t = nx < ny ? nx : ny
		VMINPS(nx, t, d)  // t < nx ? t : nx
		VORPS(t, d, d)
		VXORPS(vcBits(0x80000000), d, d)
	})
	// PRelu / LeakyRelu: x where x < 0 is false (NaN and -0 pass through), else x·s.
	binary("preluAVX", "dst[i] = a[i]·b[i] if a[i] < 0, else a[i]", func(a, b Op, d VecVirtual) { prelu(a.(VecVirtual), b, d) })
	withScalar("leakyAVX", "dst[i] = x[i]·c if x[i] < 0, else x[i]", func(x, c VecVirtual) { prelu(x, c, x) })
	axpy()
	axpy8()
	axpy8512()
	scaleShift()
	biasClip()
	scaleShiftClip()
	scaleShiftClipRows(true)
	scaleShiftClipRows(false)
	unary512("tanhAVX512", "dst[i] = tanh(x[i])", tanh(zmm))
	unary512("erfAVX512", "dst[i] = erf(x[i])", func(x VecVirtual) VecVirtual { return erf(zmm, x) })
	unary512("geluAVX512", "dst[i] = x[i]/2 * (1 + erf(x[i]/sqrt 2))", gelu(zmm))
	unary512("expAVX512", "dst[i] = exp(x[i])", func(x VecVirtual) VecVirtual { return expW(zmm, x) })
	unary512("sigmoidAVX512", "dst[i] = 1/(1+exp(-x[i]))", sigmoidW(zmm))
	unary("expAVX", "dst[i] = exp(x[i])", 2, func(x VecVirtual) VecVirtual { return exp(x) })
	unary512("logAVX512", "dst[i] = log(x[i])", func(x VecVirtual) VecVirtual { return logW(zmm, x) })
	// Round (to nearest even), Floor, Ceil: the rounding instruction's
	// modes 0, 1, 2, with bit 3 set (no precision exception); exact.
	for _, r := range []struct {
		name, what string
		mode       uint64
	}{{"round", "round half to even", 0}, {"floor", "floor", 1}, {"ceil", "ceil", 2}} {
		imm := Imm(8 | r.mode)
		unary(r.name+"AVX", "dst[i] = "+r.what+"(x[i])", 2, func(x VecVirtual) VecVirtual { VROUNDPS(imm, x, x); return x })
		unary512(r.name+"AVX512", "dst[i] = "+r.what+"(x[i])", func(x VecVirtual) VecVirtual { VRNDSCALEPS(imm, x, x); return x })
	}
	unary512("sinAVX512", "dst[i] = sin(x[i]) for |x[i]| ≤ 16384", func(x VecVirtual) VecVirtual { return sinCosW(zmm, x, false) })
	unary512("cosAVX512", "dst[i] = cos(x[i]) for |x[i]| ≤ 16384", func(x VecVirtual) VecVirtual { return sinCosW(zmm, x, true) })
	unary("sinAVX", "dst[i] = sin(x[i]) for |x[i]| ≤ 16384", 2, func(x VecVirtual) VecVirtual { return sinCosW(ymm, x, false) })
	unary("cosAVX", "dst[i] = cos(x[i]) for |x[i]| ≤ 16384", 2, func(x VecVirtual) VecVirtual { return sinCosW(ymm, x, true) })
	unary("logAVX", "dst[i] = log(x[i])", 2, func(x VecVirtual) VecVirtual { return logW(ymm, x) })
	unary("sqrtAVX", "dst[i] = sqrt(x[i]), correctly rounded", 2, func(x VecVirtual) VecVirtual { VSQRTPS(x, x); return x })
	unary512("sqrtAVX512", "dst[i] = sqrt(x[i]), correctly rounded", func(x VecVirtual) VecVirtual { VSQRTPS(x, x); return x })
	unary("absAVX", "dst[i] = |x[i]|, the sign bit cleared", 2, func(x VecVirtual) VecVirtual { VANDPS(vcBits(0x7fffffff), x, x); return x })
	unary512("absAVX512", "dst[i] = |x[i]|, the sign bit cleared", func(x VecVirtual) VecVirtual {
		m := ZMM()
		VBROADCASTSS(vcBits(0x7fffffff), m)
		VANDPS(m, x, x)
		return x
	})
	unary("sigmoidAVX", "dst[i] = 1/(1+exp(-x[i]))", 2, sigmoid)
	unary("tanhAVX", "dst[i] = tanh(x[i])", 2, tanh(ymm))
	unary("erfAVX", "dst[i] = erf(x[i])", 2, func(x VecVirtual) VecVirtual { return erf(ymm, x) })
	unary("geluAVX", "dst[i] = x[i]/2 * (1 + erf(x[i]/sqrt 2))", 2, gelu(ymm))
	sum()
	dot()
	maxReduce()
	minMaxReduce()
	expSubSum()
	sumSqDev()
	normAffine()
	dwKernel("dwRow3s1AVX", 1, false)
	dwKernel("dwRow3s2AVX", 2, false)
	dwKernel("dwPlane3s1AVX", 1, true)
	dwKernel("dwPlane3s2AVX", 2, true)
	dwTaps("dwTapsAVX", false)
	dwcIn(chanYMM)
	dwcOut(chanYMM)
	sumTaps("sumTapsAVX", false)
	evens()
	transposeTiles()
	deinterleave512()
	padRows512()
	float16Sat()
	float16s()
	fromFloat16s()
	blockQuantI4()
	quantPackI4()
	quantPackI4_512()
	gemmU8I8AVX2()
	packU8x4()
	colSumsU8()
	i32ScaleShiftClip()
	requant8("requant8U8AVX", false, false, false)
	requant8("requant8I8AVX", true, false, false)
	requant8("i32Requant8U8AVX", false, true, false)
	requant8("i32Requant8I8AVX", true, true, false)
	addQ8("addQ8U8AVX", false)
	addQ8("addQ8I8AVX", true)
	for _, v := range dwQ8Variants {
		dwQ8(v.name+"AVX", v.stride, v.signed, false)
	}
	planeRows("planeRowsAVX", false)
	for _, v := range dwQ8Variants {
		dwQ8F(v.name+"FAVX", v.stride, v.signed, false)
	}
	evenBytes("evenBytesAVX", false)
	// AVX-512 (F, BW, DQ, VL): the Go side selects them only where the CPU has them.
	fmaPeak512()
	elementwise512()
	for _, mode := range []bMode{bPacked, bRows, bTaps, bSegs, bSegs3} {
		for m := 1; m <= 6; m++ {
			gemmKernel512(m, mode)
		}
		gemmKernel512x12(mode, 6)
		gemmKernel512x12(mode, 2)
		gemmKernel512x12(mode, 4)
	}
	gemmKernel512x12x16()
	packA6()
	segRows()
	dwTaps("dwTapsAVX512", true)
	sumTaps("sumTapsAVX512", true)
	dwKernel512("dwRow3s1AVX512", 1, false)
	dwKernel512("dwRow3s2AVX512", 2, false)
	dwPlaneBlocked512("dwPlane3s1AVX512", 1)
	dwPlaneBlocked512("dwPlane3s2AVX512", 2)
	dwDirect512("dwDirect3s1AVX512", 1)
	dwDirect512("dwDirect3s2AVX512", 2)
	pool2x2("avg2x2AVX512", true)
	pool2x2("max2x2AVX512", false)
	maxRows512()
	dwcIn(chanZMM)
	dwcOut(chanZMM)
	gemmU8I8VNNI()
	gemvU8I8VNNI()
	quantize8("quantizeU8AVX512", false, true)
	quantize8("quantizeI8AVX512", true, true)
	requant8("requant8U8AVX512", false, false, true)
	requant8("requant8I8AVX512", true, false, true)
	requant8("i32Requant8U8AVX512", false, true, true)
	requant8("i32Requant8I8AVX512", true, true, true)
	i32Requant8Rows("i32Requant8RowsAVX512")
	for _, v := range dwQ8Variants {
		dwQ8(v.name+"AVX512", v.stride, v.signed, true)
	}
	planeRows("planeRowsAVX512", true)
	for _, v := range dwQ8Variants {
		dwQ8F(v.name+"FAVX512", v.stride, v.signed, true)
	}
	evenBytes("evenBytesAVX512", true)
	dwQ8VNNI("dwQ8VNNI")
	Generate()
}

// mask is 8 all-ones words then 8 zero words: loading 8 words at
// mask+4*(8-r) gives a VMASKMOVPS mask for the first r lanes.
var mask Mem

func maskTable() {
	mask = GLOBL("tailmask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
}

// loadMask sets m to the lane mask of the first n (1..7) lanes.
func loadMask(n Register, m VecVirtual) {
	t, base := GP64(), GP64()
	MOVQ(U32(8), t)
	SUBQ(n, t)
	LEAQ(mask, base) // SB-relative operands take no index register
	VMOVDQU(Mem{Base: base, Index: t, Scale: 4}, m)
}

var consts = map[uint32]Mem{}

// vc returns a 32-byte constant with v in every lane, usable as the memory
// operand of a vector instruction so that kernels need no registers for it.
func vc(v float32) Mem { return vcBits(math.Float32bits(v)) }

func vcBits(bits uint32) Mem {
	if m, ok := consts[bits]; ok {
		return m
	}
	m := GLOBL(fmt.Sprintf("c%08x", bits), RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(bits))
	}
	consts[bits] = m
	return m
}

// bcastParam broadcasts the float32 parameter name into v.
// bcastParam broadcasts a float32 argument straight from memory: a legacy
// SSE MOVSS while the upper YMM halves are dirty costs a state transition
// (measured: the stride-2 depthwise loop ran 10× slower).
func bcastParam(name string, v VecVirtual) {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(b.Addr, v)
}

// storeRet stores a float32 result with VMOVSS: avo's Store emits the
// legacy SSE MOVSS, which pays the same transition as in bcastParam.
func storeRet(x Op) {
	b, err := ReturnIndex(0).Resolve()
	if err != nil {
		panic(err)
	}
	VMOVSS(x, b.Addr)
}

func end() {
	VZEROUPPER()
	RET()
}

func fmaPeak() {
	TEXT("fmaPeakAVX", NOSPLIT, "func(n int)")
	Pragma("noescape")
	Doc("fmaPeakAVX runs n rounds of 12 independent 8-wide FMAs (192 flops a round): the single-core peak.")
	n := Load(Param("n"), GP64())
	acc := make([]VecPhysical, 12)
	for i := range acc {
		acc[i] = VecPhysical(Y(i))
		VXORPS(acc[i], acc[i], acc[i])
	}
	VXORPS(Y12, Y12, Y12)
	VXORPS(Y13, Y13, Y13)
	TESTQ(n, n)
	JZ(LabelRef("peak_done"))
	Label("peak_loop")
	for i := range acc {
		VFMADD231PS(Y13, Y12, acc[i])
	}
	DECQ(n)
	JNZ(LabelRef("peak_loop"))
	Label("peak_done")
	end()
}

// Y returns the i-th YMM register.
func Y(i int) VecPhysical {
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}[i]
}

// gemmKernel emits the mr×16 micro-kernel. a is an mr-row panel (k steps of
// mr floats), b a 16-column panel (k steps of 16 floats); the mr×16 product is
// stored to c (row stride ldc floats), or added to it when acc is set.
//
// With rows, b is 16 columns of a row-major matrix read in place, k steps
// ldb floats apart (gemm…x16RowsAVX): the same FMA chains.
func gemmKernel(mr int, rows bool) {
	name := fmt.Sprintf("gemm%dx16AVX", mr)
	sig := "func(k int, a, b, c *float32, ldc int, acc bool)"
	doc := fmt.Sprintf("%s is the %d×16 SGEMM micro-kernel: c (+)= a·b over k packed steps.", name, mr)
	if rows {
		name = fmt.Sprintf("gemm%dx16RowsAVX", mr)
		sig = "func(k int, a, b *float32, ldb int, c *float32, ldc int, acc bool)"
		doc = fmt.Sprintf("%s is the %d×16 SGEMM micro-kernel over 16 columns of a row-major B read in place (k steps ldb floats apart): c (+)= a·b.", name, mr)
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc)
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	var bs *bSteps
	var b Register
	if rows {
		bs = newBSteps(true)
		bs.half = 32
	} else {
		b = Load(Param("b"), GP64())
	}
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	// Fixed registers: 2·mr accumulators, two B rows, one broadcast.
	acc := make([]VecPhysical, 2*mr)
	for i := range acc {
		acc[i] = Y(i)
		VXORPS(acc[i], acc[i], acc[i])
	}
	b0, b1 := Y(12), Y(13)
	bc := []VecPhysical{Y14, Y15}
	// Pull the C tile towards L1 while the k loop runs.
	p := GP64()
	MOVQ(c, p)
	for i := 0; i < mr; i++ {
		PREFETCHT0(Mem{Base: p})
		PREFETCHT0(Mem{Base: p, Disp: 60})
		if i < mr-1 {
			ADDQ(ldc, p)
		}
	}
	step := func(s int) {
		if rows {
			bs.load(s, b0, b1)
		} else {
			VMOVUPS(Mem{Base: b, Disp: 64 * s}, b0)
			VMOVUPS(Mem{Base: b, Disp: 64*s + 32}, b1)
		}
		for i := 0; i < mr; i++ {
			t := bc[i%2]
			VBROADCASTSS(Mem{Base: a, Disp: 4 * (mr*s + i)}, t)
			VFMADD231PS(b0, t, acc[2*i])
			VFMADD231PS(b1, t, acc[2*i+1])
		}
	}
	const unroll = 4
	prefix := "g"
	if rows {
		prefix = "gr"
	}
	advance := func(n int) {
		if rows {
			bs.advance(n)
		} else {
			ADDQ(U32(64*n), b)
		}
	}
	lbl := func(s string) string { return fmt.Sprintf("%s%d_%s", prefix, mr, s) }
	Label(lbl("loop4"))
	CMPQ(k, Imm(unroll))
	JL(LabelRef(lbl("loop1")))
	for s := 0; s < unroll; s++ {
		step(s)
	}
	ADDQ(U32(4*mr*unroll), a)
	advance(unroll)
	SUBQ(U32(unroll), k)
	JMP(LabelRef(lbl("loop4")))
	Label(lbl("loop1"))
	TESTQ(k, k)
	JZ(LabelRef(lbl("store")))
	step(0)
	ADDQ(U32(4*mr), a)
	advance(1)
	DECQ(k)
	JMP(LabelRef(lbl("loop1")))

	Label(lbl("store"))
	storeTile(lbl, c, ldc, mr, acc, 32)
}

// packRow scatters one row of B into the packed layout: 16-float chunk j
// of src goes to dst[j*stride:], so reads are sequential and each write is
// one cache line. Each chunk's line ahead bytes on (a later row of B) is
// prefetched: rows a power of two apart defeat the hardware prefetcher.
func packRow() {
	TEXT("packRowAVX", NOSPLIT, "func(dst, src []float32, panels, stride, ahead int)")
	Pragma("noescape")
	Doc("packRowAVX copies src[16j:16j+16] to dst[j*stride:j*stride+16] for j < panels, prefetching src's bytes ahead bytes on.")
	d := Load(Param("dst").Base(), GP64())
	s := Load(Param("src").Base(), GP64())
	n := Load(Param("panels"), GP64())
	st := Load(Param("stride"), GP64())
	ah := Load(Param("ahead"), GP64())
	SHLQ(Imm(2), st)
	x0, x1 := YMM(), YMM()
	Label("pack_loop")
	TESTQ(n, n)
	JZ(LabelRef("pack_done"))
	PREFETCHT0(Mem{Base: s, Index: ah, Scale: 1})
	VMOVUPS(Mem{Base: s}, x0)
	VMOVUPS(Mem{Base: s, Disp: 32}, x1)
	VMOVUPS(x0, Mem{Base: d})
	VMOVUPS(x1, Mem{Base: d, Disp: 32})
	ADDQ(U32(64), s)
	ADDQ(st, d)
	DECQ(n)
	JMP(LabelRef("pack_loop"))
	Label("pack_done")
	end()
}

func gatherRows() {
	TEXT("gatherRowsAVX", NOSPLIT, "func(dst []float32, base *float32, rows []int32, idx *[16]int32)")
	Pragma("noescape")
	Doc("gatherRowsAVX writes 16 floats per row r: dst[16r+t] = *(base + rows[r] + idx[t]), offsets in bytes.")
	d := Load(Param("dst").Base(), GP64())
	b := Load(Param("base"), GP64())
	r := Load(Param("rows").Base(), GP64())
	n := Load(Param("rows").Len(), GP64())
	ix := Load(Param("idx"), GP64())
	i0, i1 := YMM(), YMM()
	VMOVDQU(Mem{Base: ix}, i0)
	VMOVDQU(Mem{Base: ix, Disp: 32}, i1)
	off := GP64()
	Label("gather_loop")
	TESTQ(n, n)
	JZ(LabelRef("gather_done"))
	MOVLQSX(Mem{Base: r}, off)
	ADDQ(b, off)
	// The gathers clear their masks: set them afresh each row.
	m0, m1, x0, x1 := YMM(), YMM(), YMM(), YMM()
	VPCMPEQD(m0, m0, m0)
	VPCMPEQD(m1, m1, m1)
	VGATHERDPS(m0, Mem{Base: off, Index: i0, Scale: 1}, x0)
	VGATHERDPS(m1, Mem{Base: off, Index: i1, Scale: 1}, x1)
	VMOVUPS(x0, Mem{Base: d})
	VMOVUPS(x1, Mem{Base: d, Disp: 32})
	ADDQ(U32(64), d)
	ADDQ(U32(4), r)
	DECQ(n)
	JMP(LabelRef("gather_loop"))
	Label("gather_done")
	end()
}

// quantize8 emits QuantizeLinear's float32 → 8-bit step for whole blocks
// of eight: y = saturate(round_half_even(x/s) + z) with the clamp in float32
// (lo, hi the type's range); NaN becomes 0, as Go's conversion makes it.
// The caller does the len%8 tail.
func quantize8(name string, signed bool, zmm ...bool) {
	TEXT(name, NOSPLIT, "func(dst []byte, x []float32, s, z, lo, hi float32)")
	Pragma("noescape")
	Doc(name + ": dst[i] = clamp(roundeven(x[i]/s)+z, lo, hi) (NaN: 0) for i < len(dst) rounded down to 8.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(3), n)
	if len(zmm) > 0 && zmm[0] {
		// Blocks of 16 on zmm (the same operations: VRNDSCALEPS for
		// VROUNDPS, a zeroing-masked move for the NaN mask, VPMOVDB for the
		// packs of in-range values), then the ymm loop below for the last 8.
		zs, zz, zlo, zhi, x := ZMM(), ZMM(), ZMM(), ZMM(), ZMM()
		bcastParam("s", zs)
		bcastParam("z", zz)
		bcastParam("lo", zlo)
		bcastParam("hi", zhi)
		k := K()
		Label(name + "_z")
		CMPQ(n, Imm(2))
		JL(LabelRef(name + "_zdone"))
		VMOVUPS(Mem{Base: px}, x)
		VDIVPS(zs, x, x)
		VRNDSCALEPS(Imm(0), x, x)
		VADDPS(zz, x, x)
		VMAXPS(x, zlo, x)
		VMINPS(x, zhi, x)
		VCMPPS(Imm(7), x, x, k)
		VMOVAPS_Z(x, k, x)
		VCVTPS2DQ(x, x)
		VPMOVDB(x, Mem{Base: d})
		ADDQ(U32(16), d)
		ADDQ(U32(64), px)
		SUBQ(Imm(2), n)
		JMP(LabelRef(name + "_z"))
		Label(name + "_zdone")
	}
	sc, z, lo, hi := YMM(), YMM(), YMM(), YMM()
	bcastParam("s", sc)
	bcastParam("z", z)
	bcastParam("lo", lo)
	bcastParam("hi", hi)
	x, m := YMM(), YMM()
	h := XMM()
	Label(name + "_loop")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	VMOVUPS(Mem{Base: px}, x)
	VDIVPS(sc, x, x)
	VROUNDPS(Imm(0), x, x) // to nearest, ties to even
	VADDPS(z, x, x)
	packQ8(signed, x, lo, hi, m, h)
	MOVQ(h, Mem{Base: d})
	ADDQ(U32(8), d)
	ADDQ(U32(32), px)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	end()
}

// dequantize8 emits DequantizeLinear's 8-bit → float32 step for whole
// blocks of eight: y = (float32(x) - z)·s. The caller does the tail.
func dequantize8(name string, signed bool) {
	TEXT(name, NOSPLIT, "func(dst []float32, x []byte, z, s float32)")
	Pragma("noescape")
	Doc(name + ": dst[i] = (float32(x[i]) - z)·s for i < len(dst) rounded down to 8.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(3), n)
	z, sc := YMM(), YMM()
	bcastParam("z", z)
	bcastParam("s", sc)
	x := YMM()
	Label(name + "_loop")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	if signed {
		VPMOVSXBD(Mem{Base: px}, x)
	} else {
		VPMOVZXBD(Mem{Base: px}, x)
	}
	VCVTDQ2PS(x, x)
	VSUBPS(z, x, x)
	VMULPS(sc, x, x)
	VMOVUPS(x, Mem{Base: d})
	ADDQ(U32(32), d)
	ADDQ(U32(8), px)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	end()
}

// widen4 widens packed 4-bit values, low nibble first, to float32
// (exact), sixteen from eight bytes a step: each byte zero-extended to a
// word whose two bytes then take its two nibbles, in the values' order;
// signed ones sign-extended as (v ^ 8) - 8; then bytes to dwords, dwords to
// floats.
func widen4(name string, signed bool) {
	TEXT(name, NOSPLIT, "func(dst []float32, x []byte)")
	Pragma("noescape")
	kind := "unsigned"
	if signed {
		kind = "signed"
	}
	Doc(name + ": dst[i] = float32(the " + kind + " 4-bit value i of x, low nibble first) for i < len(dst) rounded down to 16.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(4), n)
	lo, hi, e8 := XMM(), XMM(), XMM()
	VMOVDQU(vcBits(0x000F000F), lo)
	VMOVDQU(vcBits(0x0F000F00), hi)
	if signed {
		VMOVDQU(vcBits(0x08080808), e8)
	}
	x, t := XMM(), XMM()
	a, b := YMM(), YMM()
	Label(name + "_loop")
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	VPMOVZXBW(Mem{Base: px}, x)
	VPSLLW(Imm(4), x, t)
	VPAND(hi, t, t)
	VPAND(lo, x, x)
	VPOR(t, x, x)
	if signed {
		VPXOR(e8, x, x)
		VPSUBB(e8, x, x)
	}
	VPSHUFD(Imm(0xEE), x, t)
	if signed {
		VPMOVSXBD(x, a)
		VPMOVSXBD(t, b)
	} else {
		VPMOVZXBD(x, a)
		VPMOVZXBD(t, b)
	}
	VCVTDQ2PS(a, a)
	VCVTDQ2PS(b, b)
	VMOVUPS(a, Mem{Base: d})
	VMOVUPS(b, Mem{Base: d, Disp: 32})
	ADDQ(U32(64), d)
	ADDQ(U32(8), px)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	end()
}

func copyRows() {
	TEXT("copyRowsAVX", NOSPLIT, "func(dst []float32, base *float32, rows []int32)")
	Pragma("noescape")
	Doc("copyRowsAVX writes 16 floats per row r: dst[16r:16r+16] from base + rows[r] (bytes).")
	d := Load(Param("dst").Base(), GP64())
	b := Load(Param("base"), GP64())
	r := Load(Param("rows").Base(), GP64())
	n := Load(Param("rows").Len(), GP64())
	off := GP64()
	x0, x1 := YMM(), YMM()
	Label("copyrows_loop")
	TESTQ(n, n)
	JZ(LabelRef("copyrows_done"))
	MOVLQSX(Mem{Base: r}, off)
	VMOVUPS(Mem{Base: b, Index: off, Scale: 1}, x0)
	VMOVUPS(Mem{Base: b, Index: off, Scale: 1, Disp: 32}, x1)
	VMOVUPS(x0, Mem{Base: d})
	VMOVUPS(x1, Mem{Base: d, Disp: 32})
	ADDQ(U32(64), d)
	ADDQ(U32(4), r)
	DECQ(n)
	JMP(LabelRef("copyrows_loop"))
	Label("copyrows_done")
	end()
}

// stream emits the loop skeleton shared by the elementwise kernels: u
// vectors a round, then one, then a masked tail. body gets the element
// offset (in bytes, via the advancing pointers) and the tail mask, nil
// outside the tail; it must load and store through the given pointers.
func stream(prefix string, n Register, ptrs []Register, u int, body func(disp int, m Op)) {
	lbl := func(s string) LabelRef { return LabelRef(prefix + "_" + s) }
	adv := func(elems int) {
		for _, p := range ptrs {
			ADDQ(U32(4*elems), p)
		}
		SUBQ(U32(elems), n)
	}
	if u > 1 {
		Label(prefix + "_loopu")
		CMPQ(n, Imm(uint64(8*u)))
		JL(lbl("loop1"))
		for i := 0; i < u; i++ {
			body(32*i, nil)
		}
		adv(8 * u)
		JMP(lbl("loopu"))
	}
	Label(prefix + "_loop1")
	CMPQ(n, Imm(8))
	JL(lbl("tail"))
	body(0, nil)
	adv(8)
	JMP(lbl("loop1"))
	Label(prefix + "_tail")
	TESTQ(n, n)
	JZ(lbl("done"))
	m := YMM()
	loadMask(n, m)
	body(0, m)
	Label(prefix + "_done")
}

func load(p Register, disp int, m Op, dst VecVirtual) {
	if m == nil {
		VMOVUPS(Mem{Base: p, Disp: disp}, dst)
	} else {
		VMASKMOVPS(Mem{Base: p, Disp: disp}, m, dst)
	}
}

func store(src VecVirtual, p Register, disp int, m Op) {
	if m == nil {
		VMOVUPS(src, Mem{Base: p, Disp: disp})
	} else {
		VMASKMOVPS(src, m, Mem{Base: p, Disp: disp})
	}
}

func binary(name, what string, op func(a, b Op, d VecVirtual)) {
	TEXT(name, NOSPLIT, "func(dst, a, b []float32)")
	Pragma("noescape")
	Doc(name+": "+what+" for i < len(dst).", "a and b must be at least as long as dst.")
	d := Load(Param("dst").Base(), GP64())
	pa := Load(Param("a").Base(), GP64())
	pb := Load(Param("b").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	stream(name, n, []Register{d, pa, pb}, 4, func(disp int, m Op) {
		x, y := YMM(), YMM()
		load(pa, disp, m, x)
		var bop Op = Mem{Base: pb, Disp: disp}
		if m != nil {
			load(pb, disp, m, y)
			bop = y
		}
		op(x, bop, x)
		store(x, d, disp, m)
	})
	end()
}

// withScalar emits dst[i] = op(x[i], c) for a broadcast scalar c; op
// leaves its result in x.
func withScalar(name, what string, op func(x, c VecVirtual)) {
	TEXT(name, NOSPLIT, "func(dst, x []float32, c float32)")
	Pragma("noescape")
	Doc(name+": "+what+" for i < len(dst).", "x must be at least as long as dst.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	c := YMM()
	bcastParam("c", c)
	stream(name, n, []Register{d, px}, 4, func(disp int, m Op) {
		x := YMM()
		load(px, disp, m, x)
		op(x, c)
		store(x, d, disp, m)
	})
	end()
}

func axpy() {
	TEXT("axpyAVX", NOSPLIT, "func(y, x []float32, alpha float32)")
	Pragma("noescape")
	Doc("axpyAVX: y[i] += alpha*x[i] for i < len(y).")
	py := Load(Param("y").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("y").Len(), GP64())
	al := YMM()
	bcastParam("alpha", al)
	stream("axpy", n, []Register{py, px}, 4, func(disp int, m Op) {
		x, y := YMM(), YMM()
		load(py, disp, m, y)
		if m == nil {
			VFMADD231PS(Mem{Base: px, Disp: disp}, al, y)
		} else {
			load(px, disp, m, x)
			VFMADD231PS(x, al, y)
		}
		store(y, py, disp, m)
	})
	end()
}

// axpy8 emits eight axpyAVX calls in one pass over y: y[i] += s[r]·x_r[i]
// for the rows r = 0..7 of x (ldx floats apart), in that order, each a
// fused multiply-add as axpyAVX's, so the bits are those of the eight
// calls; y is loaded and stored once instead of eight times (gemv over a
// few rows was bound by those stores).
func axpy8() {
	TEXT("axpy8AVX", NOSPLIT, "func(y []float32, x *float32, ldx int, s *[8]float32)")
	Pragma("noescape")
	Doc("axpy8AVX: for r = 0..7 in turn, y[i] += s[r]*x[r*ldx+i] for i < len(y).")
	py, n, sv, row, ptrs := axpy8Args(func() VecVirtual { return YMM() })
	stream("axpy8", n, ptrs, 4, func(disp int, m Op) {
		y := YMM()
		load(py, disp, m, y)
		for r := range sv {
			if m == nil {
				VFMADD231PS(row(r, disp), sv[r], y)
			} else {
				x := YMM()
				VMASKMOVPS(row(r, disp), m, x)
				VFMADD231PS(x, sv[r], y)
			}
		}
		store(y, py, disp, m)
	})
	end()
}

// axpy8Args loads the arguments of an axpy8 kernel: y's base and length,
// the eight scalars broadcast into vectors that vec makes, and row(r,
// disp), the address of x's row r at disp bytes (rows ldx floats apart)
// through three pointers that, with y's, are ptrs, advanced together.
func axpy8Args(vec func() VecVirtual) (py, n Register, sv []VecVirtual, row func(r, disp int) Mem, ptrs []Register) {
	py = Load(Param("y").Base(), GP64())
	n = Load(Param("y").Len(), GP64())
	px := Load(Param("x"), GP64())
	ld := Load(Param("ldx"), GP64())
	SHLQ(Imm(2), ld) // bytes between rows
	ps := Load(Param("s"), GP64())
	sv = make([]VecVirtual, 8)
	for r := range sv {
		sv[r] = vec()
		VBROADCASTSS(Mem{Base: ps, Disp: 4 * r}, sv[r])
	}
	// Rows 0, 1, 2, 4 from px; 3, 5, 7 from q = px+3·ld; 6 from q2 = px+2·ld.
	q, q2 := GP64(), GP64()
	LEAQ(Mem{Base: px, Index: ld, Scale: 2}, q2)
	LEAQ(Mem{Base: q2, Index: ld, Scale: 1}, q)
	row = func(r, disp int) Mem {
		switch r {
		case 0:
			return Mem{Base: px, Disp: disp}
		case 1, 2, 4:
			return Mem{Base: px, Index: ld, Scale: uint8(r), Disp: disp}
		case 3:
			return Mem{Base: q, Disp: disp}
		case 5, 7:
			return Mem{Base: q, Index: ld, Scale: uint8(r - 3), Disp: disp}
		default: // 6
			return Mem{Base: q2, Index: ld, Scale: 4, Disp: disp}
		}
	}
	return py, n, sv, row, []Register{py, px, q, q2}
}

func scaleShift() {
	TEXT("scaleShiftAVX", NOSPLIT, "func(dst, x []float32, s, t float32)")
	Pragma("noescape")
	Doc("scaleShiftAVX: dst[i] = x[i]*s + t for i < len(dst).")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	s, t := YMM(), YMM()
	bcastParam("s", s)
	bcastParam("t", t)
	stream("scsh", n, []Register{d, px}, 4, func(disp int, m Op) {
		x := YMM()
		load(px, disp, m, x)
		VFMADD213PS(t, s, x)
		store(x, d, disp, m)
	})
	end()
}

func biasClip() {
	TEXT("biasClipAVX", NOSPLIT, "func(dst, x []float32, bias, lo, hi float32)")
	Pragma("noescape")
	Doc("biasClipAVX: dst[i] = min(max(x[i]+bias, lo), hi) for i < len(dst); NaN stays NaN.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	b, lo, hi := YMM(), YMM(), YMM()
	bcastParam("bias", b)
	bcastParam("lo", lo)
	bcastParam("hi", hi)
	stream("bclip", n, []Register{d, px}, 4, func(disp int, m Op) {
		x := YMM()
		load(px, disp, m, x)
		VADDPS(b, x, x)
		// x as the first Go operand (Intel's last) so a NaN passes through.
		VMAXPS(x, lo, x)
		VMINPS(x, hi, x)
		store(x, d, disp, m)
	})
	end()
}

// scaleShiftClip is scaleShift then biasClip with bias 0, in one pass and
// with the same arithmetic (the +0 included: it turns -0 into +0).
func scaleShiftClip() {
	TEXT("scaleShiftClipAVX", NOSPLIT, "func(dst, x []float32, s, t, lo, hi float32)")
	Pragma("noescape")
	Doc("scaleShiftClipAVX: dst[i] = min(max((x[i]*s + t) + 0, lo), hi) for i < len(dst), x*s+t fused; NaN stays NaN.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	sc, t, z, lo, hi := YMM(), YMM(), YMM(), YMM(), YMM()
	bcastParam("s", sc)
	bcastParam("t", t)
	bcastParam("lo", lo)
	bcastParam("hi", hi)
	VXORPS(z, z, z)
	stream("scclip", n, []Register{d, px}, 4, func(disp int, m Op) {
		x := YMM()
		load(px, disp, m, x)
		VFMADD213PS(t, sc, x)
		VADDPS(z, x, x)
		VMAXPS(x, lo, x)
		VMINPS(x, hi, x)
		store(x, d, disp, m)
	})
	end()
}

func unary(name, what string, u int, f func(x VecVirtual) VecVirtual) {
	TEXT(name, NOSPLIT, "func(dst, x []float32)")
	Pragma("noescape")
	Doc(name + ": " + what + " for i < len(dst); see the Go twin for the method and its error.")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	stream(name, n, []Register{d, px}, u, func(disp int, m Op) {
		x := YMM()
		load(px, disp, m, x)
		store(f(x), d, disp, m)
	})
	end()
}

// Polynomial and clamp constants; the Go twins in math.go use the same ones.
const (
	expLo   = -104.0 // exp rounds to 0 below
	expHi   = 88.8   // and to +Inf above
	log2e   = 1.44269504088896341
	ln2Hi   = 0.693359375
	ln2Lo   = -2.12194440e-4
	expP0   = 1.9875691500e-4
	expP1   = 1.3981999507e-3
	expP2   = 8.3334519073e-3
	expP3   = 4.1665795894e-2
	expP4   = 1.6666665459e-1
	expP5   = 5.0000001201e-1
	tanhMax = 7.90531110763549805
)

var (
	tanhA = []float32{4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05, 5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16}
	tanhB = []float32{4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06}
	erfA  = []float32{-1.60960333262415e-02, -2.95459980854025e-03, -7.34990630326855e-04, -5.69250639462346e-05, -2.10102402082508e-06, 2.77068142495902e-08, -2.72614225801306e-10}
	erfB  = []float32{-1.42647390514189e-02, -7.37332916720468e-03, -1.68282697438203e-03, -2.13374055278905e-04, -1.45660718464996e-05}
)

// exp: x = n·ln2 + r with |r| ≤ ln2/2, e^r by Cephes' degree-7 polynomial,
// 2^n applied as two exponent-field factors so that n in [-150, 128]
// yields subnormals and +Inf correctly. NaN propagates.
func exp(x VecVirtual) VecVirtual { return expW(ymm, x) }

// expW is exp at width w: at zmm the same instructions on 16 lanes
// (VRNDSCALEPS for VROUNDPS, the same rounding to nearest even), so each
// lane has the ymm kernel's bits (TestActivations512).
func expW(w width, x VecVirtual) VecVirtual {
	clamp(w, x, expLo, expHi)
	n := w.vec()
	VMULPS(w.c(log2e), x, n)
	if w == zmm {
		VRNDSCALEPS(Imm(0), n, n)
	} else {
		VROUNDPS(Imm(0), n, n)
	}
	VFNMADD231PS(w.c(ln2Hi), n, x) // x -= n·ln2Hi
	VFNMADD231PS(w.c(ln2Lo), n, x)
	y := w.load(expP0)
	VFMADD213PS(w.c(expP1), x, y)
	VFMADD213PS(w.c(expP2), x, y)
	VFMADD213PS(w.c(expP3), x, y)
	VFMADD213PS(w.c(expP4), x, y)
	VFMADD213PS(w.c(expP5), x, y)
	x2 := w.vec()
	VMULPS(x, x, x2)
	VFMADD213PS(x, x2, y) // y = y·r² + r
	VADDPS(w.c(1), y, y)
	ni, h := w.vec(), w.vec()
	VCVTPS2DQ(n, ni)
	VPSRAD(Imm(1), ni, h)
	VPSUBD(h, ni, ni)
	bias := w.cBits(127)
	VPADDD(bias, h, h)
	VPADDD(bias, ni, ni)
	VPSLLD(Imm(23), h, h)
	VPSLLD(Imm(23), ni, ni)
	VMULPS(h, y, y)
	VMULPS(ni, y, y)
	return y
}

// clamp limits x to [lo, hi] in place; x is the Go-first (Intel-last)
// operand of MIN/MAX, which is the one returned for NaN, so NaN survives.
func clamp(w width, x VecVirtual, lo, hi float32) {
	t := w.load(hi)
	VMINPS(x, t, t)
	w.set(x, lo)
	VMAXPS(t, x, x)
}

// Cephes' logf: its polynomial (highest power first) and the smallest
// normal float32; the Go twin logf uses the same constants.
var logP = []float32{7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1}

const (
	minNormal = 1.17549435e-38 // 2^-126
	sqrtHalf  = 0.707106781186547524
)

// logW is log at width w (Cephes' logf): x = m·2^e with m in [√½, √2),
// log m = f − f²/2 + f³·P(f) for f = m − 1, plus e·ln2 in two parts. A
// subnormal x is scaled by 2^23 first. x < 0 and NaN give NaN, ±0 −Inf,
// +Inf +Inf. At zmm the selections go through masks K2 and K3 (K1 holds
// the tail), otherwise the instructions are the ymm ones: the same bits.
func logW(w width, x VecVirtual) VecVirtual {
	// pick sets dst = cond ? b : a, cond the result of cmp (a mask register
	// at zmm, a lane mask at ymm).
	cmp := func(pred uint64, b Op, a VecVirtual, k Register) Register {
		if w == zmm {
			VCMPPS(Imm(pred), b, a, k)
			return k
		}
		m := w.vec()
		VCMPPS(Imm(pred), b, a, m)
		return m
	}
	pick := func(cond Register, b Op, a, dst VecVirtual) {
		if w == zmm {
			VBLENDMPS(b, a, cond, dst)
		} else {
			VBLENDVPS(cond, b, a, dst)
		}
	}
	zero := w.vec()
	VXORPS(zero, zero, zero)
	// Subnormals (and 0 and negatives, fixed up below) scaled by 2^23.
	small := cmp(1, w.c(minNormal), x, K2) // x < 2^-126
	scaled, adj := w.vec(), w.vec()
	VMULPS(w.c(8388608), x, scaled)
	xs := w.vec()
	pick(small, scaled, x, xs)
	pick(small, w.c(23), zero, adj)
	e, m := w.vec(), w.vec()
	VPSRLD(Imm(23), xs, e)
	VPSUBD(w.cBits(126), e, e)
	VCVTDQ2PS(e, e)
	VSUBPS(adj, e, e)
	VANDPS(w.cBits(0x007fffff), xs, m)
	VORPS(w.cBits(0x3f000000), m, m) // m in [½, 1)
	// m < √½: f = 2m − 1 and e − 1; else f = m − 1.
	lt := cmp(1, w.c(sqrtHalf), m, K3)
	m2, e1 := w.vec(), w.vec()
	VADDPS(m, m, m2)
	pick(lt, m2, m, m)
	VSUBPS(w.c(1), e, e1)
	pick(lt, e1, e, e)
	VSUBPS(w.c(1), m, m) // f
	z := w.vec()
	VMULPS(m, m, z)
	y := w.load(logP[0])
	for _, p := range logP[1:] {
		VFMADD213PS(w.c(p), m, y)
	}
	VMULPS(m, y, y)
	VMULPS(z, y, y)               // f³·P(f)
	VFMADD231PS(w.c(ln2Lo), e, y) // + e·ln2Lo
	VFNMADD231PS(w.c(0.5), z, y)  // − f²/2
	VADDPS(m, y, y)               // + f
	VFMADD231PS(w.c(ln2Hi), e, y) // + e·ln2Hi
	inf := w.c(float32(math.Inf(1)))
	pick(cmp(0, inf, x, K2), inf, y, y)                         // x == +Inf
	pick(cmp(0, zero, x, K2), w.c(float32(math.Inf(-1))), y, y) // x == ±0
	pick(cmp(9, zero, x, K2), w.cBits(0x7fc00000), y, y)        // !(x >= 0): x < 0, NaN
	return y
}

// Cephes' sinf and cosf polynomials on |r| ≤ π/4 and π/2 in three parts
// (Cody-Waite: j·dp1 and j·dp2 exact for the |j| < 2^14 that |x| ≤
// sinCosMax gives); the Go twins use the same constants.
var (
	sinP = []float32{-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1}
	cosP = []float32{2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2}
)

const (
	twoOverPi = 0.636619772367581343
	pio2dp1   = 1.5703125
	pio2dp2   = 4.837512969970703125e-4
	pio2dp3   = 7.54978995489188216e-8
)

// sinCosW is sin x (cos x with cos set) at width w for |x| ≤ sinCosMax
// (the caller recomputes larger and non-finite arguments): j = round(x·2/π),
// r = x − j·π/2 in three parts by FMA, both polynomials on r, and quadrant
// j (+1 for cos) picks sin or cos (bit 0, through the lane's sign bit) and
// the sign (bit 1). At zmm the pick goes through mask K2 (VPMOVD2M); the
// arithmetic is the ymm kernel's: the same bits.
func sinCosW(w width, x VecVirtual, cos bool) VecVirtual {
	j := w.vec()
	VMULPS(w.c(twoOverPi), x, j)
	if w == zmm {
		VRNDSCALEPS(Imm(0), j, j)
	} else {
		VROUNDPS(Imm(0), j, j)
	}
	r := w.vec()
	VMOVAPS(x, r)
	VFNMADD231PS(w.c(pio2dp1), j, r)
	VFNMADD231PS(w.c(pio2dp2), j, r)
	VFNMADD231PS(w.c(pio2dp3), j, r)
	z := w.vec()
	VMULPS(r, r, z)
	// sin r = r + r·z·P(z)
	sp := w.load(sinP[0])
	VFMADD213PS(w.c(sinP[1]), z, sp)
	VFMADD213PS(w.c(sinP[2]), z, sp)
	VMULPS(z, sp, sp)
	VFMADD213PS(r, r, sp)
	// cos r = 1 − z/2 + z²·Q(z)
	cp := w.load(cosP[0])
	VFMADD213PS(w.c(cosP[1]), z, cp)
	VFMADD213PS(w.c(cosP[2]), z, cp)
	z2 := w.vec()
	VMULPS(z, z, z2)
	VMULPS(z2, cp, cp)
	VFNMADD231PS(w.c(0.5), z, cp)
	VADDPS(w.c(1), cp, cp)
	q := w.vec()
	VCVTPS2DQ(j, q)
	if cos {
		VPADDD(w.cBits(1), q, q)
	}
	odd, neg := w.vec(), w.vec()
	VPSLLD(Imm(31), q, odd) // bit 0 → sign bit: cos for odd quadrants
	VPSRLD(Imm(1), q, neg)
	VPSLLD(Imm(31), neg, neg) // bit 1 → sign bit: negate
	res := w.vec()
	if w == zmm {
		VPMOVD2M(odd, K2)
		VBLENDMPS(cp, sp, K2, res)
	} else {
		VBLENDVPS(odd, cp, sp, res)
	}
	VXORPS(neg, res, res)
	return res
}

func sigmoid(x VecVirtual) VecVirtual { return sigmoidW(ymm)(x) }

// sigmoidW is sigmoid at width w, with exp's bits at either width.
func sigmoidW(w width) func(VecVirtual) VecVirtual {
	return func(x VecVirtual) VecVirtual {
		VXORPS(w.cBits(0x80000000), x, x)
		e := expW(w, x)
		VADDPS(w.c(1), e, e)
		r := w.load(1)
		VDIVPS(e, r, r)
		return r
	}
}

// oddRational returns x·P(x²)/Q(x²) with x clamped to ±lim, and ±1 where
// |x| ≥ sat (the function rounds to ±1 there; the clamped rational is a few
// ulps short). At zmm the saturation test goes into mask K2; the
// instructions are otherwise the ymm ones, so each lane has the same bits.
func oddRational(w width, x VecVirtual, lim, sat float32, a, b []float32) VecVirtual {
	sgn, big := w.vec(), w.vec()
	VANDPS(w.cBits(0x80000000), x, sgn)
	VORPS(w.c(1), sgn, sgn) // ±1
	VANDPS(w.cBits(0x7fffffff), x, big)
	// |x| >= sat (GE_OS; false for NaN)
	if w == zmm {
		VCMPPS(Imm(13), w.c(sat), big, K2)
	} else {
		VCMPPS(Imm(13), w.c(sat), big, big)
	}
	clamp(w, x, -lim, lim)
	x2 := w.vec()
	VMULPS(x, x, x2)
	p := w.load(a[len(a)-1])
	for i := len(a) - 2; i >= 0; i-- {
		VFMADD213PS(w.c(a[i]), x2, p)
	}
	VMULPS(x, p, p)
	q := w.load(b[len(b)-1])
	for i := len(b) - 2; i >= 0; i-- {
		VFMADD213PS(w.c(b[i]), x2, q)
	}
	VDIVPS(q, p, p)
	if w == zmm {
		VBLENDMPS(sgn, p, K2, p) // p = big ? sgn : p
	} else {
		VBLENDVPS(big, sgn, p, p)
	}
	return p
}

func tanh(w width) func(VecVirtual) VecVirtual {
	return func(x VecVirtual) VecVirtual { return oddRational(w, x, tanhMax, 9, tanhA, tanhB) }
}

func erf(w width, x VecVirtual) VecVirtual { return oddRational(w, x, 4, 3.92, erfA, erfB) }

func gelu(w width) func(VecVirtual) VecVirtual {
	return func(x VecVirtual) VecVirtual {
		t := w.vec()
		VMULPS(w.c(float32(1/math.Sqrt2)), x, t)
		e := erf(w, t)
		VADDPS(w.c(1), e, e)
		VMULPS(w.c(0.5), x, x)
		VMULPS(x, e, e)
		return e
	}
}

// hsum folds the 8 lanes of v into its low lane.
func hsum(v VecVirtual) {
	hi := XMM()
	VEXTRACTF128(Imm(1), v, hi)
	VADDPS(hi, v.AsX(), v.AsX())
	VHADDPS(v.AsX(), v.AsX(), v.AsX())
	VHADDPS(v.AsX(), v.AsX(), v.AsX())
}

func hmax(v VecVirtual) { hfold(v, VMAXPS) }

// hfold folds the eight lanes of v into lane 0 with op (VMAXPS, VMINPS).
func hfold(v VecVirtual, op func(ops ...Op)) {
	hi := XMM()
	VEXTRACTF128(Imm(1), v, hi)
	op(hi, v.AsX(), v.AsX())
	VSHUFPS(Imm(0x4e), v.AsX(), v.AsX(), hi)
	op(hi, v.AsX(), v.AsX())
	VSHUFPS(Imm(0xb1), v.AsX(), v.AsX(), hi)
	op(hi, v.AsX(), v.AsX())
}

func sum() {
	TEXT("sumAVX", NOSPLIT, "func(x []float32) float32")
	Pragma("noescape")
	Doc("sumAVX returns the sum of x, in eight-lane partial sums.")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	zero := func(v VecVirtual) { VXORPS(v, v, v) }
	accs := sumAccs(px, n, "sum", zero, func(x VecVirtual, _ Op, acc VecVirtual) { VADDPS(x, acc, acc) })
	hsum(accs)
	storeRet(accs.AsX())
	end()
}

func dot() {
	TEXT("dotAVX", NOSPLIT, "func(a, b []float32) float32")
	Pragma("noescape")
	Doc("dotAVX returns Σ a[i]·b[i] for i < len(a), in four eight-lane FMA accumulators.", "b must be at least as long as a.")
	pa := Load(Param("a").Base(), GP64())
	pb := Load(Param("b").Base(), GP64())
	n := Load(Param("a").Len(), GP64())
	accs := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range accs {
		VXORPS(a, a, a)
	}
	i := 0
	stream("dot", n, []Register{pa, pb}, 4, func(disp int, m Op) {
		x := YMM()
		load(pa, disp, m, x)
		if disp == 0 {
			i = 0
		}
		if m == nil {
			VFMADD231PS(Mem{Base: pb, Disp: disp}, x, accs[i%4])
		} else {
			y := YMM()
			load(pb, disp, m, y)
			VFMADD231PS(y, x, accs[i%4])
		}
		i++
	})
	VADDPS(accs[1], accs[0], accs[0])
	VADDPS(accs[3], accs[2], accs[2])
	VADDPS(accs[2], accs[0], accs[0])
	hsum(accs[0])
	storeRet(accs[0].AsX())
	end()
}

// sumAccs runs reduce with additive accumulators and folds them into one.
func sumAccs(px, n Register, prefix string, init func(VecVirtual), body func(x VecVirtual, m Op, acc VecVirtual)) VecVirtual {
	accs := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range accs {
		init(a)
	}
	i := 0
	stream(prefix, n, []Register{px}, 4, func(disp int, m Op) {
		x := YMM()
		load(px, disp, m, x)
		if disp == 0 {
			i = 0
		}
		body(x, m, accs[i%4])
		i++
	})
	VADDPS(accs[1], accs[0], accs[0])
	VADDPS(accs[3], accs[2], accs[2])
	VADDPS(accs[2], accs[0], accs[0])
	return accs[0]
}

func maxReduce() {
	TEXT("maxAVX", NOSPLIT, "func(x []float32) float32")
	Pragma("noescape")
	Doc("maxAVX returns the largest element of x (-Inf if empty); NaN handling is unspecified.")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	ninf := vcBits(0xff800000)
	accs := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range accs {
		VMOVUPS(ninf, a)
	}
	i := 0
	stream("max", n, []Register{px}, 4, func(disp int, m Op) {
		x := YMM()
		load(px, disp, m, x)
		if m != nil {
			t := YMM()
			VMOVUPS(ninf, t)
			VBLENDVPS(m, x, t, x) // masked-off lanes become -Inf
		}
		if disp == 0 {
			i = 0
		}
		VMAXPS(x, accs[i%4], accs[i%4])
		i++
	})
	VMAXPS(accs[1], accs[0], accs[0])
	VMAXPS(accs[3], accs[2], accs[2])
	VMAXPS(accs[2], accs[0], accs[0])
	hmax(accs[0])
	storeRet(accs[0].AsX())
	end()
}

// minMaxReduce emits minMaxAVX, the smallest and largest elements in one
// pass (DynamicQuantizeLinear's range).
func minMaxReduce() {
	TEXT("minMaxAVX", NOSPLIT, "func(x []float32) (lo, hi float32)")
	Pragma("noescape")
	Doc("minMaxAVX returns the smallest and largest elements of x (+Inf and -Inf if empty); NaN handling is unspecified.")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	ninf, pinf := vcBits(0xff800000), vcBits(0x7f800000)
	los, his := []VecVirtual{YMM(), YMM()}, []VecVirtual{YMM(), YMM()}
	for i := range los {
		VMOVUPS(pinf, los[i])
		VMOVUPS(ninf, his[i])
	}
	i := 0
	stream("minmax", n, []Register{px}, 4, func(disp int, m Op) {
		x := YMM()
		load(px, disp, m, x)
		xl := x
		if m != nil {
			// Masked-off lanes become +Inf for the minimum, -Inf for
			// the maximum.
			xl = YMM()
			VMOVUPS(pinf, xl)
			VBLENDVPS(m, x, xl, xl)
			t := YMM()
			VMOVUPS(ninf, t)
			VBLENDVPS(m, x, t, x)
		}
		if disp == 0 {
			i = 0
		}
		VMINPS(xl, los[i%2], los[i%2])
		VMAXPS(x, his[i%2], his[i%2])
		i++
	})
	VMINPS(los[1], los[0], los[0])
	VMAXPS(his[1], his[0], his[0])
	hfold(los[0], VMINPS)
	hfold(his[0], VMAXPS)
	for k, v := range []VecVirtual{los[0], his[0]} {
		b, err := ReturnIndex(k).Resolve()
		if err != nil {
			panic(err)
		}
		VMOVSS(v.AsX(), b.Addr)
	}
	end()
}

func expSubSum() {
	TEXT("expSubSumAVX", NOSPLIT, "func(dst, x []float32, m float32) float32")
	Pragma("noescape")
	Doc("expSubSumAVX: dst[i] = exp(x[i]-m) for i < len(dst); returns their sum (the softmax denominator).")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	mv := YMM()
	bcastParam("m", mv)
	accs := []VecVirtual{YMM(), YMM()}
	for _, a := range accs {
		VXORPS(a, a, a)
	}
	i := 0
	stream("expsub", n, []Register{d, px}, 2, func(disp int, m Op) {
		x := YMM()
		load(px, disp, m, x)
		VSUBPS(mv, x, x)
		e := exp(x)
		store(e, d, disp, m)
		if m != nil {
			VANDPS(m, e, e)
		}
		if disp == 0 {
			i = 0
		}
		VADDPS(e, accs[i%2], accs[i%2])
		i++
	})
	VADDPS(accs[1], accs[0], accs[0])
	hsum(accs[0])
	storeRet(accs[0].AsX())
	end()
}

func sumSqDev() {
	TEXT("sumSqDevAVX", NOSPLIT, "func(x []float32, mean float32) float32")
	Pragma("noescape")
	Doc("sumSqDevAVX returns the sum of (x[i]-mean)² (the variance numerator).")
	px := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	mv := YMM()
	bcastParam("mean", mv)
	zero := func(v VecVirtual) { VXORPS(v, v, v) }
	acc := sumAccs(px, n, "ssd", zero, func(x VecVirtual, m Op, acc VecVirtual) {
		VSUBPS(mv, x, x)
		if m != nil {
			VANDPS(m, x, x)
		}
		VFMADD231PS(x, x, acc)
	})
	hsum(acc)
	storeRet(acc.AsX())
	end()
}

func normAffine() {
	TEXT("normAffineAVX", NOSPLIT, "func(dst, x, gamma, beta []float32, mean, rstd float32)")
	Pragma("noescape")
	Doc("normAffineAVX: dst[i] = (x[i]-mean)·rstd·gamma[i] + beta[i] for i < len(dst).")
	d := Load(Param("dst").Base(), GP64())
	px := Load(Param("x").Base(), GP64())
	pg := Load(Param("gamma").Base(), GP64())
	pb := Load(Param("beta").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	mv, rs := YMM(), YMM()
	bcastParam("mean", mv)
	bcastParam("rstd", rs)
	stream("norm", n, []Register{d, px, pg, pb}, 4, func(disp int, m Op) {
		x, g, b := YMM(), YMM(), YMM()
		load(px, disp, m, x)
		load(pg, disp, m, g)
		load(pb, disp, m, b)
		VSUBPS(mv, x, x)
		VMULPS(rs, x, x)
		VFMADD213PS(b, g, x)
		store(x, d, disp, m)
	})
	end()
}

// dwRows walks the rows of the 3×3 depthwise kernels: the row form (dst,
// r0, r1, r2) computes one output row; the plane form loops over rows
// output rows of ow8 columns, dst rows dstStride floats apart, input rows
// pw floats apart. d and n are the output pointer and 8-column blocks
// left in the row, rows the three input row pointers.
type dwRows struct {
	name                                 string
	plane                                bool
	d, n                                 Register
	rows                                 []Register
	dBase, rBase, left, dStride, rStride Register
}

// beginDWRows loads the parameters and, in the plane form, opens the row
// loop.
func beginDWRows(name string, s int, plane bool) *dwRows {
	d, n := GP64(), GP64()
	rows := []Register{GP64(), GP64(), GP64()}
	var dBase, rBase, left, ow, dStride, rStride, rowB Register
	if plane {
		dBase = Load(Param("dst").Base(), GP64())
		rBase = Load(Param("src").Base(), GP64())
		left = Load(Param("rows"), GP64())
		ow = Load(Param("ow8"), GP64())
		SHRQ(Imm(3), ow)
		dStride = Load(Param("dstStride"), GP64())
		SHLQ(Imm(2), dStride)
		rowB = Load(Param("pw"), GP64())
		SHLQ(Imm(2), rowB)
		rStride = GP64()
		MOVQ(rowB, rStride)
		if s == 2 {
			SHLQ(Imm(1), rStride)
		}
		Label(name + "_rows")
		TESTQ(left, left)
		JZ(LabelRef(name + "_done"))
		MOVQ(dBase, d)
		MOVQ(rBase, rows[0])
		MOVQ(rBase, rows[1])
		ADDQ(rowB, rows[1])
		MOVQ(rows[1], rows[2])
		ADDQ(rowB, rows[2])
		MOVQ(ow, n)
	} else {
		Load(Param("dst").Base(), d)
		for i, r := range rows {
			Load(Param(fmt.Sprintf("r%d", i)).Base(), r)
		}
		Load(Param("dst").Len(), n)
		SHRQ(Imm(3), n)
	}
	return &dwRows{name: name, plane: plane, d: d, n: n, rows: rows, dBase: dBase, rBase: rBase, left: left, dStride: dStride, rStride: rStride}
}

// nextRow closes the plane form's row loop: the next output and input rows.
func (w *dwRows) nextRow() {
	if w.plane {
		ADDQ(w.dStride, w.dBase)
		ADDQ(w.rStride, w.rBase)
		DECQ(w.left)
		JMP(LabelRef(w.name + "_rows"))
		Label(w.name + "_done")
	}
}

// dwKernel emits a 3×3 depthwise convolution over eight-column blocks with
// stride s, dst[j] = bias + Σ w[3r+c]·row_r[s·j+c], summed as ONNX Runtime
// sums it (MLAS runs a depthwise channel as an M=1 SGEMM over its im2col,
// whose AVX kernel multiplies and adds without fusing, four taps at a time):
//
//	acc = ((p0+p1)+p2)+p3 + 0;  acc = ((p4+p5)+p6)+p7 + acc;  acc = p8 + acc;  dst = acc + bias
//
// with p_k = w_k·x_k rounded. The row form computes one output row; the
// plane form a whole channel, rows output rows of ow8 columns, dst rows
// dstStride floats apart and input rows pw floats apart (an output row's
// first input row s·pw after the previous one), so that small planes do not
// pay a call per row. Stride 2 deinterleaves even and odd columns with
// shuffles.
func dwKernel(name string, s int, plane bool) {
	if plane {
		TEXT(name, NOSPLIT, "func(dst, src, w []float32, bias float32, rows, ow8, dstStride, pw int)")
		Doc(fmt.Sprintf("%s: a whole channel of the stride-%d 3×3 depthwise convolution: rows output rows of ow8 (a multiple of 8) columns,", name, s),
			"row i at dst[i·dstStride:], reading the zero-bordered input rows src[(s·i+r)·pw:] for r < 3.")
	} else {
		TEXT(name, NOSPLIT, "func(dst, r0, r1, r2, w []float32, bias float32)")
		Doc(fmt.Sprintf("%s: dst[j] = bias + Σ_{r,c<3} w[3r+c]·r_r[%d·j+c] for j < len(dst) rounded down to 8.", name, s),
			fmt.Sprintf("Each r_r must hold %d·(that count)+2 elements.", s))
	}
	Pragma("noescape")
	pwp := Load(Param("w").Base(), GP64())
	w := make([]VecVirtual, 9)
	for i := range w {
		w[i] = YMM()
		VBROADCASTSS(Mem{Base: pwp, Disp: 4 * i}, w[i])
	}
	bias := YMM()
	bcastParam("bias", bias)
	rw := beginDWRows(name, s, plane)
	d, n, rows := rw.d, rw.n, rw.rows
	zero := mask.Offset(32) // eight zero words
	acc, sum, t := YMM(), YMM(), YMM()
	v0, v1, e := YMM(), YMM(), YMM()
	// product writes p_k = w_k·x_k of the block at byte off into dst.
	product := func(k, off int, dst VecVirtual) {
		r, c := k/3, k%3
		if s == 1 {
			VMULPS(Mem{Base: rows[r], Disp: off + 4*c}, w[k], dst)
			return
		}
		// Stride 2: column c of the block is the even lanes of the 16
		// floats from 4c/2 floats on (c 0, 2) or the odd ones (c 1).
		start := off
		if c == 2 {
			start += 8
		}
		VMOVUPS(Mem{Base: rows[r], Disp: start}, v0)
		VMOVUPS(Mem{Base: rows[r], Disp: start + 32}, v1)
		if c == 1 {
			VSHUFPS(Imm(0xdd), v1, v0, e) // odd lanes, 128-bit halves interleaved
		} else {
			VSHUFPS(Imm(0x88), v1, v0, e) // even lanes
		}
		VPERMPD(Imm(0xd8), e, e)
		VMULPS(e, w[k], dst)
	}
	// block computes the eight outputs at input byte offset off into acc.
	block := func(off int) {
		for g := 0; g < 2; g++ {
			product(4*g, off, sum)
			for k := 4*g + 1; k < 4*g+4; k++ {
				product(k, off, t)
				VADDPS(t, sum, sum)
			}
			if g == 0 {
				VADDPS(zero, sum, acc)
			} else {
				VADDPS(acc, sum, acc)
			}
		}
		product(8, off, t)
		VADDPS(acc, t, acc)
		VADDPS(bias, acc, acc)
	}
	const unroll = 2
	step := func(k int) {
		for a := 0; a < k; a++ {
			block(32 * s * a)
			VMOVUPS(acc, Mem{Base: d, Disp: 32 * a})
		}
		ADDQ(U32(32*k), d)
		for _, p := range rows {
			ADDQ(U32(32*s*k), p)
		}
	}
	Label(name + "_loopu")
	CMPQ(n, Imm(unroll))
	JB(LabelRef(name + "_loop1"))
	step(unroll)
	SUBQ(Imm(unroll), n)
	JMP(LabelRef(name + "_loopu"))
	Label(name + "_loop1")
	TESTQ(n, n)
	JZ(LabelRef(name + "_rowdone"))
	step(1)
	DECQ(n)
	JMP(LabelRef(name + "_loop1"))
	Label(name + "_rowdone")
	rw.nextRow()
	end()
}

// prelu sets d = x·s where x < 0, else x (VCMPPS predicate 1, LT_OS: false
// for NaN and for -0, which pass through unchanged).
func prelu(x VecVirtual, s Op, d VecVirtual) {
	t, z, m := YMM(), YMM(), YMM()
	VMULPS(s, x, t)
	VXORPS(z, z, z)
	VCMPPS(Imm(1), z, x, m)
	VBLENDVPS(m, t, x, d)
}
