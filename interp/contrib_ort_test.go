package interp_test

import (
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestContribMatchesORT checks ONNX Runtime's fused and normalization
// contrib ops (ops_contrib.go) against ORT's own kernels, node by node.
func TestContribMatchesORT(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	ms := "com.microsoft"
	f := onnx.FloatAttr
	i := onnx.IntAttr
	s := onnx.StringAttr
	fs := func(name string, v ...float32) *onnx.Attribute { return onnx.FloatsAttr(name, v) }
	is := func(name string, v ...int64) *onnx.Attribute { return onnx.IntsAttr(name, v) }
	x := func(shape ...int) *interp.Tensor { return normal(r, shape...) }
	conv := []*onnx.Attribute{is("pads", 1, 1, 1, 1), is("kernel_shape", 3, 3)}
	cases := []ortNode{
		{name: "FusedConv Relu", op: "FusedConv", domain: ms, attrs: append(conv, s("activation", "Relu")),
			in: []*interp.Tensor{x(1, 8, 9, 7), x(16, 8, 3, 3), x(16)}, consts: 0b110},
		{name: "FusedConv Clip", op: "FusedConv", domain: ms, attrs: append(conv, s("activation", "Clip"), fs("activation_params", -0.5, 0.75)),
			in: []*interp.Tensor{x(2, 8, 9, 7), x(16, 8, 3, 3), x(16)}, consts: 0b110},
		{name: "FusedConv LeakyRelu strided grouped", op: "FusedConv", domain: ms,
			attrs: []*onnx.Attribute{is("strides", 2, 1), i("group", 2), s("activation", "LeakyRelu"), fs("activation_params", 0.2)},
			in:    []*interp.Tensor{x(1, 6, 11, 10), x(4, 3, 2, 3), nil}, consts: 0b10},
		{name: "FusedConv Sigmoid", op: "FusedConv", domain: ms, attrs: append(conv, s("activation", "Sigmoid")),
			in: []*interp.Tensor{x(1, 3, 8, 8), x(5, 3, 3, 3), x(5)}, consts: 0b110},
		{name: "FusedConv Tanh 1-D", op: "FusedConv", domain: ms, attrs: []*onnx.Attribute{is("dilations", 2), s("activation", "Tanh")},
			in: []*interp.Tensor{x(2, 4, 20), x(6, 4, 3), x(6)}, consts: 0b110},
		{name: "FusedConv HardSigmoid", op: "FusedConv", domain: ms, attrs: append(conv, s("activation", "HardSigmoid"), fs("activation_params", 0.3, 0.4)),
			in: []*interp.Tensor{x(1, 3, 8, 8), x(5, 3, 3, 3), x(5)}, consts: 0b110},
		{name: "FusedConv Relu with Z", op: "FusedConv", domain: ms, attrs: append(conv, s("activation", "Relu")),
			in: []*interp.Tensor{x(1, 8, 9, 7), x(16, 8, 3, 3), x(16), x(1, 16, 9, 7)}, consts: 0b110},
		{name: "FusedConv no activation", op: "FusedConv", domain: ms, attrs: conv,
			in: []*interp.Tensor{x(1, 8, 9, 7), x(16, 8, 3, 3), x(16)}, consts: 0b110},
		{name: "FusedGemm LeakyRelu transB", op: "FusedGemm", domain: ms,
			attrs: []*onnx.Attribute{i("transB", 1), f("alpha", 0.5), f("beta", 2), s("activation", "LeakyRelu"), f("activation_alpha", 0.1)},
			in:    []*interp.Tensor{x(7, 33), x(19, 33), x(19)}, consts: 0b110},
		{name: "FusedGemm Relu transA", op: "FusedGemm", domain: ms, attrs: []*onnx.Attribute{i("transA", 1), s("activation", "Relu")},
			in: []*interp.Tensor{x(33, 7), x(33, 19), x(7, 19)}},
		{name: "FusedMatMul alpha", op: "FusedMatMul", domain: ms, attrs: []*onnx.Attribute{f("alpha", 0.125)},
			in: []*interp.Tensor{x(2, 3, 5, 8), x(8, 6)}, consts: 0b10},
		{name: "FusedMatMul transB batched", op: "FusedMatMul", domain: ms, attrs: []*onnx.Attribute{f("alpha", 0.25), i("transB", 1)},
			in: []*interp.Tensor{x(2, 3, 5, 8), x(2, 3, 7, 8)}},
		{name: "FusedMatMul transA broadcast", op: "FusedMatMul", domain: ms, attrs: []*onnx.Attribute{i("transA", 1)},
			in: []*interp.Tensor{x(2, 1, 8, 5), x(3, 8, 4)}},
		{name: "FusedMatMul transBatchA", op: "FusedMatMul", domain: ms, attrs: []*onnx.Attribute{i("transBatchA", 1)},
			in: []*interp.Tensor{x(5, 2, 3, 8), x(2, 3, 8, 4)}},
		{name: "FusedMatMul transBatchB transB", op: "FusedMatMul", domain: ms, attrs: []*onnx.Attribute{i("transBatchB", 1), i("transB", 1)},
			in: []*interp.Tensor{x(2, 3, 5, 8), x(4, 2, 3, 8)}},
		{name: "FusedMatMul transBatchA transA", op: "FusedMatMul", domain: ms, attrs: []*onnx.Attribute{i("transBatchA", 1), i("transA", 1), f("alpha", 3)},
			in: []*interp.Tensor{x(8, 2, 3, 5), x(2, 3, 8, 4)}},
		{name: "Gelu", op: "Gelu", domain: ms, in: []*interp.Tensor{x(3, 100)}},
		{name: "FastGelu bias", op: "FastGelu", domain: ms, in: []*interp.Tensor{x(2, 5, 37), x(37)}, consts: 0b10},
		{name: "FastGelu", op: "FastGelu", domain: ms, in: []*interp.Tensor{x(2, 1500)}},
		{name: "BiasGelu", op: "BiasGelu", domain: ms, in: []*interp.Tensor{x(2, 5, 37), x(37)}, consts: 0b10},
		{name: "QuickGelu", op: "QuickGelu", domain: ms, attrs: []*onnx.Attribute{f("alpha", 1.5)}, in: []*interp.Tensor{x(3, 1100)}},
		{name: "QuickGelu default", op: "QuickGelu", domain: ms, in: []*interp.Tensor{x(7, 9)}},
		{name: "SkipLayerNormalization all outputs", op: "SkipLayerNormalization", domain: ms, attrs: []*onnx.Attribute{f("epsilon", 1e-5)},
			in: []*interp.Tensor{x(2, 5, 48), x(2, 5, 48), x(48), x(48), x(48)}, consts: 0b11100, outs: 4, skipOuts: 0b110},
		{name: "SkipLayerNormalization no beta, 2-D skip", op: "SkipLayerNormalization", domain: ms,
			in: []*interp.Tensor{x(3, 5, 24), x(5, 24), x(24)}, consts: 0b100},
		{name: "SkipLayerNormalization sum", op: "SkipLayerNormalization", domain: ms,
			in: []*interp.Tensor{x(2, 3, 40), x(2, 3, 40), x(40), nil, x(40)}, consts: 0b10100, outs: 4, skipOuts: 0b110},
		{name: "SkipSimplifiedLayerNormalization", op: "SkipSimplifiedLayerNormalization", domain: ms, attrs: []*onnx.Attribute{f("epsilon", 1e-6)},
			in: []*interp.Tensor{x(2, 5, 48), x(2, 5, 48), x(48)}, consts: 0b100, outs: 4, skipOuts: 0b110},
		{name: "SkipSimplifiedLayerNormalization bias", op: "SkipSimplifiedLayerNormalization", domain: ms,
			in: []*interp.Tensor{x(2, 5, 48), x(2, 5, 48), x(48), x(48)}, consts: 0b1100, outs: 4, skipOuts: 0b110},
		{name: "SimplifiedLayerNormalization", op: "SimplifiedLayerNormalization", attrs: []*onnx.Attribute{f("epsilon", 1e-6)},
			in: []*interp.Tensor{x(2, 7, 64), x(64)}, consts: 0b10, outs: 2},
		{name: "SimplifiedLayerNormalization axis 1", op: "SimplifiedLayerNormalization", attrs: []*onnx.Attribute{i("axis", 1)},
			in: []*interp.Tensor{x(3, 4, 8), x(4, 8)}, consts: 0b10},
		{name: "LayerNormalization at opset 13", op: "LayerNormalization", opset: 13,
			in: []*interp.Tensor{x(2, 7, 64), x(64), x(64)}, consts: 0b110, outs: 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkORT(t, c) })
	}
}
