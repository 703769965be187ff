package main

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// gqaDecoder is the attention of an onnxruntime-genai decoder: an
// embedding, the Q/K/V projections, seqlens_k and total_sequence_length
// computed from attention_mask in the graph, and GroupQueryAttention
// (com.microsoft) with rotary and a key/value cache of symbolic length.
func gqaDecoder() *onnx.Model {
	const hidden, heads, kvHeads, head = 64, 4, 2, 16
	r := rand.New(rand.NewPCG(5, 6))
	g := &onnx.Graph{Name: "decoder"}
	w := func(name string, dims ...int64) *onnx.Value { return normalWeight(g, r, 0.1, name, dims...) }
	node := func(op, domain string, ins []*onnx.Value, attrs []*onnx.Attribute, outs ...string) *onnx.Node {
		n := g.NewNode(op, domain, op+"_"+outs[0], ins, outs...)
		n.Attrs = attrs
		g.Append(n)
		return n
	}
	sym := func(names ...any) onnx.Shape {
		var s onnx.Shape
		for _, x := range names {
			switch x := x.(type) {
			case string:
				s = append(s, onnx.Sym(x))
			case int:
				s = append(s, onnx.D(int64(x)))
			}
		}
		return s
	}
	ids := g.AddInput("input_ids", onnx.TensorType(onnx.Int64, sym("batch", "seq")))
	mask := g.AddInput("attention_mask", onnx.TensorType(onnx.Int64, sym("batch", "total")))
	pastK := g.AddInput("past_key_values.0.key", onnx.TensorType(onnx.Float, sym("batch", kvHeads, "past", head)))
	pastV := g.AddInput("past_key_values.0.value", onnx.TensorType(onnx.Float, sym("batch", kvHeads, "past", head)))
	cosV, sinV := make([]float32, 256*head/2), make([]float32, 256*head/2)
	for p := range 256 {
		for i := range head / 2 {
			a := float64(p) / float64(int(1)<<(i))
			cosV[p*head/2+i], sinV[p*head/2+i] = float32(math.Cos(a)), float32(math.Sin(a))
		}
	}
	cosC := g.AddInitializer("cos_cache", onnx.NewFloatTensor("", []int64{256, head / 2}, cosV))
	sinC := g.AddInitializer("sin_cache", onnx.NewFloatTensor("", []int64{256, head / 2}, sinV))
	one := g.AddInitializer("one", onnx.NewInt64Tensor("", []int64{1}, []int64{1}))
	x := node("Gather", "", []*onnx.Value{w("embed", 1000, hidden), ids}, nil, "x").Output(0)
	q := node("MatMul", "", []*onnx.Value{x, w("wq", hidden, heads*head)}, nil, "q").Output(0)
	k := node("MatMul", "", []*onnx.Value{x, w("wk", hidden, kvHeads*head)}, nil, "k").Output(0)
	v := node("MatMul", "", []*onnx.Value{x, w("wv", hidden, kvHeads*head)}, nil, "v").Output(0)
	sum := node("ReduceSum", "", []*onnx.Value{mask, one}, []*onnx.Attribute{onnx.IntAttr("keepdims", 0)}, "msum").Output(0)
	sum1 := node("Sub", "", []*onnx.Value{sum, one}, nil, "msum1").Output(0)
	seqlens := node("Cast", "", []*onnx.Value{sum1}, []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Int32))}, "seqlens_k").Output(0)
	shp := node("Shape", "", []*onnx.Value{mask}, []*onnx.Attribute{onnx.IntAttr("start", 1), onnx.IntAttr("end", 2)}, "mshape").Output(0)
	tot := node("Squeeze", "", []*onnx.Value{shp}, nil, "tot64").Output(0)
	tot32 := node("Cast", "", []*onnx.Value{tot}, []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Int32))}, "total_seq").Output(0)
	gqa := node("GroupQueryAttention", "com.microsoft", []*onnx.Value{q, k, v, pastK, pastV, seqlens, tot32, cosC, sinC},
		[]*onnx.Attribute{onnx.IntAttr("num_heads", heads), onnx.IntAttr("kv_num_heads", kvHeads), onnx.IntAttr("do_rotary", 1)},
		"attn", "present.0.key", "present.0.value")
	logits := node("MatMul", "", []*onnx.Value{gqa.Output(0), w("lm_head", heads*head, 1000)}, nil, "logits").Output(0)
	g.Outputs = append(g.Outputs, logits, gqa.Output(1), gqa.Output(2))
	return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}, {Domain: "com.microsoft", Version: 1}}, Graph: g}
}

// TestDecoderWithGQAVerifies: the default pipeline verifies an
// onnxruntime-genai style decoder on generated inputs — attention_mask
// ones, so the seqlens_k the graph computes fit the key cache (random mask
// values made GroupQueryAttention reject them and the run stop).
func TestDecoderWithGQAVerifies(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "decoder.onnx"), filepath.Join(dir, "out.onnx")
	if err := onnx.Save(gqaDecoder(), in, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, in, "-o", out)
	if code != 0 || !strings.Contains(stdout, "OK on") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "cannot run") {
		t.Errorf("GroupQueryAttention was cut around, not run:\n%s", stdout)
	}
}
