package interp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCol2imPhased checks the phased col2im (strided taps summed as
// contiguous phases, then interleaved) against the direct one on
// transposed-convolution geometries of 1 to 3 axes: strides 2 to 4 with
// kernels wider than them, dilations, uneven and negative pads, output
// padding, and a channel range as a thread gets it. The sums are in the
// same order per output (one add per tap in tap order), so the results
// agree bit for bit.
func TestCol2imPhased(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		in, kernel         []int
		strides, dil, pads []int64
		outPad             []int64
	}{
		{[]int{7, 9}, []int{4, 4}, []int64{2, 2}, nil, []int64{1, 1, 1, 1}, nil},
		{[]int{5, 6}, []int{3, 3}, []int64{2, 2}, nil, []int64{1, 1, 1, 1}, []int64{1, 1}},
		{[]int{4, 8}, []int{3, 5}, []int64{1, 3}, []int64{1, 2}, []int64{0, 2, 1, 0}, nil},
		{[]int{11}, []int{7}, []int64{4}, nil, []int64{3, 2}, []int64{3}},
		{[]int{3, 4, 5}, []int{2, 3, 4}, []int64{2, 2, 3}, nil, []int64{0, 1, 2, 1, 0, 1}, nil},
		{[]int{6, 6}, []int{5, 5}, []int64{2, 2}, []int64{2, 2}, []int64{-1, 3, 2, -1}, nil},
	}
	for i, tc := range cases {
		a := &convTransAttrs{w: windowAttrs{autoPad: "NOTSET", strides: tc.strides, dilations: tc.dil, pads: tc.pads}, group: 1, outPad: tc.outPad}
		g, err := convTransposeGeom(a, tc.in, tc.kernel)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		const channels = 3
		isz, osz, kvol := prod(tc.in), prod(g.in), prod(tc.kernel)
		col := make([]float32, channels*kvol*isz)
		for j := range col {
			col[j] = float32(rng.NormFloat64())
		}
		want := make([]float32, channels*osz)
		col2im(col, channels, g, want)
		for _, c0 := range []int{0, 1} { // all channels, or the last two as a thread's range
			got := make([]float32, (channels-c0)*osz)
			for j := range got {
				got[j] = 99 // every output is written
			}
			col2imPhased(col[c0*kvol*isz:], channels-c0, g, got, make([]float32, len(got)+5))
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(want[c0*osz+j]) {
					t.Fatalf("case %d (output %v) channels from %d: [%d] = %v, want %v", i, g.in, c0, j, got[j], want[c0*osz+j])
				}
			}
		}
	}
}
