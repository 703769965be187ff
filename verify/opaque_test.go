package verify

import (
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestOpaqueLocalFunctions: a call of a model-local function is opaque
// only where its body, at any depth, holds an op the interpreter cannot
// run (it runs the rest by inlining them).
func TestOpaqueLocalFunctions(t *testing.T) {
	fn := func(name string, body ...[2]string) *onnx.Function {
		g := &onnx.Graph{Name: name}
		x := g.AddInput("x", nil)
		v := x
		for i, b := range body {
			n := g.NewNode(b[1], b[0], name+"_n", []*onnx.Value{v}, name+"_y"+string(rune('0'+i)))
			g.Append(n)
			v = n.Output(0)
		}
		g.Outputs = append(g.Outputs, v)
		return &onnx.Function{Name: name, Domain: "local", Body: g, Opsets: []onnx.OpsetID{{Version: 17}}}
	}
	m := &onnx.Model{
		IRVersion: 8,
		Opsets:    []onnx.OpsetID{{Version: 17}, {Domain: "local", Version: 1}, {Domain: "com.example", Version: 1}},
		Functions: []*onnx.Function{
			fn("Std", [2]string{"", "Relu"}),
			fn("Custom", [2]string{"com.example", "Plugin"}),
			fn("Outer", [2]string{"local", "Std"}, [2]string{"local", "Custom"}),
			fn("Nested", [2]string{"local", "Std"}),
			fn("Self", [2]string{"local", "Self"}),
		},
		Graph: &onnx.Graph{Name: "g"},
	}
	for _, c := range []struct {
		op   string
		want bool
	}{{"Std", false}, {"Custom", true}, {"Outer", true}, {"Nested", false}, {"Self", true}} {
		n := m.Graph.NewNode(c.op, "local", "call", nil, "y")
		if got := Opaque(m, n); got != c.want {
			t.Errorf("call of %s: Opaque %v, want %v", c.op, got, c.want)
		}
	}
	// A function the interpreter cannot inline (it imports ai.onnx at
	// another version than the model) is cut around like an unknown op.
	g := &onnx.Graph{Name: "g"}
	call := g.NewNode("Std", "local", "call", []*onnx.Value{g.AddInput("x", nil)}, "y")
	g.Append(call)
	g.Outputs = append(g.Outputs, call.Output(0))
	std := fn("Std", [2]string{"", "Relu"})
	std.Opsets = []onnx.OpsetID{{Version: 13}}
	mm := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}, {Domain: "local", Version: 1}}, Functions: []*onnx.Function{std}, Graph: g}
	if !Opaque(mm, call) {
		t.Errorf("a call of a function importing ai.onnx 13 in an opset-17 model: not opaque, but the interpreter cannot inline it")
	}
}
