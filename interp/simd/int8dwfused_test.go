package simd

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestDepthwiseQ8RequantExact checks the fused int8 depthwise kernel at
// every level (and pure Go) against its definition — the int64 sum of
// (x − zx)·w, then Requant8's epilogue — byte for byte: uint8 and int8
// inputs, zero points at the ends of their ranges, weights at ±255 and at
// the largest magnitude DepthwiseQ8Exact allows, filters within int8 (the
// VNNI kernel, where the CPU has it) and beyond, any kernel, dilation,
// padding and vertical stride with row stride 1 and 2, every tail length
// of a row, bounds that clip and scales that saturate, and enough channels
// to span several kernel calls.
func TestDepthwiseQ8RequantExact(t *testing.T) {
	r := rand.New(rand.NewPCG(47, 48))
	shapes := []window{
		{3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
		{5, 5, 1, 1, 1, 1, 2, 2, 2, 2}, {5, 5, 2, 2, 1, 1, 2, 2, 2, 2}, {3, 3, 2, 1, 1, 1, 1, 1, 1, 1},
		{3, 3, 1, 2, 1, 1, 1, 1, 1, 1}, {3, 3, 1, 1, 2, 2, 2, 2, 2, 2}, {3, 3, 2, 2, 2, 3, 2, 0, 1, 3},
		{7, 7, 1, 1, 1, 1, 3, 3, 3, 3}, {1, 9, 1, 1, 1, 1, 0, 4, 0, 4}, {2, 4, 2, 2, 2, 1, 1, 0, 0, 3},
		{3, 3, 3, 1, 1, 1, 0, 0, 2, 2}, {1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {17, 17, 1, 1, 1, 1, 8, 8, 8, 8},
		{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, // with an empty plane: only padding
	}
	inf := float32(math.Inf(1))
	checked := 0
	for _, k := range twins() {
		with(k, func() {
			for si, s := range shapes {
				for hi, hw := range [][2]int{{1, 1}, {5, 7}, {7, 7}, {12, 33}, {17, 18}, {3, 40}, {2, 75}, {0, 3}} {
					c := 3
					if si == 0 && hi == 4 {
						c = 200 // several chunks of planes
					}
					p := s.params(c, hw[0], hw[1])
					if p.OutH < 1 || p.OutW < 1 {
						continue
					}
					taps := p.KH * p.KW
					maxW := 255
					for !DepthwiseQ8Exact(taps, float32(maxW)) {
						maxW--
					}
					for _, v := range []struct{ signed, small bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
						signed := v.signed
						x := make([]byte, p.C*p.H*p.W)
						for i := range x {
							x[i] = byte(r.IntN(256))
							if r.IntN(4) == 0 {
								x[i] = []byte{0, 0x7f, 0x80, 0xff}[r.IntN(4)]
							}
						}
						zx := []float32{0, 255, 128, 3}[(si+hi)%4]
						qlo, qhi := float32(0), float32(255)
						if signed {
							zx = []float32{0, -128, 127, -3}[(si+hi)%4]
							qlo, qhi = -128, 127
						}
						// small: filters that fit int8 (the VNNI kernel's).
						wlo, whi := -maxW, maxW
						if v.small {
							wlo, whi = max(-128, -maxW), min(127, maxW)
						}
						w := make([]float32, p.C*taps)
						for i := range w {
							w[i] = float32(r.IntN(whi-wlo+1) + wlo)
							if r.IntN(3) == 0 {
								w[i] = float32([]int{wlo, whi}[r.IntN(2)])
							}
						}
						mult, bias := make([]float32, p.C), make([]float32, p.C)
						for i := range mult {
							mult[i] = float32(1e-4 * (0.5 + r.Float64()))
							bias[i] = float32(r.NormFloat64())
						}
						lo, hi := []float32{-inf, 0, 0}[(si+hi)%3], []float32{inf, 6, inf}[(si+hi)%3]
						sc := float32(0.005 + 0.05*r.Float64())
						z := float32(r.IntN(int(qhi-qlo)+1)) + qlo
						got := make([]byte, p.C*p.N())
						DepthwiseQ8Requant(got, x, signed, zx, NewDepthwiseQ8Filters(w, p.C, p.KH, p.KW), mult, bias, lo, hi, sc, z, p, 2)
						checked++
						for c := 0; c < p.C; c++ {
							for oh := 0; oh < p.OutH; oh++ {
								for ow := 0; ow < p.OutW; ow++ {
									var sum int64
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
											sum += (xv - int64(zx)) * int64(w[(c*p.KH+i)*p.KW+j])
										}
									}
									var want [1]byte
									requant8Go(want[:], []float32{float32(sum)}, mult[c], bias[c], lo, hi, sc, z, qlo, qhi)
									if g := got[c*p.N()+oh*p.OutW+ow]; g != want[0] {
										t.Fatalf("%s %+v signed %v zx %v: y[%d,%d,%d] = %d, want %d (sum %d)", k.name, p, signed, zx, c, oh, ow, g, want[0], sum)
									}
								}
							}
						}
					}
				}
			}
		})
	}
	t.Logf("%d cases at %d levels", checked, len(twins()))
	if checked < 200*len(twins()) {
		t.Errorf("only %d cases checked", checked)
	}
}

// TestPlaneRowsTwins checks the plane interior copy at every level against
// the Go twin on every width around the vector sizes: the copied bytes and
// the untouched border (nothing written past a row).
func TestPlaneRowsTwins(t *testing.T) {
	for _, k := range twins() {
		with(k, func() {
			for _, w := range []int{1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 100, 130} {
				for _, rows := range []int{1, 3} {
					chans, pw := 3, w+3
					psz := pw * (rows + 2)
					x := make([]byte, chans*rows*w)
					for i := range x {
						x[i] = byte(i*31 + 7)
					}
					got, want := make([]byte, chans*psz), make([]byte, chans*psz)
					for i := range got {
						got[i], want[i] = 0xAB, 0xAB
					}
					planeRowsKernel()(&got[pw+1], &x[0], chans, rows, w, pw, psz)
					planeRowsGo(&want[pw+1], &x[0], chans, rows, w, pw, psz)
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("%s w=%d rows=%d: byte %d = %#x, want %#x", k.name, w, rows, i, got[i], want[i])
						}
					}
				}
			}
		})
	}
}

// TestEvenBytesTwins checks the stride-2 byte copy at every level against
// its definition for every length up to 200 (the vector blocks and their
// tails), with src exactly 2n−1 bytes and longer, and that nothing past
// dst is written.
func TestEvenBytesTwins(t *testing.T) {
	src := make([]byte, 512)
	for i := range src {
		src[i] = byte(i*37 + 11)
	}
	for _, k := range twins() {
		with(k, func() {
			for n := 0; n <= 200; n++ {
				for _, extra := range []int{0, 1, 63} {
					m := max(0, 2*n-1) + extra
					got := make([]byte, n+1)
					got[n] = 0xAA
					EvenBytes(got[:n], src[:m])
					for i := 0; i < n; i++ {
						if got[i] != src[2*i] {
							t.Fatalf("%s n=%d src %d bytes: dst[%d] = %d, want %d", k.name, n, m, i, got[i], src[2*i])
						}
					}
					if got[n] != 0xAA {
						t.Fatalf("%s n=%d: wrote past dst", k.name, n)
					}
				}
			}
		})
	}
}

// TestDepthwiseQDQMatchesFloatPath checks DepthwiseQDQ at every level
// against the float path it replaces — DequantizeU8/I8, DepthwiseConv2D
// (whose kernels sum in MLAS's order), the clip and QuantizeU8/I8 — byte for
// byte: uint8 and int8 inputs, zero points at the ends of their ranges, any
// kernel, dilation, padding and vertical stride with row stride 1 and 2,
// every row tail, with and without a clip, outputs that saturate.
func TestDepthwiseQDQMatchesFloatPath(t *testing.T) {
	r := rand.New(rand.NewPCG(49, 50))
	shapes := []window{
		{3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
		{5, 5, 1, 1, 1, 1, 2, 2, 2, 2}, {5, 5, 2, 2, 1, 1, 2, 2, 2, 2}, {3, 3, 2, 1, 1, 1, 1, 1, 1, 1},
		{3, 3, 1, 1, 2, 2, 2, 2, 2, 2}, {7, 7, 1, 1, 1, 1, 3, 3, 3, 3}, {1, 9, 1, 1, 1, 1, 0, 4, 0, 4},
		{2, 4, 2, 2, 2, 1, 1, 0, 0, 3}, {1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {3, 1, 1, 1, 1, 1, 1, 0, 1, 0},
	}
	inf := float32(math.Inf(1))
	checked := 0
	for _, k := range twins() {
		with(k, func() {
			for si, s := range shapes {
				for hi, hw := range [][2]int{{1, 1}, {5, 7}, {7, 7}, {12, 33}, {17, 18}, {3, 40}} {
					p := s.params(3, hw[0], hw[1])
					if p.OutH < 1 || p.OutW < 1 {
						continue
					}
					taps := p.KH * p.KW
					for _, signed := range []bool{false, true} {
						x := make([]byte, p.C*p.H*p.W)
						for i := range x {
							x[i] = byte(r.IntN(256))
							if r.IntN(4) == 0 {
								x[i] = []byte{0, 0x7f, 0x80, 0xff}[r.IntN(4)]
							}
						}
						zx := []float32{0, 255, 128, 3}[(si+hi)%4]
						if signed {
							zx = []float32{0, -128, 127, -3}[(si+hi)%4]
						}
						sx := float32(0.01 + 0.05*r.Float64())
						w := make([]float32, p.C*taps)
						for i := range w {
							w[i] = float32(r.NormFloat64() * 0.3)
						}
						bias := make([]float32, p.C)
						for i := range bias {
							bias[i] = float32(r.NormFloat64())
						}
						lo, hi := []float32{-inf, 0, 0}[(si+hi)%3], []float32{inf, 6, inf}[(si+hi)%3]
						sc := float32(0.005 + 0.05*r.Float64())
						z := float32(r.IntN(256))
						if signed {
							z -= 128
						}
						// The float path.
						xf := make([]float32, len(x))
						if signed {
							DequantizeI8(xf, unsafe.Slice((*int8)(unsafe.Pointer(&x[0])), len(x)), zx, sx)
						} else {
							DequantizeU8(xf, x, zx, sx)
						}
						y := make([]float32, p.C*p.N())
						DepthwiseConv2D(y, xf, w, bias, p, 1, nil)
						for i, v := range y {
							y[i] = min(max(v, lo), hi)
						}
						want := make([]byte, len(y))
						if signed {
							QuantizeI8(unsafe.Slice((*int8)(unsafe.Pointer(&want[0])), len(want)), y, sc, z)
						} else {
							QuantizeU8(want, y, sc, z)
						}
						got := make([]byte, len(want))
						DepthwiseQDQ(got, x, signed, zx, sx, w, bias, lo, hi, sc, z, p, 2)
						checked++
						for i := range want {
							if got[i] != want[i] {
								t.Fatalf("%s %+v signed %v zx %v: y[%d] = %d, float path %d (%v)", k.name, p, signed, zx, i, got[i], want[i], y[i])
							}
						}
					}
				}
			}
		})
	}
	t.Logf("%d cases at %d levels", checked, len(twins()))
	if checked < 100*len(twins()) {
		t.Errorf("only %d cases checked", checked)
	}
}
