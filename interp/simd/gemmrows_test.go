package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmRowsTwins checks every level's in-place kernels (B read as rows,
// k steps ldb floats apart) against its own packed-panel kernels on a
// packed copy of the same B, bit for bit: the same FMA chains.
func TestGemmRowsTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, k := range twins() {
		if k.gemm12Rows == nil {
			t.Logf("%s: no in-place kernels (B is packed)", k.name)
			continue
		}
		for _, kk := range []int{1, 3, 4, 5, 16, 33, 130} {
			const ldb, ldc, astride = 77, 40, 6*131 + 6
			b := randSlice(r, (kk-1)*ldb+32)
			bp := make([]float32, PackedBSize(kk, 32))
			PackB(false, kk, 32, b, ldb, bp)
			a := randSlice(r, 2*astride)
			for _, acc := range []bool{false, true} {
				for mrr := 1; mrr <= mr; mrr++ {
					c0 := randSlice(r, mrr*ldc)
					c1 := append([]float32(nil), c0...)
					k.gemm2[mrr](kk, &a[0], &bp[0], 16*kk, &c0[0], ldc, acc)
					k.gemmRows[mrr](kk, &a[0], &b[0], ldb, &c1[0], ldc, acc)
					sameBits(t, fmt.Sprintf("%s gemmRows[%d] k=%d acc=%v", k.name, mrr, kk, acc), c1, c0)
				}
				c0 := randSlice(r, 2*mr*ldc)
				c1 := append([]float32(nil), c0...)
				k.gemm12(kk, &a[0], astride, &bp[0], 16*kk, &c0[0], ldc, acc)
				k.gemm12Rows(kk, &a[0], astride, &b[0], ldb, &c1[0], ldc, acc)
				sameBits(t, fmt.Sprintf("%s gemm12Rows k=%d acc=%v", k.name, kk, acc), c1, c0)
			}
		}
	}
}

// TestSgemmRowsInPlace: a product whose row-major B is read in place (any
// width, ragged edges packed, B a strided sub-matrix, pre-packed A, 1–2
// threads) gives at every level the bits of the same product over a packed
// B, and the same bits at every assembly level.
func TestSgemmRowsInPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	shapes := [][3]int{{16, 19200 / 8, 16}, {24, 640, 32}, {13, 95, 7}, {64, 333, 130}, {6, 32, 1}, {30, 1000, 400}}
	for _, s := range shapes {
		m, n, kk := s[0], s[1], s[2]
		ldb := n + 3
		a, b := randSlice(r, m*kk), randSlice(r, (kk-1)*ldb+n)
		bp := make([]float32, PackedBSize(kk, n))
		PackB(false, kk, n, b, ldb, bp)
		pa := PackA(false, m, kk, 1, a, kk)
		kc := ConvKBlock(n, kk)
		var ref []float32
		for _, k := range twins() {
			with(k, func() {
				for _, th := range []int{1, 2} {
					want := make([]float32, m*n)
					SgemmPacked(false, m, n, kk, 1, a, kk, bp, 0, want, n, th)
					got := make([]float32, m*n)
					Sgemm(false, false, m, n, kk, 1, a, kk, b, ldb, 0, got, n, th)
					name := fmt.Sprintf("%s %v threads=%d", k.name, s, th)
					sameBits(t, name+" Sgemm", got, want)
					want2 := make([]float32, m*n)
					SgemmPackedA(pa, false, n, nil, 0, bp, 0, want2, n, kc, th)
					got2 := make([]float32, m*n)
					SgemmPackedA(pa, false, n, b, ldb, nil, 0, got2, n, kc, th)
					sameBits(t, name+" SgemmPackedA", got2, want2)
					// The assembly levels share FMA chains (the Go twin
					// rounds each product: TestSgemmTwins compares it on
					// small integers).
					if k == goKernels {
						continue
					}
					if ref == nil {
						ref = got2
					}
					sameBits(t, name+" vs the first assembly level", got2, ref)
				}
			})
		}
	}
}

func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) || got[i] != got[i] {
			t.Fatalf("%s: [%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

// TestSgemmRowPanels: where Sgemm packs B itself (rows 1024 floats apart,
// or B transposed) and A has more rows than an L2 block, the row-panel
// order (and, for a large A, bands of rows) gives the bits of the product
// with B packed beforehand, which keeps the blocked order.
func TestSgemmRowPanels(t *testing.T) {
	defer func(v int) { preAMax = v }(preAMax)
	r := rand.New(rand.NewPCG(45, 46))
	shapes := [][3]int{{301, 97, 130}, {157, 64, 700}, {400, 33, 77}, {150, 1024, 40}}
	for _, s := range shapes {
		m, n, kk := s[0], s[1], s[2]
		const ldb = 1024
		a, b := randSlice(r, m*kk), randSlice(r, (kk-1)*ldb+n)
		bt := make([]float32, n*kk)
		for p := 0; p < kk; p++ {
			for j := 0; j < n; j++ {
				bt[j*kk+p] = b[p*ldb+j]
			}
		}
		bp := make([]float32, PackedBSize(kk, n))
		PackB(false, kk, n, b, ldb, bp)
		for _, level := range twins() {
			// Every level in the row-panel order, whether it takes it
			// by default or not.
			k := *level
			k.rowPanels = true
			with(&k, func() {
				for _, band := range []int{4 << 20, 60 * kk} {
					preAMax = band
					for _, th := range []int{1, 2} {
						want := make([]float32, m*n)
						SgemmPacked(false, m, n, kk, 1.5, a, kk, bp, 0, want, n, th)
						name := fmt.Sprintf("%s %v band=%d threads=%d", k.name, s, band, th)
						got := make([]float32, m*n)
						Sgemm(false, false, m, n, kk, 1.5, a, kk, b, ldb, 0, got, n, th)
						sameBits(t, name+" ldb=1024", got, want)
						clear(got)
						Sgemm(false, true, m, n, kk, 1.5, a, kk, bt, kk, 0, got, n, th)
						sameBits(t, name+" transB", got, want)
					}
				}
			})
		}
	}
}

// TestPackedBColumns checks that a product over PackedBColumns' panels
// equals the product over the same columns of B, and that an unaligned
// start is refused.
func TestPackedBColumns(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	k, n, m := 37, 75, 3
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	bp := make([]float32, PackedBSize(k, n))
	PackB(false, k, n, b, n, bp)
	for _, c := range [][2]int{{0, 75}, {16, 40}, {32, 75}, {48, 64}} {
		sub, ok := PackedBColumns(bp, k, c[0], c[1])
		if !ok {
			t.Fatalf("columns %v refused", c)
		}
		w := c[1] - c[0]
		got, want := make([]float32, m*w), make([]float32, m*w)
		SgemmPacked(false, m, w, k, 1, a, k, sub, 0, got, w, 1)
		Sgemm(false, false, m, w, k, 1, a, k, b[c[0]:], n, 0, want, w, 1)
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("columns %v: [%d] %v, want %v", c, i, got[i], want[i])
			}
		}
	}
	if _, ok := PackedBColumns(bp, k, 8, 40); ok {
		t.Fatal("columns from 8 (inside a panel) accepted")
	}
}
