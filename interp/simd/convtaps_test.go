package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestConvTapsSameBits checks the implicit-GEMM path (convolutions whose
// panels each lie in one output row) against the im2col copy it replaces,
// bit for bit, at every level, one and two threads, and against the direct
// convolution; strides, dilation, padding, non-square kernels, filter
// counts that leave 1–6-row tails.
func TestConvTapsSameBits(t *testing.T) {
	defer func(v bool) { implicitGEMM = v }(implicitGEMM)
	r := rand.New(rand.NewPCG(41, 42))
	cp := func(c, h, w, kh, kw, sh, sw, pt, pl, dh, dw int) ConvParams {
		p := ConvParams{C: c, H: h, W: w, KH: kh, KW: kw, StrideH: sh, StrideW: sw, PadT: pt, PadL: pl, DilH: dh, DilW: dw}
		p.OutH = (h+2*pt-dh*(kh-1)-1)/sh + 1
		p.OutW = (w+2*pl-dw*(kw-1)-1)/sw + 1
		return p
	}
	shapes := []ConvParams{
		cp(5, 20, 32, 3, 3, 1, 1, 1, 1, 1, 1),   // OutW 32: every panel in a row
		cp(3, 17, 64, 3, 3, 2, 2, 1, 1, 1, 1),   // stride 2, OutW 32
		cp(4, 24, 52, 3, 3, 1, 1, 2, 2, 2, 2),   // dilation 2, OutW 52: rows split panels (im2col)
		cp(2, 9, 48, 1, 5, 1, 1, 0, 2, 1, 1),    // 1×5, OutW 48
		cp(40, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1),  // K 360: three K blocks, OutW 16
		cp(3, 40, 100, 7, 7, 2, 3, 3, 3, 1, 1),  // stride (2,3), OutW 33
		cp(6, 33, 131, 3, 3, 1, 4, 1, 1, 1, 1),  // stride (1,4), OutW 33
		cp(1, 100, 128, 3, 3, 2, 2, 0, 0, 1, 1), // one channel, OutW 63
	}
	for _, k := range twins() {
		with(k, func() {
			for _, p := range shapes {
				// The panels lie in output rows exactly when OutW is a
				// multiple of 16: the implicit path must be taken there.
				l := newColLayout(&p)
				ws := &workspace{}
				planes := aligned(&ws.b, l.floats())
				taps := im2colTaps(&ws.rows, planes, &l)
				inRow := ks.gemm12Taps != nil && p.OutW%nr == 0
				if got := tapsChunk(&l, taps, 0, p.N()/(2*nr)*(2*nr)); got != inRow {
					t.Fatalf("%s %+v: tapsChunk = %v, want %v", k.name, p, got, inRow)
				}
				for _, M := range []int{1, 5, 16, 19} {
					x, w := randSlice(r, p.C*p.H*p.W), randSlice(r, M*p.K())
					ref, mag := naiveConv(x, w, nil, M, p, false)
					pa := PackA(false, M, p.K(), 1, w, p.K())
					var want []float32
					for _, implicit := range []bool{false, true} {
						for _, th := range []int{1, 2} {
							implicitGEMM = implicit
							y := randSlice(r, M*p.N())
							ConvPacked(y, pa, x, p, th, nil)
							where := fmt.Sprintf("%s %+v M=%d implicit=%v threads=%d", k.name, p, M, implicit, th)
							for i := range y {
								if d := math.Abs(float64(y[i]) - ref[i]); !(d <= gemmTol(p.K(), mag[i])) {
									t.Fatalf("%s: y[%d] = %v, want %v", where, i, y[i], ref[i])
								}
							}
							if want == nil {
								want = y
								continue
							}
							for i := range y {
								if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
									t.Fatalf("%s: y[%d] = %v, im2col on one thread %v", where, i, y[i], want[i])
								}
							}
						}
					}
				}
			}
		})
	}
}
