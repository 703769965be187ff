package interp

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestEinsumGemm checks einsum's GEMM path (two float32 operands) against
// the general loop (the same operands as float64) on contractions with
// batch, row, column and summed labels in various orders, an outer and an
// inner product, and equations the GEMM path declines (a diagonal, a label
// summed within one operand, broadcasting).
func TestEinsumGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 1))
	for _, tc := range []struct {
		eq     string
		a, b   []int
		onGemm bool
	}{
		{"ij,jk->ik", []int{5, 7}, []int{7, 3}, true},
		{"bij,bjk->bik", []int{2, 5, 7}, []int{2, 7, 3}, true},
		{"bhqd,bhkd->bhqk", []int{1, 3, 6, 4}, []int{1, 3, 5, 4}, true},
		{"bqd,bkd->bkq", []int{2, 6, 4}, []int{2, 5, 4}, true},
		{"abc,cd->dab", []int{2, 3, 4}, []int{4, 5}, true},
		{"i,i->", []int{9}, []int{9}, true},
		{"i,j->ij", []int{4}, []int{6}, true},
		{"ij,kj", []int{3, 4}, []int{5, 4}, true}, // implicit output ik
		{"ii,ij->ij", []int{4, 4}, []int{4, 3}, false},
		{"ij,jk->k", []int{3, 4}, []int{4, 2}, false},
		{"bij,bjk->bik", []int{1, 5, 7}, []int{2, 7, 3}, false},
	} {
		t.Run(tc.eq, func(t *testing.T) {
			mk := func(shape []int) (*Tensor, *Tensor) {
				n := numElements(shape)
				f32, f64 := make([]float32, n), make([]float64, n)
				for i := range f32 {
					f32[i] = float32(r.NormFloat64())
					f64[i] = float64(f32[i])
				}
				return FromSlice(onnx.Float, shape, f32), FromSlice(onnx.Double, shape, f64)
			}
			a32, a64 := mk(tc.a)
			b32, b64 := mk(tc.b)
			got, err := einsum(testCtx(), tc.eq, []*Tensor{a32, b32})
			if err != nil {
				t.Fatal(err)
			}
			want, err := einsum(testCtx(), tc.eq, []*Tensor{a64, b64})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Shape, want.Shape) {
				t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
			}
			w := want.Data.([]float64)
			for i, g := range got.Floats() {
				if d := math.Abs(float64(g) - w[i]); !(d <= 1e-5*(1+math.Abs(w[i]))) {
					t.Fatalf("element %d is %v, want %v", i, g, w[i])
				}
			}
			s, err := parseEinsum(tc.eq, [][]int{tc.a, tc.b})
			if err != nil {
				t.Fatal(err)
			}
			size := map[int]int{}
			for i, l := range s.ins {
				for d, x := range l {
					size[x] = max(size[x], [][]int{tc.a, tc.b}[i][d])
				}
			}
			if _, ok := einsumGemm(testCtx(), s, []*Tensor{a32, b32}, size); ok != tc.onGemm {
				t.Fatalf("GEMM path taken: %v, want %v", ok, tc.onGemm)
			}
		})
	}
}
