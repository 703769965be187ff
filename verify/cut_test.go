package verify_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/testmodels"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	_ "github.com/onnxslim/onnxslim/passes/all"
	"github.com/onnxslim/onnxslim/verify"
)

// TestCutAroundPlugin plans a cut on plugin models, applies it to the
// original and to the default pipeline's result, and compares them.
func TestCutAroundPlugin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   testmodels.PluginOptions
		shapes map[string][]int64
		fed    string // the fed inputs
		outs   int    // outputs compared
	}{
		{"declared", testmodels.PluginOptions{}, nil, "plugin_out", 2},
		{"shape-flag", testmodels.PluginOptions{NoPluginShape: true, Stride2: true}, map[string][]int64{"plugin_out": {1, 4, 16, 16}}, "plugin_out", 2},
		{"derived", testmodels.PluginOptions{NoPluginShape: true}, nil, "plugin_out", 2},
		{"two-outputs", testmodels.PluginOptions{Outputs: 2}, nil, "plugin_out plugin_aux1", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := testmodels.Plugin(tc.opts)
			cand := testmodels.Plugin(tc.opts)
			p, err := passes.Parse("default")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Run(context.Background(), cand, passes.Config{}); err != nil {
				t.Fatal(err)
			}
			cut, err := verify.PlanCut(ref, tc.shapes, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(cut.Fed(), " "); got != tc.fed {
				t.Errorf("fed %q, want %q", got, tc.fed)
			}
			if got := cut.Nodes[0].Shapes[0]; !strings.HasPrefix(got, "float32[1,4,16,16]") {
				t.Errorf("fed shape %s, want float32[1,4,16,16]", got)
			}
			for _, m := range []*onnx.Model{ref, cand} {
				if err := cut.Apply(m); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := verify.Compare(ref, cand, verify.Options{Samples: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Outputs) != tc.outs || !rep.OK(verify.DefaultTolerance()) {
				t.Errorf("%d outputs compared (want %d), failures %v", len(rep.Outputs), tc.outs, rep.Failures(verify.DefaultTolerance()))
			}
		})
	}
}

// TestCutMissingShape: nothing says the plugin's output shape, and the
// stride-2 Conv reading it leaves its size open.
func TestCutMissingShape(t *testing.T) {
	_, err := verify.PlanCut(testmodels.Plugin(testmodels.PluginOptions{NoPluginShape: true, Stride2: true}), nil, nil)
	var ms *verify.MissingShapeError
	if !errors.As(err, &ms) || len(ms.Tensors) != 1 || ms.Tensors[0] != "plugin_out" || !strings.Contains(err.Error(), "--shape") {
		t.Fatalf("err %v, want a MissingShapeError naming plugin_out and --shape", err)
	}
}

// TestCutDiffers: a candidate that lost the plugin cannot be cut as planned.
func TestCutDiffers(t *testing.T) {
	ref := testmodels.Plugin(testmodels.PluginOptions{})
	cut, err := verify.PlanCut(ref, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cand := testmodels.Plugin(testmodels.PluginOptions{})
	for _, n := range cand.Graph.Nodes {
		if n.Domain == testmodels.PluginDomain {
			n.Domain, n.OpType = "", "Relu"
		}
	}
	if err := cut.Apply(cand); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("err %v, want the plugin reported missing", err)
	}
}

// TestCutStandardOpUnknownToInterpreter: an op of ONNX's own domain that the
// interpreter lacks is cut the same way.
func TestCutStandardOpUnknownToInterpreter(t *testing.T) {
	build := func() *onnx.Model {
		m := testmodels.Plugin(testmodels.PluginOptions{})
		for _, n := range m.Graph.Nodes {
			if n.Domain == testmodels.PluginDomain {
				n.Domain, n.OpType = "", "NotYetInTheInterpreter"
			}
		}
		return m
	}
	ref, cand := build(), build()
	cut, err := verify.PlanCut(ref, nil, nil)
	if err != nil || cut == nil || len(cut.Nodes) != 1 || cut.Nodes[0].Op != "::NotYetInTheInterpreter" {
		t.Fatalf("cut %+v, err %v", cut, err)
	}
	for _, m := range []*onnx.Model{ref, cand} {
		if err := cut.Apply(m); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := verify.Compare(ref, cand, verify.Options{Samples: 1})
	if err != nil || !rep.OK(verify.DefaultTolerance()) || len(rep.Outputs) != 2 {
		t.Fatalf("report %+v, err %v", rep, err)
	}
}

// TestCutWithInputFolder: with a data folder the model's own inputs come
// from it and the cut inputs are generated; a wrong rewrite is still found.
func TestCutWithInputFolder(t *testing.T) {
	dir := t.TempDir()
	x := interp.Make(onnx.Float, 1, 3, 16, 16)
	for i := range x.Floats() {
		x.Floats()[i] = float32(i%7) * 0.1
	}
	if err := dataset.WriteNpy(filepath.Join(dir, "x.npy"), x); err != nil {
		t.Fatal(err)
	}
	ref := testmodels.Plugin(testmodels.PluginOptions{})
	cand := testmodels.Plugin(testmodels.PluginOptions{})
	w := cand.Graph.ValueByName("b_w")
	vals, _ := w.Const.AsFloat32()
	vals[0] += 0.5
	w.Const = onnx.NewFloatTensor(w.Name, w.Const.Dims, vals)
	cut, err := verify.PlanCut(ref, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*onnx.Model{ref, cand} {
		if err := cut.Apply(m); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := verify.Compare(ref, cand, verify.Options{Inputs: dir, Fed: cut.Fed()})
	if err != nil {
		t.Fatal(err)
	}
	f := rep.Failures(verify.DefaultTolerance())
	if len(f) != 1 || !strings.HasPrefix(f[0], "b_bn_out:") {
		t.Errorf("failures %v, want b_bn_out only", f)
	}
}
