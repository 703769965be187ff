package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestScaleShiftClipRows: at every level, ScaleShiftClipRows and
// ScaleShiftRows give bit for bit what that level's ScaleShiftClip and
// ScaleShift give a row at a time, and ScaleShiftRows with scale 1 what
// AddScalar gives (the levels differ from each other by the FMA's
// rounding, as ScaleShiftClip's do) — rows of every length
// around the vector width, a stride wider than the row, one scale for all
// rows (sstep 0) or one a row, NaN, ±0 and infinite bounds — and leaves
// the floats between rows alone.
func TestScaleShiftClipRows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	inf := float32(math.Inf(1))
	for _, n := range []int{1, 7, 15, 16, 17, 31, 32, 49, 70} {
		for _, sstep := range []int{0, 1} {
			for _, b := range [][2]float32{{0, 6}, {0, inf}, {-inf, inf}, {-1, 0.5}} {
				rows, ldy := 5, n+3
				y0 := randSlice(r, (rows-1)*ldy+n)
				y0[0], y0[n/2] = float32(math.NaN()), float32(math.Copysign(0, -1))
				s, sh := randSlice(r, rows), randSlice(r, rows)
				for _, k := range twins() {
					// The reference: the level's ScaleShiftClip a row.
					want := append([]float32(nil), y0...)
					want2 := append([]float32(nil), y0...)
					wantAdd := append([]float32(nil), y0...)
					with(k, func() {
						for j := range rows {
							row := want[j*ldy : j*ldy+n]
							ScaleShiftClip(row, row, s[j*sstep], sh[j], b[0], b[1])
							row = want2[j*ldy : j*ldy+n]
							ScaleShift(row, row, s[j*sstep], sh[j])
							row = wantAdd[j*ldy : j*ldy+n]
							AddScalar(row, row, sh[j])
						}
					})
					got := append([]float32(nil), y0...)
					got2 := append([]float32(nil), y0...)
					gotAdd := append([]float32(nil), y0...)
					with(k, func() {
						ScaleShiftClipRows(got, ldy, rows, n, s, sstep, sh, b[0], b[1])
						ScaleShiftRows(got2, ldy, rows, n, s, sstep, sh)
						ScaleShiftRows(gotAdd, ldy, rows, n, []float32{1}, 0, sh)
					})
					for i := range got {
						for _, c := range []struct {
							what      string
							got, want []float32
						}{{"ScaleShiftClipRows", got, want}, {"ScaleShiftRows", got2, want2}, {"ScaleShiftRows as AddScalar", gotAdd, wantAdd}} {
							if math.Float32bits(c.got[i]) != math.Float32bits(c.want[i]) {
								t.Fatalf("%s %s, n=%d sstep=%d bounds %v: [%d] = %v, want %v", k.name, c.what, n, sstep, b, i, c.got[i], c.want[i])
							}
						}
					}
				}
			}
		}
	}
	for _, bad := range []func(){
		func() { ScaleShiftClipRows(make([]float32, 9), 5, 2, 5, []float32{1}, 1, []float32{0, 0}, 0, 1) },
		func() { ScaleShiftClipRows(make([]float32, 10), 5, 2, 5, []float32{1}, 1, []float32{0, 0}, 0, 1) },
		func() { ScaleShiftClipRows(make([]float32, 10), 4, 2, 5, []float32{1, 1}, 1, []float32{0, 0}, 0, 1) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || fmt.Sprint(r) == "" {
					t.Fatal("a short or overlapping block did not panic")
				}
			}()
			bad()
		}()
	}
}
