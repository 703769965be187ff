package convert_test

import (
	"math"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes/convert"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

func f32(dims ...int64) *onnx.Type { return onnx.TensorType(onnx.Float, onnx.ShapeOf(dims...)) }

var (
	ia = onnx.IntAttr
	fa = onnx.FloatAttr
	sa = onnx.StringAttr
)

func isa(name string, v ...int64) *onnx.Attribute   { return onnx.IntsAttr(name, v) }
func fsa(name string, v ...float32) *onnx.Attribute { return onnx.FloatsAttr(name, v) }

// upgradeCase is a one-op (or few-op) model at an old opset, the opset to
// convert it to, and what must hold after.
type upgradeCase struct {
	name   string
	from   int64
	to     int64
	in     []int64
	build  func(b *passtest.Builder, x *onnx.Value) *onnx.Value
	refuse string   // substring of the expected error; "" for success
	gone   []string // attributes that must be gone from every node
	ops    []string // ops that must appear after
	// ort: ONNX Runtime must run the converted model to the interpreter's
	// outputs on the original (and the original too, when it loads there).
	ort, ortOrig bool
}

func TestUpgradeOps(t *testing.T) {
	op := func(name string, attrs ...*onnx.Attribute) func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
		return func(b *passtest.Builder, x *onnx.Value) *onnx.Value { return b.Op(name, attrs, x) }
	}
	cases := []upgradeCase{
		{name: "Clip both bounds", from: 9, to: 21, in: []int64{2, 5}, build: op("Clip", fa("min", -0.5), fa("max", 0.7)), gone: []string{"min", "max"}},
		{name: "Clip max only", from: 7, to: 11, in: []int64{2, 5}, build: op("Clip", fa("max", 0.3)), gone: []string{"max"}},
		{name: "Pad constant value", from: 9, to: 21, in: []int64{1, 2, 3, 4}, build: op("Pad", isa("pads", 0, 0, 1, 2, 0, 0, 2, 1), fa("value", 1.5)), gone: []string{"pads", "value"}},
		{name: "Pad reflect", from: 10, to: 11, in: []int64{1, 2, 3, 4}, build: op("Pad", isa("pads", 0, 0, 1, 2, 0, 0, 2, 1), sa("mode", "reflect")), gone: []string{"pads"}},
		{name: "Slice", from: 9, to: 21, in: []int64{3, 6}, build: op("Slice", isa("starts", 1, -5), isa("ends", 3, 1000), isa("axes", 0, 1)), gone: []string{"starts", "ends", "axes"}},
		{name: "TopK", from: 9, to: 10, in: []int64{3, 6}, build: op("TopK", ia("k", 2)), gone: []string{"k"}},
		{name: "Softmax inner axis", from: 12, to: 13, in: []int64{2, 3, 4}, build: op("Softmax", ia("axis", 1)), ops: []string{"Flatten", "Reshape"}},
		{name: "LogSoftmax default axis", from: 9, to: 21, in: []int64{2, 3, 4}, build: op("LogSoftmax"), ops: []string{"Flatten", "Reshape"}},
		{name: "Hardmax last axis", from: 11, to: 13, in: []int64{2, 3, 4}, build: op("Hardmax", ia("axis", 2))},
		{name: "Softmax axis 0", from: 11, to: 21, in: []int64{2, 3}, build: op("Softmax", ia("axis", 0)), ops: []string{"Flatten"}},
		{name: "Upsample-7 nearest to 9", from: 7, to: 9, in: []int64{1, 2, 3, 4}, build: op("Upsample", fsa("scales", 1, 1, 2, 3)), gone: []string{"scales"}},
		{name: "Upsample-7 nearest to 21", from: 7, to: 21, in: []int64{1, 2, 3, 4}, build: op("Upsample", fsa("scales", 1, 1, 2, 3)), ops: []string{"Resize"}},
		{name: "Upsample-7 linear to 11", from: 8, to: 11, in: []int64{1, 2, 3, 4}, build: op("Upsample", sa("mode", "linear"), fsa("scales", 1, 1, 2, 2)), ops: []string{"Resize"}},
		{name: "Upsample-9 input scales", from: 9, to: 13, in: []int64{1, 2, 3, 4},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				return b.Op("Upsample", nil, x, b.Vec(1, 1, 3, 2))
			}, ops: []string{"Resize"}},
		{name: "Resize-10 shrink", from: 10, to: 21, in: []int64{1, 2, 6, 8},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				return b.Op("Resize", nil, x, b.Vec(1, 1, 0.5, 0.6))
			}},
		{name: "Resize-10 linear", from: 10, to: 11, in: []int64{1, 2, 3, 4},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				return b.Op("Resize", []*onnx.Attribute{sa("mode", "linear")}, x, b.Vec(1, 1, 2, 1.5))
			}},
		{name: "Split sizes", from: 11, to: 21, in: []int64{2, 6}, build: splitSwap(isa("split", 2, 4)), gone: []string{"split"}},
		{name: "Split equal", from: 12, to: 18, in: []int64{2, 6}, build: splitSwap()},
		{name: "Squeeze Unsqueeze", from: 12, to: 13, in: []int64{2, 1, 3},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				s := b.Op("Squeeze", []*onnx.Attribute{isa("axes", 1)}, x)
				return b.Op("Unsqueeze", []*onnx.Attribute{isa("axes", 0, 3)}, s)
			}, gone: []string{"axes"}},
		{name: "ReduceMean ReduceSum", from: 11, to: 18, in: []int64{2, 3, 4},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				r := b.Op("ReduceMean", []*onnx.Attribute{isa("axes", 1)}, x)
				return b.Op("ReduceSum", []*onnx.Attribute{isa("axes", -1), ia("keepdims", 0)}, r)
			}, gone: []string{"axes"}},
		{name: "Dropout ratio", from: 10, to: 12, in: []int64{2, 3}, build: op("Dropout", fa("ratio", 0.3)), gone: []string{"ratio"}},
		{name: "BatchNormalization spatial", from: 7, to: 21, in: []int64{1, 2, 3, 3},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				return b.Op("BatchNormalization", []*onnx.Attribute{ia("spatial", 1), fa("epsilon", 1e-3)}, x, b.Vec(1, 2), b.Vec(0.5, -1), b.Vec(0.1, 0.2), b.Vec(1, 4))
			}, gone: []string{"spatial"}},
		// PyTorch's training-mode export: five outputs, only y read. It
		// normalises with the batch's statistics, and so must the result.
		{name: "BatchNormalization training outputs", from: 9, to: 15, in: []int64{3, 2, 4},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				n := b.G.NewNode("BatchNormalization", "", "bn", []*onnx.Value{x, b.Vec(1, 2), b.Vec(0.5, -1), b.Vec(0.1, 0.2), b.Vec(1, 4)},
					"y", "running_mean", "running_var", "saved_mean", "saved_inv_std")
				b.G.Append(n)
				return n.Output(0)
			}, ort: true, ortOrig: true},
		// Refusals leave the model as it was and say why.
		{name: "downgrade", from: 13, to: 12, in: []int64{2}, build: op("Relu"), refuse: "downgrade"},
		{name: "above newest", from: 13, to: 99, in: []int64{2}, build: op("Relu"), refuse: "above 21"},
		{name: "Upsample both ways", from: 9, to: 11, in: []int64{1, 1, 4, 4},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				return b.Op("Upsample", nil, x, b.Vec(1, 1, 2, 0.5))
			}, refuse: "enlarges some axes and shrinks others"},
		{name: "Upsample run-time scales", from: 9, to: 11, in: []int64{4},
			build:  func(b *passtest.Builder, x *onnx.Value) *onnx.Value { return b.Op("Upsample", nil, x, x) },
			refuse: "known only at run time"},
		{name: "BatchNormalization spatial=0 per channel", from: 7, to: 9, in: []int64{3, 2},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				return b.Op("BatchNormalization", []*onnx.Attribute{ia("spatial", 0)}, x, b.Vec(1, 2), b.Vec(0.5, -1), b.Vec(0.1, 0.2), b.Vec(1, 4))
			}, gone: []string{"spatial"}, ort: true},
		{name: "BatchNormalization spatial=0 per element", from: 8, to: 13, in: []int64{2, 2, 1, 3},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				p := func(name string, v ...float32) *onnx.Value {
					return b.G.AddInitializer(name, onnx.NewFloatTensor("", []int64{2, 1, 3}, v))
				}
				return b.Op("BatchNormalization", []*onnx.Attribute{ia("spatial", 0), fa("epsilon", 1e-3)}, x,
					p("s", 1, 2, 3, -1, 0.5, 2), p("b", 0.5, -1, 0, 1, 2, -2), p("m", 0.1, 0.2, -0.3, 0, 1, 2), p("v", 1, 4, 0.5, 2, 3, 1))
			}, ops: []string{"Mul", "Add"}, ort: true},
		{name: "BatchNormalization spatial=0 computed statistics", from: 7, to: 9, in: []int64{1, 2, 3},
			build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
				m := b.Op("ReduceMean", []*onnx.Attribute{isa("axes", 0)}, x) // [1,2,3]… per element
				return b.Op("BatchNormalization", []*onnx.Attribute{ia("spatial", 0)}, x, b.Vec(1, 2), b.Vec(0.5, -1), m, b.Vec(1, 4))
			}, refuse: "constant scale"},
	}
	runUpgradeCases(t, cases)
}

// runUpgradeCases converts each case's model and checks it: refused with
// the model unchanged, or converted with the same outputs.
func runUpgradeCases(t *testing.T, cases []upgradeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, x := passtest.NewBuilder(tc.from, f32(tc.in...))
			m := b.Output(tc.build(b, x), nil)
			in := passtest.Input(ints(tc.in)...)
			var want []float32
			if tc.refuse == "" {
				want = passtest.Eval(t, m, in)
				for i, v := range want {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("the original's output [%d] is %g: a case must compare finite numbers", i, v)
					}
				}
			}
			before, orig := opsetAndNodes(m), m.Clone()
			n, err := convert.Upgrade(m, tc.to)
			if tc.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refuse) {
					t.Fatalf("err = %v, want one saying %q", err, tc.refuse)
				}
				if after := opsetAndNodes(m); after != before {
					t.Errorf("a refused conversion changed the model: %s → %s", before, after)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Opset("") != tc.to {
				t.Errorf("opset %d, want %d", m.Opset(""), tc.to)
			}
			if tc.ortOrig {
				passtest.SameInORT(t, orig, in, want, 1e-6, 1e-5, -1)
			}
			if err := m.Check(); err != nil {
				t.Fatalf("converted model: %v", err)
			}
			for _, g := range m.Graphs() {
				for _, node := range g.Nodes {
					for _, a := range tc.gone {
						if node.Attr(a) != nil {
							t.Errorf("%s still has attribute %s", node.OpType, a)
						}
					}
				}
			}
			h := passtest.Ops(m)
			for _, o := range tc.ops {
				if h[o] == 0 {
					t.Errorf("no %s after conversion (ops %v)", o, h)
				}
			}
			got := passtest.Eval(t, m, in)
			if msg := testutil.Mismatch(got, want, 1e-6, 1e-6, -1); msg != "" {
				t.Fatalf("outputs differ after %d rewrites: %s", n, msg)
			}
			if tc.ort {
				passtest.SameInORT(t, m, in, want, 1e-6, 1e-5, -1)
			}
			t.Logf("%d rewrites, ops %v, IR %d", n, h, m.IRVersion)
		})
	}
}

// TestUpgradeSubgraph converts the branches of an If and a model of IR 3,
// whose initializers are listed among the inputs as constants.
func TestUpgradeSubgraph(t *testing.T) {
	b, x := passtest.NewBuilder(7, f32(2, 3))
	m := b.M
	m.IRVersion = 3
	m.Graph.LegacyInitializerInputs = true
	branch := func(name string, lo float32) *onnx.Graph {
		g := &onnx.Graph{Name: name, Parent: m.Graph}
		n := g.NewNode("Clip", "", name+"_clip", []*onnx.Value{x}, name+"_y")
		n.SetAttr(onnx.FloatAttr("min", lo))
		g.Append(n)
		g.Outputs = []*onnx.Value{n.Output(0)}
		n.Output(0).Type = f32(2, 3)
		return g
	}
	w := b.Vec(1, 2, 3)
	m.Graph.Inputs = append(m.Graph.Inputs, w) // IR 3: a listed initializer is a constant
	mx := b.Op("ReduceMax", []*onnx.Attribute{ia("keepdims", 0), isa("axes", 0, 1)}, x)
	cond := b.Op("Greater", nil, mx, b.Scalar(0))
	y := b.Op("If", []*onnx.Attribute{
		{Name: "then_branch", Type: onnx.AttrGraph, Graph: branch("then", 0.25)},
		{Name: "else_branch", Type: onnx.AttrGraph, Graph: branch("else", -0.25)},
	}, cond)
	y = b.Op("Mul", nil, y, w)
	for _, n := range m.Graph.Nodes {
		for _, sg := range n.Subgraphs() {
			sg.Owner = n
		}
	}
	b.Output(y, nil)
	in := passtest.Input(2, 3)
	want := passtest.Eval(t, m, in)
	if _, err := convert.Upgrade(m, 21); err != nil {
		t.Fatal(err)
	}
	if m.IRVersion != 10 || m.Graph.LegacyInitializerInputs || len(m.Graph.Inputs) != 1 {
		t.Errorf("IR %d, legacy %v, %d inputs: want IR 10 and only x as input", m.IRVersion, m.Graph.LegacyInitializerInputs, len(m.Graph.Inputs))
	}
	for _, g := range m.Graphs() {
		for _, n := range g.Nodes {
			if n.Attr("min") != nil || n.Attr("axes") != nil {
				t.Errorf("%s in %s kept its attribute", n.OpType, g.Name)
			}
		}
	}
	if msg := testutil.Mismatch(passtest.Eval(t, m, in), want, 0, 0, -1); msg != "" {
		t.Fatal(msg)
	}
}

// splitSwap splits x in two along axis 1 and concatenates the halves the
// other way round.
func splitSwap(attrs ...*onnx.Attribute) func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
	return func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
		n := b.G.NewNode("Split", "", "split", []*onnx.Value{x}, "s0", "s1")
		n.SetAttr(ia("axis", 1))
		for _, a := range attrs {
			n.SetAttr(a)
		}
		b.G.Append(n)
		return b.Op("Concat", []*onnx.Attribute{ia("axis", 1)}, n.Output(1), n.Output(0))
	}
}

func opsetAndNodes(m *onnx.Model) string {
	var b strings.Builder
	for _, g := range m.Graphs() {
		for _, n := range g.Nodes {
			b.WriteString(n.OpType)
			b.WriteString(strings.Repeat("+", len(n.Inputs())+len(n.Attrs)))
		}
	}
	return b.String() + "@" + string(rune('0'+m.Opset("")))
}

func ints(d []int64) []int {
	out := make([]int, len(d))
	for i, v := range d {
		out[i] = int(v)
	}
	return out
}
