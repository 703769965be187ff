package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestDepthwiseQ8Exact checks the int8 depthwise path at every level
// against the int64 sum of its definition, exactly: uint8 and int8 inputs,
// zero points at the ends of the range, weights at ±255 and at the
// largest magnitude DepthwiseQ8Exact allows, any kernel, stride, dilation
// and padding, and every tail length.
func TestDepthwiseQ8Exact(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	shapes := []window{
		{3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
		{5, 5, 1, 1, 1, 1, 2, 2, 2, 2}, {5, 5, 2, 2, 1, 1, 2, 2, 2, 2}, {3, 3, 2, 1, 1, 1, 1, 1, 1, 1},
		{3, 3, 1, 1, 2, 2, 2, 2, 2, 2}, {7, 7, 1, 1, 1, 1, 3, 3, 3, 3}, {1, 9, 1, 1, 1, 1, 0, 4, 0, 4},
		{2, 4, 2, 3, 2, 1, 1, 0, 0, 3}, {3, 3, 3, 3, 1, 1, 0, 0, 2, 2}, {16, 16, 1, 1, 1, 1, 0, 0, 0, 0}, {17, 17, 1, 1, 1, 1, 8, 8, 8, 8},
	}
	checked := 0
	for _, k := range twins() {
		with(k, func() {
			for si, s := range shapes {
				for _, hw := range [][2]int{{1, 1}, {5, 7}, {12, 33}, {17, 18}} {
					p := s.params(3, hw[0], hw[1])
					if p.OutH < 1 || p.OutW < 1 {
						continue
					}
					taps := p.KH * p.KW
					maxW := 255
					for !DepthwiseQ8Exact(taps, float32(maxW)) {
						maxW--
					}
					for _, signed := range []bool{false, true} {
						x := make([]byte, p.C*p.H*p.W)
						for i := range x {
							x[i] = byte(r.IntN(256))
							if r.IntN(4) == 0 {
								x[i] = []byte{0, 0x7f, 0x80, 0xff}[r.IntN(4)]
							}
						}
						zx := []float32{0, 255, 128, 3}[si%4]
						if signed {
							zx = []float32{0, -128, 127, -3}[si%4]
						}
						w := make([]float32, p.C*taps)
						for i := range w {
							w[i] = float32(r.IntN(2*maxW+1) - maxW)
							if r.IntN(3) == 0 {
								w[i] = float32([]int{-maxW, maxW}[r.IntN(2)])
							}
						}
						got := make([]float32, p.C*p.N())
						DepthwiseQ8(x, signed, zx, w, p, 2, func(c int, acc []float32) { copy(got[c*p.N():], acc) })
						checked++
						for c := 0; c < p.C; c++ {
							for oh := 0; oh < p.OutH; oh++ {
								for ow := 0; ow < p.OutW; ow++ {
									var want int64
									for i := 0; i < p.KH; i++ {
										for j := 0; j < p.KW; j++ {
											ih, iw := oh*p.StrideH-p.PadT+i*p.DilH, ow*p.StrideW-p.PadL+j*p.DilW
											if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
												continue
											}
											xv := int64(x[(c*p.H+ih)*p.W+iw])
											if signed {
												xv = int64(int8(xv))
											}
											want += (xv - int64(zx)) * int64(w[(c*p.KH+i)*p.KW+j])
										}
									}
									if g := got[c*p.N()+oh*p.OutW+ow]; float64(g) != float64(want) {
										t.Fatalf("%s %+v signed %v: acc[%d,%d,%d] = %v, want %d", k.name, p, signed, c, oh, ow, g, want)
									}
								}
							}
						}
					}
				}
			}
		})
	}
	if checked < 45*len(twins()) {
		t.Errorf("only %d cases checked", checked)
	}
}

// TestRequant8Twins checks Requant8U8/I8 at every level against
// Int32ScaleShiftClip then QuantizeU8/I8 on the same integer sums, bit for
// bit: the epilogue of the int8 GEMM path, which the depthwise path must
// match.
func TestRequant8Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	inf := float32(math.Inf(1))
	for _, k := range twins() {
		with(k, func() {
			for _, n := range []int{1, 7, 8, 9, 31, 64, 100} {
				for _, bounds := range [][2]float32{{-inf, inf}, {0, 6}, {0, inf}} {
					acc := make([]float32, n)
					ints := make([]int32, n)
					for i := range acc {
						v := int32(r.IntN(1<<25) - 1<<24)
						if i%5 == 0 {
							v = []int32{0, 1 << 24, -1 << 24, 1, -1}[i%25/5]
						}
						ints[i], acc[i] = v, float32(v)
					}
					m := float32(1e-5 * (1 + r.Float64()))
					b := float32(r.NormFloat64())
					s := float32(0.01 + 0.05*r.Float64())
					for _, signed := range []bool{false, true} {
						z := float32(r.IntN(256))
						if signed {
							z -= 128
						}
						tmp := make([]float32, n)
						Int32ScaleShiftClip(tmp, ints, 0, m, b, bounds[0], bounds[1])
						want, got, got2 := make([]byte, n), make([]byte, n), make([]byte, n)
						// Int32Requant8 takes the sums less tc plus tc.
						const tc = 12345
						shifted := make([]int32, n)
						for i, v := range ints {
							shifted[i] = v - tc
						}
						i8 := func(x []byte) []int8 { return unsafe.Slice((*int8)(unsafe.Pointer(&x[0])), n) }
						if signed {
							QuantizeI8(i8(want), tmp, s, z)
							Requant8I8(i8(got), acc, m, b, bounds[0], bounds[1], s, z)
							Int32Requant8I8(i8(got2), shifted, tc, m, b, bounds[0], bounds[1], s, z)
						} else {
							QuantizeU8(want, tmp, s, z)
							Requant8U8(got, acc, m, b, bounds[0], bounds[1], s, z)
							Int32Requant8U8(got2, shifted, tc, m, b, bounds[0], bounds[1], s, z)
						}
						if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(got2) != fmt.Sprint(want) {
							t.Fatalf("%s n=%d signed %v bounds %v: Requant8 %v, Int32Requant8 %v, want %v", k.name, n, signed, bounds, got, got2, want)
						}
					}
				}
			}
		})
	}
}

// TestAddQ8Twins checks AddQ8 at every level against DequantizeU8/I8, Add
// and QuantizeU8/I8 (the float path it replaces), bit for bit, on every
// tail length, extreme bytes and zero points, and sums that saturate.
func TestAddQ8Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	for _, k := range twins() {
		with(k, func() {
			for _, n := range []int{1, 7, 8, 9, 33, 200} {
				for _, signed := range []bool{false, true} {
					a, b := make([]byte, n), make([]byte, n)
					for i := range a {
						a[i], b[i] = byte(r.IntN(256)), byte(r.IntN(256))
						if i%4 == 0 {
							a[i], b[i] = []byte{0, 0x7f, 0x80, 0xff}[i%16/4], []byte{0xff, 0x80, 0, 0x7f}[i%16/4]
						}
					}
					zs := []float32{0, 255, float32(r.IntN(256))}
					if signed {
						zs = []float32{-128, 127, float32(r.IntN(256) - 128)}
					}
					za, zb, z := zs[0], zs[1], zs[2]
					sa, sb, s := float32(0.01+0.1*r.Float64()), float32(0.01+0.1*r.Float64()), float32(0.01+0.1*r.Float64())
					fa, fb, sum := make([]float32, n), make([]float32, n), make([]float32, n)
					want, got := make([]byte, n), make([]byte, n)
					if signed {
						i8 := func(x []byte) []int8 { return unsafe.Slice((*int8)(unsafe.Pointer(&x[0])), n) }
						DequantizeI8(fa, i8(a), za, sa)
						DequantizeI8(fb, i8(b), zb, sb)
						Add(sum, fa, fb)
						QuantizeI8(i8(want), sum, s, z)
					} else {
						DequantizeU8(fa, a, za, sa)
						DequantizeU8(fb, b, zb, sb)
						Add(sum, fa, fb)
						QuantizeU8(want, sum, s, z)
					}
					AddQ8(got, a, b, signed, za, sa, zb, sb, s, z)
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("%s n=%d signed %v: got %v, want %v", k.name, n, signed, got, want)
					}
				}
			}
		})
	}
}

// TestInt32Requant8RowsTwins checks the block epilogue at every level
// against Int32Requant8U8/I8 row by row, bit for bit: every row tail,
// per-row offsets, scales and biases, a destination stride wider than the
// rows (the bytes between rows untouched), sums that saturate.
func TestInt32Requant8RowsTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	inf := float32(math.Inf(1))
	for _, k := range twins() {
		with(k, func() {
			for _, cols := range []int{1, 7, 15, 16, 17, 49, 64, 100} {
				for _, signed := range []bool{false, true} {
					rows, ldd := 5, cols+3
					src := make([]int32, rows*cols)
					for i := range src {
						src[i] = int32(r.IntN(1<<25) - 1<<24)
					}
					tt, m, b := make([]int32, rows), make([]float32, rows), make([]float32, rows)
					for i := range tt {
						tt[i] = int32(r.IntN(20001) - 10000)
						m[i] = float32(1e-5 * (1 + r.Float64()))
						b[i] = float32(r.NormFloat64())
					}
					lo, hi := []float32{-inf, 0}[cols%2], []float32{inf, 6}[cols%2]
					s, z := float32(0.01+0.05*r.Float64()), float32(r.IntN(256))
					if signed {
						z -= 128
					}
					got, want := make([]byte, rows*ldd), make([]byte, rows*ldd)
					for i := range got {
						got[i], want[i] = 0xAB, 0xAB
					}
					Int32Requant8Rows(got, ldd, src, rows, cols, tt, m, b, lo, hi, s, z, signed)
					for i := 0; i < rows; i++ {
						d, sr := want[i*ldd:i*ldd+cols], src[i*cols:(i+1)*cols]
						if signed {
							Int32Requant8I8(unsafe.Slice((*int8)(unsafe.Pointer(&d[0])), cols), sr, tt[i], m[i], b[i], lo, hi, s, z)
						} else {
							Int32Requant8U8(d, sr, tt[i], m[i], b[i], lo, hi, s, z)
						}
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("%s cols=%d signed %v: got %v, want %v", k.name, cols, signed, got, want)
					}
				}
			}
		})
	}
}
