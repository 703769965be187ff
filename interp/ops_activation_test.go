package interp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSoftplusMishVec checks the float32 Softplus and Mish kernels against
// their float64 definitions over [-110, 110] (simd.Exp's underflow and the
// large-x identity included), NaN, ±Inf and -0, in place and not, on
// lengths that end inside a block.
func TestSoftplusMishVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	x := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 20, -20, 88, -88, 104, -104, 110, -110,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for len(x) < 1000 {
		x = append(x, float32(rng.NormFloat64()*8), float32(220*rng.Float64()-110))
	}
	kernels := []struct {
		name string
		vec  func(dst, x []float32)
		f    func(float64) float64
	}{
		{"Softplus", softplusVec, ewSoftplus},
		{"Mish", mishVec, func(v float64) float64 { return v * math.Tanh(ewSoftplus(v)) }},
	}
	for _, k := range kernels {
		for _, inPlace := range []bool{false, true} {
			xs := x[:len(x)-3] // not a whole block
			dst := make([]float32, len(xs))
			if inPlace {
				copy(dst, xs)
				k.vec(dst, dst)
			} else {
				k.vec(dst, xs)
			}
			for i, v := range xs {
				want, got := k.f(float64(v)), float64(dst[i])
				switch {
				case math.IsNaN(want) || math.IsInf(want, 0):
					if math.Float64bits(got) != math.Float64bits(float64(float32(want))) && !(math.IsNaN(got) && math.IsNaN(want)) {
						t.Fatalf("%s(%v) = %v, want %v", k.name, v, got, want)
					}
				case math.Abs(got-want) > 4e-7*math.Abs(want)+1e-37:
					t.Fatalf("%s(%v) = %v, want %v (relative error %.2g)", k.name, v, got, want, math.Abs(got-want)/math.Abs(want))
				}
			}
		}
	}
}
