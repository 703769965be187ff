package all_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// Where weightsModel holds its weights.
const (
	inInitializers = iota
	inConstantNodes
	inGraphInputs // initializers also listed as graph inputs (overridable defaults)
	inTransposed  // Transpose of an initializer holding Wᵀ (exports without constant folding)
	inIdentity    // Identity of an initializer (PyTorch's deduplicated constants)
)

// weightsModel is x[1,64] → MatMul(w1 64×64) → Relu → MatMul(w2 64×48),
// its weights low-rank plus noise (so that lowrank splits them), held
// where held says, under the same names.
func weightsModel(held int) *onnx.Model {
	r := rand.New(rand.NewPCG(7, 1))
	weight := func(rows, cols int) []float32 {
		const rank = 8
		u, v := make([]float64, rows*rank), make([]float64, rank*cols)
		for i := range u {
			u[i] = r.NormFloat64()
		}
		for i := range v {
			v[i] = r.NormFloat64()
		}
		w := make([]float32, rows*cols)
		for i := range rows {
			for j := range cols {
				s := 0.01 * r.NormFloat64()
				for k := range rank {
					s += u[i*rank+k] * v[k*cols+j] / 8
				}
				w[i*cols+j] = float32(s)
			}
		}
		return w
	}
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 64)))
	add := func(name string, rows, cols int) *onnx.Value {
		t := onnx.NewFloatTensor(name, []int64{int64(rows), int64(cols)}, weight(rows, cols))
		switch held {
		case inInitializers:
			return b.G.AddInitializer(name, t)
		case inGraphInputs:
			v := b.G.AddInitializer(name, t)
			v.Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(int64(rows), int64(cols)))
			b.G.Inputs = append(b.G.Inputs, v)
			return v
		case inIdentity:
			v := b.G.AddInitializer(name+"_src", t)
			id := b.G.NewNode("Identity", "", name+"_identity", []*onnx.Value{v}, name)
			b.G.Append(id)
			return id.Output(0)
		case inTransposed:
			w, _ := t.Float32s()
			wt := make([]float32, len(w))
			for i := range rows {
				for j := range cols {
					wt[j*rows+i] = w[i*cols+j]
				}
			}
			v := b.G.AddInitializer(name+"_t", onnx.NewFloatTensor(name+"_t", []int64{int64(cols), int64(rows)}, wt))
			tr := b.G.NewNode("Transpose", "", name+"_transpose", []*onnx.Value{v}, name)
			tr.SetAttr(onnx.IntsAttr("perm", []int64{1, 0}))
			b.G.Append(tr)
			return tr.Output(0)
		}
		t.Name = ""
		c := b.G.NewNode("Constant", "", name+"_node", nil, name)
		c.SetAttr(&onnx.Attribute{Name: "value", Type: onnx.AttrTensor, Tensor: t})
		b.G.Append(c)
		return c.Output(0)
	}
	h := b.Op("Relu", nil, b.Op("MatMul", nil, x, add("w1", 64, 64)))
	y := b.Op("MatMul", nil, h, add("w2", 64, 48))
	return b.Output(y, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 48)))
}

// TestWeightPassesTakeConstantNodes: quantize, prune and lowrank treat
// weights held in Constant nodes (Paddle's exports), listed as graph
// inputs (old PyTorch exports), transposed from an initializer of their
// own (PyTorch without constant folding) or read through an Identity
// (PyTorch's deduplicated constants) as initializers: the pass rewrites
// them, leaves no Constant, Transpose, Identity or weight input, and the
// result computes exactly
// what the same pass makes of the model with initializers — which differs
// from the float model (the pass did its work).
func TestWeightPassesTakeConstantNodes(t *testing.T) {
	for _, spec := range []string{"quantize(mode=int4,report=0)", "quantize(mode=int8,report=0)", "prune(amount=0.5,keep_first=false,keep_last=false)", "lowrank(energy=0.9)"} {
		t.Run(spec, func(t *testing.T) {
			var outs [][]float32
			x := passtest.Input(1, 64)
			for _, held := range []int{inInitializers, inConstantNodes, inGraphInputs, inTransposed, inIdentity} {
				m := weightsModel(held)
				p, err := passes.Parse(spec)
				if err != nil {
					t.Fatal(err)
				}
				reps, err := p.Run(context.Background(), m, passes.Config{})
				if err != nil {
					t.Fatalf("weights held %d: %v", held, err)
				}
				if reps[0].Rewrites == 0 {
					t.Errorf("weights held %d: no rewrite", held)
				}
				if len(m.Graph.Inputs) != 1 {
					t.Errorf("weights held %d: the result has %d inputs, want x alone", held, len(m.Graph.Inputs))
				}
				for _, n := range m.Graph.Nodes {
					if n.OpType == "Constant" || n.OpType == "Transpose" || n.OpType == "Identity" {
						t.Errorf("%s node %s left", n.OpType, n.Name)
					}
				}
				outs = append(outs, passtest.Eval(t, m, x))
			}
			for held := range outs {
				if !slices.Equal(outs[held], outs[0]) {
					t.Errorf("with weights held %d the result computes %v…, with initializers %v…", held, outs[held][:4], outs[0][:4])
				}
			}
			if float := passtest.Eval(t, weightsModel(inInitializers), x); slices.Equal(float, outs[0]) {
				t.Errorf("the result computes exactly what the float model does: the pass changed nothing")
			}
		})
	}
}

// TestSharedTransposedWeightStays: a weight transposed from an initializer
// that something else reads too (a tied embedding's table) is not made a
// copy of its own: the model would grow by a weight. The pass leaves that
// layer as it is.
func TestSharedTransposedWeightStays(t *testing.T) {
	m := weightsModel(inTransposed)
	g := m.Graph
	wt := g.ValueByName("w2_t")
	sum := g.NewNode("ReduceSum", "", "tied_reader", []*onnx.Value{wt}, "w2_sum")
	g.Append(sum)
	g.Outputs = append(g.Outputs, sum.Output(0))
	p, err := passes.Parse("quantize(mode=int8-weights,report=0)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), m, passes.Config{}); err != nil {
		t.Fatal(err)
	}
	transposes := 0
	for _, n := range g.Nodes {
		if n.OpType == "Transpose" {
			transposes++
			if n.Input(0) != wt {
				t.Errorf("the shared weight's Transpose reads %s, want w2_t", n.Input(0).Name)
			}
		}
	}
	if transposes != 1 || wt.Const == nil || wt.Const.DataType != onnx.Float {
		t.Errorf("%d Transposes left (want the shared one), w2_t %v", transposes, wt.Const)
	}
}
