// Package biggen writes decoder-only transformer models of any size with
// their weights in an external data file, for the tests and `make big`
// targets that need models larger than memory or than protobuf's 2 GiB.
// Nothing is checked in: a 2.5 GiB model is written in seconds, weights
// streamed to disk from a seeded generator, never held in memory.
package biggen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/onnxslim/onnxslim/onnx"
)

// Config shapes the model: Layers blocks of width Width with Heads
// attention heads and an MLP of FFN units, a vocabulary of Vocab tokens,
// and a fixed sequence length Seq (the input is input_ids int64[1, Seq]).
type Config struct {
	Layers, Width, Heads, FFN, Vocab, Seq int
	Seed                                  uint64
}

// Params is the number of weights the model holds.
func (c Config) Params() int64 {
	d, f, v := int64(c.Width), int64(c.FFN), int64(c.Vocab)
	perLayer := 4*d*d + 2*d*f + 4*d
	return int64(c.Layers)*perLayer + 2*v*d + 2*d
}

// ForBytes returns a configuration of width 2048 (FFN 8192, vocabulary
// 8192, 16 heads, sequence 4) deep enough for at least size bytes of float32
// weights.
func ForBytes(size int64) Config {
	c := Config{Width: 2048, Heads: 16, FFN: 8192, Vocab: 8192, Seq: 4, Seed: 1}
	for c.Params()*4 < size {
		c.Layers++
	}
	return c
}

func (c Config) check() error {
	if c.Layers < 0 || c.Width <= 0 || c.Heads <= 0 || c.Width%c.Heads != 0 || c.FFN <= 0 || c.Vocab <= 0 || c.Seq <= 0 {
		return fmt.Errorf("biggen: bad configuration %+v (width must be a multiple of heads)", c)
	}
	return nil
}

// Write writes dir/name (the graph) and dir/name.data (the weights) and
// returns the model's path and the data file's size.
func Write(dir, name string, c Config) (string, int64, error) {
	if err := c.check(); err != nil {
		return "", 0, err
	}
	path := filepath.Join(dir, name)
	dataName := name + ".data"
	f, err := os.Create(filepath.Join(dir, dataName))
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	b := &builder{c: c, data: bufio.NewWriterSize(f, 4<<20), dataName: dataName, rng: c.Seed*0x9E3779B97F4A7C15 + 1}
	m := b.model()
	if b.err != nil {
		return "", 0, b.err
	}
	if err := b.data.Flush(); err != nil {
		return "", 0, err
	}
	if err := f.Close(); err != nil {
		return "", 0, err
	}
	if err := onnx.Save(m, path, onnx.SaveOptions{}); err != nil {
		return "", 0, err
	}
	return path, b.off, nil
}

type builder struct {
	c        Config
	m        *onnx.Model
	g        *onnx.Graph
	data     *bufio.Writer
	dataName string
	off      int64
	rng      uint64
	err      error
	buf      []byte
	n        int
}

// weight writes a float32 tensor of the given dims, uniform in
// [-scale, scale) (or all `fill` when scale is 0), to the data file and
// adds it as an external initializer.
func (b *builder) weight(name string, scale, fill float32, dims ...int64) *onnx.Value {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	// 64-byte alignment: every tensor can be viewed as []float32 in place.
	if pad := (64 - b.off%64) % 64; pad > 0 {
		b.write(make([]byte, pad))
	}
	start := b.off
	const chunk = 1 << 16
	for done := int64(0); done < n; done += chunk {
		k := min(chunk, n-done)
		b.buf = b.buf[:0]
		for i := int64(0); i < k; i++ {
			v := fill
			if scale != 0 {
				v = scale * b.uniform()
			}
			b.buf = binary.LittleEndian.AppendUint32(b.buf, math.Float32bits(v))
		}
		b.write(b.buf)
	}
	t := &onnx.Tensor{Name: name, DataType: onnx.Float, Dims: dims, DataLocation: 1, External: []onnx.StringPair{
		{Key: "location", Value: b.dataName},
		{Key: "offset", Value: strconv.FormatInt(start, 10)},
		{Key: "length", Value: strconv.FormatInt(4*n, 10)},
	}}
	return b.g.AddInitializer(name, t)
}

func (b *builder) write(p []byte) {
	if b.err == nil {
		_, b.err = b.data.Write(p)
		b.off += int64(len(p))
	}
}

// uniform is in [-1, 1) (xorshift64*).
func (b *builder) uniform() float32 {
	b.rng ^= b.rng >> 12
	b.rng ^= b.rng << 25
	b.rng ^= b.rng >> 27
	r := b.rng * 2685821657736338717
	return float32(int32(r>>32)) / (1 << 31)
}

func (b *builder) op(op string, attrs []*onnx.Attribute, in ...*onnx.Value) *onnx.Value {
	b.n++
	name := fmt.Sprintf("%s_%d", op, b.n)
	n := b.g.NewNode(op, "", name, in, name+"_out")
	for _, a := range attrs {
		n.SetAttr(a)
	}
	b.g.Append(n)
	return n.Output(0)
}

func (b *builder) ints(name string, v ...int64) *onnx.Value {
	return b.g.AddInitializer(name, onnx.NewInt64Tensor(name, []int64{int64(len(v))}, v))
}

func (b *builder) model() *onnx.Model {
	c := b.c
	d, s, h := int64(c.Width), int64(c.Seq), int64(c.Heads)
	dh := d / h
	b.g = &onnx.Graph{Name: "decoder"}
	b.m = &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}}, ProducerName: "onnxslim biggen", Graph: b.g}
	ids := b.g.AddInput("input_ids", onnx.TensorType(onnx.Int64, onnx.ShapeOf(1, s)))
	x := b.op("Gather", nil, b.weight("embed", 1, 0, int64(c.Vocab), d), ids)

	heads := b.ints("heads_shape", 1, s, h, dh)
	flat := b.ints("flat_shape", 1, s, d)
	scale := b.g.AddInitializer("attn_scale", onnx.NewFloatTensor("attn_scale", nil, []float32{float32(1 / math.Sqrt(float64(dh)))}))
	mask := make([]float32, s*s)
	for i := int64(0); i < s; i++ {
		for j := i + 1; j < s; j++ {
			mask[i*s+j] = -1e9
		}
	}
	causal := b.g.AddInitializer("causal_mask", onnx.NewFloatTensor("causal_mask", []int64{s, s}, mask))
	ws := float32(math.Sqrt(3 / float64(d)))
	fs := float32(math.Sqrt(3 / float64(c.FFN)))
	norm := func(name string, in *onnx.Value) *onnx.Value {
		return b.op("LayerNormalization", []*onnx.Attribute{onnx.IntAttr("axis", -1), onnx.FloatAttr("epsilon", 1e-5)},
			in, b.weight(name+"_gamma", 0, 1, d), b.weight(name+"_beta", 0, 0, d))
	}
	perm := func(p ...int64) []*onnx.Attribute { return []*onnx.Attribute{onnx.IntsAttr("perm", p)} }
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("layer%d", l)
		hN := norm(p+"_ln1", x)
		split := func(w string, tr []int64) *onnx.Value {
			y := b.op("MatMul", nil, hN, b.weight(p+"_"+w, ws, 0, d, d))
			return b.op("Transpose", perm(tr...), b.op("Reshape", nil, y, heads))
		}
		q, k, v := split("wq", []int64{0, 2, 1, 3}), split("wk", []int64{0, 2, 3, 1}), split("wv", []int64{0, 2, 1, 3})
		scores := b.op("Add", nil, b.op("Mul", nil, b.op("MatMul", nil, q, k), scale), causal)
		att := b.op("MatMul", nil, b.op("Softmax", []*onnx.Attribute{onnx.IntAttr("axis", -1)}, scores), v)
		merged := b.op("Reshape", nil, b.op("Transpose", perm(0, 2, 1, 3), att), flat)
		x = b.op("Add", nil, x, b.op("MatMul", nil, merged, b.weight(p+"_wo", ws, 0, d, d)))
		up := b.op("MatMul", nil, norm(p+"_ln2", x), b.weight(p+"_w1", ws, 0, d, int64(c.FFN)))
		silu := b.op("Mul", nil, up, b.op("Sigmoid", nil, up))
		x = b.op("Add", nil, x, b.op("MatMul", nil, silu, b.weight(p+"_w2", fs, 0, int64(c.FFN), d)))
	}
	logits := b.op("MatMul", nil, norm("final_ln", x), b.weight("lm_head", ws, 0, d, int64(c.Vocab)))
	logits.Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(1, s, int64(c.Vocab)))
	b.g.Outputs = append(b.g.Outputs, logits)
	return b.m
}
