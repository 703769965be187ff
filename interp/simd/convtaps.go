package simd

// Implicit GEMM: a panel's step for tap t is 16 floats of the phase planes
// (colLayout), taps[t] bytes past where the panel's outputs lie, read
// there by the taps kernels instead of from a packed im2col copy: at few
// filters (M = 16) the copy cost a quarter of the convolution, since each
// copied float fed only M multiply-adds. Where a panel lies in one output
// row its 16 floats are consecutive (gemm…TapsAVX512); where it spans two
// rows (resnet's 56, 28 and 14 wide layers) they are two runs, read with
// one zeroing and one merging masked load (gemm…SegsAVX512). Panels over
// three or more rows (outputs under 15 wide) keep the im2col copy.

// implicitGEMM switches the taps path on (a variable so that tests and
// benchmarks can compare it with the im2col copy).
var implicitGEMM = true

// tapsChunk reports whether ConvPacked can multiply columns [q0, q1)
// through the taps kernels: the level has them, the tap offsets fit their
// 32-bit table, and the chunk is whole pairs of panels, each panel over
// at most two output rows.
func tapsChunk(l *colLayout, taps []int32, q0, q1 int) bool {
	if !implicitGEMM || ks.gemm12Taps == nil || ks.gemm12Segs == nil || taps == nil || q1 <= q0 || (q1-q0)%(2*nr) != 0 {
		return false
	}
	ow := l.p.OutW
	if ow%nr == 0 {
		return q0%nr == 0
	}
	if ow >= nr-1 {
		return true // 16 outputs from any column reach at most the next row
	}
	for q := q0; q < q1; q += nr {
		if q%ow+nr > 2*ow {
			return false
		}
	}
	return true
}

// tapsPair is how the taps kernels read a pair of panels (32 columns):
// plain, each panel in one output row, 16 floats from planes[off] and
// planes[off+bstride]; else as runs, byte offsets segs from the planes'
// start with masks of the lanes they give (segs[2h:2h+2] for panel h).
type tapsPair struct {
	plain        bool
	off, bstride int
	segs         [4]int32
	masks        [4]uint16
}

// planTaps returns the pairs of panels of columns [q0, q1) (a chunk that
// tapsChunk accepts), in ws.
func planTaps(ws *workspace, l *colLayout, q0, q1 int) []tapsPair {
	ow := l.p.OutW
	pairs := ws.pairs[:0]
	for jr := q0; jr < q1; jr += 2 * nr {
		pr := tapsPair{plain: true, off: l.pos(jr), bstride: l.pos(jr+nr) - l.pos(jr)}
		for h := range 2 {
			q := jr + h*nr
			r := 2 * h
			for t := 0; t < nr; r++ {
				run := min(nr-t, ow-(q+t)%ow)
				// Offset so that lane t reads at segs + 4t.
				pr.segs[r] = int32(4 * (l.pos(q+t) - t))
				pr.masks[r] = uint16((1<<run - 1) << t)
				t += run
			}
			if r == 2*h+1 {
				pr.segs[r] = pr.segs[r-1] // an empty second run
			} else {
				pr.plain = false
			}
		}
		pairs = append(pairs, pr)
	}
	ws.pairs = pairs
	return pairs
}

// convChunk computes y[:, q0:q1] (rows N floats apart): its whole pairs of
// panels through the taps kernels where tapsChunk accepts them, the rest
// (all of it otherwise) through an im2col copy in col.
func convChunk(y []float32, pa *PackedA, planes []float32, l *colLayout, taps []int32, col []float32, ws *workspace, kc, q0, q1 int) {
	qt := q0 + (q1-q0)/(2*nr)*(2*nr)
	if tapsChunk(l, taps, q0, qt) {
		convTaps(y, pa, planes, l, taps, planTaps(ws, l, q0, qt), kc, q0, qt)
	} else {
		qt = q0
	}
	if qt < q1 {
		im2colPanels(col, planes, l, taps, ws, qt, q1)
		SgemmPackedA(pa, false, q1-qt, nil, 0, col, 0, y[qt:], l.p.N(), kc, 1)
	}
}

// convTaps computes y[:, q0:q1] (rows N floats apart) = filters · im2col
// for a chunk that tapsChunk accepts, planned by planTaps, in K blocks of
// kc summed as SgemmPackedA sums them (each block from zero, then added to
// y), with the same kernels' FMA chains: the bits of the packed path.
func convTaps(y []float32, pa *PackedA, planes []float32, l *colLayout, taps []int32, pairs []tapsPair, kc, q0, q1 int) {
	M, K, N := pa.m, pa.k, l.p.N()
	_ = y[(M-1)*N+q1-1]
	_ = pairs[(q1-q0)/(2*nr)-1]
	for pc := 0; pc < K; pc += kc {
		kcb := min(kc, K-pc)
		acc := pc > 0
		tp := &taps[pc]
		for i, jr := 0, q0; jr < q1; i, jr = i+1, jr+2*nr {
			pr := &pairs[i]
			if pr.plain {
				b := &planes[pr.off]
				ir := 0
				for ; ir+2*mr <= M; ir += 2 * mr {
					ks.gemm12Taps(kcb, &pa.data[ir*K+pc*mr], mr*K, b, pr.bstride, tp, &y[ir*N+jr], N, acc)
				}
				for ; ir < M; ir += mr {
					mrr := min(mr, M-ir)
					ks.gemmTaps[mrr](kcb, &pa.data[ir*K+pc*mrr], b, pr.bstride, tp, &y[ir*N+jr], N, acc)
				}
				continue
			}
			b := &planes[0]
			ir := 0
			for ; ir+2*mr <= M; ir += 2 * mr {
				ks.gemm12Segs(kcb, &pa.data[ir*K+pc*mr], mr*K, b, &pr.segs, &pr.masks, tp, &y[ir*N+jr], N, acc)
			}
			for ; ir < M; ir += mr {
				mrr := min(mr, M-ir)
				ks.gemmSegs[mrr](kcb, &pa.data[ir*K+pc*mrr], b, &pr.segs, &pr.masks, tp, &y[ir*N+jr], N, acc)
			}
		}
	}
}
