package main

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/onnx"
)

// legacyModel is a small image classifier as Caffe2 and early PyTorch
// exported them at opset 3 (IR 3, every initializer also a graph input):
// ImageScaler, binary ops with broadcast and axis attributes, is_test and
// consumed_inputs, Reshape's shape attribute, Concat without an axis, a
// per-channel PRelu slope.
func legacyModel() *onnx.Model {
	rng := rand.New(rand.NewPCG(3, 7))
	g := &onnx.Graph{Name: "legacy", LegacyInitializerInputs: true}
	m := &onnx.Model{IRVersion: 3, Opsets: []onnx.OpsetID{{Version: 3}}, ProducerName: "legacy-test", Graph: g}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 3, 8, 8)))
	weight := func(name string, dims ...int64) *onnx.Value {
		v := normalWeight(g, rng, 0.3, name, dims...)
		v.Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(dims...))
		g.Inputs = append(g.Inputs, v)
		return v
	}
	node := func(op string, in []*onnx.Value, attrs ...*onnx.Attribute) *onnx.Value {
		name := op + "_" + string(rune('a'+len(g.Nodes)))
		n := g.NewNode(op, "", name, in, name)
		for _, a := range attrs {
			n.SetAttr(a)
		}
		g.Append(n)
		return n.Output(0)
	}
	var (
		ia  = onnx.IntAttr
		isa = onnx.IntsAttr
	)
	h := node("ImageScaler", []*onnx.Value{x}, onnx.FloatAttr("scale", 0.5), onnx.FloatsAttr("bias", []float32{-0.4, -0.45, -0.5}))
	h = node("Conv", []*onnx.Value{h, weight("conv_w", 4, 3, 3, 3), weight("conv_b", 4)}, isa("pads", []int64{1, 1, 1, 1}))
	mean := weight("bn_mean", 4)
	vr := g.AddInitializer("bn_var", onnx.NewFloatTensor("bn_var", []int64{4}, []float32{0.5, 1, 1.5, 2}))
	vr.Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(4))
	g.Inputs = append(g.Inputs, vr)
	h = node("BatchNormalization", []*onnx.Value{h, weight("bn_scale", 4), weight("bn_bias", 4), mean, vr},
		ia("is_test", 1), isa("consumed_inputs", []int64{0, 0, 0, 1, 1}))
	h = node("PRelu", []*onnx.Value{h, weight("slope", 4)})
	h = node("Add", []*onnx.Value{h, weight("shift", 4)}, ia("broadcast", 1), ia("axis", 1))
	h = node("MaxPool", []*onnx.Value{h}, isa("kernel_shape", []int64{2, 2}), isa("strides", []int64{2, 2}))
	h = node("Concat", []*onnx.Value{h, h})
	h = node("Dropout", []*onnx.Value{h}, ia("is_test", 1))
	h = node("Reshape", []*onnx.Value{h}, isa("shape", []int64{1, -1}))
	h = node("Gemm", []*onnx.Value{h, weight("fc_w", 5, 128), weight("fc_b", 5)}, ia("broadcast", 1), ia("transB", 1))
	y := node("Softmax", []*onnx.Value{h})
	y.Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 5))
	g.Outputs = []*onnx.Value{y}
	return m
}

// TestLegacyOpsetDefault: ONNX Runtime runs no model below opset 7, so the
// default pipeline converts such a model to 7 first;
// the file it writes runs in ONNX Runtime to the interpreter's outputs on
// the original. (ImageScaler stays: it is an op of opsets up to 9.)
func TestLegacyOpsetDefault(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	in := saveModelFile(t, legacyModel(), filepath.Join(dir, "legacy.onnx"))
	code, _, stderr := runCLI(t, in, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "opset 3 is older than 7") {
		t.Errorf("no note of the conversion in: %s", stderr)
	}
	m, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Opset("") != 7 || m.IRVersion != 3 {
		t.Errorf("written at opset %d, IR %d: want opset 7 (the least ONNX Runtime loads) and IR 3 (unchanged)", m.Opset(""), m.IRVersion)
	}
	for _, n := range m.Graph.Nodes {
		for _, a := range []string{"broadcast", "axis", "is_test", "consumed_inputs", "shape"} {
			if n.Attr(a) != nil && !(a == "axis" && (n.OpType == "Concat" || n.OpType == "Softmax")) {
				t.Errorf("%s %s kept attribute %s", n.OpType, n.Name, a)
			}
		}
	}
	t.Logf("%s", strings.TrimSpace(stderr))

	// The interpreter on the original against ONNX Runtime on the result.
	ort.Require(t)
	ref := filepath.Join(dir, "ref")
	if code, _, stderr := runCLI(t, "run", in, "--out", ref); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	want := readOutputs(t, ref)
	if vals, err := want[0].AsFloat32(); err != nil || !allFinite(vals) {
		t.Fatalf("the interpreter's reference output is not finite: %v %v", vals, err)
	}
	got := ort.Run(t, out, ref, "--optimize", "disabled")
	compareTensors(t, "ORT on the converted file vs the interpreter on the original", got, want, 1e-5, 1e-6)
	t.Logf("ONNX Runtime runs the opset-7 file: %d outputs as the interpreter's on the original", len(got))
	// A lossy pass on the old model: static int8 (which needs opset 13)
	// also writes a file ONNX Runtime runs, close to the float model.
	q := filepath.Join(dir, "int8.onnx")
	if code, _, stderr := runCLI(t, in, "-o", q, "--passes", "quantize(mode=int8)", "--quiet"); code != 0 {
		t.Fatalf("quantize(mode=int8): exit %d: %s", code, stderr)
	}
	qm, err := onnx.Load(q)
	if err != nil {
		t.Fatal(err)
	}
	if passesOps(qm)["QuantizeLinear"] == 0 || qm.Opset("") < 13 {
		t.Errorf("int8 file at opset %d with ops %v: want QDQ at opset ≥ 13", qm.Opset(""), passesOps(qm))
	}
	compareTensors(t, "ORT on the int8 file vs the interpreter on the original", ort.Run(t, q, ref, "--optimize", "disabled"), want, 0.1, 0.02)
	// And the original does not load there: the conversion is why the
	// output runs.
	if _, err := ort.RunErr(in, ref, t.TempDir(), "--optimize", "disabled"); err == nil {
		t.Log("note: this ONNX Runtime loads the opset-3 original too")
	}
}

// TestNCHWcModelExplained: a model saved at ONNX Runtime's "all" level holds
// NCHWc ops whose blocked weights depend on the CPU that saved it; the
// error says so (not "give --shape") and nothing is written.
func TestNCHWcModelExplained(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	g := &onnx.Graph{Name: "nchwc"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}, {Domain: "com.microsoft.nchwc", Version: 1}}, Graph: g}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8, 4, 4)))
	r := g.NewNode("ReorderInput", "com.microsoft.nchwc", "reorder_in", []*onnx.Value{x}, "r")
	g.Append(r)
	p := g.NewNode("MaxPool", "com.microsoft.nchwc", "pool", []*onnx.Value{r.Output(0)}, "p")
	p.SetAttr(onnx.IntsAttr("kernel_shape", []int64{2, 2}))
	g.Append(p)
	o := g.NewNode("ReorderOutput", "com.microsoft.nchwc", "reorder_out", []*onnx.Value{p.Output(0)}, "y")
	o.SetAttr(onnx.IntAttr("channels", 8))
	g.Append(o)
	o.Output(0).Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8, 3, 3))
	g.Outputs = []*onnx.Value{o.Output(0)}
	in := saveModelFile(t, m, filepath.Join(dir, "nchwc.onnx"))
	code, _, stderr := runCLI(t, in, "-o", out)
	if code != 1 || !strings.Contains(stderr, "NCHWc layout") || strings.Contains(stderr, "--shape") {
		t.Fatalf("exit %d, stderr %q: want exit 1 explaining the NCHWc layout", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output was written")
	}
}

// TestLegacyOpsetRefusedKeepsGoing: where the conversion to opset 7 is
// refused (a broadcast axis on an input of unknown rank), the model keeps
// its opset, the note says why, and the pipeline still runs.
func TestLegacyOpsetRefusedKeepsGoing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	g := &onnx.Graph{Name: "legacy"}
	m := &onnx.Model{IRVersion: 3, Opsets: []onnx.OpsetID{{Version: 6}}, Graph: g}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 3, 4)))
	b := g.AddInput("b", &onnx.Type{Kind: onnx.TypeTensor, Elem: onnx.Float}) // rank unknown
	add := g.NewNode("Add", "", "add", []*onnx.Value{x, b}, "a")
	add.SetAttr(onnx.IntAttr("broadcast", 1))
	add.SetAttr(onnx.IntAttr("axis", 1))
	g.Append(add)
	relu := g.NewNode("Relu", "", "relu", []*onnx.Value{add.Output(0)}, "y")
	g.Append(relu)
	g.Outputs = []*onnx.Value{relu.Output(0)}
	in := saveModelFile(t, m, filepath.Join(dir, "legacy.onnx"))
	code, _, stderr := runCLI(t, in, "-o", out, "--no-verify")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "stays so") || !strings.Contains(stderr, "ranks of both inputs") {
		t.Errorf("no note of the refused conversion in: %s", stderr)
	}
	got, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Opset("") != 6 || got.Graph.Nodes[0].Attr("axis") == nil {
		t.Errorf("opset %d, Add attributes %v: want the model as it was, at opset 6", got.Opset(""), got.Graph.Nodes[0].Attrs)
	}
}

// passesOps counts the main graph's nodes by op type.
func passesOps(m *onnx.Model) map[string]int {
	h := map[string]int{}
	for _, n := range m.Graph.Nodes {
		h[n.OpType]++
	}
	return h
}

func allFinite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return len(v) > 0
}

// TestNewerOpsetNote: a model importing an ai.onnx opset newer than any
// kernel here is optimized and verified, with a note that each op ran as
// its newest version known to the interpreter.
func TestNewerOpsetNote(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	g := &onnx.Graph{Name: "future"}
	m := &onnx.Model{IRVersion: 10, Opsets: []onnx.OpsetID{{Version: 99}}, Graph: g}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 3)))
	n := g.NewNode("Relu", "", "relu", []*onnx.Value{x}, "y")
	g.Append(n)
	g.Outputs = []*onnx.Value{n.Output(0)}
	in := saveModelFile(t, m, filepath.Join(dir, "future.onnx"))
	code, _, stderr := runCLI(t, in, "-o", out)
	if code != 0 || !strings.Contains(stderr, "opset 99, newer than any the interpreter knows") {
		t.Fatalf("exit %d, stderr %q: want success with a note on opset 99", code, stderr)
	}
}
