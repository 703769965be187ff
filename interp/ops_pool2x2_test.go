package interp

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// poolRef is 2-D max or average pooling by the definition, one output at a
// time: the window's taps inside the input in row-major order (a maximum
// that skips NaN and keeps the first of equal taps, a float32 sum from +0),
// the mean over the taps inside the input, or inside the padded extent with
// count_include_pad.
func poolRef(a *poolAttrs, g *spatialGeom, planes int, x []float32) []float32 {
	H, W, OH, OW := g.in[0], g.in[1], g.out[0], g.out[1]
	out := make([]float32, planes*OH*OW)
	for pl := 0; pl < planes; pl++ {
		for oh := 0; oh < OH; oh++ {
			for ow := 0; ow < OW; ow++ {
				v, s, n, nPad := float32(math.Inf(-1)), float32(0), 0, 0
				for kh := 0; kh < g.kernel[0]; kh++ {
					for kw := 0; kw < g.kernel[1]; kw++ {
						ih := oh*g.strides[0] - g.padB[0] + kh*g.dilations[0]
						iw := ow*g.strides[1] - g.padB[1] + kw*g.dilations[1]
						if ih >= -g.padB[0] && ih < H+g.padE[0] && iw >= -g.padB[1] && iw < W+g.padE[1] {
							nPad++
						}
						if ih < 0 || ih >= H || iw < 0 || iw >= W {
							continue
						}
						t := x[pl*H*W+ih*W+iw]
						if t > v {
							v = t
						}
						s += t
						n++
					}
				}
				if a.kind == poolAvg {
					if a.includePad {
						n = nPad
					}
					v = 0
					if n > 0 {
						v = s / float32(n)
					}
				}
				out[pl*OH*OW+oh*OW+ow] = v
			}
		}
	}
	return out
}

// TestPool2x2Exact checks the 2×2 stride-2 pooling path against the
// definition bit for bit: odd and even sizes, planes of one row or column,
// every padding side, ceil mode, count_include_pad, and inputs full of
// signed zeros, ties, infinities and NaN.
func TestPool2x2Exact(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 3e-39}
	for _, tc := range []struct {
		h, w  int
		pads  []int64 // top, left, bottom, right
		ceil  bool
		incl  bool
		plane int // planes; 0: one plane of -0
	}{
		{64, 64, []int64{0, 0, 0, 0}, false, false, 3},
		{2, 2, []int64{0, 0, 0, 0}, false, false, 2},
		{16, 16, []int64{0, 0, 0, 0}, false, false, 5}, // one call for the planes, masked rows of 8
		{10, 46, []int64{0, 0, 0, 0}, false, false, 3}, // rows of 16 and a tail of 7
		{11, 46, []int64{0, 0, 0, 0}, false, false, 3}, // odd height: a call a plane
		{5, 7, []int64{0, 0, 0, 0}, false, false, 2},
		{5, 7, []int64{0, 0, 0, 0}, true, false, 2},
		{5, 7, []int64{0, 0, 0, 0}, true, true, 2},
		{6, 9, []int64{1, 1, 1, 1}, false, false, 2},
		{6, 9, []int64{1, 1, 1, 1}, false, true, 2},
		{7, 6, []int64{1, 0, 0, 1}, true, false, 2},
		{8, 8, []int64{0, 1, 1, 0}, false, true, 2},
		{1, 9, []int64{1, 0, 0, 0}, false, false, 2},
		{9, 1, []int64{0, 1, 0, 1}, true, true, 2},
		{33, 40, []int64{0, 0, 1, 1}, false, false, 17},
		{3, 3, []int64{1, 1, 1, 1}, true, false, 1},
		{4, 6, []int64{0, 0, 0, 0}, false, false, 0}, // all -0: the sum from +0 is +0
	} {
		for _, kind := range []poolKind{poolMax, poolAvg} {
			for _, threads := range []int{1, 2} {
				name := fmt.Sprintf("%dx%d_p%v_ceil%v_incl%v_kind%d_t%d", tc.h, tc.w, tc.pads, tc.ceil, tc.incl, kind, threads)
				t.Run(name, func(t *testing.T) {
					a := &poolAttrs{kind: kind, includePad: tc.incl, w: windowAttrs{autoPad: "NOTSET",
						kernel: []int64{2, 2}, strides: []int64{2, 2}, pads: tc.pads, ceil: tc.ceil}}
					planes := max(tc.plane, 1)
					shape := []int{1, planes, tc.h, tc.w}
					x := make([]float32, planes*tc.h*tc.w)
					for i := range x {
						if tc.plane == 0 {
							x[i] = float32(math.Copysign(0, -1))
							continue
						}
						if rng.Intn(3) == 0 {
							x[i] = special[rng.Intn(len(special))]
						} else {
							x[i] = float32(rng.Intn(7) - 3) // ties
						}
						if rng.Intn(2) == 0 {
							x[i] = float32(rng.NormFloat64())
						}
					}
					g, err := a.w.geometry(shape[2:], nil)
					if err != nil {
						t.Fatal(err)
					}
					checkPoolBits(t, a, shape, x, poolRef(a, g, planes, x), threads)
				})
			}
		}
	}
}

// poolInput makes n pooling inputs: one in oneIn a special value (signed
// zeros, ±1, infinities, NaN), one in oneIn a small integer (ties), the
// rest normal.
func poolInput(rng *rand.Rand, n, oneIn int) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	x := make([]float32, n)
	for i := range x {
		switch rng.Intn(oneIn) {
		case 0:
			x[i] = special[rng.Intn(len(special))]
		case 1:
			x[i] = float32(rng.Intn(5) - 2) // ties
		default:
			x[i] = float32(rng.NormFloat64())
		}
	}
	return x
}

// checkPoolBits runs pool on x with threads and compares with want bit
// for bit.
func checkPoolBits(t *testing.T, a *poolAttrs, shape []int, x, want []float32, threads int) {
	t.Helper()
	ctx := testCtx()
	ctx.opts.Threads = threads
	outShape, got, _, err := pool(ctx, a, shape, x, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d outputs, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("output %d (of %v): %v (%#x), want %v (%#x)", i, outShape, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// TestPoolInsideExact checks the register paths for windows inside the
// input that are few a row or far apart (simd.SumPool2D's sums and
// maxPoolInside) against the definition bit for bit, with signed zeros,
// ties, infinities and NaN.
func TestPoolInsideExact(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, tc := range []struct {
		h, w, kh, kw, sh, sw, d, planes int
	}{
		{32, 32, 8, 8, 8, 8, 1, 10}, {16, 16, 4, 4, 4, 4, 1, 10}, {7, 7, 7, 7, 7, 7, 1, 33},
		{30, 30, 3, 3, 3, 3, 1, 4}, {33, 33, 5, 5, 4, 4, 1, 3}, {20, 20, 3, 3, 3, 3, 2, 2},
		{14, 14, 3, 3, 2, 2, 1, 5}, {9, 31, 2, 3, 3, 4, 1, 3}, {5, 5, 5, 5, 5, 5, 1, 1},
	} {
		for _, kind := range []poolKind{poolMax, poolAvg} {
			for _, threads := range []int{1, 2} {
				t.Run(fmt.Sprintf("%dx%d_k%dx%d_s%dx%d_d%d_kind%d_t%d", tc.h, tc.w, tc.kh, tc.kw, tc.sh, tc.sw, tc.d, kind, threads), func(t *testing.T) {
					d := int64(tc.d)
					a := &poolAttrs{kind: kind, w: windowAttrs{autoPad: "NOTSET", kernel: []int64{int64(tc.kh), int64(tc.kw)},
						strides: []int64{int64(tc.sh), int64(tc.sw)}, dilations: []int64{d, d}}}
					shape := []int{1, tc.planes, tc.h, tc.w}
					x := poolInput(rng, tc.planes*tc.h*tc.w, 4)
					g, err := a.w.geometry(shape[2:], nil)
					if err != nil {
						t.Fatal(err)
					}
					checkPoolBits(t, a, shape, x, poolRef(a, g, tc.planes, x), threads)
				})
			}
		}
	}
}
