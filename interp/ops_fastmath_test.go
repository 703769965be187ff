package interp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestSinCosVec checks the float32 Sin and Cos against math.Sin and
// math.Cos rounded to float32: within one float32 ulp everywhere, equal
// bits for ±0, NaN, ±Inf, subnormals and beyond the reduction's range,
// over arguments up to 2^30 and every quadrant's edges.
func TestSinCosVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	x := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.SmallestNonzeroFloat32, -1e-30, 1e-8, math.Pi, -math.Pi, math.Pi / 2, 3 * math.Pi / 2, 1 << 30, -(1 << 31), 1e20, math.MaxFloat32}
	for k := -40; k <= 40; k++ { // quadrant edges
		c := float32(float64(k) * math.Pi / 4)
		x = append(x, c, math.Nextafter32(c, 10), math.Nextafter32(c, -10))
	}
	for len(x) < 200000 {
		switch len(x) % 3 {
		case 0:
			x = append(x, float32(rng.NormFloat64()*4))
		case 1:
			x = append(x, float32((rng.Float64()-0.5)*8192)) // rotary angles: position × frequency
		default:
			x = append(x, float32((rng.Float64()-0.5)*(1<<31)))
		}
	}
	for _, cos := range []bool{false, true} {
		f := math.Sin
		if cos {
			f = math.Cos
		}
		got := make([]float32, len(x))
		sinCosVec(got, x, cos)
		off := 0
		for i, v := range x {
			want := float32(f(float64(v)))
			g := got[i]
			if math.Float32bits(g) == math.Float32bits(want) || (g != g && want != want) {
				continue
			}
			off++
			exact := v == 0 || v != v || math.IsInf(float64(v), 0) || math.Abs(float64(v)) >= 1<<30
			if exact || math.Abs(float64(g)-float64(want)) > ulp32(want) {
				t.Fatalf("cos=%v x=%v (%#x): %v (%#x), math gives %v (%#x)", cos, v, math.Float32bits(v), g, math.Float32bits(g), want, math.Float32bits(want))
			}
		}
		t.Logf("cos=%v: %d of %d differ by one ulp", cos, off, len(x))
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
