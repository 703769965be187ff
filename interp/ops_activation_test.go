package interp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
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

// TestEluVec checks the float32 Elu loop against f, α·expm1(x) in
// float64 below zero, bit for bit: ±0, tiny and subnormal x, ±Inf, NaN,
// α 1 and 0.3, in place.
func TestEluVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	x := []float32{0, float32(math.Copysign(0, -1)), -0.375, -1e-30, -1e-42, -200, float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN()), 3}
	for len(x) < 100000 {
		x = append(x, float32(rng.NormFloat64()*3))
	}
	for _, alpha := range []float32{1, 0.3} {
		got := runOp(t, "Elu", 6, []*onnx.Attribute{onnx.FloatAttr("alpha", alpha)}, FromSlice(onnx.Float, []int{len(x)}, x)).Floats()
		for i, v := range x {
			want := v
			if v < 0 {
				want = float32(float64(alpha) * math.Expm1(float64(v)))
			}
			if math.Float32bits(got[i]) != math.Float32bits(want) && !(v != v && got[i] != got[i]) {
				t.Fatalf("α %v: Elu(%v) = %v, want %v", alpha, v, got[i], want)
			}
		}
	}
}
