package interp

import (
	"fmt"
	"math"
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

// TestStridedCopyTranspose checks stridedCopy's general case (a gather,
// as a transpose reads) against an element walk, on NCHW → NHWC views of
// a few sizes and one with a negative stride.
func TestStridedCopyTranspose(t *testing.T) {
	for _, sh := range [][3]int{{12, 30, 40}, {4, 15, 20}, {3, 1, 7}, {1, 5, 5}, {17, 3, 2}} {
		c, h, w := sh[0], sh[1], sh[2]
		src := make([]float32, c*h*w)
		for i := range src {
			src[i] = float32(i) + 0.5
		}
		for _, rev := range []bool{false, true} {
			// dst[y][x][ch] = src[ch][y][x], x backwards when rev.
			shape, dSt, sSt, sOff := []int{h, w, c}, []int{w * c, c, 1}, []int{w, 1, h * w}, 0
			if rev {
				sSt[1], sOff = -1, w-1
			}
			dst := make([]float32, c*h*w)
			stridedCopy(dst, src, shape, 0, dSt, sOff, sSt)
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					for ch := 0; ch < c; ch++ {
						want := src[sOff+y*sSt[0]+x*sSt[1]+ch*sSt[2]]
						if got := dst[y*w*c+x*c+ch]; got != want {
							t.Fatalf("%v rev=%v: [%d,%d,%d] = %v, want %v", sh, rev, y, x, ch, got, want)
						}
					}
				}
			}
		}
	}
}

// TestTransposeBlock checks copyBlock's transposes (simd.Transpose for
// 4-byte words) in both orientations, on blocks with whole tiles, ragged
// edges and padded strides, float32 with a NaN payload and int32, against
// an element walk; nothing outside the block may change.
func TestTransposeBlock(t *testing.T) {
	for _, mn := range [][2]int{{8, 8}, {9, 17}, {64, 3136 / 16}, {23, 8}, {7, 30}} {
		m, n := mn[0], mn[1]
		for _, rowsOut := range []bool{false, true} {
			// rowsOut: dst rows are i (dst[d + i·dm + k]); else dst columns.
			d, s := 3, 5
			dm, ds, sm, ss := n+2, 1, 1, m+1
			if !rowsOut {
				dm, ds, sm, ss = 1, m+3, n+4, 1
			}
			size := func(a, b int) int { return (m-1)*a + (n-1)*b + 1 }
			src := make([]float32, s+size(sm, ss)+2)
			for i := range src {
				src[i] = float32(i) + 0.25
			}
			src[s+sm] = math.Float32frombits(0x7fc0_0def)
			dst := make([]float32, d+size(dm, ds)+2)
			isrc, idst := make([]int32, len(src)), make([]int32, len(dst))
			for i := range isrc {
				isrc[i] = int32(i) * 3
			}
			copyBlock(dst, src, m, n, d, dm, ds, s, sm, ss)
			copyBlock(idst, isrc, m, n, d, dm, ds, s, sm, ss)
			inBlock := make([]bool, len(dst))
			for i := range m {
				for k := range n {
					o, at := d+i*dm+k*ds, s+i*sm+k*ss
					inBlock[o] = true
					if math.Float32bits(dst[o]) != math.Float32bits(src[at]) || idst[o] != isrc[at] {
						t.Fatalf("%d×%d rowsOut=%v: [%d,%d] = %v, %d, want %v, %d", m, n, rowsOut, i, k, dst[o], idst[o], src[at], isrc[at])
					}
				}
			}
			for o, in := range inBlock {
				if !in && (dst[o] != 0 || idst[o] != 0) {
					t.Fatalf("%d×%d rowsOut=%v: dst[%d] outside the block was written", m, n, rowsOut, o)
				}
			}
		}
	}
}
