package simd

// SgemmRowsTiles is SgemmRows (C = A·B, no transposes, alpha 1, beta 0)
// for a B that is never whole in memory: tile(dst, p0, p1, j0, j1) writes
// B's rows p0…p1−1, columns j0…j1−1 into dst (row stride j1−j0), at most
// eight rows by gemvPanel columns at a time, just before they are used. A
// large model's int4 weight is so dequantized a tile at a time into a
// buffer that stays in cache, instead of into a float32 copy of it that
// the product then reads back from memory. The tiles are the rows and
// column panels SgemmRows goes through, so each row of C is bit for bit
// what SgemmRows gives with B materialized. tile may run on several
// goroutines at once (threads), each with its own dst.
func SgemmRowsTiles(m, n, k int, a []float32, lda int, tile func(dst []float32, p0, p1, j0, j1 int), c []float32, ldc int, threads int) {
	if m <= 0 || n <= 0 {
		return
	}
	checkMat("C", false, m, n, c, ldc)
	if k <= 0 {
		scaleC(m, n, 0, c, ldc)
		return
	}
	checkMat("A", false, m, k, a, lda)
	gemvColumns(m, n, k, threads, func(j0, j1 int) {
		gemvTiles(m, j1-j0, k, a, lda, tile, c[j0:], ldc, j0)
	})
}

// gemvTiles is gemv's untransposed path (alpha 1, beta 0) over columns
// off… of B, which tile supplies. It repeats gemv's loop rather than share
// it through a function giving B's rows: that cost gemv 4–7% on 4 and 16
// rows (BenchmarkSgemmRows).
func gemvTiles(m, n, k int, a []float32, lda int, tile func(dst []float32, p0, p1, j0, j1 int), c []float32, ldc int, off int) {
	scaleC(m, n, 0, c, ldc)
	buf := make([]float32, 8*min(n, gemvPanel))
	for j0 := 0; j0 < n; j0 += gemvPanel {
		j1 := min(n, j0+gemvPanel)
		w := j1 - j0
		p := 0
		for ; gemvBy8 && p+8 <= k; p += 8 {
			tile(buf[:8*w], p, p+8, off+j0, off+j1)
			var s [8]float32
			for i := 0; i < m; i++ {
				for r := range s {
					s[r] = a[i*lda+p+r]
				}
				ks.axpy8(c[i*ldc+j0:i*ldc+j1], &buf[0], w, &s)
			}
		}
		for ; p < k; p++ {
			tile(buf[:w], p, p+1, off+j0, off+j1)
			for i := 0; i < m; i++ {
				ks.axpy(c[i*ldc+j0:i*ldc+j1], buf[:w], a[i*lda+p])
			}
		}
	}
}
