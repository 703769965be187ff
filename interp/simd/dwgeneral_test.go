package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// dwPoint is one output of the scalar fallback, summed in ONNX Runtime's
// order for any kernel size: taps (padding included, as zero products) in
// groups of four, then a pair, then one, each group's sum added to the
// running total (started at +0), then the bias.
func dwPoint(x, w []float32, bias float32, p *ConvParams, oh, ow int) float32 {
	taps := p.KH * p.KW
	prod := func(k int) float32 {
		i, j := k/p.KW, k%p.KW
		ih := oh*p.StrideH - p.PadT + i*p.DilH
		iw := ow*p.StrideW - p.PadL + j*p.DilW
		v := float32(0)
		if ih >= 0 && ih < p.H && iw >= 0 && iw < p.W {
			v = x[ih*p.W+iw]
		}
		return float32(v * w[k])
	}
	acc := float32(0)
	k := 0
	for ; k+4 <= taps; k += 4 {
		acc = prod(k) + prod(k+1) + prod(k+2) + prod(k+3) + acc
	}
	if taps-k >= 2 {
		acc = prod(k) + prod(k+1) + acc
		k += 2
	}
	if k < taps {
		acc = prod(k) + acc
	}
	return acc + bias
}

// checkDwPoint fails t at the first output of y (C planes of OutH×OutW)
// whose bits are not dwPoint's (any NaN matching any NaN).
func checkDwPoint(t *testing.T, level string, y, x, w, b []float32, p *ConvParams) {
	t.Helper()
	for c := 0; c < p.C; c++ {
		xc, wc := x[c*p.H*p.W:(c+1)*p.H*p.W], w[c*p.KH*p.KW:(c+1)*p.KH*p.KW]
		for oh := 0; oh < p.OutH; oh++ {
			for ow := 0; ow < p.OutW; ow++ {
				want := dwPoint(xc, wc, b[c], p, oh, ow)
				got := y[c*p.N()+oh*p.OutW+ow]
				if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
					t.Fatalf("%s %s: y[%d,%d,%d] = %v, want %v", level, fmt.Sprint(*p), c, oh, ow, got, want)
				}
			}
		}
	}
}

// window is a convolution window for the depthwise tests: kernel, stride,
// dilation and pads (top, left, bottom, right).
type window struct{ kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int }

// params are the ConvParams of c channels of h×w under s; OutH or OutW is
// below 1 when the window does not fit.
func (s window) params(c, h, w int) ConvParams {
	p := ConvParams{C: c, H: h, W: w, KH: s.kh, KW: s.kw, StrideH: s.sh, StrideW: s.sw,
		PadT: s.pt, PadL: s.pl, DilH: s.dh, DilW: s.dw}
	p.OutH = (p.H+s.pt+s.pb-(s.kh-1)*s.dh-1)/s.sh + 1
	p.OutW = (p.W+s.pl+s.pr-(s.kw-1)*s.dw-1)/s.sw + 1
	return p
}

// TestDepthwiseGeneralExact checks the general depthwise path at every
// level against dwPoint, ONNX Runtime's summation order, bit for bit: any
// kernel size (1-D ones too), unequal strides, dilations, asymmetric pads,
// widths that leave every tail length.
func TestDepthwiseGeneralExact(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	shapes := []window{
		{5, 5, 1, 1, 1, 1, 2, 2, 2, 2}, {5, 5, 2, 2, 1, 1, 2, 2, 2, 2}, {3, 3, 2, 1, 1, 1, 1, 1, 1, 1},
		{3, 3, 1, 2, 1, 1, 1, 1, 1, 1}, {3, 3, 1, 1, 2, 2, 2, 2, 2, 2}, {7, 7, 1, 1, 1, 1, 3, 3, 3, 3},
		{1, 9, 1, 1, 1, 1, 0, 4, 0, 4}, {9, 1, 1, 1, 1, 1, 4, 0, 4, 0}, {1, 5, 1, 3, 1, 2, 0, 1, 0, 0},
		{3, 3, 3, 3, 1, 1, 0, 0, 2, 2}, {2, 4, 2, 3, 2, 1, 1, 0, 0, 3}, {3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
		{4, 4, 1, 1, 1, 1, 0, 0, 0, 0}, // a global depthwise conv on 4² (fewer outputs than a block)
	}
	checked := 0
	levels := twins()
	defer func() {
		if checked < 100*len(levels) { // 59 shapes per level and path have outputs
			t.Errorf("only %d shapes checked at %d levels", checked, len(levels))
		}
	}()
	for _, k := range levels {
		// Both paths: the channel-lane one and the row kernels.
		for _, off := range []bool{false, true} {
			dwChanOff = off
			with(k, func() {
				for _, s := range shapes {
					for _, hw := range [][2]int{{1, 1}, {4, 4}, {4, 7}, {9, 17}, {12, 33}, {20, 45}} {
						p := s.params(3, hw[0], hw[1])
						if p.OutH < 1 || p.OutW < 1 {
							continue
						}
						x, w, b := randSlice(r, p.C*p.H*p.W), randSlice(r, p.C*p.KH*p.KW), randSlice(r, p.C)
						x[0] = float32(math.NaN()) // NaN must reach exactly the outputs that read it
						y := make([]float32, p.C*p.N())
						DepthwiseConv2D(y, x, w, b, p, 2, nil)
						checked++
						checkDwPoint(t, k.name, y, x, w, b, &p)
					}
				}
			})
		}
	}
	dwChanOff = false
}

// TestGemm2Twins checks every level's two-panel kernel against two calls of
// its own 16-column kernel, bit for bit (the 16-column kernels of the levels
// are compared with each other by TestSgemmTwins).
func TestGemm2Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, k := range twins() {
		for mrr := 1; mrr <= mr; mrr++ {
			for _, kk := range []int{1, 3, 4, 7, 64, 129} {
				a := randSlice(r, mrr*kk)
				const bstride = 16*129 + 16
				b := randSlice(r, 2*bstride)
				for _, acc := range []bool{false, true} {
					const ldc = 40
					c0 := randSlice(r, mrr*ldc)
					c1 := append([]float32(nil), c0...)
					k.gemm2[mrr](kk, &a[0], &b[0], bstride, &c1[0], ldc, acc)
					k.gemm[mrr](kk, &a[0], &b[0], &c0[0], ldc, acc)
					k.gemm[mrr](kk, &a[0], &b[bstride], &c0[16], ldc, acc)
					for i := range c0 {
						if math.Float32bits(c0[i]) != math.Float32bits(c1[i]) {
							t.Fatalf("%s mr=%d k=%d acc=%v: c[%d] = %v, want %v", k.name, mrr, kk, acc, i, c1[i], c0[i])
						}
					}
				}
			}
		}
	}
}

// TestGemm12Twins checks every level's 12-row kernel against two calls of
// its own two-panel kernel, bit for bit.
func TestGemm12Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for _, k := range twins() {
		for _, kk := range []int{1, 3, 4, 5, 64, 130} {
			const astride, bstride, ldc = 6*131 + 6, 16*131 + 16, 40
			a := randSlice(r, 2*astride)
			b := randSlice(r, 2*bstride)
			for _, acc := range []bool{false, true} {
				c0 := randSlice(r, 2*mr*ldc)
				c1 := append([]float32(nil), c0...)
				k.gemm12(kk, &a[0], astride, &b[0], bstride, &c1[0], ldc, acc)
				k.gemm2[mr](kk, &a[0], &b[0], bstride, &c0[0], ldc, acc)
				k.gemm2[mr](kk, &a[astride], &b[0], bstride, &c0[mr*ldc], ldc, acc)
				for i := range c0 {
					if math.Float32bits(c0[i]) != math.Float32bits(c1[i]) {
						t.Fatalf("%s k=%d acc=%v: c[%d] = %v, want %v", k.name, kk, acc, i, c1[i], c0[i])
					}
				}
			}
		}
	}
}

// TestGemm12x16Twins checks every level's 12×16 kernel against two calls
// of its own 6×16 kernel, bit for bit.
func TestGemm12x16Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for _, k := range twins() {
		for _, kk := range []int{1, 3, 4, 5, 64, 130} {
			const astride, ldc = 6*131 + 6, 40
			a, b := randSlice(r, 2*astride), randSlice(r, 16*131)
			for _, acc := range []bool{false, true} {
				c0 := randSlice(r, 2*mr*ldc)
				c1 := append([]float32(nil), c0...)
				k.gemm12x16(kk, &a[0], astride, &b[0], &c1[0], ldc, acc)
				k.gemm[mr](kk, &a[0], &b[0], &c0[0], ldc, acc)
				k.gemm[mr](kk, &a[astride], &b[0], &c0[mr*ldc], ldc, acc)
				for i := range c0 {
					if math.Float32bits(c0[i]) != math.Float32bits(c1[i]) {
						t.Fatalf("%s k=%d acc=%v: c[%d] = %v, want %v", k.name, kk, acc, i, c1[i], c0[i])
					}
				}
			}
		}
	}
}

func TestLevels(t *testing.T) {
	t.Logf("levels: %v, active %s", Levels(), Level())
	for _, name := range []string{"purego", "avx2", "avx512"} {
		k := chooseLevel(name, false)
		if name == "purego" && k != goKernels {
			t.Fatalf("ONNXSLIM_SIMD=purego chose %s", k.name)
		}
		for _, l := range levels() {
			if l.name == name && k != l {
				t.Fatalf("ONNXSLIM_SIMD=%s chose %s although the CPU has it", name, k.name)
			}
		}
	}
	if chooseLevel("avx512", true) != goKernels {
		t.Fatal("ONNXSLIM_NOSIMD=1 must win over ONNXSLIM_SIMD")
	}
}

// TestSumPool2DExact checks the pooling window sums at every level against
// the scalar loop (valid taps, row-major, from +0), bit for bit.
func TestSumPool2DExact(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	shapes := []window{
		{2, 2, 2, 2, 1, 1, 0, 0, 0, 0}, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
		{5, 5, 3, 3, 1, 1, 2, 2, 2, 2}, {3, 2, 2, 1, 2, 1, 1, 0, 1, 1}, {7, 7, 7, 7, 1, 1, 0, 0, 3, 3},
	}
	for _, k := range twins() {
		with(k, func() {
			for _, s := range shapes {
				for _, hw := range [][2]int{{3, 5}, {8, 8}, {15, 31}, {32, 32}} {
					p := s.params(3, hw[0], hw[1])
					if p.OutH < 1 || p.OutW < 1 {
						continue
					}
					x := randSlice(r, p.C*p.H*p.W)
					y := make([]float32, p.C*p.N())
					SumPool2D(y, x, p, 2)
					for c := 0; c < p.C; c++ {
						for oh := 0; oh < p.OutH; oh++ {
							for ow := 0; ow < p.OutW; ow++ {
								var want float32
								for i := 0; i < p.KH; i++ {
									for j := 0; j < p.KW; j++ {
										ih, iw := oh*p.StrideH-p.PadT+i*p.DilH, ow*p.StrideW-p.PadL+j*p.DilW
										if ih >= 0 && ih < p.H && iw >= 0 && iw < p.W {
											want += x[c*p.H*p.W+ih*p.W+iw]
										}
									}
								}
								if got := y[c*p.N()+oh*p.OutW+ow]; math.Float32bits(got) != math.Float32bits(want) {
									t.Fatalf("%s %s: sum[%d,%d,%d] = %v, want %v", k.name, fmt.Sprint(p), c, oh, ow, got, want)
								}
							}
						}
					}
				}
			}
		})
	}
}

// TestDepthwiseRowsExact checks the 3×3 row kernels (stride 1 and 2; the
// AVX-512 ones block four, two and one output rows a column block) at every
// level against dwPoint bit for bit, with the channel-lane path off: plane
// heights that leave every row remainder, widths that leave every column
// block (8 and 16 lanes, odd and even block counts), asymmetric pads, and
// NaN, -0 and Inf among the inputs.
func TestDepthwiseRowsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	shapes := []window{
		{3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 1, 1, 1, 1}, {3, 3, 1, 1, 1, 1, 0, 0, 0, 0},
		{3, 3, 2, 2, 1, 1, 0, 0, 1, 1}, {3, 3, 1, 1, 1, 1, 0, 2, 1, 0}, {3, 3, 2, 2, 1, 1, 1, 0, 0, 2},
	}
	defer func() { dwChanOff = false }()
	dwChanOff = true
	checked := 0
	for _, k := range twins() {
		with(k, func() {
			for _, s := range shapes {
				for _, h := range []int{1, 2, 3, 5, 8, 11, 14} {
					for _, w := range []int{1, 3, 7, 8, 9, 16, 17, 24, 31, 33, 40, 57, 70} {
						p := s.params(2, h, w)
						if p.OutH < 1 || p.OutW < 1 {
							continue
						}
						x, wt, b := randSlice(r, p.C*p.H*p.W), randSlice(r, p.C*9), randSlice(r, p.C)
						x[r.IntN(len(x))] = float32(math.NaN())
						x[r.IntN(len(x))] = float32(math.Copysign(0, -1))
						wt[r.IntN(len(wt))] = float32(math.Inf(1))
						y := make([]float32, p.C*p.N())
						DepthwiseConv2D(y, x, wt, b, p, 1, nil)
						checked++
						checkDwPoint(t, k.name, y, x, wt, b, &p)
					}
				}
			}
		})
	}
	if checked < 400 {
		t.Errorf("only %d shapes checked", checked)
	}
}

// TestDwDirectTwins checks each level's in-place 3×3 kernels against their
// pure-Go twin, bit for bit, on whole planes (y filled with a sentinel
// first, so a store past a row or a plane shows): strides 1 and 2, every
// pad, widths that leave every column-block class, heights that leave every
// row remainder, NaN, -0 and Inf among the inputs (an infinite filter tap
// would make every output of the plane infinite or NaN).
func TestDwDirectTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	checked := 0
	for _, k := range twins() {
		if k.dwDirect3s1 == nil {
			continue
		}
		for _, s := range []int{1, 2} {
			for _, pad := range [][4]int{{1, 1, 1, 1}, {0, 0, 0, 0}, {0, 0, 1, 1}, {2, 2, 0, 1}} {
				for _, h := range []int{1, 3, 6, 9} {
					for _, w := range []int{1, 5, 15, 16, 17, 31, 32, 33, 47, 64, 70} {
						win := window{3, 3, s, s, 1, 1, pad[0], pad[1], pad[2], pad[3]}
						p := win.params(1, h, w)
						if p.OutH < 1 || p.OutW < 1 {
							continue
						}
						x, wt := randSlice(r, h*w), randSlice(r, 9)
						x[r.IntN(len(x))] = float32(math.NaN())
						x[r.IntN(len(x))] = float32(math.Copysign(0, -1))
						x[r.IntN(len(x))] = float32(math.Inf(-1))
						var ys [2][]float32
						for i, f := range []func(*float32, []*float32, []int64, []float32, float32, int, int){
							dwDirectKernel2(k, s), dwDirectGo(s),
						} {
							ws := new(workspace)
							d := newDwDirect(&p, ws, f)
							y := make([]float32, p.N()+3)
							for j := range y {
								y[j] = 12345
							}
							d.run(y[:p.N()], x, wt, 0.25)
							ys[i] = y
						}
						checked++
						for j := range ys[0] {
							a, b := ys[0][j], ys[1][j]
							if math.Float32bits(a) != math.Float32bits(b) && !(a != a && b != b) {
								t.Fatalf("%s %s: y[%d] = %v, twin %v", k.name, fmt.Sprint(p), j, a, b)
							}
							if j >= p.N() && a != 12345 {
								t.Fatalf("%s %s: y[%d] past the plane written", k.name, fmt.Sprint(p), j)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d planes checked", checked)
}

// dwDirectKernel2 is level k's in-place kernel for stride s.
func dwDirectKernel2(k *kernelSet, s int) func(*float32, []*float32, []int64, []float32, float32, int, int) {
	if s == 2 {
		return k.dwDirect3s2
	}
	return k.dwDirect3s1
}
