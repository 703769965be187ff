// Package passtest holds helpers for the passes' tests: a small graph
// builder and a check that a pipeline leaves the outputs unchanged.
package passtest

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// Builder makes small graphs for rewrite tests.
type Builder struct {
	M *onnx.Model
	G *onnx.Graph
	n int
}

// NewBuilder starts a model at opset with one input x.
func NewBuilder(opset int64, x *onnx.Type) (*Builder, *onnx.Value) {
	g := &onnx.Graph{Name: "g"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: opset}}, Graph: g}
	return &Builder{M: m, G: g}, g.AddInput("x", x)
}

// Op appends a node and returns its output.
func (b *Builder) Op(op string, attrs []*onnx.Attribute, in ...*onnx.Value) *onnx.Value {
	b.n++
	name := op + string(rune('A'+b.n))
	n := b.G.NewNode(op, "", name, in, name+"_out")
	for _, a := range attrs {
		n.SetAttr(a)
	}
	b.G.Append(n)
	return n.Output(0)
}

// If appends an If node on cond and returns its output. Each branch is a
// graph below b.G that build fills (its nodes may read b.G's values) and
// whose output it returns.
func (b *Builder) If(cond *onnx.Value, then, els func(g *onnx.Graph) *onnx.Value) *onnx.Value {
	b.n++
	name := "If" + string(rune('A'+b.n))
	ifn := b.G.NewNode("If", "", name, []*onnx.Value{cond}, name+"_out")
	for _, br := range []struct {
		attr  string
		build func(*onnx.Graph) *onnx.Value
	}{{"then_branch", then}, {"else_branch", els}} {
		g := &onnx.Graph{Name: name + "_" + br.attr, Parent: b.G, Owner: ifn}
		g.Outputs = []*onnx.Value{br.build(g)}
		ifn.SetAttr(&onnx.Attribute{Name: br.attr, Type: onnx.AttrGraph, Graph: g})
	}
	b.G.Append(ifn)
	return ifn.Output(0)
}

// Node appends a node named name to g (a branch graph, say) and returns
// its output.
func Node(g *onnx.Graph, op, name string, in ...*onnx.Value) *onnx.Value {
	n := g.NewNode(op, "", name, in, name+"_out")
	g.Append(n)
	return n.Output(0)
}

// Scalar adds a float32 scalar constant.
func (b *Builder) Scalar(v float32) *onnx.Value {
	b.n++
	return b.G.AddInitializer("k"+string(rune('A'+b.n)), onnx.NewFloatTensor("", nil, []float32{v}))
}

// Vec adds a float32 vector constant.
func (b *Builder) Vec(vals ...float32) *onnx.Value {
	b.n++
	return b.G.AddInitializer("v"+string(rune('A'+b.n)), onnx.NewFloatTensor("", []int64{int64(len(vals))}, vals))
}

// Ints adds an int64 vector constant.
func (b *Builder) Ints(vals ...int64) *onnx.Value {
	b.n++
	return b.G.AddInitializer("i"+string(rune('A'+b.n)), onnx.NewInt64Tensor("", []int64{int64(len(vals))}, vals))
}

// Output declares v a graph output of type t and returns the model.
func (b *Builder) Output(v *onnx.Value, t *onnx.Type) *onnx.Model {
	v.Type = t
	b.G.Outputs = append(b.G.Outputs, v)
	return b.M
}

// Run applies spec and checks every output is unchanged (type, shape and
// values within 1e-4 + 1e-4·|x|) on a sample input.
func Run(t testing.TB, m *onnx.Model, spec string, x *interp.Tensor) *onnx.Model {
	t.Helper()
	orig := m.Clone()
	p, err := passes.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), m, passes.Config{}); err != nil {
		t.Fatal(err)
	}
	want := EvalAll(t, orig, map[string]*interp.Tensor{"x": x})
	got := EvalAll(t, m, map[string]*interp.Tensor{"x": x})
	Same(t, "after "+spec, got, want, 1e-4, 1e-4, -1)
	return m
}

// Same fails t for every output of got that Mismatch finds apart from want.
func Same(t testing.TB, what string, got, want []*interp.Tensor, atol, rtol, relL2 float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got), len(want))
	}
	for i := range want {
		if msg := Mismatch(got[i], want[i], atol, rtol, relL2); msg != "" {
			t.Errorf("%s: output %d: %s", what, i, msg)
		}
	}
}

// Mismatch is testutil.MismatchTensor for the interpreter's tensors: type,
// shape and values; "" when they agree.
func Mismatch(got, want *interp.Tensor, atol, rtol, relL2 float64) string {
	if got == nil || want == nil {
		return fmt.Sprintf("%v, want %v", got, want)
	}
	g, err := interp.ToONNX("got", got)
	if err != nil {
		return err.Error()
	}
	w, err := interp.ToONNX("want", want)
	if err != nil {
		return err.Error()
	}
	return testutil.MismatchTensor(g, w, atol, rtol, relL2)
}

// Eval runs m on x and returns its first output.
func Eval(t testing.TB, m *onnx.Model, x *interp.Tensor) []float32 {
	t.Helper()
	return EvalAll(t, m, map[string]*interp.Tensor{"x": x})[0].Floats()
}

// EvalAll runs m on feeds and returns its outputs.
func EvalAll(t testing.TB, m *onnx.Model, feeds map[string]*interp.Tensor) []*interp.Tensor {
	t.Helper()
	s, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(feeds)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Ops is the op histogram of the main graph.
func Ops(m *onnx.Model) map[string]int {
	h := map[string]int{}
	for _, n := range m.Graph.Nodes {
		h[n.OpType]++
	}
	return h
}

// Input is a deterministic float32 input of the given shape.
func Input(shape ...int) *interp.Tensor {
	x := interp.Make(onnx.Float, shape...)
	for i := range x.Floats() {
		x.Floats()[i] = float32(math.Sin(float64(i)*0.7)) * 2
	}
	return x
}
