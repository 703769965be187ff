package interp_test

import (
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestRecycle: a recycled output's buffer serves the next run, which
// still computes its own values; outputs that share a buffer, graph
// inputs passed through, tensors from elsewhere and outputs recycled twice
// are left alone.
func TestRecycle(t *testing.T) {
	vec := onnx.TensorType(onnx.Float, onnx.ShapeOf(64))
	feeds := func(v float32) map[string]*interp.Tensor {
		a, b := make([]float32, 64), make([]float32, 64)
		for i := range a {
			a[i], b[i] = v+float32(i), 2*v
		}
		return map[string]*interp.Tensor{"a": interp.FromSlice(onnx.Float, []int{64}, a), "b": interp.FromSlice(onnx.Float, []int{64}, b)}
	}
	run := func(s *interp.Session, in map[string]*interp.Tensor) []*interp.Tensor {
		t.Helper()
		out, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	s, err := interp.NewSession(buildModel(t, "Add", []*onnx.Type{vec, vec}, nil), interp.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	first := run(s, feeds(1))
	buf := &first[0].Floats()[0]
	s.Recycle(first)
	s.Recycle(first) // a second time: nothing more to take
	s.Recycle([]*interp.Tensor{interp.FromSlice(onnx.Float, []int{64}, make([]float32, 64)), nil})
	second := run(s, feeds(3))
	if &second[0].Floats()[0] != buf {
		t.Error("the recycled output's buffer did not serve the next run")
	}
	for i, v := range second[0].Floats() {
		if want := 3 + float32(i) + 6; v != want {
			t.Fatalf("after recycling: y[%d] = %v, want %v", i, v, want)
		}
	}
	third := run(s, feeds(5))
	if &third[0].Floats()[0] == &second[0].Floats()[0] {
		t.Error("an output not recycled was handed out again")
	}

	// Two outputs on one buffer (y and Identity(y)) and an input passed
	// through: none is taken back.
	g := &onnx.Graph{Name: "g"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}}, Graph: g}
	a := g.AddInput("a", vec)
	relu := g.NewNode("Relu", "", "relu", []*onnx.Value{a}, "y")
	g.Append(relu)
	id := g.NewNode("Identity", "", "id", []*onnx.Value{relu.Output(0)}, "z")
	g.Append(id)
	pass := g.NewNode("Identity", "", "pass", []*onnx.Value{a}, "w")
	g.Append(pass)
	g.Outputs = []*onnx.Value{relu.Output(0), id.Output(0), pass.Output(0)}
	s2, err := interp.NewSession(m, interp.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := feeds(-20)
	delete(in, "b")
	keep := slices.Clone(in["a"].Floats())
	out := run(s2, in)
	kept := slices.Clone(out[0].Floats())
	s2.Recycle(out)
	in7 := feeds(7)
	delete(in7, "b")
	next := run(s2, in7)
	for i := range next {
		if &next[i].Floats()[0] == &out[0].Floats()[0] || &next[i].Floats()[0] == &in["a"].Floats()[0] && i != 2 {
			t.Fatalf("output %d reuses a buffer that was not whole or not the session's", i)
		}
	}
	if !slices.Equal(out[0].Floats(), kept) || !slices.Equal(in["a"].Floats(), keep) {
		t.Error("a buffer left alone by Recycle was overwritten by the next run")
	}
}
