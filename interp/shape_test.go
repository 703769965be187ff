package interp_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Shape-inference floors on ONNX's node/ cases: a regression fails the test.
const minShapeExact = 1435

// knownWrongShapes lists node/ cases whose inferred output type is known to
// differ from the reference, with the reason.
var knownWrongShapes = map[string]string{}

type shapeVerdict int

const (
	verdictExact shapeVerdict = iota
	verdictUnknown
	verdictWrong
)

// compareType classifies an inferred type against a reference value.
func compareType(got *onnx.Type, want *onnx.Datum) (shapeVerdict, string) {
	if got == nil || got.Kind == onnx.TypeNone {
		return verdictUnknown, "no type"
	}
	if got.Kind != want.Kind {
		return verdictWrong, fmt.Sprintf("kind %v, want %v", got.Kind, want.Kind)
	}
	switch want.Kind {
	case onnx.TypeTensor:
		return compareTensorType(got, want.Tensor)
	case onnx.TypeSequence:
		if got.Inner == nil {
			return verdictUnknown, "no element type"
		}
		worst := verdictExact
		msg := ""
		if len(want.Elems) == 0 {
			worst = verdictUnknown
		}
		for _, e := range want.Elems {
			v, m := compareType(got.Inner, e)
			if v > worst {
				worst, msg = v, m
			}
		}
		return worst, msg
	case onnx.TypeOptional:
		if want.Elem == nil || got.Inner == nil {
			return verdictUnknown, "empty optional"
		}
		return compareType(got.Inner, want.Elem)
	}
	return verdictUnknown, "not compared"
}

func compareTensorType(got *onnx.Type, want *onnx.Tensor) (shapeVerdict, string) {
	desc := fmt.Sprintf("inferred %s, want %s%v", got, want.DataType, want.Dims)
	if got.Elem != onnx.Undefined && got.Elem != want.DataType {
		return verdictWrong, desc
	}
	if !got.HasShape() {
		return verdictUnknown, desc
	}
	if len(got.Shape) != len(want.Dims) {
		return verdictWrong, desc
	}
	v := verdictExact
	for i, d := range got.Shape {
		switch {
		case d.IsStatic() && d.Value != want.Dims[i]:
			return verdictWrong, desc
		case !d.IsStatic():
			v = verdictUnknown
		}
	}
	if got.Elem == onnx.Undefined {
		v = verdictUnknown
	}
	return v, desc
}

// stripTypes removes what inference should find by itself: value_info
// everywhere and the main graph's output types.
func stripTypes(m *onnx.Model) []*onnx.Type {
	var declared []*onnx.Type
	for _, v := range m.Graph.Outputs {
		declared = append(declared, v.Type)
		v.Type = nil
	}
	for _, g := range m.Graphs() {
		for _, v := range g.ValueInfo {
			if !v.IsGraphInput() && !v.IsGraphOutput() {
				v.Type = nil
			}
		}
	}
	return declared
}

func inferCase(dir string) (verdicts []shapeVerdict, msgs []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, nil, err
	}
	declared := stripTypes(m)
	if _, err := interp.InferShapes(m, interp.ShapeOptions{}); err != nil {
		return nil, nil, err
	}
	for i, v := range m.Graph.Outputs {
		b, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("output_%d.pb", i)))
		if err != nil {
			return nil, nil, err
		}
		want, err := onnx.DecodeDatum(b, declared[i])
		if err != nil {
			return nil, nil, err
		}
		vd, msg := compareType(v.Type, want)
		verdicts = append(verdicts, vd)
		msgs = append(msgs, fmt.Sprintf("output %d %q: %s", i, v.Name, msg))
	}
	return verdicts, msgs, nil
}

// TestShapeConformance infers the output types of every node/ case from
// the declared input types alone and compares them with the reference data.
func TestShapeConformance(t *testing.T) {
	var wrongCases, unknownCases []string
	for _, suite := range []string{"node", "simple", "pytorch-converted", "pytorch-operator"} {
		exact := shapeSuite(t, suite, &wrongCases, &unknownCases)
		if suite == "node" && exact < minShapeExact {
			t.Errorf("%d cases inferred exactly, fewer than the floor of %d", exact, minShapeExact)
		}
	}
	sort.Strings(wrongCases)
	for _, w := range wrongCases {
		t.Errorf("wrong: %s", w)
	}
	if os.Getenv("ONNXSLIM_SHAPE_VERBOSE") != "" {
		t.Logf("unknown:\n%s", strings.Join(unknownCases, "\n"))
	}
}

// shapeSuite runs one suite and returns the number of exact cases.
func shapeSuite(t *testing.T, suite string, wrongCases, unknownCases *[]string) int {
	root := filepath.Join(testdata.Conformance(t), suite)
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var exact, wrong, unknown int
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		vs, msgs, err := inferCase(filepath.Join(root, d.Name()))
		if err != nil {
			unknown++
			*unknownCases = append(*unknownCases, suite+"/"+d.Name()+": "+err.Error())
			continue
		}
		worst := verdictExact
		msg := ""
		for i, v := range vs {
			if v > worst {
				worst, msg = v, msgs[i]
			}
		}
		switch worst {
		case verdictExact:
			exact++
		case verdictUnknown:
			unknown++
			*unknownCases = append(*unknownCases, suite+"/"+d.Name()+": "+msg)
		default:
			if _, ok := knownWrongShapes[d.Name()]; ok {
				unknown++
				continue
			}
			wrong++
			*wrongCases = append(*wrongCases, suite+"/"+d.Name()+": "+msg)
		}
	}
	t.Logf("%s/ shape inference: %d inferred exactly, %d wrong, %d unknown", suite, exact, wrong, unknown)
	return exact
}

func loadModel(t *testing.T, name string) *onnx.Model {
	t.Helper()
	m, err := onnx.Load(filepath.Join(testdata.Models(t), name, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestShapeModels infers the real models from their input types alone:
// every value gets a static shape and the outputs match the declared ones.
func TestShapeModels(t *testing.T) {
	for _, name := range []string{"gru_op13", "lstm_op13", "mnist_cnn_op13", "mnist_mlp_op13", "mobilenet_v2_op13", "resnet18_op13", "transformer_op14"} {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, name)
			declared := stripTypes(m)
			info, err := interp.InferShapes(m, interp.ShapeOptions{Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range info.Warnings {
				t.Errorf("warning: %s", w)
			}
			for _, n := range m.Graph.Nodes {
				for _, v := range n.Outputs() {
					if v == nil {
						continue
					}
					if _, ok := info.Static(v); !ok {
						t.Errorf("%s (%s): output %q has type %s, want a static shape", onnx.NodePlace(n), n.OpType, v.Name, v.Type)
					}
				}
			}
			for i, v := range m.Graph.Outputs {
				if !v.Type.Equal(declared[i]) {
					t.Errorf("output %q: inferred %s, declared %s", v.Name, v.Type, declared[i])
				}
			}
		})
	}
}

// TestShapeDynamicBatch keeps the symbolic batch dim, and fixes it with Dims.
func TestShapeDynamicBatch(t *testing.T) {
	for _, name := range []string{"mnist_cnn_op13_dynbatch", "mnist_mlp_op13_dynbatch"} {
		for _, fix := range []bool{false, true} {
			m := loadModel(t, name)
			stripTypes(m)
			opts := interp.ShapeOptions{Strict: true}
			want := "float32[N,10]"
			if fix {
				opts.Dims = map[string]int64{"N": 8}
				want = "float32[8,10]"
			}
			info, err := interp.InferShapes(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Graph.Outputs[0].Type.String(); got != want {
				t.Errorf("%s (dims %v): output %s, want %s", name, opts.Dims, got, want)
			}
			if fix {
				if got := m.Graph.Inputs[0].Type.String(); got != "float32[8,1,28,28]" && got != "float32[8,784]" {
					t.Errorf("%s: input %s keeps its symbol", name, got)
				}
			}
			for _, w := range info.Warnings {
				t.Errorf("%s: warning: %s", name, w)
			}
		}
	}
}

// TestShapeTransformerReshapes checks that every Reshape target computed
// from a Shape chain is known statically (the fold pass relies on it).
func TestShapeTransformerReshapes(t *testing.T) {
	m := loadModel(t, "transformer_op14")
	stripTypes(m)
	info, err := interp.InferShapes(m, interp.ShapeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	computed := 0
	for _, n := range m.Graph.Nodes {
		if n.OpType != "Reshape" {
			continue
		}
		target := n.Input(1)
		if target.Const != nil {
			continue
		}
		computed++
		if _, ok := info.StaticContent(target); !ok {
			t.Errorf("%s: target %q is not known statically (%v)", onnx.NodePlace(n), target.Name, info.Symbolic[target])
		}
		if info.Constant(target) == nil {
			t.Errorf("%s: target %q has no constant value", onnx.NodePlace(n), target.Name)
		}
	}
	if computed == 0 {
		t.Error("no Reshape with a computed target")
	}
	t.Logf("%d computed Reshape targets", computed)
}

// graphBuilder makes small models for table-driven shape tests.
type graphBuilder struct {
	m *onnx.Model
	g *onnx.Graph
	k int
}

func newGraph(opset int64) *graphBuilder {
	g := &onnx.Graph{Name: "main"}
	return &graphBuilder{m: &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: opset}}, Graph: g}, g: g}
}

// in adds a graph input; dims are numbers, symbol names or "?".
func (b *graphBuilder) in(name string, elem onnx.DataType, dims ...any) *onnx.Value {
	s := onnx.Shape{}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			s = append(s, onnx.D(int64(d)))
		case string:
			if d == "?" {
				s = append(s, onnx.Dim{})
			} else {
				s = append(s, onnx.Sym(d))
			}
		}
	}
	v := &onnx.Value{Name: name, Type: onnx.TensorType(elem, s)}
	b.g.Inputs = append(b.g.Inputs, v)
	return v
}

func (b *graphBuilder) ints(vals ...int64) *onnx.Value {
	b.k++
	name := fmt.Sprintf("c%d", b.k)
	return b.g.AddInitializer(name, onnx.NewInt64Tensor(name, []int64{int64(len(vals))}, vals))
}

func (b *graphBuilder) floats(dims ...int64) *onnx.Value {
	b.k++
	name := fmt.Sprintf("w%d", b.k)
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return b.g.AddInitializer(name, onnx.NewFloatTensor(name, dims, make([]float32, n)))
}

func (b *graphBuilder) node(op string, inputs []*onnx.Value, attrs ...*onnx.Attribute) *onnx.Value {
	return b.nodeN(op, 1, inputs, attrs...)[0]
}

func (b *graphBuilder) nodeN(op string, nout int, inputs []*onnx.Value, attrs ...*onnx.Attribute) []*onnx.Value {
	b.k++
	name := fmt.Sprintf("%s_%d", strings.ToLower(op), b.k)
	outs := make([]string, nout)
	for i := range outs {
		outs[i] = fmt.Sprintf("%s_out%d", name, i)
	}
	n := b.g.NewNode(op, "", name, inputs, outs...)
	n.Attrs = attrs
	b.g.Append(n)
	return n.Outputs()
}

func ints(name string, v ...int64) *onnx.Attribute { return onnx.IntsAttr(name, v) }

// TestShapeFunctions checks tricky shape rules on one-node graphs.
func TestShapeFunctions(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *graphBuilder) *onnx.Value
		want  string // the output type, or "error"
	}{
		// Conv and pools: auto_pad, strides, dilations, ceil_mode, symbols.
		{"conv same_upper stride 2", func(b *graphBuilder) *onnx.Value {
			return b.node("Conv", []*onnx.Value{b.in("x", onnx.Float, 1, 3, 7, 7), b.floats(8, 3, 3, 3)}, onnx.StringAttr("auto_pad", "SAME_UPPER"), ints("strides", 2, 2))
		}, "float32[1,8,4,4]"},
		{"conv valid", func(b *graphBuilder) *onnx.Value {
			return b.node("Conv", []*onnx.Value{b.in("x", onnx.Float, 1, 3, 7, 6), b.floats(8, 3, 3, 3)}, onnx.StringAttr("auto_pad", "VALID"))
		}, "float32[1,8,5,4]"},
		{"conv same keeps symbols at stride 1", func(b *graphBuilder) *onnx.Value {
			return b.node("Conv", []*onnx.Value{b.in("x", onnx.Float, "N", 3, "H", "W"), b.floats(8, 3, 3, 3)}, onnx.StringAttr("auto_pad", "SAME_LOWER"))
		}, "float32[N,8,H,W]"},
		{"conv pads 1 keeps symbols", func(b *graphBuilder) *onnx.Value {
			return b.node("Conv", []*onnx.Value{b.in("x", onnx.Float, "N", 3, "H", 9), b.floats(8, 3, 3, 3)}, ints("pads", 1, 1, 1, 1))
		}, "float32[N,8,H,9]"},
		{"conv stride 2 on a symbol is unknown", func(b *graphBuilder) *onnx.Value {
			return b.node("Conv", []*onnx.Value{b.in("x", onnx.Float, "N", 3, "H", 9), b.floats(8, 3, 3, 3)}, ints("pads", 1, 1, 1, 1), ints("strides", 2, 2))
		}, "float32[N,8,?,5]"},
		{"conv dilations and groups", func(b *graphBuilder) *onnx.Value {
			return b.node("Conv", []*onnx.Value{b.in("x", onnx.Float, 1, 4, 9, 9), b.floats(6, 2, 3, 3)}, ints("dilations", 2, 2), onnx.IntAttr("group", 2))
		}, "float32[1,6,5,5]"},
		{"conv channel mismatch", func(b *graphBuilder) *onnx.Value {
			return b.node("Conv", []*onnx.Value{b.in("x", onnx.Float, 1, 4, 9, 9), b.floats(6, 3, 3, 3)})
		}, "error"},
		{"conv transpose stride 2 output_padding", func(b *graphBuilder) *onnx.Value {
			return b.node("ConvTranspose", []*onnx.Value{b.in("x", onnx.Float, 1, 3, 4, 4), b.floats(3, 5, 3, 3)}, ints("strides", 2, 2), ints("output_padding", 1, 1), ints("pads", 1, 1, 1, 1))
		}, "float32[1,5,8,8]"},
		{"maxpool ceil_mode", func(b *graphBuilder) *onnx.Value {
			return b.node("MaxPool", []*onnx.Value{b.in("x", onnx.Float, 1, 1, 5, 5)}, ints("kernel_shape", 2, 2), ints("strides", 2, 2), onnx.IntAttr("ceil_mode", 1))
		}, "float32[1,1,3,3]"},
		{"maxpool ceil_mode drops a window in the padding", func(b *graphBuilder) *onnx.Value {
			return b.node("MaxPool", []*onnx.Value{b.in("x", onnx.Float, 1, 1, 4, 4)}, ints("kernel_shape", 2, 2), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1), onnx.IntAttr("ceil_mode", 1))
		}, "float32[1,1,3,3]"},
		// Reshape: 0, -1, allowzero and symbols.
		{"reshape 0 and -1", func(b *graphBuilder) *onnx.Value {
			return b.node("Reshape", []*onnx.Value{b.in("x", onnx.Float, 2, 3, 4), b.ints(0, -1)})
		}, "float32[2,12]"},
		{"reshape keeps the batch symbol", func(b *graphBuilder) *onnx.Value {
			return b.node("Reshape", []*onnx.Value{b.in("x", onnx.Float, "N", 3, 4), b.ints(0, -1)})
		}, "float32[N,12]"},
		{"reshape -1 solves for a symbol", func(b *graphBuilder) *onnx.Value {
			return b.node("Reshape", []*onnx.Value{b.in("x", onnx.Float, "N", 12), b.ints(-1, 3, 4)})
		}, "float32[N,3,4]"},
		{"reshape -1 over a product of symbols is unknown", func(b *graphBuilder) *onnx.Value {
			return b.node("Reshape", []*onnx.Value{b.in("x", onnx.Float, "N", "M"), b.ints(-1)})
		}, "float32[?]"},
		{"reshape allowzero", func(b *graphBuilder) *onnx.Value {
			return b.node("Reshape", []*onnx.Value{b.in("x", onnx.Float, 0, 4), b.ints(4, 0)}, onnx.IntAttr("allowzero", 1))
		}, "float32[4,0]"},
		{"reshape size mismatch", func(b *graphBuilder) *onnx.Value {
			return b.node("Reshape", []*onnx.Value{b.in("x", onnx.Float, 2, 3), b.ints(4, 2)})
		}, "error"},
		{"reshape from a shape chain", func(b *graphBuilder) *onnx.Value {
			x := b.in("x", onnx.Float, "N", 3, 4)
			n := b.node("Gather", []*onnx.Value{b.node("Shape", []*onnx.Value{x}), b.ints(0)})
			shape := b.node("Concat", []*onnx.Value{n, b.ints(12)}, onnx.IntAttr("axis", 0))
			return b.node("Reshape", []*onnx.Value{x, shape})
		}, "float32[N,12]"},
		{"expand from a computed shape", func(b *graphBuilder) *onnx.Value {
			y := b.in("y", onnx.Float, "B", 5, 1)
			return b.node("Expand", []*onnx.Value{b.in("x", onnx.Float, 1, 7), b.node("Shape", []*onnx.Value{y})})
		}, "float32[B,5,7]"},
		{"constant of computed shape", func(b *graphBuilder) *onnx.Value {
			y := b.in("y", onnx.Float, "B", 5, 7)
			s := b.node("Slice", []*onnx.Value{b.node("Shape", []*onnx.Value{y}), b.ints(1), b.ints(3)})
			return b.node("ConstantOfShape", []*onnx.Value{s})
		}, "float32[5,7]"},
		{"range over a computed length", func(b *graphBuilder) *onnx.Value {
			y := b.in("y", onnx.Float, "B", 5, 7)
			n := b.node("Gather", []*onnx.Value{b.node("Shape", []*onnx.Value{y}), b.g.AddInitializer("two", onnx.NewInt64Tensor("two", nil, []int64{2}))})
			zero := b.g.AddInitializer("zero", onnx.NewInt64Tensor("zero", nil, []int64{0}))
			one := b.g.AddInitializer("one", onnx.NewInt64Tensor("one", nil, []int64{1}))
			return b.node("Range", []*onnx.Value{zero, n, one})
		}, "int64[7]"},
		{"tile by a computed count", func(b *graphBuilder) *onnx.Value {
			y := b.in("y", onnx.Float, "B", 5)
			reps := b.node("Mul", []*onnx.Value{b.node("Shape", []*onnx.Value{y}), b.ints(1, 2)})
			return b.node("Tile", []*onnx.Value{b.in("x", onnx.Float, 2, 3), reps})
		}, "float32[?,30]"},
		// Slice with negative steps and symbols on untouched axes.
		{"slice reverse", func(b *graphBuilder) *onnx.Value {
			return b.node("Slice", []*onnx.Value{b.in("x", onnx.Float, 10, "N"), b.ints(-1), b.ints(-1 << 62), b.ints(0), b.ints(-1)})
		}, "float32[10,N]"},
		{"slice step -2", func(b *graphBuilder) *onnx.Value {
			return b.node("Slice", []*onnx.Value{b.in("x", onnx.Float, 10, "N"), b.ints(-1), b.ints(-1 << 62), b.ints(0), b.ints(-2)})
		}, "float32[5,N]"},
		{"slice step -3 between bounds", func(b *graphBuilder) *onnx.Value {
			return b.node("Slice", []*onnx.Value{b.in("x", onnx.Float, 10, "N"), b.ints(8), b.ints(2), b.ints(0), b.ints(-3)})
		}, "float32[2,N]"},
		{"slice a symbol to the end", func(b *graphBuilder) *onnx.Value {
			return b.node("Slice", []*onnx.Value{b.in("x", onnx.Float, 10, "N"), b.ints(0, 2), b.ints(1<<62, 5), b.ints(1, 0)})
		}, "float32[3,N]"},
		{"slice a symbol partly is unknown", func(b *graphBuilder) *onnx.Value {
			return b.node("Slice", []*onnx.Value{b.in("x", onnx.Float, 10, "N"), b.ints(1), b.ints(1 << 62), b.ints(-1)})
		}, "float32[10,?]"},
		{"slice opset 1 attributes", func(b *graphBuilder) *onnx.Value {
			b.m.Opsets[0].Version = 9
			return b.node("Slice", []*onnx.Value{b.in("x", onnx.Float, 10, 6)}, ints("starts", 1), ints("ends", -1), ints("axes", 1))
		}, "float32[10,4]"},
		// Broadcasting with symbols.
		{"broadcast 1 vs N", func(b *graphBuilder) *onnx.Value {
			return b.node("Add", []*onnx.Value{b.in("x", onnx.Float, "N", 1, 3), b.in("y", onnx.Float, 4, 1)})
		}, "float32[N,4,3]"},
		{"broadcast N vs N", func(b *graphBuilder) *onnx.Value {
			return b.node("Mul", []*onnx.Value{b.in("x", onnx.Float, "N", 3), b.in("y", onnx.Float, "N", 1)})
		}, "float32[N,3]"},
		{"broadcast N vs M is unknown", func(b *graphBuilder) *onnx.Value {
			return b.node("Sub", []*onnx.Value{b.in("x", onnx.Float, "N", 3), b.in("y", onnx.Float, "M", 3)})
		}, "float32[?,3]"},
		{"broadcast N vs 5 is 5", func(b *graphBuilder) *onnx.Value {
			return b.node("Div", []*onnx.Value{b.in("x", onnx.Float, "N"), b.in("y", onnx.Float, 5)})
		}, "float32[5]"},
		{"broadcast unknown vs N is unknown", func(b *graphBuilder) *onnx.Value {
			return b.node("Add", []*onnx.Value{b.in("x", onnx.Float, "?"), b.in("y", onnx.Float, "N")})
		}, "float32[?]"},
		{"broadcast mismatch", func(b *graphBuilder) *onnx.Value {
			return b.node("Add", []*onnx.Value{b.in("x", onnx.Float, 2), b.in("y", onnx.Float, 3)})
		}, "error"},
		{"comparison gives bool", func(b *graphBuilder) *onnx.Value {
			return b.node("Less", []*onnx.Value{b.in("x", onnx.Float, "N", 3), b.in("y", onnx.Float, 3)})
		}, "bool[N,3]"},
		{"where", func(b *graphBuilder) *onnx.Value {
			return b.node("Where", []*onnx.Value{b.in("c", onnx.Bool, "N", 1), b.in("x", onnx.Int32, 4), b.in("y", onnx.Int32, 1)})
		}, "int32[N,4]"},
		// Matrix products.
		{"matmul batched broadcast", func(b *graphBuilder) *onnx.Value {
			return b.node("MatMul", []*onnx.Value{b.in("a", onnx.Float, "B", 1, "S", 8), b.in("b", onnx.Float, 4, 8, 16)})
		}, "float32[B,4,S,16]"},
		{"matmul vector", func(b *graphBuilder) *onnx.Value {
			return b.node("MatMul", []*onnx.Value{b.in("a", onnx.Float, 8), b.in("b", onnx.Float, 3, 8, 2)})
		}, "float32[3,2]"},
		{"matmul inner mismatch", func(b *graphBuilder) *onnx.Value {
			return b.node("MatMul", []*onnx.Value{b.in("a", onnx.Float, 2, 8), b.in("b", onnx.Float, 7, 2)})
		}, "error"},
		{"gemm transposed", func(b *graphBuilder) *onnx.Value {
			return b.node("Gemm", []*onnx.Value{b.in("a", onnx.Float, 8, "N"), b.floats(10, 8)}, onnx.IntAttr("transA", 1), onnx.IntAttr("transB", 1))
		}, "float32[N,10]"},
		// Reductions, squeeze, split.
		{"reduce with input axes", func(b *graphBuilder) *onnx.Value {
			return b.node("ReduceSum", []*onnx.Value{b.in("x", onnx.Float, "N", 3, 4), b.ints(-1)}, onnx.IntAttr("keepdims", 0))
		}, "float32[N,3]"},
		{"reduce noop with empty axes", func(b *graphBuilder) *onnx.Value {
			b.m.Opsets[0].Version = 18
			return b.node("ReduceMax", []*onnx.Value{b.in("x", onnx.Float, "N", 3)}, onnx.IntAttr("noop_with_empty_axes", 1))
		}, "float32[N,3]"},
		{"squeeze needs static ones", func(b *graphBuilder) *onnx.Value {
			return b.node("Squeeze", []*onnx.Value{b.in("x", onnx.Float, "N", 1, 3)})
		}, "float32"},
		{"split num_outputs uneven", func(b *graphBuilder) *onnx.Value {
			b.m.Opsets[0].Version = 18
			return b.nodeN("Split", 3, []*onnx.Value{b.in("x", onnx.Float, 7, "N")}, onnx.IntAttr("num_outputs", 3))[2]
		}, "float32[1,N]"},
		// Opsets before 7.
		{"concat-1 default axis 1", func(b *graphBuilder) *onnx.Value {
			b.m.Opsets[0].Version = 3
			x := b.in("x", onnx.Float, 2, 3)
			return b.node("Concat", []*onnx.Value{x, x})
		}, "float32[2,6]"},
		{"reshape-1 shape attribute", func(b *graphBuilder) *onnx.Value {
			b.m.Opsets[0].Version = 4
			return b.node("Reshape", []*onnx.Value{b.in("x", onnx.Float, 2, 12)}, ints("shape", 2, 4, -1))
		}, "float32[2,4,3]"},
		{"upsample-1", func(b *graphBuilder) *onnx.Value {
			b.m.Opsets[0].Version = 6
			return b.node("Upsample", []*onnx.Value{b.in("x", onnx.Float, 1, 2, 3, 4)}, onnx.FloatAttr("height_scale", 2), onnx.FloatAttr("width_scale", 3))
		}, "float32[1,2,6,12]"},
		{"tile-1", func(b *graphBuilder) *onnx.Value {
			b.m.Opsets[0].Version = 5
			return b.node("Tile", []*onnx.Value{b.in("x", onnx.Float, 2, 3), b.ints(4), b.ints(1)})
		}, "float32[2,12]"},
		{"crop", func(b *graphBuilder) *onnx.Value {
			b.m.Opsets[0].Version = 8
			return b.node("Crop", []*onnx.Value{b.in("x", onnx.Float, 1, 2, 5, 6)}, ints("border", 1, 2, 0, 1))
		}, "float32[1,2,2,5]"},
		{"einsum", func(b *graphBuilder) *onnx.Value {
			return b.node("Einsum", []*onnx.Value{b.in("a", onnx.Float, "B", 3, 4), b.in("b", onnx.Float, "B", 4, 5)}, onnx.StringAttr("equation", "bij,bjk->bik"))
		}, "float32[B,3,5]"},
		{"einsum implicit with ellipsis", func(b *graphBuilder) *onnx.Value {
			return b.node("Einsum", []*onnx.Value{b.in("a", onnx.Float, 2, 3, 4), b.in("b", onnx.Float, 4, 5)}, onnx.StringAttr("equation", "...ij,jk"))
		}, "float32[2,3,5]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newGraph(13)
			out := tc.build(b)
			b.g.Outputs = []*onnx.Value{out}
			_, err := interp.InferShapes(b.m, interp.ShapeOptions{Strict: true})
			got := out.Type.String()
			if err != nil {
				got = "error"
				t.Log(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestShapeCustomOp puts an unknown-domain node in the middle of a CNN:
// values after it stay unknown unless declared, the rest is inferred.
func TestShapeCustomOp(t *testing.T) {
	for _, declare := range []bool{false, true} {
		m := loadModel(t, "mnist_cnn_op13")
		stripTypes(m)
		var custom *onnx.Node
		for _, n := range m.Graph.Nodes {
			if n.OpType == "MaxPool" {
				custom = n
				break
			}
		}
		custom.OpType, custom.Domain = "MyPool", "com.example"
		custom.Attrs = nil
		m.SetOpset("com.example", 1)
		if declare {
			custom.Output(0).Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 16, 14, 14))
		}
		info, err := interp.InferShapes(m, interp.ShapeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range info.Warnings {
			t.Logf("warning: %s", w)
		}
		// Nodes before the custom one are static; after it, unknown unless declared.
		before := true
		for _, n := range m.Graph.Nodes {
			if n == custom {
				before = false
				if _, ok := info.Static(n.Output(0)); ok != declare {
					t.Errorf("declare=%v: custom output %s", declare, n.Output(0).Type)
				}
				continue
			}
			_, ok := info.Static(n.Output(0))
			switch {
			case before && !ok:
				t.Errorf("%s before the custom op: %s", onnx.NodePlace(n), n.Output(0).Type)
			case !before && ok != declare:
				t.Errorf("declare=%v: %s after the custom op: %s", declare, onnx.NodePlace(n), n.Output(0).Type)
			}
		}
		want := "float32[1,10]"
		if got := m.Graph.Outputs[0].Type.String(); (got == want) != declare {
			t.Errorf("declare=%v: output %s", declare, got)
		}
	}
}

// TestShapeFunctionCall infers a call of a model-local function whose body
// takes an attribute from the caller, once per call with the caller's types.
func TestShapeFunctionCall(t *testing.T) {
	b := newGraph(13)
	body := &onnx.Graph{Name: "MyTranspose"}
	bx := &onnx.Value{Name: "x"}
	body.Inputs = []*onnx.Value{bx}
	tn := body.NewNode("Transpose", "", "t", []*onnx.Value{bx}, "y")
	tn.Attrs = []*onnx.Attribute{{Name: "perm", Type: onnx.AttrInts, RefAttrName: "p"}}
	body.Append(tn)
	body.Outputs = []*onnx.Value{tn.Output(0)}
	b.m.Functions = []*onnx.Function{{Name: "MyTranspose", Domain: "local", Attributes: []string{"p"}, Body: body, Opsets: []onnx.OpsetID{{Version: 13}}}}
	b.m.SetOpset("local", 1)
	call := func(x *onnx.Value, perm ...int64) *onnx.Value {
		n := b.g.NewNode("MyTranspose", "local", "call_"+x.Name, []*onnx.Value{x}, x.Name+"_t")
		n.Attrs = []*onnx.Attribute{ints("p", perm...)}
		b.g.Append(n)
		return n.Output(0)
	}
	y1 := call(b.in("a", onnx.Float, "N", 3, 4), 2, 0, 1)
	y2 := call(b.in("b", onnx.Int64, 5, 6), 1, 0)
	b.g.Outputs = []*onnx.Value{y1, y2}
	if _, err := interp.InferShapes(b.m, interp.ShapeOptions{Strict: true}); err != nil {
		t.Fatal(err)
	}
	if got := y1.Type.String(); got != "float32[4,N,3]" {
		t.Errorf("first call: %s", got)
	}
	if got := y2.Type.String(); got != "int64[6,5]" {
		t.Errorf("second call: %s", got)
	}
	if tn.Attrs[0].RefAttrName != "p" || tn.Output(0).Type != nil {
		t.Errorf("the function body was left changed: %v %s", tn.Attrs[0], tn.Output(0).Type)
	}
}

// TestShapeIfConstant takes the branch of a constant condition, with the
// content of its shape-valued output.
func TestShapeIfConstant(t *testing.T) {
	b := newGraph(13)
	x := b.in("x", onnx.Float, "N", 3)
	branch := func(name string, v *onnx.Value) *onnx.Graph {
		g := &onnx.Graph{Name: name}
		n := g.NewNode("Shape", "", name+"_shape", []*onnx.Value{v}, name+"_out")
		g.Append(n)
		g.Outputs = []*onnx.Value{n.Output(0)}
		return g
	}
	cond := b.g.AddInitializer("cond", &onnx.Tensor{Name: "cond", DataType: onnx.Bool, Raw: []byte{1}})
	ifn := b.g.NewNode("If", "", "if", []*onnx.Value{cond}, "s")
	th, el := branch("then", x), branch("else", b.in("y", onnx.Float, 1, 2, 3))
	th.Parent, el.Parent, th.Owner, el.Owner = b.g, b.g, ifn, ifn
	ifn.Attrs = []*onnx.Attribute{{Name: "then_branch", Type: onnx.AttrGraph, Graph: th}, {Name: "else_branch", Type: onnx.AttrGraph, Graph: el}}
	b.g.Append(ifn)
	out := b.node("Reshape", []*onnx.Value{b.in("z", onnx.Float, "N", 1, 3), ifn.Output(0)})
	b.g.Outputs = []*onnx.Value{out}
	info, err := interp.InferShapes(b.m, interp.ShapeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ifn.Output(0).Type.String(); got != "int64[2]" {
		t.Errorf("If output: %s", got)
	}
	if got := out.Type.String(); got != "float32[N,3]" {
		t.Errorf("Reshape by the If output: %s (content %v, warnings %v)", got, info.Symbolic[ifn.Output(0)], info.Warnings)
	}
}

// TestShapeDeclared merges declared and inferred types: a declared static dim
// is never replaced (a conflict is a warning), a declared symbol gives way to
// an inferred number.
func TestShapeDeclared(t *testing.T) {
	b := newGraph(13)
	x := b.in("x", onnx.Float, 2, 3)
	conflict := b.node("Relu", []*onnx.Value{x})
	conflict.Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 5))
	vague := b.node("Relu", []*onnx.Value{x})
	vague.Type = onnx.TensorType(onnx.Float, onnx.Shape{onnx.Sym("N"), onnx.Dim{}})
	b.g.ValueInfo = []*onnx.Value{conflict, vague}
	b.g.Outputs = []*onnx.Value{conflict, vague}
	info, err := interp.InferShapes(b.m, interp.ShapeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := conflict.Type.String(); got != "float32[2,5]" {
		t.Errorf("conflicting declaration: %s", got)
	}
	if got := vague.Type.String(); got != "float32[2,3]" {
		t.Errorf("vague declaration: %s", got)
	}
	if len(info.Warnings) != 1 || !strings.Contains(info.Warnings[0], "dimension 1 differs") {
		t.Errorf("warnings: %q", info.Warnings)
	}
}
