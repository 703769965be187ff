package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxRowsTwin checks the active level's maxRows kernel against the
// row-by-row fold through maxSkipNaN (its fallback) bit for bit: ragged
// widths (masked tails), several rows, strides, one to four taps, with and
// without acc, on inputs with NaN, ±0, ±Inf and ties.
func TestMaxRowsTwin(t *testing.T) {
	if ks.maxRows == nil {
		t.Skip("no maxRows kernel at this level: maxRows is its fallback")
	}
	r := rand.New(rand.NewPCG(4, 4))
	special := []float32{float32(math.NaN()), 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 1, 1}
	for _, n := range []int{1, 15, 16, 17, 40, 112} {
		for _, tc := range []struct{ rows, taps int }{{1, 1}, {3, 1}, {2, 2}, {5, 3}, {4, 4}} {
			for _, acc := range []bool{false, true} {
				name := fmt.Sprintf("n%d_rows%d_taps%d_acc%v", n, tc.rows, tc.taps, acc)
				srcStride, tapStride, dstStride := 2*n+3, n+1, n+5
				src := make([]float32, tc.rows*srcStride+tc.taps*tapStride+n)
				for i := range src {
					if r.IntN(4) == 0 {
						src[i] = special[r.IntN(len(special))]
					} else {
						src[i] = float32(r.IntN(5)) // ties
					}
				}
				init := make([]float32, tc.rows*dstStride+n)
				for i := range init {
					init[i] = special[r.IntN(len(special))]
				}
				got, want := append([]float32(nil), init...), append([]float32(nil), init...)
				maxRows(got, src, n, tc.rows, dstStride, srcStride, tc.taps, tapStride, acc)
				kernel := ks.maxRows
				ks.maxRows = nil
				maxRows(want, src, n, tc.rows, dstStride, srcStride, tc.taps, tapStride, acc)
				ks.maxRows = kernel
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s: element %d: kernel %v, fold %v", name, i, got[i], want[i])
					}
				}
			}
		}
	}
}
