package verify_test

import (
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/verify"
)

// TestDiscontinuity: M-LSD's scores are a peak mask, x·Cast(Equal(MaxPool(x),
// x)): the walk back from that output finds the Equal; from an output of
// smooth ops it finds nothing, and an integer comparison (shape arithmetic)
// does not count.
func TestDiscontinuity(t *testing.T) {
	g := &onnx.Graph{Name: "g"}
	f := func(dims ...int64) *onnx.Type { return onnx.TensorType(onnx.Float, onnx.ShapeOf(dims...)) }
	x := g.AddInput("x", f(1, 1, 8, 8))
	node := func(op, name string, ins ...*onnx.Value) *onnx.Value {
		n := g.NewNode(op, "", name, ins, name+"_out")
		g.Append(n)
		return n.Output(0)
	}
	mp := node("MaxPool", "pool", x)
	mp.Producer().SetAttr(onnx.IntsAttr("kernel_shape", []int64{3, 3}))
	eq := node("Equal", "peak", mp, x)
	eq.Type = onnx.TensorType(onnx.Bool, onnx.ShapeOf(1, 1, 8, 8))
	mask := node("Cast", "mask", eq)
	mask.Producer().SetAttr(onnx.IntAttr("to", int64(onnx.Float)))
	scores := node("Mul", "scores", x, mask)
	smooth := node("Relu", "smooth", x)
	shape := node("Shape", "shape", x)
	shape.Type = onnx.TensorType(onnx.Int64, onnx.ShapeOf(4))
	big := node("Greater", "big", shape, shape)
	sel := node("Where", "sel", big, x, x)
	g.Outputs = []*onnx.Value{scores, smooth, sel}
	m := &onnx.Model{IRVersion: 8, Graph: g}
	if n := verify.Discontinuity(m, scores.Name); n == nil || n.Name != "peak" {
		t.Errorf("scores: %v, want the Equal node peak", n)
	}
	if n := verify.Discontinuity(m, smooth.Name); n != nil {
		t.Errorf("smooth: %v, want none", n.Name)
	}
	if n := verify.Discontinuity(m, sel.Name); n != nil {
		t.Errorf("a comparison of int64 shapes: %v, want none", n.Name)
	}
}
