package interp_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

func buildModel(t *testing.T, op string, inputs []*onnx.Type, consts map[int]*onnx.Tensor, attrs ...*onnx.Attribute) *onnx.Model {
	t.Helper()
	// Inputs a, b, … with initializers for consts, one node, output y.
	g := &onnx.Graph{Name: "g"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Domain: "", Version: 17}}, Graph: g}
	var ins []*onnx.Value
	for i, ty := range inputs {
		name := string(rune('a' + i))
		if c, ok := consts[i]; ok {
			ins = append(ins, g.AddInitializer(name, c))
			continue
		}
		v := g.AddInput(name, ty)
		ins = append(ins, v)
	}
	n := g.NewNode(op, "", op+"_node", ins, "y")
	for _, a := range attrs {
		n.SetAttr(a)
	}
	g.Append(n)
	g.Outputs = append(g.Outputs, n.Output(0))
	b, err := onnx.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	m, err = onnx.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tf32(shape ...int64) *onnx.Type { return onnx.TensorType(onnx.Float, onnx.ShapeOf(shape...)) }

// TestBadInputs: wrong inputs and impossible shapes give errors naming the
// node and the tensors, never a panic or an out-of-bounds read.
func TestBadInputs(t *testing.T) {
	matmul := buildModel(t, "MatMul", []*onnx.Type{onnx.TensorType(onnx.Float, nil), onnx.TensorType(onnx.Float, nil)}, nil)
	add := buildModel(t, "Add", []*onnx.Type{tf32(2, 3), tf32(2, 3)}, nil)
	gather := buildModel(t, "Gather", []*onnx.Type{tf32(4, 2), onnx.TensorType(onnx.Int64, onnx.ShapeOf(2))}, nil)
	expand := buildModel(t, "Expand", []*onnx.Type{tf32(1), onnx.TensorType(onnx.Int64, onnx.ShapeOf(3))}, nil)
	x23 := interp.Make(onnx.Float, 2, 3)
	for _, tc := range []struct {
		name  string
		model *onnx.Model
		feeds map[string]*interp.Tensor
		opts  interp.Options
		want  []string
	}{
		{"wrong dtype", add, map[string]*interp.Tensor{"a": interp.Make(onnx.Double, 2, 3), "b": x23}, interp.Options{}, []string{`input "a"`, "float64", "float32"}},
		{"wrong rank", add, map[string]*interp.Tensor{"a": interp.Make(onnx.Float, 6), "b": x23}, interp.Options{}, []string{`input "a"`, "rank"}},
		{"wrong shape", add, map[string]*interp.Tensor{"a": interp.Make(onnx.Float, 2, 4), "b": x23}, interp.Options{}, []string{`input "a"`, "dimension 1"}},
		{"missing input", add, map[string]*interp.Tensor{"a": x23}, interp.Options{}, []string{`input "b" is missing`}},
		{"unknown input", add, map[string]*interp.Tensor{"a": x23, "b": x23, "c": x23}, interp.Options{}, []string{`input "c" is not an input`}},
		{"matmul dims", matmul, map[string]*interp.Tensor{"a": interp.Make(onnx.Float, 2, 3), "b": interp.Make(onnx.Float, 4, 5)}, interp.Options{}, []string{`"MatMul_node"`, `"a" float32[2,3]`, `"b" float32[4,5]`}},
		{"gather index", gather, map[string]*interp.Tensor{"a": interp.Make(onnx.Float, 4, 2), "b": interp.FromSlice(onnx.Int64, []int{2}, []int64{1, 7})}, interp.Options{}, []string{`"Gather_node"`, "7"}},
		{"memory limit", expand, map[string]*interp.Tensor{"a": interp.Make(onnx.Float, 1), "b": interp.FromSlice(onnx.Int64, []int{3}, []int64{1 << 20, 1 << 20, 1 << 10})}, interp.Options{MaxMemory: 1 << 30}, []string{`"Expand_node"`, "memory limit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess, err := interp.NewSession(tc.model, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = sess.Run(tc.feeds)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Errorf("a kernel panicked: %v", err)
			}
			if tc.name == "memory limit" {
				var me *interp.MemoryLimitError
				if !errors.As(err, &me) {
					t.Errorf("error is not a MemoryLimitError: %v", err)
				}
			}
		})
	}
}

// TestUnknownOp: an op without a kernel is an error naming node, op, domain and opset.
func TestUnknownOp(t *testing.T) {
	m := buildModel(t, "NoSuchOp", []*onnx.Type{tf32(1)}, nil)
	_, err := interp.NewSession(m, interp.Options{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`"NoSuchOp_node"`, "NoSuchOp", "ai.onnx", "opset 17"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}
