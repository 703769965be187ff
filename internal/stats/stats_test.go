package stats

import (
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func tensorValue(name string, dims ...int64) *onnx.Value {
	return &onnx.Value{Name: name, Type: onnx.TensorType(onnx.Float, onnx.ShapeOf(dims...))}
}

// model builds a one-node model of op reading ins (shapes declared) and writing an output of outDims.
func model(op string, attrs []*onnx.Attribute, outDims []int64, ins ...*onnx.Value) *onnx.Model {
	g := &onnx.Graph{Name: "g"}
	g.Inputs = ins
	n := g.NewNode(op, "", "n", ins, "y")
	for _, a := range attrs {
		n.SetAttr(a)
	}
	g.Append(n)
	if outDims != nil {
		n.Output(0).Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(outDims...))
	}
	g.Outputs = []*onnx.Value{n.Output(0)}
	return &onnx.Model{IRVersion: 8, Graph: g}
}

func TestFLOPs(t *testing.T) {
	w := &onnx.Value{Name: "w", Const: onnx.NewFloatTensor("w", []int64{16, 3, 3, 3}, make([]float32, 432))}
	tests := []struct {
		name  string
		m     *onnx.Model
		flops int64
		known bool
	}{
		// 2 · (1·16·32·32 outputs) · (3·3·3) MACs, plus one bias add per output.
		{"conv", model("Conv", nil, []int64{1, 16, 32, 32}, tensorValue("x", 1, 3, 32, 32), w, tensorValue("b", 16)),
			2*16*32*32*27 + 16*32*32, true},
		{"conv output unknown", model("Conv", nil, nil, tensorValue("x", 1, 3, 32, 32), w), 0, false},
		{"gemm transB", model("Gemm", []*onnx.Attribute{onnx.IntAttr("transB", 1)}, nil,
			tensorValue("a", 4, 8), tensorValue("b", 5, 8)), 2 * 4 * 5 * 8, true},
		{"matmul broadcast", model("MatMul", nil, nil, tensorValue("a", 2, 1, 4, 8), tensorValue("b", 3, 8, 5)),
			2 * (2 * 3 * 4 * 5) * 8, true},
		{"matmul vector", model("MatMul", nil, nil, tensorValue("a", 8), tensorValue("b", 8, 5)), 2 * 5 * 8, true},
		{"matmul unknown", model("MatMul", nil, nil, &onnx.Value{Name: "a"}, tensorValue("b", 8, 5)), 0, false},
		// The integer forms count as the float ones: weights at input 1
		// (ConvInteger) or 3 (QLinearConv, bias at 8), B at 1 or 3.
		{"conv integer", model("ConvInteger", nil, []int64{1, 16, 32, 32}, tensorValue("x", 1, 3, 32, 32), w),
			2 * 16 * 32 * 32 * 27, true},
		{"qlinearconv with bias", model("QLinearConv", nil, []int64{1, 16, 32, 32}, tensorValue("x", 1, 3, 32, 32),
			tensorValue("xs"), tensorValue("xz"), w, tensorValue("ws"), tensorValue("wz"), tensorValue("ys"), tensorValue("yz"), tensorValue("b", 16)),
			2*16*32*32*27 + 16*32*32, true},
		{"matmul integer", model("MatMulInteger", nil, nil, tensorValue("a", 4, 8), tensorValue("b", 8, 5)), 2 * 4 * 5 * 8, true},
		{"qlinearmatmul", model("QLinearMatMul", nil, nil, tensorValue("a", 4, 8), tensorValue("as"), tensorValue("az"),
			tensorValue("b", 8, 5)), 2 * 4 * 5 * 8, true},
		{"not counted", model("Floor", nil, nil, &onnx.Value{Name: "a"}), 0, true},
		{"relu unknown", model("Relu", nil, nil, &onnx.Value{Name: "a"}), 0, false},
		// Index arithmetic (an int64 Add whose shape only a run knows, as
		// in a Loop-built gather) is no floating-point work.
		{"int64 add unknown", intAdd(nil), 0, true},
		{"float add unknown", model("Add", nil, nil, &onnx.Value{Name: "a"}, &onnx.Value{Name: "b"}), 0, false},
		{"int64 add known", intAdd([]int64{4}), 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, known := FLOPs(tc.m, DeclaredShape)
			if got != tc.flops || known != tc.known {
				t.Errorf("FLOPs = %d, %v; want %d, %v", got, known, tc.flops, tc.known)
			}
		})
	}
}

// intAdd is a model of one Add with an int64 output of shape dims (nil:
// rank unknown).
func intAdd(dims []int64) *onnx.Model {
	m := model("Add", nil, nil, &onnx.Value{Name: "a"}, &onnx.Value{Name: "b"})
	m.Graph.Outputs[0].Type = onnx.TensorType(onnx.Int64, nil)
	if dims != nil {
		m.Graph.Outputs[0].Type = onnx.TensorType(onnx.Int64, onnx.ShapeOf(dims...))
	}
	return m
}

func TestCounts(t *testing.T) {
	m := model("Relu", nil, nil, tensorValue("x", 2))
	m.Graph.AddInitializer("w", onnx.NewFloatTensor("w", []int64{2, 3}, make([]float32, 6)))
	extra := m.Graph.NewNode("Gelu", "com.microsoft", "g", []*onnx.Value{m.Graph.Nodes[0].Output(0)}, "z")
	m.Graph.Append(extra)
	if p := Params(m); p != 6 {
		t.Errorf("Params = %d, want 6", p)
	}
	if b := Bytes(m); b != 24 {
		t.Errorf("Bytes = %d, want 24", b)
	}
	h := OpHistogram(m)
	if len(h) != 2 || h["Relu"] != 1 || h["com.microsoft.Gelu"] != 1 {
		t.Errorf("OpHistogram = %v", h)
	}
}
