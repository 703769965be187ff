package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPool2x2Twins checks Avg2x2Row and Max2x2Row at every level against
// the scalar definition, bit for bit, on every length up to 70 (whole
// blocks and tails) and rows full of signed zeros, ties, infinities,
// subnormals and NaNs of two payloads.
func TestPool2x2Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	nan2 := math.Float32frombits(0x7fc00123)
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), nan2, 3e-39, -3e-39, math.MaxFloat32}
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			switch r.IntN(3) {
			case 0:
				x[i] = special[r.IntN(len(special))]
			case 1:
				x[i] = float32(r.IntN(5) - 2)
			default:
				x[i] = float32(r.NormFloat64())
			}
		}
		return x
	}
	negZero := float32(math.Copysign(0, -1))
	for _, k := range twins() {
		for n := 0; n <= 70; n++ {
			for rep := 0; rep < 4; rep++ {
				r0, r1 := fill(2*n+1), fill(2*n+1) // one float more than read
				if rep == 3 {
					for i := range r0 {
						r0[i], r1[i] = negZero, negZero
					}
				}
				avg, mx := make([]float32, n), make([]float32, n)
				with(k, func() {
					Avg2x2Row(avg, r0, r1)
					Max2x2Row(mx, r0, r1)
				})
				for i := 0; i < n; i++ {
					taps := []float32{r0[2*i], r0[2*i+1], r1[2*i], r1[2*i+1]}
					var s float32
					v := float32(math.Inf(-1))
					for _, x := range taps {
						s += x
						if x > v {
							v = x
						}
					}
					s /= 4
					where := fmt.Sprintf("%s n=%d rep=%d i=%d taps %v", k.name, n, rep, i, taps)
					if math.Float32bits(avg[i]) != math.Float32bits(s) {
						t.Fatalf("%s: avg %v (%#x), want %v (%#x)", where, avg[i], math.Float32bits(avg[i]), s, math.Float32bits(s))
					}
					if math.Float32bits(mx[i]) != math.Float32bits(v) {
						t.Fatalf("%s: max %v (%#x), want %v (%#x)", where, mx[i], math.Float32bits(mx[i]), v, math.Float32bits(v))
					}
				}
			}
		}
	}
}
