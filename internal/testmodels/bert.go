package testmodels

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// BertOptions vary the BERT export.
type BertOptions struct {
	// Opset is 11 to 17: Unsqueeze takes its axes as an attribute below
	// 13, LayerNormalization is a node from 17 (below, it is spelled out).
	Opset int64
	// Layers, Hidden, Heads and FFN shape the encoder (defaults 2, 64, 4, 256).
	Layers, Hidden, Heads, FFN int
}

// BertVocab is the size of the word embedding table: input_ids are in
// [0, BertVocab).
const BertVocab = 1000

// Bert is a BERT encoder laid out as torch.onnx.export writes Hugging Face's
// BertModel with dynamic axes: int64 input_ids, attention_mask and
// token_type_ids of shape [batch, sequence]; position ids sliced from a
// buffer by the sequence length read with Shape and Gather; the additive
// mask (1 − float(mask))·(−FLT_MAX) with its scalars in Constant nodes;
// heads split and merged by Reshape to shapes Concat builds from Shape
// → Gather; GELU through Erf; LayerNorm spelled out below opset 17; a
// pooler (Gather of the first token, Gemm, Tanh). Outputs:
// last_hidden_state [batch, sequence, Hidden] and pooler_output [batch,
// Hidden]. Weights are seeded waves, the same on every call.
func Bert(o BertOptions) *onnx.Model {
	if o.Layers == 0 {
		o.Layers, o.Hidden, o.Heads, o.FFN = 2, 64, 4, 256
	}
	const positions = 128
	h, nh, hd := int64(o.Hidden), int64(o.Heads), int64(o.Hidden/o.Heads)
	g := &onnx.Graph{Name: "torch_jit"}
	m := &onnx.Model{IRVersion: 7, ProducerName: "pytorch", ProducerVersion: "2.1.0", Graph: g,
		Opsets: []onnx.OpsetID{{Version: o.Opset}}}
	if o.Opset >= 15 {
		m.IRVersion = 8
	}
	b := &bertBuilder{g: g, opset: o.Opset}
	seq := onnx.Shape{onnx.Sym("batch"), onnx.Sym("sequence")}
	ids := g.AddInput("input_ids", onnx.TensorType(onnx.Int64, seq))
	mask := g.AddInput("attention_mask", onnx.TensorType(onnx.Int64, seq))
	types := g.AddInput("token_type_ids", onnx.TensorType(onnx.Int64, seq))

	posIDs := make([]int64, positions)
	for i := range posIDs {
		posIDs[i] = int64(i)
	}
	pos := b.op("Slice", nil, g.AddInitializer("embeddings.position_ids", onnx.NewInt64Tensor("", []int64{1, positions}, posIDs)),
		b.ints(0), b.unsqueeze(b.dim(ids, 1), 0), b.ints(1), b.ints(1))
	e := b.op("Add", nil, b.op("Gather", nil, b.weight("embeddings.word_embeddings.weight", 0.5, BertVocab, h), ids),
		b.op("Gather", nil, b.weight("embeddings.token_type_embeddings.weight", 0.5, 2, h), types))
	e = b.op("Add", nil, e, b.op("Gather", nil, b.weight("embeddings.position_embeddings.weight", 0.5, positions, h), pos))
	x := b.layerNorm(e, "embeddings.LayerNorm", h)
	maskF := b.op("Cast", []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Float))}, b.unsqueeze(b.unsqueeze(mask, 1), 2))
	bias := b.op("Mul", nil, b.op("Sub", nil, b.scalar(1), maskF), b.scalar(-math.MaxFloat32))
	for l := range o.Layers {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		heads := func(t *onnx.Value, perm ...int64) *onnx.Value {
			shape := b.op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)},
				b.unsqueeze(b.dim(t, 0), 0), b.unsqueeze(b.dim(t, 1), 0), b.ints(nh), b.ints(hd))
			return b.op("Transpose", []*onnx.Attribute{onnx.IntsAttr("perm", perm)}, b.op("Reshape", nil, t, shape))
		}
		q := heads(b.linear(x, p+"attention.self.query", h, h), 0, 2, 1, 3)
		k := heads(b.linear(x, p+"attention.self.key", h, h), 0, 2, 3, 1)
		v := heads(b.linear(x, p+"attention.self.value", h, h), 0, 2, 1, 3)
		scores := b.op("Add", nil, b.op("Div", nil, b.op("MatMul", nil, q, k), b.scalar(float32(math.Sqrt(float64(hd))))), bias)
		probs := b.op("Softmax", []*onnx.Attribute{onnx.IntAttr("axis", -1)}, scores)
		ctx := b.op("Transpose", []*onnx.Attribute{onnx.IntsAttr("perm", []int64{0, 2, 1, 3})}, b.op("MatMul", nil, probs, v))
		merged := b.op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, b.unsqueeze(b.dim(ctx, 0), 0), b.unsqueeze(b.dim(ctx, 1), 0), b.ints(h))
		ctx = b.op("Reshape", nil, ctx, merged)
		x = b.layerNorm(b.op("Add", nil, b.linear(ctx, p+"attention.output.dense", h, h), x), p+"attention.output.LayerNorm", h)
		f := b.linear(x, p+"intermediate.dense", h, int64(o.FFN))
		erf := b.op("Erf", nil, b.op("Div", nil, f, b.scalar(math.Sqrt2)))
		f = b.op("Mul", nil, b.op("Mul", nil, f, b.op("Add", nil, erf, b.scalar(1))), b.scalar(0.5))
		x = b.layerNorm(b.op("Add", nil, b.linear(f, p+"output.dense", int64(o.FFN), h), x), p+"output.LayerNorm", h)
	}
	last := b.named("last_hidden_state", x)
	first := b.op("Gather", []*onnx.Attribute{onnx.IntAttr("axis", 1)}, x, b.constant(onnx.NewInt64Tensor("", nil, []int64{0})))
	pooled := b.op("Tanh", nil, b.op("Gemm", []*onnx.Attribute{onnx.IntAttr("transB", 1)}, first,
		b.weight("pooler.dense.weight", 0.05, h, h), b.weight("pooler.dense.bias", 0.02, h)))
	pool := b.named("pooler_output", pooled)
	last.Type = onnx.TensorType(onnx.Float, onnx.Shape{onnx.Sym("batch"), onnx.Sym("sequence"), onnx.D(h)})
	pool.Type = onnx.TensorType(onnx.Float, onnx.Shape{onnx.Sym("batch"), onnx.D(h)})
	g.Outputs = append(g.Outputs, last, pool)
	return m
}

// bertBuilder appends nodes named as the exporter numbers them.
type bertBuilder struct {
	g     *onnx.Graph
	opset int64
	n     int
	seed  int
}

func (b *bertBuilder) op(op string, attrs []*onnx.Attribute, in ...*onnx.Value) *onnx.Value {
	b.n++
	name := fmt.Sprintf("/%s_%d", op, b.n)
	n := b.g.NewNode(op, "", name, in, name+"_output_0")
	for _, a := range attrs {
		n.SetAttr(a)
	}
	b.g.Append(n)
	return n.Output(0)
}

// named is an Identity of v whose output is called name (a graph output).
func (b *bertBuilder) named(name string, v *onnx.Value) *onnx.Value {
	n := b.g.NewNode("Identity", "", "/"+name, []*onnx.Value{v}, name)
	b.g.Append(n)
	return n.Output(0)
}

func (b *bertBuilder) constant(t *onnx.Tensor) *onnx.Value {
	return b.op("Constant", []*onnx.Attribute{onnx.TensorAttr("value", t)})
}

func (b *bertBuilder) scalar(v float32) *onnx.Value {
	return b.constant(onnx.NewFloatTensor("", nil, []float32{v}))
}

func (b *bertBuilder) ints(v ...int64) *onnx.Value {
	return b.constant(onnx.NewInt64Tensor("", []int64{int64(len(v))}, v))
}

// dim is Shape(t)[i] as a scalar, as the exporter reads a size.
func (b *bertBuilder) dim(t *onnx.Value, i int64) *onnx.Value {
	return b.op("Gather", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, b.op("Shape", nil, t), b.constant(onnx.NewInt64Tensor("", nil, []int64{i})))
}

func (b *bertBuilder) unsqueeze(t *onnx.Value, axis int64) *onnx.Value {
	if b.opset >= 13 {
		return b.op("Unsqueeze", nil, t, b.ints(axis))
	}
	return b.op("Unsqueeze", []*onnx.Attribute{onnx.IntsAttr("axes", []int64{axis})}, t)
}

func (b *bertBuilder) weight(name string, amp float32, dims ...int64) *onnx.Value {
	return b.weightAround(name, 0, amp, dims...)
}

// weightAround is a weight of values mean ± amp.
func (b *bertBuilder) weightAround(name string, mean, amp float32, dims ...int64) *onnx.Value {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	b.seed++
	w := wave(int(n), b.seed, amp)
	for i := range w {
		w[i] += mean
	}
	return b.g.AddInitializer(name, onnx.NewFloatTensor("", dims, w))
}

// linear is the exporter's nn.Linear on a 3-D input: MatMul by the
// transposed weight, then Add of the bias.
func (b *bertBuilder) linear(x *onnx.Value, name string, in, out int64) *onnx.Value {
	return b.op("Add", nil, b.weight(name+".bias", 0.02, out), b.op("MatMul", nil, x, b.weight(name+".weight_T", 0.15, in, out)))
}

func (b *bertBuilder) layerNorm(x *onnx.Value, name string, h int64) *onnx.Value {
	gamma, beta := b.weightAround(name+".weight", 1, 0.1, h), b.weight(name+".bias", 0.1, h)
	if b.opset >= 17 {
		return b.op("LayerNormalization", []*onnx.Attribute{onnx.IntAttr("axis", -1), onnx.FloatAttr("epsilon", 1e-12)}, x, gamma, beta)
	}
	mean := b.op("ReduceMean", []*onnx.Attribute{onnx.IntsAttr("axes", []int64{-1})}, x)
	d := b.op("Sub", nil, x, mean)
	variance := b.op("ReduceMean", []*onnx.Attribute{onnx.IntsAttr("axes", []int64{-1})}, b.op("Pow", nil, d, b.scalar(2)))
	std := b.op("Sqrt", nil, b.op("Add", nil, variance, b.scalar(1e-12)))
	return b.op("Add", nil, b.op("Mul", nil, b.op("Div", nil, d, std), gamma), beta)
}
