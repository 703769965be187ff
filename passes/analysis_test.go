package passes_test

import (
	"context"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// counted is an analysis that counts its runs and returns the node count.
type counted struct {
	a    *passes.Analysis
	runs int
}

func newCounted() *counted {
	c := &counted{}
	c.a = &passes.Analysis{Name: "nodes", Run: func(_ *passes.Context, m *onnx.Model) (any, error) {
		c.runs++
		return len(m.Graph.Nodes), nil
	}}
	return c
}

// testPass is a pass made for one test (not registered).
func testPass(name string, req []*passes.Analysis, run func(c *passes.Context, m *onnx.Model) (int, error)) passes.Step {
	return passes.Step{Pass: &passes.Pass{Name: name, Requires: req, Run: run}, Options: passes.Values{}, Text: name}
}

func reluModel() *onnx.Model {
	ty := onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 3))
	b, x := passtest.NewBuilder(17, ty)
	return b.Output(b.Op("Relu", nil, x), ty)
}

// TestAnalysisCache: a result is computed once per run, kept across passes
// that change nothing, dropped after a pass that rewrites and on
// Invalidate, and Get checks its type.
func TestAnalysisCache(t *testing.T) {
	cnt := newCounted()
	var seen []int
	look := func(c *passes.Context) error {
		n, err := passes.Get[int](c, cnt.a)
		seen = append(seen, n)
		return err
	}
	addNode := func(m *onnx.Model) {
		g := m.Graph
		n := g.NewNode("Relu", "", g.FreshName("r"), []*onnx.Value{g.Outputs[0]}, g.FreshName("r_out"))
		g.Append(n)
		g.Outputs[0] = n.Output(0)
	}
	p := &passes.Pipeline{Steps: []passes.Step{
		testPass("reads-twice", []*passes.Analysis{cnt.a}, func(c *passes.Context, m *onnx.Model) (int, error) {
			if err := look(c); err != nil {
				return 0, err
			}
			return 0, look(c)
		}),
		testPass("reads-then-rewrites", nil, func(c *passes.Context, m *onnx.Model) (int, error) {
			if err := look(c); err != nil {
				return 0, err
			}
			addNode(m)
			return 1, nil
		}),
		testPass("edits-mid-pass", nil, func(c *passes.Context, m *onnx.Model) (int, error) {
			if err := look(c); err != nil {
				return 0, err
			}
			addNode(m)
			if err := look(c); err != nil { // still cached: stale on purpose
				return 0, err
			}
			c.Invalidate(cnt.a)
			return 1, look(c)
		}),
		testPass("wrong-type", nil, func(c *passes.Context, m *onnx.Model) (int, error) {
			_, err := passes.Get[string](c, cnt.a)
			if err == nil || !strings.Contains(err.Error(), "not a string") {
				t.Errorf("Get[string] of an int result: err = %v", err)
			}
			return 0, nil
		}),
	}}
	if _, err := p.Run(context.Background(), reluModel(), passes.Config{}); err != nil {
		t.Fatal(err)
	}
	want := []int{1, 1, 1, 2, 2, 3}
	if len(seen) != len(want) {
		t.Fatalf("results seen %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("results seen %v, want %v", seen, want)
		}
	}
	// Runs: the first pass (once for two reads), after the rewrite, after
	// Invalidate, and again for wrong-type (the pass before rewrote).
	if cnt.runs != 4 {
		t.Errorf("analysis ran %d times, want 4", cnt.runs)
	}
}

// TestAnalysisError: a required analysis that fails stops the pass with an
// error naming the analysis; Get returns it too.
func TestAnalysisError(t *testing.T) {
	bad := &passes.Analysis{Name: "broken", Run: func(*passes.Context, *onnx.Model) (any, error) {
		return nil, context.DeadlineExceeded
	}}
	ran := false
	p := &passes.Pipeline{Steps: []passes.Step{testPass("needs-broken", []*passes.Analysis{bad}, func(*passes.Context, *onnx.Model) (int, error) {
		ran = true
		return 0, nil
	})}}
	_, err := p.Run(context.Background(), reluModel(), passes.Config{})
	if err == nil || !strings.Contains(err.Error(), "analysis broken") || ran {
		t.Errorf("err = %v, pass ran = %v; want the analysis's error and no run", err, ran)
	}
	var c passes.Context
	if _, err := passes.Get[int](&c, bad); err == nil {
		t.Error("Get outside a pipeline: no error")
	}
}

// TestShapesMidPass: after adding a node, Invalidate(Shapes) and Get infer
// the new value's shape.
func TestShapesMidPass(t *testing.T) {
	p := &passes.Pipeline{Steps: []passes.Step{testPass("grows", []*passes.Analysis{passes.Shapes}, func(c *passes.Context, m *onnx.Model) (int, error) {
		g := m.Graph
		tr := g.NewNode("Transpose", "", "T", []*onnx.Value{g.Outputs[0]}, "t_out")
		g.Append(tr)
		g.Outputs[0] = tr.Output(0)
		if _, err := passes.Get[*interp.ShapeInfo](c, passes.Shapes); err != nil {
			return 0, err
		}
		if tr.Output(0).Type.HasShape() {
			t.Error("shape known before the analysis was invalidated")
		}
		c.Invalidate(passes.Shapes)
		if _, err := passes.Get[*interp.ShapeInfo](c, passes.Shapes); err != nil {
			return 0, err
		}
		if got := tr.Output(0).Type; got == nil || got.Shape.String() != onnx.ShapeOf(3, 2).String() {
			t.Errorf("after Invalidate: Transpose output type %v, want float32[3,2]", got)
		}
		return 1, nil
	})}}
	m := reluModel()
	m.Graph.Outputs[0].Type = nil
	if _, err := p.Run(context.Background(), m, passes.Config{}); err != nil {
		t.Fatal(err)
	}
}
