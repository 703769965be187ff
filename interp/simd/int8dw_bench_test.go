package simd

import (
	"fmt"
	"testing"
)

// BenchmarkDepthwiseQ8 times the int8 depthwise path (sums and the
// requantizing epilogue) beside the float one (DequantizeU8, the float
// kernel, QuantizeU8) on mobilenet_v2's depthwise shapes.
func BenchmarkDepthwiseQ8(b *testing.B) {
	for _, s := range []struct{ c, hw, stride int }{{32, 112, 1}, {96, 112, 2}, {144, 56, 1}, {576, 14, 1}, {960, 7, 1}} {
		p := ConvParams{C: s.c, H: s.hw, W: s.hw, KH: 3, KW: 3, StrideH: s.stride, StrideW: s.stride, PadT: 1, PadL: 1, DilH: 1, DilW: 1}
		p.OutH = (s.hw+2-3)/s.stride + 1
		p.OutW = p.OutH
		x := make([]byte, p.C*p.H*p.W)
		for i := range x {
			x[i] = byte(i * 7)
		}
		w := make([]float32, p.C*9)
		for i := range w {
			w[i] = float32(i%17 - 8)
		}
		out := make([]byte, p.C*p.N())
		b.Run(fmt.Sprintf("q8/c%d_%d_s%d", s.c, s.hw, s.stride), func(b *testing.B) {
			for range b.N {
				DepthwiseQ8(x, false, 3, w, p, 1, func(c int, acc []float32) {
					Requant8U8(out[c*p.N():(c+1)*p.N()], acc, 0.001, 0.5, 0, 6, 0.02, 3)
				})
			}
		})
		xf := make([]float32, len(x))
		y := make([]float32, len(out))
		b.Run(fmt.Sprintf("float/c%d_%d_s%d", s.c, s.hw, s.stride), func(b *testing.B) {
			for range b.N {
				DequantizeU8(xf, x, 3, 0.01)
				DepthwiseConv2D(y, xf, w, nil, p, 1, func(c0, c1 int) {
					yc := y[c0*p.N() : c1*p.N()]
					BiasClip(yc, yc, 0.5, 0, 6)
				})
				QuantizeU8(out, y, 0.02, 3)
			}
		})
	}
}
