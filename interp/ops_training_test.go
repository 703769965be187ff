package interp

import (
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func TestOptimizers(t *testing.T) {
	r, tt := Scalar(onnx.Float, float32(0.1)), Scalar(onnx.Int64, int64(0))
	one := func(v float32) *Tensor { return FromSlice(onnx.Float, []int{1}, []float32{v}) }
	// The ONNX backend test's numbers.
	out, err := runKernel("Adagrad", trainingDomain, 1, []*onnx.Attribute{onnx.FloatAttr("decay_factor", 0.1), onnx.FloatAttr("epsilon", 1e-5), onnx.FloatAttr("norm_coefficient", 0.001)},
		2, r, tt, one(1), one(-1), one(2))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "adagrad X", out[0], 1.0576962)
	closeTo(t, "adagrad H", out[1], 2.998001)
	out, err = runKernel("Momentum", trainingDomain, 1, []*onnx.Attribute{onnx.FloatAttr("alpha", 0.9), onnx.FloatAttr("beta", 0.5), onnx.StringAttr("mode", "standard")},
		2, r, Scalar(onnx.Int64, int64(1)), one(1), one(2), one(1))
	if err != nil {
		t.Fatal(err)
	}
	// V = 0.9·1 + 0.5·2 = 1.9; X = 1 − 0.1·1.9.
	closeTo(t, "momentum", out[0], 0.81)
	closeTo(t, "momentum V", out[1], 1.9)
	if _, err := runKernel("Adam", trainingDomain, 1, nil, 3, r, tt, one(1), one(1), one(1), FromSlice(onnx.Float, []int{2}, []float32{1, 2})); err == nil {
		t.Error("state of another shape: want an error")
	}
	if _, err := runKernel("Momentum", trainingDomain, 1, []*onnx.Attribute{onnx.StringAttr("mode", "heavy")}, 2, r, tt, one(1), one(1), one(1)); err == nil {
		t.Error("unknown mode: want an error")
	}
}

// TestGradient differentiates y = (a + b) · a with a broadcast b.
func TestGradient(t *testing.T) {
	g := &onnx.Graph{Name: "g"}
	a := g.AddInput("a", onnx.TensorType(onnx.Float, onnx.ShapeOf(2)))
	b := g.AddInput("b", onnx.TensorType(onnx.Float, onnx.ShapeOf()))
	node := func(op, domain string, in []*onnx.Value, outs ...string) *onnx.Node {
		n := g.NewNode(op, domain, outs[0]+"_node", in, outs...)
		g.Append(n)
		return n
	}
	c := node("Add", "", []*onnx.Value{a, b}, "c").Output(0)
	y := node("Mul", "", []*onnx.Value{c, a}, "y").Output(0)
	grad := node("Gradient", trainingDomain, []*onnx.Value{a, b}, "da", "db")
	grad.Attrs = []*onnx.Attribute{{Name: "xs", Type: onnx.AttrStrings, Strings: [][]byte{[]byte("a"), []byte("b")}}, onnx.StringAttr("y", "y")}
	g.Outputs = append(g.Outputs, y, grad.Output(0), grad.Output(1))
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}, {Domain: trainingDomain, Version: 1}}, Graph: g}
	raw, err := onnx.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = onnx.Decode(raw); err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(map[string]*Tensor{"a": FromSlice(onnx.Float, []int{2}, []float32{1, 2}), "b": Scalar(onnx.Float, float32(3))})
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "y", out[0], 4, 10)
	closeTo(t, "dy/da = 2a + b", out[1], 5, 7)
	closeTo(t, "dy/db = Σa", out[2], 3)
}
