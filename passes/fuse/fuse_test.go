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

// TestFuseReluClip: a Relu before a Clip that bounds at 0 or above goes
// (relu6 as PyTorch exports it after a ReLU), before opset 11 (bounds as
// attributes) and from it (inputs); a Clip that lets negatives through, or
// a Relu read elsewhere too, keeps the Relu.
func TestFuseReluClip(t *testing.T) {
	ty := onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 5))
	fa := onnx.FloatAttr
	for _, c := range []struct {
		name  string
		opset int64
		build func(b *passtest.Builder, x *onnx.Value) *onnx.Value
		relu  int
	}{
		{"opset 11, min 0", 11, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Clip", nil, b.Op("Relu", nil, x), b.Scalar(0), b.Scalar(6))
		}, 0},
		{"opset 9, min attribute", 9, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Clip", []*onnx.Attribute{fa("min", 0.5), fa("max", 6)}, b.Op("Relu", nil, x))
		}, 0},
		{"opset 11, negative min", 11, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Clip", nil, b.Op("Relu", nil, x), b.Scalar(-1), b.Scalar(6))
		}, 1},
		{"opset 9, no min", 9, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Clip", []*onnx.Attribute{fa("max", 6)}, b.Op("Relu", nil, x))
		}, 1},
		{"relu read twice", 11, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			r := b.Op("Relu", nil, x)
			return b.Op("Add", nil, r, b.Op("Clip", nil, r, b.Scalar(0), b.Scalar(6)))
		}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, x := passtest.NewBuilder(c.opset, ty)
			in := passtest.Input(2, 5)
			for i := range in.Floats() {
				in.Floats()[i] = 8*in.Floats()[i] - 1
			}
			m := passtest.Run(t, b.Output(c.build(b, x), ty), "fuse", in)
			if got := passtest.Ops(m)["Relu"]; got != c.relu {
				t.Errorf("%d Relu left, want %d: %v", got, c.relu, passtest.Ops(m))
			}
		})
	}
}
