package simd

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// twins returns every kernel set that can run here: the pure-Go one and
// each assembly level the CPU has (avx2, avx512).
func twins() []*kernelSet { return levels() }

// with runs f with k as the active kernel set.
func with(k *kernelSet, f func()) {
	old := ks
	ks = k
	defer func() { ks = old }()
	f()
}

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func TestDispatch(t *testing.T) {
	t.Logf("active kernels: %s (assembly available: %v)", ks.name, asmKernels != nil)
	if os.Getenv("ONNXSLIM_NOSIMD") == "1" && Accelerated() {
		t.Fatal("ONNXSLIM_NOSIMD=1 but assembly kernels are active")
	}
}

// refGemm is the naive triple loop in float64; it also returns Σ|terms| per
// element for the error bound.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (ref, mag []float64) {
	ref = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, g float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				g += math.Abs(float64(av) * float64(bv))
			}
			s *= float64(alpha)
			g *= math.Abs(float64(alpha))
			if beta != 0 {
				s += float64(beta) * float64(c[i*ldc+j])
				g += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			ref[i*n+j], mag[i*n+j] = s, g
		}
	}
	return ref, mag
}

// gemmTol is the documented SGEMM tolerance: |C - exact| ≤ (k+4)·2⁻²³·Σ|terms|.
func gemmTol(k int, mag float64) float64 { return float64(k+4) * 0x1p-23 * mag }

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	padA, padB     int // extra row stride
	padC           int
	alpha, beta    float32
	kc             int // SgemmPackedA's K block (0: default)
}

func gemmCases() []gemmCase {
	var cs []gemmCase
	sizes := [][3]int{{0, 0, 0}, {1, 1, 1}, {0, 5, 3}, {4, 0, 3}, {3, 5, 0}, {1, 17, 1}, {6, 16, 1}, {7, 33, 5},
		{5, 15, 9}, {13, 31, 29}, {37, 19, 300}, {61, 47, 257}, {150, 70, 33}, {1, 100, 64}, {100, 1, 64}, {64, 64, 64}}
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range sizes {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				ab := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, 0}}[r.IntN(4)]
				cs = append(cs, gemmCase{ta, tb, s[0], s[1], s[2], r.IntN(3) * 3, r.IntN(2) * 5, r.IntN(2) * 7, ab[0], ab[1], []int{0, 7, 128}[r.IntN(3)]})
			}
		}
	}
	return cs
}

// Operand forms of runGemmCase: both plain, B packed (PackB), A packed
// (PackA), both packed.
const (
	plainAB = iota
	packedB
	packedA
	packedAB
)

func runGemmCase(t *testing.T, tc gemmCase, threads int, packed int) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(tc.m*1000+tc.n), uint64(tc.k)))
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := ac+tc.padA, bc+tc.padB, tc.n+tc.padC
	a := randSlice(r, max(0, (ar-1)*lda+ac))
	b := randSlice(r, max(0, (br-1)*ldb+bc))
	c := randSlice(r, max(0, (tc.m-1)*ldc+tc.n))
	if tc.beta == 0 && len(c) > 0 {
		c[0] = float32(math.NaN()) // beta 0 must not read C
	}
	ref, mag := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	got := append([]float32(nil), c...)
	var bp []float32
	if packed == packedB || packed == packedAB {
		bp = make([]float32, PackedBSize(tc.k, tc.n))
		PackB(tc.transB, tc.k, tc.n, b, ldb, bp)
	}
	switch packed {
	case plainAB:
		Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc, threads)
	case packedB:
		SgemmPacked(tc.transA, tc.m, tc.n, tc.k, tc.alpha, a, lda, bp, tc.beta, got, ldc, threads)
	default:
		pa := PackA(tc.transA, tc.m, tc.k, tc.alpha, a, lda)
		SgemmPackedA(pa, tc.transB, tc.n, b, ldb, bp, tc.beta, got, ldc, tc.kc, threads)
	}
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc && i*ldc+j < len(c); j++ {
			g := got[i*ldc+j]
			if j >= tc.n {
				if g != c[i*ldc+j] && !(g != g && c[i*ldc+j] != c[i*ldc+j]) {
					t.Fatalf("%+v: wrote outside C at (%d,%d)", tc, i, j)
				}
				continue
			}
			want := ref[i*tc.n+j]
			if d := math.Abs(float64(g) - want); !(d <= gemmTol(tc.k, mag[i*tc.n+j])) {
				t.Fatalf("%s %+v threads=%d packed=%d: C[%d,%d] = %v, want %v (tol %g)", ks.name, tc, threads, packed, i, j, g, want, gemmTol(tc.k, mag[i*tc.n+j]))
			}
		}
	}
}

func TestSgemm(t *testing.T) {
	blocks := [][3]int{{blockMC, blockKC, blockNC}, {12, 7, 32}, {6, 64, 16}}
	defer func(mc, kc, nc int) { blockMC, blockKC, blockNC = mc, kc, nc }(blockMC, blockKC, blockNC)
	for _, k := range twins() {
		with(k, func() {
			for _, bl := range blocks {
				blockMC, blockKC, blockNC = bl[0], bl[1], bl[2]
				for _, tc := range gemmCases() {
					for _, th := range []int{1, 2, 3} {
						for mode := plainAB; mode <= packedAB; mode++ {
							runGemmCase(t, tc, th, mode)
						}
					}
				}
			}
		})
	}
}

func TestSgemmLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	defer func(nc int) { blockNC = nc }(blockNC)
	blockNC = 256 // several jc blocks without a huge reference product
	for _, k := range twins() {
		with(k, func() {
			for _, th := range []int{1, 2} {
				runGemmCase(t, gemmCase{false, false, 200, 700, 300, 0, 0, 3, 1, 0, 0}, th, plainAB)
				runGemmCase(t, gemmCase{true, true, 157, 130, 520, 1, 2, 0, 1.5, 1, 0}, th, packedB)
				runGemmCase(t, gemmCase{true, false, 157, 130, 520, 1, 2, 0, 1.5, 1, 128}, th, packedA)
				runGemmCase(t, gemmCase{false, true, 200, 700, 300, 0, 0, 3, 1, 0, 256}, th, packedAB)
			}
		})
	}
}

// TestSgemmThreadsSameBits: a product cut into blocks for 2–4 threads (rows
// or columns, operands packed or not, B transposed, ragged edges, the
// unpacked product of one or two rows) gives the bits of one thread: the
// blocks only change which goroutine computes an element.
func TestSgemmThreadsSameBits(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	shapes := [][3]int{{301, 97, 130}, {40, 1003, 77}, {131, 131, 131}, {512, 49, 160}, {1, 1000, 512}, {2, 997, 301}}
	for _, k := range twins() {
		with(k, func() {
			for _, s := range shapes {
				m, n, kk := s[0], s[1], s[2]
				a, b := randSlice(r, m*kk), randSlice(r, kk*n)
				bp := make([]float32, PackedBSize(kk, n))
				PackB(false, kk, n, b, n, bp)
				pa := PackA(false, m, kk, 1, a, kk)
				bt := make([]float32, n*kk) // B transposed (a classifier's weights)
				for p := 0; p < kk; p++ {
					for j := 0; j < n; j++ {
						bt[j*kk+p] = b[p*n+j]
					}
				}
				for mode := plainAB - 1; mode <= packedAB+1; mode++ {
					var one []float32
					for _, th := range []int{1, 2, 3, 4} {
						c := make([]float32, m*n)
						switch mode {
						case plainAB - 1:
							Sgemm(false, true, m, n, kk, 1, a, kk, bt, kk, 0, c, n, th)
						case plainAB:
							Sgemm(false, false, m, n, kk, 1, a, kk, b, n, 0, c, n, th)
						case packedB:
							SgemmPacked(false, m, n, kk, 1, a, kk, bp, 0, c, n, th)
						case packedA:
							SgemmPackedA(pa, false, n, b, n, nil, 0, c, n, ConvKBlock(n, kk), th)
						case packedAB + 1:
							// Each block handed to done once, when final.
							seen := make([]int32, m*n)
							SgemmPackedAEach(pa, false, n, b, n, nil, 0, c, n, ConvKBlock(n, kk), th, func(r0, r1, q0, q1 int) {
								for i := r0; i < r1; i++ {
									for j := q0; j < q1; j++ {
										seen[i*n+j]++
									}
								}
							})
							for i, v := range seen {
								if v != 1 {
									t.Fatalf("%s %v threads=%d: done saw C[%d] %d times", ks.name, s, th, i, v)
								}
							}
						default:
							SgemmPackedA(pa, false, n, nil, 0, bp, 0, c, n, 0, th)
						}
						if one == nil {
							one = c
							continue
						}
						for i := range c {
							if math.Float32bits(c[i]) != math.Float32bits(one[i]) || c[i] != c[i] {
								t.Fatalf("%s %v mode %d threads=%d: C[%d] = %v, one thread %v", ks.name, s, mode, th, i, c[i], one[i])
							}
						}
					}
				}
			}
		})
	}
}

// TestSgemmTwins compares the micro-kernel twins bit for bit where FMA
// rounding cannot differ (small integers).
func TestSgemmTwins(t *testing.T) {
	if asmKernels == nil {
		t.Skip("no assembly twins here")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for mrr := 1; mrr <= mr; mrr++ {
		for _, k := range []int{0, 1, 3, 4, 5, 8, 13, 256} {
			a := make([]float32, k*mrr)
			b := make([]float32, k*nr)
			for i := range a {
				a[i] = float32(r.IntN(9) - 4)
			}
			for i := range b {
				b[i] = float32(r.IntN(9) - 4)
			}
			for _, acc := range []bool{false, true} {
				const ldc = 19
				c1 := make([]float32, mrr*ldc)
				for i := range c1 {
					c1[i] = float32(r.IntN(9))
				}
				c2 := append([]float32(nil), c1...)
				ap, bp := new(float32), new(float32)
				if k > 0 {
					ap, bp = &a[0], &b[0]
				}
				goKernels.gemm[mrr](k, ap, bp, &c1[0], ldc, acc)
				asmKernels.gemm[mrr](k, ap, bp, &c2[0], ldc, acc)
				for i := range c1 {
					if c1[i] != c2[i] {
						t.Fatalf("mr=%d k=%d acc=%v: c[%d] go %v asm %v", mrr, k, acc, i, c1[i], c2[i])
					}
				}
			}
		}
	}
}

func TestSgemmNoAlloc(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m, n, k := 96, 200, 130
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n, 1)
	if got := testing.AllocsPerRun(20, func() { Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n, 1) }); got != 0 {
		t.Errorf("Sgemm allocates %v times a call", got)
	}
}

func TestSgemmPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("short C did not panic")
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2, 1)
}

// TestPackA6Twins checks every level's 6-row packing kernel against the
// definition bit for bit (NaN payloads and -0 included: it is a copy), over
// row strides and block counts, and that it writes nothing past its blocks.
func TestPackA6Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, k := range twins() {
		for _, blocks := range []int{0, 1, 2, 5} {
			for _, lda := range []int{16 * blocks, 16*blocks + 3, 100} {
				if lda < max(1, 16*blocks) {
					continue
				}
				a := randSlice(r, 5*lda+16*blocks)
				a[0], a[len(a)-1] = math.Float32frombits(0x7fc01234), float32(math.Copysign(0, -1))
				dst := make([]float32, 96*blocks+8)
				for i := range dst {
					dst[i] = -7
				}
				k.packA6(dst, a, lda, blocks)
				for b := 0; b < blocks; b++ {
					for p := 0; p < 16; p++ {
						for i := 0; i < 6; i++ {
							got, want := dst[96*b+6*p+i], a[i*lda+16*b+p]
							if math.Float32bits(got) != math.Float32bits(want) {
								t.Fatalf("%s blocks=%d lda=%d: dst[%d] = %v, want a[%d][%d] = %v", k.name, blocks, lda, 96*b+6*p+i, got, i, 16*b+p, want)
							}
						}
					}
				}
				for i := 96 * blocks; i < len(dst); i++ {
					if dst[i] != -7 {
						t.Fatalf("%s blocks=%d: wrote dst[%d] past the blocks", k.name, blocks, i)
					}
				}
			}
		}
	}
}

// TestGemmColTwins compares each level's one-column kernels with
// gemmColsGo bit for bit where rounding cannot differ (small integers),
// over panel counts, depths and row strides.
func TestGemmColTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	ref := gemmColsGo()
	for _, k := range twins() {
		for np := 1; np <= colPanels; np++ {
			for _, depth := range []int{1, 2, 5, 128} {
				astride := mr*depth + r.IntN(3)*mr
				a := make([]float32, (np-1)*astride+mr*depth)
				b := make([]float32, nr*depth)
				for i := range a {
					a[i] = float32(r.IntN(9) - 4)
				}
				for i := range b {
					b[i] = float32(r.IntN(9) - 4)
				}
				got, want := make([]float32, 8*np), make([]float32, 8*np)
				ref[np](depth, &a[0], astride, &b[3%nr], &want[0])
				k.gemmCol[np](depth, &a[0], astride, &b[3%nr], &got[0])
				for p := 0; p < np; p++ {
					for i := 0; i < mr; i++ {
						if got[8*p+i] != want[8*p+i] {
							t.Fatalf("%s np=%d k=%d: out[%d] = %v, want %v", k.name, np, depth, 8*p+i, got[8*p+i], want[8*p+i])
						}
					}
				}
			}
		}
	}
}
