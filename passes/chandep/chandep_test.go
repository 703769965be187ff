package chandep_test

import (
	"bytes"
	"context"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes/chandep"
)

// mb builds small models with named nodes and seeded weights: building the
// same case twice gives the same weights, so the model under test and its
// oracle differ only where the oracle masks channels.
type mb struct {
	m   *onnx.Model
	g   *onnx.Graph
	rng *rand.Rand
	// mask multiplies v (rank r) by a 0/1 mask that is 0 at positions zero
	// of axis (size n): set when building the oracle, nil otherwise.
	masking bool
}

func newMB(opset int64, inShape ...int64) (*mb, *onnx.Value) {
	g := &onnx.Graph{Name: "g"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: opset}}, Graph: g}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(inShape...)))
	return &mb{m: m, g: g, rng: rand.New(rand.NewSource(1))}, x
}

func (b *mb) weight(name string, dims ...int64) *onnx.Value {
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(b.rng.NormFloat64()) * 0.5
	}
	return b.g.AddInitializer(name, onnx.NewFloatTensor("", dims, f))
}

func (b *mb) positive(name string, n int64) *onnx.Value {
	f := make([]float32, n)
	for i := range f {
		f[i] = 0.5 + b.rng.Float32()
	}
	return b.g.AddInitializer(name, onnx.NewFloatTensor("", []int64{n}, f))
}

func (b *mb) op(op, name string, attrs []*onnx.Attribute, in ...*onnx.Value) *onnx.Value {
	n := b.g.NewNode(op, "", name, in, name+"_out")
	for _, a := range attrs {
		n.SetAttr(a)
	}
	b.g.Append(n)
	return n.Output(0)
}

func (b *mb) conv(name string, x *onnx.Value, cin, cout, k, group int64, bias bool) *onnx.Value {
	in := []*onnx.Value{x, b.weight(name+"_w", cout, cin/group, k, k)}
	if bias {
		in = append(in, b.weight(name+"_b", cout))
	}
	return b.op("Conv", name, []*onnx.Attribute{onnx.IntAttr("group", group), onnx.IntsAttr("pads", []int64{k / 2, k / 2, k / 2, k / 2})}, in...)
}

func (b *mb) bn(name string, x *onnx.Value, c int64) *onnx.Value {
	return b.op("BatchNormalization", name, nil, x, b.positive(name+"_s", c), b.weight(name+"_b", c), b.weight(name+"_m", c), b.positive(name+"_v", c))
}

// mask zeroes positions zero of axis (size n, rank r) of v in the oracle;
// in the model under test it returns v. The Mul is the oracle: a pruned
// channel must contribute nothing to the layers that mix channels, and
// masking it right before each of them is exactly that.
func (b *mb) mask(v *onnx.Value, r, axis int, n int64, zero ...int) *onnx.Value {
	if !b.masking {
		return v
	}
	dims := make([]int64, r)
	for i := range dims {
		dims[i] = 1
	}
	dims[axis] = n
	f := make([]float32, n)
	for i := range f {
		f[i] = 1
	}
	for _, z := range zero {
		f[z] = 0
	}
	c := b.g.AddInitializer(v.Name+"_mask", onnx.NewFloatTensor("", dims, f))
	return b.op("Mul", v.Name+"_masked", nil, v, c)
}

func (b *mb) output(v *onnx.Value) *onnx.Model {
	v.Type = onnx.TensorType(onnx.Float, nil)
	b.g.Outputs = append(b.g.Outputs, v)
	return b.m
}

// prune names a group by one of its producers (and, where the producer's
// channels fall in several groups, one of its output channels, at) and the
// channels to keep.
type prune struct {
	producer string
	keep     []int
	at       int
}

type chanCase struct {
	name  string
	opset int64
	in    []int64
	build func(b *mb, x *onnx.Value) *onnx.Value
	prune []prune
	// params is the parameter count after pruning.
	params int64
}

func chanCases() []chanCase {
	return []chanCase{
		{name: "conv-bn-relu-conv", opset: 13, in: []int64{2, 3, 8, 8}, prune: []prune{{"conv1", []int{0, 2, 3, 5}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu1", nil, b.bn("bn1", b.conv("conv1", x, 3, 6, 3, 1, true), 6))
				return b.conv("conv2", b.mask(h, 4, 1, 6, 1, 4), 6, 4, 1, 1, true)
			},
			params: 4*3*9 + 4 + 4*4 + 4*4 + 4},
		{name: "residual-add", opset: 13, in: []int64{1, 3, 6, 6}, prune: []prune{{"convA", []int{1, 2, 4}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				r0 := b.op("Relu", "relu0", nil, b.conv("conv0", x, 3, 6, 3, 1, true))
				a := b.conv("convA", b.mask(r0, 4, 1, 6, 0, 3, 5), 6, 6, 3, 1, true)
				s := b.op("Relu", "relu1", nil, b.op("Add", "add", nil, a, r0))
				return b.conv("conv3", b.mask(s, 4, 1, 6, 0, 3, 5), 6, 4, 1, 1, false)
			},
			params: 3*3*9 + 3 + 3*3*9 + 3 + 4*3},
		{name: "depthwise-chain", opset: 14, in: []int64{1, 3, 7, 7}, prune: []prune{{"conv1", []int{0, 1, 5}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Clip", "relu6", nil, b.conv("conv1", x, 3, 6, 1, 1, false), b.g.AddInitializer("lo", onnx.NewFloatTensor("", nil, []float32{0})), b.g.AddInitializer("hi", onnx.NewFloatTensor("", nil, []float32{6})))
				d := b.conv("dw", h, 6, 6, 3, 6, true)
				d = b.op("HardSwish", "hs", nil, b.bn("bn", d, 6))
				d = b.conv("dw2", d, 6, 6, 3, 6, false)
				return b.conv("conv2", b.mask(d, 4, 1, 6, 2, 3, 4), 6, 4, 1, 1, true)
			},
			params: 3*3 + 2 + 3*9 + 3 + 4*3 + 3*9 + 4*3 + 4},
		{name: "concat-offsets", opset: 13, in: []int64{1, 3, 5, 5}, prune: []prune{{"convB", []int{0, 3, 4}, 0}, {"convA", []int{1, 3}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				a := b.conv("convA", x, 3, 4, 3, 1, true)
				c := b.conv("convB", x, 3, 5, 1, 1, true)
				h := b.op("Relu", "relu", nil, b.op("Concat", "cat", []*onnx.Attribute{onnx.IntAttr("axis", 1)}, a, c))
				return b.conv("conv3", b.mask(h, 4, 1, 9, 0, 2, 5, 6), 9, 4, 3, 1, true)
			},
			params: 2*3*9 + 2 + 3*3 + 3 + 4*5*9 + 4},
		{name: "split-sizes", opset: 13, in: []int64{1, 3, 5, 5}, prune: []prune{{"conv1", []int{0, 2, 4, 5, 7}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.conv("conv1", x, 3, 8, 3, 1, true)
				n := b.g.NewNode("Split", "", "split", []*onnx.Value{h, b.g.AddInitializer("sizes", onnx.NewInt64Tensor("", []int64{2}, []int64{3, 5}))}, "s0", "s1")
				n.SetAttr(onnx.IntAttr("axis", 1))
				b.g.Append(n)
				ya := b.conv("convA", b.mask(b.op("Relu", "r", nil, n.Output(0)), 4, 1, 3, 1), 3, 2, 1, 1, false)
				yb := b.conv("convB", b.mask(n.Output(1), 4, 1, 5, 0, 3), 5, 2, 1, 1, false)
				return b.op("Add", "add", nil, ya, yb)
			},
			params: 5*3*9 + 5 + 2*2 + 2*3},
		{name: "split-attr-opset11", opset: 11, in: []int64{1, 3, 5, 5}, prune: []prune{{"conv1", []int{1, 2, 3}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.conv("conv1", x, 3, 4, 3, 1, true)
				n := b.g.NewNode("Split", "", "split", []*onnx.Value{h}, "s0", "s1")
				n.SetAttr(onnx.IntAttr("axis", 1))
				b.g.Append(n)
				ya := b.conv("convA", b.mask(n.Output(0), 4, 1, 2, 0), 2, 2, 1, 1, false)
				yb := b.conv("convB", n.Output(1), 2, 2, 1, 1, false)
				return b.op("Add", "add", nil, ya, yb)
			},
			params: 3*3*9 + 3 + 2*1 + 2*2},
		{name: "flatten-gemm", opset: 13, in: []int64{2, 3, 4, 4}, prune: []prune{{"conv1", []int{1, 3}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu", nil, b.conv("conv1", x, 3, 4, 3, 1, true))
				f := b.op("Flatten", "flat", nil, b.mask(h, 4, 1, 4, 0, 2))
				return b.op("Gemm", "fc", []*onnx.Attribute{onnx.IntAttr("transB", 1)}, f, b.weight("fc_w", 5, 64), b.weight("fc_b", 5))
			},
			params: 2*3*9 + 2 + 5*32 + 5},
		{name: "reshape-matmul", opset: 13, in: []int64{1, 3, 4, 4}, prune: []prune{{"conv1", []int{0, 3}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu", nil, b.conv("conv1", x, 3, 4, 3, 1, true))
				f := b.op("Reshape", "flat", nil, b.mask(h, 4, 1, 4, 1, 2), b.g.AddInitializer("shape", onnx.NewInt64Tensor("", []int64{2}, []int64{1, 64})))
				return b.op("MatMul", "fc", nil, f, b.weight("fc_w", 64, 5))
			},
			params: 2*3*9 + 2 + 32*5},
		{name: "matmul-mlp-3d", opset: 13, in: []int64{2, 5, 10}, prune: []prune{{"mm1", []int{0, 1, 4, 7, 8, 15}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Add", "b1", nil, b.op("MatMul", "mm1", nil, x, b.weight("w1", 10, 16)), b.weight("bias1", 16))
				h = b.op("Relu", "relu", nil, b.op("Mul", "scale", nil, h, b.weight("s1", 16)))
				return b.op("MatMul", "mm2", nil, b.mask(h, 3, 2, 16, 2, 3, 5, 6, 9, 10, 11, 12, 13, 14), b.weight("w2", 16, 3))
			},
			params: 10*6 + 6 + 6 + 6*3},
		// A model saved after ORT's optimizer (its MatMul+Add fusion, as
		// tf2onnx also writes them): a 3-D activation reshaped to 2-D
		// around each Gemm, the channels on the last axis throughout, and
		// ORT's own Gelu.
		{name: "ort-optimized-mlp", opset: 13, in: []int64{2, 5, 10}, prune: []prune{{"fc1", []int{0, 3, 4, 9, 12}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				shape := func(name string, d ...int64) *onnx.Value {
					return b.g.AddInitializer(name, onnx.NewInt64Tensor("", []int64{int64(len(d))}, d))
				}
				h := b.op("Reshape", "flat", nil, x, shape("s1", -1, 10))
				h = b.op("Gemm", "fc1", nil, h, b.weight("w1", 10, 16), b.weight("b1", 16))
				b.m.Opsets = append(b.m.Opsets, onnx.OpsetID{Domain: "com.microsoft", Version: 1})
				unflat := b.op("Reshape", "unflat", nil, h, shape("s2", 2, 5, 16))
				gelu := b.g.NewNode("Gelu", "com.microsoft", "gelu", []*onnx.Value{unflat}, "gelu_out")
				b.g.Append(gelu)
				h = b.op("Mul", "scale", nil, gelu.Output(0), b.weight("s", 16))
				h = b.op("Reshape", "flat2", nil, h, shape("s3", 10, 16))
				return b.op("Gemm", "fc2", nil, b.mask(h, 2, 1, 16, 1, 2, 5, 6, 7, 8, 10, 11, 13, 14, 15), b.weight("w2", 16, 3), b.weight("b2", 3))
			},
			params: 10*5 + 5 + 5 + 5*3 + 3},
		{name: "gemm-mlp", opset: 13, in: []int64{4, 10}, prune: []prune{{"fc1", []int{2, 5, 6}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Gemm", "fc1", nil, x, b.weight("w1", 10, 8), b.weight("bias1", 8))
				h = b.op("Sigmoid", "sig", nil, h)
				return b.op("Gemm", "fc2", []*onnx.Attribute{onnx.IntAttr("transB", 1)}, b.mask(h, 2, 1, 8, 0, 1, 3, 4, 7), b.weight("w2", 3, 8), b.weight("bias2", 3))
			},
			params: 10*3 + 3 + 3*3 + 3},
		{name: "squeeze-excitation", opset: 13, in: []int64{1, 3, 5, 5}, prune: []prune{{"conv1", []int{0, 2, 3, 5}, 0}, {"se1", []int{1, 2}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu", nil, b.conv("conv1", x, 3, 6, 3, 1, true))
				p := b.op("GlobalAveragePool", "gap", nil, h)
				v := b.op("Reshape", "sq", nil, p, b.g.AddInitializer("shape2", onnx.NewInt64Tensor("", []int64{2}, []int64{1, 6})))
				// a second squeeze: mean over H, W without keepdims
				v2 := b.op("ReduceMean", "mean", []*onnx.Attribute{onnx.IntsAttr("axes", []int64{2, 3}), onnx.IntAttr("keepdims", 0)}, h)
				v = b.op("Add", "both", nil, v, v2)
				v = b.op("Relu", "serelu", nil, b.op("Gemm", "se1", []*onnx.Attribute{onnx.IntAttr("transB", 1)}, b.mask(v, 2, 1, 6, 1, 4), b.weight("se1_w", 4, 6), b.weight("se1_b", 4)))
				v = b.op("Sigmoid", "gate", nil, b.op("Gemm", "se2", nil, b.mask(v, 2, 1, 4, 0, 3), b.weight("se2_w", 4, 6), b.weight("se2_b", 6)))
				v = b.op("Unsqueeze", "unsq", nil, v, b.g.AddInitializer("axes", onnx.NewInt64Tensor("", []int64{2}, []int64{2, 3})))
				return b.conv("conv2", b.mask(b.op("Mul", "scale", nil, h, v), 4, 1, 6, 1, 4), 6, 3, 1, 1, true)
			},
			params: 4*3*9 + 4 + 2*4 + 2 + 2*4 + 4 + 3*4 + 3},
		// BlazeFace's blocks (tf2onnx): the residual stream widens by a
		// Concat with a constant block, and the Add ties the conv's first
		// channels to the stream and its last ones to the constant. The
		// constant here is random, not zero, so slicing the wrong part
		// shows.
		{name: "channel-pad-residual", opset: 13, in: []int64{1, 3, 6, 6}, prune: []prune{{"conv0", []int{0, 2, 3}, 0}, {"conv1", []int{1}, 5}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				r0 := b.op("Relu", "relu0", nil, b.conv("conv0", x, 3, 4, 3, 1, true))
				d := b.conv("dw", r0, 4, 4, 3, 4, true)
				p := b.conv("conv1", b.mask(d, 4, 1, 4, 1), 4, 6, 1, 1, true)
				wide := b.op("Concat", "pad", []*onnx.Attribute{onnx.IntAttr("axis", 1)}, r0, b.weight("padding", 1, 2, 6, 6))
				s := b.op("Relu", "relu1", nil, b.op("Add", "add", nil, p, wide))
				return b.conv("conv3", b.mask(s, 4, 1, 6, 1, 4), 6, 3, 1, 1, true)
			},
			params: 3*3*9 + 3 + 3*9 + 3 + 4*3 + 4 + 36 + 3*4 + 3},
		// YOLOv8's C2f block: a conv's output split in halves, the second
		// half a residual stream through a bottleneck, all concatenated:
		// the conv's channels fall in two groups.
		{name: "c2f-split-residual", opset: 13, in: []int64{1, 3, 5, 5}, prune: []prune{{"conv1", []int{1, 3}, 0}, {"convb", []int{0, 2, 3}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu", nil, b.conv("conv1", x, 3, 8, 3, 1, true))
				n := b.g.NewNode("Split", "", "split", []*onnx.Value{h, b.g.AddInitializer("halves", onnx.NewInt64Tensor("", []int64{2}, []int64{4, 4}))}, "s0", "s1")
				n.SetAttr(onnx.IntAttr("axis", 1))
				b.g.Append(n)
				s0, s1 := n.Output(0), n.Output(1)
				y := b.op("Add", "add", nil, s1, b.conv("convb", b.mask(s1, 4, 1, 4, 1), 4, 4, 1, 1, true))
				cat := b.op("Concat", "cat", []*onnx.Attribute{onnx.IntAttr("axis", 1)}, s0, s1, y)
				return b.conv("conv2", b.mask(cat, 4, 1, 12, 0, 2, 5, 9), 12, 4, 1, 1, true)
			},
			params: 5*3*9 + 5 + 3*3 + 3 + 4*8 + 4},
		// tf2onnx leaves ops in NHWC between Transposes: the channels
		// move to the last axis and back.
		{name: "nhwc-transposes", opset: 13, in: []int64{1, 3, 5, 5}, prune: []prune{{"conv1", []int{0, 2, 3, 5}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu", nil, b.conv("conv1", x, 3, 6, 3, 1, true))
				h = b.op("Transpose", "to_nhwc", []*onnx.Attribute{onnx.IntsAttr("perm", []int64{0, 2, 3, 1})}, h)
				h = b.op("Mul", "scale", nil, h, b.weight("s", 6))
				h = b.op("Transpose", "to_nchw", []*onnx.Attribute{onnx.IntsAttr("perm", []int64{0, 3, 1, 2})}, h)
				return b.conv("conv2", b.mask(h, 4, 1, 6, 1, 4), 6, 4, 1, 1, true)
			},
			params: 4*3*9 + 4 + 4 + 4*4 + 4},
		{name: "conv-transpose", opset: 13, in: []int64{1, 3, 4, 4}, prune: []prune{{"conv1", []int{0, 4, 5}, 0}, {"up", []int{1, 2}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu1", nil, b.conv("conv1", x, 3, 6, 3, 1, true))
				u := b.op("ConvTranspose", "up", []*onnx.Attribute{onnx.IntsAttr("strides", []int64{2, 2})}, b.mask(h, 4, 1, 6, 1, 2, 3), b.weight("up_w", 6, 4, 2, 2), b.weight("up_b", 4))
				u = b.op("Relu", "relu2", nil, u)
				return b.conv("conv2", b.mask(u, 4, 1, 4, 0, 3), 4, 3, 1, 1, true)
			},
			params: 3*3*9 + 3 + 3*2*4 + 2 + 3*2 + 3},
		// Resize to sizes that hold the channel count (torchvision's
		// LRASPP, M-LSD): the sizes constant's channel entry is rewritten.
		{name: "resize-sizes", opset: 13, in: []int64{1, 3, 4, 4}, prune: []prune{{"conv1", []int{0, 2, 3, 5}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu1", nil, b.conv("conv1", x, 3, 6, 3, 1, true))
				sizes := b.g.AddInitializer("sizes", onnx.NewInt64Tensor("", []int64{4}, []int64{1, 6, 8, 8}))
				r := b.op("Resize", "up", nil, h, nil, nil, sizes)
				return b.conv("conv2", b.mask(r, 4, 1, 6, 1, 4), 6, 4, 1, 1, true)
			},
			params: 4*3*9 + 4 + 4*4 + 4},
		// Opset 18's axes: sizes cover H and W only, nothing to rewrite.
		{name: "resize-axes", opset: 18, in: []int64{1, 3, 4, 4}, prune: []prune{{"conv1", []int{1, 4}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu1", nil, b.conv("conv1", x, 3, 6, 3, 1, true))
				sizes := b.g.AddInitializer("sizes", onnx.NewInt64Tensor("", []int64{2}, []int64{8, 8}))
				r := b.op("Resize", "up", []*onnx.Attribute{onnx.IntsAttr("axes", []int64{-2, -1})}, h, nil, nil, sizes)
				return b.conv("conv2", b.mask(r, 4, 1, 6, 0, 2, 3, 5), 6, 4, 1, 1, true)
			},
			params: 2*3*9 + 2 + 4*2 + 4},
		// A Slice of channels [2, 6) (YOLOv4-tiny's route groups, RAFT's
		// context split) beside a conv reading them all: the groups are cut
		// at the bounds, and the bounds follow what is kept before and in.
		{name: "slice-channels", opset: 13, in: []int64{1, 3, 5, 5}, prune: []prune{{"conv1", []int{0, 3}, 2}, {"conv1", []int{1}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu1", nil, b.conv("conv1", x, 3, 8, 3, 1, true))
				ints := func(name string, v ...int64) *onnx.Value {
					return b.g.AddInitializer(name, onnx.NewInt64Tensor("", []int64{int64(len(v))}, v))
				}
				sl := b.op("Slice", "slice", nil, h, ints("starts", 2), ints("ends", 6), ints("axes", 1))
				y := b.conv("conv2", b.mask(sl, 4, 1, 4, 1, 2), 4, 3, 1, 1, true)
				z := b.conv("conv3", b.mask(h, 4, 1, 8, 0, 3, 4), 8, 3, 1, 1, true)
				return b.op("Add", "add", nil, y, z)
			},
			params: 5*3*9 + 5 + 3*2 + 3 + 3*5 + 3},
		// Opset 9's attributes, an end past the channel count.
		{name: "slice-attrs-opset9", opset: 9, in: []int64{1, 3, 5, 5}, prune: []prune{{"conv1", []int{0, 2}, 4}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu1", nil, b.conv("conv1", x, 3, 8, 3, 1, true))
				sl := b.op("Slice", "slice", []*onnx.Attribute{onnx.IntsAttr("starts", []int64{-4}), onnx.IntsAttr("ends", []int64{1 << 40}), onnx.IntsAttr("axes", []int64{1})}, h)
				return b.conv("conv2", b.mask(sl, 4, 1, 4, 1, 3), 4, 3, 1, 1, true)
			},
			params: 6*3*9 + 6 + 3*2 + 3},
		// A grouped conv (ResNeXt, RegNet): conv1's channels lose one in
		// each of its 2 groups, its own output channels two in each.
		{name: "grouped-conv", opset: 13, in: []int64{1, 3, 5, 5}, prune: []prune{{"conv1", []int{0, 2, 3, 4, 6, 7}, 0}, {"gconv", []int{1, 2, 5, 7}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu1", nil, b.conv("conv1", x, 3, 8, 3, 1, true))
				h = b.op("Relu", "relu2", nil, b.conv("gconv", b.mask(h, 4, 1, 8, 1, 5), 8, 8, 3, 2, true))
				return b.conv("conv3", b.mask(h, 4, 1, 8, 0, 3, 4, 6), 8, 3, 1, 1, true)
			},
			params: 6*3*9 + 6 + 4*3*9 + 4 + 3*4 + 3},
		// Depthwise with a channel multiplier: its input side cannot lose
		// channels (one per group), its outputs one in each group of two.
		{name: "depthwise-multiplier", opset: 13, in: []int64{1, 3, 5, 5}, prune: []prune{{"dwm", []int{0, 3, 4, 6}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu1", nil, b.conv("conv1", x, 3, 4, 3, 1, true))
				h = b.op("Relu", "relu2", nil, b.conv("dwm", h, 4, 8, 3, 4, true))
				return b.conv("conv3", b.mask(h, 4, 1, 8, 1, 2, 5, 7), 8, 3, 1, 1, true)
			},
			params: 4*3*9 + 4 + 4*1*9 + 4 + 3*4 + 3},
		// A Slice along H passes the channels through.
		{name: "slice-spatial", opset: 13, in: []int64{1, 3, 5, 5}, prune: []prune{{"conv1", []int{0, 2, 3}, 0}},
			build: func(b *mb, x *onnx.Value) *onnx.Value {
				h := b.op("Relu", "relu1", nil, b.conv("conv1", x, 3, 4, 3, 1, true))
				one := func(name string, v int64) *onnx.Value {
					return b.g.AddInitializer(name, onnx.NewInt64Tensor("", []int64{1}, []int64{v}))
				}
				sl := b.op("Slice", "slice", nil, h, one("starts", 1), one("ends", 4), one("axes", 2))
				return b.conv("conv2", b.mask(sl, 4, 1, 4, 1), 4, 3, 1, 1, true)
			},
			params: 3*3*9 + 3 + 3*3 + 3},
	}
}

func group(t *testing.T, gs []*chandep.Group, producer string) *chandep.Group {
	t.Helper()
	return groupAt(t, gs, producer, 0)
}

// groupAt returns the group that holds output channel at of producer.
func groupAt(t *testing.T, gs []*chandep.Group, producer string, at int) *chandep.Group {
	t.Helper()
	for _, g := range gs {
		for _, p := range g.Producers {
			if p.Node.Name == producer && p.Input == 1 && p.Offset <= at && at < p.Offset+p.Count {
				return g
			}
		}
	}
	t.Fatalf("no group holds output channel %d of %s", at, producer)
	return nil
}

func input(shape []int64) *interp.Tensor {
	s := make([]int, len(shape))
	for i, d := range shape {
		s[i] = int(d)
	}
	x := interp.Make(onnx.Float, s...)
	r := rand.New(rand.NewSource(7))
	for i := range x.Floats() {
		x.Floats()[i] = float32(r.NormFloat64())
	}
	return x
}

func params(m *onnx.Model) int64 {
	var n int64
	for _, v := range m.Graph.Initializers {
		if v.Const != nil && v.Const.DataType == onnx.Float && v.NumUses() > 0 {
			n += v.Const.NumElements()
		}
	}
	return n
}

// TestRemoveMatchesMaskedOracle prunes each made-up model and checks its
// outputs against the unpruned model with the removed channels masked to
// zero right before every layer that mixes channels (in the interpreter and
// in ONNX Runtime), the parameter count, and that the shapes Remove wrote
// are the ones inference finds.
func TestRemoveMatchesMaskedOracle(t *testing.T) {
	for _, c := range chanCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // mostly waiting for ONNX Runtime to start
			b, x := newMB(c.opset, c.in...)
			m := b.output(c.build(b, x))
			ob, ox := newMB(c.opset, c.in...)
			ob.masking = true
			oracle := ob.output(c.build(ob, ox))

			gs, err := chandep.Analyze(m)
			if err != nil {
				t.Fatal(err)
			}
			var rep strings.Builder
			chandep.Describe(&rep, gs)
			t.Log("\n" + rep.String())
			in := input(c.in)
			before := passtest.Eval(t, m, in)
			var pruned []*chandep.Group // found before any Remove moves the channels
			for _, p := range c.prune {
				pruned = append(pruned, groupAt(t, gs, p.producer, p.at))
			}
			for i, p := range c.prune {
				g := pruned[i]
				if g.Pinned != "" {
					t.Fatalf("group of %s pinned: %s", p.producer, g.Pinned)
				}
				if err := chandep.Remove(m, g, p.keep); err != nil {
					t.Fatal(err)
				}
				if g.Channels != len(p.keep) {
					t.Fatalf("group of %s has %d channels after Remove, want %d", p.producer, g.Channels, len(p.keep))
				}
			}
			got, want := passtest.Eval(t, m, in), passtest.Eval(t, oracle, in)
			if msg := testutil.Mismatch(got, want, 1e-5, 1e-4, -1); msg != "" {
				t.Fatalf("pruned vs masked oracle: %s", msg)
			}
			// The oracle must differ from the unpruned model, or it proves nothing.
			if testutil.Mismatch(before, want, 1e-5, 1e-4, -1) == "" {
				t.Fatal("masking the removed channels changes nothing: the case cannot fail")
			}
			if got := params(m); got != c.params {
				t.Errorf("%d parameters after pruning, want %d", got, c.params)
			}
			checkShapes(t, m)
			passtest.SameInORT(t, m, in, got, 1e-5, 1e-4, -1)
		})
	}
}

// checkShapes re-infers the pruned model's shapes from scratch and compares
// them with the types Remove wrote.
func checkShapes(t *testing.T, m *onnx.Model) {
	t.Helper()
	fresh := m.Clone()
	for _, n := range fresh.Graph.Nodes {
		for _, o := range n.Outputs() {
			if o != nil && !o.IsGraphOutput() {
				o.Type = nil
			}
		}
	}
	if _, err := interp.InferShapes(fresh, interp.ShapeOptions{Strict: true}); err != nil {
		t.Fatal(err)
	}
	for i, n := range m.Graph.Nodes {
		for j, o := range n.Outputs() {
			if o == nil || o.Type == nil || o.IsGraphOutput() {
				continue
			}
			f := fresh.Graph.Nodes[i].Output(j)
			if f.Type == nil || !f.Type.HasShape() {
				continue // inference from scratch knows less than the file (ORT checks these)
			}
			if !o.Type.Equal(f.Type) {
				t.Errorf("%s: Remove wrote %v, inference finds %v", o.Name, o.Type, f.Type)
			}
		}
	}
}

// TestPinned: channels that reach a graph output (through a Transpose too), a Softmax,
// a grouped conv, a Shape or a layer with a shared weight are pinned, and Remove refuses them.
func TestPinned(t *testing.T) {
	cases := []struct {
		name, producer, reason string
		build                  func(b *mb, x *onnx.Value) *onnx.Value
	}{
		{"graph-output", "conv1", "graph output", func(b *mb, x *onnx.Value) *onnx.Value {
			return b.op("Relu", "r", nil, b.conv("conv1", x, 3, 4, 3, 1, true))
		}},
		// Pooling after a Transpose would pool the channels together.
		{"pool-after-transpose", "conv1", "off its channel axis", func(b *mb, x *onnx.Value) *onnx.Value {
			h := b.op("Transpose", "tr", []*onnx.Attribute{onnx.IntsAttr("perm", []int64{0, 3, 2, 1})}, b.conv("conv1", x, 3, 4, 3, 1, true))
			h = b.op("MaxPool", "pool", []*onnx.Attribute{onnx.IntsAttr("kernel_shape", []int64{2, 2})}, h)
			return b.op("ReduceSum", "sum", nil, h)
		}},
		{"transpose-to-output", "conv1", "graph output", func(b *mb, x *onnx.Value) *onnx.Value {
			h := b.op("Transpose", "tr", []*onnx.Attribute{onnx.IntsAttr("perm", []int64{0, 2, 3, 1})}, b.conv("conv1", x, 3, 4, 3, 1, true))
			return b.op("Relu", "r", nil, h)
		}},
		{"softmax", "conv1", "Softmax", func(b *mb, x *onnx.Value) *onnx.Value {
			h := b.op("Softmax", "sm", []*onnx.Attribute{onnx.IntAttr("axis", 1)}, b.conv("conv1", x, 3, 4, 3, 1, true))
			return b.conv("conv2", h, 4, 2, 1, 1, false)
		}},
		// A grouped conv reading two groups' channels: each would have
		// to keep as many in every group of the conv as the other.
		{"grouped-conv-two-groups", "conv1", "grouped", func(b *mb, x *onnx.Value) *onnx.Value {
			cat := b.op("Concat", "cat", []*onnx.Attribute{onnx.IntAttr("axis", 1)}, b.conv("conv1", x, 3, 2, 3, 1, true), b.conv("conv0", x, 3, 2, 3, 1, true))
			return b.conv("conv2", cat, 4, 2, 1, 2, false)
		}},
		{"shape-read", "conv1", "Shape", func(b *mb, x *onnx.Value) *onnx.Value {
			h := b.conv("conv1", x, 3, 4, 3, 1, true)
			s := b.op("Cast", "cast", []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Float))}, b.op("Shape", "shape", nil, h))
			return b.op("Add", "add", nil, b.op("ReduceSum", "sum", nil, b.conv("conv2", h, 4, 2, 1, 1, false)), b.op("ReduceSum", "sum2", nil, s))
		}},
		// Every other channel: Remove could not rewrite the bounds.
		{"slice-step", "conv1", "with a step", func(b *mb, x *onnx.Value) *onnx.Value {
			one := func(name string, v int64) *onnx.Value {
				return b.g.AddInitializer(name, onnx.NewInt64Tensor("", []int64{1}, []int64{v}))
			}
			sl := b.op("Slice", "slice", nil, b.conv("conv1", x, 3, 4, 3, 1, true), one("starts", 0), one("ends", 4), one("axes", 1), one("steps", 2))
			return b.conv("conv2", sl, 2, 2, 1, 1, false)
		}},
		// sizes that change the channel count (or are computed) pin it.
		{"resize-channels", "conv1", "resizes the channel axis", func(b *mb, x *onnx.Value) *onnx.Value {
			sizes := b.g.AddInitializer("sizes", onnx.NewInt64Tensor("", []int64{4}, []int64{1, 8, 10, 10}))
			h := b.op("Resize", "up", nil, b.conv("conv1", x, 3, 4, 3, 1, true), nil, nil, sizes)
			return b.conv("conv2", h, 8, 2, 1, 1, false)
		}},
		{"resize-computed-sizes", "conv1", "non-constant sizes", func(b *mb, x *onnx.Value) *onnx.Value {
			sizes := b.g.AddInput("sizes", onnx.TensorType(onnx.Int64, onnx.ShapeOf(4)))
			h := b.op("Resize", "up", nil, b.conv("conv1", x, 3, 4, 3, 1, true), nil, nil, sizes)
			return b.conv("conv2", h, 4, 2, 1, 1, false)
		}},
		// conv1's last two channels meet a graph input's: they stay (its
		// first three, tied to conv0's, are checked free below).
		{"meets-input-channels", "conv1@3", "no group", func(b *mb, x *onnx.Value) *onnx.Value {
			r0 := b.op("Relu", "relu0", nil, b.conv("conv0", x, 3, 3, 3, 1, true))
			wide := b.op("Concat", "pad", []*onnx.Attribute{onnx.IntAttr("axis", 1)}, r0, b.g.AddInput("x2", onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 2, 5, 5))))
			s := b.op("Add", "add", nil, b.conv("conv1", r0, 3, 5, 3, 1, true), wide)
			return b.conv("conv2", s, 5, 2, 1, 1, false)
		}},
		// conv2 and conv3 share one weight (tied layers): slicing conv2's
		// input channels would copy it.
		{"tied-weights", "conv1", "shared with another node", func(b *mb, x *onnx.Value) *onnx.Value {
			h := b.op("Relu", "r", nil, b.conv("conv1", x, 3, 4, 3, 1, true))
			y := b.conv("conv2", h, 4, 4, 1, 1, false)
			z := b.op("Conv", "conv3", nil, b.op("Relu", "r2", nil, y), y.Producer().Input(1))
			return b.op("ReduceSum", "sum", nil, z)
		}},
		{"residual-with-pinned-side", "convA", "graph output", func(b *mb, x *onnx.Value) *onnx.Value {
			a := b.conv("convA", x, 3, 4, 3, 1, true)
			c := b.conv("convB", x, 3, 4, 3, 1, true)
			return b.op("Add", "add", nil, a, c)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, x := newMB(13, 1, 3, 5, 5)
			m := b.output(c.build(b, x))
			gs, err := chandep.Analyze(m)
			if err != nil {
				t.Fatal(err)
			}
			producer, at, _ := strings.Cut(c.producer, "@")
			ch, _ := strconv.Atoi(at)
			g := groupAt(t, gs, producer, ch)
			if !strings.Contains(g.Pinned, c.reason) {
				t.Fatalf("group of %s pinned %q, want a reason naming %q", c.producer, g.Pinned, c.reason)
			}
			before := encode(t, m)
			if err := chandep.Remove(m, g, []int{0}); err == nil || !strings.Contains(err.Error(), "pinned") {
				t.Fatalf("Remove of a pinned group: err %v", err)
			}
			if !bytes.Equal(before, encode(t, m)) {
				t.Fatal("a refused Remove changed the model")
			}
			if c.name == "meets-input-channels" {
				if g := groupAt(t, gs, "conv1", 0); g.Pinned != "" || g.Channels != 3 {
					t.Fatalf("conv1's first channels: %v, want a free group of 3 tied to conv0's", g)
				}
			}
		})
	}
}

func encode(t *testing.T, m *onnx.Model) []byte {
	t.Helper()
	b, err := onnx.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// analyzeCase builds the chanCases model of that name and analyzes it.
func analyzeCase(t *testing.T, name string) (*onnx.Model, []*chandep.Group) {
	t.Helper()
	for _, c := range chanCases() {
		if c.name == name {
			b, x := newMB(c.opset, c.in...)
			m := b.output(c.build(b, x))
			gs, err := chandep.Analyze(m)
			if err != nil {
				t.Fatal(err)
			}
			return m, gs
		}
	}
	t.Fatalf("no case %q", name)
	return nil, nil
}

// TestRemoveRefusesLeavesModelUnchanged: bad keep lists, a keep that would
// empty a Split output, a group from another model: errors, and the model
// (and a clone sharing its payloads) is unchanged.
func TestRemoveRefusesLeavesModelUnchanged(t *testing.T) {
	m, gs := analyzeCase(t, "split-sizes") // output s0 holds channels 0..2
	g := group(t, gs, "conv1")
	other, _ := newMB(13, 1)
	before := encode(t, m)
	for _, bad := range []struct {
		keep []int
		m    *onnx.Model
		want string
	}{
		{nil, m, "empty"},
		{[]int{2, 1}, m, "sorted"},
		{[]int{1, 1}, m, "sorted"},
		{[]int{0, 8}, m, "out of range"},
		{[]int{-1}, m, "out of range"},
		{[]int{3, 4, 5}, m, "no channels"}, // all of s0 removed
		{[]int{0}, other.m, "another model"},
	} {
		err := chandep.Remove(bad.m, g, bad.keep)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("keep %v: err %v, want %q", bad.keep, err, bad.want)
		}
		if !bytes.Equal(before, encode(t, m)) {
			t.Fatalf("keep %v: the refused Remove changed the model", bad.keep)
		}
	}
	// Pruning a clone leaves the original (which shares payloads) intact.
	clone := m.Clone()
	cg, err := chandep.Analyze(clone)
	if err != nil {
		t.Fatal(err)
	}
	if err := chandep.Remove(clone, group(t, cg, "conv1"), []int{0, 4}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, encode(t, m)) {
		t.Fatal("pruning a clone changed the original")
	}
}

func TestDescribe(t *testing.T) {
	c := chanCases()[1]
	b, x := newMB(c.opset, c.in...)
	m := b.output(c.build(b, x))
	gs, err := chandep.Analyze(m)
	if err != nil {
		t.Fatal(err)
	}
	var w strings.Builder
	chandep.Describe(&w, gs)
	want := []string{"6 channels, producers [conv0 convA]", "4 channels, producers [conv3]", "pinned: graph output"}
	for _, s := range want {
		if !strings.Contains(w.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, w.String())
		}
	}
}

// TestAnalysisInPipeline: a pass that requires chandep.Analysis gets the
// groups, prunes one and, after Invalidate, sees the new channel count.
func TestAnalysisInPipeline(t *testing.T) {
	c := chanCases()[0]
	b, x := newMB(c.opset, c.in...)
	m := b.output(c.build(b, x))
	var seen []int
	pass := &passes.Pass{Name: "prune-test", Requires: []*passes.Analysis{chandep.Analysis}, Run: func(pc *passes.Context, m *onnx.Model) (int, error) {
		gs, err := passes.Get[[]*chandep.Group](pc, chandep.Analysis)
		if err != nil {
			return 0, err
		}
		g := group(t, gs, "conv1")
		seen = append(seen, g.Channels)
		if err := chandep.Remove(m, g, c.prune[0].keep); err != nil {
			return 0, err
		}
		pc.Invalidate()
		gs, err = passes.Get[[]*chandep.Group](pc, chandep.Analysis)
		if err != nil {
			return 0, err
		}
		seen = append(seen, group(t, gs, "conv1").Channels)
		return 1, nil
	}}
	p := &passes.Pipeline{Steps: []passes.Step{{Pass: pass, Options: passes.Values{}, Text: pass.Name}}}
	if _, err := p.Run(context.Background(), m, passes.Config{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []int{6, 4}) {
		t.Fatalf("channels seen %v, want [6 4]", seen)
	}
}

// TestGroupedConvKeepsAsManyPerGroup: a group read by a grouped conv has
// its blocks, and Remove refuses a keep with more channels in one of the
// conv's groups than in another, leaving the model unchanged.
func TestGroupedConvKeepsAsManyPerGroup(t *testing.T) {
	m, gs := analyzeCase(t, "grouped-conv")
	g := group(t, gs, "conv1")
	if g.Blocks != 2 || g.Pinned != "" {
		t.Fatalf("conv1's group: %d blocks, pinned %q; want 2, free", g.Blocks, g.Pinned)
	}
	before := encode(t, m)
	if err := chandep.Remove(m, g, []int{0, 1, 2, 4}); err == nil || !strings.Contains(err.Error(), "as many in each of its 2 groups") {
		t.Fatalf("keep 3 channels of group 0 and 1 of group 1: err %v, want a refusal", err)
	}
	if !bytes.Equal(before, encode(t, m)) {
		t.Fatal("the refused Remove changed the model")
	}
}
