package simd

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkConvPacked times ConvPacked (im2col in cache-sized chunks, the
// GEMM with pre-packed filters, ONNX Runtime's K blocks) on one and two threads over
// resnet18's convolution shapes and a 16-filter one (detypify's widest):
// the 7×7/2 stem, strided layers (phase planes), the 28, 14 and 7 wide
// layers (panels over two and three output rows; N = 49 leaves a
// one-column ragged panel), and small maps at few filters (11, 7 and 10
// wide: three-row panels where the im2col copy weighs most).
func BenchmarkConvPacked(b *testing.B) {
	for _, s := range []struct{ c, m, hw, k, s, p int }{
		{3, 64, 224, 7, 2, 3}, {64, 64, 56, 3, 1, 1}, {64, 128, 56, 3, 2, 1}, {128, 128, 28, 3, 1, 1},
		{256, 256, 14, 3, 1, 1}, {256, 512, 14, 3, 2, 1}, {512, 512, 7, 3, 1, 1}, {32, 16, 112, 3, 1, 1},
		{32, 64, 112, 3, 1, 1}, {64, 32, 64, 3, 2, 1}, {64, 32, 11, 3, 1, 1}, {64, 32, 7, 3, 1, 1}, {128, 64, 10, 3, 1, 1},
	} {
		o := (s.hw+2*s.p-s.k)/s.s + 1
		p := ConvParams{C: s.c, H: s.hw, W: s.hw, KH: s.k, KW: s.k, StrideH: s.s, StrideW: s.s, PadT: s.p, PadL: s.p, DilH: 1, DilW: 1, OutH: o, OutW: o}
		r := rand.New(rand.NewPCG(1, 1))
		x, w, y := randSlice(r, p.C*p.H*p.W), randSlice(r, s.m*p.K()), make([]float32, s.m*p.N())
		pa := PackA(false, s.m, p.K(), 1, w, p.K())
		for _, th := range []int{1, 2} {
			for _, implicit := range []bool{true, false} {
				b.Run(fmt.Sprintf("c%d_m%d_%dx%d_k%d_s%d/implicit=%v/threads=%d", s.c, s.m, s.hw, s.hw, s.k, s.s, implicit, th), func(b *testing.B) {
					defer func(v bool) { implicitGEMM = v }(implicitGEMM)
					implicitGEMM = implicit
					clk := startCPU(b)
					for b.Loop() {
						ConvPacked(y, pa, x, p, th, nil)
						clk.lap()
					}
					reportGemm(b, clk, s.m, p.N(), p.K())
				})
			}
		}
	}
}

// BenchmarkConvPackedCold is BenchmarkConvPacked with cold filters, as in
// a model whose weights (resnet18: 45 MB) do not stay in L3 from one run
// to the next: eight copies of the packed filters in turn. The deep layers
// (7×7: 9.4 MB of filters for 49 columns) then wait on memory.
func BenchmarkConvPackedCold(b *testing.B) {
	for _, s := range []struct{ c, m, hw, k, s, p int }{
		{512, 512, 7, 3, 1, 1}, {256, 512, 14, 3, 2, 1}, {256, 256, 14, 3, 1, 1}, {128, 128, 28, 3, 1, 1},
	} {
		o := (s.hw+2*s.p-s.k)/s.s + 1
		p := ConvParams{C: s.c, H: s.hw, W: s.hw, KH: s.k, KW: s.k, StrideH: s.s, StrideW: s.s, PadT: s.p, PadL: s.p, DilH: 1, DilW: 1, OutH: o, OutW: o}
		r := rand.New(rand.NewPCG(1, 1))
		x, w, y := randSlice(r, p.C*p.H*p.W), randSlice(r, s.m*p.K()), make([]float32, s.m*p.N())
		var pas []*PackedA
		for range 8 {
			pas = append(pas, PackA(false, s.m, p.K(), 1, w, p.K()))
		}
		b.Run(fmt.Sprintf("c%d_m%d_%dx%d_k%d_s%d/threads=1", s.c, s.m, s.hw, s.hw, s.k, s.s), func(b *testing.B) {
			clk := startCPU(b)
			i := 0
			for b.Loop() {
				ConvPacked(y, pas[i%len(pas)], x, p, 1, nil)
				i++
				clk.lap()
			}
			reportGemm(b, clk, s.m, p.N(), p.K())
		})
	}
}
