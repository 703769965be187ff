package interp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestSinCosOps checks the Sin and Cos ops on float32 (simd.Sin/Cos)
// against math.Sin/Cos: within 2 float32 ulp or 1.2e-7 absolute for |x| ≤
// 16384 (rotary angles, quadrant edges), math's result exactly for NaN,
// ±Inf and huge arguments (those blocks go through math.Sin).
func TestSinCosOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	x := []float32{0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -1e-30, 1e-8, math.Pi, -math.Pi, math.Pi / 2, 3 * math.Pi / 2}
	for k := -40; k <= 40; k++ { // quadrant edges
		c := float32(float64(k) * math.Pi / 4)
		x = append(x, c, math.Nextafter32(c, 10), math.Nextafter32(c, -10))
	}
	for len(x) < 100000 {
		x = append(x, float32(rng.NormFloat64()*4), float32((rng.Float64()-0.5)*8192)) // rotary angles: position × frequency
	}
	odd := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1 << 30, -(1 << 31), 1e20, math.MaxFloat32}
	x = append(x, odd...)
	for _, op := range []string{"Sin", "Cos"} {
		f := math.Sin
		if op == "Cos" {
			f = math.Cos
		}
		got := runOp(t, op, 7, nil, FromSlice(onnx.Float, []int{len(x)}, x)).Floats()
		for i, v := range x {
			w := f(float64(v))
			g := float64(got[i])
			if i >= len(x)-len(odd) {
				if math.Float32bits(got[i]) != math.Float32bits(float32(w)) && !(g != g && w != w) {
					t.Fatalf("%s(%v) = %v, math gives %v", op, v, g, float32(w))
				}
				continue
			}
			if d := math.Abs(g - w); !(d <= 1.2e-7 || d <= 2*ulp32(float32(w))) {
				t.Fatalf("%s(%v %#x) = %v, math gives %v", op, v, math.Float32bits(v), g, w)
			}
		}
	}
}

// ulp32 is the gap between |f| and the next float32 up.
func ulp32(f float32) float64 {
	a := float32(math.Abs(float64(f)))
	return float64(math.Nextafter32(a, float32(math.Inf(1))) - a)
}

// TestLogVec checks the float32 Log op (simd.Log) against math.Log
// rounded to float32, within 2 ulp (special values exactly): 0,
// negatives, NaN, ±Inf, subnormals, 200000 positive bit patterns and
// values near 1.
func TestLogVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	x := []float32{0, float32(math.Copysign(0, -1)), -1, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		1, math.SmallestNonzeroFloat32, 1e-40, math.MaxFloat32, 0.70710677, 1.4142137}
	for len(x) < 200000 {
		x = append(x, math.Float32frombits(rng.Uint32()>>1), float32(1+(rng.Float64()-0.5)*1e-3))
	}
	got := runOp(t, "Log", 13, nil, FromSlice(onnx.Float, []int{len(x)}, x)).Floats()
	for i, v := range x {
		want := float32(math.Log(float64(v)))
		g := got[i]
		exact := want != want || math.IsInf(float64(want), 0)
		// simd.Log is within 2 ulp (absolute 2.5e-10 where log is near 0).
		if exact && math.Float32bits(g) != math.Float32bits(want) && !(g != g && want != want) ||
			!exact && !(math.Abs(float64(g-want)) <= max(2.5e-10, 2.4e-7*math.Abs(float64(want)))) {
			t.Fatalf("Log(%v %#x) = %v %#x, math.Log gives %v %#x", v, math.Float32bits(v), g, math.Float32bits(g), want, math.Float32bits(want))
		}
	}
}
