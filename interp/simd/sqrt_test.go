package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSqrtTwins checks Sqrt at every level against the Go twin bit for
// bit (NaN as NaN) on every length to 70 (whole vectors and masked tails)
// and on bit patterns: negatives, ±0, ±Inf, subnormals, NaN; in place too.
func TestSqrtTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, k := range twins() {
		for n := 0; n <= 70; n++ {
			x := make([]float32, n+1)
			for i := range x {
				x[i] = math.Float32frombits(r.Uint32())
			}
			specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), -1, 1e-45, float32(math.NaN()), 2}
			copy(x, specials[:min(n, len(specials))])
			want := make([]float32, n+1)
			want[n] = -7
			sqrtGo(want[:n], x[:n])
			got := make([]float32, n+1)
			got[n] = -7
			k.sqrt(got[:n], x[:n])
			inPlace := append([]float32(nil), x...)
			k.sqrt(inPlace[:n], inPlace[:n])
			for i := range got {
				for _, g := range []float32{got[i], inPlace[i]} {
					if i == n {
						if got[n] != -7 {
							t.Fatalf("%s n=%d: wrote past the end", k.name, n)
						}
						continue
					}
					if math.Float32bits(g) != math.Float32bits(want[i]) && !(g != g && want[i] != want[i]) {
						t.Fatalf("%s n=%d: sqrt(%v %#x) = %v %#x, want %v", k.name, n, x[i], math.Float32bits(x[i]), g, math.Float32bits(g), want[i])
					}
				}
			}
		}
	}
}
