package interp

import (
	"math/rand"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
)

func naiveGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			c[i*ldc+j] = float32(float64(alpha)*s + float64(beta)*float64(c[i*ldc+j]))
		}
	}
}

func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {4, 4, 4}, {17, 33, 300}, {70, 1030, 9}, {128, 64, 600}, {5, 2000, 40}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			a := make([]float32, m*k)
			b := make([]float32, k*n)
			for i := range a {
				a[i] = rng.Float32() - 0.5
			}
			for i := range b {
				b[i] = rng.Float32() - 0.5
			}
			lda, ldb := k, n
			if tr[0] {
				lda = m
			}
			if tr[1] {
				ldb = k
			}
			c1 := make([]float32, m*n)
			c2 := make([]float32, m*n)
			for i := range c1 {
				c1[i] = rng.Float32()
				c2[i] = c1[i]
			}
			for _, th := range []int{1, 3} {
				copy(c2, c1)
				sgemm(th, tr[0], tr[1], m, n, k, 0.5, a, lda, b, ldb, 2, c2, n)
				want := append([]float32(nil), c1...)
				naiveGemm(tr[0], tr[1], m, n, k, 0.5, a, lda, b, ldb, 2, want, n)
				if msg := testutil.Mismatch(c2, want, 1e-3, 0, -1); msg != "" {
					t.Fatalf("%v %v th=%d: %s", sz, tr, th, msg)
				}
			}
		}
	}
}

func BenchmarkSgemm256(b *testing.B) {
	n := 256
	x := make([]float32, n*n)
	y := make([]float32, n*n)
	z := make([]float32, n*n)
	for i := range x {
		x[i], y[i] = float32(i%7), float32(i%5)
	}
	b.SetBytes(int64(2 * n * n * n)) // flops reported as bytes
	for i := 0; i < b.N; i++ {
		sgemm(1, false, false, n, n, n, 1, x, n, y, n, 0, z, n)
	}
}
