package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPool2x2Twins checks Avg2x2Rows and Max2x2Rows at every level against
// the scalar definition, bit for bit, on every row length up to 70 (whole
// blocks and masked tails), one and several rows, packed and strided rows
// (the outputs between rows untouched), and rows full of signed zeros,
// ties, infinities, subnormals and NaNs of two payloads.
func TestPool2x2Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	nan2 := math.Float32frombits(0x7fc00123)
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), nan2, 3e-39, -3e-39, math.MaxFloat32}
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			switch r.IntN(3) {
			case 0:
				x[i] = special[r.IntN(len(special))]
			case 1:
				x[i] = float32(r.IntN(5) - 2)
			default:
				x[i] = float32(r.NormFloat64())
			}
		}
		return x
	}
	negZero := float32(math.Copysign(0, -1))
	const sentinel = 12345
	for _, k := range twins() {
		for n := 0; n <= 70; n++ {
			for rep := 0; rep < 4; rep++ {
				rows, srcW, dstStride := 1+2*(rep%2), 2*n+rep/2*3, n+rep/2*2
				src := fill((2*rows-1)*srcW + 2*n + 1) // one float more than read
				if rep == 3 {
					for i := range src {
						src[i] = negZero
					}
				}
				avg, mx := make([]float32, rows*dstStride), make([]float32, rows*dstStride)
				for i := range avg {
					avg[i], mx[i] = sentinel, sentinel
				}
				with(k, func() {
					Avg2x2Rows(avg, src, n, rows, srcW, dstStride)
					Max2x2Rows(mx, src, n, rows, srcW, dstStride)
				})
				for o := 0; o < rows; o++ {
					r0, r1 := src[2*o*srcW:], src[(2*o+1)*srcW:]
					for i := 0; i < dstStride; i++ {
						got, gotMax := avg[o*dstStride+i], mx[o*dstStride+i]
						where := fmt.Sprintf("%s n=%d rep=%d row %d i=%d", k.name, n, rep, o, i)
						if i >= n {
							if got != sentinel || gotMax != sentinel {
								t.Fatalf("%s: wrote %v, %v past the row's %d outputs", where, got, gotMax, n)
							}
							continue
						}
						taps := []float32{r0[2*i], r0[2*i+1], r1[2*i], r1[2*i+1]}
						var s float32
						v := float32(math.Inf(-1))
						for _, x := range taps {
							s += x
							if x > v {
								v = x
							}
						}
						s /= 4
						where += fmt.Sprintf(" taps %v", taps)
						if math.Float32bits(got) != math.Float32bits(s) {
							t.Fatalf("%s: avg %v (%#x), want %v (%#x)", where, got, math.Float32bits(got), s, math.Float32bits(s))
						}
						if math.Float32bits(gotMax) != math.Float32bits(v) {
							t.Fatalf("%s: max %v (%#x), want %v (%#x)", where, gotMax, math.Float32bits(gotMax), v, math.Float32bits(v))
						}
					}
				}
			}
		}
	}
}
