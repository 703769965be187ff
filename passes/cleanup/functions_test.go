package cleanup_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// softsign is local::Softish(X) = X / (1 + |X|)·k, k from the caller's "k".
func softsign() *onnx.Function {
	g := &onnx.Graph{Name: "Softish"}
	x := g.AddInput("X", nil)
	one := g.NewNode("Constant", "", "one", nil, "One")
	one.SetAttr(onnx.TensorAttr("value", onnx.NewFloatTensor("", nil, []float32{1})))
	abs := g.NewNode("Abs", "", "abs", []*onnx.Value{x}, "A")
	den := g.NewNode("Add", "", "den", []*onnx.Value{abs.Output(0), one.Output(0)}, "D")
	k := g.NewNode("Constant", "", "k", nil, "K")
	k.SetAttr(&onnx.Attribute{Name: "value_float", Type: onnx.AttrFloat, RefAttrName: "k"})
	div := g.NewNode("Div", "", "div", []*onnx.Value{x, den.Output(0)}, "Q")
	mul := g.NewNode("Mul", "", "mul", []*onnx.Value{div.Output(0), k.Output(0)}, "Y")
	for _, n := range []*onnx.Node{one, abs, den, k, div, mul} {
		g.Append(n)
	}
	g.Outputs = []*onnx.Value{mul.Output(0)}
	return &onnx.Function{Name: "Softish", Domain: "local", Body: g,
		Opsets: []onnx.OpsetID{{Version: 17}}, AttrProtos: []*onnx.Attribute{onnx.FloatAttr("k", 2)}}
}

// call appends a call of local::Softish to b's graph.
func call(b *passtest.Builder, name string, x *onnx.Value, attrs ...*onnx.Attribute) *onnx.Value {
	n := b.G.NewNode("Softish", "local", name, []*onnx.Value{x}, name+"_out")
	n.Attrs = attrs
	b.G.Append(n)
	return n.Output(0)
}

// TestInlineFunctionsPass checks that the pass leaves a function-free model
// computing the same outputs, with the function's domain import gone.
func TestInlineFunctionsPass(t *testing.T) {
	b, x := passtest.NewBuilder(17, x234)
	y := call(b, "s1", b.Op("Relu", nil, x), onnx.FloatAttr("k", 0.5))
	y = call(b, "s2", y)
	m := b.Output(y, x234)
	m.IRVersion = 10
	m.Opsets = append(m.Opsets, onnx.OpsetID{Domain: "local", Version: 1})
	unused := softsign()
	unused.Name = "Unused"
	m.Functions = []*onnx.Function{softsign(), unused}

	m = passtest.Run(t, m, "inline-functions", passtest.Input(2, 3, 4))
	if len(m.Functions) != 0 {
		t.Errorf("%d functions left, want none", len(m.Functions))
	}
	if m.Opset("local") != 0 {
		t.Error("the import of domain local is left")
	}
	if ops := passtest.Ops(m); ops["Softish"] != 0 || ops["Div"] != 2 {
		t.Errorf("ops %v, want two inlined bodies", ops)
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Div" && !strings.HasPrefix(n.Name, "s1/") && !strings.HasPrefix(n.Name, "s2/") {
			t.Errorf("inlined node %q is not named after its call", n.Name)
		}
	}
}

// TestInlineFunctionsPassRefuses checks that a function whose opset differs
// from the model's is an error that leaves the model as it was.
func TestInlineFunctionsPassRefuses(t *testing.T) {
	b, x := passtest.NewBuilder(17, x234)
	m := b.Output(call(b, "s", x), x234)
	m.Opsets = append(m.Opsets, onnx.OpsetID{Domain: "local", Version: 1})
	f := softsign()
	f.Opsets[0].Version = 13
	m.Functions = []*onnx.Function{f}
	before, err := onnx.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	p, err := passes.Parse("inline-functions")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Run(context.Background(), m, passes.Config{})
	if err == nil || !strings.Contains(err.Error(), "version 13") {
		t.Fatalf("error %v, want one naming the function's version", err)
	}
	if after, _ := onnx.Encode(m); !bytes.Equal(after, before) {
		t.Error("the refused model was changed")
	}
}
