package simd

import (
	"os"
	"unsafe"
)

// kernelSet is one twin of every kernel; the package calls through ks, set
// once at init, so the choice costs one indirect call.
type kernelSet struct {
	name string
	gemm [mr + 1]func(k int, a, b, c *float32, ldc int, acc bool)
	// gemm2 is the mr×32 kernel over two consecutive B panels (bstride
	// floats apart), bit-identical to two gemm calls.
	gemm2 [mr + 1]func(k int, a, b *float32, bstride int, c *float32, ldc int, acc bool)
	// gemm12 is the 2mr×32 kernel over two consecutive A panels (astride
	// floats apart) and two B panels, bit-identical to two gemm2 calls.
	gemm12 func(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, acc bool)
	// gemm12x16 is the 2mr×16 kernel over two A panels and one B panel.
	gemm12x16 func(k int, a *float32, astride int, b *float32, c *float32, ldc int, acc bool)
	// gemmRows and gemm12Rows are gemm2 and gemm12 over 32 columns of a
	// row-major B read where it lies (k steps ldb floats apart) instead of
	// packed panels: same FMA chains, same bits, no packing. nil at a level
	// that has none (B is packed there).
	gemmRows   [mr + 1]func(k int, a, b *float32, ldb int, c *float32, ldc int, acc bool)
	gemm12Rows func(k int, a *float32, astride int, b *float32, ldb int, c *float32, ldc int, acc bool)
	// gemmTaps and gemm12Taps are gemm2 and gemm12 over im2col read where
	// it lies (implicit GEMM): step s of B is 16 floats at b and 16 at
	// b+bstride, each taps[s] bytes on. Same FMA chains, same bits, no
	// im2col copy. nil at a level that has none (im2col is copied there).
	gemmTaps   [mr + 1]func(k int, a, b *float32, bstride int, taps *int32, c *float32, ldc int, acc bool)
	gemm12Taps func(k int, a *float32, astride int, b *float32, bstride int, taps *int32, c *float32, ldc int, acc bool)
	// gemmSegs[R] and gemm12Segs[R] are the taps kernels for panels that
	// span R = 2 or 3 output rows: each 16-float half h of a step is up to
	// R masked runs, lane t from b + segs[R·h+r] + taps[s] + 4t for the run
	// r whose masks[R·h+r] has bit t (else 0). nil where gemm12Taps is.
	gemmSegs   [maxRuns + 1][mr + 1]segsKernel
	gemm12Segs [maxRuns + 1]segs12Kernel
	// gemmTail[r], gemmTailRows[r], gemmTailTaps[r] and gemmTailSegs[r]
	// (r = 2, 4) are the 12-row kernels' (6+r)-row twins: a 6-row panel
	// and the r-row panel that ends a block (astride floats after it), so
	// that a block of 12k + 8 or 12k + 4 rows ends on one tile of 8, or on
	// tiles of 6 and 10, not on a 2- or 4-row kernel (tileRows); nil where
	// the level runs the panels apart.
	gemmTail     [mr - 1]func(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, acc bool)
	gemmTailRows [mr - 1]func(k int, a *float32, astride int, b *float32, ldb int, c *float32, ldc int, acc bool)
	gemmTailTaps [mr - 1]func(k int, a *float32, astride int, b *float32, bstride int, taps *int32, c *float32, ldc int, acc bool)
	gemmTailSegs [mr - 1][maxRuns + 1]segs12Kernel
	// rowPanels: gemm12 holds its whole 12×32 tile in registers and reads
	// each step of B once (AVX-512), so serial's row-panel order, which
	// streams B from L2, pays. The AVX2 gemm12 is four 6×16 calls that read
	// each B panel twice: from L2 instead of L1 it ran some 6% slower at
	// 1024³, so it keeps the blocked order.
	rowPanels bool
	// gemmCol[np] is one column of np full 6-row A panels times a packed B
	// panel's column (gemmColGo): a ragged edge of one or two columns.
	gemmCol [colPanels + 1]func(k int, a *float32, astride int, b *float32, out *float32)
	// peak runs the FMA peak loop n rounds; peakFlops is its flops a round.
	peak      func(n int)
	peakFlops float64
	// dwTaps is the general depthwise kernel (any taps, strides, dilations).
	dwTaps func(dst []float32, base *float32, offs []int32, w []float32, bias float32)
	// sumTaps is the window sum of pooling over the same layout.
	sumTaps func(dst []float32, base *float32, offs []int32)
	// evens copies every other float (stride-2 phase planes).
	evens func(dst, src []float32)
	// deint splits pairs: ev[i] = src[2i], od[i] = src[2i+1] for i <
	// len(od) (a row into its two stride-2 phases).
	deint func(ev, od, src []float32)
	// transpose8 is Transpose of whole 8×8 tiles (transpose8Go).
	transpose8 func(dst []float32, ld int, src []float32, ls int, rows, cols int)
	// padRows writes rows of a stride-1 phase plane (padRowsGo).
	padRows func(dst, src *float32, rows, w, ldx, lo, qw int)
	// avg2x2, max2x2 are the 2×2 stride-2 pooling rows (Avg2x2Rows,
	// Max2x2Rows); nil where the Go loop runs.
	avg2x2, max2x2 func(dst, src []float32, n, rows, srcW, dstStride int, tail uint64)
	// f16Sat is Float16Sat on whole blocks of eight.
	f16Sat func(dst []uint16, x []float32) int
	// f16s and fromF16s are Float16s and FromFloat16s on whole blocks of
	// eight.
	f16s     func(dst []uint16, x []float32)
	fromF16s func(dst []float32, h []uint16)
	// blockQuantI4 is BlockQuantI4 on whole blocks of eight.
	blockQuantI4 func(dst []byte, x, s []float32)
	// quantPackI4 is BlockQuantI4Rows's step for one row, on whole blocks of eight.
	quantPackI4 func(dst []byte, x, s []float32, r []float64)
	packRow     func(dst, src []float32, panels, stride, ahead int)
	// packA6 packs whole 16-column blocks of six rows of A (packA).
	packA6     func(dst, a []float32, lda, blocks int)
	gatherRows func(dst []float32, base *float32, rows []int32, idx *[16]int32)
	copyRows   func(dst []float32, base *float32, rows []int32)
	// segRows copies panel rows as up to four masked runs; nil where masked
	// loads are not cheap (im2col gathers instead).
	segRows   func(dst []float32, base *float32, rows []int32, segs *[4]int32, masks *[4]uint16)
	quantU8   func(dst []byte, x []float32, s, z, lo, hi float32)
	quantI8   func(dst []byte, x []float32, s, z, lo, hi float32)
	dequantU8 func(dst []float32, x []byte, z, s float32)
	dequantI8 func(dst []float32, x []byte, z, s float32)
	// widenI4, widenU4: packed 4-bit values (low nibble first) to float32,
	// len(dst) rounded down to 16 of them.
	widenI4, widenU4 func(dst []float32, x []byte)
	maxSkipNaN       func(dst, a, b []float32)
	// maxRows is maxRows' kernel over raw rows (bounds checked by it); nil
	// where maxRows folds row by row through maxSkipNaN.
	maxRows    func(dst, src *float32, n, rows, dstStride, srcStride, taps, tapStride int, acc bool)
	maxAbs     func(dst, a, b []float32)
	add        func(dst, a, b []float32)
	sub        func(dst, a, b []float32)
	mul        func(dst, a, b []float32)
	div        func(dst, a, b []float32)
	divScalar  func(dst, x []float32, c float32)
	scalarDiv  func(dst, x []float32, c float32)
	axpy       func(y, x []float32, alpha float32)
	axpy8      func(y []float32, x *float32, ldx int, s *[8]float32) // eight axpy calls, rows of x ldx apart
	prelu      func(dst, x, s []float32)
	leaky      func(dst, x []float32, s float32)
	scaleShift func(dst, x []float32, s, t float32)
	biasClip   func(dst, x []float32, bias, lo, hi float32)
	scShClip   func(dst, x []float32, s, t, lo, hi float32)
	// scShClipRows is scShClip over rows of a block (ScaleShiftClipRows).
	scShClipRows func(y *float32, ldy, rows, n int, s *float32, sstep int, t *float32, lo, hi float32)
	scShRows     func(y *float32, ldy, rows, n int, s *float32, sstep int, t *float32)
	exp          func(dst, x []float32)
	log          func(dst, x []float32)
	sin, cos     func(dst, x []float32) // for |x| ≤ sinCosMax
	round        func(dst, x []float32)
	floor, ceil  func(dst, x []float32)
	sqrt         func(dst, x []float32)
	abs          func(dst, x []float32)
	sigmoid      func(dst, x []float32)
	tanh         func(dst, x []float32)
	erf          func(dst, x []float32)
	gelu         func(dst, x []float32)
	sum          func(x []float32) float32
	dot          func(a, b []float32) float32
	max          func(x []float32) float32
	minMax       func(x []float32) (lo, hi float32)
	expSubSum    func(dst, x []float32, m float32) float32
	sumSqDev     func(x []float32, mean float32) float32
	normAffine   func(dst, x, gamma, beta []float32, mean, rstd float32)
	dw3s1        func(dst, r0, r1, r2, w []float32, bias float32)
	dw3s2        func(dst, r0, r1, r2, w []float32, bias float32)
	dwPlane3s1   func(dst, src, w []float32, bias float32, rows, ow8, dstStride, pw int)
	dwPlane3s2   func(dst, src, w []float32, bias float32, rows, ow8, dstStride, pw int)
	// dwDirect3s1 and dwDirect3s2 are the 3×3 kernels that read the input
	// in place under column masks (dwdirect.go); nil at a level that
	// copies the input into a zero-bordered plane instead (pure Go too:
	// its twin, dwDirectGo, was 2× slower than the plane rows there).
	dwDirect3s1 func(dst *float32, rows []*float32, blocks []int64, w []float32, bias float32, outRows, dstStride int)
	dwDirect3s2 func(dst *float32, rows []*float32, blocks []int64, w []float32, bias float32, outRows, dstStride int)
	// dwcIn and dwcOut are the channel-lane depthwise kernels (dwchan.go)
	// over dwcLanes channels a vector; nil at a level whose row kernels
	// are faster on every plane.
	dwcIn    func(dst, x *float32, xStride, nch int, offs []int32)
	dwcOut   func(y *float32, yStride, nch int, src *float32, outOffs, tapOffs []int32, w, bias *float32)
	dwcLanes int
	// gemmU8I8 is the i8mr×i8nr integer micro-kernel (int8gemm.go), named
	// by i8name.
	gemmU8I8 func(k4 int, a *int8, b *uint8, c *int32, ldc int)
	i8name   string
	// packU8x4 packs a full i8nr-column panel of k4 steps.
	packU8x4 func(dst, src *uint8, ldb, k4 int)
	// colSumsU8 sets sums[0..i8nr) to the column sums of a packed panel.
	colSumsU8 func(k4 int, b *uint8, sums *int32)
	// gemvU8I8 is the int8 GEMM's one-column product (gemvU8I8VNNI); nil
	// where the GEMM's kernel takes one column as a whole panel.
	gemvU8I8 func(k4 int, a *int8, x2 *uint8, panels int, c *int32)
	// dwQ8VNNI is the fused int8 depthwise kernel on VPDPBUSD (uint8
	// input, int8 filters); nil where the CPU lacks AVX-512 VNNI or VBMI.
	dwQ8VNNI func(dst []byte, x, idx *byte, wq *int32, mult, bias []float32, corr []int32, chans, outH, outW, kh, groups, rowStep, dRow, colStep, psz int, lo, hi, s, z, qlo, qhi float32)
	// i32ScaleShiftClip converts and scales n (a multiple of 8) int32s.
	i32ScaleShiftClip func(dst *float32, src *int32, n int, t int32, s, b, lo, hi float32)
}

var goKernels = &kernelSet{
	name:              "go",
	gemm:              [mr + 1]func(int, *float32, *float32, *float32, int, bool){nil, gemmGo(1), gemmGo(2), gemmGo(3), gemmGo(4), gemmGo(5), gemmGo(6)},
	packRow:           packRowGo,
	gemmCol:           gemmColsGo(),
	packA6:            packA6Go,
	gatherRows:        gatherRowsGo,
	copyRows:          copyRowsGo,
	quantU8:           quantize8Go,
	quantI8:           quantize8Go,
	dequantU8:         dequantizeU8Go,
	dequantI8:         dequantizeI8Go,
	widenI4:           widenI4Go,
	widenU4:           widenU4Go,
	maxSkipNaN:        maxSkipNaNGo,
	maxAbs:            maxAbsGo,
	add:               addGo,
	sub:               subGo,
	mul:               mulGo,
	div:               divGo,
	divScalar:         divScalarGo,
	scalarDiv:         scalarDivGo,
	axpy:              axpyGo,
	axpy8:             axpy8Go,
	prelu:             preluGo,
	leaky:             leakyGo,
	scaleShift:        scaleShiftGo,
	biasClip:          biasClipGo,
	scShClip:          scaleShiftClipGo,
	scShClipRows:      scaleShiftClipRowsOf(scaleShiftClipGo),
	scShRows:          scaleShiftRowsOf(scaleShiftGo),
	exp:               expSliceGo,
	log:               logSliceGo,
	sin:               sinSliceGo,
	round:             roundGo,
	floor:             floorGo,
	ceil:              ceilGo,
	cos:               cosSliceGo,
	sqrt:              sqrtGo,
	abs:               absGo,
	sigmoid:           sigmoidSliceGo,
	tanh:              tanhSliceGo,
	erf:               erfSliceGo,
	gelu:              geluSliceGo,
	sum:               sumGo,
	dot:               dotGo,
	max:               maxGo,
	minMax:            minMaxGo,
	expSubSum:         expSubSumGo,
	sumSqDev:          sumSqDevGo,
	normAffine:        normAffineGo,
	dw3s1:             dwRow3s1Go,
	dw3s2:             dwRow3s2Go,
	dwPlane3s1:        dwPlaneGo(dwRow3s1Go, 1),
	dwPlane3s2:        dwPlaneGo(dwRow3s2Go, 2),
	gemm2:             [mr + 1]func(int, *float32, *float32, int, *float32, int, bool){nil, gemm2Of(gemmGo(1)), gemm2Of(gemmGo(2)), gemm2Of(gemmGo(3)), gemm2Of(gemmGo(4)), gemm2Of(gemmGo(5)), gemm2Of(gemmGo(6))},
	dwTaps:            dwTapsGo,
	dwcIn:             dwcInGo(16),
	dwcOut:            dwcOutGo(16),
	dwcLanes:          16,
	sumTaps:           sumTapsGo,
	evens:             evensGo,
	deint:             deinterleaveGo,
	transpose8:        transpose8Go,
	padRows:           padRowsGo,
	f16Sat:            float16SatBlocks,
	f16s:              float16sBlocks,
	fromF16s:          fromFloat16sBlocks,
	blockQuantI4:      blockQuantI4Blocks,
	quantPackI4:       quantPackI4Blocks,
	gemm12:            gemm12Of(gemm2Of(gemmGo(mr))),
	gemm12x16:         gemm12x16Of(gemmGo(mr)),
	gemmRows:          [mr + 1]func(int, *float32, *float32, int, *float32, int, bool){nil, gemmRowsGo(1), gemmRowsGo(2), gemmRowsGo(3), gemmRowsGo(4), gemmRowsGo(5), gemmRowsGo(6)},
	gemm12Rows:        gemm12Of(gemmRowsGo(mr)),
	gemmTaps:          [mr + 1]func(int, *float32, *float32, int, *int32, *float32, int, bool){nil, gemmTapsGo(1), gemmTapsGo(2), gemmTapsGo(3), gemmTapsGo(4), gemmTapsGo(5), gemmTapsGo(6)},
	gemm12Taps:        gemm12TapsOf(gemmTapsGo(mr)),
	gemmSegs:          [maxRuns + 1][mr + 1]segsKernel{2: gemmSegsGoRows(2), 3: gemmSegsGoRows(3)},
	gemm12Segs:        [maxRuns + 1]segs12Kernel{2: gemm12SegsOf(gemmSegsGo(mr, 2)), 3: gemm12SegsOf(gemmSegsGo(mr, 3))},
	gemmU8I8:          gemmU8I8Go,
	packU8x4:          packU8x4Go,
	colSumsU8:         colSumsU8Go,
	i32ScaleShiftClip: i32ScaleShiftClipGo,
	i8name:            "purego",
}

// gemm12x16Of makes the 2mr×16 kernel of a level that has none from its
// 6×16 kernel.
func gemm12x16Of(g func(k int, a, b, c *float32, ldc int, acc bool)) func(k int, a *float32, astride int, b *float32, c *float32, ldc int, acc bool) {
	return func(k int, a *float32, astride int, b *float32, c *float32, ldc int, acc bool) {
		g(k, a, b, c, ldc, acc)
		g(k, (*float32)(unsafe.Add(unsafe.Pointer(a), 4*astride)), b, (*float32)(unsafe.Add(unsafe.Pointer(c), 4*mr*ldc)), ldc, acc)
	}
}

// gemm12Of makes the 2mr-row kernel of a level that has none from its
// two-panel kernel.
func gemm12Of(g func(k int, a, b *float32, bstride int, c *float32, ldc int, acc bool)) func(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, acc bool) {
	return func(k int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, acc bool) {
		g(k, a, b, bstride, c, ldc, acc)
		g(k, (*float32)(unsafe.Add(unsafe.Pointer(a), 4*astride)), b, bstride, (*float32)(unsafe.Add(unsafe.Pointer(c), 4*mr*ldc)), ldc, acc)
	}
}

// gemm12TapsOf makes the 2mr×32 implicit-GEMM kernel from the mr-row one.
func gemm12TapsOf(g func(k int, a, b *float32, bstride int, taps *int32, c *float32, ldc int, acc bool)) func(k int, a *float32, astride int, b *float32, bstride int, taps *int32, c *float32, ldc int, acc bool) {
	return func(k int, a *float32, astride int, b *float32, bstride int, taps *int32, c *float32, ldc int, acc bool) {
		g(k, a, b, bstride, taps, c, ldc, acc)
		g(k, (*float32)(unsafe.Add(unsafe.Pointer(a), 4*astride)), b, bstride, taps, (*float32)(unsafe.Add(unsafe.Pointer(c), 4*mr*ldc)), ldc, acc)
	}
}

// segsKernel and segs12Kernel are the mr-row and 2mr-row run-reading
// taps kernels (kernelSet.gemmSegs).
type (
	segsKernel   func(k int, a, b *float32, segs *[2 * maxRuns]int32, masks *[2 * maxRuns]uint16, taps *int32, c *float32, ldc int, acc bool)
	segs12Kernel func(k int, a *float32, astride int, b *float32, segs *[2 * maxRuns]int32, masks *[2 * maxRuns]uint16, taps *int32, c *float32, ldc int, acc bool)
)

// gemmSegsGoRows is gemmSegsGo at every row count, for runs runs.
func gemmSegsGoRows(runs int) [mr + 1]segsKernel {
	var k [mr + 1]segsKernel
	for m := 1; m <= mr; m++ {
		k[m] = gemmSegsGo(m, runs)
	}
	return k
}

// gemm12SegsOf makes the 2mr×32 run-reading kernel from the mr-row one.
func gemm12SegsOf(g segsKernel) segs12Kernel {
	return func(k int, a *float32, astride int, b *float32, segs *[2 * maxRuns]int32, masks *[2 * maxRuns]uint16, taps *int32, c *float32, ldc int, acc bool) {
		g(k, a, b, segs, masks, taps, c, ldc, acc)
		g(k, (*float32)(unsafe.Add(unsafe.Pointer(a), 4*astride)), b, segs, masks, taps, (*float32)(unsafe.Add(unsafe.Pointer(c), 4*mr*ldc)), ldc, acc)
	}
}

// rowsPairOf makes the 32-column in-place kernel of a level from its
// 16-column one: the second 16 columns are the next 16 floats of each row.
func rowsPairOf(g func(k int, a, b *float32, ldb int, c *float32, ldc int, acc bool)) func(k int, a, b *float32, ldb int, c *float32, ldc int, acc bool) {
	return func(k int, a, b *float32, ldb int, c *float32, ldc int, acc bool) {
		g(k, a, b, ldb, c, ldc, acc)
		g(k, a, (*float32)(unsafe.Add(unsafe.Pointer(b), 4*nr)), ldb, (*float32)(unsafe.Add(unsafe.Pointer(c), 4*nr)), ldc, acc)
	}
}

// gemm2Of makes the two-panel kernel of a level that has none from its
// 16-column kernel.
func gemm2Of(g func(k int, a, b, c *float32, ldc int, acc bool)) func(k int, a, b *float32, bstride int, c *float32, ldc int, acc bool) {
	return func(k int, a, b *float32, bstride int, c *float32, ldc int, acc bool) {
		g(k, a, b, c, ldc, acc)
		g(k, a, (*float32)(unsafe.Add(unsafe.Pointer(b), 4*bstride)), (*float32)(unsafe.Add(unsafe.Pointer(c), 4*nr)), ldc, acc)
	}
}

// ks is the active kernel set.
var ks = goKernels

func init() { ks = chooseLevel(os.Getenv("ONNXSLIM_SIMD"), os.Getenv("ONNXSLIM_NOSIMD") == "1") }

// levels lists every kernel set this CPU can run, narrowest first: the
// pure-Go twins, then the assembly levels (avx2, avx512) the CPU has.
func levels() []*kernelSet { return append([]*kernelSet{goKernels}, asmLevels...) }

// chooseLevel picks the widest level the CPU has, or the one named by
// ONNXSLIM_SIMD (avx512, avx2, purego); a named level the CPU lacks falls
// back to the widest below it. ONNXSLIM_NOSIMD=1 is purego.
func chooseLevel(name string, nosimd bool) *kernelSet {
	all := levels()
	if nosimd || name == "purego" || name == "go" {
		return goKernels
	}
	best := all[len(all)-1]
	if name == "" {
		return best
	}
	rank := map[string]int{"avx2": 1, "avx512": 2}
	want, ok := rank[name]
	if !ok {
		return best
	}
	pick := goKernels
	for _, k := range all[1:] {
		if rank[k.name] <= want {
			pick = k
		}
	}
	return pick
}

// Level names the active kernel set: "purego", "avx2" or "avx512".
func Level() string {
	if ks == goKernels {
		return "purego"
	}
	return ks.name
}

// Levels names every level this CPU can run, narrowest first.
func Levels() []string {
	var out []string
	for _, k := range levels() {
		if k == goKernels {
			out = append(out, "purego")
		} else {
			out = append(out, k.name)
		}
	}
	return out
}

// Accelerated reports whether assembly kernels are in use.
func Accelerated() bool { return ks != goKernels }

// FMAPeakLoop runs the 12-accumulator FMA loop used to measure one core's
// peak for rounds rounds and returns the float32 operations it did (192 a
// round); 0 without the assembly kernels. For benchmarks: the peak is the
// best rate of many short calls.
func FMAPeakLoop(rounds int) float64 {
	if ks.peak == nil {
		return 0
	}
	ks.peak(rounds)
	return ks.peakFlops * float64(rounds)
}
