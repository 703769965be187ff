package interp

import "github.com/onnxslim/onnxslim/interp/simd"

// sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, op(X) being X or Xᵀ; op(A) is m×k, op(B) is k×n. lda, ldb and ldc
// are the row strides of A, B and C as stored. beta = 0 overwrites C (NaNs in
// it vanish, as BLAS does). It runs simd.Sgemm (AVX2/FMA micro-kernel, or its
// pure-Go twin) on up to threads goroutines for large problems.
func sgemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	simd.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
}

// dgemm is the plain float64 counterpart of sgemm (no blocking: float64
// models are rare and small).
func dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	row := make([]float64, n)
	for i := 0; i < m; i++ {
		clear(row)
		for p := 0; p < k; p++ {
			av := a[i*lda+p]
			if transA {
				av = a[p*lda+i]
			}
			if !transB {
				br := b[p*ldb : p*ldb+n]
				for j, bv := range br {
					row[j] += av * bv
				}
			} else {
				for j := range row {
					row[j] += av * b[j*ldb+p]
				}
			}
		}
		cr := c[i*ldc : i*ldc+n]
		for j := range cr {
			if beta == 0 {
				cr[j] = alpha * row[j]
			} else {
				cr[j] = alpha*row[j] + beta*cr[j]
			}
		}
	}
}
