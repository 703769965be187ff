package quantize_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// TestSubgraphWeights pins what the README says: the weight-only modes
// (int8-weights, int4) quantize weights wherever they are, the main graph
// and an If's branches alike (Silero VAD keeps every layer in If branches,
// as Constant nodes: the branches here hold one of each); fp16 rewrites the
// main graph only. The model still computes nearly the same, down either
// branch.
func TestSubgraphWeights(t *testing.T) {
	weights := func(name string, seed int) *onnx.Tensor {
		w := make([]float32, 64)
		for i := range w {
			w[i] = float32(math.Sin(float64(i*seed+1))) * 0.5
		}
		return onnx.NewFloatTensor(name, []int64{8, 8}, w)
	}
	build := func() *onnx.Model {
		b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8)))
		h := b.Op("MatMul", nil, x, b.G.AddInitializer("w_main", weights("w_main", 3)))
		cond := b.Op("Greater", nil, b.Op("ReduceSum", []*onnx.Attribute{onnx.IntAttr("keepdims", 0)}, h), b.Scalar(0))
		// One branch holds its weight as an initializer, the other in a
		// Constant node.
		y := b.If(cond, func(g *onnx.Graph) *onnx.Value {
			return passtest.Node(g, "MatMul", "mm_then", h, g.AddInitializer("w_then", weights("w_then", 5)))
		}, func(g *onnx.Graph) *onnx.Value {
			c := g.NewNode("Constant", "", "const_else", nil, "w_else")
			c.SetAttr(&onnx.Attribute{Name: "value", Type: onnx.AttrTensor, Tensor: weights("", 7)})
			g.Append(c)
			return passtest.Node(g, "MatMul", "mm_else", h, c.Output(0))
		})
		return b.Output(y, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8)))
	}
	floatWeight := func(n *onnx.Node) bool {
		ct := passes.ConstTensor(n.Input(1))
		return ct != nil && ct.DataType == onnx.Float
	}
	for _, mode := range []string{"int8-weights", "int4", "fp16"} {
		t.Run(mode, func(t *testing.T) {
			m := build()
			q, _, _ := quantizeWith(t, m, "quantize(mode="+mode+",report=0)")
			var mainMM, branchMM int
			for _, g := range q.Graphs() {
				for _, n := range g.Nodes {
					if n.OpType != "MatMul" {
						continue
					}
					if g == q.Graph {
						mainMM++
						if floatWeight(n) {
							t.Errorf("main graph %s: weight still a float32 constant", n.Name)
						}
						continue
					}
					branchMM++
					if floatWeight(n) != (mode == "fp16") {
						t.Errorf("branch %s: weight a float32 constant: %v; the README says weight-only modes quantize branches and fp16 leaves them", n.Name, floatWeight(n))
					}
				}
			}
			if mainMM != 1 || branchMM != 2 {
				t.Errorf("%d MatMuls in the main graph, %d in branches; want 1 and 2", mainMM, branchMM)
			}
			for _, x := range []*interp.Tensor{passtest.Input(1, 8), negate(passtest.Input(1, 8))} {
				want := passtest.Eval(t, m, x)
				got := passtest.Eval(t, q, x)
				cos, _ := testutil.Cosine(got, want)
				floor := 0.98
				if mode == "int4" { // two int4 layers in a row (seven levels a side): 0.977 here
					floor = 0.95
				}
				testutil.AtLeast(t, mode+": output cosine", cos, floor)
			}
		})
	}
}

// negate is -x, which takes the If's other branch for these weights.
func negate(x *interp.Tensor) *interp.Tensor {
	for i := range x.Floats() {
		x.Floats()[i] = -x.Floats()[i]
	}
	return x
}

// TestRecurrentWeights: the weight-only modes quantize an LSTM's and a
// GRU's W and R (per channel along gates·hidden; int4 in blocks along the
// input), which DequantizeLinear feeds the op; the bias stays float, and
// ONNX Runtime computes the result as the interpreter does.
func TestRecurrentWeights(t *testing.T) {
	vals := func(n, seed int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Sin(float64(i*seed+3))) * 0.4
		}
		return v
	}
	for _, tc := range []struct {
		op    string
		gates int64
	}{{"LSTM", 4}, {"GRU", 3}} {
		for _, mode := range []string{"int8-weights", "int4"} {
			t.Run(tc.op+"/"+mode, func(t *testing.T) {
				const seq, in, hidden = 5, 40, 8
				b, x := passtest.NewBuilder(14, onnx.TensorType(onnx.Float, onnx.ShapeOf(seq, 1, in)))
				w := b.G.AddInitializer("W", onnx.NewFloatTensor("", []int64{1, tc.gates * hidden, in}, vals(int(tc.gates*hidden*in), 7)))
				r := b.G.AddInitializer("R", onnx.NewFloatTensor("", []int64{1, tc.gates * hidden, hidden}, vals(int(tc.gates*hidden*hidden), 11)))
				bias := b.G.AddInitializer("B", onnx.NewFloatTensor("", []int64{1, 2 * tc.gates * hidden}, vals(int(2*tc.gates*hidden), 13)))
				y := b.Op(tc.op, []*onnx.Attribute{onnx.IntAttr("hidden_size", hidden)}, x, w, r, bias)
				m := b.Output(y, onnx.TensorType(onnx.Float, onnx.ShapeOf(seq, 1, 1, hidden)))
				q, _, _ := quantizeWith(t, m, "quantize(mode="+mode+",report=0)")
				for _, n := range q.Graph.Nodes {
					if n.OpType != tc.op {
						continue
					}
					for i, name := range []string{"W", "R"} {
						if p := n.Input(i + 1).Producer(); p == nil || p.OpType != "DequantizeLinear" {
							t.Errorf("%s: %s not read through DequantizeLinear", tc.op, name)
						}
					}
					if ct := passes.ConstTensor(n.Input(3)); ct == nil || ct.DataType != onnx.Float {
						t.Errorf("%s: bias no longer a float32 constant", tc.op)
					}
				}
				xin := passtest.Input(seq, 1, in)
				want, got := passtest.Eval(t, m, xin), passtest.Eval(t, q, xin)
				cos, _ := testutil.Cosine(got, want)
				testutil.AtLeast(t, mode+": output cosine", cos, 0.99)
				passtest.SameInORT(t, q, xin, got, 1e-5, 1e-4, 1e-5)
			})
		}
	}
}

// TestSharedBranchWeight: a main-graph weight that both If branches read
// gets one DequantizeLinear in the main graph, which both read (one in a
// branch would be invisible to the other: the pass failed with "left the
// graph inconsistent" on Silero VAD v4 after the default pipeline), and
// the float weight goes.
func TestSharedBranchWeight(t *testing.T) {
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8)))
	w := make([]float32, 64)
	for i := range w {
		w[i] = float32(math.Cos(float64(3*i+1))) * 0.5
	}
	shared := b.G.AddInitializer("w_shared", onnx.NewFloatTensor("", []int64{8, 8}, w))
	cond := b.Op("Greater", nil, b.Op("ReduceSum", []*onnx.Attribute{onnx.IntAttr("keepdims", 0)}, x), b.Scalar(0))
	y := b.If(cond, func(g *onnx.Graph) *onnx.Value {
		return passtest.Node(g, "MatMul", "mm_then", passtest.Node(g, "Relu", "relu_then", x), shared)
	}, func(g *onnx.Graph) *onnx.Value {
		return passtest.Node(g, "MatMul", "mm_else", passtest.Node(g, "Sigmoid", "sigmoid_else", x), shared)
	})
	m := b.Output(y, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8)))
	q, _, _ := quantizeWith(t, m, "quantize(mode=int8-weights,report=0)")
	var reads []*onnx.Value
	for _, g := range q.Graphs() {
		for _, n := range g.Nodes {
			if n.OpType == "MatMul" {
				reads = append(reads, n.Input(1))
			}
		}
	}
	if len(reads) != 2 || reads[0] != reads[1] || reads[0].Producer() == nil || reads[0].Producer().OpType != "DequantizeLinear" || reads[0].Graph() != q.Graph {
		t.Fatalf("the branches' MatMuls read %v: want one DequantizeLinear output of the main graph", reads)
	}
	for _, v := range q.Graph.Initializers {
		if v.Const != nil && v.Const.DataType == onnx.Float && v.Const.NumElements() == 64 {
			t.Errorf("float initializer %s left", v.Name)
		}
	}
	for _, xin := range []*interp.Tensor{passtest.Input(1, 8), negate(passtest.Input(1, 8))} {
		want, got := passtest.Eval(t, m, xin), passtest.Eval(t, q, xin)
		cos, _ := testutil.Cosine(got, want)
		testutil.AtLeast(t, "output cosine", cos, 0.99)
		passtest.SameInORT(t, q, xin, got, 1e-5, 1e-4, 1e-5)
	}
}

// TestFP16NothingComputes: when the main graph's float nodes only move
// data (Silero VAD: an If whose branches hold the layers, then Identities),
// fp16 leaves the model as it is and says why, rather than rounding the
// outputs through Casts for nothing.
func TestFP16NothingComputes(t *testing.T) {
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8)))
	cond := b.G.AddInitializer("cond", onnx.NewTensor("", onnx.Bool, nil, []byte{1}))
	relu := func(g *onnx.Graph) *onnx.Value { return passtest.Node(g, "Relu", "relu_"+g.Name, x) }
	m := b.Output(b.Op("Identity", nil, b.If(cond, relu, relu)), onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8)))
	q, log, _ := quantizeWith(t, m, "quantize(mode=fp16,report=0)")
	if got, want := fmt.Sprint(passtest.Ops(q)), fmt.Sprint(passtest.Ops(m)); got != want {
		t.Errorf("fp16 changed a model whose main graph computes nothing: ops %s, were %s\n%s", got, want, log)
	}
	if !strings.Contains(log, "nothing computes in the main graph") {
		t.Errorf("the log does not say why nothing changed:\n%s", log)
	}
}

// TestComputedRecurrentWeights: an LSTM whose W a node computes (PyTorch's
// gate slices, here an Identity) keeps it float, and the log says to run
// default first; after default the same LSTM is quantized.
func TestComputedRecurrentWeights(t *testing.T) {
	const seq, in, hidden = 3, 6, 4
	build := func() *onnx.Model {
		b, x := passtest.NewBuilder(14, onnx.TensorType(onnx.Float, onnx.ShapeOf(seq, 1, in)))
		v := make([]float32, 4*hidden*in)
		for i := range v {
			v[i] = float32(math.Sin(float64(i))) * 0.3
		}
		w := b.Op("Identity", nil, b.G.AddInitializer("W", onnx.NewFloatTensor("", []int64{1, 4 * hidden, in}, v)))
		r := b.G.AddInitializer("R", onnx.NewFloatTensor("", []int64{1, 4 * hidden, hidden}, v[:4*hidden*hidden]))
		y := b.Op("LSTM", []*onnx.Attribute{onnx.IntAttr("hidden_size", hidden)}, x, w, r)
		return b.Output(y, onnx.TensorType(onnx.Float, onnx.ShapeOf(seq, 1, 1, hidden)))
	}
	dq := func(m *onnx.Model) int { return passtest.Ops(m)["DequantizeLinear"] }
	q, log, _ := quantizeWith(t, build(), "quantize(mode=int8-weights,report=0)")
	if dq(q) != 1 || !strings.Contains(log, "1 LSTM/GRU/RNN weights are computed in the graph") || !strings.Contains(log, "run default first") {
		t.Errorf("%d DequantizeLinear (want 1: R only), log:\n%s", dq(q), log)
	}
	q, log, _ = quantizeWith(t, build(), "default,quantize(mode=int8-weights,report=0)")
	if dq(q) != 2 || strings.Contains(log, "computed in the graph") {
		t.Errorf("after default: %d DequantizeLinear (want 2: W and R), log:\n%s", dq(q), log)
	}
}

// TestFP16KeepsQDQGroups: float16 after static int8 leaves the ops between
// a dequantized activation and a QuantizeLinear in float32 (the integer
// kernel ONNX Runtime and TensorRT make of them), while after weight-only
// int8 the layers still compute in float16 on their dequantized weights.
func TestFP16KeepsQDQGroups(t *testing.T) {
	build := func() *onnx.Model {
		b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 2, 6, 6)))
		w := make([]float32, 4*2*3*3)
		for i := range w {
			w[i] = float32(math.Sin(float64(i))) * 0.4
		}
		c := b.Op("Conv", []*onnx.Attribute{onnx.IntsAttr("pads", []int64{1, 1, 1, 1})}, x, b.G.AddInitializer("w", onnx.NewFloatTensor("", []int64{4, 2, 3, 3}, w)))
		return b.Output(b.Op("Relu", nil, c), onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4, 6, 6)))
	}
	convType := func(m *onnx.Model) onnx.DataType {
		for _, n := range m.Graph.Nodes {
			if n.OpType == "Conv" {
				return passes.ElemType(n.Output(0))
			}
		}
		return onnx.Undefined
	}
	static, log, _ := quantizeWith(t, build(), "quantize(mode=int8,report=0),quantize(mode=fp16,report=0)")
	if dt := convType(static); dt != onnx.Float {
		t.Errorf("after static int8, fp16 made the Conv %s (want float32 inside its QDQ group); ops %v\n%s", dt, passtest.Ops(static), log)
	}
	weights, log, _ := quantizeWith(t, build(), "quantize(mode=int8-weights,report=0),quantize(mode=fp16,report=0)")
	if dt := convType(weights); dt != onnx.Float16 {
		t.Errorf("after weight-only int8, fp16 left the Conv %s (want float16); ops %v\n%s", dt, passtest.Ops(weights), log)
	}
}

// TestHalfWeightsNote: int8 asked of a float16 model changes nothing and
// says why (its layers' weights are float16).
func TestHalfWeightsNote(t *testing.T) {
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 8)))
	w := make([]float32, 8*4)
	for i := range w {
		w[i] = float32(math.Cos(float64(i))) * 0.5
	}
	m := b.Output(b.Op("MatMul", nil, x, b.G.AddInitializer("w", onnx.NewFloatTensor("", []int64{8, 4}, w))), onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 4)))
	half, _, _ := quantizeWith(t, m, "quantize(mode=fp16,report=0)")
	q, log, _ := quantizeWith(t, half, "quantize(mode=int8,report=0)")
	if passtest.Ops(q)["QuantizeLinear"] != 0 || !strings.Contains(log, "1 layers have float16 weights") {
		t.Errorf("ops %v, log:\n%s\nwant nothing quantized and the float16 weights named as the reason", passtest.Ops(q), log)
	}
}
