package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestDepthwiseChanExact checks the channel-lane depthwise path at every
// level against dwPoint bit for bit: channel counts that leave every kind
// of last block (1, 15, 16, 17, 40 channels), plane sizes that leave output
// tails of every length in a 16-output step, kernels, strides, dilations
// and asymmetric pads (inputs no output reads included), NaN and signed
// zeros, one and two threads; and that done sees each channel once, after
// it is written.
func TestDepthwiseChanExact(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	shapes := []window{
		{3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
		{5, 5, 1, 1, 1, 1, 2, 2, 2, 2}, {5, 5, 2, 2, 1, 1, 2, 2, 2, 2}, {3, 3, 1, 1, 2, 2, 2, 2, 2, 2},
		{1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {2, 4, 2, 3, 2, 1, 1, 0, 0, 3}, {3, 3, 3, 3, 1, 1, 0, 0, 2, 2},
		{7, 7, 1, 1, 1, 1, 0, 0, 0, 0}, {4, 4, 1, 1, 1, 1, 0, 0, 0, 0}, {1, 9, 1, 1, 1, 1, 0, 4, 0, 4},
	}
	checked := 0
	for _, k := range twins() {
		if k.dwcOut == nil {
			continue
		}
		with(k, func() {
			for i, s := range shapes {
				for _, hw := range [][2]int{{1, 1}, {4, 4}, {7, 7}, {8, 5}, {14, 14}, {13, 16}, {9, 11}} {
					for _, c := range []int{1, 15, 16, 17, 40} {
						p := s.params(c, hw[0], hw[1])
						if p.OutH < 1 || p.OutW < 1 {
							continue
						}
						if !useDwChan(&p) && c > 1 {
							t.Fatalf("%s %v: not on the channel-lane path", k.name, p)
						}
						x, w, b := randSlice(r, p.C*p.H*p.W), randSlice(r, p.C*p.KH*p.KW), randSlice(r, p.C)
						x[r.IntN(len(x))] = float32(math.NaN())
						x[r.IntN(len(x))] = float32(math.Copysign(0, -1))
						w[r.IntN(len(w))] = float32(math.Inf(1))
						y := make([]float32, p.C*p.N())
						for i := range y {
							y[i] = float32(math.NaN())
						}
						seen := make([]int, p.C)
						threads := 1 + i%2
						DepthwiseConv2D(y, x, w, b, p, threads, func(c0, c1 int) {
							for c := c0; c < c1; c++ {
								seen[c]++
								if v := y[(c+1)*p.N()-1]; v != v && !math.IsNaN(float64(dwPoint(x[c*p.H*p.W:], w[c*p.KH*p.KW:], b[c], &p, p.OutH-1, p.OutW-1))) {
									t.Errorf("%s %v: done(%d, %d) before channel %d was written", k.name, p, c0, c1, c)
								}
							}
						})
						checked++
						for c := 0; c < p.C; c++ {
							if seen[c] != 1 {
								t.Fatalf("%s %v: done saw channel %d %d times", k.name, p, c, seen[c])
							}
						}
						checkDwPoint(t, k.name, y, x, w, b, &p)
					}
				}
			}
		})
	}
	if checked < 300 {
		t.Errorf("only %d convolutions checked", checked)
	}
}

// TestDwChanTwins compares every level's channel-lane kernels with their
// pure-Go twins bit for bit (NaN payloads included) on random offsets,
// every channel count and position counts that leave every tail.
func TestDwChanTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	const xStride, slots = 50, 64 // slots of 16 floats, enough for any L
	nan1, nan2 := math.Float32frombits(0x7fc00001), math.Float32frombits(0xffc00abc)
	for _, k := range twins() {
		if k.dwcIn == nil || k == goKernels {
			continue
		}
		L := k.dwcLanes
		inGo, outGo := dwcInGo(L), dwcOutGo(L)
		for nch := 1; nch <= L; nch++ {
			for _, n := range []int{0, 1, 5, 15, 16, 17, 31, 33, 50} {
				x := randSlice(r, 16*xStride)
				x[r.IntN(len(x))], x[r.IntN(len(x))] = nan1, nan2
				offs := make([]int32, n)
				// Distinct slots so that the order of stores does not matter.
				perm := r.Perm(slots)
				for i := range offs {
					offs[i] = int32(L * perm[i%slots])
				}
				want, got := randSlice(r, 16*slots), make([]float32, 16*slots)
				copy(got, want)
				inGo(&want[0], &x[0], xStride, nch, offs)
				k.dwcIn(&got[0], &x[0], xStride, nch, offs)
				same(t, fmt.Sprintf("%s dwcIn nch=%d n=%d", k.name, nch, n), got, want, false)

				taps := 1 + r.IntN(11)
				src := randSlice(r, 16*slots+16*40)
				src[r.IntN(len(src))], src[r.IntN(len(src))] = nan1, nan2
				w, bias := randSlice(r, L*taps), randSlice(r, L)
				w[r.IntN(len(w))] = nan2
				tapOffs, outOffs := make([]int32, taps), make([]int32, n)
				for i := range tapOffs {
					tapOffs[i] = int32(L * r.IntN(40))
				}
				for i := range outOffs {
					outOffs[i] = int32(L * r.IntN(slots))
				}
				const yStride = 53
				yw, yg := randSlice(r, 16*yStride), make([]float32, 16*yStride)
				copy(yg, yw)
				outGo(&yw[0], yStride, nch, &src[0], outOffs, tapOffs, &w[0], &bias[0])
				k.dwcOut(&yg[0], yStride, nch, &src[0], outOffs, tapOffs, &w[0], &bias[0])
				// Where two NaNs meet, which payload wins is not defined
				// (as for the row kernels): any NaN for a NaN there.
				same(t, fmt.Sprintf("%s dwcOut nch=%d n=%d taps=%d", k.name, nch, n, taps), yg, yw, true)
			}
		}
	}
}

// same fails t unless got and want hold the same bits (with anyNaN, any
// NaN for a NaN).
func same(t *testing.T, what string, got, want []float32, anyNaN bool) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(anyNaN && got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("%s: [%d] = %v (%#x), want %v (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}
