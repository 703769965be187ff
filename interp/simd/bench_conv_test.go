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

// BenchmarkGemmTail runs products and convolutions whose filter counts end
// on a 2- or 4-row panel (12k + 8, 12k + 4) with the level's tail kernels
// (tileRows' 8- and 10-row tiles) and without them (the panels' own
// kernels), interleaved: fp_detect's 1×1s, resnet's 128 filters,
// detypify's 16, a 16-filter stride-2 stem and resnet's 64.
func BenchmarkGemmTail(b *testing.B) {
	if ks.gemmTail[2] == nil {
		b.Skip("no tail kernels at this level")
	}
	conv := func(c, m, hw, k, s, p int) ConvParams {
		o := (hw+2*p-k)/s + 1
		return ConvParams{C: c, H: hw, W: hw, KH: k, KW: k, StrideH: s, StrideW: s, PadT: p, PadL: p, DilH: 1, DilW: 1, OutH: o, OutW: o}
	}
	for _, s := range []struct {
		name    string
		m, k, n int        // a product, when p.C is 0
		p       ConvParams // else a convolution of m filters
	}{
		{name: "gemm_m32_k16_n19200", m: 32, k: 16, n: 19200},
		{name: "gemm_m32_k32_n4800", m: 32, k: 32, n: 4800},
		{name: "gemm_m128_k576_n784", m: 128, k: 576, n: 784},
		{name: "conv_c32_m16_112", m: 16, p: conv(32, 16, 112, 3, 1, 1)},
		{name: "conv_c3_m16_240_s2", m: 16, p: conv(3, 16, 240, 3, 2, 1)},
		{name: "conv_c64_m64_56", m: 64, p: conv(64, 64, 56, 3, 1, 1)},
	} {
		r := rand.New(rand.NewPCG(1, 1))
		k, n := s.k, s.n
		if s.p.C > 0 {
			k, n = s.p.K(), s.p.N()
		}
		w, y := randSlice(r, s.m*k), make([]float32, s.m*n)
		x := randSlice(r, max(k*n, s.p.C*s.p.H*s.p.W))
		pa := PackA(false, s.m, k, 1, w, k)
		for _, tail := range []bool{false, true, false, true} {
			b.Run(fmt.Sprintf("%s/tail=%v", s.name, tail), func(b *testing.B) {
				defer func(t [mr - 1]func(int, *float32, int, *float32, int, *float32, int, bool)) { ks.gemmTail = t }(ks.gemmTail)
				if !tail {
					ks.gemmTail = [mr - 1]func(int, *float32, int, *float32, int, *float32, int, bool){}
				}
				clk := startCPU(b)
				for b.Loop() {
					if s.p.C > 0 {
						ConvPacked(y, pa, x, s.p, 1, nil)
					} else {
						SgemmPackedA(pa, false, n, x, n, nil, 0, y, n, 0, 1)
					}
					clk.lap()
				}
				reportGemm(b, clk, s.m, n, k)
			})
		}
	}
}
