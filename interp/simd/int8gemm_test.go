package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// refGemmI8 is the naive u8·s8 product with wrapping int32 sums.
func refGemmI8(m, n, k int, a []int8, b []uint8) []int32 {
	c := make([]int32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int32
			for q := 0; q < k; q++ {
				s += int32(a[i*k+q]) * int32(b[q*n+j])
			}
			c[i*n+j] = s
		}
	}
	return c
}

// TestGemmU8I8Twins checks every integer kernel level this CPU has against
// the naive product, bit for bit: shapes off the 8×32 tile and off K's
// steps of four, random bytes and the extreme values (0, 255 against
// -128, 127, which would saturate VPMADDUBSW's 16-bit pair sums).
func TestGemmU8I8Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	shapes := [][3]int{{1, 1, 1}, {8, 32, 4}, {7, 31, 3}, {9, 33, 5}, {17, 65, 13}, {64, 100, 576}, {3, 200, 1}, {24, 7, 130}, {1, 1000, 37}, {40, 96, 1024},
		// One column: the matrix-vector product (odd and even step counts, ragged panels).
		{9, 1, 1281}, {1000, 1, 37}, {16, 1, 8}, {7, 1, 5}, {8, 1, 12}}
	fills := map[string]func() (int8, uint8){
		"random":  func() (int8, uint8) { return int8(r.IntN(256) - 128), uint8(r.IntN(256)) },
		"max":     func() (int8, uint8) { return 127, 255 },
		"min":     func() (int8, uint8) { return -128, 255 },
		"zeros":   func() (int8, uint8) { return -128, 0 },
		"extreme": func() (int8, uint8) { return []int8{-128, 127}[r.IntN(2)], []uint8{0, 255}[r.IntN(2)] },
	}
	for _, sh := range shapes {
		m, n, k := sh[0], sh[1], sh[2]
		for fname, fill := range fills {
			a, b := make([]int8, m*k), make([]uint8, k*n)
			for i := range a {
				a[i], _ = fill()
			}
			for i := range b {
				_, b[i] = fill()
			}
			want := refGemmI8(m, n, k, a, b)
			pa := PackI8(m, k, a, k, nil)
			for _, lv := range twins() {
				for _, threads := range []int{1, 2} {
					got := make([]int32, m*n)
					cs := make([]int32, n)
					with(lv, func() { GemmU8I8(pa, n, b, n, got, n, cs, threads) })
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%s %d×%d×%d %s threads=%d: c[%d] = %d, want %d", lv.i8name, m, n, k, fname, threads, i, got[i], want[i])
						}
					}
					for j := 0; j < n; j++ {
						var s int32
						for q := 0; q < k; q++ {
							s += int32(b[q*n+j])
						}
						if cs[j] != s {
							t.Fatalf("%s %d×%d×%d: colSum[%d] = %d, want %d", lv.i8name, m, n, k, j, cs[j], s)
						}
					}
				}
			}
			for i := 0; i < m; i++ {
				var s int32
				for q := 0; q < k; q++ {
					s += int32(a[i*k+q])
				}
				if pa.RowSum[i] != s {
					t.Fatalf("RowSum[%d] = %d, want %d", i, pa.RowSum[i], s)
				}
			}
		}
	}
	t.Logf("integer GEMM levels compared: %d (active: %s)", len(twins()), I8Level())
}

// BenchmarkGemmU8I8 reports GOPS (two ops a multiply-add) of each integer
// kernel level on one thread at conv-like shapes (M output channels, N
// pixels, K = channels·taps).
func BenchmarkGemmU8I8(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sh := range [][3]int{{64, 3136, 576}, {256, 784, 256}, {512, 512, 512}} {
		m, n, k := sh[0], sh[1], sh[2]
		a, bb := make([]int8, m*k), make([]uint8, k*n)
		for i := range a {
			a[i] = int8(r.IntN(256) - 128)
		}
		for i := range bb {
			bb[i] = uint8(r.IntN(256))
		}
		pa := PackI8(m, k, a, k, nil)
		c := make([]int32, m*n)
		for _, lv := range twins() {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", lv.i8name, m, n, k), func(b *testing.B) {
				with(lv, func() {
					best := time.Duration(1 << 62)
					for b.Loop() {
						t0 := time.Now()
						GemmU8I8(pa, n, bb, n, c, n, nil, 1)
						best = min(best, time.Since(t0))
					}
					ops := 2 * float64(m) * float64(n) * float64(k)
					b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
					b.ReportMetric(ops/best.Seconds()/1e9, "best-GOPS")
				})
			})
		}
	}
}

// TestInt32ScaleShiftClipTwins checks every level against the Go twin bit
// for bit, on lengths off the vector width, extreme int32 values and both
// bounds.
func TestInt32ScaleShiftClipTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 7, 8, 9, 31, 100} {
		src := make([]int32, n)
		for i := range src {
			src[i] = r.Int32() - 1<<30
			if i%5 == 0 {
				src[i] = []int32{0, 1<<31 - 1, -1 << 31, 12345}[r.IntN(4)]
			}
		}
		for _, p := range [][5]float32{{0.001, 0.5, 0, 6}, {1e-6, -3, -1e9, 1e9}, {0.37, 0, -100, 100}} {
			want := make([]float32, n)
			i32ScaleShiftClipGo(&want[0], &src[0], n, 77, p[0], p[1], p[2], p[3])
			for _, lv := range twins() {
				got := make([]float32, n)
				with(lv, func() { Int32ScaleShiftClip(got, src, 77, p[0], p[1], p[2], p[3]) })
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s n=%d %v: dst[%d] = %v, want %v", lv.name, n, p, i, got[i], want[i])
					}
				}
			}
		}
	}
}
