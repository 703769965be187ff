package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveConv is a direct float64 convolution of one group: M filters of
// C×KH×KW over x, with Σ|terms| for the tolerance.
func naiveConv(x, w, bias []float32, M int, p ConvParams, depthwise bool) (y, mag []float64) {
	y = make([]float64, M*p.OutH*p.OutW)
	mag = make([]float64, len(y))
	for m := 0; m < M; m++ {
		for oh := 0; oh < p.OutH; oh++ {
			for ow := 0; ow < p.OutW; ow++ {
				var s, g float64
				if bias != nil {
					s, g = float64(bias[m]), math.Abs(float64(bias[m]))
				}
				c0, c1 := 0, p.C
				if depthwise {
					c0, c1 = m, m+1
				}
				for c := c0; c < c1; c++ {
					for i := 0; i < p.KH; i++ {
						for j := 0; j < p.KW; j++ {
							ih, iw := oh*p.StrideH-p.PadT+i*p.DilH, ow*p.StrideW-p.PadL+j*p.DilW
							if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
								continue
							}
							wi := ((m*p.C+c)*p.KH+i)*p.KW + j
							if depthwise {
								wi = (m*p.KH+i)*p.KW + j
							}
							t := float64(x[(c*p.H+ih)*p.W+iw]) * float64(w[wi])
							s += t
							g += math.Abs(t)
						}
					}
				}
				y[(m*p.OutH+oh)*p.OutW+ow], mag[(m*p.OutH+oh)*p.OutW+ow] = s, g
			}
		}
	}
	return y, mag
}

func convShapes() []ConvParams {
	var ps []ConvParams
	add := func(c, h, w, kh, kw, s, pad, dil int) {
		p := ConvParams{C: c, H: h, W: w, KH: kh, KW: kw, StrideH: s, StrideW: s, PadT: pad, PadL: pad, DilH: dil, DilW: dil}
		p.OutH = (h+2*pad-dil*(kh-1)-1)/s + 1
		p.OutW = (w+2*pad-dil*(kw-1)-1)/s + 1
		if p.OutH > 0 && p.OutW > 0 {
			ps = append(ps, p)
		}
	}
	for _, hw := range [][2]int{{1, 1}, {2, 3}, {5, 7}, {9, 9}, {13, 29}, {14, 14}, {17, 40}, {32, 33}} {
		for _, s := range []int{1, 2} {
			add(3, hw[0], hw[1], 3, 3, s, 1, 1)
			add(2, hw[0], hw[1], 3, 3, s, 0, 1)
		}
		add(2, hw[0], hw[1], 1, 1, 1, 0, 1)
		add(3, hw[0], hw[1], 5, 5, 2, 2, 1)
		add(2, hw[0], hw[1], 3, 3, 1, 2, 2)
		add(2, hw[0], hw[1], 3, 2, 3, 1, 1)
	}
	// Strided rows wide enough for whole 16-output panels in one row (the
	// copying path over phase planes), with dilation, a stride of 3 and a
	// 7×7 stem-like kernel.
	add(3, 6, 71, 3, 3, 2, 1, 2)
	add(2, 5, 100, 7, 7, 2, 3, 1)
	add(2, 4, 101, 3, 3, 3, 1, 1)
	// Different strides and dilations across H and W.
	ps = append(ps, ConvParams{C: 3, H: 9, W: 75, KH: 3, KW: 5, StrideH: 1, StrideW: 2, PadT: 1, PadL: 2, DilH: 1, DilW: 2, OutH: 9, OutW: 36})
	// Asymmetric padding: a larger output than symmetric pads give.
	ps = append(ps, ConvParams{C: 2, H: 10, W: 19, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 0, PadL: 0, DilH: 1, DilW: 1, OutH: 5, OutW: 10})
	return ps
}

func TestIm2colPackedConv(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, k := range twins() {
		with(k, func() {
			for _, p := range convShapes() {
				const M = 7
				x, w := randSlice(r, p.C*p.H*p.W), randSlice(r, M*p.K())
				col := make([]float32, PackedBSize(p.K(), p.N()))
				for i := range col {
					col[i] = float32(math.NaN()) // every slot must be written
				}
				Im2colPacked(col, x, p)
				y := make([]float32, M*p.N())
				SgemmPacked(false, M, p.N(), p.K(), 1, w, p.K(), col, 0, y, p.N(), 2)
				ref, mag := naiveConv(x, w, nil, M, p, false)
				for i := range y {
					if d := math.Abs(float64(y[i]) - ref[i]); !(d <= gemmTol(p.K(), mag[i])) {
						t.Fatalf("%s %+v: y[%d] = %v, want %v", k.name, p, i, y[i], ref[i])
					}
				}
			}
		})
	}
}

func TestDepthwise(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, k := range twins() {
		with(k, func() {
			for _, p := range convShapes() {
				for _, withBias := range []bool{false, true} {
					x, w := randSlice(r, p.C*p.H*p.W), randSlice(r, p.C*p.KH*p.KW)
					var bias []float32
					if withBias {
						bias = randSlice(r, p.C)
					}
					y := make([]float32, p.C*p.N())
					DepthwiseConv2D(y, x, w, bias, p, 2, nil)
					ref, mag := naiveConv(x, w, bias, p.C, p, true)
					for i := range y {
						if d := math.Abs(float64(y[i]) - ref[i]); !(d <= gemmTol(p.KH*p.KW, mag[i])) {
							t.Fatalf("%s %+v bias=%v: y[%d] = %v, want %v", k.name, p, withBias, i, y[i], ref[i])
						}
					}
				}
			}
		})
	}
}

// TestDepthwiseWide runs the vector rows on widths that leave every tail
// length and enough channels to split across goroutines.
func TestDepthwiseWide(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, k := range twins() {
		with(k, func() {
			for w := 20; w < 60; w += 3 {
				for _, s := range []int{1, 2} {
					p := ConvParams{C: 40, H: 12, W: w, KH: 3, KW: 3, StrideH: s, StrideW: s, PadT: 1, PadL: 1, DilH: 1, DilW: 1}
					p.OutH, p.OutW = (12+2-3)/s+1, (w+2-3)/s+1
					x, wt, b := randSlice(r, p.C*p.H*p.W), randSlice(r, p.C*9), randSlice(r, p.C)
					y := make([]float32, p.C*p.N())
					// done sees each channel once, finished: it negates it.
					seen := make([]int, p.C)
					DepthwiseConv2D(y, x, wt, b, p, 2, func(c0, c1 int) {
						for c := c0; c < c1; c++ {
							seen[c]++
						}
						for i := c0 * p.N(); i < c1*p.N(); i++ {
							y[i] = -y[i]
						}
					})
					ref, mag := naiveConv(x, wt, b, p.C, p, true)
					for c, n := range seen {
						if n != 1 {
							t.Fatalf("%s %s: done called %d times for channel %d", k.name, fmt.Sprint(p), n, c)
						}
					}
					for i := range y {
						if d := math.Abs(float64(-y[i]) - ref[i]); !(d <= gemmTol(9, mag[i])) {
							t.Fatalf("%s %s: y[%d] = %v, want %v", k.name, fmt.Sprint(p), i, y[i], ref[i])
						}
					}
				}
			}
		})
	}
}

// TestConvPacked checks the chunked convolution against the direct one,
// with shapes of one and of several chunks, on one, two and three
// goroutines (each thread its own columns, or with few chunks its own
// rows).
func TestConvPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	shapes := convShapes()
	big := ConvParams{C: 64, H: 19, W: 17, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, DilH: 1, DilW: 1, OutH: 19, OutW: 17}
	shapes = append(shapes, big) // K 576: 112-column chunks, three of them
	// K 144, N 3136: seven chunks, too few to share: two threads split each GEMM.
	shallow := ConvParams{C: 16, H: 56, W: 56, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, DilH: 1, DilW: 1, OutH: 56, OutW: 56}
	shapes = append(shapes, shallow)
	// Deep and narrow (resnet's last stages): K 1152, N 49, one chunk; with
	// 70 filters the two-thread product runs in blocks of rows and columns.
	deep := ConvParams{C: 128, H: 7, W: 7, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, DilH: 1, DilW: 1, OutH: 7, OutW: 7}
	strided := ConvParams{C: 64, H: 15, W: 15, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, DilH: 1, DilW: 1, OutH: 8, OutW: 8}
	// 14×14 at K 576: three chunks, each thread its own planes, the taps
	// kernels for 192 columns and an im2col copy for the last 4.
	mid := ConvParams{C: 64, H: 14, W: 14, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, DilH: 1, DilW: 1, OutH: 14, OutW: 14}
	// Stride 3 and dilation 2 down, stride 2 across, padding on the left
	// and right only: at 16 filters the threads split the plane rows
	// (convByColumns), at 70 and 260 the filters (convByRows).
	odd := ConvParams{C: 16, H: 120, W: 121, KH: 3, KW: 2, StrideH: 3, StrideW: 2, PadT: 0, PadL: 1, DilH: 2, DilW: 1, OutH: 39, OutW: 61}
	shapes = append(shapes, deep, strided, mid, odd)
	for _, k := range twins() {
		with(k, func() {
			for _, p := range shapes {
				for _, M := range []int{1, 7, 16, 70, 260} {
					x, w := randSlice(r, p.C*p.H*p.W), randSlice(r, M*p.K())
					ref, mag := naiveConv(x, w, nil, M, p, false)
					pa := PackA(false, M, p.K(), 1, w, p.K())
					var one []float32 // the result on one goroutine
					for _, th := range []int{1, 2, 3} {
						y := randSlice(r, M*p.N())
						// done sees each output once, finished: it negates it.
						seen := make([]int, M*p.N())
						ConvPacked(y, pa, x, p, th, func(r0, r1, q0, q1 int) {
							for j := r0; j < r1; j++ {
								for q := q0; q < q1; q++ {
									seen[j*p.N()+q]++
									y[j*p.N()+q] = -y[j*p.N()+q]
								}
							}
						})
						for i, n := range seen {
							if n != 1 {
								t.Fatalf("%s %+v: done called %d times for output %d", k.name, p, n, i)
							}
						}
						for i := range y {
							if d := math.Abs(float64(-y[i]) - ref[i]); !(d <= gemmTol(p.K(), mag[i])) {
								t.Fatalf("%s %+v M=%d threads=%d: y[%d] = %v, want %v", k.name, p, M, th, i, y[i], ref[i])
							}
						}
						if one == nil {
							one = y
							continue
						}
						for i := range y {
							if math.Float32bits(y[i]) != math.Float32bits(one[i]) {
								t.Fatalf("%s %+v M=%d threads=%d: y[%d] = %v, one thread %v: the bits depend on the split", k.name, p, M, th, i, y[i], one[i])
							}
						}
					}
				}
			}
		})
	}
}

// TestSegRowsTwins compares each level's masked-run copy with segRowsGo bit
// for bit on random runs (lanes no mask covers read as zero).
func TestSegRowsTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	src := randSlice(r, 4096)
	src[100] = math.Float32frombits(0x7fc0abcd)
	base := &src[1024]
	for _, k := range twins() {
		if k.segRows == nil {
			continue
		}
		for trial := 0; trial < 200; trial++ {
			var segs [4]int32
			var masks [4]uint16
			// Up to four runs over a prefix of the 16 lanes.
			for t, s := 0, 0; t < nr && s < 4; s++ {
				run := 1 + r.IntN(nr-t)
				segs[s] = int32(4 * (r.IntN(512) - 256))
				masks[s] = uint16((1<<run - 1) << t)
				t += run + r.IntN(2) // sometimes a lane no run covers
			}
			rows := make([]int32, 1+r.IntN(5))
			for i := range rows {
				rows[i] = int32(4 * (r.IntN(1024) - 512))
			}
			want := make([]float32, len(rows)*nr)
			got := randSlice(r, len(rows)*nr)
			segRowsGo(want, base, rows, &segs, &masks)
			k.segRows(got, base, rows, &segs, &masks)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s: segs %v masks %x rows %v: dst[%d] = %v, want %v", k.name, segs, masks, rows, i, got[i], want[i])
				}
			}
		}
	}
}

// TestIm2colTaps checks im2colTaps' table, built from channel 0's taps
// plus each channel's planes' offset, against colLayout.tap row by row,
// over strides, dilations and kernel shapes.
func TestIm2colTaps(t *testing.T) {
	for _, p := range []ConvParams{
		{C: 256, H: 4, W: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, DilH: 1, DilW: 1},
		{C: 3, H: 17, W: 23, KH: 7, KW: 7, StrideH: 2, StrideW: 2, PadT: 3, PadL: 3, DilH: 1, DilW: 1},
		{C: 5, H: 9, W: 11, KH: 3, KW: 2, StrideH: 1, StrideW: 2, PadT: 0, PadL: 1, DilH: 2, DilW: 3},
		{C: 1, H: 6, W: 6, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	} {
		p.OutH = (p.H+2*p.PadT-(p.KH-1)*p.DilH-1)/p.StrideH + 1
		p.OutW = (p.W+2*p.PadL-(p.KW-1)*p.DilW-1)/p.StrideW + 1
		l := newColLayout(&p)
		planes := make([]float32, l.floats())
		var buf []int32
		taps := im2colTaps(&buf, planes, &l)
		if len(taps) != p.K() {
			t.Fatalf("%+v: %d taps, want %d", p, len(taps), p.K())
		}
		for c := 0; c < p.C; c++ {
			for i := 0; i < p.KH; i++ {
				for j := 0; j < p.KW; j++ {
					if got, want := taps[(c*p.KH+i)*p.KW+j], int32(4*l.tap(c, i, j)); got != want {
						t.Fatalf("%+v: tap (%d, %d, %d) = %d, want %d", p, c, i, j, got, want)
					}
				}
			}
		}
	}
}

// TestDeinterleaveTwins compares each level's ks.deint with
// deinterleaveGo on 0 to 70 pairs (full steps and every masked tail), and
// checks that nothing past the pairs is written.
func TestDeinterleaveTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range twins() {
		for n := 0; n <= 70; n++ {
			src := randSlice(r, 2*n+3)
			want := [2][]float32{make([]float32, n+2), make([]float32, n+2)}
			got := [2][]float32{make([]float32, n+2), make([]float32, n+2)}
			for i := range got {
				for j := range got[i] {
					want[i][j], got[i][j] = -1, -1
				}
			}
			deinterleaveGo(want[0][:n], want[1][:n], src[:2*n])
			k.deint(got[0][:n], got[1][:n], src[:2*n])
			for i := range got {
				for j := range got[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
						t.Fatalf("%s n=%d: phase %d [%d] = %v, want %v", k.name, n, i, j, got[i][j], want[i][j])
					}
				}
			}
		}
	}
}

// TestPlaneRows compares the planes padPlaneRows (stride 1, each level's
// ks.padRows) and phasePairRows (stride 2, ks.deint) write with the
// per-phase path's, over widths of 1 to 40 (every masked tail), pads 0 to
// 3 (the even columns in either phase) and kernels 1 to 5 wide, with rows
// split as threads split them and a guard past the planes.
func TestPlaneRows(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, k := range twins() {
		with(k, func() {
			for st := 1; st <= 2; st++ {
				for w := 1; w <= 40; w++ {
					for pad := 0; pad <= 3; pad++ {
						for kw := 1; kw <= 5; kw += 2 {
							h := 2 + w%5
							oh, ow := (h+2*pad-kw)/st+1, (w+2*pad-kw)/st+1
							if h+2*pad < kw || w+2*pad < kw {
								continue
							}
							p := ConvParams{C: 2, H: h, W: w, KH: kw, KW: kw, StrideH: st, StrideW: st, PadT: pad, PadL: pad, DilH: 1, DilW: 1, OutH: oh, OutW: ow}
							l := newColLayout(&p)
							x := randSlice(r, p.C*p.H*p.W)
							want, got := randSlice(r, l.floats()+16), randSlice(r, l.floats()+16)
							copy(got[l.floats():], want[l.floats():])
							for c := 0; c < p.C; c++ {
								pl := want[c*l.channel : (c+1)*l.channel]
								phaseRowsEach(pl, x[c*h*w:(c+1)*h*w], &p, l.qw, l.ph, 0, l.ph)
							}
							l.fillRows(got, x, 0, l.ph/2)
							l.fillRows(got, x, l.ph/2, l.ph)
							for i := range want {
								if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
									t.Fatalf("%s stride %d w=%d pad=%d k=%d: planes[%d] = %v, want %v", k.name, st, w, pad, kw, i, got[i], want[i])
								}
							}
						}
					}
				}
			}
		})
	}
}

// TestConvPackedConcurrent runs two-thread convolutions from several
// goroutines at once, as concurrent sessions do: the per-thread workspaces
// (shareWorkspace) are then contended, and a region that finds one taken
// must use the pool's instead; every result must be the one-goroutine one.
func TestConvPackedConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	shapes := []ConvParams{
		{C: 64, H: 14, W: 14, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, DilH: 1, DilW: 1, OutH: 14, OutW: 14},
		{C: 16, H: 56, W: 56, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, DilH: 1, DilW: 1, OutH: 28, OutW: 28},
	}
	type job struct {
		p    ConvParams
		pa   *PackedA
		x    []float32
		want []float32
	}
	var jobs []job
	for _, p := range shapes {
		for _, M := range []int{16, 96} {
			x, w := randSlice(r, p.C*p.H*p.W), randSlice(r, M*p.K())
			pa := PackA(false, M, p.K(), 1, w, p.K())
			want := make([]float32, M*p.N())
			ConvPacked(want, pa, x, p, 1, nil)
			jobs = append(jobs, job{p, pa, x, want})
		}
	}
	errs := make(chan string, len(jobs))
	done := make(chan struct{})
	for g, j := range jobs {
		go func() {
			defer func() { done <- struct{}{} }()
			y := make([]float32, len(j.want))
			for range 20 {
				ConvPacked(y, j.pa, j.x, j.p, 2, nil)
				for i := range y {
					if math.Float32bits(y[i]) != math.Float32bits(j.want[i]) {
						errs <- fmt.Sprintf("goroutine %d %+v: y[%d] = %v, want %v", g, j.p, i, y[i], j.want[i])
						return
					}
				}
			}
		}()
	}
	for range jobs {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
