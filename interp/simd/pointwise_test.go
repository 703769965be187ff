package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestConvPointwiseSameBits checks ConvPointwise at every level against
// the naive sums and bit for bit against ConvPacked (im2col) at the same
// level: strides 1–3 and (2,1), padding up to wider than the stride,
// chunks of whole and ragged widths, 4-KiB-apart rows, K blocks, 1 and 2
// threads, every output finished by done exactly once, NaN carried.
func TestConvPointwiseSameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	cp := func(c, h, w, sh, sw, pt, pl int) ConvParams {
		p := ConvParams{C: c, H: h, W: w, KH: 1, KW: 1, StrideH: sh, StrideW: sw, PadT: pt, PadL: pl, DilH: 1, DilW: 1}
		p.OutH = (h+2*pt-1)/sh + 1
		p.OutW = (w+2*pl-1)/sw + 1
		return p
	}
	shapes := []ConvParams{
		cp(64, 56, 56, 2, 2, 0, 0),   // ResNet's shortcut: OutW 28
		cp(16, 130, 130, 2, 2, 0, 0), // 65² outputs: chunks of 1536 (M 48) columns
		cp(8, 40, 40, 1, 1, 1, 1),    // stride 1, padded: zero border
		cp(24, 29, 29, 3, 3, 1, 1),   // stride 3, padded
		cp(20, 17, 17, 2, 1, 2, 2),   // stride (2,1), padding wider than the stride
		cp(5, 9, 7, 2, 2, 3, 3),      // whole output rows in the padding
		cp(300, 14, 14, 2, 2, 0, 0),  // K 300: K blocks
		cp(3, 1, 31, 1, 2, 0, 0),     // one row (a 1-D conv)
	}
	for _, k := range twins() {
		with(k, func() {
			for _, p := range shapes {
				for _, M := range []int{1, 7, 32, 48} {
					x, w := randSlice(r, p.C*p.H*p.W), randSlice(r, M*p.K())
					x[r.IntN(len(x))] = float32(math.NaN())
					ref, mag := naiveConv(x, w, nil, M, p, false)
					pa := PackA(false, M, p.K(), 1, w, p.K())
					want := randSlice(r, M*p.N())
					ConvPacked(want, pa, x, p, 1, nil)
					for _, th := range []int{1, 2} {
						where := fmt.Sprintf("%s %+v M=%d threads=%d", k.name, p, M, th)
						y := randSlice(r, M*p.N())
						seen := make([]int, len(y))
						ConvPointwise(y, pa, x, p, th, func(r0, r1, q0, q1 int) {
							for i := r0; i < r1; i++ {
								for q := q0; q < q1; q++ {
									seen[i*p.N()+q]++ // one goroutine a block: no race
								}
							}
						})
						for i := range y {
							if seen[i] != 1 {
								t.Fatalf("%s: output %d finished %d times", where, i, seen[i])
							}
							if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s: y[%d] = %v, ConvPacked %v", where, i, y[i], want[i])
							}
							nan := math.IsNaN(ref[i])
							if d := math.Abs(float64(y[i]) - ref[i]); nan != math.IsNaN(float64(y[i])) || !nan && !(d <= gemmTol(p.K(), mag[i])) {
								t.Fatalf("%s: y[%d] = %v, want %v", where, i, y[i], ref[i])
							}
						}
					}
				}
			}
		})
	}
}
