package interp

import (
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestInvariantSteps checks which steps RunLockstep runs once for all
// feeds: under NoPrepack a large weight's LoadInitializer and the
// DequantizeLinear reading it, not the MatMul reading the feed, nor a
// random op.
func TestInvariantSteps(t *testing.T) {
	const n = 512
	g := &onnx.Graph{Name: "inv"}
	x := &onnx.Value{Name: "x", Type: onnx.TensorType(onnx.Float, onnx.ShapeOf(1, n))}
	g.Inputs = []*onnx.Value{x}
	w := g.AddInitializer("w", onnx.NewTensor("w", onnx.Int8, []int64{n, n}, make([]byte, n*n)))
	s := g.AddInitializer("s", onnx.NewFloatTensor("s", []int64{}, []float32{0.5}))
	add := func(op string, in []*onnx.Value, out string, attrs ...*onnx.Attribute) *onnx.Value {
		nd := g.NewNode(op, "", op+"_"+out, in, out)
		nd.Attrs = attrs
		g.Append(nd)
		return nd.Output(0)
	}
	d := add("DequantizeLinear", []*onnx.Value{w, s}, "d")
	y := add("MatMul", []*onnx.Value{x, d}, "y")
	r := add("RandomNormal", nil, "r", onnx.IntsAttr("shape", []int64{1, n}))
	z := add("Add", []*onnx.Value{y, r}, "z")
	z.Type = onnx.TensorType(onnx.Float, nil)
	g.Outputs = []*onnx.Value{z}
	m := modelOf(t, g, 10, 21)
	want := map[string]bool{"LoadInitializer": true, "DequantizeLinear": true, "MatMul": false, "RandomNormal": false, "Add": false}
	for _, noPrepack := range []bool{false, true} {
		sess, err := NewSession(m, Options{NoPrepack: noPrepack})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for i, st := range sess.main.steps {
			got[st.node.OpType] = sess.invariant[i]
			if sess.stackable[i] != (st.node.OpType == "MatMul") {
				t.Errorf("NoPrepack=%v: %s stackable %v", noPrepack, st.node.OpType, sess.stackable[i])
			}
		}
		for op, inv := range want {
			seen, ok := got[op]
			switch {
			case !noPrepack && (op == "LoadInitializer" || op == "DequantizeLinear"):
				if ok {
					t.Errorf("without NoPrepack: a %s step, want it folded at compile time", op)
				}
			case !ok:
				t.Errorf("NoPrepack=%v: no %s step", noPrepack, op)
			case seen != inv:
				t.Errorf("NoPrepack=%v: %s invariant %v, want %v", noPrepack, op, seen, inv)
			}
		}
	}
}
