// Package opshapes builds one small ONNX model per operator shape that
// real models have and the shared models do not: depthwise 5×5 and 7×7,
// stride (2,1), dilation, asymmetric pads, 1-D and 3-D convolutions,
// grouped convolutions, ConvTranspose, pooling with ceil_mode, Resize,
// broadcasting elementwise ops, normalizations and attention's pieces.
// `make bench-shapes` times each against ONNX Runtime (tools/shapes writes
// them), and TestShapesMatchORT checks the interpreter's outputs against
// ONNX Runtime's on each. Weights are seeded random.
package opshapes

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/onnxslim/onnxslim/onnx"
)

// Named is one shape's model; Name (at most 24 characters) is its file
// name and the benchmark table's first column.
type Named struct {
	Name  string
	Model *onnx.Model
}

// Models builds every shape's model.
func Models() []Named {
	out := make([]Named, len(shapes))
	for i, s := range shapes {
		m := &model{g: &onnx.Graph{Name: s.name}, r: rand.New(rand.NewPCG(uint64(i), 7))}
		y := s.build(m)
		y.Type = onnx.TensorType(onnx.Float, nil)
		m.g.Outputs = append(m.g.Outputs, y)
		// Opset 18: LayerNormalization (17) and ReduceMean's axes input (18).
		out[i] = Named{s.name, &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 18}}, Graph: m.g}}
	}
	return out
}

// model builds one single-purpose graph.
type model struct {
	g   *onnx.Graph
	r   *rand.Rand
	seq int
}

func (m *model) input(dims ...int64) *onnx.Value {
	shape := make(onnx.Shape, len(dims))
	for i, d := range dims {
		shape[i] = onnx.D(d)
	}
	return m.g.AddInput(fmt.Sprint("x", len(m.g.Inputs)), onnx.TensorType(onnx.Float, shape))
}

// weight is a seeded random initializer scaled like a He-initialized
// layer (fan-in from all but the first axis), so outputs stay near 1.
func (m *model) weight(dims ...int64) *onnx.Value {
	n, fan := int64(1), int64(1)
	for i, d := range dims {
		n *= d
		if i > 0 {
			fan *= d
		}
	}
	s := float32(math.Sqrt(2 / float64(max(fan, 1))))
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(m.r.NormFloat64()) * s
	}
	m.seq++
	return m.g.AddInitializer(fmt.Sprint("w", m.seq), onnx.NewFloatTensor("", dims, data))
}

func (m *model) ints(v ...int64) *onnx.Value {
	m.seq++
	return m.g.AddInitializer(fmt.Sprint("i", m.seq), onnx.NewInt64Tensor("", []int64{int64(len(v))}, v))
}

func (m *model) floats(v ...float32) *onnx.Value {
	m.seq++
	return m.g.AddInitializer(fmt.Sprint("f", m.seq), onnx.NewFloatTensor("", []int64{int64(len(v))}, v))
}

// node appends op on inputs (nil for an omitted optional input) and
// returns its output.
func (m *model) node(op string, inputs []*onnx.Value, attrs ...*onnx.Attribute) *onnx.Value {
	m.seq++
	n := m.g.NewNode(op, "", fmt.Sprint(op, m.seq), inputs, fmt.Sprint("y", m.seq))
	for _, a := range attrs {
		n.SetAttr(a)
	}
	m.g.Append(n)
	return n.Output(0)
}

// seq is n token ids below limit (a fixed stride through the vocabulary).
func seq(n, limit int64) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(i) * 7919 % limit
	}
	return v
}

func ints(name string, v ...int64) *onnx.Attribute { return onnx.IntsAttr(name, v) }

// conv is a Conv of c→o channels with kernel k on x (groups g), with bias.
func (m *model) conv(x *onnx.Value, c, o, g int64, k []int64, attrs ...*onnx.Attribute) *onnx.Value {
	w := m.weight(append([]int64{o, c / g}, k...)...)
	b := m.weight(o)
	return m.node("Conv", []*onnx.Value{x, w, b}, append(attrs, ints("kernel_shape", k...), onnx.IntAttr("group", g))...)
}

// shape is one benchmark model: its file name (the table's first column,
// at most 24 characters) and its graph.
type shape struct {
	name  string
	build func(m *model) *onnx.Value
}

var shapes = []shape{
	// Convolutions the shared models have, as the baseline.
	{"conv3x3_64_56", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 64, 56, 56), 64, 64, 1, []int64{3, 3}, ints("pads", 1, 1, 1, 1))
	}},
	{"dw3x3_144_56", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 144, 56, 56), 144, 144, 144, []int64{3, 3}, ints("pads", 1, 1, 1, 1))
	}},
	// Depthwise kernels of EfficientNet, MobileNetV3, ConvNeXt, PP-OCR.
	{"dw5x5_240_28", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 240, 28, 28), 240, 240, 240, []int64{5, 5}, ints("pads", 2, 2, 2, 2))
	}},
	{"dw5x5s2_144_56", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 144, 56, 56), 144, 144, 144, []int64{5, 5}, ints("pads", 2, 2, 2, 2), ints("strides", 2, 2))
	}},
	{"dw7x7_384_14", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 384, 14, 14), 384, 384, 384, []int64{7, 7}, ints("pads", 3, 3, 3, 3))
	}},
	{"dw3x3s21_96_32x100", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 96, 32, 100), 96, 96, 96, []int64{3, 3}, ints("pads", 1, 1, 1, 1), ints("strides", 2, 1))
	}},
	{"dw3x3d2_128_56", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 128, 56, 56), 128, 128, 128, []int64{3, 3}, ints("pads", 2, 2, 2, 2), ints("dilations", 2, 2))
	}},
	// Dense convolutions off the common path.
	{"conv3x3d2_128_28", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 128, 28, 28), 128, 128, 1, []int64{3, 3}, ints("pads", 2, 2, 2, 2), ints("dilations", 2, 2))
	}},
	{"conv3x3s2asym_64_112", func(m *model) *onnx.Value { // TF's SAME padding at stride 2
		return m.conv(m.input(1, 64, 112, 112), 64, 128, 1, []int64{3, 3}, ints("pads", 0, 0, 1, 1), ints("strides", 2, 2))
	}},
	{"conv7x7s2_stem_224", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 3, 224, 224), 3, 64, 1, []int64{7, 7}, ints("pads", 3, 3, 3, 3), ints("strides", 2, 2))
	}},
	{"conv1x7_128_17", func(m *model) *onnx.Value { // Inception's factorized kernels
		return m.conv(m.input(1, 128, 17, 17), 128, 128, 1, []int64{1, 7}, ints("pads", 0, 3, 0, 3))
	}},
	{"gconv_g32_128_56", func(m *model) *onnx.Value { // ResNeXt
		return m.conv(m.input(1, 128, 56, 56), 128, 128, 32, []int64{3, 3}, ints("pads", 1, 1, 1, 1))
	}},
	{"gconv_g4_256_28", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 256, 28, 28), 256, 256, 4, []int64{3, 3}, ints("pads", 1, 1, 1, 1))
	}},
	{"dwmult2_32_112", func(m *model) *onnx.Value { // depthwise with channel multiplier 2 (TF exports)
		return m.conv(m.input(1, 32, 112, 112), 32, 64, 32, []int64{3, 3}, ints("pads", 1, 1, 1, 1))
	}},
	// 1-D (audio, conformers) and 3-D (video, medical) convolutions.
	{"conv1d_k3_256_1000", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 256, 1000), 256, 256, 1, []int64{3}, ints("pads", 1, 1))
	}},
	{"conv1d_k10s5_1_16000", func(m *model) *onnx.Value { // wav2vec's first layer
		return m.conv(m.input(1, 1, 16000), 1, 512, 1, []int64{10}, ints("strides", 5))
	}},
	{"dw1d_k31_256_500", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 256, 500), 256, 256, 256, []int64{31}, ints("pads", 15, 15))
	}},
	{"conv3d_k3_32_16x28", func(m *model) *onnx.Value {
		return m.conv(m.input(1, 32, 16, 28, 28), 32, 32, 1, []int64{3, 3, 3}, ints("pads", 1, 1, 1, 1, 1, 1))
	}},
	{"conv3d_k3s2d2_16_9x30", func(m *model) *onnx.Value { // strided, dilated, uneven pads
		return m.conv(m.input(1, 16, 9, 30, 31), 16, 24, 1, []int64{3, 3, 3}, ints("pads", 2, 1, 2, 1, 2, 0),
			ints("strides", 1, 2, 3), ints("dilations", 2, 1, 2))
	}},
	// Transposed convolutions (decoders, U-Nets, GAN generators).
	{"convT_k4s2_64_28", func(m *model) *onnx.Value {
		x := m.input(1, 64, 28, 28)
		return m.node("ConvTranspose", []*onnx.Value{x, m.weight(64, 32, 4, 4), m.weight(32)},
			ints("kernel_shape", 4, 4), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1))
	}},
	{"convT_g2_k3s2_b2_32_14", func(m *model) *onnx.Value { // grouped, batched, output padding
		x := m.input(2, 32, 14, 14)
		return m.node("ConvTranspose", []*onnx.Value{x, m.weight(32, 8, 3, 3), m.weight(16)},
			ints("kernel_shape", 3, 3), ints("strides", 2, 2), ints("pads", 0, 1, 1, 0), ints("output_padding", 1, 1), onnx.IntAttr("group", 2))
	}},
	{"convT_k2s2_128_28", func(m *model) *onnx.Value {
		x := m.input(1, 128, 28, 28)
		return m.node("ConvTranspose", []*onnx.Value{x, m.weight(128, 64, 2, 2), m.weight(64)},
			ints("kernel_shape", 2, 2), ints("strides", 2, 2))
	}},
	// Pooling.
	{"maxpool3s2ceil_64_112", func(m *model) *onnx.Value { // SqueezeNet
		return m.node("MaxPool", []*onnx.Value{m.input(1, 64, 111, 111)},
			ints("kernel_shape", 3, 3), ints("strides", 2, 2), onnx.IntAttr("ceil_mode", 1))
	}},
	{"avgpool3s1_192_28", func(m *model) *onnx.Value { // Inception's pool branch
		return m.node("AveragePool", []*onnx.Value{m.input(1, 192, 28, 28)},
			ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1), onnx.IntAttr("count_include_pad", 0))
	}},
	{"maxpool5s1_256_20", func(m *model) *onnx.Value { // YOLO's SPPF
		return m.node("MaxPool", []*onnx.Value{m.input(1, 256, 20, 20)},
			ints("kernel_shape", 5, 5), ints("pads", 2, 2, 2, 2))
	}},
	// Resize (YOLO's and U-Nets' upsampling).
	{"resize_nearest2x_128_40", func(m *model) *onnx.Value {
		return m.node("Resize", []*onnx.Value{m.input(1, 128, 40, 40), nil, m.floats(1, 1, 2, 2)},
			onnx.StringAttr("mode", "nearest"))
	}},
	{"resize_linear2x_64_56", func(m *model) *onnx.Value {
		return m.node("Resize", []*onnx.Value{m.input(1, 64, 56, 56), nil, m.floats(1, 1, 2, 2)},
			onnx.StringAttr("mode", "linear"))
	}},
	// Broadcasting elementwise ops.
	{"add_chan_64_112", func(m *model) *onnx.Value { // per-channel
		return m.node("Add", []*onnx.Value{m.input(1, 64, 112, 112), m.weight(1, 64, 1, 1)})
	}},
	{"mul_se_256_28", func(m *model) *onnx.Value { // squeeze-excitation scale, both inputs fed
		return m.node("Mul", []*onnx.Value{m.input(1, 256, 28, 28), m.input(1, 256, 1, 1)})
	}},
	{"add_lastaxis_128_768", func(m *model) *onnx.Value {
		return m.node("Add", []*onnx.Value{m.input(1, 128, 768), m.weight(768)})
	}},
	{"add_outer_64x1_1x512", func(m *model) *onnx.Value {
		return m.node("Add", []*onnx.Value{m.input(8, 64, 1), m.input(8, 1, 512)})
	}},
	// A transformer's pieces.
	{"layernorm_128_768", func(m *model) *onnx.Value {
		return m.node("LayerNormalization", []*onnx.Value{m.input(1, 128, 768), m.weight(768), m.weight(768)},
			onnx.IntAttr("axis", -1))
	}},
	{"softmax_12_128_128", func(m *model) *onnx.Value {
		return m.node("Softmax", []*onnx.Value{m.input(1, 12, 128, 128)}, onnx.IntAttr("axis", -1))
	}},
	{"matmul_b12_128x64x128", func(m *model) *onnx.Value {
		return m.node("MatMul", []*onnx.Value{m.input(12, 128, 64), m.input(12, 64, 128)})
	}},
	{"transpose_0213_128x12x64", func(m *model) *onnx.Value {
		return m.node("Transpose", []*onnx.Value{m.input(1, 128, 12, 64)}, ints("perm", 0, 2, 1, 3))
	}},
	{"instnorm_64_112", func(m *model) *onnx.Value {
		return m.node("InstanceNormalization", []*onnx.Value{m.input(1, 64, 112, 112), m.weight(64), m.weight(64)})
	}},
	// Recurrent layers (speech, time series).
	{"gru_256_100", func(m *model) *onnx.Value {
		return m.node("GRU", []*onnx.Value{m.input(100, 1, 128), m.weight(1, 768, 128), m.weight(1, 768, 256), m.weight(1, 1536)},
			onnx.IntAttr("hidden_size", 256), onnx.IntAttr("linear_before_reset", 1))
	}},
	{"gru_lbr0_256_100", func(m *model) *onnx.Value { // Keras's reset-before form
		return m.node("GRU", []*onnx.Value{m.input(100, 1, 128), m.weight(1, 768, 128), m.weight(1, 768, 256), m.weight(1, 1536)},
			onnx.IntAttr("hidden_size", 256))
	}},
	{"lstm_bidir_128_100", func(m *model) *onnx.Value {
		return m.node("LSTM", []*onnx.Value{m.input(100, 1, 64), m.weight(2, 512, 64), m.weight(2, 512, 128), m.weight(2, 1024)},
			onnx.IntAttr("hidden_size", 128), onnx.StringAttr("direction", "bidirectional"))
	}},
	// Data movement and other ops common in exports.
	{"pad_reflect_64_112", func(m *model) *onnx.Value { // style transfer, super-resolution
		return m.node("Pad", []*onnx.Value{m.input(1, 64, 112, 112), m.ints(0, 0, 2, 2, 0, 0, 2, 2)},
			onnx.StringAttr("mode", "reflect"))
	}},
	{"depth2space_256_28", func(m *model) *onnx.Value { // pixel shuffle
		return m.node("DepthToSpace", []*onnx.Value{m.input(1, 256, 28, 28)}, onnx.IntAttr("blocksize", 2),
			onnx.StringAttr("mode", "CRD"))
	}},
	{"concat_ch_4x64_56", func(m *model) *onnx.Value {
		x := m.input(1, 64, 56, 56)
		return m.node("Concat", []*onnx.Value{x, m.input(1, 64, 56, 56), m.input(1, 64, 56, 56), x}, onnx.IntAttr("axis", 1))
	}},
	{"gather_embed_30k_768", func(m *model) *onnx.Value { // token embedding
		ids := m.g.AddInitializer("ids", onnx.NewInt64Tensor("", []int64{1, 128}, seq(128, 233)))
		return m.node("Gather", []*onnx.Value{m.weight(30000, 768), ids})
	}},
	{"slice_step2_64_112", func(m *model) *onnx.Value { // YOLOv5's Focus
		return m.node("Slice", []*onnx.Value{m.input(1, 64, 112, 112), m.ints(0, 1), m.ints(112, 112), m.ints(2, 3), m.ints(2, 2)})
	}},
	{"hardswish_96_56", func(m *model) *onnx.Value { // MobileNetV3
		return m.node("HardSwish", []*onnx.Value{m.input(1, 96, 56, 56)})
	}},
	{"gelu_128_3072", func(m *model) *onnx.Value { // opset 20's Gelu, run here as its opset-18 Erf form
		x := m.input(1, 128, 3072)
		e := m.node("Erf", []*onnx.Value{m.node("Mul", []*onnx.Value{x, m.floats(0.70710678)})})
		h := m.node("Mul", []*onnx.Value{x, m.node("Add", []*onnx.Value{e, m.floats(1)})})
		return m.node("Mul", []*onnx.Value{h, m.floats(0.5)})
	}},
	{"layernorm_pow_128_768", func(m *model) *onnx.Value { // LayerNorm as opset-11 BERT exports spell it
		x := m.input(1, 128, 768)
		d := m.node("Sub", []*onnx.Value{x, m.node("ReduceMean", []*onnx.Value{x, m.ints(-1)})})
		v := m.node("ReduceMean", []*onnx.Value{m.node("Pow", []*onnx.Value{d, m.floats(2)}), m.ints(-1)})
		n := m.node("Div", []*onnx.Value{d, m.node("Sqrt", []*onnx.Value{m.node("Add", []*onnx.Value{v, m.floats(1e-12)})})})
		return m.node("Add", []*onnx.Value{m.node("Mul", []*onnx.Value{n, m.weight(768)}), m.weight(768)})
	}},
	{"silu_64_112", func(m *model) *onnx.Value { // YOLOv5/v8, EfficientNet's swish
		x := m.input(1, 64, 112, 112)
		return m.node("Mul", []*onnx.Value{x, m.node("Sigmoid", []*onnx.Value{x})})
	}},
	{"mish_64_112", func(m *model) *onnx.Value { // YOLOv4
		x := m.input(1, 64, 112, 112)
		return m.node("Mul", []*onnx.Value{x, m.node("Tanh", []*onnx.Value{m.node("Softplus", []*onnx.Value{x})})})
	}},
	{"gemv_768x3072", func(m *model) *onnx.Value { // a decoder's one-token step
		y := m.node("MatMul", []*onnx.Value{m.input(1, 1, 768), m.weight(768, 3072)})
		return m.node("Add", []*onnx.Value{y, m.weight(3072)})
	}},
	{"gelu_tanh_128_3072", func(m *model) *onnx.Value { // GPT-2's gelu_new as exported: Pow(x, 3), Tanh
		x := m.input(1, 128, 3072)
		c := m.node("Mul", []*onnx.Value{m.node("Pow", []*onnx.Value{x, m.floats(3)}), m.floats(0.044715)})
		t := m.node("Tanh", []*onnx.Value{m.node("Mul", []*onnx.Value{m.node("Add", []*onnx.Value{x, c}), m.floats(0.7978845608)})})
		return m.node("Mul", []*onnx.Value{m.node("Mul", []*onnx.Value{x, m.floats(0.5)}), m.node("Add", []*onnx.Value{t, m.floats(1)})})
	}},
	{"rmsnorm_128_2048", func(m *model) *onnx.Value { // LLaMA's and T5's RMSNorm as exported
		x := m.input(1, 128, 2048)
		v := m.node("ReduceMean", []*onnx.Value{m.node("Pow", []*onnx.Value{x, m.floats(2)}), m.ints(-1)})
		r := m.node("Reciprocal", []*onnx.Value{m.node("Sqrt", []*onnx.Value{m.node("Add", []*onnx.Value{v, m.floats(1e-6)})})})
		return m.node("Mul", []*onnx.Value{m.node("Mul", []*onnx.Value{x, r}), m.weight(2048)})
	}},
	{"rope_sincos_128_64", func(m *model) *onnx.Value { // rotary embedding angles computed in the graph
		f := m.node("Mul", []*onnx.Value{m.input(1, 128, 1), m.weight(1, 1, 64)})
		return m.node("Add", []*onnx.Value{m.node("Sin", []*onnx.Value{f}), m.node("Cos", []*onnx.Value{f})})
	}},
	{"softmax_decomp_12_128", func(m *model) *onnx.Value { // Softmax as older exports spell it
		x := m.input(1, 12, 128, 128)
		e := m.node("Exp", []*onnx.Value{m.node("Sub", []*onnx.Value{x, m.node("ReduceMax", []*onnx.Value{x, m.ints(-1)})})})
		return m.node("Div", []*onnx.Value{e, m.node("ReduceSum", []*onnx.Value{e, m.ints(-1)})})
	}},
	{"mask_cast_12_128", func(m *model) *onnx.Value { // an attention mask from token ids
		b := m.node("Not", []*onnx.Value{m.node("Equal", []*onnx.Value{m.input(1, 12, 128, 128), m.floats(0)})})
		return m.node("Cast", []*onnx.Value{b}, onnx.IntAttr("to", int64(onnx.Float)))
	}},
	{"sqrt_64_112", func(m *model) *onnx.Value {
		return m.node("Sqrt", []*onnx.Value{m.node("Abs", []*onnx.Value{m.input(1, 64, 112, 112)})})
	}},
	{"round_64_112", func(m *model) *onnx.Value { // fake quantization's rounding
		return m.node("Round", []*onnx.Value{m.node("Mul", []*onnx.Value{m.input(1, 64, 112, 112), m.floats(10)})})
	}},
	{"elu_64_112", func(m *model) *onnx.Value {
		return m.node("Elu", []*onnx.Value{m.input(1, 64, 112, 112)})
	}},
	{"log_80_3000", func(m *model) *onnx.Value { // a log-mel front end
		return m.node("Log", []*onnx.Value{m.node("Add", []*onnx.Value{m.node("Abs", []*onnx.Value{m.input(1, 80, 3000)}), m.floats(1e-6)})})
	}},
	{"argmax_1000_128", func(m *model) *onnx.Value {
		f := m.node("ArgMax", []*onnx.Value{m.input(128, 1000)}, onnx.IntAttr("axis", 1))
		return m.node("Cast", []*onnx.Value{f}, onnx.IntAttr("to", int64(onnx.Float)))
	}},
	{"topk_100_of_8400", func(m *model) *onnx.Value { // detection post-processing
		n := m.g.NewNode("TopK", "", "topk", []*onnx.Value{m.input(1, 8400), m.ints(100)}, "vals", "idx")
		m.g.Append(n)
		return n.Output(0)
	}},
	{"reducesum_axis1_512_49", func(m *model) *onnx.Value {
		return m.node("ReduceSum", []*onnx.Value{m.input(8, 512, 49), m.ints(1)}, onnx.IntAttr("keepdims", 0))
	}},
	{"where_mask_12_128", func(m *model) *onnx.Value { // attention masks
		c := m.node("Greater", []*onnx.Value{m.input(1, 1, 128, 128), m.floats(0)})
		return m.node("Where", []*onnx.Value{c, m.input(1, 12, 128, 128), m.floats(-1e4)})
	}},
	{"lrn5_96_55", func(m *model) *onnx.Value { // AlexNet, GoogLeNet (Caffe exports)
		return m.node("LRN", []*onnx.Value{m.input(1, 96, 55, 55)}, onnx.IntAttr("size", 5),
			onnx.FloatAttr("alpha", 1e-4), onnx.FloatAttr("beta", 0.75), onnx.FloatAttr("bias", 1))
	}},
	{"einsum_attn_12_128x64", func(m *model) *onnx.Value {
		return m.node("Einsum", []*onnx.Value{m.input(1, 12, 128, 64), m.input(1, 12, 128, 64)},
			onnx.StringAttr("equation", "bhqd,bhkd->bhqk"))
	}},
	{"resize_cubic2x_32_64", func(m *model) *onnx.Value {
		return m.node("Resize", []*onnx.Value{m.input(1, 32, 64, 64), nil, m.floats(1, 1, 2, 2)},
			onnx.StringAttr("mode", "cubic"))
	}},
	{"gridsample_32_64", func(m *model) *onnx.Value { // spatial transformers, optical flow
		return m.node("GridSample", []*onnx.Value{m.input(1, 32, 64, 64), m.node("Tanh", []*onnx.Value{m.input(1, 64, 64, 2)})},
			onnx.StringAttr("mode", "bilinear")) // "linear" from opset 20
	}},
	{"expand_bcast_64_112", func(m *model) *onnx.Value {
		return m.node("Expand", []*onnx.Value{m.input(1, 64, 1, 112), m.ints(1, 64, 112, 112)})
	}},
	{"tile_2x2_64_56", func(m *model) *onnx.Value {
		return m.node("Tile", []*onnx.Value{m.input(1, 64, 56, 56), m.ints(1, 1, 2, 2)})
	}},
	{"cumsum_axis1_64_4096", func(m *model) *onnx.Value {
		return m.node("CumSum", []*onnx.Value{m.input(64, 4096), m.g.AddInitializer("ax", onnx.NewInt64Tensor("", nil, []int64{1}))})
	}},
	{"reducel2_256_56", func(m *model) *onnx.Value {
		return m.node("ReduceL2", []*onnx.Value{m.input(1, 256, 56, 56), m.ints(2, 3)}, onnx.IntAttr("keepdims", 1))
	}},
	{"softmax_axis1_21_128", func(m *model) *onnx.Value { // segmentation: over the classes
		return m.node("Softmax", []*onnx.Value{m.input(1, 21, 128, 128)}, onnx.IntAttr("axis", 1))
	}},
	{"matmul_ffn_128x768x3072", func(m *model) *onnx.Value {
		return m.node("MatMul", []*onnx.Value{m.input(1, 128, 768), m.weight(768, 3072)})
	}},
	{"transpose_nhwc_64_56", func(m *model) *onnx.Value { // tf2onnx's layout changes
		return m.node("Transpose", []*onnx.Value{m.input(1, 64, 56, 56)}, ints("perm", 0, 2, 3, 1))
	}},
	{"concat_last_4x_32_3136", func(m *model) *onnx.Value {
		return m.node("Concat", []*onnx.Value{m.input(1, 32, 3136), m.input(1, 32, 3136), m.input(1, 32, 1568)}, onnx.IntAttr("axis", 2))
	}},
	{"conv_same_upper_s2_32_75", func(m *model) *onnx.Value { // tf2onnx: auto_pad, odd size
		return m.conv(m.input(1, 32, 75, 75), 32, 64, 1, []int64{3, 3}, onnx.StringAttr("auto_pad", "SAME_UPPER"), ints("strides", 2, 2))
	}},
	{"scatternd_kv_12_256x64", func(m *model) *onnx.Value { // a KV cache update
		cache, upd := m.input(1, 12, 256, 64), m.input(1, 1, 64)
		idx := m.g.AddInitializer("idx", onnx.NewInt64Tensor("", []int64{1, 1, 3}, []int64{0, 3, 100}))
		return m.node("ScatterND", []*onnx.Value{cache, idx, upd})
	}},
	{"gatherelements_256_1000", func(m *model) *onnx.Value {
		ids := make([]int64, 256*100)
		for i := range ids {
			ids[i] = int64(i*7) % 1000
		}
		ix := m.g.AddInitializer("gix", onnx.NewInt64Tensor("", []int64{256, 100}, ids))
		return m.node("GatherElements", []*onnx.Value{m.input(256, 1000), ix}, onnx.IntAttr("axis", 1))
	}},
	{"reducemean_256_56", func(m *model) *onnx.Value {
		return m.node("ReduceMean", []*onnx.Value{m.input(1, 256, 56, 56), m.ints(2, 3)}, onnx.IntAttr("keepdims", 1))
	}},
}
