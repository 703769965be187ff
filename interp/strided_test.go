package interp

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestStridedCopyRows checks stridedCopy against an element-by-element
// walk on views whose inner rows are 1–9 long (copyBlock's cases, the
// pointer-walking rows of two and four among them), with forward and
// backward (negative-stride) rows, broadcast reads (stride 0) and
// element types of 1, 2, 4 and 8 bytes.
func TestStridedCopyRows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for _, n := range []int{1, 2, 3, 4, 5, 8, 9} {
		for _, m := range []int{1, 2, 7, 300} {
			for _, rev := range []bool{false, true} {
				for _, inner := range []int{1, 0, 3} { // the source's inner stride
					shape := []int{3, m, n}
					// The source holds the view's rows spread out (a slice of
					// wider rows), read backwards when rev.
					width := n*max(inner, 1) + 2
					srcLen := 3 * m * width
					sSt := []int{m * width, width, inner}
					sOff := 1
					if rev {
						sSt[1] = -width
						sOff = (m-1)*width + 1
					}
					dSt := []int{m * n, n, 1}
					name := fmt.Sprintf("n%d_m%d_rev%v_inner%d", n, m, rev, inner)
					t.Run(name, func(t *testing.T) {
						check := func(dst, src any, get func(any, int) float64) {
							stridedCopy(dst, src, shape, 0, dSt, sOff, sSt)
							for a := 0; a < 3; a++ {
								for i := 0; i < m; i++ {
									for k := 0; k < n; k++ {
										want := get(src, sOff+a*sSt[0]+i*sSt[1]+k*sSt[2])
										if got := get(dst, a*dSt[0]+i*dSt[1]+k); got != want {
											t.Fatalf("[%d,%d,%d] = %v, want %v", a, i, k, got, want)
										}
									}
								}
							}
						}
						f32 := make([]float32, srcLen)
						i8 := make([]int8, srcLen)
						u16 := make([]uint16, srcLen)
						i64 := make([]int64, srcLen)
						for i := range f32 {
							f32[i] = r.Float32()
							i8[i], u16[i], i64[i] = int8(r.IntN(256)-128), uint16(r.IntN(1<<16)), r.Int64()
						}
						check(make([]float32, 3*m*n), f32, func(s any, i int) float64 { return float64(s.([]float32)[i]) })
						check(make([]int8, 3*m*n), i8, func(s any, i int) float64 { return float64(s.([]int8)[i]) })
						check(make([]uint16, 3*m*n), u16, func(s any, i int) float64 { return float64(s.([]uint16)[i]) })
						check(make([]int64, 3*m*n), i64, func(s any, i int) float64 { return float64(s.([]int64)[i]) })
					})
				}
			}
		}
	}
}
