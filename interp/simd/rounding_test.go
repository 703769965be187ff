package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRoundingTwins checks Round, Floor and Ceil at every level against
// their Go twins bit for bit (NaN as NaN): every length to 40, bit
// patterns of every exponent, halves, ±0, ±Inf, in place.
func TestRoundingTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	x := []float32{0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-45, -0.49999997, 8388607.5, -8388609}
	for len(x) < 20000 {
		x = append(x, math.Float32frombits(r.Uint32()), float32(r.NormFloat64()*10))
	}
	for _, k := range twins() {
		for _, op := range []struct {
			name       string
			twin, kern func(dst, x []float32)
		}{{"round", roundGo, k.round}, {"floor", floorGo, k.floor}, {"ceil", ceilGo, k.ceil}} {
			want := make([]float32, len(x))
			op.twin(want, x)
			got := make([]float32, len(x))
			op.kern(got, x)
			for i := range x {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("%s %s(%v %#x) = %v, want %v", k.name, op.name, x[i], math.Float32bits(x[i]), got[i], want[i])
				}
			}
			for n := 0; n <= 40; n++ {
				in := append([]float32(nil), x[:n+1]...)
				out := make([]float32, n+1)
				out[n] = -7
				op.kern(out[:n], in[:n])
				op.kern(in[:n], in[:n])
				if out[n] != -7 {
					t.Fatalf("%s %s n=%d: wrote past the end", k.name, op.name, n)
				}
				for i := range n {
					for _, g := range []float32{out[i], in[i]} {
						if math.Float32bits(g) != math.Float32bits(want[i]) && !(g != g && want[i] != want[i]) {
							t.Fatalf("%s %s n=%d: element %d %v (in place %v), want %v", k.name, op.name, n, i, out[i], in[i], want[i])
						}
					}
				}
			}
		}
	}
}
