package quantize

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQuantSymmetric checks quantSymmetric against the spec's arithmetic
// element by element: per tensor and per channel on every axis (the last
// one, with a channel per element of a row, included), more threads than
// rows, NaN and infinite weights, an all-zero channel.
func TestQuantSymmetric(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, dims := range [][]int64{{7}, {1, 5}, {5, 1}, {3, 4, 5}, {64, 33}, {2, 3, 4, 5}} {
		n := 1
		for _, d := range dims {
			n *= int(d)
		}
		for axis := -1; axis < len(dims); axis++ {
			w := make([]float32, n)
			for i := range w {
				w[i] = float32(r.NormFloat64() * 3)
			}
			w[0] = float32(math.Inf(-1))
			if n > 3 {
				w[n/2] = float32(math.NaN())
			}
			nch, inner := 1, n
			if axis >= 0 {
				nch, inner = axisLayout(dims, axis)
			}
			ch := func(i int) int { return (i / inner) % nch }
			if axis >= 0 && nch > 1 {
				for i := range w { // channel 1 all zeros
					if ch(i) == 1 {
						w[i] = 0
					}
				}
			}
			q, s := quantSymmetric(w, dims, axis, 127)
			amax := make([]float64, nch)
			for i, v := range w {
				amax[ch(i)] = max(amax[ch(i)], math.Abs(float64(v)))
			}
			for c, a := range amax {
				want := float32(a / 127)
				if want == 0 || math.IsNaN(float64(want)) {
					want = 1
				}
				if math.Float32bits(s[c]) != math.Float32bits(want) {
					t.Fatalf("dims %v axis %d: scale[%d] = %v, want %v", dims, axis, c, s[c], want)
				}
			}
			for i, v := range w {
				x := math.RoundToEven(float64(v) / float64(s[ch(i)]))
				if want := int8(min(max(x, -127), 127)); q[i] != want {
					t.Fatalf("dims %v axis %d: q[%d] = %d, want %d (w %v)", dims, axis, i, q[i], want, v)
				}
			}
		}
	}
}
