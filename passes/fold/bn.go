package fold

import (
	"math"
	"slices"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// producer is a Conv, ConvTranspose or Gemm whose weights and bias can absorb
// a per-output-channel affine map y ↦ s·y + t.
type producer struct {
	node    *onnx.Node
	w       []float32 // weights (read-only view)
	wDims   []int64
	bias    []float32 // nil when absent
	outCh   int
	channel func(i int) int // output channel of weight element i
}

// affineTarget recognises the producer of v when its weights are float32
// constants and v has no other reader than the node being folded in.
func affineTarget(v *onnx.Value) *producer {
	p := v.Producer()
	if p == nil || p.Domain != "" || v.NumUses() != 1 || v.IsGraphOutput() || p.Output(0) != v {
		return nil
	}
	wt := passes.ConstTensor(p.Input(1))
	if wt == nil || wt.DataType != onnx.Float || len(wt.Dims) < 2 {
		return nil
	}
	w, err := wt.Float32s()
	if err != nil {
		return nil
	}
	pr := &producer{node: p, w: w, wDims: wt.Dims}
	biasIdx := 2
	switch p.OpType {
	case "Conv":
		pr.outCh = int(wt.Dims[0])
		per := len(w) / pr.outCh
		pr.channel = func(i int) int { return i / per }
	case "ConvTranspose":
		group := int(p.AttrInt("group", 1))
		cin, coutG := int(wt.Dims[0]), int(wt.Dims[1])
		if group <= 0 || cin%group != 0 {
			return nil
		}
		spatial := len(w) / (cin * coutG)
		pr.outCh = coutG * group
		cinG := cin / group
		pr.channel = func(i int) int {
			ci := i / (coutG * spatial)
			j := (i / spatial) % coutG
			return (ci/cinG)*coutG + j
		}
	case "Gemm":
		if len(wt.Dims) != 2 || p.AttrFloat("alpha", 1) != 1 || len(p.Outputs()) != 1 {
			return nil
		}
		if p.AttrInt("transB", 0) == 1 {
			pr.outCh = int(wt.Dims[0])
			k := int(wt.Dims[1])
			pr.channel = func(i int) int { return i / k }
		} else {
			pr.outCh = int(wt.Dims[1])
			n := pr.outCh
			pr.channel = func(i int) int { return i % n }
		}
		if p.Input(2) != nil && p.AttrFloat("beta", 1) != 1 {
			return nil
		}
	case "MatMul":
		// A 2-D product by constant weights [K, N]: a Gemm without bias
		// (it becomes one when a bias is folded in).
		if len(wt.Dims) != 2 || !isRank2(p.Input(0)) || !isRank2(v) {
			return nil
		}
		pr.outCh = int(wt.Dims[1])
		n := pr.outCh
		pr.channel = func(i int) int { return i % n }
	default:
		return nil
	}
	if b := p.Input(biasIdx); b != nil {
		bt := passes.ConstTensor(b)
		if bt == nil || bt.DataType != onnx.Float {
			return nil
		}
		bias, err := bt.AsFloat32()
		if err != nil {
			return nil
		}
		switch {
		case len(bias) == pr.outCh:
			pr.bias = bias
		case len(bias) == 1: // a broadcast Gemm bias
			pr.bias = make([]float32, pr.outCh)
			for i := range pr.bias {
				pr.bias[i] = bias[0]
			}
		default:
			return nil
		}
	}
	return pr
}

// apply rewrites the producer's weights and bias for y ↦ s·y + t (s or t may
// be nil) and makes its output replace `replaced`.
func (pr *producer) apply(m *onnx.Model, g *onnx.Graph, s, t []float32, replaced *onnx.Value) bool {
	if pr.node.OpType == "MatMul" && (pr.bias != nil || t != nil) && m.Opset("") < 7 {
		return false // Gemm broadcasts C only from opset 7
	}
	out := pr.node.Output(0)
	if !passes.Replace(replaced, out) {
		return false
	}
	if s != nil {
		t, w := onnx.MakeFloatTensor(pr.node.Input(1).Name, pr.wDims)
		if pr.node.OpType == "Conv" {
			// Conv weights are [out, in/group, k...]: one contiguous block per channel.
			per := len(pr.w) / pr.outCh
			for c := range pr.outCh {
				k := s[c]
				for i, x := range pr.w[c*per : (c+1)*per] {
					w[c*per+i] = x * k
				}
			}
		} else {
			for i, x := range pr.w {
				w[i] = x * s[pr.channel(i)]
			}
		}
		setConstInput(m, g, pr.node, 1, t)
	}
	if pr.bias != nil || t != nil {
		bias := make([]float32, pr.outCh)
		for c := range bias {
			b := float32(0)
			if pr.bias != nil {
				b = pr.bias[c]
			}
			if s != nil {
				b *= s[c]
			}
			if t != nil {
				b += t[c]
			}
			bias[c] = b
		}
		if pr.node.OpType == "MatMul" {
			pr.node.OpType = "Gemm" // Gemm(A, B, C) = A·B + C, alpha = beta = 1
		}
		name := pr.node.Name + "_bias"
		if old := pr.node.Input(2); old != nil {
			name = old.Name
		}
		setConstInput(m, g, pr.node, 2, onnx.NewFloatTensor(name, []int64{int64(pr.outCh)}, bias))
	}
	return true
}

// setConstInput makes input i of n a new constant. When the old constant has
// no other reader it is dropped and the new one takes its name, so diffs show
// the weight as changed rather than as removed and added.
func setConstInput(m *onnx.Model, g *onnx.Graph, n *onnx.Node, i int, t *onnx.Tensor) {
	old := n.Input(i)
	v := passes.AddConst(m, g, t.Name, t)
	n.SetInput(i, v)
	if old != nil && old.Const != nil && old.Graph() == g && !passes.IsUsed(old) && !old.IsGraphInput() {
		name := old.Name
		g.RemoveInitializer(old)
		old.Name = g.FreshName(name + "_old")
		v.Name, t.Name = name, name
	}
}

// foldBatchNorms folds inference-mode BatchNormalization into its producer.
func foldBatchNorms(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	n := 0
	for _, bn := range slices.Clone(g.Nodes) {
		if bn.OpType != "BatchNormalization" || bn.Domain != "" || bn.Graph != g || interp.BatchNormTraining(bn, m.Opset("")) {
			continue
		}
		extra := false
		for i, o := range bn.Outputs() {
			if i > 0 && passes.IsUsed(o) {
				extra = true
			}
		}
		if extra || bn.Input(0) == nil {
			continue
		}
		pr := affineTarget(bn.Input(0))
		if pr == nil {
			continue
		}
		if (pr.node.OpType == "Gemm" || pr.node.OpType == "MatMul") && !isRank2(bn.Input(0)) {
			continue
		}
		params := make([][]float32, 4)
		ok := true
		for i := range params {
			t := passes.ConstTensor(bn.Input(i + 1))
			if t == nil || t.DataType != onnx.Float {
				ok = false
				break
			}
			params[i], _ = t.AsFloat32()
			if len(params[i]) != pr.outCh {
				ok = false
				break
			}
		}
		if !ok || !c.Allow() {
			continue
		}
		eps := float64(bn.AttrFloat("epsilon", 1e-5))
		scale, bias, mean, variance := params[0], params[1], params[2], params[3]
		s := make([]float32, pr.outCh)
		t := make([]float32, pr.outCh)
		for i := range s {
			k := float64(scale[i]) / math.Sqrt(float64(variance[i])+eps)
			s[i] = float32(k)
			t[i] = float32(float64(bias[i]) - float64(mean[i])*k)
		}
		if pr.apply(m, g, s, t, bn.Output(0)) {
			g.RemoveNodes(bn)
			n++
		}
	}
	return n
}

func isRank2(v *onnx.Value) bool {
	s, ok := passes.StaticShape(v)
	return ok && len(s) == 2 || (v.Type != nil && v.Type.HasShape() && len(v.Type.Shape) == 2)
}

// foldAffine folds Mul and Add by per-output-channel constants into the producer.
func foldAffine(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	n := 0
	for _, node := range slices.Clone(g.Nodes) {
		if node.Graph != g || node.Domain != "" || (node.OpType != "Mul" && node.OpType != "Add") {
			continue
		}
		for side := 0; side < 2; side++ {
			x, k := node.Input(side), node.Input(1-side)
			if x == nil || k == nil {
				continue
			}
			kt := passes.ConstTensor(k)
			if kt == nil || kt.DataType != onnx.Float {
				continue
			}
			pr := affineTarget(x)
			if pr == nil {
				continue
			}
			vec, ok := perChannel(kt, pr, x)
			if !ok || !c.Allow() {
				continue
			}
			var done bool
			if node.OpType == "Mul" {
				done = pr.apply(m, g, vec, nil, node.Output(0))
			} else {
				done = pr.apply(m, g, nil, vec, node.Output(0))
			}
			if done {
				g.RemoveNodes(node)
				n++
				break
			}
		}
	}
	return n
}

// perChannel expands a constant that broadcasts along the output-channel axis
// only (shape [C,1,1], [1,C,1,1], [C] for Gemm, or a scalar) to one value per
// channel. Constants that would change the output's shape are refused.
func perChannel(k *onnx.Tensor, pr *producer, x *onnx.Value) ([]float32, bool) {
	vals, err := k.AsFloat32()
	if err != nil {
		return nil, false
	}
	out := make([]float32, pr.outCh)
	if len(vals) == 1 {
		xs, ok := passes.StaticShape(x)
		if !ok || len(k.Dims) > len(xs) {
			return nil, false
		}
		for i := range out {
			out[i] = vals[0]
		}
		return out, true
	}
	if len(vals) != pr.outCh {
		return nil, false
	}
	xs, ok := passes.StaticShape(x)
	if !ok || len(k.Dims) > len(xs) {
		return nil, false
	}
	// The channel axis is 1 for Conv outputs [N,C,...] and the last for Gemm [M,N].
	chAxis := 1
	if pr.node.OpType == "Gemm" || pr.node.OpType == "MatMul" {
		chAxis = len(xs) - 1
	}
	off := len(xs) - len(k.Dims)
	for i, d := range k.Dims {
		axis := off + i
		if axis == chAxis {
			if d != int64(pr.outCh) {
				return nil, false
			}
		} else if d != 1 {
			return nil, false
		}
	}
	copy(out, vals)
	return out, true
}
