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
const minShapeExact = 0

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
	root := filepath.Join(testdata.Conformance(t), "node")
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var exact, wrong, unknown int
	var wrongCases, unknownCases []string
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		vs, msgs, err := inferCase(filepath.Join(root, d.Name()))
		if err != nil {
			unknown++
			unknownCases = append(unknownCases, d.Name()+": "+err.Error())
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
			unknownCases = append(unknownCases, d.Name()+": "+msg)
		default:
			if _, ok := knownWrongShapes[d.Name()]; ok {
				unknown++
				continue
			}
			wrong++
			wrongCases = append(wrongCases, d.Name()+": "+msg)
		}
	}
	t.Logf("node/ shape inference: %d inferred exactly, %d wrong, %d unknown", exact, wrong, unknown)
	sort.Strings(wrongCases)
	for _, w := range wrongCases {
		t.Errorf("wrong: %s", w)
	}
	if os.Getenv("ONNXSLIM_SHAPE_VERBOSE") != "" {
		t.Logf("unknown:\n%s", strings.Join(unknownCases, "\n"))
	}
	if exact < minShapeExact {
		t.Errorf("%d cases inferred exactly, fewer than the floor of %d", exact, minShapeExact)
	}
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
