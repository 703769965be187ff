package interp

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// TestSelectTop checks TopK's heap selection against a stable sort of the
// whole row: every k from 0 to n, largest and smallest, rows with ties,
// NaN and infinities.
func TestSelectTop(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	for _, n := range []int{0, 1, 2, 7, 64, 300} {
		v := make([]float64, n)
		for i := range v {
			switch r.IntN(6) {
			case 0:
				v[i] = math.NaN()
			case 1:
				v[i] = float64(r.IntN(3)) // ties
			case 2:
				v[i] = math.Inf(1 - 2*r.IntN(2))
			default:
				v[i] = r.NormFloat64()
			}
		}
		for _, largest := range []bool{true, false} {
			want := make([]int, n)
			for i := range want {
				want[i] = i
			}
			sort.SliceStable(want, func(a, b int) bool {
				x, y := v[want[a]], v[want[b]]
				// NaN ranks above every number (the old kernel's rule).
				if nx, ny := math.IsNaN(x), math.IsNaN(y); nx || ny {
					if largest {
						return nx && !ny
					}
					return !nx && ny
				}
				if largest {
					return x > y
				}
				return x < y
			})
			for k := 0; k <= n; k++ {
				got := selectTop(nil, v, 1, n, k, largest)
				if !slices.Equal(got, want[:k]) {
					t.Fatalf("n=%d k=%d largest=%v: %v, want %v (values %v)", n, k, largest, got, want[:k], v)
				}
			}
		}
	}
}
