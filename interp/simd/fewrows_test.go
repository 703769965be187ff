package simd

import (
	"math"
	"math/rand/v2"
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
