package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ulpDiff is the distance in float32 steps between a and b (same sign
// assumed; both finite).
func ulpDiff(a, b float32) int64 {
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if a < 0 {
		ia = -(ia & 0x7fffffff)
	}
	if b < 0 {
		ib = -(ib & 0x7fffffff)
	}
	if ia > ib {
		return ia - ib
	}
	return ib - ia
}

// TestLogAccuracy checks Log at every level (the Go twin included) against
// math.Log rounded to float32: at most 2 ulp on random bit patterns of
// every positive exponent (normal and subnormal), numbers near 1 (where
// log is near 0 the bound is absolute: 2 ulp of the result's scale ×
// 1e-7), exact special values, every length to 40 (masked tails) and in
// place; the assembly levels give the same bits.
func TestLogAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	x := make([]float32, 0, 200040)
	for range 100000 {
		x = append(x, math.Float32frombits(r.Uint32()&0x7fffffff)) // every positive pattern
	}
	for range 100000 {
		x = append(x, float32(1+(r.Float64()-0.5)*0.2)) // near 1
	}
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), -1, -1e-45, 1e-45, 1, 2, 0.5, float32(math.NaN()), math.MaxFloat32, 0x1p-126, 0.70710677, 0.7071068}
	x = append(x, specials...)
	var asm []float32 // the first assembly level's results
	for _, k := range twins() {
		name, f := k.name, k.log
		got := make([]float32, len(x))
		f(got, x)
		if k.name != "go" {
			// The ymm and zmm kernels run the same instructions: the same bits.
			if asm == nil {
				asm = got
			}
			for i := range x {
				if math.Float32bits(got[i]) != math.Float32bits(asm[i]) {
					t.Fatalf("%s: log(%v) = %v, another level %v", name, x[i], got[i], asm[i])
				}
			}
		}
		worst := int64(0)
		for i, v := range x {
			want := float32(math.Log(float64(v)))
			g := got[i]
			switch {
			case want != want || math.IsInf(float64(want), 0):
				if math.Float32bits(g) != math.Float32bits(want) && !(g != g && want != want) {
					t.Fatalf("%s: log(%v %#x) = %v, want %v", name, v, math.Float32bits(v), g, want)
				}
				if g != g && math.Float32bits(g) != 0x7fc00000 {
					t.Fatalf("%s: log(%v) = NaN %#x, want the quiet NaN 0x7fc00000", name, v, math.Float32bits(g))
				}
				continue
			case math.Abs(float64(want)) < 1e-3:
				if d := math.Abs(float64(g) - math.Log(float64(v))); !(d <= 2.5e-10) {
					t.Fatalf("%s: log(%v) = %v, want %v (|Δ| %.3g)", name, v, g, want, d)
				}
				continue
			}
			if d := ulpDiff(g, want); !(d <= 2) || g != g {
				t.Fatalf("%s: log(%v %#x) = %v, want %v (%d ulp)", name, v, math.Float32bits(v), g, want, d)
			} else if d > worst {
				worst = d
			}
		}
		t.Logf("%s: at most %d ulp", name, worst)
		// Tails and in place, against the level's own full-vector bits.
		for n := 0; n <= 40; n++ {
			in := append([]float32(nil), x[1000:1000+n+1]...)
			out := make([]float32, n+1)
			out[n] = -7
			f(out[:n], in[:n])
			if out[n] != -7 {
				t.Fatalf("%s n=%d: wrote past the end", name, n)
			}
			f(in[:n], in[:n])
			for i := range n {
				if math.Float32bits(out[i]) != math.Float32bits(got[1000+i]) || math.Float32bits(in[i]) != math.Float32bits(got[1000+i]) {
					t.Fatalf("%s n=%d: element %d %v / in place %v, want %v", name, n, i, out[i], in[i], got[1000+i])
				}
			}
		}
	}
}
