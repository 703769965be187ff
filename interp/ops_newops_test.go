package interp

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/onnx"
)

// evalOp runs op (with outputs named so that optional outputs count as
// asked for) and returns all outputs, or the error.
func evalOp(op, domain string, opset int64, attrs []*onnx.Attribute, nout int, in ...*Tensor) ([]*Tensor, error) {
	g := &onnx.Graph{}
	outs := make([]string, nout)
	for i := range outs {
		outs[i] = fmt.Sprintf("y%d", i)
	}
	n := g.NewNode(op, domain, "n", nil, outs...)
	n.Attrs = attrs
	return EvalNode(n, opset, in)
}

func f32s(shape []int, v ...float32) *Tensor { return FromSlice(onnx.Float, shape, v) }

func near(got []float32, want ...float64) error {
	g := make([]float64, len(got))
	for i, x := range got {
		g[i] = float64(x)
	}
	if msg := testutil.Mismatch(g, want, 1e-5, 0, -1); msg != "" {
		return fmt.Errorf("got %v, want %v: %s", got, want, msg)
	}
	return nil
}

func TestNewOpKernels(t *testing.T) {
	i64 := func(shape []int, v ...int64) *Tensor { return FromSlice(onnx.Int64, shape, v) }
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	cases := []struct {
		name  string
		op    string
		opset int64
		attrs []*onnx.Attribute
		in    []*Tensor
		out   int    // which output to check
		want  string // fmt of Data, or "" to use wantF
		wantF []float64
	}{
		{"CumProd int exclusive reverse", "CumProd", 26, []*onnx.Attribute{onnx.IntAttr("exclusive", 1), onnx.IntAttr("reverse", 1)},
			[]*Tensor{FromSlice(onnx.Int32, []int{2, 3}, []int32{1, 2, 3, 4, 5, 6}), FromSlice(onnx.Int32, []int{}, []int32{-1})}, 0, "[6 3 1 30 6 1]", nil},
		{"CumProd axis 0", "CumProd", 26, nil,
			[]*Tensor{FromSlice(onnx.Uint64, []int{2, 2}, []uint64{2, 3, 4, 5}), i64([]int{}, 0)}, 0, "[2 3 8 15]", nil},
		{"Swish alpha", "Swish", 24, []*onnx.Attribute{onnx.FloatAttr("alpha", 2)},
			[]*Tensor{f32s([]int{2}, 1, -1)}, 0, "", []float64{sig(2), -sig(-2)}},
		{"SwiGLU", "SwiGLU", 28, nil,
			[]*Tensor{f32s([]int{2}, 1, 0), f32s([]int{2}, 3, 5)}, 0, "", []float64{3 * sig(1), 0}},
		{"TensorScatter circular", "TensorScatter", 24, []*onnx.Attribute{onnx.StringAttr("mode", "circular"), onnx.IntAttr("axis", 1)},
			[]*Tensor{f32s([]int{1, 3}, 0, 0, 0), f32s([]int{1, 2}, 7, 8), i64([]int{1}, 2)}, 0, "[8 0 7]", nil},
		{"TensorScatter strings", "TensorScatter", 24, []*onnx.Attribute{onnx.IntAttr("axis", 1)},
			[]*Tensor{FromSlice(onnx.String, []int{1, 2}, []string{"a", "b"}), FromSlice(onnx.String, []int{1, 1}, []string{"z"})}, 0, "[z b]", nil},
		// padded = [s0 s1 | x0 x1 x2] with k = 3: y_t = w·padded[t:t+3] + bias.
		{"CausalConv state", "CausalConvWithState", 27, nil,
			[]*Tensor{f32s([]int{1, 1, 3}, 1, 2, 3), f32s([]int{1, 1, 3}, 1, 10, 100), f32s([]int{1}, 0.5), f32s([]int{1, 1, 2}, 4, 5)}, 0, "", []float64{4 + 50 + 100 + 0.5, 5 + 10 + 200 + 0.5, 1 + 20 + 300 + 0.5}},
		{"CausalConv short input keeps state", "CausalConvWithState", 27, nil,
			[]*Tensor{f32s([]int{1, 1, 1}, 9), f32s([]int{1, 1, 4}, 0, 0, 0, 1), nil, f32s([]int{1, 1, 3}, 1, 2, 3)}, 1, "[2 3 9]", nil},
		{"NLL mean ignore", "NegativeLogLikelihoodLoss", 22, []*onnx.Attribute{onnx.IntAttr("ignore_index", -1)},
			[]*Tensor{f32s([]int{3, 2}, -1, -2, -3, -4, -5, -6), i64([]int{3}, 1, -1, 0)}, 0, "", []float64{3.5}},
		{"NLL weighted sum", "NegativeLogLikelihoodLoss", 13, []*onnx.Attribute{onnx.StringAttr("reduction", "sum")},
			[]*Tensor{f32s([]int{2, 2}, -1, -2, -3, -4), i64([]int{2}, 1, 0), f32s([]int{2}, 10, 100)}, 0, "", []float64{200 + 30}},
		{"SCE log_prob", "SoftmaxCrossEntropyLoss", 13, []*onnx.Attribute{onnx.StringAttr("reduction", "none")},
			[]*Tensor{f32s([]int{1, 2}, 0, 0), i64([]int{1}, 1)}, 1, "", []float64{-math.Ln2, -math.Ln2}},
		{"Rotary interleaved", "RotaryEmbedding", 23, []*onnx.Attribute{onnx.IntAttr("interleaved", 1)},
			[]*Tensor{f32s([]int{1, 1, 1, 4}, 1, 2, 3, 4), f32s([]int{1, 1, 2}, 0, 1), f32s([]int{1, 1, 2}, 1, 0)}, 0, "", []float64{-2, 1, 3, 4}},
		{"Rotary partial halves", "RotaryEmbedding", 23, []*onnx.Attribute{onnx.IntAttr("rotary_embedding_dim", 2), onnx.IntAttr("num_heads", 1)},
			[]*Tensor{f32s([]int{1, 1, 4}, 1, 2, 3, 4), f32s([]int{5, 1}, 0, 0, 0, 0, 0), f32s([]int{5, 1}, 0, 0, 0, 1, 0), i64([]int{1, 1}, 3)}, 0, "", []float64{-2, 1, 3, 4}},
		// linear rule, one head, d_k = d_v = 1, scale 1: S accumulates k·v.
		{"LinearAttention linear", "LinearAttention", 27, []*onnx.Attribute{onnx.IntAttr("q_num_heads", 1), onnx.IntAttr("kv_num_heads", 1), onnx.StringAttr("update_rule", "linear"), onnx.FloatAttr("scale", 1)},
			[]*Tensor{f32s([]int{1, 2, 1}, 1, 2), f32s([]int{1, 2, 1}, 3, 4), f32s([]int{1, 2, 1}, 5, 6)}, 0, "", []float64{15, 2 * (15 + 24)}},
		// delta rule: S1 = β·k·(v − 0) = 0.5·1·2 = 1; o = q·S1 = 1.
		{"LinearAttention delta", "LinearAttention", 27, []*onnx.Attribute{onnx.IntAttr("q_num_heads", 1), onnx.IntAttr("kv_num_heads", 1), onnx.StringAttr("update_rule", "delta"), onnx.FloatAttr("scale", 1)},
			[]*Tensor{f32s([]int{1, 1, 1}, 1), f32s([]int{1, 1, 1}, 1), f32s([]int{1, 1, 1}, 2), nil, nil, f32s([]int{1, 1, 1}, 0.5)}, 1, "", []float64{1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := evalOp(c.op, "", c.opset, c.attrs, max(2, c.out+1), c.in...)
			if err != nil {
				t.Fatal(err)
			}
			got := out[c.out]
			if c.want != "" {
				if s := fmt.Sprint(got.Data); s != c.want {
					t.Fatalf("got %s, want %s", s, c.want)
				}
				return
			}
			if err := near(got.Floats(), c.wantF...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAttentionKernel(t *testing.T) {
	// One query over two keys; the boolean mask hides key 1 for query row 0
	// and everything for row 1, which must give a zero row, not NaN.
	q := f32s([]int{1, 1, 2, 1}, 1, 1)
	k := f32s([]int{1, 1, 2, 1}, 1, 2)
	v := f32s([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	mask := FromSlice(onnx.Bool, []int{2, 2}, []bool{true, false, false, false})
	out, err := evalOp("Attention", "", 23, nil, 4, q, k, v, mask)
	if err != nil {
		t.Fatal(err)
	}
	if err := near(out[0].Floats(), 1, 2, 0, 0); err != nil {
		t.Fatal(err)
	}
	// GQA: two query heads share one KV head, so both equal plain attention.
	q2 := f32s([]int{1, 2, 1, 1}, 0.3, 0.3)
	k2 := f32s([]int{1, 1, 2, 1}, 1, -1)
	v2 := f32s([]int{1, 1, 2, 1}, 10, 20)
	out, err = evalOp("Attention", "", 24, []*onnx.Attribute{onnx.IntAttr("is_causal", 0), onnx.FloatAttr("scale", 1)}, 1, q2, k2, v2)
	if err != nil {
		t.Fatal(err)
	}
	p := 1 / (1 + math.Exp(-0.6))
	want := 10*p + 20*(1-p)
	if err := near(out[0].Floats(), want, want); err != nil {
		t.Fatal(err)
	}
	// Causal with a past of one key: query 0 sees keys 0 and 1 only.
	past := f32s([]int{1, 1, 1, 1}, 0)
	pastV := f32s([]int{1, 1, 1, 1}, 7)
	out, err = evalOp("Attention", "", 23, []*onnx.Attribute{onnx.IntAttr("is_causal", 1)}, 3,
		f32s([]int{1, 1, 1, 1}, 0), f32s([]int{1, 1, 2, 1}, 0, 0), f32s([]int{1, 1, 2, 1}, 1, 100), nil, past, pastV)
	if err != nil {
		t.Fatal(err)
	}
	if err := near(out[0].Floats(), 4); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out[1].Shape) != "[1 1 3 1]" {
		t.Fatalf("present_key %v", out[1].Shape)
	}
}

// TestNewOpErrors feeds malformed inputs: each must fail with an error, not a panic.
func TestNewOpErrors(t *testing.T) {
	i64 := func(shape []int, v ...int64) *Tensor { return FromSlice(onnx.Int64, shape, v) }
	cases := []struct {
		op    string
		opset int64
		attrs []*onnx.Attribute
		in    []*Tensor
	}{
		{"NegativeLogLikelihoodLoss", 22, nil, []*Tensor{f32s([]int{1, 2}, 0, 0), i64([]int{1}, 5)}},
		{"NegativeLogLikelihoodLoss", 22, nil, []*Tensor{f32s([]int{2}, 0, 0), i64([]int{2}, 0, 0)}},
		{"SoftmaxCrossEntropyLoss", 13, nil, []*Tensor{f32s([]int{1, 2}, 0, 0), i64([]int{3}, 0, 0, 0)}},
		{"CumProd", 26, nil, []*Tensor{f32s([]int{2}, 1, 2), i64([]int{}, 3)}},
		{"SwiGLU", 28, nil, []*Tensor{f32s([]int{2}, 1, 2), f32s([]int{1}, 1)}},
		{"TensorScatter", 24, nil, []*Tensor{f32s([]int{1, 2, 1}, 0, 0), f32s([]int{1, 1, 1}, 1), i64([]int{1}, 2)}},
		{"CausalConvWithState", 27, nil, []*Tensor{f32s([]int{1, 2, 1}, 0, 0), f32s([]int{1, 1, 1}, 1)}},
		{"RotaryEmbedding", 23, nil, []*Tensor{f32s([]int{1, 1, 1, 2}, 0, 0), f32s([]int{1, 1}, 0), f32s([]int{1, 1}, 0), i64([]int{1, 1}, 4)}},
		{"Attention", 23, nil, []*Tensor{f32s([]int{1, 1, 1, 2}, 0, 0), f32s([]int{1, 1, 1, 3}, 0, 0, 0), f32s([]int{1, 1, 1, 1}, 0)}},
		{"Attention", 23, nil, []*Tensor{f32s([]int{1, 1, 1, 1}, 0), f32s([]int{1, 1, 1, 1}, 0), f32s([]int{1, 1, 1, 1}, 0), f32s([]int{1, 3}, 0, 0, 0)}},
		{"Attention", 23, nil, []*Tensor{f32s([]int{1, 1, 2}, 0, 0), f32s([]int{1, 1, 2}, 0, 0), f32s([]int{1, 1, 2}, 0, 0)}},
		{"LinearAttention", 27, []*onnx.Attribute{onnx.IntAttr("q_num_heads", 1), onnx.IntAttr("kv_num_heads", 1)}, []*Tensor{f32s([]int{1, 1, 1}, 0), f32s([]int{1, 1, 1}, 0), f32s([]int{1, 1, 1}, 0)}},
	}
	for _, c := range cases {
		if _, err := evalOp(c.op, "", c.opset, c.attrs, 2, c.in...); err == nil || containsPanic(err) {
			t.Errorf("%s %v: want an error, got %v", c.op, c.in, err)
		}
	}
}

func containsPanic(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "internal error") || strings.Contains(err.Error(), "panic"))
}
