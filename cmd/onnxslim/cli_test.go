package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// runCLI runs the app in-process as the binary would, capturing its output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"onnxslim"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func mnistCNN(t *testing.T) string {
	return filepath.Join(testdata.Models(t), "mnist_cnn_op13", "model.onnx")
}

// TestArgs checks flag parsing, including flags after positional arguments
// (urfave/cli v3 parses them; the contract requires it) and usage errors.
func TestArgs(t *testing.T) {
	in := mnistCNN(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	tests := []struct {
		name     string
		args     []string
		code     int
		stderr   string // substring of stderr; "" means stderr must be empty
		produces bool   // out is written
	}{
		{"flags after input", []string{in, "-o", out, "--passes", "none"}, 0, "", true},
		{"flags before input", []string{"--passes", "none", "-o", out, in}, 0, "", true},
		{"no passes flag", []string{in, "-o", out, "--quiet"}, 0, "", true},
		{"declared flags", []string{in, "-o", out, "--no-verify", "--dim", "N=4", "--dim", "S=128", "--quiet"}, 0, "", true},
		{"verify flag", []string{in, "-o", out, "--verify", "-q"}, 0, "", true},
		{"unknown pass", []string{in, "-o", out, "--passes", "nosuch"}, 2, `unknown pass "nosuch"`, false},
		{"unknown option", []string{in, "-o", out, "--passes", "fold(nosuch=1)"}, 2, `no option "nosuch"`, false},
		{"missing output", []string{in, "--passes", "none"}, 2, "missing -o", false},
		{"missing input", []string{"-o", out}, 2, "missing IN.onnx", false},
		{"two inputs", []string{in, in, "-o", out}, 2, "expected one input model", false},
		{"unknown flag", []string{in, "-o", out, "--bogus"}, 2, "bogus", false},
		{"bad dim", []string{in, "-o", out, "--dim", "N"}, 2, `--dim "N"`, false},
		{"inputs dir missing", []string{in, "-o", out, "--inputs", filepath.Join(dir, "nope")}, 1, "nope", false},
		{"missing file", []string{filepath.Join(dir, "nope.onnx"), "-o", out}, 1, "nope.onnx", false},
		{"input is a folder", []string{dir, "-o", out}, 1, "is a directory", false},
		{"output folder missing", []string{in, "-o", filepath.Join(dir, "nope", "out.onnx")}, 1, filepath.Join(dir, "nope", "out.onnx"), false},
		{"inspect missing file", []string{"inspect", filepath.Join(dir, "nope.onnx")}, 1, "nope.onnx", false},
		{"inspect no args", []string{"inspect"}, 2, "missing model file", false},
		{"inspect flag after", []string{"inspect", in, "--json"}, 0, "", false},
		{"inspect flag before", []string{"inspect", "--json", in}, 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(out)
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d (stderr: %s)", code, tc.code, stderr)
			}
			if tc.stderr == "" && stderr != "" {
				t.Errorf("unexpected stderr: %s", stderr)
			}
			if tc.stderr != "" {
				checkOneLineError(t, stderr, tc.stderr)
			}
			if got := exists(out); got != tc.produces {
				t.Errorf("output written: %v, want %v", got, tc.produces)
			}
		})
	}
}

// checkOneLineError checks stderr is a single "onnxslim: " line containing each want.
func checkOneLineError(t *testing.T, stderr string, want ...string) {
	t.Helper()
	if !strings.HasPrefix(stderr, "onnxslim: ") || !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr is not one line starting with \"onnxslim: \": %q", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q does not contain %q", stderr, w)
		}
	}
	for _, bad := range []string{"panic", "internal error", "goroutine"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr mentions %q: %s", bad, stderr)
		}
	}
}

// TestInspectMatchesInfo checks inspect --json against the figures the model
// exporter recorded in info.json, for every shared model.
func TestInspectMatchesInfo(t *testing.T) {
	root := testdata.Models(t)
	infos, _ := filepath.Glob(filepath.Join(root, "*", "info.json"))
	if len(infos) == 0 {
		t.Fatalf("no info.json under %s", root)
	}
	wantKeys := []string{"ir_version", "opsets", "producer", "inputs", "outputs", "nodes", "ops",
		"parameters", "initializer_bytes", "file_bytes", "flops"}
	for _, infoPath := range infos {
		dir := filepath.Dir(infoPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var info struct {
				FileBytes  int64          `json:"file_bytes"`
				Nodes      int            `json:"nodes"`
				Params     int64          `json:"initializer_params"`
				IRVersion  int64          `json:"ir_version"`
				Opset      int64          `json:"opset"`
				Histogram  map[string]int `json:"op_histogram"`
				Signatures []struct {
					Name  string `json:"name"`
					Shape []any  `json:"shape"`
				} `json:"inputs"`
			}
			raw, err := os.ReadFile(infoPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &info); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCLI(t, "inspect", filepath.Join(dir, "model.onnx"), "--json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("inspect --json is not JSON: %v\n%s", err, stdout)
			}
			for _, k := range wantKeys {
				if _, ok := got[k]; !ok {
					t.Errorf("key %q missing", k)
				}
			}
			var mi modelInfo
			if err := json.Unmarshal([]byte(stdout), &mi); err != nil {
				t.Fatal(err)
			}
			if mi.FileBytes != info.FileBytes || mi.Nodes != info.Nodes || mi.Parameters != info.Params ||
				mi.IRVersion != info.IRVersion || mi.Opsets["ai.onnx"] != info.Opset {
				t.Errorf("inspect: file_bytes %d nodes %d parameters %d ir %d opset %d; info.json: %d %d %d %d %d",
					mi.FileBytes, mi.Nodes, mi.Parameters, mi.IRVersion, mi.Opsets["ai.onnx"],
					info.FileBytes, info.Nodes, info.Params, info.IRVersion, info.Opset)
			}
			if !equalHist(mi.Ops, info.Histogram) {
				t.Errorf("ops %v, info.json %v", mi.Ops, info.Histogram)
			}
			if len(mi.Inputs) != len(info.Signatures) {
				t.Fatalf("inputs %v, info.json %v", mi.Inputs, info.Signatures)
			}
			for i, in := range mi.Inputs {
				a, _ := json.Marshal(in.Shape)
				b, _ := json.Marshal(info.Signatures[i].Shape)
				if in.Name != info.Signatures[i].Name || !bytes.Equal(a, b) {
					t.Errorf("input %d: %s %s, info.json %s %s", i, in.Name, a, info.Signatures[i].Name, b)
				}
			}
			// Text output: the same facts, human-friendly.
			code, text, _ := runCLI(t, "inspect", filepath.Join(dir, "model.onnx"))
			if code != 0 || !strings.Contains(text, "parameters") || !strings.Contains(text, groupDigits(info.Params)) {
				t.Errorf("text output lacks the parameter count:\n%s", text)
			}
		})
	}
}

func equalHist(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestExternalDataRoundTrip checks that a model written with --external-data
// loads back equal to the original, and inspect lists its data file.
func TestExternalDataRoundTrip(t *testing.T) {
	in := mnistCNN(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "slim.onnx")
	jsonPath := filepath.Join(dir, "run.json")
	code, _, stderr := runCLI(t, in, "-o", out, "--passes", "none", "--external-data", "--json", jsonPath, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	names := dirNames(t, dir)
	if want := []string{"run.json", "slim.data", "slim.onnx"}; strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("output folder holds %v, want %v", names, want)
	}
	if st, _ := os.Stat(out); st.Size() > 10_000 {
		t.Errorf("model file is %d bytes: the weights were not moved out", st.Size())
	}
	orig, err := onnx.Load(in)
	if err != nil {
		t.Fatal(err)
	}
	back, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	a, err := onnx.Encode(orig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnx.Encode(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("model loaded from external data differs from the original (%d vs %d bytes encoded)", len(a), len(b))
	}

	var rep optimizeReport
	raw, _ := os.ReadFile(jsonPath)
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Passes == nil || len(rep.Passes) != 0 || rep.NodesBefore != 16 || rep.NodesAfter != 16 ||
		rep.BytesBefore != 426442 || rep.BytesAfter < 420_000 {
		t.Errorf("run report: %s", raw)
	}

	code, stdout, stderr := runCLI(t, "inspect", out, "--json")
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	var mi modelInfo
	if err := json.Unmarshal([]byte(stdout), &mi); err != nil {
		t.Fatal(err)
	}
	if len(mi.ExternalData) != 1 || mi.ExternalData[0].Location != "slim.data" || mi.ExternalData[0].Bytes < 400_000 || mi.Parameters != 106058 {
		t.Errorf("inspect of external-data model: %s", stdout)
	}
}

// TestReports checks --json and --report files of a plain run.
func TestReports(t *testing.T) {
	dir := t.TempDir()
	out, js, md := filepath.Join(dir, "o.onnx"), filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md")
	code, stdout, stderr := runCLI(t, mnistCNN(t), "-o", out, "--json", js, "--report", md)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "nodes 16 → 12") {
		t.Errorf("summary line: %q", stdout)
	}
	var keys map[string]json.RawMessage
	raw, _ := os.ReadFile(js)
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"passes", "nodes_before", "nodes_after", "bytes_before", "bytes_after", "flops_before", "flops_after", "verify"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("--json lacks %q: %s", k, raw)
		}
	}
	if b, _ := os.ReadFile(md); !bytes.Contains(b, []byte("| nodes | 16 | 12 |")) || !bytes.Contains(b, []byte("Verification")) || !bytes.Contains(b, []byte("BatchNormalization")) {
		t.Errorf("--report:\n%s", b)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// TestLinkData: --link-data makes the output's data file a hard link to
// the input's for the weights the pipeline leaves alone (the changed ones
// go to a second file), says so, lists both in the run report, and the
// output loads and runs in ONNX Runtime as the input does.
func TestLinkData(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "ext.onnx")
	if code, _, stderr := runCLI(t, mnistCNN(t), "-o", in, "--passes", "none", "--external-data", "--quiet"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	odir := t.TempDir()
	out, js := filepath.Join(odir, "slim.onnx"), filepath.Join(dir, "r.json")
	code, _, stderr := runCLI(t, in, "-o", out, "--link-data", "--json", js) // implies --external-data
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "slim.data is a hard link to the input's data file") {
		t.Errorf("no note of the link: %s", stderr)
	}
	a, errA := os.Stat(filepath.Join(dir, "ext.data"))
	b, errB := os.Stat(filepath.Join(odir, "slim.data"))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Fatalf("slim.data is not ext.data (%v, %v)", errA, errB)
	}
	var rep optimizeReport
	raw, _ := os.ReadFile(js)
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.ExternalAfter) != 2 || !rep.ExternalAfter[0].Linked || rep.ExternalAfter[0].Tensors == 0 || rep.ExternalAfter[1].Linked || rep.ExternalAfter[1].Location != "slim.1.data" {
		t.Errorf("external_data_after: %+v; want slim.data linked, then slim.1.data written", rep.ExternalAfter)
	}
	code, stdout, stderr := runCLI(t, "inspect", out)
	if code != 0 || !strings.Contains(stdout, "slim.data (") || !strings.Contains(stdout, "the file has 2 names") || strings.Count(stdout, "names") != 1 {
		t.Errorf("inspect does not say slim.data (only) has two names: exit %d\n%s%s", code, stdout, stderr)
	}
	ort.Require(t)
	m, err := onnx.Load(in)
	if err != nil {
		t.Fatal(err)
	}
	x := interp.Make(onnx.Float, 1, 1, 28, 28)
	xs := x.Floats()
	for i := range xs {
		xs[i] = float32(i%29) / 29
	}
	inputs := ort.WriteInputs(t, []string{m.Graph.Inputs[0].Name}, []*interp.Tensor{x})
	want, got := ort.Run(t, in, inputs), ort.Run(t, out, inputs)
	if len(want) != 1 || len(got) != 1 {
		t.Fatalf("ORT gave %d and %d outputs", len(want), len(got))
	}
	w, _ := interp.FromONNX(want[0])
	g, _ := interp.FromONNX(got[0])
	for i := range w.Floats() {
		if d := math.Abs(float64(w.Floats()[i] - g.Floats()[i])); !(d <= 1e-4) {
			t.Fatalf("ORT output %d: %v from the output against %v from the input", i, g.Floats()[i], w.Floats()[i])
		}
	}
}

// TestInspectFLOPsAtDims: a model with a symbolic batch has no FLOPs count
// and says how to get one; --dim counts them at those sizes (the static
// model's figure at batch 1, twice the per-sample work at 2) and names them.
func TestInspectFLOPsAtDims(t *testing.T) {
	dyn := filepath.Join(testdata.Models(t), "mnist_cnn_op13_dynbatch", "model.onnx")
	flopsLine := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, append([]string{"inspect"}, args...)...)
		if code != 0 {
			t.Fatalf("inspect %v: exit %d: %s", args, code, stderr)
		}
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(l, "FLOPs") {
				return strings.Join(strings.Fields(l)[1:], " ")
			}
		}
		t.Fatalf("no FLOPs line:\n%s", stdout)
		return ""
	}
	static := flopsLine(mnistCNN(t))
	if got := flopsLine(dyn); !strings.Contains(got, "unknown at symbolic sizes") || !strings.Contains(got, "--dim") {
		t.Errorf("symbolic batch: FLOPs %q, want unknown at symbolic sizes with a hint", got)
	}
	if got, want := flopsLine(dyn, "--dim", "N=1"), static+" (at N=1)"; got != want {
		t.Errorf("--dim N=1: FLOPs %q, want %q", got, want)
	}
	one, err := strconv.ParseInt(strings.ReplaceAll(static, ",", ""), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	got := flopsLine(dyn, "--dim", "N=2")
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.Fields(got)[0], ",", ""), 10, 64)
	if err != nil || n < 2*one-one/100 || n > 2*one || !strings.HasSuffix(got, "(at N=2)") {
		t.Errorf("--dim N=2: FLOPs %q, want about twice %d at N=2", got, one)
	}
	if _, stdout, _ := runCLI(t, "inspect", dyn, "--dim", "N=1"); !strings.Contains(stdout, "[N, 1, 28, 28]") {
		t.Errorf("the signature no longer shows the symbolic batch:\n%s", stdout)
	}
}

// TestInputWithoutShape: an input whose type declares no shape (the MNIST
// models', cleared) is generated in a shape read from its first layer, with
// a note saying so; a Conv leaves the sides open, which are searched as an
// unnamed dim's are (down to MNIST's 28), and the default pipeline
// verifies each model.
func TestInputWithoutShape(t *testing.T) {
	for _, c := range []struct{ model, note, fitted string }{
		{"mnist_mlp_op13", "generated inputs start as [1 784]", ""},
		{"mnist_cnn_op13", "generated inputs start as [1 1 224 224]", "generated inputs use input[2]=28, input[3]=28"},
	} {
		t.Run(c.model, func(t *testing.T) {
			m, err := onnx.Load(filepath.Join(testdata.Models(t), c.model, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			m.Graph.Inputs[0].Type.SetShape(nil)
			dir := t.TempDir()
			in := filepath.Join(dir, "noshape.onnx")
			if err := onnx.Save(m, in, onnx.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCLI(t, in, "-o", filepath.Join(dir, "out.onnx"))
			if code != 0 || !strings.Contains(stdout+stderr, "OK on") {
				t.Fatalf("exit %d: %s%s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, "declares no shape: "+c.note) || !strings.Contains(stderr, c.fitted) {
				t.Errorf("want notes %q and %q:\n%s", c.note, c.fitted, stderr)
			}
		})
	}
}

// TestDynamicModelFLOPs: a model with a symbolic batch gets FLOPs before
// and after counted at the sizes its inputs run at, and says which: the
// generated inputs' (N=1) or, with --inputs, its data's. Channel pruning,
// which aims at a fraction of the FLOPs, runs either way (before, it said
// the FLOPs were unknown when given --inputs).
func TestDynamicModelFLOPs(t *testing.T) {
	dyn := filepath.Join(testdata.Models(t), "mnist_cnn_op13_dynbatch", "model.onnx")
	data := filepath.Join(testdata.Models(t), "mnist-data", "cnn-calib")
	static := func() int64 {
		dir := t.TempDir()
		js := filepath.Join(dir, "r.json")
		if code, _, stderr := runCLI(t, mnistCNN(t), "-o", filepath.Join(dir, "o.onnx"), "--json", js); code != 0 {
			t.Fatalf("static model: exit %d: %s", code, stderr)
		}
		var r optimizeReport
		readJSON(t, js, &r)
		if r.FlopsBefore == nil || r.FlopsAt != nil {
			t.Fatalf("static model: FLOPs %v at %v, want known at its own sizes", r.FlopsBefore, r.FlopsAt)
		}
		return *r.FlopsBefore
	}()
	for _, extra := range [][]string{nil, {"--inputs", data}} {
		t.Run(fmt.Sprint(extra), func(t *testing.T) {
			dir := t.TempDir()
			js, md := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md")
			args := append([]string{dyn, "-o", filepath.Join(dir, "o.onnx"), "--passes", "prune(structure=channel,amount=0.3)", "--json", js, "--report", md}, extra...)
			if code, _, stderr := runCLI(t, args...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var r optimizeReport
			readJSON(t, js, &r)
			if r.FlopsBefore == nil || *r.FlopsBefore != static || r.FlopsAt["N"] != 1 || len(r.FlopsAt) != 1 {
				t.Fatalf("FLOPs before %v at %v, want the static model's %d at N=1", r.FlopsBefore, r.FlopsAt, static)
			}
			if r.FlopsAfter == nil || float64(*r.FlopsAfter) > 0.75*float64(static) {
				t.Errorf("FLOPs after %v, want at most 70%% of %d (and some for the rounding)", r.FlopsAfter, static)
			}
			if len(r.Passes) == 0 || r.Passes[0].FlopsBefore == nil || *r.Passes[0].FlopsBefore != static {
				t.Errorf("the pass table's FLOPs before: %+v, want %d", r.Passes, static)
			}
			if b, err := os.ReadFile(md); err != nil || !strings.Contains(string(b), "FLOPs are counted at N=1.") {
				t.Errorf("the report does not say where FLOPs are counted (%v)", err)
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestDataDependentFLOPs: a model whose shapes depend on the data (a
// MatMul over the rows NonZero finds, as detectors compute over what NMS
// keeps) has FLOPs that shape inference cannot count; they are counted on
// one run of the first sample, which the report and --json say, and so
// follow the data: more positives, more rows, more FLOPs.
func TestDataDependentFLOPs(t *testing.T) {
	g := &onnx.Graph{Name: "nonzero"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(6)))
	zero := g.AddInitializer("zero", onnx.NewFloatTensor("zero", nil, []float32{0}))
	w := g.AddInitializer("w", onnx.NewFloatTensor("w", []int64{1, 3}, []float32{1, 2, 3}))
	node := func(op string, attrs []*onnx.Attribute, in ...*onnx.Value) *onnx.Value {
		n := g.NewNode(op, "", op, in, op+"_out")
		for _, a := range attrs {
			n.SetAttr(a)
		}
		g.Append(n)
		return n.Output(0)
	}
	rows := node("Transpose", nil, node("NonZero", nil, node("Greater", nil, x, zero))) // [n, 1]
	y := node("MatMul", nil, node("Cast", []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Float))}, rows), w)
	g.Outputs = []*onnx.Value{y}
	dir := t.TempDir()
	model := saveModelFile(t, &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}, filepath.Join(dir, "m.onnx"))
	flops := func(positives int) int64 {
		t.Helper()
		data := filepath.Join(dir, fmt.Sprint("data", positives))
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		v := []float32{-1, -1, -1, -1, -1, -1}
		for i := range positives {
			v[i] = float32(i + 1)
		}
		if err := dataset.WriteNpy(filepath.Join(data, "x.npy"), interp.FromSlice(onnx.Float, []int{6}, v)); err != nil {
			t.Fatal(err)
		}
		js, md := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md")
		if code, _, stderr := runCLI(t, model, "-o", filepath.Join(dir, "o.onnx"), "--inputs", data, "--json", js, "--report", md); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var r optimizeReport
		readJSON(t, js, &r)
		if r.FlopsBefore == nil || r.FlopsAfter == nil || !r.FlopsRun {
			t.Fatalf("%d positives: FLOPs %v → %v (counted on a run: %v), want both counted on a run", positives, r.FlopsBefore, r.FlopsAfter, r.FlopsRun)
		}
		if b, err := os.ReadFile(md); err != nil || !strings.Contains(string(b), "FLOPs are those of one run of the first sample") {
			t.Errorf("the report does not say the FLOPs come from a run (%v)", err)
		}
		return *r.FlopsBefore
	}
	two, five := flops(2), flops(5)
	// Each row costs the MatMul 2·1·3 FLOPs (and the Cast its element).
	if five-two < 3*6 {
		t.Errorf("FLOPs with 2 positives %d, with 5 %d: want at least 18 more", two, five)
	}
}
