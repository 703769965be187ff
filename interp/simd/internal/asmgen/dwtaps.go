package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// dwTaps emits the general depthwise kernel: any number of taps, each a
// contiguous run of the input at base+offs[t] (the caller lays strided and
// dilated inputs out as phase planes so that every tap reads consecutive
// floats for consecutive outputs):
//
//	dst[j] = bias + Σ_t w[t]·base[offs[t]+j]
//
// summed in ONNX Runtime's order (MLAS's M=1 kernel: unfused products, four
// taps a group, each group's sum added to the running total started at +0,
// then a pair, then one, then the bias) for j < len(dst) rounded down to 8.
// With zmm, blocks of 16 run first, then one block of 8 with ymm.
func dwTaps(name string, zmm bool) {
	TEXT(name, NOSPLIT, "func(dst []float32, base *float32, offs []int32, w []float32, bias float32)")
	Pragma("noescape")
	Doc(name+": dst[j] = bias + Σ_t w[t]·base[offs[t]+j] for j < len(dst) rounded down to 8,",
		"summed as ONNX Runtime's depthwise kernel sums (unfused products, four taps a group).")
	d := Load(Param("dst").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	base := Load(Param("base"), GP64())
	offs := Load(Param("offs").Base(), GP64())
	taps := Load(Param("offs").Len(), GP64())
	w := Load(Param("w").Base(), GP64())
	SHRQ(Imm(3), n) // blocks of 8
	if zmm {
		block(name+"_z", 16, d, n, base, offs, taps, w)
	}
	block(name+"_y", 8, d, n, base, offs, taps, w)
	VZEROUPPER()
	RET()
}

// sumTaps emits the window sum of average pooling over the same phase
// planes: dst[j] = Σ_t base[offs[t]+j], added one tap at a time in offs'
// order (the scalar pooling loop's order), for j < len(dst) rounded down to 8.
func sumTaps(name string, zmm bool) {
	TEXT(name, NOSPLIT, "func(dst []float32, base *float32, offs []int32)")
	Pragma("noescape")
	Doc(name + ": dst[j] = Σ_t base[offs[t]+j], one tap at a time from +0, for j < len(dst) rounded down to 8.")
	d := Load(Param("dst").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	base := Load(Param("base"), GP64())
	offs := Load(Param("offs").Base(), GP64())
	taps := Load(Param("offs").Len(), GP64())
	SHRQ(Imm(3), n)
	for _, lanes := range []int{16, 8} {
		if lanes == 16 && !zmm {
			continue
		}
		lbl := fmt.Sprintf("%s_%d", name, lanes)
		var acc VecVirtual = YMM()
		if lanes == 16 {
			acc = ZMM()
		}
		per := int64(lanes / 8)
		t, o := GP64(), GP64()
		Label(lbl + "_blk")
		CMPQ(n, Imm(uint64(per)))
		JL(LabelRef(lbl + "_end"))
		if lanes == 16 {
			VPXORD(acc, acc, acc)
		} else {
			VXORPS(acc, acc, acc)
		}
		XORQ(t, t)
		Label(lbl + "_tap")
		CMPQ(t, taps)
		JGE(LabelRef(lbl + "_store"))
		MOVLQSX(Mem{Base: offs, Index: t, Scale: 4}, o)
		VADDPS(Mem{Base: base, Index: o, Scale: 4}, acc, acc)
		INCQ(t)
		JMP(LabelRef(lbl + "_tap"))
		Label(lbl + "_store")
		VMOVUPS(acc, Mem{Base: d})
		ADDQ(U32(4*lanes), d)
		ADDQ(U32(4*lanes), base)
		SUBQ(Imm(uint64(per)), n)
		JMP(LabelRef(lbl + "_blk"))
		Label(lbl + "_end")
	}
	VZEROUPPER()
	RET()
}

// block emits the loop over blocks of lanes outputs; n counts blocks of 8.
func block(lbl string, lanes int, d, n, base, offs, taps, w Register) {
	vec := func() VecVirtual {
		if lanes == 16 {
			return ZMM()
		}
		return YMM()
	}
	per := int64(lanes / 8)
	bias, acc, s, p, wv := vec(), vec(), vec(), vec(), vec()
	bb, err := Param("bias").Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(bb.Addr, bias)
	t, o, r := GP64(), GP64(), GP64()
	Label(lbl + "_blk")
	CMPQ(n, Imm(uint64(per)))
	JL(LabelRef(lbl + "_end"))
	if lanes == 16 {
		VPXORD(acc, acc, acc)
	} else {
		VXORPS(acc, acc, acc)
	}
	XORQ(t, t)
	// prod sets dst = w[t+u]·base[offs[t+u]+j..]
	prod := func(u int, dst VecVirtual) {
		MOVLQSX(Mem{Base: offs, Index: t, Scale: 4, Disp: 4 * u}, o)
		VBROADCASTSS(Mem{Base: w, Index: t, Scale: 4, Disp: 4 * u}, wv)
		VMULPS(Mem{Base: base, Index: o, Scale: 4}, wv, dst)
	}
	Label(lbl + "_g4")
	MOVQ(taps, r)
	SUBQ(t, r)
	CMPQ(r, Imm(4))
	JL(LabelRef(lbl + "_g2"))
	prod(0, s)
	for u := 1; u < 4; u++ {
		prod(u, p)
		VADDPS(p, s, s)
	}
	VADDPS(acc, s, acc)
	ADDQ(Imm(4), t)
	JMP(LabelRef(lbl + "_g4"))
	Label(lbl + "_g2")
	CMPQ(r, Imm(2))
	JL(LabelRef(lbl + "_g1"))
	prod(0, s)
	prod(1, p)
	VADDPS(p, s, s)
	VADDPS(acc, s, acc)
	ADDQ(Imm(2), t)
	SUBQ(Imm(2), r)
	Label(lbl + "_g1")
	TESTQ(r, r)
	JZ(LabelRef(lbl + "_bias"))
	prod(0, s)
	VADDPS(acc, s, acc)
	Label(lbl + "_bias")
	VADDPS(bias, acc, acc)
	VMOVUPS(acc, Mem{Base: d})
	ADDQ(U32(4*lanes), d)
	ADDQ(U32(4*lanes), base)
	SUBQ(Imm(uint64(per)), n)
	JMP(LabelRef(lbl + "_blk"))
	Label(lbl + "_end")
}

// Z returns the i-th ZMM register.
func Z(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23}[i]
}

// fmaPeak512 is fmaPeak on zmm: 12 independent 16-wide FMAs a round.
func fmaPeak512() {
	TEXT("fmaPeakAVX512", NOSPLIT, "func(n int)")
	Pragma("noescape")
	Doc("fmaPeakAVX512 runs n rounds of 12 independent 16-wide FMAs (384 flops a round): the single-core AVX-512 peak.")
	n := Load(Param("n"), GP64())
	for i := 0; i < 14; i++ {
		VPXORD(Z(i), Z(i), Z(i))
	}
	TESTQ(n, n)
	JZ(LabelRef("peak512_done"))
	Label("peak512_loop")
	for i := 0; i < 12; i++ {
		VFMADD231PS(Z13, Z12, Z(i))
	}
	DECQ(n)
	JNZ(LabelRef("peak512_loop"))
	Label("peak512_done")
	VZEROUPPER()
	RET()
}

// gemmKernel512 emits the mr×32 micro-kernel on zmm: two consecutive
// 16-column B panels (the second bstride floats after the first), so that
// every C element is the same FMA chain over k as in the 16-wide kernel and
// the results are bit-identical to it. With rows, B is not packed: it is 32
// columns of a row-major matrix read in place, k steps ldb floats apart
// (the gemm…x32RowsAVX512 kernels), the same FMA chains.
func gemmKernel512(mr int, mode bMode) {
	name := fmt.Sprintf("gemm%dx32AVX512", mr)
	sig := "func(k int, a, b *float32, bstride int, c *float32, ldc int, acc bool)"
	doc := fmt.Sprintf("%s is the %d×32 SGEMM micro-kernel over two packed B panels: c (+)= a·b.", name, mr)
	rows := mode == bRows
	switch mode {
	case bRows:
		name = fmt.Sprintf("gemm%dx32RowsAVX512", mr)
		sig = "func(k int, a, b *float32, ldb int, c *float32, ldc int, acc bool)"
		doc = fmt.Sprintf("%s is the %d×32 SGEMM micro-kernel over 32 columns of a row-major B read in place (k steps ldb floats apart): c (+)= a·b.", name, mr)
	case bTaps:
		name = fmt.Sprintf("gemm%dx32TapsAVX512", mr)
		sig = "func(k int, a, b *float32, bstride int, taps *int32, c *float32, ldc int, acc bool)"
		doc = fmt.Sprintf("%s is the %d×32 SGEMM micro-kernel over im2col read in place: step s of B is 16 floats at b and 16 at b+bstride, each taps[s] bytes on: c (+)= a·b.", name, mr)
	case bSegs, bSegs3:
		name = fmt.Sprintf("gemm%dx32%sAVX512", mr, mode.segsName())
		sig = "func(k int, a, b *float32, segs *[6]int32, masks *[6]uint16, taps *int32, c *float32, ldc int, acc bool)"
		doc = fmt.Sprintf("%s is the %d×32 SGEMM micro-kernel over im2col read in place in runs: lane t of step s of B half h is the float at b + segs[%dh+r] + taps[s] + 4t for the run r < %d whose masks[%dh+r] has bit t: c (+)= a·b.", name, mr, mode.runs(), mode.runs(), mode.runs())
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc)
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	bs := newBStepsMode(mode)
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	acc := make([]VecPhysical, 2*mr)
	for i := range acc {
		acc[i] = Z(i)
		VPXORD(acc[i], acc[i], acc[i])
	}
	v0, v1 := Z(12), Z(13)
	bc := []VecPhysical{Z14, Z15, Z16, Z17, Z18, Z19}
	p := GP64()
	MOVQ(c, p)
	for i := 0; i < mr; i++ {
		PREFETCHT0(Mem{Base: p})
		PREFETCHT0(Mem{Base: p, Disp: 64})
		if i < mr-1 {
			ADDQ(ldc, p)
		}
	}
	step := func(s int) {
		bs.load(s, v0, v1)
		for i := 0; i < mr; i++ {
			t := bc[i]
			VBROADCASTSS(Mem{Base: a, Disp: 4 * (mr*s + i)}, t)
			VFMADD231PS(v0, t, acc[2*i])
			VFMADD231PS(v1, t, acc[2*i+1])
		}
	}
	const unroll = 4
	prefix := "z"
	if rows {
		prefix = "zr"
	}
	if mode == bTaps {
		prefix = "zt"
	}
	if mode == bSegs || mode == bSegs3 {
		prefix = fmt.Sprintf("zs%d_", mode.runs())
	}
	lbl := func(s string) string { return fmt.Sprintf("%s%d_%s", prefix, mr, s) }
	Label(lbl("loop4"))
	CMPQ(k, Imm(unroll))
	JL(LabelRef(lbl("loop1")))
	for s := 0; s < unroll; s++ {
		step(s)
	}
	ADDQ(U32(4*mr*unroll), a)
	bs.advance(unroll)
	SUBQ(U32(unroll), k)
	JMP(LabelRef(lbl("loop4")))
	Label(lbl("loop1"))
	TESTQ(k, k)
	JZ(LabelRef(lbl("store")))
	step(0)
	ADDQ(U32(4*mr), a)
	bs.advance(1)
	DECQ(k)
	JMP(LabelRef(lbl("loop1")))

	Label(lbl("store"))
	storeTile(lbl, c, ldc, mr, acc, 64)
}

// bMode is where a zmm kernel's B steps come from.
type bMode int

const (
	bPacked bMode = iota // two packed panels
	bRows                // a row-major matrix read in place
	bTaps                // im2col's taps read in place (implicit GEMM)
	bSegs                // the taps in up to two masked runs a half (panels across output rows)
	bSegs3               // the same in up to three runs a half
)

// runs is the masked runs a half of a B step reads in a bSegs mode.
func (m bMode) runs() int {
	if m == bSegs3 {
		return 3
	}
	return 2
}

func (m bMode) segsName() string {
	if m == bSegs3 {
		return "Segs3"
	}
	return "Segs"
}

// bSteps addresses the two halves of a B step (16 floats each on zmm, 8 on
// ymm): packed, two panels (b and b+bstride) whose steps are 64 bytes apart;
// rows, one row-major matrix read in place, the halves side by side (half
// bytes apart) and the steps ldb floats apart; taps, the halves at b and
// b+bstride plus a per-step byte offset from the taps table (im2col's
// rows read where they lie in the planes).
type bSteps struct {
	rows      bool
	segs      []Register // segs: the runs' bases (half 0's, then half 1's), masks K1 on
	taps      Register   // taps: the offsets table, a step's offset
	off       Register
	half      int      // bytes from the first half of a step to the second
	b, b2     Register // packed, taps: the two halves
	ldb, ldb3 Register // rows: the step and three steps, in bytes
}

func newBSteps(rows bool) *bSteps {
	if rows {
		return newBStepsMode(bRows)
	}
	return newBStepsMode(bPacked)
}

func newBStepsMode(mode bMode) *bSteps {
	s := &bSteps{rows: mode == bRows, half: 64, b: Load(Param("b"), GP64())}
	if mode == bSegs || mode == bSegs3 {
		sp := Load(Param("segs"), GP64())
		mp := Load(Param("masks"), GP64())
		for r, k := range segMasks[:2*mode.runs()] {
			base := GP64()
			MOVLQSX(Mem{Base: sp, Disp: 4 * r}, base)
			ADDQ(s.b, base)
			s.segs = append(s.segs, base)
			KMOVW(Mem{Base: mp, Disp: 2 * r}, k)
		}
		s.taps = Load(Param("taps"), GP64())
		s.off = GP64()
		return s
	}
	if mode != bRows {
		s.b2 = Load(Param("bstride"), GP64())
		SHLQ(Imm(2), s.b2)
		ADDQ(s.b, s.b2)
		if mode == bTaps {
			s.taps = Load(Param("taps"), GP64())
			s.off = GP64()
		}
		return s
	}
	s.ldb = Load(Param("ldb"), GP64())
	SHLQ(Imm(2), s.ldb)
	s.ldb3 = GP64()
	LEAQ(Mem{Base: s.ldb, Index: s.ldb, Scale: 2}, s.ldb3)
	return s
}

// load reads step s (of an unrolled round) of both halves into v0, v1.
func (s *bSteps) load(step int, v0, v1 Op) {
	if s.segs != nil {
		// A run's lanes outside its mask are neither read nor kept: the
		// first run zeroes them, the second merges into them.
		MOVLQSX(Mem{Base: s.taps, Disp: 4 * step}, s.off)
		runs := len(s.segs) / 2
		for h, v := range []Op{v0, v1} {
			for r := 0; r < runs; r++ {
				m := Mem{Base: s.segs[runs*h+r], Index: s.off, Scale: 1}
				if r == 0 {
					VMOVUPS_Z(m, segMasks[runs*h], v)
				} else {
					VMOVUPS(m, segMasks[runs*h+r], v)
				}
			}
		}
		return
	}
	if s.taps != nil {
		MOVLQSX(Mem{Base: s.taps, Disp: 4 * step}, s.off)
		VMOVUPS(Mem{Base: s.b, Index: s.off, Scale: 1}, v0)
		VMOVUPS(Mem{Base: s.b2, Index: s.off, Scale: 1}, v1)
		return
	}
	if !s.rows {
		VMOVUPS(Mem{Base: s.b, Disp: 64 * step}, v0)
		VMOVUPS(Mem{Base: s.b2, Disp: 64 * step}, v1)
		return
	}
	m := Mem{Base: s.b}
	switch step {
	case 0:
	case 1:
		m = Mem{Base: s.b, Index: s.ldb, Scale: 1}
	case 2:
		m = Mem{Base: s.b, Index: s.ldb, Scale: 2}
	case 3:
		m = Mem{Base: s.b, Index: s.ldb3, Scale: 1}
	default:
		panic("bSteps: unroll past 4")
	}
	VMOVUPS(m, v0)
	m.Disp = s.half
	VMOVUPS(m, v1)
	if s.half == 64 {
		// The zmm kernels' B rows are as many streams as steps (a 1×1
		// conv's input planes, cold in a model): ask for each row's lines
		// two calls ahead along it (the next 32 columns are the next call).
		m.Disp = 256
		PREFETCHT0(m)
		m.Disp = 320
		PREFETCHT0(m)
	}
}

// segMasks are the bSegs modes' run masks, half 0's runs then half 1's.
var segMasks = []Register{K1, K2, K3, K4, K5, K6}

// advance moves past n steps (1 or 4).
func (s *bSteps) advance(n int) {
	if s.taps != nil {
		ADDQ(U32(4*n), s.taps)
		return
	}
	if !s.rows {
		for _, r := range []Register{s.b, s.b2} {
			ADDQ(U32(64*n), r)
		}
		return
	}
	switch n {
	case 1:
		ADDQ(s.ldb, s.b)
	case 4:
		LEAQ(Mem{Base: s.b, Index: s.ldb, Scale: 4}, s.b)
	default:
		panic("bSteps: advance by 1 or 4")
	}
}

// gemmKernel512x12 emits the (6+r2)×32 micro-kernel on zmm (12×32 at r2
// = 6; 8×32 at r2 = 2, for the 6- and 2-row panels that end a filter
// count of 12k + 8, where a 2-row kernel ran at 40% of the FMA peak): two A panels
// (the second astride floats after the first) times two 16-column B panels,
// 2·(6+r2) accumulators. Each C element is the same FMA chain over k as in the
// 6×16 kernel, so the results are bit-identical to it; the larger tile
// halves the loads per FMA and the C traffic per k-block. With rows, B is
// read in place from a row-major matrix (gemm12x32RowsAVX512).
func gemmKernel512x12(mode bMode, r2 int) {
	rows := 6 + r2
	name := fmt.Sprintf("gemm%dx32AVX512", rows)
	sig := "func(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, acc bool)"
	doc := name + fmt.Sprintf(" is the %d×32 SGEMM micro-kernel over two packed A panels (6 and %d rows) and two packed B panels: c (+)= a·b.", rows, r2)
	prefix := fmt.Sprintf("z%d_", rows)
	if mode == bTaps {
		name = fmt.Sprintf("gemm%dx32TapsAVX512", rows)
		sig = "func(k int, a *float32, astride int, b *float32, bstride int, taps *int32, c *float32, ldc int, acc bool)"
		doc = name + fmt.Sprintf(" is the %d×32 SGEMM micro-kernel over two packed A panels (6 and %d rows) and im2col read in place: step s of B is 16 floats at b and 16 at b+bstride, each taps[s] bytes on: c (+)= a·b.", rows, r2)
		prefix = fmt.Sprintf("zt%d_", rows)
	}
	if mode == bSegs || mode == bSegs3 {
		R := mode.runs()
		name = fmt.Sprintf("gemm%dx32", rows) + mode.segsName() + "AVX512"
		sig = "func(k int, a *float32, astride int, b *float32, segs *[6]int32, masks *[6]uint16, taps *int32, c *float32, ldc int, acc bool)"
		doc = name + fmt.Sprintf(" is the %d×32 SGEMM micro-kernel over two packed A panels (6 and %d rows) and im2col read in place in runs: lane t of step s of B half h is the float at b + segs[%dh+r] + taps[s] + 4t for the run r < %d whose masks[%dh+r] has bit t: c (+)= a·b.", rows, r2, R, R, R)
		prefix = fmt.Sprintf("zs%d%d_", R, rows)
	}
	if mode == bRows {
		name = fmt.Sprintf("gemm%dx32RowsAVX512", rows)
		sig = "func(k int, a *float32, astride int, b *float32, ldb int, c *float32, ldc int, acc bool)"
		doc = name + fmt.Sprintf(" is the %d×32 SGEMM micro-kernel over two packed A panels (6 and %d rows) and 32 columns of a row-major B read in place (k steps ldb floats apart): c (+)= a·b.", rows, r2)
		prefix = fmt.Sprintf("zr%d_", rows)
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(doc)
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	a2 := Load(Param("astride"), GP64())
	SHLQ(Imm(2), a2)
	ADDQ(a, a2)
	bs := newBStepsMode(mode)
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	zs := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}
	acc := zs[:2*rows]
	for _, r := range acc {
		VPXORD(r, r, r)
	}
	v0, v1 := zs[24], zs[25]
	bc := zs[26:32]
	p := GP64()
	MOVQ(c, p)
	for i := 0; i < rows; i++ {
		PREFETCHT0(Mem{Base: p})
		PREFETCHT0(Mem{Base: p, Disp: 64})
		if i < rows-1 {
			ADDQ(ldc, p)
		}
	}
	step := func(s int) {
		bs.load(s, v0, v1)
		for i := 0; i < rows; i++ {
			t := bc[i%6]
			src := Mem{Base: a, Disp: 4 * (6*s + i)}
			if i >= 6 {
				src = Mem{Base: a2, Disp: 4 * (r2*s + i - 6)}
			}
			VBROADCASTSS(src, t)
			VFMADD231PS(v0, t, acc[2*i])
			VFMADD231PS(v1, t, acc[2*i+1])
		}
	}
	const unroll = 4
	lbl := func(s string) string { return prefix + s }
	Label(lbl("loop4"))
	CMPQ(k, Imm(unroll))
	JL(LabelRef(lbl("loop1")))
	// The A panels stream from L2, or from memory where they are a layer's
	// filters (resnet's 7×7 layers read 9.4 MB of them for 49 columns):
	// ask for them 64 steps (1.5 KiB) ahead, which runs into the panel's
	// next K block where the panel holds the whole depth (PackA). 16 steps
	// (384 bytes) ahead left the 7×7 layers at 140–150 GFLOP/s with cold filters,
	// 64 steps 158–160, best of 200 (BenchmarkConvPackedCold).
	// A pass reads 96 bytes of each panel, so one prefetch a pass
	// would skip every third line: ask for two lines each.
	for _, r := range []struct {
		p Register
		w int
	}{{a, 6}, {a2, r2}} {
		PREFETCHT0(Mem{Base: r.p, Disp: 4 * r.w * unroll * 16})
		PREFETCHT0(Mem{Base: r.p, Disp: 4*r.w*unroll*16 + 64})
	}
	for s := 0; s < unroll; s++ {
		step(s)
	}
	ADDQ(U32(4*6*unroll), a)
	ADDQ(U32(4*r2*unroll), a2)
	bs.advance(unroll)
	SUBQ(U32(unroll), k)
	JMP(LabelRef(lbl("loop4")))
	Label(lbl("loop1"))
	TESTQ(k, k)
	JZ(LabelRef(lbl("store")))
	step(0)
	ADDQ(U32(4*6), a)
	ADDQ(U32(4*r2), a2)
	bs.advance(1)
	DECQ(k)
	JMP(LabelRef(lbl("loop1")))

	Label(lbl("store"))
	storeTile(lbl, c, ldc, rows, acc, 64)
}

// gemmKernel512x12x16 emits the 12×16 micro-kernel on zmm for a single B
// panel (the odd panel or the ragged edge of a block): two 6-row A panels,
// 12 accumulators, the same FMA chains as the 6×16 kernel.
func gemmKernel512x12x16() {
	name := "gemm12x16AVX512"
	TEXT(name, NOSPLIT, "func(k int, a *float32, astride int, b *float32, c *float32, ldc int, acc bool)")
	Pragma("noescape")
	Doc(name + " is the 12×16 SGEMM micro-kernel over two packed A panels and one packed B panel: c (+)= a·b.")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	a2 := Load(Param("astride"), GP64())
	SHLQ(Imm(2), a2)
	ADDQ(a, a2)
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	acc := make([]VecPhysical, 12)
	for i := range acc {
		acc[i] = Z(i)
		VPXORD(acc[i], acc[i], acc[i])
	}
	v0 := Z(12)
	bc := []VecPhysical{Z13, Z14, Z15, Z16, Z17, Z18}
	step := func(s int) {
		VMOVUPS(Mem{Base: b, Disp: 64 * s}, v0)
		for i := 0; i < 12; i++ {
			t := bc[i%6]
			src := Mem{Base: a, Disp: 4 * (6*s + i)}
			if i >= 6 {
				src = Mem{Base: a2, Disp: 4 * (6*s + i - 6)}
			}
			VBROADCASTSS(src, t)
			VFMADD231PS(v0, t, acc[i])
		}
	}
	const unroll = 4
	lbl := func(s string) string { return "z1216_" + s }
	Label(lbl("loop4"))
	CMPQ(k, Imm(unroll))
	JL(LabelRef(lbl("loop1")))
	for s := 0; s < unroll; s++ {
		step(s)
	}
	ADDQ(U32(4*6*unroll), a)
	ADDQ(U32(4*6*unroll), a2)
	ADDQ(U32(64*unroll), b)
	SUBQ(U32(unroll), k)
	JMP(LabelRef(lbl("loop4")))
	Label(lbl("loop1"))
	TESTQ(k, k)
	JZ(LabelRef(lbl("store")))
	step(0)
	ADDQ(U32(4*6), a)
	ADDQ(U32(4*6), a2)
	ADDQ(U32(64), b)
	DECQ(k)
	JMP(LabelRef(lbl("loop1")))
	Label(lbl("store"))
	storeTile(lbl, c, ldc, 12, acc, 64)
}

// evens emits dst[i] = src[2i] for i < len(dst) rounded down to 8 (src must
// hold 2·that count floats): the stride-2 phase planes' copy, two loads and
// a shuffle and a permute per eight outputs.
func evens() {
	TEXT("evensAVX", NOSPLIT, "func(dst, src []float32)")
	Pragma("noescape")
	Doc("evensAVX: dst[i] = src[2i] for i < len(dst) rounded down to 8; src must hold twice that.")
	d := Load(Param("dst").Base(), GP64())
	s := Load(Param("src").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	SHRQ(Imm(3), n)
	a, b := YMM(), YMM()
	Label("evens_loop")
	TESTQ(n, n)
	JZ(LabelRef("evens_done"))
	VMOVUPS(Mem{Base: s}, a)
	VMOVUPS(Mem{Base: s, Disp: 32}, b)
	VSHUFPS(Imm(0x88), b, a, a)
	VPERMPD(Imm(0xD8), a, a)
	VMOVUPS(a, Mem{Base: d})
	ADDQ(Imm(64), s)
	ADDQ(Imm(32), d)
	DECQ(n)
	JMP(LabelRef("evens_loop"))
	Label("evens_done")
	VZEROUPPER()
	RET()
}

// deinterleave512 emits ev[i] = src[2i], od[i] = src[2i+1] for i <
// len(od) (len(ev) ≥ len(od); src holds 2·len(od) floats): the two phase
// rows of a stride-2 convolution's input row, 16 pairs a step from two
// loads and two permutes, the last n mod 16 pairs under masks.
func deinterleave512() {
	TEXT("deinterleaveAVX512", NOSPLIT, "func(ev, od, src []float32)")
	Pragma("noescape")
	Doc("deinterleaveAVX512: ev[i] = src[2i], od[i] = src[2i+1] for i < len(od); ev holds as many, src twice that.")
	e := Load(Param("ev").Base(), GP64())
	o := Load(Param("od").Base(), GP64())
	s := Load(Param("src").Base(), GP64())
	n := Load(Param("od").Len(), GP64())
	idxE, idxO := ZMM(), ZMM()
	tb := GP64()
	LEAQ(pairIndex(), tb)
	VMOVDQU32(Mem{Base: tb}, idxE)
	VMOVDQU32(Mem{Base: tb, Disp: 64}, idxO)
	rem := GP64()
	MOVQ(n, rem)
	ANDQ(Imm(15), rem)
	SHRQ(Imm(4), n)
	a, b, x, y := ZMM(), ZMM(), ZMM(), ZMM()
	// split puts the evens of a:b in x, the odds in y.
	split := func() {
		VMOVAPS(idxE, x)
		VPERMI2PS(b, a, x)
		VMOVAPS(idxO, y)
		VPERMI2PS(b, a, y)
	}
	Label("deint_loop")
	TESTQ(n, n)
	JZ(LabelRef("deint_tail"))
	VMOVUPS(Mem{Base: s}, a)
	VMOVUPS(Mem{Base: s, Disp: 64}, b)
	split()
	VMOVUPS(x, Mem{Base: e})
	VMOVUPS(y, Mem{Base: o})
	ADDQ(Imm(128), s)
	ADDQ(Imm(64), e)
	ADDQ(Imm(64), o)
	DECQ(n)
	JMP(LabelRef("deint_loop"))
	Label("deint_tail")
	TESTQ(rem, rem)
	JZ(LabelRef("deint_done"))
	// K1: rem lanes of ev and od; K2, K3: the 2·rem floats of src over
	// the two loads (16 and 2·rem − 16, or 2·rem and 0).
	lm := GP64()
	LEAQ(lowMasks(), lm)
	KMOVW(Mem{Base: lm, Index: rem, Scale: 2}, K1)
	r2, lo, hi := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: rem, Index: rem, Scale: 1}, r2)
	MOVQ(U32(16), lo)
	CMPQ(r2, lo)
	CMOVQLT(r2, lo)
	MOVQ(r2, hi)
	SUBQ(lo, hi)
	KMOVW(Mem{Base: lm, Index: lo, Scale: 2}, K2)
	KMOVW(Mem{Base: lm, Index: hi, Scale: 2}, K3)
	VMOVUPS_Z(Mem{Base: s}, K2, a)
	VMOVUPS_Z(Mem{Base: s, Disp: 64}, K3, b)
	split()
	VMOVUPS(x, K1, Mem{Base: e})
	VMOVUPS(y, K1, Mem{Base: o})
	Label("deint_done")
	end()
}

// padRows512 emits the zero-bordered rows of a stride-1 phase plane: for
// each of rows rows, dst's qw floats are lo zeros, w floats of src, and
// zeros to qw (lo and qw − lo − w at most 16); dst rows qw floats apart,
// src rows ldx floats apart. Whole steps of 16 floats, the row's last w mod
// 16 under a mask, the borders as masked stores of zeros: no call a row.
func padRows512() {
	TEXT("padRowsAVX512", NOSPLIT, "func(dst, src *float32, rows, w, ldx, lo, qw int)")
	Pragma("noescape")
	Doc("padRowsAVX512 writes rows rows of qw floats at dst: lo zeros, w floats from src (rows ldx floats apart), zeros to qw; lo and qw-lo-w at most 16.")
	d := Load(Param("dst"), GP64())
	s := Load(Param("src"), GP64())
	rows := Load(Param("rows"), GP64())
	w := Load(Param("w"), GP64())
	ldx := Load(Param("ldx"), GP64())
	lo := Load(Param("lo"), GP64())
	qw := Load(Param("qw"), GP64())
	lm := GP64()
	LEAQ(lowMasks(), lm)
	// K2: the left border; K3: the right one, qw − lo − w floats from
	// dst + lo + w; K1: the last w mod 16 floats.
	KMOVW(Mem{Base: lm, Index: lo, Scale: 2}, K2)
	right := GP64()
	MOVQ(qw, right)
	SUBQ(lo, right)
	SUBQ(w, right)
	KMOVW(Mem{Base: lm, Index: right, Scale: 2}, K3)
	rem := GP64()
	MOVQ(w, rem)
	ANDQ(Imm(15), rem)
	KMOVW(Mem{Base: lm, Index: rem, Scale: 2}, K1)
	full := GP64()
	MOVQ(w, full)
	SHRQ(Imm(4), full)
	// Byte steps: rows of dst and src; the right border's offset.
	SHLQ(Imm(2), qw)
	SHLQ(Imm(2), ldx)
	rb := GP64()
	LEAQ(Mem{Base: lo, Index: w, Scale: 1}, rb)
	SHLQ(Imm(2), rb)
	SHLQ(Imm(2), lo)
	z, x := ZMM(), ZMM()
	VPXORD(z, z, z)
	dp, sp, j := GP64(), GP64(), GP64()
	Label("padrows_row")
	TESTQ(rows, rows)
	JZ(LabelRef("padrows_done"))
	VMOVUPS(z, K2, Mem{Base: d})
	VMOVUPS(z, K3, Mem{Base: d, Index: rb, Scale: 1})
	LEAQ(Mem{Base: d, Index: lo, Scale: 1}, dp)
	MOVQ(s, sp)
	MOVQ(full, j)
	Label("padrows_step")
	TESTQ(j, j)
	JZ(LabelRef("padrows_tail"))
	VMOVUPS(Mem{Base: sp}, x)
	VMOVUPS(x, Mem{Base: dp})
	ADDQ(Imm(64), sp)
	ADDQ(Imm(64), dp)
	DECQ(j)
	JMP(LabelRef("padrows_step"))
	Label("padrows_tail")
	TESTQ(rem, rem)
	JZ(LabelRef("padrows_next"))
	VMOVUPS_Z(Mem{Base: sp}, K1, x)
	VMOVUPS(x, K1, Mem{Base: dp})
	Label("padrows_next")
	ADDQ(qw, d)
	ADDQ(ldx, s)
	DECQ(rows)
	JMP(LabelRef("padrows_row"))
	Label("padrows_done")
	end()
}

var pairIndexTable *Mem

// pairIndex is VPERMI2PS's indexes of the even floats of two zmm (0, 2,
// …, 30), then of the odd ones (1, 3, …, 31).
func pairIndex() Mem {
	if pairIndexTable == nil {
		m := GLOBL("pairindex", RODATA|NOPTR)
		for i := 0; i < 32; i++ {
			DATA(4*i, U32(uint32(2*(i%16)+i/16)))
		}
		pairIndexTable = &m
	}
	return *pairIndexTable
}

// storeTile ends a GEMM micro-kernel: it adds the accumulators to C when the
// acc argument is set, else stores them, rows rows of len(acc)/rows vectors
// of vbytes bytes each, C's rows ldc bytes apart; then returns.
func storeTile(lbl func(string) string, c, ldc Register, rows int, acc []VecPhysical, vbytes int) {
	per := len(acc) / rows
	f := Load(Param("acc"), GP8())
	TESTB(f, f)
	JZ(LabelRef(lbl("plain")))
	for _, add := range []bool{true, false} {
		if !add {
			Label(lbl("plain"))
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < per; j++ {
				if add {
					VADDPS(Mem{Base: c, Disp: vbytes * j}, acc[per*i+j], acc[per*i+j])
				}
			}
			for j := 0; j < per; j++ {
				VMOVUPS(acc[per*i+j], Mem{Base: c, Disp: vbytes * j})
			}
			if i < rows-1 {
				ADDQ(ldc, c)
			}
		}
		VZEROUPPER()
		RET()
	}
}
