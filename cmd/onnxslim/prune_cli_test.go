package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestPruneCLI: the prune pass through the CLI — bad options and models
// fail with exit code 1, a message naming the problem and no output file;
// a good run writes the model and its per-layer report in --json.
func TestPruneCLI(t *testing.T) {
	models := testdata.Models(t)
	mlp := filepath.Join(models, "mnist_mlp_op13", "model.onnx")
	cnn := filepath.Join(models, "mnist_cnn_op13", "model.onnx")
	calibDir := filepath.Join(models, "mnist-data", "mlp-calib")
	dir := t.TempDir()
	relu := filepath.Join(dir, "relu.onnx")
	m, _ := baseModel()
	if err := onnx.Save(m, relu, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	// Calibration folders with labels that do not fit the CNN's 10 classes.
	badLabels := func(name string, labels []int64) string {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		x := interp.Make(onnx.Float, 8, 1, 28, 28)
		for i := range x.Floats() {
			x.Floats()[i] = float32(i%7) / 7
		}
		if err := dataset.WriteNpy(filepath.Join(d, "input.npy"), x); err != nil {
			t.Fatal(err)
		}
		if err := dataset.WriteNpy(filepath.Join(d, "labels.npy"), dataset.Int64Tensor(labels)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	outOfRange := badLabels("labels-out-of-range", []int64{1, 2, 3, 12, 4, 5, 6, 7})
	tooFew := badLabels("labels-too-few", []int64{1, 2, 3})
	residual := filepath.Join(dir, "residual.onnx")
	if err := onnx.Save(residualOutput(), residual, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in, spec, stderr string
	}{
		{"amount 0", mlp, "prune(amount=0)", "amount=0: must be in (0, 1)"},
		{"amount 1", mlp, "prune(amount=1)", "amount=1: must be in (0, 1)"},
		{"amount negative", mlp, "prune(amount=-0.5,structure=channel)", "fraction of FLOPs"},
		{"nothing prunable", relu, "prune(amount=0.5)", "nothing to prune: no Conv, Gemm or MatMul"},
		{"all layers kept", mlp, "prune(amount=0.5,exclude=Gemm)", "nothing to prune: the model's 3 prunable layer(s) are all kept"},
		{"labels outside the classes", cnn, "prune(criterion=taylor,calib=" + outOfRange + ")", "label 12 of sample 0 is outside the 10 classes"},
		{"labels count", cnn, "prune(criterion=taylor,calib=" + tooFew + ")", "labels.npy has 3 labels for 8 samples"},
		{"pinned residual group", residual, "prune(structure=channel,amount=0.3,keep_first=false,keep_last=false)", "pinned: graph output"},
		{"2:4 on one input channel", cnn, "prune(structure=2:4,keep_first=false,exclude=/c2/Conv|/fc1/Gemm)", "1 input channels per output: not a multiple of 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".onnx")
			code, _, stderr := runCLI(t, tc.in, "-o", out, "--passes", tc.spec, "-q")
			if code != 1 {
				t.Errorf("exit code %d, want 1; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr does not say %q:\n%s", tc.stderr, stderr)
			}
			if !strings.Contains(stderr, "prune") {
				t.Errorf("stderr does not name the pass:\n%s", stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s written (or stat failed: %v)", out, err)
			}
		})
	}
	t.Run("report in json", func(t *testing.T) {
		out := filepath.Join(dir, "pruned.onnx")
		js, md := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.md")
		code, _, stderr := runCLI(t, mlp, "-o", out, "--passes", "prune(structure=2:4,keep_first=false,calib="+calibDir+",samples=64)", "--json", js, "--report", md, "-q")
		if code != 0 {
			t.Fatalf("exit code %d:\n%s", code, stderr)
		}
		var rep struct {
			Details []struct {
				Pass   string `json:"pass"`
				Detail struct {
					Structure string `json:"structure"`
					Layers    []struct {
						Node      string   `json:"node"`
						Pruned    int      `json:"pruned"`
						Weights   int      `json:"weights"`
						ErrBefore *float64 `json:"err_before"`
						ErrAfter  *float64 `json:"err_after"`
					} `json:"layers"`
					NonzeroBefore int64 `json:"nonzero_before"`
					NonzeroAfter  int64 `json:"nonzero_after"`
				} `json:"detail"`
			} `json:"details"`
		}
		b, err := os.ReadFile(js)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("--json: %v\n%s", err, b)
		}
		if len(rep.Details) != 1 || rep.Details[0].Pass != "prune" {
			t.Fatalf("details: %+v", rep.Details)
		}
		d := rep.Details[0].Detail
		if d.Structure != "2:4" || len(d.Layers) != 2 {
			t.Fatalf("detail: %+v", d)
		}
		for _, l := range d.Layers {
			if l.Pruned*2 != l.Weights || l.ErrBefore == nil || l.ErrAfter == nil || !(*l.ErrAfter <= *l.ErrBefore) {
				t.Errorf("layer %+v", l)
			}
		}
		if !(d.NonzeroAfter < d.NonzeroBefore*6/10) {
			t.Errorf("nonzero weights %d → %d", d.NonzeroBefore, d.NonzeroAfter)
		}
		mdText, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"## prune", "| `/fc1/Gemm` | Gemm | 100352 / 200704 |", "keep_last"} {
			if !strings.Contains(string(mdText), want) {
				t.Errorf("--report lacks %q:\n%s", want, mdText)
			}
		}
		if _, err := onnx.Load(out); err != nil {
			t.Fatal(err)
		}
	})
}

// residualOutput is x → ConvA → ConvB, y = ConvA + ConvB a graph output:
// the residual group {A, B} can only be pruned together, and the graph
// output pins it.
func residualOutput() *onnx.Model {
	g := &onnx.Graph{Name: "main"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 3, 8, 8)))
	w := func(name string, dims ...int64) *onnx.Value {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i%5) - 2
		}
		return g.AddInitializer(name, onnx.NewFloatTensor("", dims, v))
	}
	pads := onnx.IntsAttr("pads", []int64{1, 1, 1, 1})
	a := g.NewNode("Conv", "", "ConvA", []*onnx.Value{x, w("wa", 8, 3, 3, 3)}, "a")
	a.SetAttr(pads)
	g.Append(a)
	b := g.NewNode("Conv", "", "ConvB", []*onnx.Value{a.Output(0), w("wb", 8, 8, 3, 3)}, "b")
	b.SetAttr(pads)
	g.Append(b)
	sum := g.NewNode("Add", "", "Add", []*onnx.Value{a.Output(0), b.Output(0)}, "y")
	g.Append(sum)
	y := sum.Output(0)
	y.Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8, 8, 8))
	g.Outputs = []*onnx.Value{y}
	return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, ProducerName: "test", Graph: g}
}
