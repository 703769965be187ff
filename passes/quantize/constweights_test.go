package quantize_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// constantWeight adds a Constant node holding a rows×cols float weight.
func constantWeight(b *passtest.Builder, name string, rows, cols, seed int) *onnx.Value {
	w := make([]float32, rows*cols)
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	for i := range w {
		w[i] = float32(r.NormFloat64()) * 0.2
	}
	c := b.G.NewNode("Constant", "", name, nil, name+"_out")
	c.SetAttr(&onnx.Attribute{Name: "value", Type: onnx.AttrTensor, Tensor: onnx.NewFloatTensor("", []int64{int64(rows), int64(cols)}, w)})
	b.G.Append(c)
	return c.Output(0)
}

// TestConstantNodeWeights: weights held in Constant nodes (as Paddle's
// exporter writes them) are quantized as initializers are, in every mode
// that quantizes weights; none is left float.
func TestConstantNodeWeights(t *testing.T) {
	build := func() *onnx.Model {
		b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 64)))
		h := b.Op("Relu", nil, b.Op("MatMul", nil, x, constantWeight(b, "w1", 64, 64, 3)))
		y := b.Op("MatMul", nil, h, constantWeight(b, "w2", 64, 32, 5))
		return b.Output(y, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 32)))
	}
	for _, mode := range []string{"int8", "int8-weights", "int4", "fp16"} {
		t.Run(mode, func(t *testing.T) {
			m := build()
			q, log, _ := quantizeWith(t, m, "quantize(mode="+mode+",report=0)")
			if !strings.Contains(log, "2 weights held in Constant nodes made initializers") {
				t.Errorf("the log does not say the two Constant weights became initializers:\n%s", log)
			}
			for _, n := range q.Graph.Nodes {
				if n.OpType == "Constant" {
					t.Errorf("Constant node %s left", n.Name)
				}
				if ct := passes.ConstTensor(n.Input(1)); n.OpType == "MatMul" && ct != nil && ct.DataType == onnx.Float {
					t.Errorf("%s: weight still a float32 constant", n.Name)
				}
			}
			for _, x := range []*interp.Tensor{passtest.Input(1, 64), negate(passtest.Input(1, 64))} {
				cos, _ := testutil.Cosine(passtest.Eval(t, q, x), passtest.Eval(t, m, x))
				testutil.AtLeast(t, mode+": output cosine", cos, 0.98)
			}
		})
	}
}

// TestNothingToQuantizeKeepsOpset: a model without a weight to quantize
// leaves every mode's pass with nothing done and its opset (9) as it was:
// the opset is raised only for weights that need it.
func TestNothingToQuantizeKeepsOpset(t *testing.T) {
	b, x := passtest.NewBuilder(9, onnx.TensorType(onnx.Float, onnx.ShapeOf(4, 4)))
	m := b.Output(b.Op("MatMul", nil, b.Op("Relu", nil, x), x), onnx.TensorType(onnx.Float, onnx.ShapeOf(4, 4)))
	for _, mode := range []string{"int8", "int8-weights", "int4", "binary"} {
		t.Run(mode, func(t *testing.T) {
			q, log, _ := quantizeWith(t, m, "quantize(mode="+mode+",report=0)")
			if got := q.Opset(""); got != 9 {
				t.Errorf("opset %d after quantizing nothing, want 9 kept; log:\n%s", got, log)
			}
			if q.IRVersion != m.IRVersion {
				t.Errorf("IR version %d → %d after quantizing nothing", m.IRVersion, q.IRVersion)
			}
			if !strings.Contains(log, "nothing to quantize") {
				t.Errorf("the log does not say there is nothing to quantize:\n%s", log)
			}
		})
	}
}

// TestFloat16ConstantNodesClamped: mode=fp16 converts the float Constant
// nodes its float16 nodes read as it converts weights, clamped to ±65504.
// A BERT export's additive mask, (1 − mask)·(−FLT_MAX) with both scalars in
// Constant nodes, was left to a Cast in the graph: −FLT_MAX became −Inf and
// 0·(−Inf) made every output NaN.
func TestFloat16ConstantNodesClamped(t *testing.T) {
	scalar := func(b *passtest.Builder, name string, v float32) *onnx.Value {
		c := b.G.NewNode("Constant", "", name, nil, name+"_out")
		c.SetAttr(&onnx.Attribute{Name: "value", Type: onnx.AttrTensor, Tensor: onnx.NewFloatTensor("", nil, []float32{v})})
		b.G.Append(c)
		return c.Output(0)
	}
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 64)))
	ones := b.Op("Exp", nil, b.Op("Mul", nil, x, b.Scalar(0))) // the mask: every position attended
	bias := b.Op("Mul", nil, b.Op("Sub", nil, scalar(b, "one", 1), ones), scalar(b, "low", -math.MaxFloat32))
	y := b.Op("Softmax", nil, b.Op("Add", nil, b.Op("MatMul", nil, x, constantWeight(b, "w", 64, 64, 3)), bias))
	m := b.Output(y, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 64)))
	q, log, _ := quantizeWith(t, m, "quantize(mode=fp16,report=0)")
	if !strings.Contains(log, "1 weights beyond float16's range (±65504) were clamped") {
		t.Errorf("the log does not report −FLT_MAX clamped:\n%s", log)
	}
	x0 := passtest.Input(1, 64)
	got := passtest.Eval(t, q, x0)
	for i, v := range got {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("output %d is %v", i, v)
		}
	}
	cos, _ := testutil.Cosine(got, passtest.Eval(t, m, x0))
	testutil.AtLeast(t, "output cosine", cos, 0.999)
}
