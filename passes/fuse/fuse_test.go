package fuse_test

import (
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
	_ "github.com/onnxslim/onnxslim/passes/all"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// layerNorm builds the decomposed LayerNormalization PyTorch exports.
func layerNorm(opset int64) *onnx.Model {
	ty := onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 3, 4))
	b, x := passtest.NewBuilder(opset, ty)
	axes := []*onnx.Attribute{onnx.IntsAttr("axes", []int64{-1})}
	mean := b.Op("ReduceMean", axes, x)
	d := b.Op("Sub", nil, x, mean)
	p := b.Op("Pow", nil, d, b.Scalar(2))
	v := b.Op("ReduceMean", axes, p)
	s := b.Op("Sqrt", nil, b.Op("Add", nil, v, b.Scalar(1e-5)))
	y := b.Op("Div", nil, d, s)
	y = b.Op("Add", nil, b.Op("Mul", nil, y, b.Vec(1, 2, 3, 4)), b.Vec(0.5, 0, -0.5, 1))
	return b.Output(y, ty)
}

func TestFuseLayerNorm(t *testing.T) {
	// ReduceMean takes axes as an attribute up to opset 17.
	m := passtest.Run(t, layerNorm(17), "fuse,cleanup", passtest.Input(2, 3, 4))
	if h := passtest.Ops(m); h["LayerNormalization"] != 1 || len(m.Graph.Nodes) != 1 {
		t.Errorf("opset 17: ops %v, want a single LayerNormalization", h)
	}
	m = passtest.Run(t, layerNorm(14), "fuse,cleanup", passtest.Input(2, 3, 4))
	if h := passtest.Ops(m); h["LayerNormalization"] != 0 {
		t.Errorf("opset 14 has no LayerNormalization, yet it was fused: %v", h)
	}
}

func gelu(opset int64) *onnx.Model {
	ty := onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 5))
	b, x := passtest.NewBuilder(opset, ty)
	e := b.Op("Erf", nil, b.Op("Div", nil, x, b.Scalar(float32(math.Sqrt2))))
	y := b.Op("Mul", nil, b.Op("Mul", nil, x, b.Op("Add", nil, e, b.Scalar(1))), b.Scalar(0.5))
	return b.Output(y, ty)
}

func TestFuseGelu(t *testing.T) {
	m := passtest.Run(t, gelu(20), "fuse,cleanup", passtest.Input(2, 5))
	if h := passtest.Ops(m); h["Gelu"] != 1 || len(m.Graph.Nodes) != 1 {
		t.Errorf("opset 20: ops %v, want a single Gelu", h)
	}
	m = passtest.Run(t, gelu(17), "fuse,cleanup", passtest.Input(2, 5))
	if h := passtest.Ops(m); h["Gelu"] != 0 {
		t.Errorf("opset 17 has no Gelu, yet it was fused: %v", h)
	}
}

func TestFuseMatMulAdd(t *testing.T) {
	ty := onnx.TensorType(onnx.Float, onnx.ShapeOf(3, 4))
	b, x := passtest.NewBuilder(13, ty)
	w := b.G.AddInitializer("w", onnx.NewFloatTensor("", []int64{4, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8}))
	y := b.Op("Add", nil, b.Op("MatMul", nil, x, w), b.Vec(0.5, -1))
	m := passtest.Run(t, b.Output(y, onnx.TensorType(onnx.Float, onnx.ShapeOf(3, 2))), "fuse,cleanup", passtest.Input(3, 4))
	if h := passtest.Ops(m); h["Gemm"] != 1 || len(m.Graph.Nodes) != 1 {
		t.Errorf("ops %v, want a single Gemm", h)
	}
}

func TestFusePadConv(t *testing.T) {
	ty := onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 1, 5, 5))
	b, x := passtest.NewBuilder(13, ty)
	pads := b.Ints(0, 0, 1, 2, 0, 0, 1, 0)
	w := b.G.AddInitializer("w", onnx.NewFloatTensor("", []int64{1, 1, 3, 3}, []float32{1, 0, -1, 2, 0, -2, 1, 0, -1}))
	y := b.Op("Conv", nil, b.Op("Pad", nil, x, pads), w)
	m := passtest.Run(t, b.Output(y, onnx.TensorType(onnx.Float, nil)), "fuse,cleanup", passtest.Input(1, 1, 5, 5))
	if h := passtest.Ops(m); h["Pad"] != 0 || h["Conv"] != 1 {
		t.Errorf("ops %v, want the Pad folded into the Conv", h)
	}
}
