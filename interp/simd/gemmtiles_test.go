package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// TestSgemmRowsTiles: a product whose B comes a tile at a time gives at
// every level, on one thread and two, the bits of SgemmRows with B whole:
// ragged row counts (not a multiple of eight) and widths (not of 16, over
// a panel), NaN and infinities in B; tiles never exceed eight rows by a
// panel.
func TestSgemmRowsTiles(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	shapes := [][3]int{{1, 2048, 64}, {4, 1030, 37}, {8, 300, 8}, {3, 64, 5}, {2, 17, 3}, {16, 2500, 21}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		b[n+3], b[len(b)-1] = float32(math.NaN()), float32(math.Inf(-1))
		for _, lv := range twins() {
			with(lv, func() {
				for _, th := range []int{1, 2} {
					want := make([]float32, m*n)
					SgemmRows(false, false, m, n, k, 1, a, k, b, n, 0, want, n, th)
					var calls atomic.Int64
					got := randSlice(r, m*n) // overwritten
					SgemmRowsTiles(m, n, k, a, k, func(dst []float32, p0, p1, j0, j1 int) {
						calls.Add(1)
						w := j1 - j0
						if p1-p0 > 8 || w > gemvPanel || len(dst) != (p1-p0)*w {
							panic(fmt.Sprintf("tile rows %d…%d, columns %d…%d, %d floats", p0, p1, j0, j1, len(dst)))
						}
						for p := p0; p < p1; p++ {
							copy(dst[(p-p0)*w:(p-p0+1)*w], b[p*n+j0:p*n+j1])
						}
					}, got, n, th)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %v threads=%d: [%d] = %v, want %v", lv.name, s, th, i, got[i], want[i])
						}
					}
					if calls.Load() == 0 {
						t.Fatalf("%v: no tile asked for", s)
					}
				}
			})
		}
	}
}

// TestWiden4Twins: every level widens packed 4-bit values, signed and
// unsigned, from any first value (odd: a high nibble) and any count, to
// the float32 of what ONNX's packing holds (low nibble first), the bytes
// around untouched.
func TestWiden4Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(49, 50))
	x := make([]byte, 600)
	for i := range x {
		x[i] = byte(r.IntN(256))
	}
	for _, lv := range twins() {
		with(lv, func() {
			for _, signed := range []bool{true, false} {
				for _, first := range []int{0, 1, 2, 7, 33} {
					for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 100, 1000} {
						dst := make([]float32, n+2)
						dst[0], dst[n+1] = -99, -99
						Widen4(dst[1:n+1], x, first, signed)
						for i := range n {
							v := x[(first+i)/2] >> (4 * ((first + i) % 2)) & 15
							want := float32(v)
							if signed && v >= 8 {
								want -= 16
							}
							if dst[1+i] != want {
								t.Fatalf("%s signed=%v first=%d n=%d: [%d] = %v, want %v", lv.name, signed, first, n, i, dst[1+i], want)
							}
						}
						if dst[0] != -99 || dst[n+1] != -99 {
							t.Fatalf("%s signed=%v first=%d n=%d: wrote outside dst", lv.name, signed, first, n)
						}
					}
				}
			}
		})
	}
}
