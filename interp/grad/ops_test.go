package grad

import (
	"math"
	"sort"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

type opCase struct {
	name  string
	opset int64
	eps   float64 // finite-difference step (default 1e-2)
	build func(b *gb) *onnx.Value
}

var (
	ia  = onnx.IntAttr
	isa = onnx.IntsAttr
	fa  = onnx.FloatAttr
	sa  = onnx.StringAttr
)

func sh(d ...int) []int { return d }

// spread is n values 0.1 apart in a scrambled order: no two within a
// finite-difference step of each other, so the arg-extremes stay put.
func spread(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((i*7)%n)*0.1 - 1
	}
	return out
}

func attrs(a ...*onnx.Attribute) []*onnx.Attribute { return a }

func unaryCase(op string, opset int64, data func(b *gb) []float32, a ...*onnx.Attribute) opCase {
	return opCase{name: op, opset: opset, build: func(b *gb) *onnx.Value {
		var d []float32
		if data != nil {
			d = data(b)
		}
		return b.op(op, a, b.in(sh(2, 3, 5), d))
	}}
}

var opCases = []opCase{
	// Broadcasting arithmetic.
	{name: "Add rank-1 against rank-4", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Add", nil, b.in(sh(2, 3, 4, 5), nil), b.w(sh(5), nil))
	}},
	{name: "Add both broadcast", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Add", nil, b.in(sh(2, 1, 4, 1), nil), b.w(sh(3, 1, 5), nil))
	}},
	{name: "Sub per-channel", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Sub", nil, b.w(sh(3, 1, 1), nil), b.in(sh(2, 3, 4, 5), nil))
	}},
	{name: "Mul per-channel", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Mul", nil, b.in(sh(2, 3, 4, 5), nil), b.w(sh(3, 1, 1), nil))
	}},
	{name: "Mul same input twice", opset: 13, build: func(b *gb) *onnx.Value {
		x := b.in(sh(3, 4), nil)
		return b.op("Mul", nil, x, x)
	}},
	{name: "Div scalar denominator", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Div", nil, b.in(sh(2, 3, 5), nil), b.w(sh(), b.pos(0.5, 1.5, sh())))
	}},
	{name: "Div broadcast denominator", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Div", nil, b.w(sh(5), nil), b.in(sh(2, 3, 5), b.pos(0.5, 2, sh(2, 3, 5))))
	}},
	{name: "Pow", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Pow", nil, b.in(sh(2, 7), b.pos(0.5, 2, sh(2, 7))), b.w(sh(1), []float32{2.5}))
	}},
	{name: "Max broadcast", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Max", nil, b.in(sh(2, 3, 4), nil), b.w(sh(3, 1), nil))
	}},
	{name: "Min broadcast", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Min", nil, b.w(sh(4), nil), b.in(sh(2, 3, 4), nil))
	}},
	{name: "Max of one", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Max", nil, b.in(sh(2, 3), nil))
	}},
	{name: "Sum of three", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Sum", nil, b.in(sh(2, 3, 4), nil), b.w(sh(4), nil), b.w(sh(3, 1), nil))
	}},

	// Activations.
	unaryCase("Relu", 13, nil),
	unaryCase("Sigmoid", 13, nil),
	unaryCase("Tanh", 13, nil),
	unaryCase("HardSigmoid", 13, func(b *gb) []float32 { return b.rnd(4, sh(2, 3, 5), -4/3.0, 2) }, fa("alpha", 0.3), fa("beta", 0.4)),
	unaryCase("HardSwish", 14, func(b *gb) []float32 { return b.rnd(5, sh(2, 3, 5), -3, 3) }),
	unaryCase("LeakyRelu", 13, nil, fa("alpha", 0.1)),
	{name: "PRelu per-channel slope", opset: 9, build: func(b *gb) *onnx.Value {
		return b.op("PRelu", nil, b.in(sh(2, 3, 4, 2), nil), b.w(sh(3, 1, 1), nil))
	}},
	unaryCase("Gelu", 20, nil),
	{name: "Gelu tanh", opset: 20, build: func(b *gb) *onnx.Value {
		return b.op("Gelu", attrs(sa("approximate", "tanh")), b.in(sh(4, 5), b.rnd(3, sh(4, 5))))
	}},
	unaryCase("Erf", 13, nil),
	unaryCase("Sqrt", 13, func(b *gb) []float32 { return b.pos(0.5, 3, sh(2, 3, 5)) }),
	unaryCase("Exp", 13, nil),
	unaryCase("Log", 13, func(b *gb) []float32 { return b.pos(0.5, 3, sh(2, 3, 5)) }),
	unaryCase("Neg", 13, nil),
	unaryCase("Abs", 13, nil),
	unaryCase("Reciprocal", 13, func(b *gb) []float32 { return b.pos(0.5, 3, sh(2, 3, 5)) }),
	unaryCase("Softplus", 13, nil),
	unaryCase("Identity", 13, nil),
	unaryCase("Dropout", 13, nil),
	unaryCase("Cast", 13, nil, ia("to", int64(onnx.Float))),
	{name: "decomposed Gelu", opset: 13, build: func(b *gb) *onnx.Value {
		x := b.in(sh(3, 7), b.rnd(3, sh(3, 7)))
		e := b.op("Erf", nil, b.op("Div", nil, x, b.w(sh(), []float32{math.Sqrt2})))
		h := b.op("Add", nil, e, b.w(sh(), []float32{1}))
		return b.op("Mul", nil, b.op("Mul", nil, x, h), b.w(sh(), []float32{0.5}))
	}},
	{name: "Clip min/max inputs", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Clip", nil, b.in(sh(3, 8), b.rnd(1.5, sh(3, 8), -0.5, 0.6)), b.w(sh(), []float32{-0.5}), b.w(sh(), []float32{0.6}))
	}},
	{name: "Clip max only (Relu6 style)", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Clip", nil, b.in(sh(3, 8), b.rnd(1.5, sh(3, 8), 0.6)), nil, b.w(sh(), []float32{0.6}))
	}},
	{name: "Clip attributes opset 6", opset: 6, build: func(b *gb) *onnx.Value {
		return b.op("Clip", attrs(fa("min", 0), fa("max", 1)), b.in(sh(3, 8), b.rnd(1.5, sh(3, 8), 0, 1)))
	}},

	// Softmax family: opset < 13 coerces to 2-D at axis.
	{name: "Softmax opset 11 axis 1 coerced", opset: 11, build: func(b *gb) *onnx.Value {
		return b.op("Softmax", attrs(ia("axis", 1)), b.in(sh(2, 3, 4), nil))
	}},
	{name: "Softmax opset 13 axis 1", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Softmax", attrs(ia("axis", 1)), b.in(sh(2, 3, 4), nil))
	}},
	{name: "LogSoftmax opset 13 last axis", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("LogSoftmax", nil, b.in(sh(2, 3, 4), nil))
	}},
	{name: "LogSoftmax opset 9 default axis", opset: 9, build: func(b *gb) *onnx.Value {
		return b.op("LogSoftmax", nil, b.in(sh(2, 3, 4), nil))
	}},

	// Linear.
	{name: "MatMul 4-D by 2-D", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("MatMul", nil, b.in(sh(2, 3, 4, 5), nil), b.w(sh(5, 6), nil))
	}},
	{name: "MatMul broadcast batch", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("MatMul", nil, b.in(sh(3, 1, 4, 5), nil), b.w(sh(2, 5, 3), nil))
	}},
	{name: "MatMul 1-D by 2-D", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("MatMul", nil, b.in(sh(5), nil), b.w(sh(5, 3), nil))
	}},
	{name: "MatMul 3-D by 1-D", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("MatMul", nil, b.in(sh(2, 4, 5), nil), b.w(sh(5), nil))
	}},
	{name: "Gemm plain with row bias", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Gemm", nil, b.in(sh(3, 5), nil), b.w(sh(5, 4), nil), b.w(sh(4), nil))
	}},
	{name: "Gemm transA transB alpha beta column bias", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Gemm", attrs(ia("transA", 1), ia("transB", 1), fa("alpha", 0.7), fa("beta", 1.3)),
			b.in(sh(5, 3), nil), b.w(sh(4, 5), nil), b.w(sh(3, 1), nil))
	}},
	{name: "Gemm transB no bias", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Gemm", attrs(ia("transB", 1)), b.in(sh(2, 6), nil), b.w(sh(3, 6), nil))
	}},

	// Conv.
	{name: "Conv 3x3 pads bias", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Conv", attrs(isa("pads", []int64{1, 1, 1, 1})), b.in(sh(2, 3, 5, 6), nil), b.w(sh(4, 3, 3, 3), nil), b.w(sh(4), nil))
	}},
	{name: "Conv stride 2 asymmetric pads odd sizes", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Conv", attrs(isa("strides", []int64{2, 2}), isa("pads", []int64{0, 1, 2, 1})), b.in(sh(1, 2, 7, 5), nil), b.w(sh(3, 2, 3, 2), nil), b.w(sh(3), nil))
	}},
	{name: "Conv dilation 2", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Conv", attrs(isa("dilations", []int64{2, 2}), isa("pads", []int64{2, 1, 2, 1})), b.in(sh(1, 2, 7, 6), nil), b.w(sh(2, 2, 3, 2), nil))
	}},
	{name: "Conv groups 2", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Conv", attrs(ia("group", 2), isa("pads", []int64{1, 1, 1, 1})), b.in(sh(2, 4, 5, 5), nil), b.w(sh(6, 2, 3, 3), nil), b.w(sh(6), nil))
	}},
	{name: "Conv depthwise stride 2", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Conv", attrs(ia("group", 3), isa("strides", []int64{2, 2}), isa("pads", []int64{1, 1, 1, 1})), b.in(sh(1, 3, 7, 7), nil), b.w(sh(3, 1, 3, 3), nil), b.w(sh(3), nil))
	}},
	{name: "Conv auto_pad SAME_UPPER stride 2", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Conv", attrs(sa("auto_pad", "SAME_UPPER"), isa("strides", []int64{2, 2})), b.in(sh(1, 2, 6, 7), nil), b.w(sh(2, 2, 4, 3), nil))
	}},
	{name: "Conv auto_pad SAME_LOWER", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Conv", attrs(sa("auto_pad", "SAME_LOWER"), isa("kernel_shape", []int64{2, 2})), b.in(sh(1, 2, 5, 5), nil), b.w(sh(2, 2, 2, 2), nil))
	}},
	{name: "Conv auto_pad VALID 1x1", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Conv", attrs(sa("auto_pad", "VALID")), b.in(sh(2, 3, 4, 3), nil), b.w(sh(5, 3, 1, 1), nil), b.w(sh(5), nil))
	}},
	{name: "Conv 1-D", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Conv", attrs(isa("strides", []int64{2}), isa("pads", []int64{1, 0})), b.in(sh(2, 3, 9), nil), b.w(sh(2, 3, 3), nil), b.w(sh(2), nil))
	}},
	{name: "Conv 3-D", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Conv", attrs(isa("pads", []int64{1, 0, 1, 0, 1, 0})), b.in(sh(1, 2, 3, 4, 3), nil), b.w(sh(2, 2, 2, 2, 2), nil))
	}},

	// Pooling.
	{name: "MaxPool 3x3 stride 2 pads ceil_mode", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("MaxPool", attrs(isa("kernel_shape", []int64{3, 3}), isa("strides", []int64{2, 2}), isa("pads", []int64{1, 1, 1, 1}), ia("ceil_mode", 1)),
			b.in(sh(1, 2, 6, 7), b.spaced(sh(1, 2, 6, 7))))
	}},
	{name: "MaxPool dilations two outputs", opset: 13, build: func(b *gb) *onnx.Value {
		return b.opN("MaxPool", attrs(isa("kernel_shape", []int64{2, 2}), isa("dilations", []int64{2, 1})), 2, b.in(sh(2, 2, 5, 4), b.spaced(sh(2, 2, 5, 4))))[0]
	}},
	{name: "AveragePool pads exclude pad ceil_mode", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("AveragePool", attrs(isa("kernel_shape", []int64{3, 3}), isa("strides", []int64{2, 2}), isa("pads", []int64{1, 1, 1, 1}), ia("ceil_mode", 1)), b.in(sh(1, 2, 6, 7), nil))
	}},
	{name: "AveragePool count_include_pad", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("AveragePool", attrs(isa("kernel_shape", []int64{3, 2}), isa("strides", []int64{2, 1}), isa("pads", []int64{1, 0, 1, 1}), ia("count_include_pad", 1)), b.in(sh(2, 2, 5, 5), nil))
	}},
	{name: "AveragePool SAME_UPPER", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("AveragePool", attrs(isa("kernel_shape", []int64{3, 3}), isa("strides", []int64{2, 2}), sa("auto_pad", "SAME_UPPER")), b.in(sh(1, 2, 6, 5), nil))
	}},
	{name: "GlobalAveragePool", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("GlobalAveragePool", nil, b.in(sh(2, 3, 4, 5), nil))
	}},
	{name: "GlobalMaxPool", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("GlobalMaxPool", nil, b.in(sh(2, 3, 4, 5), b.spaced(sh(2, 3, 4, 5))))
	}},

	// Data movement.
	{name: "Reshape", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Tanh", nil, b.op("Reshape", nil, b.in(sh(2, 3, 4), nil), b.ints(4, -1)))
	}},
	{name: "Flatten axis 2", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Flatten", attrs(ia("axis", 2)), b.in(sh(2, 3, 2, 2), nil))
	}},
	{name: "Squeeze opset 13 axes input", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Squeeze", nil, b.in(sh(2, 1, 3), nil), b.ints(1))
	}},
	{name: "Squeeze and Unsqueeze opset 11 attributes", opset: 11, build: func(b *gb) *onnx.Value {
		s := b.op("Squeeze", attrs(isa("axes", []int64{1})), b.in(sh(2, 1, 3), nil))
		return b.op("Unsqueeze", attrs(isa("axes", []int64{0})), s)
	}},
	{name: "Unsqueeze opset 13", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Unsqueeze", nil, b.in(sh(2, 3), nil), b.ints(-1))
	}},
	{name: "Transpose perm", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Transpose", attrs(isa("perm", []int64{2, 0, 3, 1})), b.in(sh(2, 3, 4, 5), nil))
	}},
	{name: "Transpose default perm", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Transpose", nil, b.in(sh(2, 3, 4), nil))
	}},
	{name: "Concat axis 1", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Concat", attrs(ia("axis", 1)), b.in(sh(2, 1, 3), nil), b.w(sh(2, 3, 3), nil), b.in(sh(2, 2, 3), nil))
	}},
	{name: "Concat negative axis", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Concat", attrs(ia("axis", -1)), b.in(sh(2, 3), nil), b.in(sh(2, 4), nil))
	}},
	{name: "Split both outputs used", opset: 13, build: func(b *gb) *onnx.Value {
		s := b.opN("Split", attrs(ia("axis", 1)), 2, b.in(sh(2, 6, 2), nil), b.ints(2, 4))
		return b.op("Concat", attrs(ia("axis", 1)), s[1], b.op("Sigmoid", nil, s[0]))
	}},
	{name: "Split one output used", opset: 13, build: func(b *gb) *onnx.Value {
		s := b.opN("Split", attrs(ia("axis", 0)), 3, b.in(sh(6, 2), nil))
		return b.op("Tanh", nil, s[1])
	}},
	{name: "Slice opset 13 axes steps negative", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Slice", nil, b.in(sh(3, 7, 5), nil), b.ints(-1, 1), b.ints(-100, 7), b.ints(2, 1), b.ints(-2, 2))
	}},
	{name: "Slice opset 13 defaults", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Slice", nil, b.in(sh(4, 6), nil), b.ints(1, -4), b.ints(3, 100))
	}},
	{name: "Slice opset 9 attributes", opset: 9, build: func(b *gb) *onnx.Value {
		return b.op("Slice", attrs(isa("starts", []int64{1}), isa("ends", []int64{-1}), isa("axes", []int64{1})), b.in(sh(3, 6), nil))
	}},
	{name: "Pad opset 13 constant with crop", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Pad", nil, b.in(sh(2, 3, 4), nil), b.ints(0, 1, -1, 1, 2, 0), b.w(sh(), []float32{0.5}))
	}},
	{name: "Pad opset 18 axes input", opset: 18, build: func(b *gb) *onnx.Value {
		return b.op("Pad", nil, b.in(sh(2, 3, 4), nil), b.ints(2, 0, 1, 3), nil, b.ints(-1, 0))
	}},
	{name: "Pad opset 2 attribute", opset: 2, build: func(b *gb) *onnx.Value {
		return b.op("Pad", attrs(isa("pads", []int64{1, 0, 0, 2})), b.in(sh(3, 4), nil))
	}},
	{name: "Gather axis 1 repeated negative indices", opset: 13, build: func(b *gb) *onnx.Value {
		idx := b.g.AddInitializer("gidx", onnx.NewInt64Tensor("", []int64{2, 2}, []int64{0, -1, 2, 0}))
		return b.op("Gather", attrs(ia("axis", 1)), b.in(sh(2, 3, 4), nil), idx)
	}},
	{name: "Expand", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Expand", nil, b.in(sh(3, 1), nil), b.ints(2, 3, 4))
	}},

	// Normalization and reductions.
	{name: "BatchNormalization inference", opset: 15, build: func(b *gb) *onnx.Value {
		return b.op("BatchNormalization", attrs(fa("epsilon", 1e-3)), b.in(sh(2, 3, 4, 5), nil),
			b.w(sh(3), nil), b.w(sh(3), nil), b.w(sh(3), nil), b.w(sh(3), b.pos(0.5, 2, sh(3))))
	}},
	{name: "BatchNormalization 2-D", opset: 9, build: func(b *gb) *onnx.Value {
		return b.op("BatchNormalization", nil, b.in(sh(4, 3), nil),
			b.w(sh(3), nil), b.w(sh(3), nil), b.w(sh(3), nil), b.w(sh(3), b.pos(0.5, 2, sh(3))))
	}},
	{name: "LayerNormalization last axis", opset: 17, build: func(b *gb) *onnx.Value {
		return b.op("LayerNormalization", nil, b.in(sh(2, 3, 6), nil), b.w(sh(6), nil), b.w(sh(6), nil))
	}},
	{name: "LayerNormalization axis 1 broadcast scale", opset: 17, build: func(b *gb) *onnx.Value {
		return b.op("LayerNormalization", attrs(ia("axis", 1), fa("epsilon", 1e-3)), b.in(sh(2, 3, 4), nil), b.w(sh(4), nil))
	}},
	{name: "ConvTranspose stride 2", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("ConvTranspose", attrs(isa("strides", []int64{2, 2})), b.in(sh(2, 3, 4, 3), nil), b.w(sh(3, 4, 2, 2), nil), b.w(sh(4), nil))
	}},
	{name: "ConvTranspose pads, output_padding, dilations", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("ConvTranspose", attrs(isa("strides", []int64{2, 3}), isa("pads", []int64{1, 0, 0, 2}), isa("output_padding", []int64{1, 1}),
			isa("dilations", []int64{1, 2})), b.in(sh(1, 2, 4, 5), nil), b.w(sh(2, 3, 3, 3), nil))
	}},
	{name: "ConvTranspose groups", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("ConvTranspose", attrs(ia("group", 2), isa("strides", []int64{2, 2}), isa("pads", []int64{1, 1, 1, 1})),
			b.in(sh(1, 4, 3, 3), nil), b.w(sh(4, 3, 3, 3), nil), b.w(sh(6), nil))
	}},
	{name: "ConvTranspose 1-D", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("ConvTranspose", attrs(isa("strides", []int64{3})), b.in(sh(2, 2, 5), nil), b.w(sh(2, 3, 4), nil))
	}},
	{name: "Resize nearest asymmetric floor", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Resize", attrs(sa("coordinate_transformation_mode", "asymmetric"), sa("nearest_mode", "floor")),
			b.in(sh(1, 2, 3, 3), nil), nil, b.floats(1, 1, 2, 2))
	}},
	{name: "Resize linear sizes", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Resize", attrs(sa("mode", "linear")), b.in(sh(1, 2, 3, 4), nil), nil, nil, b.ints(1, 2, 5, 3))
	}},
	{name: "Resize cubic align_corners", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("Resize", attrs(sa("mode", "cubic"), sa("coordinate_transformation_mode", "align_corners")),
			b.in(sh(1, 1, 4, 6), nil), nil, b.floats(1, 1, 1.5, 0.5))
	}},
	{name: "Resize linear antialias axes", opset: 18, build: func(b *gb) *onnx.Value {
		return b.op("Resize", attrs(sa("mode", "linear"), ia("antialias", 1), isa("axes", []int64{2, 3})),
			b.in(sh(1, 2, 6, 8), nil), nil, b.floats(0.5, 0.75))
	}},
	{name: "Upsample opset 9", opset: 9, build: func(b *gb) *onnx.Value {
		return b.op("Upsample", nil, b.in(sh(1, 2, 2, 3), nil), b.floats(1, 1, 2, 3))
	}},
	{name: "ReduceMax opset 13 axes attribute", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("ReduceMax", attrs(isa("axes", []int64{-1}), ia("keepdims", 0)), b.in(sh(2, 3, 4), spread(24)))
	}},
	{name: "ReduceMin opset 18 axes input", opset: 18, build: func(b *gb) *onnx.Value {
		return b.op("ReduceMin", nil, b.in(sh(2, 3, 4), spread(24)), b.ints(1))
	}},
	{name: "ReduceMax all axes", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("ReduceMax", nil, b.in(sh(2, 3, 4), spread(24)))
	}},
	{name: "ReduceMean opset 13 axes attribute", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("ReduceMean", attrs(isa("axes", []int64{-1, 1}), ia("keepdims", 0)), b.in(sh(2, 3, 4), nil))
	}},
	{name: "ReduceMean opset 18 axes input", opset: 18, build: func(b *gb) *onnx.Value {
		return b.op("ReduceMean", nil, b.in(sh(2, 3, 4), nil), b.ints(2))
	}},
	{name: "ReduceMean all axes", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("ReduceMean", nil, b.in(sh(2, 3, 4), nil))
	}},
	{name: "ReduceSum opset 13 axes input", opset: 13, build: func(b *gb) *onnx.Value {
		return b.op("ReduceSum", attrs(ia("keepdims", 0)), b.in(sh(2, 3, 4), nil), b.ints(0))
	}},
}

// TestOpsMatchFiniteDifferences checks every backward rule against central
// finite differences: for each case and each float input or initializer,
// ‖g − fd‖/‖fd‖ ≤ 1e-3 (issue 15, acceptance 4).
func TestOpsMatchFiniteDifferences(t *testing.T) {
	worst, worstAt := 0.0, ""
	covered := map[string]bool{}
	ran := 0
	for _, tc := range opCases {
		t.Run(tc.name, func(t *testing.T) {
			ran++
			b := newGB(tc.opset)
			y := tc.build(b)
			b.output(y)
			for _, n := range b.g.Nodes {
				covered[n.OpType] = true
			}
			eps := tc.eps
			if eps == 0 {
				eps = 1e-2
			}
			for _, p := range b.params {
				rel := fdCheck(t, b.m, b.feeds, y.Name, projLoss, p, eps, 48, false)
				if rel > worst {
					worst, worstAt = rel, tc.name+" / "+p
				}
				if !(rel <= 1e-3) {
					t.Errorf("d/d%s: relative error %.3g > 1e-3", p, rel)
				}
			}
		})
	}
	var missing []string
	for _, op := range Ops() {
		if !covered[op] {
			missing = append(missing, op)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 && ran == len(opCases) {
		t.Errorf("ops with a backward rule but no finite-difference case: %v", missing)
	}
	t.Logf("%d cases, %d ops; worst relative error %.2e (%s)", len(opCases), len(Ops()), worst, worstAt)
}
