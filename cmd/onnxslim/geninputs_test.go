package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func saveTestModel(t *testing.T, g *onnx.Graph, opset int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), g.Name+".onnx")
	if err := onnx.Save(&onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: opset}}, Graph: g}, path, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// poolModel: x [N,3,H,W] (dims named as given) → AveragePool(kernel k×k) → Relu.
func poolModel(t *testing.T, h, w onnx.Dim, k int64) string {
	g := &onnx.Graph{Name: "pool"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.Shape{onnx.Sym("N"), onnx.D(3), h, w}))
	p := g.NewNode("AveragePool", "", "pool", []*onnx.Value{x}, "p")
	p.Attrs = []*onnx.Attribute{onnx.IntsAttr("kernel_shape", []int64{k, k})}
	g.Append(p)
	r := g.NewNode("Relu", "", "relu", []*onnx.Value{p.Output(0)}, "y")
	g.Append(r)
	r.Output(0).Type = onnx.TensorType(onnx.Float, nil)
	g.Outputs = []*onnx.Value{r.Output(0)}
	return saveTestModel(t, g, 13)
}

// srModel: If(sr == 16000) then x*1 else Reshape(x, [7]) (fails on x of 4
// elements), as models that branch on a sample rate.
func srModel(t *testing.T) string {
	g := &onnx.Graph{Name: "sr"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4)))
	sr := g.AddInput("sr", onnx.TensorType(onnx.Int64, onnx.Shape{}))
	rate := g.AddInitializer("rate", onnx.NewInt64Tensor("rate", nil, []int64{16000}))
	eq := g.NewNode("Equal", "", "eq", []*onnx.Value{sr, rate}, "is16k")
	g.Append(eq)
	then := &onnx.Graph{Name: "then"}
	tn := then.NewNode("Relu", "", "then_relu", []*onnx.Value{x}, "then_y")
	then.Append(tn)
	tn.Output(0).Type = onnx.TensorType(onnx.Float, nil)
	then.Outputs = []*onnx.Value{tn.Output(0)}
	els := &onnx.Graph{Name: "else"}
	bad := els.AddInitializer("bad_shape", onnx.NewInt64Tensor("bad_shape", []int64{1}, []int64{7}))
	en := els.NewNode("Reshape", "", "else_reshape", []*onnx.Value{x, bad}, "else_y")
	els.Append(en)
	en.Output(0).Type = onnx.TensorType(onnx.Float, nil)
	els.Outputs = []*onnx.Value{en.Output(0)}
	n := g.NewNode("If", "", "branch", []*onnx.Value{eq.Output(0)}, "y")
	n.Attrs = []*onnx.Attribute{{Name: "then_branch", Type: onnx.AttrGraph, Graph: then}, {Name: "else_branch", Type: onnx.AttrGraph, Graph: els}}
	g.Append(n)
	n.Output(0).Type = onnx.TensorType(onnx.Float, nil)
	g.Outputs = []*onnx.Value{n.Output(0)}
	return saveTestModel(t, g, 13)
}

// TestGeneratedInputsFitDynamicModels: symbolic image dims get values that
// let an AveragePool run (growing them when the first guess is too small),
// and every command says which it chose.
func TestGeneratedInputsFitDynamicModels(t *testing.T) {
	cases := []struct {
		name  string
		model string
		want  string
	}{
		{"named height/width", poolModel(t, onnx.Sym("height"), onnx.Sym("width"), 7), "N=1, height=224, width=224 (from their names"},
		{"unnamed spatial dims", poolModel(t, onnx.Dim{}, onnx.Dim{}, 7), "x[2]=224, x[3]=224"},
		{"a kernel larger than the first guess", poolModel(t, onnx.Sym("H"), onnx.Sym("W"), 300), "H=320, W=320 (grown 2 times"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.onnx")
			for _, args := range [][]string{{tc.model, "-o", out}, {"run", tc.model}, {"verify", tc.model, tc.model}} {
				code, _, stderr := runCLI(t, args...)
				if code != 0 || !strings.Contains(stderr, tc.want) {
					t.Errorf("%v: exit %d, stderr lacks %q: %s", args[0], code, tc.want, stderr)
				}
			}
		})
	}
	// A kernel no tried size fits: the message lists the shapes tried and the flags.
	m := poolModel(t, onnx.Sym("H"), onnx.Sym("W"), 5000)
	code, _, stderr := runCLI(t, m, "-o", filepath.Join(t.TempDir(), "o.onnx"))
	for _, w := range []string{"x [1 3 224 224]", "x [1 3 1024 1024]", "--dim N=VALUE --dim H=VALUE --dim W=VALUE", "--inputs DIR", "--fill", "--no-verify"} {
		if code != exitFailure || !strings.Contains(stderr, w) {
			t.Errorf("exit %d, message lacks %q: %s", code, w, stderr)
		}
	}
	// --dim is taken as given.
	if code, _, stderr := runCLI(t, "run", m, "--dim", "H=5000", "--dim", "W=5000", "--dim", "N=1", "-q"); code != 0 {
		t.Errorf("--dim: exit %d: %s", code, stderr)
	}
}

// TestFillSelectsMode: an int64 input that selects a branch gets a random
// value and the model fails; --fill sr=16000 makes every command work.
func TestFillSelectsMode(t *testing.T) {
	m := srModel(t)
	out := filepath.Join(t.TempDir(), "out.onnx")
	code, _, stderr := runCLI(t, m, "-o", out)
	if code != exitFailure || !strings.Contains(stderr, "--fill NAME=VALUE") {
		t.Errorf("without --fill: exit %d: %s", code, stderr)
	}
	for _, args := range [][]string{{m, "-o", out}, {"run", m}, {"verify", m, m}, {m, "-o", out, "--passes", "quantize(mode=int8)"}} {
		if code, _, stderr := runCLI(t, append(args, "--fill", "sr=16000")...); code != 0 {
			t.Errorf("%v --fill sr=16000: exit %d: %s", args, code, stderr)
		}
	}
	if code, _, stderr := runCLI(t, "run", m, "--fill", "rate=1"); code != exitUsage || !strings.Contains(stderr, `no input "rate" (its inputs: x, sr)`) {
		t.Errorf("--fill of a non-input: exit %d: %s", code, stderr)
	}
}
