package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestConvTapsSameBits checks the implicit-GEMM path (convolutions whose
// panels each lie in at most three output rows) against the im2col copy it replaces,
// bit for bit, at every level, one and two threads, and against the direct
// convolution; strides, dilation, padding, non-square kernels, filter
// counts that leave 1–6-row tails and the tail tiles (16: 6 + 10; 20: 12
// + 8; 28: 12 + 6 + 10).
func TestConvTapsSameBits(t *testing.T) {
	defer func(v bool, m int) { implicitGEMM, tapsRaggedMin = v, m }(implicitGEMM, tapsRaggedMin)
	r := rand.New(rand.NewPCG(41, 42))
	cp := func(c, h, w, kh, kw, sh, sw, pt, pl, dh, dw int) ConvParams {
		p := ConvParams{C: c, H: h, W: w, KH: kh, KW: kw, StrideH: sh, StrideW: sw, PadT: pt, PadL: pl, DilH: dh, DilW: dw}
		p.OutH = (h+2*pt-dh*(kh-1)-1)/sh + 1
		p.OutW = (w+2*pl-dw*(kw-1)-1)/sw + 1
		return p
	}
	shapes := []ConvParams{
		cp(5, 20, 32, 3, 3, 1, 1, 1, 1, 1, 1),   // OutW 32: every panel in a row
		cp(3, 17, 64, 3, 3, 2, 2, 1, 1, 1, 1),   // stride 2, OutW 32
		cp(4, 24, 52, 3, 3, 1, 1, 2, 2, 2, 2),   // dilation 2, OutW 52: rows split panels (im2col)
		cp(2, 9, 48, 1, 5, 1, 1, 0, 2, 1, 1),    // 1×5, OutW 48
		cp(40, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1),  // K 360: three K blocks, OutW 16
		cp(3, 40, 100, 7, 7, 2, 3, 3, 3, 1, 1),  // stride (2,3), OutW 33
		cp(6, 33, 131, 3, 3, 1, 4, 1, 1, 1, 1),  // stride (1,4), OutW 33
		cp(1, 100, 128, 3, 3, 2, 2, 0, 0, 1, 1), // one channel, OutW 63
		// Panels across two output rows (the runs kernels): resnet's
		// widths, odd widths, strides 2, dilation, asymmetric padding.
		cp(3, 12, 56, 3, 3, 1, 1, 1, 1, 1, 1),   // OutW 56
		cp(4, 56, 56, 3, 3, 2, 2, 1, 1, 1, 1),   // stride 2, OutW 28
		cp(5, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1),   // OutW 28
		cp(6, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1),   // OutW 14
		cp(3, 29, 29, 3, 3, 2, 2, 1, 1, 1, 1),   // stride 2, OutW 15
		cp(16, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1),    // OutW 7: three rows a panel, a one-column ragged pair
		cp(3, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1),    // OutW 6: four rows a panel (im2col)
		cp(5, 21, 21, 3, 3, 2, 2, 1, 1, 1, 1),   // stride 2, OutW 11
		cp(2, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1),     // OutW 8, N 72
		cp(3, 21, 17, 3, 3, 1, 1, 1, 1, 1, 1),   // OutW 17
		cp(2, 30, 23, 5, 3, 1, 1, 2, 0, 1, 1),   // 5×3, OutW 21
		cp(4, 26, 45, 3, 3, 2, 1, 2, 2, 2, 2),   // dilation 2, strides (2,1), OutW 45
		cp(3, 40, 77, 3, 3, 2, 2, 1, 1, 1, 1),   // stride 2, OutW 39
		cp(50, 10, 31, 3, 3, 1, 1, 1, 1, 1, 1),  // K 450: K blocks, OutW 31
		cp(64, 20, 20, 3, 3, 1, 1, 1, 1, 1, 1),  // K 576: a second chunk from mid-row, OutW 20
		cp(128, 12, 10, 3, 3, 1, 1, 1, 1, 1, 1), // K 1152: 96-column chunks of three-row panels, OutW 10
	}
	for _, k := range twins() {
		with(k, func() {
			for _, p := range shapes {
				// The implicit path must be taken where each panel's
				// columns span at most three output rows.
				l := newColLayout(&p)
				ws := &workspace{}
				planes := aligned(&ws.b, l.floats())
				taps := im2colTaps(&ws.rows, planes, &l)
				N := p.N()
				for _, m := range []int{16, runs3MaxM} {
					fewRows := ks.gemm12Taps != nil
					for q := 0; q < N; q += nr {
						if rows := (min(N, q+nr)-1)/p.OutW - q/p.OutW + 1; rows > 3 || rows == 3 && m >= runs3MaxM {
							fewRows = false
						}
					}
					if got := tapsChunk(&l, taps, m, 0, N); got != fewRows {
						t.Fatalf("%s %+v: tapsChunk(M %d) = %v, want %v", k.name, p, m, got, fewRows)
					}
				}
				for _, M := range []int{1, 5, 16, 19, 20, 28} {
					x, w := randSlice(r, p.C*p.H*p.W), randSlice(r, M*p.K())
					ref, mag := naiveConv(x, w, nil, M, p, false)
					pa := PackA(false, M, p.K(), 1, w, p.K())
					var want []float32
					for _, implicit := range []int{0, 17, 28} {
						for _, th := range []int{1, 2} {
							implicitGEMM, tapsRaggedMin = implicit > 0, implicit
							y := randSlice(r, M*p.N())
							ConvPacked(y, pa, x, p, th, nil)
							where := fmt.Sprintf("%s %+v M=%d taps=%d (0: im2col, else the fewest columns of a ragged pair) threads=%d", k.name, p, M, implicit, th)
							for i := range y {
								if d := math.Abs(float64(y[i]) - ref[i]); !(d <= gemmTol(p.K(), mag[i])) {
									t.Fatalf("%s: y[%d] = %v, want %v", where, i, y[i], ref[i])
								}
							}
							if want == nil {
								want = y
								continue
							}
							for i := range y {
								if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
									t.Fatalf("%s: y[%d] = %v, im2col on one thread %v", where, i, y[i], want[i])
								}
							}
						}
					}
				}
			}
		})
	}
}

// TestGemmSegsTwins checks each level's run-reading taps kernels (two and
// three runs, every row count, the 12-row one, with and without
// accumulation) bit for bit against the same level's plain taps kernels
// over the runs gathered into consecutive floats, on random runs, taps and
// depths; lanes no run covers read zero.
func TestGemmSegsTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	src := randSlice(r, 8192)
	src[3000] = float32(math.NaN())
	b := &src[2048]
	at := func(off int) float32 { return src[2048+off/4] }
	for _, k := range twins() {
		for R := 2; R <= maxRuns; R++ {
			if k.gemm12Segs[R] == nil {
				continue
			}
			for trial := 0; trial < 100; trial++ {
				var segs [2 * maxRuns]int32
				var masks [2 * maxRuns]uint16
				// Each half: up to R runs over its lanes, sometimes a lane
				// no run covers.
				for h := range 2 {
					for t, s := 0, R*h; t < nr && s < R*h+R; s++ {
						run := 1 + r.IntN(nr-t)
						if s == R*h+R-1 {
							run = nr - t
						}
						segs[s] = int32(4 * (r.IntN(1024) - 512))
						masks[s] = uint16((1<<run - 1) << t)
						t += run + r.IntN(2)
					}
				}
				kk := r.IntN(12)
				taps := make([]int32, kk+1)
				for i := range taps {
					taps[i] = int32(4 * (r.IntN(2048) - 1024))
				}
				// The same steps gathered: step s's 32 floats at 128s bytes.
				gathered := make([]float32, 2*nr*(kk+1))
				flat := make([]int32, kk+1)
				for s := 0; s <= kk; s++ {
					flat[s] = int32(4 * 2 * nr * s)
					for j := 0; j < 2*nr; j++ {
						h, l := j/nr, j%nr
						for q := R * h; q < R*h+R; q++ {
							if masks[q]>>l&1 != 0 {
								gathered[2*nr*s+j] = at(int(segs[q]) + int(taps[s]) + 4*l)
							}
						}
					}
				}
				acc := r.IntN(2) == 1
				for _, rows := range []int{1, 2, 3, 4, 5, 6, 12} {
					a := randSlice(r, 2*mr*kk+1)
					ldc := 2*nr + r.IntN(5)
					want := randSlice(r, rows*ldc)
					got := append([]float32(nil), want...)
					if rows == 2*mr {
						k.gemm12Taps(kk, &a[0], mr*kk, &gathered[0], nr, &flat[0], &want[0], ldc, acc)
						k.gemm12Segs[R](kk, &a[0], mr*kk, b, &segs, &masks, &taps[0], &got[0], ldc, acc)
					} else {
						k.gemmTaps[rows](kk, &a[0], &gathered[0], nr, &flat[0], &want[0], ldc, acc)
						k.gemmSegs[R][rows](kk, &a[0], b, &segs, &masks, &taps[0], &got[0], ldc, acc)
					}
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s runs %d rows %d k %d acc %v segs %v masks %x: c[%d] = %v, want %v", k.name, R, rows, kk, acc, segs, masks, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
