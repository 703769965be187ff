package quantize_test

import (
	"math"
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
		ifn := b.G.NewNode("If", "", "if", []*onnx.Value{cond}, "y")
		branch := func(name string, seed int) *onnx.Graph {
			g := &onnx.Graph{Name: name, Parent: b.G, Owner: ifn}
			var w *onnx.Value
			if name == "then" {
				w = g.AddInitializer("w_"+name, weights("w_"+name, seed))
			} else {
				c := g.NewNode("Constant", "", "const_"+name, nil, "w_"+name)
				c.SetAttr(&onnx.Attribute{Name: "value", Type: onnx.AttrTensor, Tensor: weights("", seed)})
				g.Append(c)
				w = c.Output(0)
			}
			n := g.NewNode("MatMul", "", "mm_"+name, []*onnx.Value{h, w}, name+"_out")
			g.Append(n)
			g.Outputs = []*onnx.Value{n.Output(0)}
			return g
		}
		ifn.SetAttr(&onnx.Attribute{Name: "then_branch", Type: onnx.AttrGraph, Graph: branch("then", 5)})
		ifn.SetAttr(&onnx.Attribute{Name: "else_branch", Type: onnx.AttrGraph, Graph: branch("else", 7)})
		b.G.Append(ifn)
		return b.Output(ifn.Output(0), onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8)))
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
