package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// A test-only pass that claims to be lossless but scales the largest weight
// by 1.01: the default verification must catch it.
func init() {
	passes.Register(&passes.Pass{
		Name: "test-perturb",
		Doc:  "test only: scales the largest float initializer by 1.01",
		Run: func(c *passes.Context, m *onnx.Model) (int, error) {
			var big *onnx.Value
			for _, v := range m.Graph.Initializers {
				if v.Const.DataType == onnx.Float && (big == nil || v.Const.NumElements() > big.Const.NumElements()) {
					big = v
				}
			}
			if big == nil {
				return 0, nil
			}
			w, err := big.Const.AsFloat32()
			if err != nil {
				return 0, err
			}
			for i := range w {
				w[i] *= 1.01
			}
			big.Const = onnx.NewFloatTensor(big.Name, big.Const.Dims, w)
			return 1, nil
		},
	})
}

func TestDefaultPipelineCLI(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	code, stdout, stderr := runCLI(t, mnistCNN(t), "-o", out, "--json", filepath.Join(dir, "r.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"cleanup", "fold", "nodes 16 → 12", "OK on"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	m, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Graph.Nodes {
		if n.OpType == "BatchNormalization" {
			t.Errorf("BatchNormalization left in the output")
		}
	}
}

// TestBadRewriteCaught: a wrong "lossless" rewrite fails verification, exits
// 1 and writes nothing.
func TestBadRewriteCaught(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	code, _, stderr := runCLI(t, mnistCNN(t), "-o", out, "--passes", "fold,test-perturb,cleanup")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	if !strings.Contains(stderr, "output") {
		t.Errorf("error does not name the output: %s", stderr)
	}
	checkOneLineError(t, stderr)
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("files written: %v", names)
	}
}

// TestVerifyEachNamesPass: --verify-each names the first pass that breaks tolerance.
func TestVerifyEachNamesPass(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	code, _, stderr := runCLI(t, mnistCNN(t), "-o", out, "--passes", "cleanup,fold,test-perturb,fuse", "--verify-each")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	if !strings.Contains(stderr, "pass test-perturb") {
		t.Errorf("error does not name the pass: %s", stderr)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("files written: %v", names)
	}
}

// TestUnknownDomainPassesThrough: a custom-domain op in the middle of a CNN
// stays untouched while the graph around it is still optimized.
func TestUnknownDomainPassesThrough(t *testing.T) {
	m, err := onnx.Load(mnistCNN(t))
	if err != nil {
		t.Fatal(err)
	}
	// Replace the first MaxPool with a custom op of the same signature.
	for _, n := range m.Graph.Nodes {
		if n.OpType == "MaxPool" {
			n.OpType, n.Domain = "MyPool", "com.example"
			m.Opsets = append(m.Opsets, onnx.OpsetID{Domain: "com.example", Version: 1})
			break
		}
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.onnx")
	if err := onnx.Save(m, in, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	// Nothing declares MyPool's output shape, so verification cannot cut around it.
	code, _, stderr := runCLI(t, in, "-o", out, "--no-verify")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	custom := 0
	for _, n := range got.Graph.Nodes {
		ops = append(ops, n.OpType)
		if n.Domain == "com.example" {
			custom++
			if len(n.Inputs()) != 1 || len(n.Outputs()) != 1 {
				t.Errorf("custom node changed: %v → %v", n.Inputs(), n.Outputs())
			}
		}
	}
	if custom != 1 {
		t.Errorf("%d custom nodes, want 1 (ops %v)", custom, ops)
	}
	if slices.Contains(ops, "BatchNormalization") {
		t.Errorf("BatchNormalization not folded around the custom op: %v", ops)
	}
	// Without --no-verify, the message says which shape is missing and what to do.
	code, _, stderr = runCLI(t, in, "-o", out+"2")
	if code != 1 || !strings.Contains(stderr, "--no-verify") {
		t.Errorf("exit %d, stderr %q: want 1 and a pointer to --no-verify", code, stderr)
	}
}

// TestRunRoundTrip: run --random writes inputs and outputs; run --inputs on
// them gives identical outputs.
func TestRunRoundTrip(t *testing.T) {
	for _, name := range []string{"mnist_cnn_op13", "transformer_op14", "lstm_op13"} {
		t.Run(name, func(t *testing.T) {
			model := filepath.Join(testdata.Models(t), name, "model.onnx")
			a, b := t.TempDir(), t.TempDir()
			if code, _, stderr := runCLI(t, "run", model, "--random", "0", "--out", a); code != 0 {
				t.Fatalf("run --random: exit %d: %s", code, stderr)
			}
			if code, _, stderr := runCLI(t, "run", model, "--inputs", a, "--out", b); code != 0 {
				t.Fatalf("run --inputs: exit %d: %s", code, stderr)
			}
			outs, _ := filepath.Glob(filepath.Join(a, "output_*.pb"))
			if len(outs) == 0 {
				t.Fatal("no outputs written")
			}
			for _, p := range outs {
				x, _ := os.ReadFile(p)
				y, err := os.ReadFile(filepath.Join(b, filepath.Base(p)))
				if err != nil || string(x) != string(y) {
					t.Errorf("%s differs between the two runs", filepath.Base(p))
				}
			}
		})
	}
}

func TestRunBench(t *testing.T) {
	code, stdout, stderr := runCLI(t, "run", mnistCNN(t), "--bench", "3", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, `{"median_ms":`) || !strings.Contains(last, `"min_ms":`) {
		t.Errorf("last line %q is not the JSON latency", last)
	}
}

// TestDiffAfterDefaultPipeline: the diff of resnet18 against its optimized
// form shows the BatchNormalization nodes removed, Conv weights changed and
// the node and byte deltas, in markdown that fits a pull-request comment.
func TestDiffAfterDefaultPipeline(t *testing.T) {
	in := filepath.Join(testdata.Models(t), "resnet18_op13", "model.onnx")
	out := filepath.Join(t.TempDir(), "out.onnx")
	if code, _, stderr := runCLI(t, in, "-o", out, "--no-verify"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, md, stderr := runCLI(t, "diff", in, out, "--format", "markdown")
	if code != 0 {
		t.Fatalf("diff: exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"| BatchNormalization | 20 | 0 | -20 |",
		"| nodes | 69 | 49 | -20 (-29.0%) |",
		"initializer bytes",
		"conv1.weight",
		"<details>",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if len(md) >= 65536 {
		t.Errorf("markdown is %d characters, over GitHub's comment limit", len(md))
	}
}

// TestLossyLimits: a lossy pipeline reports its error; the limits given on
// the command line bind it.
func TestLossyLimits(t *testing.T) {
	root := testdata.Models(t)
	in := filepath.Join(root, "mnist_mlp_op13", "model.onnx")
	spec := "default,quantize(mode=int8,calib=" + filepath.Join(root, "mnist-data", "mlp-calib") + ")"
	eval := filepath.Join(root, "mnist-data", "mlp-eval")
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, in, "-o", filepath.Join(dir, "q.onnx"), "--passes", spec, "--inputs", eval, "--max-accuracy-drop", "0.005")
	if code != 0 {
		t.Fatalf("within the accuracy limit: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "top-1") {
		t.Errorf("no accuracy in the report:\n%s", stdout)
	}
	out := filepath.Join(dir, "strict.onnx")
	code, _, stderr = runCLI(t, in, "-o", out, "--passes", spec, "--min-cosine", "0.99999999")
	if code != 1 || !strings.Contains(stderr, "cosine") {
		t.Errorf("beyond --min-cosine: exit %d, stderr %q; want 1 naming the cosine", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("output written despite failing the limit")
	}
}
