package interp

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// maxRowsRef is max pooling in the row path's order: each window column's
// maximum over its rows (from −Inf, skipping NaN, keeping the first of
// equal taps), then the maximum of those along the row from the first
// column (keeping the first of equal). It differs from poolRef only in
// which of +0 and −0 a tie keeps.
func maxRowsRef(g *spatialGeom, planes int, x []float32) []float32 {
	H, W, OH, OW := g.in[0], g.in[1], g.out[0], g.out[1]
	out := make([]float32, planes*OH*OW)
	inf := float32(math.Inf(-1))
	for pl := 0; pl < planes; pl++ {
		for oh := 0; oh < OH; oh++ {
			for ow := 0; ow < OW; ow++ {
				v, first := inf, true
				for kw := 0; kw < g.kernel[1]; kw++ {
					iw := ow*g.strides[1] - g.padB[1] + kw*g.dilations[1]
					c := inf
					for kh := 0; kh < g.kernel[0]; kh++ {
						ih := oh*g.strides[0] - g.padB[0] + kh*g.dilations[0]
						if ih < 0 || ih >= H || iw < 0 || iw >= W {
							continue
						}
						if t := x[pl*H*W+ih*W+iw]; t > c {
							c = t
						}
					}
					if first || c > v {
						v, first = c, false
					}
				}
				out[pl*OH*OW+oh*OW+ow] = v
			}
		}
	}
	return out
}

// TestMaxPoolRowsExact checks pool2D's row path for max pooling (column
// maxima over the window's rows, then along the row; at stride 2 over the
// even and odd columns apart) against maxRowsRef bit for bit: resnet's
// 3×3 stride 2 pad 1, even and odd sizes, dilations, wide and tall
// kernels, strides 1–3, ceil mode, inputs full of signed zeros, ties,
// infinities and NaN.
func TestMaxPoolRowsExact(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, tc := range []struct {
		h, w           int
		kh, kw, sh, sw int
		dil            int
		pads           []int64 // top, left, bottom, right
		ceil           bool
		planes         int // 3 if 0
	}{
		{112, 112, 3, 3, 2, 2, 1, []int64{1, 1, 1, 1}, false, 0}, // resnet's
		{15, 17, 3, 3, 2, 2, 1, []int64{1, 1, 1, 1}, false, 0},
		{15, 17, 3, 3, 2, 2, 1, []int64{0, 0, 0, 0}, true, 0},
		{20, 41, 3, 3, 2, 2, 2, []int64{2, 2, 2, 2}, false, 0},
		{9, 30, 2, 5, 1, 2, 1, []int64{0, 2, 1, 2}, false, 0},
		{9, 31, 4, 4, 2, 2, 3, []int64{1, 0, 0, 3}, true, 0},
		{1, 9, 1, 3, 1, 2, 1, []int64{0, 1, 0, 1}, false, 0},
		{12, 12, 3, 3, 1, 1, 1, []int64{1, 1, 1, 1}, false, 0},
		{13, 26, 3, 3, 3, 3, 1, []int64{1, 1, 1, 1}, true, 0},
		// YOLO's SPPF and SPP: several chunks of planes in simd.MaxPool2D.
		{20, 20, 5, 5, 1, 1, 1, []int64{2, 2, 2, 2}, false, 200},
		{13, 13, 9, 9, 1, 1, 1, []int64{4, 4, 4, 4}, false, 300},
		{11, 12, 3, 3, 2, 2, 1, []int64{0, 0, 0, 0}, true, 700},
	} {
		for _, threads := range []int{1, 2} {
			name := fmt.Sprintf("%dx%d_k%dx%d_s%dx%d_d%d_p%v_ceil%v_t%d", tc.h, tc.w, tc.kh, tc.kw, tc.sh, tc.sw, tc.dil, tc.pads, tc.ceil, threads)
			t.Run(name, func(t *testing.T) {
				a := &poolAttrs{kind: poolMax, w: windowAttrs{autoPad: "NOTSET", kernel: []int64{int64(tc.kh), int64(tc.kw)},
					strides: []int64{int64(tc.sh), int64(tc.sw)}, dilations: []int64{int64(tc.dil), int64(tc.dil)}, pads: tc.pads, ceil: tc.ceil}}
				planes := max(tc.planes, 3)
				shape := []int{1, planes, tc.h, tc.w}
				x := poolInput(rng, planes*tc.h*tc.w, 3)
				g, err := a.w.geometry(shape[2:], nil)
				if err != nil {
					t.Fatal(err)
				}
				checkPoolBits(t, a, shape, x, maxRowsRef(g, planes, x), threads)
			})
		}
	}
}

// BenchmarkMaxPool times 2-D max pooling on real models' shapes.
func BenchmarkMaxPool(b *testing.B) {
	for _, tc := range []struct {
		name             string
		c, h, w, k, s, p int
		ceil             bool
	}{
		{"resnet_64x112_k3s2p1", 64, 112, 112, 3, 2, 1, false},
		{"squeeze_64x111_k3s2ceil", 64, 111, 111, 3, 2, 0, true},
		{"sppf_256x20_k5s1p2", 256, 20, 20, 5, 1, 2, false},
		{"inception_192x28_k3s1p1", 192, 28, 28, 3, 1, 1, false},
		{"yolo_512x13_k9s1p4", 512, 13, 13, 9, 1, 4, false},
	} {
		a := &poolAttrs{kind: poolMax, w: windowAttrs{autoPad: "NOTSET", kernel: []int64{int64(tc.k), int64(tc.k)},
			strides: []int64{int64(tc.s), int64(tc.s)}, dilations: []int64{1, 1},
			pads: []int64{int64(tc.p), int64(tc.p), int64(tc.p), int64(tc.p)}, ceil: tc.ceil}}
		shape := []int{1, tc.c, tc.h, tc.w}
		x := poolInput(rand.New(rand.NewSource(1)), tc.c*tc.h*tc.w, 100)
		b.Run(tc.name, func(b *testing.B) {
			g, err := a.w.geometry(shape[2:], nil)
			if err != nil {
				b.Fatal(err)
			}
			out := make([]float32, tc.c*g.out[0]*g.out[1])
			for b.Loop() {
				pool2D(a, g, tc.c, x, out, 1)
			}
		})
	}
}

// TestPool1DExact checks that 1-D max and average pooling, which run as
// 2-D pooling of one row (as2D), equal the general N-D loop bit for bit:
// kernels, strides, dilations, asymmetric pads, ceil mode and
// count_include_pad, on inputs with signed zeros, ties, infinities and NaN.
func TestPool1DExact(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, tc := range []struct {
		l, k, s, d int
		pads       []int64
		ceil, incl bool
	}{
		{100, 3, 1, 1, []int64{1, 1}, false, false},
		{101, 4, 2, 1, []int64{0, 2}, true, true},
		{64, 5, 3, 2, []int64{2, 1}, false, true},
		{17, 2, 2, 1, []int64{0, 0}, true, false},
		{9, 9, 1, 1, []int64{4, 4}, false, false},
	} {
		for _, kind := range []poolKind{poolMax, poolAvg} {
			name := fmt.Sprintf("l%d_k%d_s%d_d%d_p%v_ceil%v_incl%v_kind%d", tc.l, tc.k, tc.s, tc.d, tc.pads, tc.ceil, tc.incl, kind)
			t.Run(name, func(t *testing.T) {
				a := &poolAttrs{kind: kind, includePad: tc.incl, w: windowAttrs{autoPad: "NOTSET", kernel: []int64{int64(tc.k)},
					strides: []int64{int64(tc.s)}, dilations: []int64{int64(tc.d)}, pads: tc.pads, ceil: tc.ceil}}
				if kind == poolAvg {
					a.w.dilations = []int64{1}
				}
				shape := []int{2, 3, tc.l}
				x := poolInput(rng, 6*tc.l, 3)
				ctx := testCtx()
				_, want, _, err := pool(ctx, a, shape, x, true) // indices: the general loop
				if err != nil {
					t.Fatal(err)
				}
				checkPoolBits(t, a, shape, x, want, 1)
			})
		}
	}
}
