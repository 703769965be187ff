package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// Benchmarks report GFLOP/s and, for SGEMM, the percentage of the
// single-core FMA peak measured by BenchmarkFMAPeak's loop. go test -cpu 1,2
// runs every -cpu value at the larger GOMAXPROCS with b.Loop
// (golang/go#49980), so the thread count is a sub-benchmark parameter
// instead.

// peakOnce is the single-core FMA peak in GFLOP/s: the fastest of many
// short runs of the 12-accumulator loop, short enough that some run
// undisturbed on a shared machine.
var peakOnce = sync.OnceValue(func() float64 {
	const rounds = 1 << 14
	if FMAPeakLoop(1) == 0 {
		return 0
	}
	best := time.Hour
	for range 2000 {
		t := time.Now()
		FMAPeakLoop(rounds)
		best = min(best, time.Since(t))
	}
	return ks.peakFlops * rounds / best.Seconds() / 1e9
})

// cpuClock measures CPU time across a b.Loop, and the fastest single
// iteration: on a shared machine an iteration that ran without being
// descheduled shows what the code does on an idle core.
type cpuClock struct {
	start time.Duration
	last  time.Time
	best  time.Duration
}

func startCPU(b *testing.B) *cpuClock {
	b.ResetTimer()
	return &cpuClock{start: cpuTime(), last: time.Now(), best: time.Hour}
}

// lap ends one iteration.
func (c *cpuClock) lap() {
	now := time.Now()
	c.best = min(c.best, now.Sub(c.last))
	c.last = now
}

// report sets GFLOP/s (wall), GFLOP/cpu-s (per busy core) and %peak (per
// busy core against the FMA loop) for flops a loop iteration.
func (c *cpuClock) report(b *testing.B, flops float64) {
	cpu := (cpuTime() - c.start).Seconds()
	total := flops * float64(b.N) / 1e9
	b.ReportMetric(total/b.Elapsed().Seconds(), "GFLOP/s")
	if p := peakOnce(); p > 0 {
		b.ReportMetric(p, "peak-GFLOP/s")
	}
	if c.best < time.Hour {
		best := flops / 1e9 / c.best.Seconds()
		b.ReportMetric(best, "best-GFLOP/s")
		if p := peakOnce(); p > 0 {
			b.ReportMetric(100*best/p, "best-%peak")
		}
	}
	if cpu > 0 {
		b.ReportMetric(total/cpu, "GFLOP/cpu-s")
		if p := peakOnce(); p > 0 {
			b.ReportMetric(100*total/cpu/p, "%peak")
		}
	}
}

func BenchmarkFMAPeak(b *testing.B) {
	const rounds = 1 << 16
	if FMAPeakLoop(1) == 0 {
		b.Skip("no assembly")
	}
	clk := startCPU(b)
	for b.Loop() {
		FMAPeakLoop(rounds)
		clk.lap()
	}
	clk.report(b, ks.peakFlops*rounds)
}

func reportGemm(b *testing.B, clk *cpuClock, m, n, k int) {
	clk.report(b, 2*float64(m)*float64(n)*float64(k))
}

func BenchmarkSgemm(b *testing.B) {
	shapes := []struct {
		name    string
		m, n, k int
	}{
		{"64", 64, 64, 64}, {"128", 128, 128, 128}, {"256", 256, 256, 256}, {"512", 512, 512, 512}, {"1024", 1024, 1024, 1024},
		{"conv_M64_K576_N3136", 64, 3136, 576},
		{"conv1x1_M32_K16_N19200", 32, 19200, 16}, {"conv1x1_M16_K32_N19200", 16, 19200, 32},
		{"conv1x1_M64_K64_N4800", 64, 4800, 64}, {"conv1x1_M256_K128_N784", 256, 784, 128},
	}
	for _, s := range shapes {
		r := rand.New(rand.NewPCG(1, 1))
		a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
		bp := make([]float32, PackedBSize(s.k, s.n))
		PackB(false, s.k, s.n, bb, s.n, bp)
		for _, th := range []int{1, 2} {
			// B read in place (where the level has the kernels), then
			// packed as before: the two side by side.
			for _, inPlace := range []bool{true, false} {
				b.Run(fmt.Sprintf("%s/inplace=%v/threads=%d", s.name, inPlace, th), func(b *testing.B) {
					defer func(k int) { inPlaceMaxK = k }(inPlaceMaxK)
					if !inPlace {
						inPlaceMaxK = 0
					}
					clk := startCPU(b)
					for b.Loop() {
						Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, bb, s.n, 0, c, s.n, th)
						clk.lap()
					}
					reportGemm(b, clk, s.m, s.n, s.k)
				})
			}
			b.Run(fmt.Sprintf("%s/packed/threads=%d", s.name, th), func(b *testing.B) {
				clk := startCPU(b)
				for b.Loop() {
					SgemmPacked(false, s.m, s.n, s.k, 1, a, s.k, bp, 0, c, s.n, th)
					clk.lap()
				}
				reportGemm(b, clk, s.m, s.n, s.k)
			})
		}
	}
}

// BenchmarkConv3x3 is the conv-shaped case end to end: Im2colPacked of a
// 64×56×56 input then SgemmPacked with 64 filters.
func BenchmarkConv3x3(b *testing.B) {
	p := ConvParams{C: 64, H: 56, W: 56, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadT: 1, PadL: 1, DilH: 1, DilW: 1, OutH: 56, OutW: 56}
	r := rand.New(rand.NewPCG(1, 1))
	x, w, y := randSlice(r, p.C*p.H*p.W), randSlice(r, 64*p.K()), make([]float32, 64*p.N())
	col := make([]float32, PackedBSize(p.K(), p.N()))
	b.Run("im2col", func(b *testing.B) {
		for b.Loop() {
			Im2colPacked(col, x, p)
		}
		b.ReportMetric(float64(p.K()*p.N()*4*b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	})
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("conv/threads=%d", th), func(b *testing.B) {
			clk := startCPU(b)
			for b.Loop() {
				Im2colPacked(col, x, p)
				SgemmPacked(false, 64, p.N(), p.K(), 1, w, p.K(), col, 0, y, p.N(), th)
				clk.lap()
			}
			reportGemm(b, clk, 64, p.N(), p.K())
		})
	}
}

func BenchmarkDepthwise(b *testing.B) {
	// 3×3 s1/s2 (MobileNet), 5×5 s1/s2 (EfficientNet), 3×3 with stride
	// (2,1) (text recognizers), 3×3 dilated 2: the last four take the
	// general kernel.
	shapes := []struct {
		name                      string
		c, hw, k, sh, sw, d, p, w int // hw: height, and width unless w is set
	}{
		{"3x3s1", 144, 56, 3, 1, 1, 1, 1, 0}, {"3x3s2", 144, 56, 3, 2, 2, 1, 1, 0},
		{"5x5s1", 240, 28, 5, 1, 1, 1, 2, 0}, {"5x5s2", 144, 56, 5, 2, 2, 1, 2, 0},
		{"3x3s21", 128, 48, 3, 2, 1, 1, 1, 0}, {"3x3d2", 144, 56, 3, 1, 1, 2, 2, 0},
		// Small planes (a face-landmark net's tail), where per-channel
		// set-up weighs most: 3×3 s1 on 8² and 4², s2 on 8², 4×4 on 4².
		{"3x3s1_8", 128, 8, 3, 1, 1, 1, 1, 0}, {"3x3s1_4", 128, 4, 3, 1, 1, 1, 1, 0},
		{"3x3s2_8", 256, 8, 3, 2, 2, 1, 1, 0}, {"4x4_4", 512, 4, 4, 1, 1, 1, 0, 0},
		// MobileNet's 7², 14² and 28² stages, and a 5×5 on 7².
		{"3x3s1_7", 960, 7, 3, 1, 1, 1, 1, 0}, {"3x3s1_14", 576, 14, 3, 1, 1, 1, 1, 0},
		{"3x3s2_14", 576, 14, 3, 2, 2, 1, 1, 0}, {"3x3s1_28", 192, 28, 3, 1, 1, 1, 1, 0},
		{"5x5s1_7", 672, 7, 5, 1, 1, 1, 2, 0},
		// A face detector's 120×160 layers (square here: 140²).
		{"3x3s1_140", 16, 140, 3, 1, 1, 1, 1, 0}, {"3x3s2_140", 32, 140, 3, 2, 2, 1, 1, 0},
		// fp_landmark's 3×3 stride-1 stages: 32@32², 64@16² (128@8² is
		// 3x3s1_8 above).
		{"3x3s1_32", 32, 32, 3, 1, 1, 1, 1, 0}, {"3x3s1_16", 64, 16, 3, 1, 1, 1, 1, 0},
		// fp_detect's 4:3 planes (rows of 40 and 80 columns, which end
		// off a 64-byte line), and 48 columns.
		{"3x3s1_30x40", 64, 30, 3, 1, 1, 1, 1, 40}, {"3x3s1_60x80", 32, 60, 3, 1, 1, 1, 1, 80},
		{"3x3s2_60x80", 32, 60, 3, 2, 2, 1, 1, 80}, {"3x3s1_30x48", 64, 30, 3, 1, 1, 1, 1, 48},
	}
	for _, sh := range shapes {
		wd := sh.hw // square unless the shape names a width
		if sh.w != 0 {
			wd = sh.w
		}
		p := ConvParams{C: sh.c, H: sh.hw, W: wd, KH: sh.k, KW: sh.k, StrideH: sh.sh, StrideW: sh.sw, PadT: sh.p, PadL: sh.p, DilH: sh.d, DilW: sh.d}
		p.OutH = (sh.hw+2*sh.p-(sh.k-1)*sh.d-1)/sh.sh + 1
		p.OutW = (wd+2*sh.p-(sh.k-1)*sh.d-1)/sh.sw + 1
		r := rand.New(rand.NewPCG(1, 1))
		x, w, y := randSlice(r, p.C*p.H*p.W), randSlice(r, p.C*p.KH*p.KW), make([]float32, p.C*p.OutH*p.OutW)
		for _, k := range twins() {
			// Where the channel-lane path runs, the row kernels too
			// ("rows"), to compare the two.
			for _, off := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s", sh.name, k.name)
				if off {
					if !with2(k, func() bool { return useDwChan(&p) }) {
						continue
					}
					name += "/rows"
				}
				b.Run(name, func(b *testing.B) {
					defer func(old bool) { dwChanOff = old }(dwChanOff)
					dwChanOff = off
					with(k, func() {
						for b.Loop() {
							DepthwiseConv2D(y, x, w, nil, p, 1, nil)
						}
					})
					b.ReportMetric(float64(2*p.KH*p.KW*p.C*p.OutH*p.OutW*b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

func BenchmarkElementwise(b *testing.B) {
	const n = 1 << 14 // 64 KiB a slice: in L2, so compute shows
	r := rand.New(rand.NewPCG(1, 1))
	x, y, d := randSlice(r, n), randSlice(r, n), make([]float32, n)
	ops := []struct {
		name string
		f    func()
	}{
		{"Add", func() { Add(d, x, y) }},
		{"Relu", func() { Relu(d, x) }},
		{"BiasClip", func() { BiasClip(d, x, 0.5, 0, 6) }},
		{"Exp", func() { Exp(d, x) }},
		{"Sigmoid", func() { Sigmoid(d, x) }},
		{"Tanh", func() { Tanh(d, x) }},
		{"Erf", func() { Erf(d, x) }},
		{"Gelu", func() { Gelu(d, x) }},
		{"Sum", func() { Sum(x) }},
		{"Softmax", func() { Softmax(d, x) }},
		{"LayerNorm", func() { LayerNorm(d, x, x, y, 1e-5) }},
	}
	for _, k := range twins() {
		for _, op := range ops {
			b.Run(op.name+"/"+k.name, func(b *testing.B) {
				with(k, func() {
					for b.Loop() {
						op.f()
					}
				})
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
			})
		}
	}
	b.Run("math.Exp", func(b *testing.B) {
		for b.Loop() {
			for i, v := range x {
				d[i] = float32(math.Exp(float64(v)))
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
	})
}

// BenchmarkMicroKernel2 runs the active level's 6×32 (two-panel) kernel
// alone on L1-resident panels.
func BenchmarkMicroKernel2(b *testing.B) {
	for _, kc := range []int{64, 128, 256} {
		b.Run(fmt.Sprintf("kc=%d", kc), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			a, bp, c := randSlice(r, mr*kc), randSlice(r, 2*nr*kc), make([]float32, mr*2*nr)
			clk := startCPU(b)
			for b.Loop() {
				ks.gemm2[mr](kc, &a[0], &bp[0], nr*kc, &c[0], 2*nr, true)
				clk.lap()
			}
			clk.report(b, 2*mr*2*nr*float64(kc))
		})
	}
}

// BenchmarkMicroKernel12 runs the active level's 12×32 kernel alone on
// L1-resident panels.
func BenchmarkMicroKernel12(b *testing.B) {
	for _, kc := range []int{64, 128, 256} {
		b.Run(fmt.Sprintf("kc=%d", kc), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			a, bp, c := randSlice(r, 2*mr*kc), randSlice(r, 2*nr*kc), make([]float32, 2*mr*2*nr)
			clk := startCPU(b)
			for b.Loop() {
				ks.gemm12(kc, &a[0], mr*kc, &bp[0], nr*kc, &c[0], 2*nr, true)
				clk.lap()
			}
			clk.report(b, 2*2*mr*2*nr*float64(kc))
		})
	}
}

// BenchmarkMicroKernel runs the 6×16 kernel alone on L1-resident panels.
func BenchmarkMicroKernel(b *testing.B) {
	for _, kc := range []int{64, 256, 512} {
		b.Run(fmt.Sprintf("kc=%d", kc), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			a, bp, c := randSlice(r, mr*kc), randSlice(r, nr*kc), make([]float32, mr*nr)
			clk := startCPU(b)
			for b.Loop() {
				ks.gemm[mr](kc, &a[0], &bp[0], &c[0], nr, true)
				clk.lap()
			}
			clk.report(b, 2*mr*nr*float64(kc))
		})
	}
}

// BenchmarkBlockSweep tunes blockMC/blockKC/blockNC on one thread (run
// with -bench BlockSweep; each result is GFLOP per CPU-second).
func BenchmarkBlockSweep(b *testing.B) {
	defer func(mc, kc, nc int) { blockMC, blockKC, blockNC = mc, kc, nc }(blockMC, blockKC, blockNC)
	shapes := [][3]int{{512, 512, 512}, {1024, 1024, 1024}, {64, 3136, 576}}
	for _, s := range shapes {
		r := rand.New(rand.NewPCG(1, 1))
		a, bb, c := randSlice(r, s[0]*s[2]), randSlice(r, s[2]*s[1]), make([]float32, s[0]*s[1])
		for _, kc := range []int{192, 256, 320, 384} {
			for _, mc := range []int{72, 144, 240, 360} {
				for _, nc := range []int{256, 512, 3072} {
					b.Run(fmt.Sprintf("%dx%dx%d/kc=%d/mc=%d/nc=%d", s[0], s[1], s[2], kc, mc, nc), func(b *testing.B) {
						blockMC, blockKC, blockNC = mc, kc, nc
						clk := startCPU(b)
						for b.Loop() {
							Sgemm(false, false, s[0], s[1], s[2], 1, a, s[2], bb, s[1], 0, c, s[1], 1)
							clk.lap()
						}
						reportGemm(b, clk, s[0], s[1], s[2])
					})
				}
			}
		}
	}
}

// im2colShapes are resnet18's 3×3 and stem convolutions (rows of 7 to
// 224 floats, strides 1 and 2), for the im2col and planes benchmarks.
var im2colShapes = []struct {
	name              string
	c, hw, k, st, pad int
}{
	{"conv1-7x7s2", 3, 224, 7, 2, 3},
	{"56-3x3", 64, 56, 3, 1, 1},
	{"28-3x3s2", 64, 56, 3, 2, 1},
	{"28-3x3", 128, 28, 3, 1, 1},
	{"14-3x3s2", 128, 28, 3, 2, 1},
	{"14-3x3", 256, 14, 3, 1, 1},
	{"7-3x3s2", 256, 14, 3, 2, 1},
	{"7-3x3", 512, 7, 3, 1, 1},
}

// BenchmarkIm2col writes the packed im2col of resnet18's convolution
// shapes: rows that do not split into whole 16-position runs (outputs 28,
// 14 and 7 wide, stride 2) take the gathering path.
func BenchmarkIm2col(b *testing.B) {
	for _, s := range im2colShapes {
		out := (s.hw+2*s.pad-s.k)/s.st + 1
		p := ConvParams{C: s.c, H: s.hw, W: s.hw, KH: s.k, KW: s.k, StrideH: s.st, StrideW: s.st, PadT: s.pad, PadL: s.pad, DilH: 1, DilW: 1, OutH: out, OutW: out}
		r := rand.New(rand.NewPCG(1, 1))
		x := randSlice(r, p.C*p.H*p.W)
		col := make([]float32, PackedBSize(p.K(), p.N()))
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				Im2colPacked(col, x, p)
			}
			b.ReportMetric(float64(p.K()*p.N()*4*b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

// BenchmarkPlanes times ConvPacked's first step, laying the input out in
// its zero-bordered phase planes (colLayout.fill), over im2colShapes.
func BenchmarkPlanes(b *testing.B) {
	for _, s := range im2colShapes {
		out := (s.hw+2*s.pad-s.k)/s.st + 1
		p := ConvParams{C: s.c, H: s.hw, W: s.hw, KH: s.k, KW: s.k, StrideH: s.st, StrideW: s.st, PadT: s.pad, PadL: s.pad, DilH: 1, DilW: 1, OutH: out, OutW: out}
		r := rand.New(rand.NewPCG(1, 1))
		x := randSlice(r, p.C*p.H*p.W)
		l := newColLayout(&p)
		planes := make([]float32, l.floats())
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				l.fill(planes, x)
			}
			b.ReportMetric(float64(len(planes)*4*b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}

// with2 is with for a function that returns a result.
func with2[T any](k *kernelSet, f func() T) T {
	var v T
	with(k, func() { v = f() })
	return v
}

// BenchmarkPackB packs B (1024 rows, k blocks of 256) as Sgemm does for a
// B it cannot read in place: ldb 1024 is the power-of-two stride that
// made the packed rows share cache sets.
func BenchmarkPackB(b *testing.B) {
	for _, ldb := range []int{1024, 1000, 3136} {
		r := rand.New(rand.NewPCG(1, 1))
		bb := randSlice(r, 1024*ldb)
		dst := make([]float32, 256*ldb+64)
		b.Run(fmt.Sprintf("ldb=%d", ldb), func(b *testing.B) {
			for b.Loop() {
				for pc := 0; pc < 1024; pc += 256 {
					packB(false, bb, ldb, pc, 0, 256, ldb/16*16, dst)
				}
			}
			b.ReportMetric(float64(1024*ldb/16*16*4*b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
