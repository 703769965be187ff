package convert_test

import (
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// TestUpgradeLegacy converts the ops whose meaning or signature changed
// between opsets 1 and 7 (ONNX Runtime loads nothing older) and the
// experimental ops removed at 10. The interpreter runs the original at its
// own opset; the converted model must compute the same, in the
// interpreter and in ONNX Runtime.
func TestUpgradeLegacy(t *testing.T) {
	op := func(name string, attrs ...*onnx.Attribute) func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
		return func(b *passtest.Builder, x *onnx.Value) *onnx.Value { return b.Op(name, attrs, x) }
	}
	// withConst applies a binary op to x and a constant.
	withConst := func(name string, c func(b *passtest.Builder) *onnx.Value, attrs ...*onnx.Attribute) func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
		return func(b *passtest.Builder, x *onnx.Value) *onnx.Value { return b.Op(name, attrs, x, c(b)) }
	}
	perChannel := func(b *passtest.Builder) *onnx.Value { return b.Vec(0.5, -2, 3) }
	cases := []upgradeCase{
		{name: "Add axis=1 constant", from: 6, to: 7, in: []int64{2, 3, 4, 5}, ort: true, gone: []string{"broadcast", "axis"},
			build: withConst("Add", perChannel, ia("broadcast", 1), ia("axis", 1))},
		{name: "Mul axis=1 to 21", from: 1, to: 21, in: []int64{2, 3, 4, 5}, ort: true, gone: []string{"broadcast", "axis", "consumed_inputs"},
			build: withConst("Mul", perChannel, ia("broadcast", 1), ia("axis", 1), isa("consumed_inputs", 0, 0))},
		{name: "Sub axis=1 computed B", from: 6, to: 13, in: []int64{2, 3, 4}, ort: true, ops: []string{"Unsqueeze"},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				row := b.Op("ReduceMean", []*onnx.Attribute{isa("axes", 2), ia("keepdims", 0)}, x) // [2,3]
				return b.Op("Sub", []*onnx.Attribute{ia("broadcast", 1), ia("axis", 0)}, x, row)
			}},
		{name: "Div trailing broadcast", from: 6, to: 7, in: []int64{2, 3, 4}, ort: true, gone: []string{"broadcast"},
			build: withConst("Div", func(b *passtest.Builder) *onnx.Value { return b.Vec(1, 2, 4, 8) }, ia("broadcast", 1))},
		{name: "Pow axis=1", from: 6, to: 7, in: []int64{1, 3, 2}, gone: []string{"broadcast", "axis"},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				sq := b.Op("Mul", nil, x, x)
				return b.Op("Pow", []*onnx.Attribute{ia("broadcast", 1), ia("axis", 1)}, sq, b.Vec(0.5, 1, 1.5))
			}},
		{name: "Gemm broadcast bias", from: 6, to: 21, in: []int64{2, 3}, ort: true, gone: []string{"broadcast"},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				w := b.G.AddInitializer("w", onnx.NewFloatTensor("", []int64{3, 2}, []float32{1, -1, 0.5, 2, -0.25, 1}))
				return b.Op("Gemm", []*onnx.Attribute{ia("broadcast", 1)}, x, w, b.Vec(0.1, -0.2))
			}},
		{name: "BatchNormalization is_test", from: 5, to: 21, in: []int64{1, 2, 3, 3}, ort: true, gone: []string{"is_test", "spatial", "consumed_inputs"},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				return b.Op("BatchNormalization", []*onnx.Attribute{ia("is_test", 1), ia("spatial", 1), isa("consumed_inputs", 0, 0, 0, 1, 1)},
					x, b.Vec(1, 2), b.Vec(0.5, -1), b.Vec(0.1, 0.2), b.Vec(1, 4))
			}},
		{name: "Dropout is_test", from: 6, to: 13, in: []int64{2, 3}, ort: true, gone: []string{"is_test", "ratio"}, build: op("Dropout", ia("is_test", 1), fa("ratio", 0.3))},
		{name: "Concat default axis", from: 3, to: 7, in: []int64{1, 2, 3}, ort: true,
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value { return b.Op("Concat", nil, x, x) }},
		{name: "Reshape shape attribute", from: 4, to: 13, in: []int64{2, 3, 4}, ort: true, gone: []string{"shape", "consumed_inputs"},
			build: op("Reshape", isa("shape", 4, -1), isa("consumed_inputs", 0))},
		{name: "Reshape-1 then Add axis=1", from: 4, to: 7, in: []int64{2, 12}, ort: true, gone: []string{"shape", "broadcast"},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				r := b.Op("Reshape", []*onnx.Attribute{isa("shape", 2, 4, 3)}, x) // its shape must be known for the Add
				return b.Op("Add", []*onnx.Attribute{ia("broadcast", 1), ia("axis", 1)}, r, b.Vec(1, -2, 3, -4))
			}},
		{name: "Reshape-1 with a shape input", from: 1, to: 13, in: []int64{2, 12}, ort: true,
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value { return b.Op("Reshape", nil, x, b.Ints(4, 6)) }},
		{name: "Pad paddings", from: 1, to: 21, in: []int64{1, 2, 3}, ort: true, gone: []string{"paddings", "pads", "value"},
			build: op("Pad", isa("paddings", 0, 1, 0, 0, 0, 2), fa("value", 0.5))},
		{name: "Split sizes input", from: 1, to: 13, in: []int64{2, 6}, ort: true,
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				n := b.G.NewNode("Split", "", "split", []*onnx.Value{x, b.Ints(2, 4)}, "s0", "s1")
				n.SetAttr(ia("axis", 1))
				b.G.Append(n)
				return b.Op("Concat", []*onnx.Attribute{ia("axis", 1)}, n.Output(1), n.Output(0))
			}},
		{name: "LpPool float p", from: 1, to: 7, in: []int64{1, 2, 4, 4}, ort: true, build: op("LpPool", fa("p", 2), isa("kernel_shape", 2, 2))},
		{name: "GlobalLpPool float p", from: 1, to: 7, in: []int64{1, 2, 4, 4}, ort: true, build: op("GlobalLpPool", fa("p", 1))},
		{name: "Cast type name", from: 5, to: 13, in: []int64{2, 3},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				i := b.Op("Cast", []*onnx.Attribute{sa("to", "INT32")}, x)
				return b.Op("Cast", []*onnx.Attribute{sa("to", "FLOAT")}, i)
			}, ort: true},
		{name: "Upsample-1 bilinear", from: 6, to: 21, in: []int64{1, 2, 3, 4}, ort: true, ops: []string{"Resize"},
			build: op("Upsample", sa("mode", "bilinear"), fa("height_scale", 2), fa("width_scale", 3))},
		{name: "Upsample-1 nearest", from: 6, to: 7, in: []int64{1, 2, 3, 4}, ort: true, gone: []string{"height_scale", "width_scale"},
			build: op("Upsample", fa("height_scale", 2), fa("width_scale", 2))},
		{name: "Tile-1", from: 5, to: 21, in: []int64{2, 3}, ort: true,
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				return b.Op("Tile", nil, x, b.Ints(3), b.Ints(1))
			}},
		{name: "Selu-1 defaults", from: 5, to: 7, in: []int64{2, 3}, ort: true, build: op("Selu", isa("consumed_inputs", 0))},
		{name: "PRelu per channel", from: 6, to: 21, in: []int64{1, 3, 2, 2}, ort: true,
			build: withConst("PRelu", func(b *passtest.Builder) *onnx.Value { return b.Vec(0.1, 0.2, 0.3) })},
		{name: "PRelu on the last axis", from: 6, to: 7, in: []int64{1, 2, 3}, ort: true,
			build: withConst("PRelu", func(b *passtest.Builder) *onnx.Value { return b.Vec(0.1, 0.2, 0.3) })},
		// The experimental ops of opsets 1 … 9 (removed at 10): ONNX
		// Runtime still runs them, so the original is checked there too.
		{name: "ImageScaler", from: 8, to: 21, in: []int64{1, 3, 2, 2}, ort: true, ortOrig: true, ops: []string{"Mul", "Add"},
			build: op("ImageScaler", fa("scale", 0.5), fsa("bias", -1, 0, 2))},
		{name: "Scale", from: 9, to: 10, in: []int64{2, 3}, ort: true, ortOrig: true, build: op("Scale", fa("scale", 3))},
		{name: "Affine", from: 7, to: 13, in: []int64{2, 3}, ort: true, ortOrig: true, build: op("Affine", fa("alpha", 2), fa("beta", -1))},
		{name: "ScaledTanh", from: 9, to: 21, in: []int64{2, 3}, ort: true, ortOrig: true, build: op("ScaledTanh", fa("alpha", 2), fa("beta", 0.5))},
		{name: "ParametricSoftplus", from: 9, to: 21, in: []int64{2, 3}, ort: true, ortOrig: true, build: op("ParametricSoftplus", fa("alpha", 2), fa("beta", 0.5))},
		{name: "Crop borders", from: 8, to: 13, in: []int64{1, 2, 5, 6}, ort: true, ortOrig: true, ops: []string{"Slice"},
			build: op("Crop", isa("border", 1, 2, 0, 1))},
		{name: "Crop scale", from: 3, to: 21, in: []int64{1, 2, 5, 6}, ort: true, ops: []string{"Slice"},
			build: op("Crop", isa("border", 1, 1, 0, 0), isa("scale", 3, 2))},
		{name: "DynamicSlice", from: 9, to: 10, in: []int64{3, 6}, ort: true, ortOrig: true, ops: []string{"Slice"},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				return b.Op("DynamicSlice", nil, x, b.Ints(1, 0), b.Ints(3, -1), b.Ints(0, 1))
			}},
		{name: "MeanVarianceNormalization across channels", from: 8, to: 13, in: []int64{2, 3, 2, 2}, ort: true, gone: []string{"across_channels"},
			build: op("MeanVarianceNormalization", ia("across_channels", 1))},
		{name: "MeanVarianceNormalization mean only", from: 7, to: 18, in: []int64{2, 3, 2, 2}, ort: true, ops: []string{"ReduceMean", "Sub"},
			build: op("MeanVarianceNormalization", ia("normalize_variance", 0))},
		// Refusals.
		{name: "BatchNormalization training statistics", from: 6, to: 7, in: []int64{1, 2, 3, 3}, refuse: "is_test=0",
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				n := b.G.NewNode("BatchNormalization", "", "bn", []*onnx.Value{x, b.Vec(1, 2), b.Vec(0.5, -1), b.Vec(0.1, 0.2), b.Vec(1, 4)}, "y", "mean")
				n.SetAttr(ia("is_test", 0))
				b.G.Append(n)
				return b.Op("Add", nil, n.Output(0), b.Op("ReduceSum", nil, n.Output(1)))
			}},
		{name: "LpPool fractional p", from: 1, to: 7, in: []int64{1, 2, 4, 4}, refuse: "p=1.5", build: op("GlobalLpPool", fa("p", 1.5))},
		{name: "GRUUnit", from: 9, to: 10, in: []int64{2}, refuse: "GRUUnit was removed", build: op("GRUUnit")},
	}
	runUpgradeCases(t, cases)
}
