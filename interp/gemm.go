package interp

import "sync"

// Blocking of the float32 GEMM: B is packed in kc×nc blocks, A in mc×kc
// blocks, both into panels of gemmR rows/columns interleaved along k so that
// the micro-kernel reads them sequentially.
const (
	gemmR  = 4
	gemmKC = 256
	gemmMC = 64
	gemmNC = 1024

	// Problems below this many multiply-adds run on one goroutine.
	gemmParallelWork = 1 << 18
)

// sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, op(X) being X or Xᵀ; op(A) is m×k, op(B) is k×n. lda, ldb and ldc
// are the row strides of A, B and C as stored. It uses up to threads
// goroutines for large problems. This is the one entry point a SIMD kernel
// will replace.
func sgemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row) // also drops NaNs in uninitialised C, as BLAS does
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
	}
	if k <= 0 || alpha == 0 {
		return
	}
	if threads < 2 || m*n*k < gemmParallelWork {
		sgemmSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc)
		return
	}
	// Split C along its larger dimension into one strip per goroutine.
	var wg sync.WaitGroup
	if m >= n {
		step := (m + threads - 1) / threads
		step = (step + gemmR - 1) / gemmR * gemmR
		for i0 := 0; i0 < m; i0 += step {
			i1 := min(m, i0+step)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sa := a[i0*lda:]
				if transA {
					sa = a[i0:]
				}
				sgemmSerial(transA, transB, i1-i0, n, k, alpha, sa, lda, b, ldb, c[i0*ldc:], ldc)
			}()
		}
	} else {
		step := (n + threads - 1) / threads
		step = (step + gemmR - 1) / gemmR * gemmR
		for j0 := 0; j0 < n; j0 += step {
			j1 := min(n, j0+step)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sb := b[j0:]
				if transB {
					sb = b[j0*ldb:]
				}
				sgemmSerial(transA, transB, m, j1-j0, k, alpha, a, lda, sb, ldb, c[j0:], ldc)
			}()
		}
	}
	wg.Wait()
}

var gemmPool = sync.Pool{New: func() any {
	s := make([]float32, gemmKC*(gemmNC+gemmMC+2*gemmR))
	return &s
}}

// sgemmSerial adds alpha·op(A)·op(B) to C on the calling goroutine.
func sgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	bufp := gemmPool.Get().(*[]float32)
	defer gemmPool.Put(bufp)
	buf := *bufp
	bp := buf[:gemmKC*(gemmNC+gemmR)]
	ap := buf[gemmKC*(gemmNC+gemmR):]
	for jc := 0; jc < n; jc += gemmNC {
		nc := min(gemmNC, n-jc)
		for pc := 0; pc < k; pc += gemmKC {
			kc := min(gemmKC, k-pc)
			packB(transB, b, ldb, pc, jc, kc, nc, bp)
			for ic := 0; ic < m; ic += gemmMC {
				mc := min(gemmMC, m-ic)
				packA(transA, a, lda, ic, pc, mc, kc, alpha, ap)
				for jr := 0; jr < nc; jr += gemmR {
					nr := min(gemmR, nc-jr)
					bpan := bp[jr*kc : jr*kc+kc*gemmR]
					for ir := 0; ir < mc; ir += gemmR {
						mr := min(gemmR, mc-ir)
						apan := ap[ir*kc : ir*kc+kc*gemmR]
						off := (ic+ir)*ldc + jc + jr
						if mr == gemmR && nr == gemmR {
							kernel4x4(kc, apan, bpan, c[off:], ldc)
						} else {
							kernelEdge(kc, apan, bpan, c[off:], ldc, mr, nr)
						}
					}
				}
			}
		}
	}
}

// packA copies the mc×kc block of alpha·op(A) at (i0, p0) into panels of
// gemmR rows, element (r, p) of a panel at p*gemmR + r; short panels are
// padded with zeros.
func packA(trans bool, a []float32, lda, i0, p0, mc, kc int, alpha float32, dst []float32) {
	for ir := 0; ir < mc; ir += gemmR {
		pan := dst[ir*kc : ir*kc+kc*gemmR]
		mr := min(gemmR, mc-ir)
		for r := 0; r < gemmR; r++ {
			if r >= mr {
				for p := 0; p < kc; p++ {
					pan[p*gemmR+r] = 0
				}
				continue
			}
			i := i0 + ir + r
			if !trans {
				row := a[i*lda+p0 : i*lda+p0+kc]
				for p, v := range row {
					pan[p*gemmR+r] = alpha * v
				}
			} else {
				for p := 0; p < kc; p++ {
					pan[p*gemmR+r] = alpha * a[(p0+p)*lda+i]
				}
			}
		}
	}
}

// packB copies the kc×nc block of op(B) at (p0, j0) into panels of gemmR
// columns, element (p, c) of a panel at p*gemmR + c, zero-padded.
func packB(trans bool, b []float32, ldb, p0, j0, kc, nc int, dst []float32) {
	for jr := 0; jr < nc; jr += gemmR {
		pan := dst[jr*kc : jr*kc+kc*gemmR]
		nr := min(gemmR, nc-jr)
		if !trans && nr == gemmR {
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+jr : (p0+p)*ldb+j0+jr+gemmR]
				d := pan[p*gemmR : p*gemmR+gemmR]
				d[0], d[1], d[2], d[3] = src[0], src[1], src[2], src[3]
			}
			continue
		}
		for cc := 0; cc < gemmR; cc++ {
			if cc >= nr {
				for p := 0; p < kc; p++ {
					pan[p*gemmR+cc] = 0
				}
				continue
			}
			j := j0 + jr + cc
			if !trans {
				for p := 0; p < kc; p++ {
					pan[p*gemmR+cc] = b[(p0+p)*ldb+j]
				}
			} else {
				row := b[j*ldb+p0 : j*ldb+p0+kc]
				for p, v := range row {
					pan[p*gemmR+cc] = v
				}
			}
		}
	}
}

// kernel4x4 adds the product of a 4×kc panel of A and a kc×4 panel of B to
// the 4×4 block of C at c. It works in two 2×4 halves so that the
// accumulators stay in the 15 SSE registers Go can use.
func kernel4x4(kc int, a, b []float32, c []float32, ldc int) {
	kernel2x4(kc, a, b, c, ldc, 0)
	kernel2x4(kc, a, b, c[2*ldc:], ldc, 2)
}

func kernel2x4(kc int, a, b []float32, c []float32, ldc int, r0 int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	a = a[:kc*4]
	b = b[:kc*4]
	for p := 0; p+3 < len(a) && p+3 < len(b); p += 4 {
		a0, a1 := a[p+r0], a[p+r0+1]
		b0, b1, b2, b3 := b[p], b[p+1], b[p+2], b[p+3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	r := c[0:4]
	r[0] += c00
	r[1] += c01
	r[2] += c02
	r[3] += c03
	r = c[ldc : ldc+4]
	r[0] += c10
	r[1] += c11
	r[2] += c12
	r[3] += c13
}

// kernelEdge handles a partial mr×nr block at the bottom or right edge
// (and the whole product when m < 4, as in matrix-vector products), one row
// at a time with the four column sums in registers.
func kernelEdge(kc int, a, b []float32, c []float32, ldc, mr, nr int) {
	a = a[:kc*gemmR]
	b = b[:kc*gemmR]
	for r := 0; r < mr; r++ {
		var s0, s1, s2, s3 float32
		for p := 0; p+3 < len(b) && p+r < len(a); p += gemmR {
			av := a[p+r]
			s0 += av * b[p]
			s1 += av * b[p+1]
			s2 += av * b[p+2]
			s3 += av * b[p+3]
		}
		acc := [gemmR]float32{s0, s1, s2, s3}
		row := c[r*ldc : r*ldc+nr]
		for j := range row {
			row[j] += acc[j]
		}
	}
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
