package interp_test

import (
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// ONNX Runtime's transformer contrib ops checked node by node against its
// CPU kernels: shapes cover batch > 1, several heads, head sizes that are not
// multiples of 8, one and several query positions, masks, biases and past.

// int32s is an int32 tensor of the given shape and values.
func int32s(shape []int, v ...int32) *interp.Tensor {
	return interp.FromSlice(onnx.Int32, shape, v)
}

// keyMask is a (B, T) 0/1 int32 mask keeping the first lens[b] keys.
func keyMask(t int, lens ...int) *interp.Tensor {
	m := make([]int32, len(lens)*t)
	for b, l := range lens {
		for j := 0; j < l; j++ {
			m[b*t+j] = 1
		}
	}
	return int32s([]int{len(lens), t}, m...)
}

// randMask is a seeded (shape) 0/1 int32 mask, mostly ones.
func randMask(r *rand.Rand, shape ...int) *interp.Tensor {
	x := uniformInts(r, onnx.Int32, 0, 3, shape...)
	for i, v := range x.Data.([]int32) {
		x.Data.([]int32)[i] = min(v, 1)
	}
	return x
}

func TestContribMultiHeadAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 1))
	heads := func(n int) *onnx.Attribute { return onnx.IntAttr("num_heads", int64(n)) }
	uni := onnx.IntAttr("unidirectional", 1)
	cases := []ortNode{
		{name: "plain", attrs: []*onnx.Attribute{heads(3)},
			in: []*interp.Tensor{normal(r, 2, 5, 15), normal(r, 2, 7, 15), normal(r, 2, 7, 15)}},
		{name: "bias v-hidden differs", attrs: []*onnx.Attribute{heads(2)},
			in: []*interp.Tensor{normal(r, 2, 4, 10), normal(r, 2, 6, 10), normal(r, 2, 6, 6), normal(r, 26)}},
		{name: "scale seq1", attrs: []*onnx.Attribute{heads(4), onnx.FloatAttr("scale", 0.3)},
			in: []*interp.Tensor{normal(r, 3, 1, 20), normal(r, 3, 5, 20), normal(r, 3, 5, 20)}},
		{name: "key lengths", attrs: []*onnx.Attribute{heads(2)},
			in: []*interp.Tensor{normal(r, 3, 4, 14), normal(r, 3, 6, 14), normal(r, 3, 6, 14), nil, int32s([]int{3}, 6, 2, 4)}},
		{name: "2-D key padding mask", attrs: []*onnx.Attribute{heads(2), onnx.FloatAttr("mask_filter_value", -50)},
			in: []*interp.Tensor{normal(r, 2, 4, 14), normal(r, 2, 6, 14), normal(r, 2, 6, 14), normal(r, 42), keyMask(6, 6, 3)}},
		{name: "3-D mask fully masked row", attrs: []*onnx.Attribute{heads(2)},
			in: []*interp.Tensor{normal(r, 2, 3, 6), normal(r, 2, 5, 6), normal(r, 2, 5, 6), nil,
				int32s([]int{2, 3, 5}, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1)}},
		{name: "attention bias broadcast", attrs: []*onnx.Attribute{heads(3)},
			in: []*interp.Tensor{normal(r, 2, 4, 9), normal(r, 2, 5, 9), normal(r, 2, 5, 9), nil, nil, normal(r, 1, 3, 4, 5)}},
		{name: "attention bias per batch with mask", attrs: []*onnx.Attribute{heads(3)},
			in: []*interp.Tensor{normal(r, 2, 4, 9), normal(r, 2, 5, 9), normal(r, 2, 5, 9), nil, keyMask(5, 4, 2), normal(r, 2, 1, 4, 5)}},
		{name: "unidirectional", attrs: []*onnx.Attribute{heads(2), uni},
			in: []*interp.Tensor{normal(r, 2, 5, 10), normal(r, 2, 5, 10), normal(r, 2, 5, 10)}},
		{name: "past present causal", attrs: []*onnx.Attribute{heads(2), uni}, outs: 3,
			in: []*interp.Tensor{normal(r, 2, 3, 10), normal(r, 2, 3, 10), normal(r, 2, 3, 10), normal(r, 30), keyMask(7, 7, 5), nil,
				normal(r, 2, 2, 4, 5), normal(r, 2, 2, 4, 5)}},
		{name: "decode step with past", attrs: []*onnx.Attribute{heads(3), uni}, outs: 3,
			in: []*interp.Tensor{normal(r, 2, 1, 21), normal(r, 2, 1, 21), normal(r, 2, 1, 21), nil, int32s([]int{2}, 6, 4), normal(r, 2, 3, 1, 6),
				normal(r, 2, 3, 5, 7), normal(r, 2, 3, 5, 7)}},
		{name: "cross attention BNSH key value", attrs: []*onnx.Attribute{heads(2)}, outs: 3,
			in: []*interp.Tensor{normal(r, 2, 3, 10), normal(r, 2, 2, 6, 5), normal(r, 2, 2, 6, 5), nil, keyMask(6, 6, 4)}},
	}
	for _, c := range cases {
		c.op, c.domain = "MultiHeadAttention", "com.microsoft"
		t.Run(c.name, func(t *testing.T) { checkShapes(t, c, true); checkORT(t, c) })
	}
}

func TestContribAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 2))
	heads := func(n int) *onnx.Attribute { return onnx.IntAttr("num_heads", int64(n)) }
	uni := onnx.IntAttr("unidirectional", 1)
	const w = 1 << 1 // weights are initializers
	cases := []ortNode{
		{name: "bert", attrs: []*onnx.Attribute{heads(3)}, consts: w | 1<<2,
			in: []*interp.Tensor{normal(r, 2, 5, 8), normal(r, 8, 45), normal(r, 45)}},
		// No case omits bias: ORT 1.29's CPU kernel crashes (segfault) without it.
		{name: "seq1", attrs: []*onnx.Attribute{heads(2)}, consts: w | 1<<2,
			in: []*interp.Tensor{normal(r, 3, 1, 6), normal(r, 6, 30), normal(r, 30)}},
		{name: "mask lengths", attrs: []*onnx.Attribute{heads(2)}, consts: w | 1<<2,
			in: []*interp.Tensor{normal(r, 3, 4, 6), normal(r, 6, 42), normal(r, 42), int32s([]int{3}, 4, 1, 3)}},
		{name: "mask end and start", attrs: []*onnx.Attribute{heads(2)}, consts: w | 1<<2,
			in: []*interp.Tensor{normal(r, 2, 5, 6), normal(r, 6, 42), normal(r, 42), int32s([]int{4}, 5, 4, 0, 2)}},
		{name: "2-D mask scale filter", attrs: []*onnx.Attribute{heads(3), onnx.FloatAttr("scale", 0.2), onnx.FloatAttr("mask_filter_value", -30)}, consts: w | 1<<2,
			in: []*interp.Tensor{normal(r, 2, 5, 6), normal(r, 6, 63), normal(r, 63), randMask(r, 2, 5)}},
		{name: "3-D mask", attrs: []*onnx.Attribute{heads(2)}, consts: w | 1<<2,
			in: []*interp.Tensor{normal(r, 2, 4, 6), normal(r, 6, 30), normal(r, 30), randMask(r, 2, 4, 4)}},
		{name: "qkv_hidden_sizes", attrs: []*onnx.Attribute{heads(2), onnx.IntsAttr("qkv_hidden_sizes", []int64{10, 10, 6})}, consts: w | 1<<2,
			in: []*interp.Tensor{normal(r, 2, 4, 7), normal(r, 7, 26), normal(r, 26), keyMask(4, 4, 2)}},
		{name: "gpt2 causal past present", attrs: []*onnx.Attribute{heads(2), uni}, consts: w | 1<<2, outs: 2,
			in: []*interp.Tensor{normal(r, 2, 3, 8), normal(r, 8, 30), normal(r, 30), keyMask(6, 6, 4), normal(r, 2, 2, 2, 3, 5)}},
		{name: "gpt2 decode step", attrs: []*onnx.Attribute{heads(3), uni}, consts: w | 1<<2, outs: 2,
			in: []*interp.Tensor{normal(r, 2, 1, 9), normal(r, 9, 63), normal(r, 63), nil, normal(r, 2, 2, 3, 4, 7)}},
		{name: "causal attention bias", attrs: []*onnx.Attribute{heads(3), uni}, consts: w | 1<<2,
			in: []*interp.Tensor{normal(r, 2, 4, 9), normal(r, 9, 27), normal(r, 27), nil, nil, normal(r, 2, 3, 4, 4)}},
	}
	for _, c := range cases {
		c.op, c.domain = "Attention", "com.microsoft"
		t.Run(c.name, func(t *testing.T) { checkShapes(t, c, true); checkORT(t, c) })
	}
}

func TestContribRotaryEmbedding(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 3))
	i64 := func(shape []int, v ...int64) *interp.Tensor { return interp.FromSlice(onnx.Int64, shape, v) }
	inter := onnx.IntAttr("interleaved", 1)
	cases := []ortNode{
		{name: "3-D heads from cache start position",
			in: []*interp.Tensor{normal(r, 2, 3, 12), i64([]int{1}, 2), normal(r, 10, 3), normal(r, 10, 3)}},
		{name: "3-D interleaved position ids", attrs: []*onnx.Attribute{inter},
			in: []*interp.Tensor{normal(r, 2, 4, 20), i64([]int{2, 4}, 0, 1, 2, 3, 7, 3, 9, 5), normal(r, 10, 5), normal(r, 10, 5)}},
		{name: "3-D partial rotary", attrs: []*onnx.Attribute{onnx.IntAttr("num_heads", 3), onnx.IntAttr("rotary_embedding_dim", 4)},
			in: []*interp.Tensor{normal(r, 2, 4, 30), i64([]int{2, 4}, 4, 5, 6, 7, 0, 1, 2, 3), normal(r, 12, 2), normal(r, 12, 2)}},
		{name: "3-D partial rotary interleaved seq1", attrs: []*onnx.Attribute{inter, onnx.IntAttr("num_heads", 2), onnx.IntAttr("rotary_embedding_dim", 6)},
			in: []*interp.Tensor{normal(r, 3, 1, 20), i64([]int{3, 1}, 4, 9, 0), normal(r, 12, 3), normal(r, 12, 3)}},
		{name: "4-D BNSH", in: []*interp.Tensor{normal(r, 2, 3, 4, 10), i64([]int{2, 4}, 0, 1, 2, 3, 5, 6, 7, 8), normal(r, 9, 5), normal(r, 9, 5)}},
		{name: "4-D BNSH interleaved start", attrs: []*onnx.Attribute{inter},
			in: []*interp.Tensor{normal(r, 2, 2, 3, 6), i64([]int{1}, 4), normal(r, 9, 3), normal(r, 9, 3)}},
	}
	for _, c := range cases {
		c.op, c.domain = "RotaryEmbedding", "com.microsoft"
		t.Run(c.name, func(t *testing.T) { checkShapes(t, c, true); checkORT(t, c) })
	}
}

func TestContribGroupQueryAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 4))
	heads := func(n, kv int) []*onnx.Attribute {
		return []*onnx.Attribute{onnx.IntAttr("num_heads", int64(n)), onnx.IntAttr("kv_num_heads", int64(kv))}
	}
	with := func(a []*onnx.Attribute, more ...*onnx.Attribute) []*onnx.Attribute { return append(a, more...) }
	rot := onnx.IntAttr("do_rotary", 1)
	inter := onnx.IntAttr("rotary_interleaved", 1)
	total := func(n int32) *interp.Tensor { return int32s([]int{}, n) }
	// ORT's CPU kernel wants head sizes that are multiples of 8 (16 with
	// do_rotary, whose cos_cache width must be a multiple of 8).
	cases := []ortNode{
		{name: "prompt", attrs: heads(4, 2),
			in: []*interp.Tensor{normal(r, 2, 4, 32), normal(r, 2, 4, 16), normal(r, 2, 4, 16), nil, nil, int32s([]int{2}, 3, 3), total(4)}},
		{name: "prompt seq1", attrs: heads(3, 1),
			in: []*interp.Tensor{normal(r, 2, 1, 48), normal(r, 2, 1, 16), normal(r, 2, 1, 16), nil, nil, int32s([]int{2}, 0, 0), total(1)}},
		{name: "prompt rotary interleaved scale", attrs: with(heads(4, 2), rot, inter, onnx.FloatAttr("scale", 0.4)),
			in: []*interp.Tensor{normal(r, 2, 5, 64), normal(r, 2, 5, 32), normal(r, 2, 5, 32), nil, nil, int32s([]int{2}, 4, 4), total(5),
				normal(r, 8, 8), normal(r, 8, 8)}},
		{name: "decode ragged past", attrs: heads(4, 2),
			in: []*interp.Tensor{normal(r, 2, 1, 32), normal(r, 2, 1, 16), normal(r, 2, 1, 16), normal(r, 2, 2, 5, 8), normal(r, 2, 2, 5, 8),
				int32s([]int{2}, 5, 3), total(6)}},
		{name: "decode ragged rotary partial", attrs: with(heads(6, 2), rot),
			in: []*interp.Tensor{normal(r, 3, 1, 192), normal(r, 3, 1, 64), normal(r, 3, 1, 64), normal(r, 3, 2, 7, 32), normal(r, 3, 2, 7, 32),
				int32s([]int{3}, 7, 2, 5), total(8), normal(r, 16, 8), normal(r, 16, 8)}},
		{name: "decode in a larger cache", attrs: with(heads(2, 2), rot, inter),
			in: []*interp.Tensor{normal(r, 2, 1, 32), normal(r, 2, 1, 32), normal(r, 2, 1, 32), normal(r, 2, 2, 9, 16), normal(r, 2, 2, 9, 16),
				int32s([]int{2}, 4, 6), total(7), normal(r, 16, 8), normal(r, 16, 8)}},
		{name: "packed qkv decode", attrs: with(heads(4, 1), rot),
			in: []*interp.Tensor{normal(r, 2, 1, 96), nil, nil, normal(r, 2, 1, 4, 16), normal(r, 2, 1, 4, 16),
				int32s([]int{2}, 4, 2), total(5), normal(r, 10, 8), normal(r, 10, 8)}},
		{name: "right-padded prompt", attrs: with(heads(2, 1), rot),
			in: []*interp.Tensor{normal(r, 2, 4, 32), normal(r, 2, 4, 16), normal(r, 2, 4, 16), nil, nil, int32s([]int{2}, 3, 1), total(4),
				normal(r, 6, 8), normal(r, 6, 8)}},
		{name: "packed qkv prompt", attrs: heads(2, 1),
			in: []*interp.Tensor{normal(r, 2, 3, 32), nil, nil, nil, nil, int32s([]int{2}, 2, 2), total(3)}},
		{name: "subsequent prompt", attrs: with(heads(4, 2), rot),
			in: []*interp.Tensor{normal(r, 1, 3, 64), normal(r, 1, 3, 32), normal(r, 1, 3, 32), normal(r, 1, 2, 4, 16), normal(r, 1, 2, 4, 16),
				int32s([]int{1}, 6), total(7), normal(r, 12, 8), normal(r, 12, 8)}},
		{name: "local window softcap", attrs: with(heads(4, 2), onnx.IntAttr("local_window_size", 2), onnx.FloatAttr("softcap", 1.5)),
			in: []*interp.Tensor{normal(r, 2, 6, 32), normal(r, 2, 6, 16), normal(r, 2, 6, 16), nil, nil, int32s([]int{2}, 5, 5), total(6)}},
		{name: "decode local window", attrs: with(heads(2, 1), onnx.IntAttr("local_window_size", 3)),
			in: []*interp.Tensor{normal(r, 2, 1, 16), normal(r, 2, 1, 8), normal(r, 2, 1, 8), normal(r, 2, 1, 6, 8), normal(r, 2, 1, 6, 8),
				int32s([]int{2}, 6, 2), total(7)}},
	}
	for _, c := range cases {
		c.op, c.domain, c.outs = "GroupQueryAttention", "com.microsoft", 3
		t.Run(c.name, func(t *testing.T) {
			checkShapes(t, c, false) // total_sequence_length a graph input: present length unknown
			c.consts |= 1 << 6
			checkShapes(t, c, true)
			checkORT(t, c)
		})
	}
}

// checkShapes runs c in the interpreter and checks that shape inference
// predicts every output's shape: every dimension when static, else the
// dimensions it claims to know.
func checkShapes(t *testing.T, c ortNode, static bool) {
	t.Helper()
	m, feeds := c.model(t)
	s, err := interp.NewSession(m, interp.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Run(feeds)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := interp.InferShapes(m, interp.ShapeOptions{Strict: true}); err != nil {
		t.Fatal(err)
	}
	for i, v := range m.Graph.Outputs {
		if v.Type == nil {
			t.Errorf("%s: output %d: no type inferred", c.name, i)
			continue
		}
		sh := v.Type.Shape
		if len(sh) != len(got[i].Shape) {
			t.Errorf("%s: output %d: inferred %v, got %v", c.name, i, sh, got[i].Shape)
			continue
		}
		for j, d := range sh {
			if d.IsStatic() && int(d.Value) != got[i].Shape[j] || !d.IsStatic() && static {
				t.Errorf("%s: output %d: inferred %v, got %v", c.name, i, v.Type.Shape, got[i].Shape)
				break
			}
		}
	}
}

func TestContribEmbedLayerNormalization(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 5))
	const tables = 1<<2 | 1<<3 | 1<<4 | 1<<5 | 1<<6
	ids := func(hi int, b, s int) *interp.Tensor { return uniformInts(r, onnx.Int32, 0, hi, b, s) }
	cases := []ortNode{
		{name: "bert with mask", outs: 2, consts: tables,
			in: []*interp.Tensor{ids(19, 2, 5), ids(1, 2, 5), normal(r, 20, 12), normal(r, 8, 12), normal(r, 2, 12), normal(r, 12), normal(r, 12),
				keyMask(5, 5, 3)}},
		{name: "no segment embedding sum", outs: 3, consts: tables, attrs: []*onnx.Attribute{onnx.FloatAttr("epsilon", 1e-5)},
			in: []*interp.Tensor{ids(9, 3, 4), nil, normal(r, 10, 7), normal(r, 6, 7), nil, normal(r, 7), normal(r, 7), randMask(r, 3, 4)}},
		{name: "no mask seq1", outs: 2, consts: tables,
			in: []*interp.Tensor{ids(9, 2, 1), ids(2, 2, 1), normal(r, 10, 5), normal(r, 3, 5), normal(r, 3, 5), normal(r, 5), normal(r, 5)}},
		{name: "position ids", outs: 2, consts: tables,
			in: []*interp.Tensor{ids(9, 2, 4), ids(1, 2, 4), normal(r, 10, 6), normal(r, 9, 6), normal(r, 2, 6), normal(r, 6), normal(r, 6),
				nil, uniformInts(r, onnx.Int32, 0, 8, 2, 4)}},
	}
	for _, c := range cases {
		c.op, c.domain = "EmbedLayerNormalization", "com.microsoft"
		t.Run(c.name, func(t *testing.T) { checkShapes(t, c, true); checkORT(t, c) })
	}
}
