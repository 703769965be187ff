package cleanup_test

import (
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
	_ "github.com/onnxslim/onnxslim/passes/all"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

var x234 = onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 3, 4))

// Each case builds a graph, runs cleanup and checks the ops left; Run also
// checks the outputs are unchanged.
func TestCleanup(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(b *passtest.Builder, x *onnx.Value) *onnx.Value
		want  map[string]int
	}{
		{"identity and dropout", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Relu", nil, b.Op("Dropout", nil, b.Op("Identity", nil, x)))
		}, map[string]int{"Relu": 1}},
		{"training-mode dropout at ratio 0 drops nothing", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// torchvision's Swin: Dropout(x, ratio 0, training_mode true).
			return b.Op("Relu", nil, b.Op("Dropout", nil, x, b.Scalar(0), boolConst(b, true)))
		}, map[string]int{"Relu": 1}},
		{"training-mode dropout at ratio 0.5 stays", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// Of zeros, so that the check of the outputs is deterministic.
			zeros := b.Op("Mul", nil, x, b.Scalar(0))
			return b.Op("Relu", nil, b.Op("Dropout", nil, zeros, b.Scalar(0.5), boolConst(b, true)))
		}, map[string]int{"Mul": 1, "Relu": 1, "Dropout": 1}},
		{"identity feeding the output is bypassed", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Identity", nil, b.Op("Relu", nil, x))
		}, map[string]int{"Relu": 1}},
		{"identity of an input feeding the output stays", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Identity", nil, x)
		}, map[string]int{"Identity": 1}},
		{"transposes merge and cancel", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			t1 := b.Op("Transpose", []*onnx.Attribute{onnx.IntsAttr("perm", []int64{1, 2, 0})}, x)
			return b.Op("Relu", nil, b.Op("Transpose", []*onnx.Attribute{onnx.IntsAttr("perm", []int64{2, 0, 1})}, t1))
		}, map[string]int{"Relu": 1}},
		{"squeeze of unsqueeze", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			u := b.Op("Unsqueeze", nil, x, b.Ints(0))
			return b.Op("Relu", nil, b.Op("Squeeze", nil, u, b.Ints(0)))
		}, map[string]int{"Relu": 1}},
		{"common subexpressions", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Add", nil, b.Op("Relu", nil, x), b.Op("Relu", nil, x))
		}, map[string]int{"Relu": 1, "Add": 1}},
		{"duplicate constants then CSE", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Add", nil, b.Op("Mul", nil, x, b.Scalar(3)), b.Op("Mul", nil, x, b.Scalar(3)))
		}, map[string]int{"Mul": 1, "Add": 1}},
		{"dead nodes", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			b.Op("Sigmoid", nil, b.Op("Exp", nil, x))
			return b.Op("Relu", nil, x)
		}, map[string]int{"Relu": 1}},
		{"reshape chain", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			r := b.Op("Reshape", nil, x, b.Ints(6, 4))
			return b.Op("Relu", nil, b.Op("Reshape", nil, r, b.Ints(4, 6)))
		}, map[string]int{"Reshape": 1, "Relu": 1}},
		{"reshape regrouping before flatten moves its axis", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			r := b.Op("Reshape", nil, x, b.Ints(6, 4))
			return b.Op("Relu", nil, b.Op("Flatten", []*onnx.Attribute{onnx.IntAttr("axis", 1)}, r))
		}, map[string]int{"Flatten": 1, "Relu": 1}},
		{"reshape raising the rank before flatten", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// Faster R-CNN's RPN: [N] → [1,N] → Flatten axis 2 is [N,1].
			r := b.Op("Reshape", nil, x, b.Ints(1, 24))
			return b.Op("Relu", nil, b.Op("Flatten", []*onnx.Attribute{onnx.IntAttr("axis", 2)}, r))
		}, map[string]int{"Flatten": 1, "Relu": 1}},
		{"reshape whose split flatten cannot find stays", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			r := b.Op("Reshape", nil, x, b.Ints(4, 3, 2))
			return b.Op("Relu", nil, b.Op("Flatten", []*onnx.Attribute{onnx.IntAttr("axis", 1)}, r))
		}, map[string]int{"Reshape": 1, "Flatten": 1, "Relu": 1}},
		{"slice keeping the shape is bypassed", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Relu", nil, b.Op("Slice", nil, x, b.Ints(0), b.Ints(4), b.Ints(2), b.Ints(1)))
		}, map[string]int{"Relu": 1}},
		{"slice reversing an axis stays", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// PyTorch's exports reverse pads so: the shape is kept, the order is not.
			return b.Op("Relu", nil, b.Op("Slice", nil, x, b.Ints(-1), b.Ints(math.MinInt64), b.Ints(2), b.Ints(-1)))
		}, map[string]int{"Slice": 1, "Relu": 1}},
		{"slice reversing an axis of length 1 is bypassed", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			r := b.Op("Reshape", nil, x, b.Ints(2, 3, 1, 4))
			rev := b.Op("Slice", nil, r, b.Ints(-1), b.Ints(math.MinInt64), b.Ints(-2), b.Ints(-1))
			return b.Op("Relu", nil, b.Op("Reshape", nil, rev, b.Ints(2, 3, 4)))
		}, map[string]int{"Relu": 1}},
		{"no-op cast", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Relu", nil, b.Op("Cast", []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Float))}, x))
		}, map[string]int{"Relu": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, x := passtest.NewBuilder(13, x234)
			m := b.Output(tc.build(b, x), nil)
			m = passtest.Run(t, m, "cleanup", passtest.Input(2, 3, 4))
			got := passtest.Ops(m)
			if len(got) != len(tc.want) {
				t.Errorf("ops %v, want %v", got, tc.want)
			}
			for op, n := range tc.want {
				if got[op] != n {
					t.Errorf("ops %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestInlineConstantIf: an If whose condition is a constant is replaced by
// the branch it takes.
func TestInlineConstantIf(t *testing.T) {
	b, x := passtest.NewBuilder(13, x234)
	cond := b.G.AddInitializer("cond", &onnx.Tensor{DataType: onnx.Bool, Raw: []byte{1}})
	branch := func(op string) func(*onnx.Graph) *onnx.Value {
		return func(g *onnx.Graph) *onnx.Value { return passtest.Node(g, op, op+"_in_branch", x) }
	}
	m := b.Output(b.Op("Neg", nil, b.If(cond, branch("Relu"), branch("Sigmoid"))), nil)
	m = passtest.Run(t, m, "cleanup", passtest.Input(2, 3, 4))
	if got := passtest.Ops(m); got["If"] != 0 || got["Relu"] != 1 || got["Sigmoid"] != 0 {
		t.Errorf("ops %v, want the then branch inlined", got)
	}
}

// boolConst adds a boolean scalar constant.
func boolConst(b *passtest.Builder, v bool) *onnx.Value {
	raw := []byte{0}
	if v {
		raw[0] = 1
	}
	return b.G.AddInitializer(b.G.Name+"_bool", onnx.NewTensor("", onnx.Bool, nil, raw))
}
