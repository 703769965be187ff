package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSgemmFewRows: every row of a product of up to FewRows rows (and of
// more, through SgemmRows) is bit for bit Sgemm of that row alone, on both
// twins, with alpha, beta, transposed A, column counts around the panel
// width and a NaN in B.
func TestSgemmFewRows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	for _, k := range twins() {
		with(k, func() {
			for _, tc := range []struct{ m, n, kk int }{{1, 5, 3}, {3, 70, 9}, {4, gemvPanel + 13, 40}, {8, 2*gemvPanel + 8, 17}, {5, 64, 300}, {20, 300, 33}, {33, gemvPanel + 72, 9}} {
				for _, transA := range []bool{false, true} {
					a, b := randSlice(r, tc.m*tc.kk), randSlice(r, tc.kk*tc.n)
					b[len(b)/2] = float32(math.NaN())
					c0 := randSlice(r, tc.m*tc.n)
					got := append([]float32(nil), c0...)
					lda := tc.kk
					if transA {
						lda = tc.m
					}
					gemm := SgemmFewRows
					if tc.m > FewRows {
						gemm = SgemmRows // beyond FewRows: rows stacked from several runs
					}
					gemm(transA, false, tc.m, tc.n, tc.kk, 0.7, a, lda, b, tc.n, 0.5, got, tc.n, 2)
					for i := 0; i < tc.m; i++ {
						arow := make([]float32, tc.kk)
						for p := range arow {
							if transA {
								arow[p] = a[p*tc.m+i]
							} else {
								arow[p] = a[i*tc.kk+p]
							}
						}
						want := append([]float32(nil), c0[i*tc.n:(i+1)*tc.n]...)
						Sgemm(false, false, 1, tc.n, tc.kk, 0.7, arow, tc.kk, b, tc.n, 0.5, want, tc.n, 1)
						for j := range want {
							g, w := got[i*tc.n+j], want[j]
							if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
								t.Fatalf("%s %+v transA=%v: C[%d,%d] = %v, row alone %v", k.name, tc, transA, i, j, g, w)
							}
							var ref float64 = 0.5 * float64(c0[i*tc.n+j])
							for p := range arow {
								ref += 0.7 * float64(arow[p]) * float64(b[p*tc.n+j])
							}
							if !math.IsNaN(ref) && math.Abs(float64(g)-ref) > 1e-4*(1+math.Abs(ref)) {
								t.Fatalf("%s %+v: C[%d,%d] = %v, float64 sum %v", k.name, tc, i, j, g, ref)
							}
						}
					}
				}
			}
		})
	}
}

// BenchmarkSgemmRows: a product of a few rows (one run's, or four runs'
// stacked by interp's lockstep runs) by a weight larger than the caches, as
// in a large language model's verification; SetBytes is B's size, so MB/s
// is how fast the weight streams; by8=false takes B's rows one at a time,
// as gemv did before axpy8.
func BenchmarkSgemmRows(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sh := range []struct{ k, n int }{{2048, 8192}, {8192, 2048}, {2048, 6144}} {
		// Several weights, so that each product reads its B from memory.
		const weights = 4
		bs := make([][]float32, weights)
		for i := range bs {
			bs[i] = randSlice(r, sh.k*sh.n)
		}
		for _, m := range []int{1, 4, 16} {
			a, c := randSlice(r, m*sh.k), make([]float32, m*sh.n)
			for _, by8 := range []bool{false, true} {
				b.Run(fmt.Sprintf("m=%d/k=%d/n=%d/by8=%v", m, sh.k, sh.n, by8), func(b *testing.B) {
					defer func(old bool) { gemvBy8 = old }(gemvBy8)
					gemvBy8 = by8
					b.SetBytes(int64(4 * sh.k * sh.n))
					for i := 0; b.Loop(); i++ {
						SgemmRows(false, false, m, sh.n, sh.k, 1, a, sh.k, bs[i%weights], sh.n, 0, c, sh.n, 2)
					}
				})
			}
		}
	}
}

// TestAxpy8: axpy8 is eight axpy calls, bit for bit, on every level, at
// lengths around the vector and unroll widths, with a NaN and an Inf in x.
func TestAxpy8(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	for _, k := range twins() {
		for _, n := range []int{1, 7, 8, 9, 31, 32, 33, 100, 1024} {
			ldx := n + 3
			x := randSlice(r, 7*ldx+n)
			x[ldx+n/2] = float32(math.NaN())
			x[5*ldx] = float32(math.Inf(-1))
			var s [8]float32
			for i := range s {
				s[i] = float32(r.NormFloat64())
			}
			y0 := randSlice(r, n)
			got, want := slices.Clone(y0), slices.Clone(y0)
			with(k, func() {
				ks.axpy8(got, &x[0], ldx, &s)
				for i, a := range s {
					ks.axpy(want, x[i*ldx:], a)
				}
			})
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s n=%d: y[%d] = %v, eight axpy calls %v", k.name, n, i, got[i], want[i])
				}
			}
		}
	}
}
