package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSqrtAbsTwins checks Sqrt and Abs at every level against their Go
// twins bit for bit (Sqrt's NaN as NaN) on every length to 70 (whole
// vectors and masked tails) and on bit patterns: negatives, ±0, ±Inf,
// subnormals, NaN; in place too.
func TestSqrtAbsTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, k := range twins() {
		for _, op := range []struct {
			name       string
			twin, kern func(dst, x []float32)
		}{{"sqrt", sqrtGo, k.sqrt}, {"abs", absGo, k.abs}} {
			for n := 0; n <= 70; n++ {
				x := make([]float32, n+1)
				for i := range x {
					x[i] = math.Float32frombits(r.Uint32())
				}
				specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), -1, 1e-45, float32(math.NaN()), 2}
				copy(x, specials[:min(n, len(specials))])
				want := make([]float32, n+1)
				want[n] = -7
				op.twin(want[:n], x[:n])
				got := make([]float32, n+1)
				got[n] = -7
				op.kern(got[:n], x[:n])
				inPlace := append([]float32(nil), x...)
				op.kern(inPlace[:n], inPlace[:n])
				for i := range got {
					for _, g := range []float32{got[i], inPlace[i]} {
						if i == n {
							if got[n] != -7 {
								t.Fatalf("%s n=%d: %s wrote past the end", k.name, n, op.name)
							}
							continue
						}
						if math.Float32bits(g) != math.Float32bits(want[i]) && !(op.name == "sqrt" && g != g && want[i] != want[i]) {
							t.Fatalf("%s n=%d: %s(%v %#x) = %v %#x, want %v", k.name, n, op.name, x[i], math.Float32bits(x[i]), g, math.Float32bits(g), want[i])
						}
					}
				}
			}
		}
	}
}
