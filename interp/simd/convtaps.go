package simd

// Implicit GEMM: where every 16-column panel of a convolution's chunk lies
// in one output row, a panel's step for tap t is 16 consecutive floats of
// the phase planes (colLayout), taps[t] bytes past the panel's first
// output. The taps kernels read them there instead of from a packed im2col
// copy: at few filters (M = 16) the copy cost a quarter of the
// convolution, since each copied float fed only M multiply-adds.

// implicitGEMM switches the taps path on (a variable so that tests and
// benchmarks can compare it with the im2col copy).
var implicitGEMM = true

// tapsChunk reports whether ConvPacked can multiply columns [q0, q1)
// through the taps kernels: the level has them, the tap offsets fit their
// 32-bit table, and the chunk is whole pairs of panels, each panel in one
// output row.
func tapsChunk(l *colLayout, taps []int32, q0, q1 int) bool {
	if !implicitGEMM || ks.gemm12Taps == nil || taps == nil || (q1-q0)%(2*nr) != 0 {
		return false
	}
	ow := l.p.OutW
	if ow%nr == 0 {
		return q0%nr == 0
	}
	for q := q0; q < q1; q += nr {
		if q%ow+nr > ow {
			return false
		}
	}
	return true
}

// convTaps computes y[:, q0:q1] (rows N floats apart) = filters · im2col
// for a chunk that tapsChunk accepts, in K blocks of kc summed as
// SgemmPackedA sums them (each block from zero, then added to y), with the
// same kernels' FMA chains: the bits of the packed path.
func convTaps(y []float32, pa *PackedA, planes []float32, l *colLayout, taps []int32, kc, q0, q1 int) {
	M, K, N := pa.m, pa.k, l.p.N()
	_ = y[(M-1)*N+q1-1]
	for pc := 0; pc < K; pc += kc {
		kcb := min(kc, K-pc)
		acc := pc > 0
		tp := &taps[pc]
		for jr := q0; jr < q1; jr += 2 * nr {
			p0 := l.pos(jr)
			b, bstride := &planes[p0], l.pos(jr+nr)-p0
			ir := 0
			for ; ir+2*mr <= M; ir += 2 * mr {
				ks.gemm12Taps(kcb, &pa.data[ir*K+pc*mr], mr*K, b, bstride, tp, &y[ir*N+jr], N, acc)
			}
			for ; ir < M; ir += mr {
				mrr := min(mr, M-ir)
				ks.gemmTaps[mrr](kcb, &pa.data[ir*K+pc*mrr], b, bstride, tp, &y[ir*N+jr], N, acc)
			}
		}
	}
}
