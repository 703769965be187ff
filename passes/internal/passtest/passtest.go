// Package passtest holds helpers for the passes' tests: a small graph
// builder and a check that a pipeline leaves the outputs unchanged.
package passtest

import (
	"context"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"math"
	"testing"

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

// Run applies spec and checks the outputs are unchanged on a sample input.
func Run(t *testing.T, m *onnx.Model, spec string, x *interp.Tensor) *onnx.Model {
	t.Helper()
	orig := m.Clone()
	p, err := passes.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), m, passes.Config{}); err != nil {
		t.Fatal(err)
	}
	want := Eval(t, orig, x)
	got := Eval(t, m, x)
	if msg := testutil.Mismatch(got, want, 1e-4, 1e-4, -1); msg != "" {
		t.Fatalf("after %s: %s", spec, msg)
	}
	return m
}

// Eval runs m on x and returns its first output.
func Eval(t *testing.T, m *onnx.Model, x *interp.Tensor) []float32 {
	t.Helper()
	s, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(map[string]*interp.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	return out[0].Floats()
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
