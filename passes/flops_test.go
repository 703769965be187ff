package passes_test

import (
	"context"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// TestFLOPsRunCountsTheBranchTaken: an If whose branches compute has no
// FLOPs count from shapes alone; FLOPsRun counts the branch one run took
// (one MatMul, or two), and the main graph's nodes once either way.
func TestFLOPsRunCountsTheBranchTaken(t *testing.T) {
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 4)))
	weight := func(name string, rows, cols int64) *onnx.Value {
		v := make([]float32, rows*cols)
		for i := range v {
			v[i] = float32(i%5) - 2
		}
		return b.G.AddInitializer(name, onnx.NewFloatTensor(name, []int64{rows, cols}, v))
	}
	w, w1, w2 := weight("w", 4, 8), weight("w1", 4, 4), weight("w2", 4, 8)
	sum := b.Op("ReduceSum", []*onnx.Attribute{onnx.IntAttr("keepdims", 0)}, x)
	cond := b.Op("Greater", nil, sum, b.Scalar(0))
	y := b.If(cond, func(g *onnx.Graph) *onnx.Value {
		return passtest.Node(g, "MatMul", "then_mm", x, w) // 2·2·4·8 = 128
	}, func(g *onnx.Graph) *onnx.Value {
		h := passtest.Node(g, "MatMul", "else_mm1", x, w1) // 2·2·4·4 = 64
		return passtest.Node(g, "MatMul", "else_mm2", h, w2)
	})
	m := b.Output(y, onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 8)))
	if _, err := interp.InferShapes(m, interp.ShapeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := passes.FLOPsAt(m, nil); ok {
		t.Fatal("FLOPsAt counts a model whose If branches compute")
	}
	run := func(v float32) int64 {
		t.Helper()
		x := passtest.Input(2, 4)
		for i := range x.Floats() {
			x.Floats()[i] = v
		}
		f, ran, ok := passes.FLOPsRun(context.Background(), m, nil, func() (map[string]*interp.Tensor, error) {
			return map[string]*interp.Tensor{"x": x}, nil
		})
		if !ran || !ok {
			t.Fatalf("x = %g: ran %v, ok %v", v, ran, ok)
		}
		return f
	}
	then, els := run(1), run(-1)
	if els-then != 64 || then < 128 {
		t.Errorf("FLOPs through the then branch %d, the else branch %d: want the else branch 64 more, the then branch at least 128", then, els)
	}
}
