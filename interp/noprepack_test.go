package interp_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestMatMulNoPrepackFewRows: with weights read in place (NoPrepack, as
// the verification of a large model runs), MatMuls of a few rows take the
// unpacked path; their results agree with the packed ones to float32
// rounding, for every row count up to and past simd.FewRows and batched A.
func TestMatMulNoPrepackFewRows(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const k, n = 96, 1100
	w := make([]float32, k*n)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	for _, shape := range [][]int{{1, k}, {3, k}, {4, k}, {2, 4, k}, {8, k}, {9, k}, {1, 1, 5, k}} {
		b := newTestGraph("mm")
		elems := 1
		for _, d := range shape {
			elems *= d
		}
		x := make([]float32, elems)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		xv := b.input("x", onnx.Float, interp.FromSlice(onnx.Float, shape, x))
		wv := b.g.AddInitializer("w", onnx.NewFloatTensor("w", []int64{k, n}, w))
		b.output(b.node("MatMul", nil, []*onnx.Value{xv, wv}, "y").Output(0))
		m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: b.g}
		raw, err := onnx.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if m, err = onnx.Decode(raw); err != nil {
			t.Fatal(err)
		}
		var outs [2][]float32
		for i, opts := range []interp.Options{{}, {NoPrepack: true}} {
			s, err := interp.NewSession(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			y, err := s.Run(b.feeds)
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = y[0].Floats()
		}
		if len(outs[0]) != elems/k*n {
			t.Fatalf("%v: %d outputs", shape, len(outs[0]))
		}
		for i := range outs[0] {
			a, p := float64(outs[0][i]), float64(outs[1][i])
			if math.IsNaN(p) || math.Abs(a-p) > 1e-5*(1+math.Abs(a)) {
				t.Fatalf("%v: y[%d] packed %v, in place %v", shape, i, a, p)
			}
		}
	}
}
