package simd

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Register block of the micro-kernel: mr rows of A by nr columns of B, 12
// YMM accumulators.
const (
	mr = 6
	nr = 16
)

// Cache blocking, tuned on AMD EPYC (Zen 3: 32 KiB L1d, 512 KiB L2 per core,
// 32 MiB shared L3): a kc×16 B micro-panel (16 KiB at kc=256) stays in L1
// (kc up to 320 so that K = 576, a 3×3×64 conv, splits into two blocks of
// 288) while the mc×kc A block (up to 180 KiB) streams from L2; the kc×nc B block
// lives in L3. Where one block of rows takes all of A (serial), B is packed
// in blocks of blockB floats (half of Zen 3's L2) instead, used right after
// they are written. On Zen 5 (48 KiB L1d, 1 MiB L2) blockB from 16 to 256
// Ki floats and mc from 96 to 288 ran alike at 1024³ within the shared
// machine's noise, so these stay constants rather than being read from
// CPUID's cache sizes. Variables so that benchmarks can sweep them.
var (
	blockMC = 144
	blockKC = 320
	blockNC = 3072
	blockB  = 64 << 10
)

// inPlaceMaxK is the deepest product whose row-major B the in-place kernels
// read where it lies (a variable so that benchmarks can compare both ways).
var inPlaceMaxK = 1 << 30

// parallelMin is the work (m·n·k) at or below which a GEMM stays on one
// goroutine: about 2M multiply-adds, some 20 µs on one core. Below it the
// hand-off (a helper to wake, on a core another process may hold) cost
// more than the half it saved: with 64³, two threads were slower than one
// on the small real models (README, "Interpreter speed").
const parallelMin = 128 * 128 * 128

// ParallelMin is parallelMin for callers that split a product themselves.
const ParallelMin = parallelMin

// PackedBSize is the length of the packed form of a k×n matrix B: n rounded
// up to 16 columns, times k.
func PackedBSize(k, n int) int { return k * ((n + nr - 1) / nr * nr) }

// PackedBColumns returns the packed form of columns [c0, c1) of bp, a
// k-row matrix in the PackB layout, as a subslice of bp (whole panels: the
// last may hold columns past c1, which products of c1-c0 columns ignore),
// or false when c0 does not start a panel.
func PackedBColumns(bp []float32, k, c0, c1 int) ([]float32, bool) {
	if c0%nr != 0 || c1 < c0 {
		return nil, false
	}
	end := min(len(bp), c0*k+PackedBSize(k, c1-c0))
	return bp[c0*k : end], true
}

// PackB writes op(B) (k×n; B is k×n with row stride ldb, or n×k when transB)
// into dst in the packed layout used by SgemmPacked: column panels of 16,
// panel j holding rows 0..k-1 of columns 16j..16j+15 as k consecutive runs
// of 16 floats, columns past n zero:
//
//	dst[j*16*k + p*16 + c] = op(B)[p][16j+c]
//
// dst must hold PackedBSize(k, n) floats.
func PackB(transB bool, k, n int, b []float32, ldb int, dst []float32) {
	if k <= 0 || n <= 0 {
		return
	}
	checkMat("B", transB, k, n, b, ldb)
	if len(dst) < PackedBSize(k, n) {
		panic(fmt.Sprintf("simd: PackB: dst has %d floats, want %d", len(dst), PackedBSize(k, n)))
	}
	packB(transB, b, ldb, 0, 0, k, n, dst)
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, BLAS-style: op(A) is m×k (A stored m×k, or k×m when transA),
// op(B) is k×n; lda, ldb, ldc are the row strides as stored (≥ the stored
// width). beta = 0 overwrites C without reading it (NaNs in C vanish). Up to
// threads goroutines work on problems larger than 64³.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	if trivialGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	if m <= gemvRows {
		gemvParallel(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
		return
	}
	g := gemmArgs{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	g.parallel(threads)
}

// gemvParallelMin is the work (m·n·k) above which gemv is split over
// threads: a product of one or two rows reads each float of B for one or
// two multiply-adds, so it runs at memory speed, some 16× slower per
// multiply-add than a packed GEMM, and pays for a helper at 1/16 of
// parallelMin (a classifier's 1×512 · 512×1000 took 0.24 ms on one
// thread).
const gemvParallelMin = parallelMin / 16

// gemvParallel is gemv over column ranges (multiples of 16, so that the
// vector kernels' lanes fall as on one thread) claimed by up to threads
// goroutines: each output is computed as on one.
func gemvParallel(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	gemvColumns(m, n, k, threads, func(j0, j1 int) {
		bj := b[j0:]
		if transB {
			bj = b[j0*ldb:]
		}
		gemv(transA, transB, m, j1-j0, k, alpha, a, lda, bj, ldb, beta, c[j0:], ldc)
	})
}

// gemvColumns calls f for gemvParallel's column ranges of an m×n×k
// product: all of them at once when one thread is worth it.
func gemvColumns(m, n, k, threads int, f func(j0, j1 int)) {
	if threads < 2 || m*n*k <= gemvParallelMin || n < 64 {
		f(0, n)
		return
	}
	units := (n + 15) / 16
	parts := min(units, runsPerThread*threads)
	Parallel(parts, threads, func(t int) {
		f(min(n, t*units/parts*16), min(n, (t+1)*units/parts*16))
	})
}

// FewRows is the most rows SgemmFewRows takes.
const FewRows = 8

// SgemmFewRows is Sgemm for a product of at most FewRows rows that does not
// pack B: B is read once, straight from where it lies (a mapped weight),
// in column panels whose rows of C stay in cache, instead of being copied
// into the packed layout first, which for a few rows costs more than the
// multiply-adds. Each row of C is bit for bit what Sgemm gives for that row
// alone (Sgemm of one or two rows is this product); for 3 to FewRows rows
// the sums are in another order than Sgemm's packed kernels.
func SgemmFewRows(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	if m > FewRows {
		panic(fmt.Sprintf("simd: SgemmFewRows: %d rows, at most %d", m, FewRows))
	}
	SgemmRows(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
}

// SgemmRows is SgemmFewRows for any number of rows, for a caller that
// knows B is better read in place than packed even so: the rows of several
// runs stacked into one product (interp's lockstep runs), each of a few
// rows, which then read a weight once instead of once a run. Each row of C
// is bit for bit what SgemmFewRows gives for it, alone or among others.
func SgemmRows(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	if trivialGemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	gemvParallel(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
}

// gemvPanel is the column width gemv goes through B in: a panel of a few
// rows of C stays in L1 while B's rows stream past once (a multiple of 8,
// so that the Axpy kernels' lanes, and so the sums, are as for whole rows).
const gemvPanel = 1024

// gemvBy8: gemv takes B's rows eight at a time (axpy8), a variable so
// that BenchmarkSgemmRows can compare with one at a time.
var gemvBy8 = true

// gemvRows is the row count up to which Sgemm skips packing: packing B
// reads and writes all of it, as much work as one or two rows of products
// (a recurrent cell's step is a 1-row product with a fresh B each time).
const gemvRows = 2

// gemv computes C = alpha·op(A)·op(B) + beta·C row by row without packing:
// a row of C gathers rows of B (Axpy) or, with B transposed, takes dot
// products with them.
func gemv(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	scaleC(m, n, beta, c, ldc)
	ws := wsPool.get()
	defer wsPool.put(ws)
	at := func(i, p int) float32 {
		if transA {
			return a[p*lda+i]
		}
		return a[i*lda+p]
	}
	if !transB {
		// B's rows are read once per panel for all rows of C.
		for j0 := 0; j0 < n; j0 += gemvPanel {
			j1 := min(n, j0+gemvPanel)
			p := 0
			// Eight rows of B at a time: each row of C's panel is loaded and
			// stored once for eight of them, the same sums in the same order.
			for ; gemvBy8 && p+8 <= k; p += 8 {
				_ = b[(p+7)*ldb+j1-1] // axpy8 reads up to here, unchecked
				var s [8]float32
				for i := 0; i < m; i++ {
					for r := range s {
						s[r] = alpha * at(i, p+r)
					}
					ks.axpy8(c[i*ldc+j0:i*ldc+j1], &b[p*ldb+j0], ldb, &s)
				}
			}
			for ; p < k; p++ {
				brow := b[p*ldb+j0 : p*ldb+j1]
				for i := 0; i < m; i++ {
					ks.axpy(c[i*ldc+j0:i*ldc+j1], brow, alpha*at(i, p))
				}
			}
		}
		return
	}
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		// Dot products need A's row contiguous, scaled by alpha.
		arow := aligned(&ws.a, k)
		for p := range arow {
			arow[p] = alpha * at(i, p)
		}
		for j := range crow {
			crow[j] += ks.dot(arow, b[j*ldb:j*ldb+k])
		}
	}
}

// SgemmPacked is Sgemm with op(B) already in the PackB layout (bp holds
// PackedBSize(k, n) floats), as written by PackB or Im2colPacked. A packed B
// is read-only, so it can be shared by concurrent calls.
func SgemmPacked(transA bool, m, n, k int, alpha float32, a []float32, lda int, bp []float32, beta float32, c []float32, ldc int, threads int) {
	if m <= 0 || n <= 0 {
		return
	}
	checkMat("C", false, m, n, c, ldc)
	if k <= 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	checkMat("A", transA, m, k, a, lda)
	if len(bp) < PackedBSize(k, n) {
		panic(fmt.Sprintf("simd: SgemmPacked: packed B has %d floats, want %d", len(bp), PackedBSize(k, n)))
	}
	g := gemmArgs{transA: transA, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, packed: bp, beta: beta, c: c, ldc: ldc}
	g.parallel(threads)
}

// PackedA is alpha·op(A) packed once for many products with the same left
// operand (a convolution's filters, a layer's weights): packing A costs as
// much as the multiply-adds when N is small. Each panel of mr rows holds
// the whole depth (k steps of mr floats), so that a product can cut K into
// blocks of any size.
type PackedA struct {
	m, k int
	data []float32
}

// PackA packs alpha·op(A) (m×k; A is m×k with row stride lda, or k×m when
// transA) for SgemmPackedA.
func PackA(transA bool, m, k int, alpha float32, a []float32, lda int) *PackedA {
	pa := &PackedA{m: m, k: k}
	if m <= 0 || k <= 0 {
		return pa
	}
	checkMat("A", transA, m, k, a, lda)
	pa.data = make([]float32, m*k)
	packA(transA, a, lda, 0, 0, m, k, alpha, pa.data)
	return pa
}

// SgemmPackedA is Sgemm with A pre-packed: C = PackA(...)·op(B) + beta·C,
// with op(B) k×n from b (row stride ldb, transposed when transB) or, when bp
// is not nil, already in the PackB layout. kc is the depth of the K blocks
// (0: the default blocking): each C element sums its products in K order,
// block by block, each block from zero and then added to C, so kc fixes the
// rounding (ConvKBlock gives ONNX Runtime's).
func SgemmPackedA(pa *PackedA, transB bool, n int, b []float32, ldb int, bp []float32, beta float32, c []float32, ldc int, kc, threads int) {
	m, k := pa.m, pa.k
	if m <= 0 || n <= 0 {
		return
	}
	checkMat("C", false, m, n, c, ldc)
	if k <= 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if bp != nil {
		if len(bp) < PackedBSize(k, n) {
			panic(fmt.Sprintf("simd: SgemmPackedA: packed B has %d floats, want %d", len(bp), PackedBSize(k, n)))
		}
	} else {
		checkMat("B", transB, k, n, b, ldb)
	}
	g := gemmArgs{transB: transB, m: m, n: n, k: k, alpha: 1, preA: pa.data, b: b, ldb: ldb, packed: bp, beta: beta, c: c, ldc: ldc, kc: kc}
	g.parallel(threads)
}

// SgemmPackedAEach is SgemmPackedA that calls done(r0, r1, q0, q1) with
// each block of C, rows [r0, r1) × columns [q0, q1), once, as soon as the
// block is final, on the goroutine that computed it: the place for an
// epilogue (bias, activation) while the block is in cache, and on all
// threads.
func SgemmPackedAEach(pa *PackedA, transB bool, n int, b []float32, ldb int, bp []float32, beta float32, c []float32, ldc int, kc, threads int, done func(r0, r1, q0, q1 int)) {
	m := pa.m
	if m <= 0 || n <= 0 {
		return
	}
	checkMat("C", false, m, n, c, ldc)
	if pa.k <= 0 {
		scaleC(m, n, beta, c, ldc)
		done(0, m, 0, n)
		return
	}
	if bp != nil {
		if len(bp) < PackedBSize(pa.k, n) {
			panic(fmt.Sprintf("simd: SgemmPackedAEach: packed B has %d floats, want %d", len(bp), PackedBSize(pa.k, n)))
		}
	} else {
		checkMat("B", transB, pa.k, n, b, ldb)
	}
	g := gemmArgs{transB: transB, m: m, n: n, k: pa.k, alpha: 1, preA: pa.data, b: b, ldb: ldb, packed: bp, beta: beta, c: c, ldc: ldc, kc: kc, done: done}
	g.parallel(threads)
}

// ConvKBlock is the K block depth ONNX Runtime's MLAS uses for a
// single-threaded convolution (or product) with n output columns and depth
// k: 128, halved while k fits in half of it when n ≥ k, doubled while the
// 128-column N block halves towards n (down to 16) when n < k. Summing in
// the same blocks, with the same 6×16 FMA micro-kernel order, gives
// bit-identical results.
func ConvKBlock(n, k int) int {
	strideN, strideK := 128, 128
	if n >= k {
		for strideK/2 >= k {
			strideN *= 2
			strideK /= 2
		}
	} else {
		for strideN > 16 && strideN/2 >= n {
			strideK *= 2
			strideN /= 2
		}
	}
	return strideK
}

// checkMat panics unless x, stored rows×cols (cols×rows when trans) with row
// stride ld, fits in its slice.
func checkMat(name string, trans bool, rows, cols int, x []float32, ld int) {
	if trans {
		rows, cols = cols, rows
	}
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("simd: Sgemm: ld%s = %d < %d", name, ld, cols))
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("simd: Sgemm: %s has %d floats, want %d", name, len(x), need))
	}
}

func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else {
			ks.scaleShift(row, row, beta, 0)
		}
	}
}

type gemmArgs struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	packed         []float32 // PackB layout of op(B), or nil
	preA           []float32 // PackA layout of alpha·op(A), or nil
	kc             int       // K block depth; 0: split(k, blockKC, 1)
	beta           float32
	c              []float32
	ldc            int
	done           func(i0, i1, j0, j1 int) // called with each finished block, or nil
}

// parallel splits C along its larger dimension (in whole micro-tiles) and
// runs the serial algorithm on each block.
func (g *gemmArgs) parallel(threads int) {
	if threads < 2 || g.m*g.n*g.k <= parallelMin {
		g.serial(0, g.m, 0, g.n)
		if g.done != nil {
			g.done(0, g.m, 0, g.n)
		}
		return
	}
	// Only this copy escapes to the goroutines: the serial path allocates
	// nothing.
	gc := *g
	gc.fork(threads)
}

// Smallest blocks fork cuts, in pairs of micro-tiles (the AVX-512 kernels
// run 12 rows or 32 columns at once): where the other operand is already
// packed a block costs nothing extra; otherwise each block packs the other
// operand again, which costs a few percent at 8 pairs (96 rows or 256
// columns) and more below.
const (
	forkMinPairs       = 1
	forkMinPairsRepack = 8
)

// fork cuts C into up to runsPerThread blocks per thread, claimed one at a
// time through Parallel, so that a helper that starts late (waking, or its
// core taken by another process) takes fewer blocks instead of leaving the
// caller waiting for a fixed half. Every element sums the same products in
// the same K blocks wherever the cuts fall, so the bits do not depend on
// the number of threads.
func (g *gemmArgs) fork(threads int) {
	tilesN := (g.n + nr - 1) / nr
	tilesM := (g.m + mr - 1) / mr
	splitN := tilesN >= threads && g.n >= g.m || tilesM < threads
	size, unit := g.m, 2*mr
	repacked := g.packed == nil // a row block packs its own copy of B
	if splitN {
		size, unit = g.n, 2*nr
		repacked = g.preA == nil // a column block packs its own copy of A
	}
	pairs := (size + unit - 1) / unit
	minPairs := forkMinPairs
	if repacked {
		minPairs = forkMinPairsRepack
	}
	blocks := max(min(pairs, threads), min(runsPerThread*threads, pairs/minPairs))
	ParallelThreads(blocks, threads, func(th, t int) {
		i0, i1, j0, j1 := 0, g.m, 0, g.n
		b0, b1 := min(size, t*pairs/blocks*unit), min(size, (t+1)*pairs/blocks*unit)
		if splitN {
			j0, j1 = b0, b1
		} else {
			i0, i1 = b0, b1
		}
		if b0 >= b1 {
			return
		}
		// Each thread packs into its own workspace (see shareSpaces).
		s := shareWorkspace(th)
		defer s.release()
		g.serialWith(s.ws, i0, i1, j0, j1)
		if g.done != nil {
			g.done(i0, i1, j0, j1)
		}
	})
}

// workspace is one goroutine's packing buffers, pooled so that steady-state
// calls allocate nothing.
type workspace struct {
	a, b []float32
	rows []int32   // im2col's per-row tap offsets
	idx  [nr]int32 // im2col's gather offsets (a local would escape)
	// im2col's masked-load runs (segRows)
	segs  [4]int32
	masks [4]uint16
	pairs []tapsPair             // convTaps' plan of a chunk's pairs of panels
	edge  []float32              // convTaps' tile for a ragged last pair
	tile  [2 * mr * nr]float32   // product of a ragged-edge micro-tile
	col   [8 * colPanels]float32 // gemmCol's column of up to colPanels panels
	// dwDirect's padded row pointers and column blocks
	dwRows   []*float32
	dwBlocks []int64
}

// wsPool keeps idle workspaces. Not a sync.Pool: that drops its items at
// garbage collections, and a workspace regrown after each one (its packing
// buffers reach megabytes) lands on fresh pages, whose first touch costs
// tens of µs a page on a VM: a small model's steady runs paid that every
// few dozen runs (page faults per run in `make bench`).
var wsPool = &workspaces{}

// workspaces is a free list of workspaces, kept up to a bound.
type workspaces struct {
	mu   sync.Mutex
	idle []*workspace
}

// maxIdleWorkspaces bounds the free list: a thread holds at most two at
// once (a convolution's and its GEMM's), and concurrent sessions take more
// only briefly.
var maxIdleWorkspaces = 4 * runtime.GOMAXPROCS(0)

func (p *workspaces) get() *workspace {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return w
	}
	return new(workspace)
}

func (p *workspaces) put(w *workspace) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) < maxIdleWorkspaces {
		p.idle = append(p.idle, w)
	}
}

// shareSpaces are workspaces kept for the threads of a parallel region by
// their number in it (ParallelThreads), so that each thread finds the
// scratch it wrote last time in its own core's cache. From the shared pool
// a workspace goes to whichever thread asks next, and on CPUs whose cores
// share no cache writing a line the other core last held costs a transfer
// (~200 ns on the 2-vCPU Zen 5 VM).
var shareSpaces [maxShares]struct {
	mu sync.Mutex
	ws workspace
}

// shared is a workspace from shareWorkspace, to release when done.
type shared struct {
	ws   *workspace
	slot *sync.Mutex // nil when ws came from wsPool
}

// shareWorkspace returns thread k's workspace of a parallel region, or one
// from wsPool while another region (a concurrent session, or a nested
// region) holds it.
func shareWorkspace(k int) shared {
	s := &shareSpaces[k%maxShares]
	if s.mu.TryLock() {
		return shared{&s.ws, &s.mu}
	}
	return shared{wsPool.get(), nil}
}

func (s shared) release() {
	if s.slot != nil {
		s.slot.Unlock()
		return
	}
	wsPool.put(s.ws)
}

// aligned returns n floats starting on a 64-byte boundary, reusing buf.
func aligned(buf *[]float32, n int) []float32 {
	if cap(*buf) < n+16 {
		*buf = make([]float32, n+16)
	}
	b := (*buf)[:cap(*buf)]
	off := int(uintptr(unsafe.Pointer(&b[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return b[off : off+n]
}

// split returns the block size for cutting n into equal blocks of at most
// limit, rounded up to a multiple of unit.
func split(n, limit, unit int) int {
	parts := (n + limit - 1) / limit
	s := (n + parts - 1) / parts
	return (s + unit - 1) / unit * unit
}

// preAMax is the most floats serial packs A into at once over the whole
// depth (4 MiB, a 1024×1024 A), a bound on a pooled workspace's size: a
// larger A is done in bands of rows, each packing its own copies of B's
// blocks (a variable so that tests can lower it).
var preAMax = 1 << 20

// serial computes the block C[i0:i1, j0:j1] on the calling goroutine, BLIS
// style: jc (nc columns) → pc (kc, pack B) → ic (mc rows, pack A) → jr → ir.
//
// Where B is packed here (not read in place: rows a multiple of 4 KiB
// apart, or transposed), A has more rows than one L2 block and the level's
// 12×32 kernel is one register tile (kernelSet.rowPanels), the rows are
// one block instead: A packed once over the whole depth, B in blocks of half
// of L2, and the micro-kernel walks the block row panel by row panel (ir →
// jr), so that a 12-row A panel stays in L1 while B's block streams from
// L2, rather than each 32-column B panel staying in L1 while an mc×kc A
// block (1 MiB at 1024³) and B's block share L2 and spill to L3
// (1024³ on Zen 5: README, "SGEMM blocking"). The same kernel calls in
// another order: the same bits.
func (g *gemmArgs) serial(i0, i1, j0, j1 int) {
	ws := wsPool.get()
	g.serialWith(ws, i0, i1, j0, j1)
	wsPool.put(ws)
}

// serialWith is serial packing into ws.
func (g *gemmArgs) serialWith(ws *workspace, i0, i1, j0, j1 int) {
	m, n, k := i1-i0, j1-j0, g.k
	inPlace := g.packed == nil && !g.transB && ks.gemm12Rows != nil && k <= inPlaceMaxK && g.ldb%1024 != 0
	rowPanels := ks.rowPanels && g.packed == nil && !inPlace && m > split(m, blockMC, mr)
	if rowPanels && g.preA == nil && m*k > preAMax {
		band := max(2*mr, preAMax/k/(2*mr)*(2*mr))
		for r := i0; r < i1; r += band {
			g.serialWith(ws, r, min(i1, r+band), j0, j1)
		}
		return
	}
	acc0 := true
	switch g.beta {
	case 0:
		acc0 = false
	case 1:
	default:
		for i := i0; i < i1; i++ {
			row := g.c[i*g.ldc+j0 : i*g.ldc+j1]
			ks.scaleShift(row, row, g.beta, 0)
		}
	}
	kc := g.kc
	if kc <= 0 {
		kc = split(k, blockKC, 1)
	}
	mc := split(m, blockMC, mr)
	if rowPanels {
		mc = m
	}
	nc := split(n, blockNC, nr)
	// preA is A packed over the whole depth (from row i0): the caller's, or,
	// for one block of rows with many column blocks, packed here once
	// instead of once per column block.
	preA := g.preA
	if preA != nil {
		preA = preA[i0*k:]
	}
	if g.packed == nil && m <= mc {
		// One block of rows: each packed B block is used once, right after
		// it is written, so keep it to half of L2 (64 Ki floats) rather than
		// let it spill to L3 and be read back from there.
		nc = split(n, max(4*nr, blockB/kc/nr*nr), nr)
		if preA == nil && nc < n {
			preA = aligned(&ws.a, m*k)
			packA(g.transA, g.a, g.lda, i0, 0, m, k, g.alpha, preA)
		}
	}
	var bufA []float32
	if preA == nil {
		bufA = aligned(&ws.a, min(mc, (m+mr-1)/mr*mr)*kc)
	}
	var bufB []float32
	if g.packed == nil {
		bufB = aligned(&ws.b, min(nc, (n+nr-1)/nr*nr)*kc)
	}
	// inPlace: a row-major B is read where it lies, 32 columns at a time,
	// by the in-place kernels; only a ragged edge of fewer columns is
	// packed. Not where rows are a multiple of 4 KiB apart: the steps of a
	// panel would share L1 sets (and a page each), and 1024³ ran at 60–72%
	// of the FMA peak read in place against 66–79% packed (BenchmarkSgemm).
	for jc := 0; jc < n; jc += nc {
		ncb := min(nc, n-jc)
		full := 0 // columns [0, full) of the block read in place
		if inPlace {
			full = ncb / (2 * nr) * (2 * nr)
		}
		for pc := 0; pc < k; pc += kc {
			kcb := min(kc, k-pc)
			var bp []float32
			var bstride int
			if g.packed != nil {
				// j0+jc is a multiple of 16: splits and nc are.
				bp = g.packed[(j0+jc)/nr*nr*k+pc*nr:]
				bstride = nr * k
			} else if full < ncb {
				bp = bufB
				bstride = nr * kcb
				packB(g.transB, g.b, g.ldb, pc, j0+jc+full, kcb, ncb-full, bp)
			}
			acc := acc0 || pc > 0
			for ic := 0; ic < m; ic += mc {
				mcb := min(mc, m-ic)
				// Panel ir of the A block starts at ap[ir·astride + ak·mrr]:
				// packed here, panels of kcb steps; pre-packed, of all k.
				ap, astride, ak := bufA, kcb, 0
				if preA != nil {
					ap, astride, ak = preA[ic*k:], k, pc
				} else {
					packA(g.transA, g.a, g.lda, i0+ic, pc, mcb, kcb, g.alpha, bufA)
				}
				coff := (i0+ic)*g.ldc + j0 + jc
				if full > 0 {
					g.macroRows(ap, astride, ak, g.b[pc*g.ldb+j0+jc:], mcb, full, kcb, coff, acc)
				}
				if full < ncb {
					g.macro(ws, ap, astride, ak, bp, bstride, mcb, ncb-full, kcb, coff+full, acc, rowPanels)
				}
			}
		}
	}
}

// macro runs the micro-kernel over an mcb×ncb block of C at offset coff;
// A panel ir (of mrr rows) is at ap[ir·astride + ak·mrr]. With byRows the
// 12-row panels by pairs of B panels go row panel by row panel (each A
// panel reused from L1 across the block's columns), the rest as without.
func (g *gemmArgs) macro(ws *workspace, ap []float32, astride, ak int, bp []float32, bstride, mcb, ncb, kcb, coff int, acc, byRows bool) {
	ldc := g.ldc
	rows12 := 0 // rows [0, rows12) of the pairs of panels are done
	if byRows {
		for ; rows12 < mcb && tileRows(mcb, rows12) == 2*mr; rows12 += 2 * mr {
			apan, crow := &ap[rows12*astride+ak*mr], coff+rows12*ldc
			for jr := 0; jr+2*nr <= ncb; jr += 2 * nr {
				ks.gemm12(kcb, apan, mr*astride, &bp[jr/nr*bstride], bstride, &g.c[crow+jr], ldc, acc)
			}
		}
	}
	for jr := 0; jr < ncb; jr += nr {
		nrr := min(nr, ncb-jr)
		bpan := &bp[jr/nr*bstride]
		if jr+2*nr <= ncb {
			// Two whole panels at once: on AVX-512 one zmm kernel, the
			// same FMA chains (and bits) as two 16-column calls.
			for ir, rows := rows12, 0; ir < mcb; ir += rows {
				rows = tileRows(mcb, ir)
				cp := &g.c[coff+ir*ldc+jr]
				switch {
				case rows == 2*mr:
					ks.gemm12(kcb, &ap[ir*astride+ak*mr], mr*astride, bpan, bstride, cp, ldc, acc)
				case rows > mr:
					ks.gemmTail[rows-mr](kcb, &ap[ir*astride+ak*mr], tailStride(astride, ak, rows-mr), bpan, bstride, cp, ldc, acc)
				default:
					ks.gemm2[rows](kcb, &ap[ir*astride+ak*rows], bpan, bstride, cp, ldc, acc)
				}
			}
			jr += nr
			continue
		}
		if nrr <= colMax {
			g.column(ws, ap, astride, ak, bp[jr/nr*bstride:], bpan, mcb, nrr, kcb, coff+jr, acc)
			continue
		}
		ir := 0
		for ; ir+2*mr <= mcb; ir += 2 * mr {
			// Twelve rows at once (one zmm kernel on AVX-512).
			apan, cp := &ap[ir*astride+ak*mr], coff+ir*ldc+jr
			if nrr == nr {
				ks.gemm12x16(kcb, apan, mr*astride, bpan, &g.c[cp], ldc, acc)
				continue
			}
			ks.gemm12x16(kcb, apan, mr*astride, bpan, &ws.tile[0], nr, false)
			addTile(g.c[cp:], ldc, ws.tile[:], 2*mr, nrr, acc)
		}
		for ; ir < mcb; ir += mr {
			mrr := min(mr, mcb-ir)
			apan := &ap[ir*astride+ak*mrr]
			cp := coff + ir*ldc + jr
			if nrr == nr {
				ks.gemm[mrr](kcb, apan, bpan, &g.c[cp], ldc, acc)
				continue
			}
			ks.gemm[mrr](kcb, apan, bpan, &ws.tile[0], nr, false)
			addTile(g.c[cp:], ldc, ws.tile[:], mrr, nrr, acc)
		}
	}
}

// tileRows is the height of the row tile at row ir (a multiple of 6) of a
// block of m rows: 12 (two 6-row panels) while they last, but a block
// whose last panel has 2 or 4 rows ends on that panel and a 6-row one in
// one tile (gemmTail: 8 or 10 rows), with one 6-row tile first if the
// 6-row panels before them are odd in number; else 6 and the rest. A
// 2-row kernel ran at 40% of the FMA peak, a 4-row one at 72%, the 8- and
// 10-row ones as the 12-row one.
func tileRows(m, ir int) int {
	left := m - ir
	full, r := left/mr, left%mr
	if (r == 2 || r == 4) && full > 0 && ks.gemmTail[r] != nil {
		switch {
		case full == 1:
			return mr + r
		case (full-1)%2 == 1:
			return mr
		}
		return 2 * mr
	}
	if left >= 2*mr {
		return 2 * mr
	}
	return min(mr, left)
}

// tailStride is the gemmTail kernels' astride: the floats from a 6-row A
// panel at step ak to the r-row panel after it (panels of astride steps,
// a panel of n rows holding n floats a step).
func tailStride(astride, ak, r int) int { return mr*astride - (mr-r)*ak }

// rowsFirstMaxK is the deepest product (or convolution, K = C·KH·KW) that
// macroRows and convTaps walk row panel by row panel (ir → jr) rather than
// column pair by column pair (jr → ir). At small depths writing C is a
// large part of the work, and the column order writes every row of the
// block at once, 128 bytes a row between long gaps: more streams (96 rows
// at MobileNet's 16→96 1×1) than the hardware prefetcher follows, each
// line a miss when the output is cold, as it is in a model. Row panel by
// row panel, 12 rows are written front to back while the B block (at most
// half of L2) is read again from L2 for each. In the model (onnxslim run
// --profile-json, interleaved pairs, AMD EPYC Zen 5, AVX-512, one thread):
// MobileNet v2's 16→96 1×1 at 112² 0.646 → 0.433 ms, fp_detect's 16→32 at
// 120×160 0.351 → 0.205 ms, ResNet-18's 7×7 stem (K 147) 1.50 → 1.35 ms by
// the medians; its 3×3 layers (K ≥ 576) kept the column order, as fast or
// faster there (README, "Row panels first at small depths").
const rowsFirstMaxK = 256

// macroRows is macro over ncb (a multiple of 32) columns of a row-major B
// read in place: b is op(B) from the block's first step and column, k steps
// ldb floats apart. The same kernels' FMA chains as macro, so the same bits.
func (g *gemmArgs) macroRows(ap []float32, astride, ak int, b []float32, mcb, ncb, kcb, coff int, acc bool) {
	ldc, ldb := g.ldc, g.ldb
	_ = b[(kcb-1)*ldb+ncb-1] // the kernels read up to here, unchecked
	tile := func(ir, rows, jr int) {
		cp := &g.c[coff+ir*ldc+jr]
		switch {
		case rows == 2*mr:
			ks.gemm12Rows(kcb, &ap[ir*astride+ak*mr], mr*astride, &b[jr], ldb, cp, ldc, acc)
		case rows > mr:
			ks.gemmTailRows[rows-mr](kcb, &ap[ir*astride+ak*mr], tailStride(astride, ak, rows-mr), &b[jr], ldb, cp, ldc, acc)
		default:
			ks.gemmRows[rows](kcb, &ap[ir*astride+ak*rows], &b[jr], ldb, cp, ldc, acc)
		}
	}
	if g.k <= rowsFirstMaxK {
		for ir, rows := 0, 0; ir < mcb; ir += rows {
			rows = tileRows(mcb, ir)
			for jr := 0; jr < ncb; jr += 2 * nr {
				tile(ir, rows, jr)
			}
		}
		return
	}
	for jr := 0; jr < ncb; jr += 2 * nr {
		for ir, rows := 0, 0; ir < mcb; ir += rows {
			rows = tileRows(mcb, ir)
			tile(ir, rows, jr)
		}
	}
}

// colMax is the widest ragged edge of a block that goes through the
// one-column kernel, column by column: a whole 16-column panel costs about
// as much as three columns of it.
const colMax = 2

// colPanels is the most 6-row panels one gemmCol call takes (its
// independent FMA chains).
const colPanels = 8

// column computes the nrr (≤ colMax) columns of a ragged last panel (bcol:
// the packed panel, bpan its first float) for the mcb rows of the A block,
// C at offset coff: full 6-row panels through gemmCol, the rows past them
// as a micro-tile. Every element is the same FMA chain as in the 16-column
// kernels.
func (g *gemmArgs) column(ws *workspace, ap []float32, astride, ak int, bcol []float32, bpan *float32, mcb, nrr, kcb, coff int, acc bool) {
	ldc := g.ldc
	full := mcb / mr * mr
	for ir := 0; ir < full; ir += colPanels * mr {
		np := min(colPanels, (full-ir)/mr)
		for jj := 0; jj < nrr; jj++ {
			ks.gemmCol[np](kcb, &ap[ir*astride+ak*mr], mr*astride, &bcol[jj], &ws.col[0])
			for p := 0; p < np; p++ {
				for i := 0; i < mr; i++ {
					c := &g.c[coff+(ir+p*mr+i)*ldc+jj]
					if v := ws.col[8*p+i]; acc {
						*c += v
					} else {
						*c = v
					}
				}
			}
		}
	}
	if mrr := mcb - full; mrr > 0 {
		ks.gemm[mrr](kcb, &ap[full*astride+ak*mrr], bpan, &ws.tile[0], nr, false)
		addTile(g.c[coff+full*ldc:], ldc, ws.tile[:], mrr, nrr, acc)
	}
}

// addTile adds (or, without acc, copies) the first cols columns of rows
// rows of a micro-tile (rows nr floats apart) into c (rows ldc apart): the
// ragged right edge of a block.
func addTile(c []float32, ldc int, tile []float32, rows, cols int, acc bool) {
	for i := 0; i < rows; i++ {
		row := c[i*ldc : i*ldc+cols]
		t := tile[i*nr : i*nr+cols]
		if acc {
			for j := range row {
				row[j] += t[j]
			}
		} else {
			copy(row, t)
		}
	}
}

// packA writes alpha·op(A)[r0:r0+mcb, p0:p0+kcb] as panels of mr rows, each
// kcb steps of mr floats; the last panel has mcb%mr rows per step.
func packA(trans bool, a []float32, lda, r0, p0, mcb, kcb int, alpha float32, dst []float32) {
	for ir := 0; ir < mcb; ir += mr {
		mrr := min(mr, mcb-ir)
		d := dst[ir*kcb : ir*kcb+mrr*kcb]
		if !trans && mrr == mr {
			rows := a[(r0+ir)*lda+p0:]
			done := 0
			if alpha == 1 {
				// Whole 16-column blocks through the packing kernel.
				blocks := kcb / 16
				if blocks > 0 {
					_, _ = rows[5*lda+16*blocks-1], d[16*mr*blocks-1] // the kernel reads and writes these, unchecked
				}
				ks.packA6(d, rows, lda, blocks)
				done = 16 * blocks
			}
			packA6Rows(d[done*mr:], rows[done:], lda, kcb-done, alpha)
			continue
		}
		if !trans {
			for i := 0; i < mrr; i++ {
				src := a[(r0+ir+i)*lda+p0 : (r0+ir+i)*lda+p0+kcb]
				for p, v := range src {
					d[p*mrr+i] = alpha * v
				}
			}
			continue
		}
		for p := 0; p < kcb; p++ {
			src := a[(p0+p)*lda+r0+ir : (p0+p)*lda+r0+ir+mrr]
			dd := d[p*mrr : p*mrr+mrr]
			for i, v := range src {
				dd[i] = alpha * v
			}
		}
	}
}

// packGroup is how many 16-column panels packB fills per pass over B's rows:
// row by row over all panels, each row wrote one line per panel, all lines
// a power-of-two stride apart (16 KiB at kc = 256), so they shared L1 and
// L2 sets and the copy ran at 9 GB/s; eight panels (512 bytes a row, eight
// write streams) ran at 36-39 GB/s (BenchmarkPackB).
const packGroup = 8

// packAhead is how many rows of B ahead packB prefetches: the rows are
// ldb floats apart (4 KiB at 1024³), which the hardware prefetcher does not
// follow; four rows ahead halved packRow's share of a 1024³ product (7% to
// 4% of the micro-kernel's time by pprof of BenchmarkSgemm/1024).
const packAhead = 4

// packB writes op(B)[p0:p0+kcb, c0:c0+ncb] as panels of 16 columns, each
// kcb runs of 16 floats, zero-padding the last panel.
func packB(trans bool, b []float32, ldb, p0, c0, kcb, ncb int, dst []float32) {
	full := ncb / nr // panels with 16 real columns
	if !trans {
		// Row by row: sequential reads, one cache line written per panel.
		for g := 0; g < full; g += packGroup {
			gn := min(packGroup, full-g)
			d := dst[g*nr*kcb:]
			for p := 0; p < kcb; p++ {
				row := b[(p0+p)*ldb+c0+g*nr:]
				ks.packRow(d[p*nr:], row[:gn*nr], gn, nr*kcb, packAhead*4*ldb)
			}
		}
		if rem := ncb - full*nr; rem > 0 {
			d := dst[full*nr*kcb : full*nr*kcb+nr*kcb]
			for p := 0; p < kcb; p++ {
				dd := d[p*nr : p*nr+nr]
				copy(dd[:rem], b[(p0+p)*ldb+c0+full*nr:])
				clear(dd[rem:])
			}
		}
		return
	}
	for jr := 0; jr < ncb; jr += nr {
		nrr := min(nr, ncb-jr)
		d := dst[jr*kcb : jr*kcb+nr*kcb]
		if nrr < nr {
			clear(d)
		}
		for j := 0; j < nrr; j++ {
			src := b[(c0+jr+j)*ldb+p0 : (c0+jr+j)*ldb+p0+kcb]
			for p, v := range src {
				d[p*nr+j] = v
			}
		}
	}
}

// trivialGemm checks Sgemm's operands against their shapes (panicking as
// the BLAS would) and finishes the product when nothing is to multiply:
// no rows or columns, k = 0 or alpha = 0 (C scaled by beta).
func trivialGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	if m <= 0 || n <= 0 {
		return true
	}
	checkMat("C", false, m, n, c, ldc)
	if k <= 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return true
	}
	checkMat("A", transA, m, k, a, lda)
	checkMat("B", transB, k, n, b, ldb)
	return false
}
