package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSinCosAccuracy checks Sin and Cos at every level against math.Sin
// and math.Cos: within 2 ulp of the float32 result or 1.2e-7 absolute
// (near a zero of the function the result's ulp is tiny, and the reduction
// by π/2 in float32 leaves about that much) on |x| ≤ 16384 — normals,
// rotary angles, quadrant edges, ±0 — and exactly math's result in blocks
// holding NaN, ±Inf or a larger |x|; every tail length, in place; the
// assembly levels give the same bits.
func TestSinCosAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	var x []float32
	for k := -40; k <= 40; k++ {
		c := float32(float64(k) * math.Pi / 4)
		x = append(x, c, math.Nextafter32(c, 10), math.Nextafter32(c, -10))
	}
	x = append(x, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-8, 16384, -16384)
	for len(x) < 200000 {
		if len(x)%2 == 0 {
			x = append(x, float32(r.NormFloat64()*4))
		} else {
			x = append(x, float32((r.Float64()-0.5)*2*16384))
		}
	}
	// A block with values the kernel does not take: the exact path.
	odd := []float32{float32(math.NaN()), float32(math.Inf(1)), 1e20, -(1 << 30), 16385}
	x = append(x, make([]float32, 1024-len(x)%1024)...)
	oddAt := len(x)
	x = append(x, odd...)
	for _, cos := range []bool{false, true} {
		f, name := math.Sin, "sin"
		if cos {
			f, name = math.Cos, "cos"
		}
		var asm []float32
		for _, k := range twins() {
			got := make([]float32, len(x))
			with(k, func() {
				if cos {
					Cos(got, x)
				} else {
					Sin(got, x)
				}
			})
			for i, v := range x {
				w := f(float64(v))
				g := float64(got[i])
				if i >= oddAt {
					if math.Float32bits(got[i]) != math.Float32bits(float32(w)) && !(g != g && w != w) {
						t.Fatalf("%s %s(%v) = %v, want math's %v", k.name, name, v, g, float32(w))
					}
					continue
				}
				if d := math.Abs(g - w); !(d <= 1.2e-7 || d <= 2*ulp32(float32(w))) {
					t.Fatalf("%s %s(%v %#x) = %v, want %v (|Δ| %.3g)", k.name, name, v, math.Float32bits(v), g, w, d)
				}
			}
			if k.name != "go" {
				if asm == nil {
					asm = got
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(asm[i]) && !(got[i] != got[i]) {
						t.Fatalf("%s %s(%v) = %v, another level %v", k.name, name, x[i], got[i], asm[i])
					}
				}
			}
			// Tails and in place.
			for n := 0; n <= 40; n++ {
				in := append([]float32(nil), x[500:500+n+1]...)
				out := make([]float32, n+1)
				out[n] = -7
				with(k, func() {
					if cos {
						Cos(out[:n], in[:n])
						Cos(in[:n], in[:n])
					} else {
						Sin(out[:n], in[:n])
						Sin(in[:n], in[:n])
					}
				})
				if out[n] != -7 {
					t.Fatalf("%s n=%d: wrote past the end", k.name, n)
				}
				for i := range n {
					if math.Float32bits(out[i]) != math.Float32bits(got[500+i]) || math.Float32bits(in[i]) != math.Float32bits(got[500+i]) {
						t.Fatalf("%s %s n=%d: element %d %v / in place %v, want %v", k.name, name, n, i, out[i], in[i], got[500+i])
					}
				}
			}
		}
	}
}

// ulp32 is the spacing of float32 values at |f|.
func ulp32(f float32) float64 {
	a := float32(math.Abs(float64(f)))
	return float64(math.Nextafter32(a, float32(math.Inf(1))) - a)
}
