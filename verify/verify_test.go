package verify_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/verify"
	"github.com/onnxslim/onnxslim/verify/graphdiff"
)

var interpOpts = interp.Options{}

// slow models take tens of seconds per run in the interpreter; -short skips them.
var slow = map[string]bool{"transformer_op14": true, "mobilenet_v2_op13": true}

func load(t testing.TB, name string) *onnx.Model {
	t.Helper()
	m, err := onnx.Load(filepath.Join(testdata.Models(t), name, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// clone decodes a fresh copy so that edits do not touch the original.
func clone(t testing.TB, m *onnx.Model) *onnx.Model {
	t.Helper()
	data, err := onnx.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	c, err := onnx.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// scaleLargest multiplies the largest float initializer by f and returns its name.
func scaleLargest(t testing.TB, m *onnx.Model, f float32) string {
	t.Helper()
	var big *onnx.Value
	for _, v := range m.Graph.Initializers {
		if v.Const.DataType == onnx.Float && (big == nil || v.Const.NumElements() > big.Const.NumElements()) {
			big = v
		}
	}
	if big == nil {
		t.Fatal("no float initializer")
	}
	scaleInit(t, big, f)
	return big.Name
}

func scaleInit(t testing.TB, v *onnx.Value, f float32) {
	t.Helper()
	data, err := v.Const.AsFloat32()
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] *= f
	}
	v.Const = onnx.NewFloatTensor(v.Name, v.Const.Dims, data)
}

func TestCompareSelfIsExact(t *testing.T) {
	for _, name := range []string{"mnist_cnn_op13", "mnist_mlp_op13", "mnist_cnn_op13_dynbatch", "transformer_op14", "mobilenet_v2_op13"} {
		t.Run(name, func(t *testing.T) {
			samples := 2
			if slow[name] {
				if testing.Short() {
					t.Skip("slow in the interpreter")
				}
				samples = 1
			}
			m := load(t, name)
			rep, err := verify.Compare(m, clone(t, m), verify.Options{Samples: samples})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK(verify.DefaultTolerance()) || rep.Samples != samples {
				t.Fatalf("self comparison failed: %v (samples %d)", rep.Err(verify.DefaultTolerance()), rep.Samples)
			}
			for _, o := range rep.Outputs {
				if o.MaxAbsErr != 0 || o.MaxRelErr != 0 || o.RelL2 != 0 || o.Cosine != 1 || o.Mismatches != 0 {
					t.Errorf("%s: errors not exactly 0: %+v", o.Name, o)
				}
			}
		})
	}
}

func TestScaledWeightFails(t *testing.T) {
	for _, name := range []string{"mnist_cnn_op13", "mnist_mlp_op13", "transformer_op14"} {
		t.Run(name, func(t *testing.T) {
			if slow[name] && testing.Short() {
				t.Skip("slow in the interpreter")
			}
			m := load(t, name)
			b := clone(t, m)
			scaleLargest(t, b, 1.01)
			tol := verify.DefaultTolerance()
			rep, err := verify.Compare(m, b, verify.Options{Samples: 1})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK(tol) {
				t.Fatalf("a 1%% weight change passed: %+v", rep.Outputs)
			}
			var te *verify.ToleranceError
			if err := rep.Err(tol); !errors.As(err, &te) {
				t.Fatalf("Err = %v, want *ToleranceError", err)
			}
			msg := rep.Err(tol).Error()
			for _, o := range m.Graph.Outputs {
				if !strings.Contains(msg, o.Name+":") {
					t.Errorf("failure message does not name output %q: %s", o.Name, msg)
				}
			}
		})
	}
}

func TestReferenceError(t *testing.T) {
	m := load(t, "mnist_cnn_op13")
	// An op nobody implements makes the reference fail before any pass ran.
	bad := clone(t, m)
	bad.Graph.Nodes[0].OpType = "NoSuchOp"
	_, err := verify.Compare(bad, m, verify.Options{})
	var re *verify.ReferenceError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *ReferenceError", err)
	}
	for _, want := range []string{"original model could not run on generated inputs", "--inputs", "--no-verify"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	_, err = verify.Compare(m, bad, verify.Options{})
	var ce *verify.CandidateError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *CandidateError", err)
	}
}

func TestChecker(t *testing.T) {
	m := load(t, "mnist_cnn_op13")
	c, err := verify.NewChecker(m, verify.Options{Samples: 3})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := c.Check(clone(t, m))
	if err != nil || !rep.OK(c.Tolerance()) {
		t.Fatalf("self check: %v %v", err, rep)
	}
	b := clone(t, m)
	scaleLargest(t, b, 1.01)
	rep, err = c.Check(b)
	if err != nil || rep.OK(c.Tolerance()) {
		t.Fatalf("scaled weight passed the checker: %v", err)
	}
}

func TestLocalize(t *testing.T) {
	m := load(t, "mnist_cnn_op13")
	b := clone(t, m)
	// Perturb the weight of the second Conv: the first divergence is that node.
	var target *onnx.Node
	convs := 0
	for _, n := range b.Graph.Nodes {
		if n.OpType == "Conv" {
			if convs++; convs == 2 {
				target = n
			}
		}
	}
	if target == nil {
		t.Fatal("no second Conv")
	}
	scaleInit(t, target.Input(1), 1.01)
	before := len(m.Graph.Outputs)
	d, err := verify.Localize(m, b, nil, verify.DefaultTolerance(), interpOpts)
	if err != nil {
		t.Fatal(err)
	}
	if d == nil {
		t.Fatal("no divergence found")
	}
	if d.Node != target.Name || d.Op != "Conv" || d.Output != target.Output(0).Name {
		t.Errorf("divergence at %s (%s) %s, want %s", d.Node, d.Op, d.Output, target.Name)
	}
	if len(m.Graph.Outputs) != before {
		t.Error("Localize modified the caller's model")
	}
	// Equal models do not diverge.
	if d, err := verify.Localize(m, clone(t, m), nil, verify.DefaultTolerance(), interpOpts); err != nil || d != nil {
		t.Errorf("self localize: %v, %v", d, err)
	}
}

func TestEvaluate(t *testing.T) {
	data := testdata.Dir(t, "models/mnist-data")
	for _, tc := range []struct {
		model, dir string
		top1       float64
	}{
		{"mnist_cnn_op13", "cnn-eval", 0.970},
		{"mnist_mlp_op13", "mlp-eval", 0.948},
		{"mnist_cnn_op13_dynbatch", "cnn-eval", 0.970},
	} {
		t.Run(tc.model, func(t *testing.T) {
			// Also as a large model (interp.LargeModel 0): lockstep groups.
			defer func(old int64) { interp.LargeModel = old }(interp.LargeModel)
			for _, large := range []bool{false, true} {
				if large {
					interp.LargeModel = 0
				}
				acc, err := verify.EvaluateDir(load(t, tc.model), filepath.Join(data, tc.dir), verify.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if acc.Samples != 2000 || !testutil.Close(acc.Top1, tc.top1, 5e-4, 0) || acc.Top5 < acc.Top1 {
					t.Errorf("large=%v: accuracy %+v, want top-1 %.3f on 2000 samples", large, acc, tc.top1)
				}
			}
		})
	}
}

// TestCompareLabelledAccuracy, also as a large model (interp.LargeModel 0:
// batches in lockstep groups), with the same figures.
func TestCompareLabelledAccuracy(t *testing.T) {
	data := testdata.Dir(t, "models/mnist-data")
	m := load(t, "mnist_mlp_op13")
	b := clone(t, m)
	scaleLargest(t, b, 1.01)
	defer func(old int64) { interp.LargeModel = old }(interp.LargeModel)
	var first *verify.Report
	for _, large := range []bool{false, true} {
		if large {
			interp.LargeModel = 0
		}
		rep, err := verify.Compare(m, b, verify.Options{Inputs: filepath.Join(data, "mlp-eval")})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Accuracy == nil || rep.Samples != 2000 || !testutil.Close(rep.Accuracy.A.Top1, 0.948, 5e-4, 0) {
			t.Fatalf("large=%v: accuracy %+v samples %d", large, rep.Accuracy, rep.Samples)
		}
		if d := rep.Accuracy.A.Top1 - rep.Accuracy.B.Top1; d != rep.Accuracy.Drop {
			t.Errorf("large=%v: drop %v != %v", large, rep.Accuracy.Drop, d)
		}
		if first == nil {
			first = rep
			continue
		}
		if *rep.Accuracy != *first.Accuracy || rep.Outputs[0].RelL2 != first.Outputs[0].RelL2 || rep.Outputs[0].MaxAbsErr != first.Outputs[0].MaxAbsErr {
			t.Errorf("large model: accuracy %+v, output %+v; one batch at a time: %+v, %+v", *rep.Accuracy, rep.Outputs[0], *first.Accuracy, first.Outputs[0])
		}
	}
}

func TestWriteMarkdownReport(t *testing.T) {
	m := load(t, "mnist_cnn_op13")
	b := clone(t, m)
	scaleLargest(t, b, 1.01)
	tol := verify.DefaultTolerance()
	rep, err := verify.Compare(m, b, verify.Options{Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := verify.WriteMarkdownReport(&out, m, b, graphdiff.Options{NameA: "in.onnx", NameB: "out.onnx"}, rep, tol, ""); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	for _, want := range []string{"Verification: ❌ beyond tolerance", "`output`", "onnxslim diff: `in.onnx` → `out.onnx`", "Initializer changes (1)"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if len(md) >= graphdiff.GitHubCommentLimit {
		t.Errorf("report is %d characters", len(md))
	}
}
