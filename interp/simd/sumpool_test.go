package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// sumPoolShapes are windows inside the input: large non-overlapping ones
// (an age/gender net's 8×8 and 4×4 average pools, a 7×7 pool over a 7×7
// map), strides 3–5, and the stride-1 and -2 rows the vector path keeps.
func sumPoolShapes() []ConvParams {
	var ps []ConvParams
	for _, s := range []struct{ c, hw, k, st, d int }{
		{10, 32, 8, 8, 1}, {10, 16, 4, 4, 1}, {256, 7, 7, 7, 1}, {32, 64, 4, 4, 1}, {16, 30, 3, 3, 1},
		{8, 33, 5, 4, 1}, {16, 14, 2, 2, 1}, {32, 56, 3, 2, 1}, {32, 56, 3, 1, 1}, {4, 20, 3, 3, 2},
	} {
		o := (s.hw-(s.k-1)*s.d-1)/s.st + 1
		ps = append(ps, ConvParams{C: s.c, H: s.hw, W: s.hw, KH: s.k, KW: s.k, StrideH: s.st, StrideW: s.st, DilH: s.d, DilW: s.d, OutH: o, OutW: o})
	}
	return ps
}

// TestSumPoolScalar: the register path gives the vector path's bits (each
// window summed from +0 in tap order: -0 and NaN inputs included) at every
// level.
func TestSumPoolScalar(t *testing.T) {
	for _, p := range sumPoolShapes() {
		if !windowsInside(&p) {
			t.Fatalf("%+v: a window leaves the input", p)
		}
		r := rand.New(rand.NewPCG(1, 1))
		x := randSlice(r, p.C*p.H*p.W)
		x[0], x[5] = float32(math.Copysign(0, -1)), float32(math.NaN())
		for _, k := range twins() {
			want, got := make([]float32, p.C*p.OutH*p.OutW), make([]float32, p.C*p.OutH*p.OutW)
			with(k, func() {
				sumPoolVector(want, x, &p, 0, p.C)
				sumPoolScalar(got, x, &p, 0, p.C)
			})
			for i := range want {
				if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
					t.Fatalf("%s %+v: [%d] = %v, want %v", k.name, p, i, got[i], want[i])
				}
			}
		}
	}
}

// BenchmarkSumPool2D times both paths on the shapes above (SumPool2D takes
// the register path where the windows are inside and OutW < 8 or the
// stride is 3 or more).
func BenchmarkSumPool2D(b *testing.B) {
	for _, p := range sumPoolShapes() {
		r := rand.New(rand.NewPCG(1, 1))
		x, y := randSlice(r, p.C*p.H*p.W), make([]float32, p.C*p.OutH*p.OutW)
		for _, path := range []string{"vector", "scalar"} {
			b.Run(fmt.Sprintf("c%d_%dx%d_k%d_s%d/%s", p.C, p.H, p.W, p.KH, p.StrideH, path), func(b *testing.B) {
				for b.Loop() {
					if path == "scalar" {
						sumPoolScalar(y, x, &p, 0, p.C)
					} else {
						sumPoolVector(y, x, &p, 0, p.C)
					}
				}
			})
		}
	}
}
