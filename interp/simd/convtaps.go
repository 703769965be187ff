package simd

// Implicit GEMM: a panel's step for tap t is 16 floats of the phase planes
// (colLayout), taps[t] bytes past where the panel's outputs lie, read
// there by the taps kernels instead of from a packed im2col copy: at few
// filters (M = 16) the copy cost a quarter of the convolution, since each
// copied float fed only M multiply-adds. Where a panel lies in one output
// row its 16 floats are consecutive (gemm…TapsAVX512); where it spans two
// or three rows (resnet's 56, 28, 14 and 7 wide layers) they are as many
// runs, read with one zeroing and one or two merging masked loads
// (gemm…Segs{,3}AVX512). The last, ragged pair of panels masks off the
// columns past N and goes through a tile. Panels over four or more rows
// (outputs under 7 wide) keep the im2col copy.

// maxRuns is the most output rows a panel of the taps path spans.
const maxRuns = 3

// implicitGEMM switches the taps path on (a variable so that tests and
// benchmarks can compare it with the im2col copy).
var implicitGEMM = true

// tapsChunk reports whether ConvPacked can multiply columns [q0, q1) (q0
// a multiple of 32) of a convolution with m filters through the taps
// kernels: the level has them, the tap offsets fit their 32-bit table, and
// each panel's columns before q1 span at most two output rows, or three
// below runs3MaxM filters.
func tapsChunk(l *colLayout, taps []int32, m, q0, q1 int) bool {
	if !implicitGEMM || ks.gemm12Taps == nil || ks.gemm12Segs[maxRuns] == nil || taps == nil || q1 <= q0 || q0%(2*nr) != 0 {
		return false
	}
	runs := 2
	if m < runs3MaxM {
		runs = maxRuns
	}
	ow := l.p.OutW
	if (runs-1)*ow >= nr-1 {
		return true // 16 outputs from any column reach at most runs rows
	}
	for q := q0; q < q1; q += nr {
		if last := min(q1, q+nr) - 1; last/ow-q/ow >= runs {
			return false
		}
	}
	return true
}

// runs3MaxM bounds the filters of a convolution whose panels over three
// output rows take the taps path: each step's third masked load costs the
// kernel a fixed share, the im2col copy it saves a share that falls with
// the filters. BenchmarkConvPacked, AVX-512, one thread: 7 and 11 wide at
// 32 filters and 10 wide at 64 5–10% faster through the taps, resnet's
// 7×7 layers (512 filters) 3–5% slower.
const runs3MaxM = 256

// tapsPair is how the taps kernels read a pair of panels (32 columns):
// plain (runs 0), each panel in one output row, 16 floats from
// planes[off] and planes[off+bstride]; else as up to runs runs a panel,
// byte offsets segs from the planes' start with masks of the lanes they
// give (segs[runs·h : runs·h+runs] for panel h; columns past the chunk
// masked off).
type tapsPair struct {
	runs         int
	off, bstride int
	segs         [2 * maxRuns]int32
	masks        [2 * maxRuns]uint16
}

// planTaps returns the pairs of panels of columns [q0, q1) (a chunk that
// tapsChunk accepts), in ws. It walks the output rows and columns instead
// of dividing for each (at K = 27, 8% of a convolution went here).
func planTaps(ws *workspace, l *colLayout, q0, q1 int) []tapsPair {
	ow, rowStep := l.p.OutW, l.p.StrideH*l.qw
	oh, oc := q0/ow, q0%ow // output row and column of the next panel
	pairs := ws.pairs[:0]
	for jr := q0; jr < q1; jr += 2 * nr {
		var segs [2][maxRuns]int32
		var masks [2][maxRuns]uint16
		var runs, start [2]int
		plain := jr+2*nr <= q1
		for h := range 2 {
			n := min(nr, q1-jr-h*nr)
			r, c := oh, oc
			start[h] = r*rowStep + c // the panel's first output in the planes
			for t := 0; t < n; runs[h]++ {
				run := min(n-t, ow-c)
				// Offset so that lane t reads at segs + 4t.
				segs[h][runs[h]] = int32(4 * (r*rowStep + c - t))
				masks[h][runs[h]] = uint16((1<<run - 1) << t)
				t, c = t+run, c+run
				if c == ow {
					r, c = r+1, 0
				}
			}
			plain = plain && runs[h] == 1
			for oc += nr; oc >= ow; oc -= ow {
				oh++
			}
		}
		pr := tapsPair{off: start[0], bstride: start[1] - start[0]}
		if !plain {
			pr.runs = max(2, runs[0], runs[1])
			for h := range 2 {
				for r := 0; r < pr.runs; r++ {
					// Runs past a panel's last read nothing.
					pr.segs[pr.runs*h+r] = segs[h][min(r, max(0, runs[h]-1))]
					pr.masks[pr.runs*h+r] = masks[h][r]
				}
			}
		}
		pairs = append(pairs, pr)
	}
	ws.pairs = pairs
	return pairs
}

// convChunk computes rows [r0, r1) (whole row tiles, tileRows) of
// y[:, q0:q1] (rows N floats apart, q0 a multiple of 32) through the taps
// kernels where tapsChunk accepts the chunk, else through an im2col copy in
// ws.a.
func convChunk(y []float32, pa *PackedA, planes []float32, l *colLayout, taps []int32, ws *workspace, kc, q0, q1, r0, r1 int) {
	qt := q1
	if r := (q1 - q0) % (2 * nr); r < tapsRaggedMin {
		qt -= r
	}
	if qt > q0 && tapsChunk(l, taps, pa.m, q0, qt) {
		convTaps(y, pa, planes, l, taps, planTaps(ws, l, q0, qt), ws, kc, q0, qt, r0, r1)
	} else {
		qt = q0
	}
	if qt < q1 {
		col := aligned(&ws.a, PackedBSize(pa.k, q1-qt))
		im2colPanels(col, planes, l, taps, ws, qt, q1)
		g := gemmArgs{m: pa.m, n: q1 - qt, k: pa.k, alpha: 1, preA: pa.data, packed: col, c: y[qt:], ldc: l.p.N(), kc: kc}
		g.serial(r0, r1, 0, q1-qt)
	}
}

// tapsRaggedMin is the fewest columns of a ragged last pair that the taps
// kernels compute (as 32, through a tile); fewer go through the im2col
// copy and the 16-column and column kernels. At 17 (N = 49: resnet's
// 7×7 layers) the 15 wasted columns made the layer 13% slower
// (BenchmarkConvPacked); 28 wastes at most four. A variable for tests.
var tapsRaggedMin = 28

// convTaps computes y[r0:r1, q0:q1] (rows N floats apart; r0 and r1 bound
// whole row tiles, tileRows) = filters · im2col for a chunk that tapsChunk
// accepts, planned by planTaps, in K blocks of
// kc summed as SgemmPackedA sums them (each block from zero, then added to
// y), with the same kernels' FMA chains: the bits of the packed path. A
// ragged last pair is computed into ws.edge (M×32) and copied to y.
func convTaps(y []float32, pa *PackedA, planes []float32, l *colLayout, taps []int32, pairs []tapsPair, ws *workspace, kc, q0, q1, r0, r1 int) {
	M, K, N := pa.m, pa.k, l.p.N()
	_ = y[:(M-1)*N+q1] // a bounds check, no read: other threads write y
	np := (q1 - q0 + 2*nr - 1) / (2 * nr)
	_ = pairs[np-1]
	var edge []float32
	if (q1-q0)%(2*nr) != 0 {
		edge = aligned(&ws.edge, M*2*nr)
	}
	t := tapsTiles{pa: pa, planes: planes, pairs: pairs, y: y, edge: edge, n: N, q0: q0, q1: q1}
	for pc := 0; pc < K; pc += kc {
		t.pc, t.kcb, t.tp = pc, min(kc, K-pc), &taps[pc]
		if K <= rowsFirstMaxK {
			// Row panel by row panel at small depths, as macroRows.
			for ir := r0; ir < r1; ir += t.rows(ir) {
				for i := 0; i < np; i++ {
					t.tile(i, ir)
				}
			}
			continue
		}
		for i := 0; i < np; i++ {
			for ir := r0; ir < r1; ir += t.rows(ir) {
				t.tile(i, ir)
			}
		}
	}
	if edge != nil {
		jr := q0 + (np-1)*2*nr
		for i := r0; i < r1; i++ {
			copy(y[i*N+jr:i*N+q1], edge[i*2*nr:])
		}
	}
}

// tapsTiles is convTaps' state over one K block: tile computes one row
// panel of one pair of panels.
type tapsTiles struct {
	pa        *PackedA
	planes, y []float32
	edge      []float32 // the ragged last pair's tile, or nil
	pairs     []tapsPair
	tp        *int32 // the block's first tap
	n, q0, q1 int
	pc, kcb   int
}

// rows is the height of the row tile at row ir (tileRows).
func (t *tapsTiles) rows(ir int) int { return tileRows(t.pa.m, ir) }

// tile runs the kernel for rows [ir, ir+rows(ir)) of pair i.
func (t *tapsTiles) tile(i, ir int) {
	K, pr, jr := t.pa.k, &t.pairs[i], t.q0+i*2*nr
	c, ldc, c0 := t.y, t.n, jr
	if jr+2*nr > t.q1 {
		c, ldc, c0 = t.edge, 2*nr, 0
	}
	acc, pc, kcb := t.pc > 0, t.pc, t.kcb
	rows := t.rows(ir)
	if pr.runs == 0 {
		b := &t.planes[pr.off]
		switch rows {
		case 2 * mr:
			ks.gemm12Taps(kcb, &t.pa.data[ir*K+pc*mr], mr*K, b, pr.bstride, t.tp, &c[ir*ldc+c0], ldc, acc)
		case mr + 2, mr + 4:
			ks.gemmTailTaps[rows-mr](kcb, &t.pa.data[ir*K+pc*mr], tailStride(K, pc, rows-mr), b, pr.bstride, t.tp, &c[ir*ldc+c0], ldc, acc)
		default:
			ks.gemmTaps[rows](kcb, &t.pa.data[ir*K+pc*rows], b, pr.bstride, t.tp, &c[ir*ldc+c0], ldc, acc)
		}
		return
	}
	b := &t.planes[0]
	switch rows {
	case 2 * mr:
		ks.gemm12Segs[pr.runs](kcb, &t.pa.data[ir*K+pc*mr], mr*K, b, &pr.segs, &pr.masks, t.tp, &c[ir*ldc+c0], ldc, acc)
	case mr + 2, mr + 4:
		ks.gemmTailSegs[rows-mr][pr.runs](kcb, &t.pa.data[ir*K+pc*mr], tailStride(K, pc, rows-mr), b, &pr.segs, &pr.masks, t.tp, &c[ir*ldc+c0], ldc, acc)
	default:
		ks.gemmSegs[pr.runs][rows](kcb, &t.pa.data[ir*K+pc*rows], b, &pr.segs, &pr.masks, t.tp, &c[ir*ldc+c0], ldc, acc)
	}
}
