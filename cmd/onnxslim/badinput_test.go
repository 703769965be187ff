package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
	"google.golang.org/protobuf/encoding/protowire"
)

// badCase is a malformed model: build writes it (and any files it needs) into
// dir and returns its path; place is what the error must name besides the path.
type badCase struct {
	name  string
	build func(t *testing.T, dir string) string
	place []string
}

// TestBadInputs feeds malformed models to the main job and to inspect. Each
// must fail with exit code 1 and one error line naming the file and the place,
// without a panic and without creating any file in the output folder.
func TestBadInputs(t *testing.T) {
	cases := []badCase{
		{"empty file", writeBytes(nil), []string{"empty file"}},
		{"random bytes", writeBytes(randomBytes(1, 4096)), []string{"byte "}},
		{"random bytes 2", writeBytes(randomBytes(2, 100)), nil},
		{"random bytes 3", writeBytes(randomBytes(3, 1<<16)), nil},
		{"tensor file, not a model", copyShared("mnist_cnn_op13/test_data_set_0/input_0.pb"), []string{"model.opset_import[0]"}},
		{"varint overflow", writeBytes([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), []string{"byte 0 in model"}},
		{"graph not a message", writeBytes(protowire.AppendBytes(protowire.AppendTag(nil, 7, protowire.BytesType), []byte{0xff})), []string{"model.graph"}},
		{"bad UTF-8 node name", encodedBytes(badUTF8Model), []string{"model.graph", "node[0]", "not valid UTF-8"}},
		{"no graph", encodedModel(func(m *onnx.Model) { m.Graph = nil }), []string{"graph is missing"}},
		{"undefined input", encodedModel(undefinedInput), []string{`graph "main"`, `node "relu"`, `"ghost"`}},
		{"cycle", encodedModel(cycle), []string{`graph "main"`, "cycle", "node"}},
		{"duplicate output", encodedModel(duplicateOutput), []string{`graph "main"`, `node "second"`, `"y"`, "defined twice"}},
		{"duplicate output of an unnamed node", encodedModel(duplicateOutputUnnamed), []string{`graph "main"`, `node #1 (Neg)`, `"y"`, "defined twice"}},
		{"graph output undefined", encodedModel(func(m *onnx.Model) {
			m.Graph.Outputs = append(m.Graph.Outputs, &onnx.Value{Name: "nowhere"})
		}), []string{`graph "main"`, `output "nowhere"`}},
		{"10^12 elements, short raw data", encodedModel(withInitializer(&onnx.Tensor{
			Name: "w", DataType: onnx.Float, Dims: []int64{1_000_000, 1_000_000}, Raw: make([]byte, 16)})),
			[]string{`graph "main"`, `initializer "w"`, "raw_data has 16 bytes"}},
		{"10^12 elements, short typed data", encodedModel(withInitializer(&onnx.Tensor{
			Name: "w", DataType: onnx.Float, Dims: []int64{1_000_000, 1_000_000}, Floats: []float32{1, 2}})),
			[]string{`initializer "w"`, "typed data has 2 items"}},
		{"element count overflows", encodedModel(withInitializer(&onnx.Tensor{
			Name: "w", DataType: onnx.Double, Dims: []int64{1 << 31, 1 << 31, 1 << 31}, Raw: make([]byte, 8)})),
			[]string{`initializer #0 "w"`, "overflow"}},
		{"bytes overflow", encodedModel(withInitializer(&onnx.Tensor{
			Name: "w", DataType: onnx.Double, Dims: []int64{1 << 31, 1 << 31}, Raw: make([]byte, 8)})),
			[]string{`initializer "w"`, "more than 2^63 bits"}},
		{"bytes overflow, empty raw data", encodedModel(withInitializer(&onnx.Tensor{
			Name: "w", DataType: onnx.Double, Dims: []int64{1 << 31, 1 << 31}, Raw: []byte{}})),
			[]string{`initializer "w"`, "more than 2^63 bits"}},
		{"bytes overflow, external data", externalModel("w.bin", 0, 0, writeFile("w.bin", 0), 1<<31, 1<<31),
			[]string{`tensor "w"`, "more than 2^63 bits"}},
		{"negative dim", encodedModel(withInitializer(&onnx.Tensor{
			Name: "w", DataType: onnx.Float, Dims: []int64{-4}, Raw: make([]byte, 16)})),
			[]string{`initializer #0 "w"`, "negative dimension"}},
		{"raw data length mismatch", encodedModel(withInitializer(&onnx.Tensor{
			Name: "w", DataType: onnx.Float, Dims: []int64{3, 4}, Raw: make([]byte, 40)})),
			[]string{`initializer "w"`, "raw_data has 40 bytes", "need 48"}},
		{"constant attribute mismatch", encodedModel(badConstantAttr), []string{`node "k"`, `attribute "value"`, "raw_data"}},
		{"unknown data type", encodedModel(withInitializer(&onnx.Tensor{
			Name: "w", DataType: onnx.DataType(99), Dims: []int64{1}, Raw: make([]byte, 4)})),
			[]string{`initializer "w"`, "unknown data type 99"}},
		{"external data absolute path", externalModel("/etc/passwd", 0, 48, nil), []string{`tensor "w"`, "/etc/passwd", "relative path"}},
		{"external data ../", externalModel("../outside.bin", 0, 48, nil), []string{`tensor "w"`, "escapes the model's folder"}},
		{"external data nested ../", externalModel("sub/../../outside.bin", 0, 48, nil), []string{`tensor "w"`, "escapes the model's folder"}},
		{"external data symlink out", externalModel("link.bin", 0, 48, func(t *testing.T, dir string) {
			outside := filepath.Join(t.TempDir(), "secret.bin")
			if err := os.WriteFile(outside, make([]byte, 48), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(dir, "link.bin")); err != nil {
				t.Fatal(err)
			}
		}), []string{`tensor "w"`, "through a symlink"}},
		{"external data past end", externalModel("w.bin", 0, 48, writeFile("w.bin", 20)), []string{`tensor "w"`, "past the end of w.bin"}},
		{"external data offset past end", externalModel("w.bin", 1000, 48, writeFile("w.bin", 100)), []string{`tensor "w"`, "offset 1000"}},
		{"external data missing file", externalModel("absent.bin", 0, 48, nil), []string{`tensor "w"`, "absent.bin"}},
		{"external data short length", externalModel("w.bin", 0, 40, writeFile("w.bin", 100)), []string{`tensor "w"`, "external data has 40 bytes"}},
		{"external data bad offset", externalModel("w.bin", -5, 48, writeFile("w.bin", 100)), []string{`tensor "w"`, "bad offset"}},
		{"external data is a folder", externalModel("d", 0, 48, func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
		}), []string{`tensor "w"`}},
		{"Git LFS pointer", writeBytes([]byte(lfsPointer)), []string{"not an ONNX model", "Git LFS pointer", "git lfs pull"}},
		{"HTML page", writeBytes([]byte("\n<!DOCTYPE html>\n<html><body>404</body></html>")), []string{"HTML page"}},
		{"PyTorch checkpoint", writeBytes(append([]byte("PK\x03\x04"), randomBytes(4, 200)...)), []string{"ZIP archive", "torch.onnx.export"}},
		{"TensorFlow Lite model", writeBytes(append([]byte("\x1c\x00\x00\x00TFL3"), randomBytes(5, 200)...)), []string{"TensorFlow Lite"}},
		{"safetensors", writeBytes([]byte("\x0e\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}")), []string{"safetensors"}},
		{"NumPy array", writeBytes([]byte("\x93NUMPY\x01\x00v\x00{'descr': '<f4'}")), []string{"NumPy"}},
		{"external data is a Git LFS pointer", externalModel("w.bin", 0, 48, func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "w.bin"), []byte(lfsPointer), 0o644); err != nil {
				t.Fatal(err)
			}
		}), []string{`tensor "w"`, "w.bin is a Git LFS pointer"}},
		{"200 nested If", encodedModel(nestedIf(200)), []string{`graph "g65" (in node "if65")`, "nested deeper than 64"}},
		{"3000 nested If", encodedModel(nestedIf(3000)), []string{"model.graph", "node[0]", " … ", "nested deeper"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkBadInput(t, tc.build, tc.place)
		})
	}
}

// TestTruncatedModel cuts a real model at 50 offsets spread over the file.
func TestTruncatedModel(t *testing.T) {
	data, err := os.ReadFile(mnistCNN(t))
	if err != nil {
		t.Fatal(err)
	}
	offsets := []int{1, 2, 3, 5, 8, 13, 19, 20, 21, 50, 100, 101, 500, 1000}
	for i := len(offsets); i < 50; i++ {
		offsets = append(offsets, (i-len(offsets)+1)*len(data)/(50-len(offsets)+1)) // evenly over the file
	}
	rng := rand.New(rand.NewSource(7))
	offsets[len(offsets)-1] = len(data) - 1 - rng.Intn(4)
	for _, off := range offsets {
		t.Run(strconv.Itoa(off), func(t *testing.T) {
			checkBadInput(t, writeBytes(data[:off]), nil)
		})
	}
}

// checkBadInput runs the main job and inspect on the model build makes.
func checkBadInput(t *testing.T, build func(*testing.T, string) string, place []string) {
	t.Helper()
	in := build(t, t.TempDir())
	for _, args := range [][]string{{in, "-o", "OUT", "--passes", "none"}, {"inspect", in}, {"inspect", in, "--json"}} {
		outDir := t.TempDir()
		for i, a := range args {
			if a == "OUT" {
				args[i] = filepath.Join(outDir, "out.onnx")
			}
		}
		code, stdout, stderr := runCLI(t, args...)
		if code != 1 {
			t.Errorf("%v: exit code %d, want 1 (stderr: %s)", args[0], code, stderr)
		}
		if stdout != "" {
			t.Errorf("%v: stdout not empty: %s", args[0], stdout)
		}
		checkOneLineError(t, stderr, append([]string{in}, place...)...)
		if args[0] == in {
			t.Log(stderr) // go test -v shows each message for review
		}
		if names := dirNames(t, outDir); len(names) != 0 {
			t.Errorf("%v: files left in the output folder: %v", args[0], names)
		}
	}
}

func writeBytes(data []byte) func(*testing.T, string) string {
	return func(t *testing.T, dir string) string {
		p := filepath.Join(dir, "model.onnx")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// lfsPointer is what a clone without Git LFS leaves in place of a file.
const lfsPointer = "version https://git-lfs.github.com/spec/v1\noid sha256:d6267e75ad19e51ad643554f861a3e42f1bea3a2dc1e33bcc03e4f9e11e0de74\nsize 26454\n"

func writeFile(name string, size int) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func randomBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func copyShared(rel string) func(*testing.T, string) string {
	return func(t *testing.T, dir string) string {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(mnistCNN(t))), rel))
		if err != nil {
			t.Fatal(err)
		}
		return writeBytes(data)(t, dir)
	}
}

// baseModel is a valid model: y = Relu(x), x float[2,3].
func baseModel() (*onnx.Model, *onnx.Value) {
	g := &onnx.Graph{Name: "main"}
	x := &onnx.Value{Name: "x", Type: onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 3))}
	g.Inputs = []*onnx.Value{x}
	n := g.NewNode("Relu", "", "relu", []*onnx.Value{x}, "y")
	g.Append(n)
	y := n.Output(0)
	y.Type = x.Type
	g.Outputs = []*onnx.Value{y}
	return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, ProducerName: "test", Graph: g}, x
}

// encodedModel builds baseModel, lets edit break it, and writes it encoded.
func encodedModel(edit func(*onnx.Model)) func(*testing.T, string) string {
	return encodedBytes(func(t *testing.T) []byte {
		m, _ := baseModel()
		edit(m)
		b, err := onnx.Encode(m)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		return b
	})
}

func encodedBytes(f func(*testing.T) []byte) func(*testing.T, string) string {
	return func(t *testing.T, dir string) string { return writeBytes(f(t))(t, dir) }
}

func undefinedInput(m *onnx.Model) {
	m.Graph.Nodes[0].SetInput(0, &onnx.Value{Name: "ghost"})
}

func cycle(m *onnx.Model) {
	g := m.Graph
	a := g.NewNode("Relu", "", "a", []*onnx.Value{nil}, "a_out")
	b := g.NewNode("Relu", "", "b", []*onnx.Value{a.Output(0)}, "b_out")
	a.SetInput(0, b.Output(0))
	g.Append(a)
	g.Append(b)
	g.Outputs = append(g.Outputs, b.Output(0))
}

func duplicateOutput(m *onnx.Model) {
	g := m.Graph
	n := g.NewNode("Neg", "", "second", []*onnx.Value{g.Inputs[0]}, "y")
	g.Append(n)
}

func duplicateOutputUnnamed(m *onnx.Model) {
	g := m.Graph
	g.Append(g.NewNode("Neg", "", "", []*onnx.Value{g.Inputs[0]}, "y"))
}

func withInitializer(t *onnx.Tensor) func(*onnx.Model) {
	return func(m *onnx.Model) {
		m.Graph.AddInitializer(t.Name, t)
	}
}

func badConstantAttr(m *onnx.Model) {
	g := m.Graph
	n := g.NewNode("Constant", "", "k", nil, "k_out")
	n.SetAttr(onnx.TensorAttr("value", &onnx.Tensor{DataType: onnx.Float, Dims: []int64{4}, Raw: make([]byte, 3)}))
	g.Append(n)
}

// badUTF8Model is a model whose node name is not UTF-8 (proto3 strings must be).
func badUTF8Model(t *testing.T) []byte {
	node := protowire.AppendTag(nil, 3, protowire.BytesType)
	node = protowire.AppendBytes(node, []byte{0xff, 0xfe})
	graph := protowire.AppendTag(nil, 1, protowire.BytesType)
	graph = protowire.AppendBytes(graph, node)
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 8)
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	return protowire.AppendBytes(b, graph)
}

// externalModel writes a model whose initializer w (float[12], 48 bytes) lives
// (or dims) in external data at location/offset/length; setup adds files beside it.
func externalModel(location string, offset, length int64, setup func(*testing.T, string), dims ...int64) func(*testing.T, string) string {
	if dims == nil {
		dims = []int64{12}
	}
	return func(t *testing.T, dir string) string {
		if setup != nil {
			setup(t, dir)
		}
		m, _ := baseModel()
		w := &onnx.Tensor{Name: "w", DataType: onnx.Float, Dims: dims, DataLocation: 1,
			External: []onnx.StringPair{{Key: "location", Value: location},
				{Key: "offset", Value: strconv.FormatInt(offset, 10)}, {Key: "length", Value: strconv.FormatInt(length, 10)}}}
		m.Graph.AddInitializer("w", w)
		b, err := onnx.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return writeBytes(b)(t, dir)
	}
}

// nestedIf builds depth If nodes, each holding the next in its then_branch.
func nestedIf(depth int) func(*onnx.Model) {
	return func(m *onnx.Model) {
		cond := &onnx.Value{Name: "cond", Type: onnx.TensorType(onnx.Bool, onnx.ShapeOf())}
		m.Graph.Inputs = append(m.Graph.Inputs, cond)
		leaf := &onnx.Graph{Name: "leaf"}
		k := leaf.NewNode("Constant", "", "k", nil, "k_out")
		k.SetAttr(onnx.TensorAttr("value", onnx.NewFloatTensor("", nil, []float32{1})))
		leaf.Append(k)
		leaf.Outputs = []*onnx.Value{k.Output(0)}
		inner := leaf
		for i := depth; i >= 1; i-- {
			g := m.Graph
			if i > 1 {
				g = &onnx.Graph{Name: fmt.Sprintf("g%d", i-1)}
			}
			n := g.NewNode("If", "", fmt.Sprintf("if%d", i), []*onnx.Value{cond}, fmt.Sprintf("if%d_out", i))
			n.SetAttr(&onnx.Attribute{Name: "then_branch", Type: onnx.AttrGraph, Graph: inner})
			n.SetAttr(&onnx.Attribute{Name: "else_branch", Type: onnx.AttrGraph, Graph: leaf})
			g.Append(n)
			if i > 1 {
				g.Outputs = []*onnx.Value{n.Output(0)}
				inner = g
			} else {
				m.Graph.Outputs = append(m.Graph.Outputs, n.Output(0))
			}
		}
	}
}
