package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestActivations512: the AVX-512 tanh, erf, gelu, exp and sigmoid give the AVX2
// kernels' bits lane for lane (same instructions on 16 lanes), on lengths
// around the vector widths and inputs with NaN, ±0, ±Inf, the saturation
// bounds and values near them. Skipped where the CPU lacks AVX-512.
func TestActivations512(t *testing.T) {
	var avx2, avx512 *kernelSet
	for _, k := range levels() {
		switch k.name {
		case "avx2":
			avx2 = k
		case "avx512":
			avx512 = k
		}
	}
	if avx2 == nil || avx512 == nil {
		t.Skip("this CPU has no AVX-512 level: the kernels are checked where it does")
	}
	r := rand.New(rand.NewPCG(5, 6))
	special := []float32{float32(math.NaN()), 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		9, -9, 8.99, 3.92, -3.92, 4, 7.9053111, 1e-30, -1e-30, 88, 1,
		88.72, 88.73, -87.3, -103.9, -104, 100, -100, 0.34657359} // exp's bounds, subnormal results, ln2/2
	for _, f := range []struct {
		name string
		run  func(dst, x []float32)
	}{{"Tanh", Tanh}, {"Erf", Erf}, {"Gelu", Gelu}, {"Exp", Exp}, {"Sigmoid", Sigmoid}} {
		for _, n := range []int{1, 7, 8, 15, 16, 17, 31, 33, 100, 1000} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 3)
				if r.IntN(4) == 0 {
					x[i] = special[r.IntN(len(special))]
				}
			}
			want, got := make([]float32, n), make([]float32, n)
			with(avx2, func() { f.run(want, x) })
			with(avx512, func() { f.run(got, x) })
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s n=%d: x[%d] = %v: avx512 %v, avx2 %v", f.name, n, i, x[i], got[i], want[i])
				}
			}
		}
	}
}
