package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestTranspose transposes matrices of every size up to 19×19 (whole
// tiles and ragged edges) with padded strides at every level, NaN
// payloads included, and checks that nothing outside the result moved.
func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, k := range twins() {
		with(k, func() {
			for rows := 0; rows <= 19; rows++ {
				for cols := 0; cols <= 19; cols++ {
					ls, ld := cols+r.IntN(3), rows+r.IntN(3)
					src := randSlice(r, rows*ls+1)
					if len(src) > 5 {
						src[5] = math.Float32frombits(0x7fc0_0abc)
					}
					dst := make([]float32, cols*ld+1)
					for i := range dst {
						dst[i] = -7
					}
					Transpose(dst, ld, src, ls, rows, cols)
					for j := range cols {
						for i := range ld {
							want := float32(-7)
							if i < rows {
								want = src[i*ls+j]
							}
							if got := dst[j*ld+i]; math.Float32bits(got) != math.Float32bits(want) {
								t.Fatalf("%s %d×%d (ls %d, ld %d): dst[%d][%d] = %v, want %v", k.name, rows, cols, ls, ld, j, i, got, want)
							}
						}
					}
					if dst[len(dst)-1] != -7 {
						t.Fatalf("%s %d×%d: wrote past the result", k.name, rows, cols)
					}
				}
			}
		})
	}
}

// BenchmarkTranspose: NCHW to NHWC of 64×56×56, and a key's last two axes
// (128 positions × 64 features) as attention transposes them per head.
func BenchmarkTranspose(b *testing.B) {
	for _, sh := range [][2]int{{64, 3136}, {128, 64}} {
		rows, cols := sh[0], sh[1]
		src, dst := make([]float32, rows*cols), make([]float32, rows*cols)
		for _, k := range twins() {
			b.Run(fmt.Sprintf("%dx%d/%s", rows, cols, k.name), func(b *testing.B) {
				with(k, func() {
					b.SetBytes(int64(8 * rows * cols))
					for b.Loop() {
						Transpose(dst, rows, src, cols, rows, cols)
					}
				})
			})
		}
	}
}
