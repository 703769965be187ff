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

// TestEluVec checks Elu, Selu and Celu on float32 (eluVec) against their
// float64 definitions with expm1: within 1.5e-7·γα absolute plus 2.4e-7
// relative (eluVec subtracts 1 from exp as ONNX Runtime does): ±0, tiny
// and subnormal x, ±Inf, NaN, several α and γ.
func TestEluVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	x := []float32{0, float32(math.Copysign(0, -1)), -0.375, -1e-30, -1e-42, -1e-5, -200, float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN()), 3}
	for len(x) < 100000 {
		x = append(x, float32(rng.NormFloat64()*3))
	}
	for _, c := range []struct {
		op                string
		opset             int64
		alpha, gamma, div float64
	}{{"Elu", 6, 1, 1, 1}, {"Elu", 6, 0.3, 1, 1}, {"Selu", 6, 1.6732632, 1.050701, 1}, {"Celu", 12, 0.7, 1, 0.7}} {
		attrs := []*onnx.Attribute{onnx.FloatAttr("alpha", float32(c.alpha))}
		if c.op == "Selu" {
			attrs = append(attrs, onnx.FloatAttr("gamma", float32(c.gamma)))
		}
		got := runOp(t, c.op, c.opset, attrs, FromSlice(onnx.Float, []int{len(x)}, x)).Floats()
		for i, v := range x {
			a := float64(float32(c.alpha))
			want := float64(float32(c.gamma)) * float64(v)
			if v <= 0 {
				want = float64(float32(c.gamma)) * a * math.Expm1(float64(v)/float64(float32(c.div)))
			}
			g := float64(got[i])
			if v != v {
				if g == g {
					t.Fatalf("%s: %s(NaN) = %v", c.op, c.op, g)
				}
				continue
			}
			// exp(x) − 1 as ONNX Runtime: ≤ 1.2e-7·γα absolute near 0.
			if !(math.Abs(g-want) <= 1.5e-7*c.gamma*c.alpha+2.4e-7*math.Abs(want)) && !(g == want) {
				t.Fatalf("%s α %v: (%v) = %v, want %v", c.op, c.alpha, v, g, want)
			}
		}
	}
}
