// Package fold evaluates at optimization time what does not depend on the
// model's inputs: nodes whose inputs are all constant, shapes that are static,
// and BatchNormalization / Mul / Add by constants after Conv, ConvTranspose
// and Gemm, which fold into the weights and bias.
package fold

import (
	"slices"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

func init() {
	passes.Register(&passes.Pass{
		Name: "fold",
		Doc:  "constant and shape folding; BatchNormalization and Mul/Add by constants folded into Conv/ConvTranspose/Gemm",
		Options: []passes.Option{
			{Name: "max_bytes", Kind: passes.OptInt, Default: "1MiB",
				Doc: "a folded tensor may exceed the size of its inputs by at most this many bytes, so models never grow"},
			{Name: "max_memory", Kind: passes.OptInt, Default: "1GiB",
				Doc: "a node is folded only if evaluating it takes at most this much memory (its inputs as the interpreter holds them, its outputs twice), so that large models fold in bounded memory"},
			{Name: "bn", Kind: passes.OptBool, Default: "true", Doc: "fold BatchNormalization into the preceding Conv/ConvTranspose/Gemm"},
			{Name: "affine", Kind: passes.OptBool, Default: "true", Doc: "fold Mul/Add by per-channel constants into Conv/ConvTranspose/Gemm"},
		},
		Requires: []*passes.Analysis{passes.Shapes},
		Run:      run,
	})
}

func run(c *passes.Context, m *onnx.Model) (int, error) {
	total := 0
	for _, g := range m.Graphs() {
		total += foldConstants(c, m, g)
		total += reshapeWildcards(c, m, g)
		if c.Options.Bool("bn") {
			total += foldBatchNorms(c, m, g)
		}
		if c.Options.Bool("affine") {
			total += foldAffine(c, m, g)
		}
	}
	return total, nil
}

// quantizedWeight reports whether n dequantizes a constant: a weight (or
// bias) stored quantized. Folding it would store the weight in float again
// (4× the bytes of int8, 8× of int4) and take away the QDQ pattern ONNX
// Runtime and TensorRT turn into integer kernels, so it stays, however small.
func quantizedWeight(n *onnx.Node) bool {
	return n.OpType == "DequantizeLinear" && (n.Domain == "" || n.Domain == "ai.onnx") && passes.ConstTensor(n.Input(0)) != nil
}

// foldConstants replaces nodes whose inputs are all constants (or whose output
// is a static shape) by initializers holding their results.
func foldConstants(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	if err := g.TopoSort(); err != nil {
		return 0
	}
	limit, memory := c.Options.Int("max_bytes"), c.Options.Int("max_memory")
	n := 0
	for _, node := range slices.Clone(g.Nodes) {
		if node.Graph != g || !passes.Foldable(node) || quantizedWeight(node) {
			continue
		}
		outs, ok := shapeFold(node)
		if !ok {
			sz := sizesOf(node)
			switch {
			case sz.outKnown && sz.out > sz.in+limit:
				// Over the size budget: known without evaluating (an
				// Expand or Tile of a constant).
			case sz.memory() > memory:
				c.Logf("not folded: %s: evaluating it takes about %d bytes of memory, more than max_memory=%d", onnx.NodePlace(node), sz.memory(), memory)
			default:
				outs, ok = evaluate(c, m, node, limit)
			}
		}
		if !ok {
			outs, ok = contentFold(c.ShapeInfo(), node)
		}
		if !ok || !c.Allow() {
			continue
		}
		if replaceOutputs(m, g, node, outs) {
			n++
		}
	}
	return n
}

// reshapeWildcards gives a Reshape whose target shape is computed (Shape →
// Slice → Concat with constants, as exporters write x.view(x.size(0), -1))
// a constant target when shape inference knows every element but one: an
// element that is the data's own dimension at the same place (the same
// symbol: batch and sequence where a transformer splits or merges its
// heads) becomes 0, which Reshape reads as "copy it" (unless allowzero), the
// one unknown left becomes -1, which Reshape infers to the same value (the
// element count fixes it), and the shape arithmetic dies. ONNX Runtime's
// basic level does the same.
func reshapeWildcards(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	info := c.ShapeInfo()
	if info == nil {
		return 0
	}
	n := 0
	for _, node := range slices.Clone(g.Nodes) {
		if node.OpType != "Reshape" || node.Domain != "" || len(node.Inputs()) < 2 || node.Input(1) == nil || passes.ConstTensor(node.Input(1)) != nil {
			continue
		}
		dims, ok := info.Content(node.Input(1))
		if !ok || len(dims) == 0 {
			continue
		}
		copyDims := node.AttrInt("allowzero", 0) == 0
		var data []onnx.Dim // the data input's shape, for 0 (copy that dim)
		if x := node.Input(0); x != nil && x.Type != nil && x.Type.HasShape() {
			data = x.Type.Shape
		}
		// wildcard: the place of the one -1 (a literal one, or an unknown
		// element made one); two of them, or a literal 0 meaning zero,
		// and the target stays computed.
		target, wildcard, ok := make([]int64, len(dims)), -1, true
		for i, d := range dims {
			switch {
			case copyDims && d.Kind == onnx.DimParam && i < len(data) && data[i].Kind == onnx.DimParam && data[i].Param == d.Param:
				target[i] = 0 // the data's own dim i, whatever its size
			case d.Kind != onnx.DimValue || d.Value == -1:
				ok = ok && wildcard < 0
				wildcard, target[i] = i, -1
			case d.Value == 0 && !copyDims:
				ok = false
			default:
				target[i] = d.Value
			}
		}
		if !ok || !c.Allow() {
			continue
		}
		t := onnx.NewInt64Tensor("", []int64{int64(len(target))}, target)
		node.SetInput(1, passes.AddConst(m, g, node.Name+"_shape", t))
		n++
	}
	return n
}

// shapeFold folds Shape and Size of values whose shape is static.
func shapeFold(n *onnx.Node) ([]*onnx.Tensor, bool) {
	if n.Domain != "" || (n.OpType != "Shape" && n.OpType != "Size") {
		return nil, false
	}
	dims, ok := passes.StaticShape(n.Input(0))
	if !ok {
		return nil, false
	}
	if n.OpType == "Size" {
		size := int64(1)
		for _, d := range dims {
			size *= d
		}
		return []*onnx.Tensor{onnx.NewInt64Tensor("", nil, []int64{size})}, true
	}
	r := int64(len(dims))
	start, end := n.AttrInt("start", 0), n.AttrInt("end", r)
	clamp := func(x int64) int64 {
		if x < 0 {
			x += r
		}
		return max(0, min(x, r))
	}
	start, end = clamp(start), clamp(end)
	if end < start {
		end = start
	}
	sel := dims[start:end]
	return []*onnx.Tensor{onnx.NewInt64Tensor("", []int64{int64(len(sel))}, sel)}, true
}

// foldSizes are what folding a node would hold: its constant inputs as
// stored (in) and as the interpreter holds them (inHeld: 4-bit and 2-bit
// ones unpacked to a byte an element), its outputs as stored (out, known
// when every output's shape is static; else each unknown one counts as the
// largest input).
type foldSizes struct {
	in, inHeld, out int64
	outKnown        bool
}

// memory is what evaluating the node takes: the inputs held, each output
// twice (the interpreter's result, then the initializer's bytes).
func (s foldSizes) memory() int64 { return s.inHeld + 2*s.out }

func sizesOf(n *onnx.Node) foldSizes {
	s := foldSizes{outKnown: true}
	var largest int64
	for _, v := range n.Inputs() {
		if t := passes.ConstTensor(v); t != nil {
			held := max(t.ByteSize(), t.NumElements())
			s.in += t.ByteSize()
			s.inHeld += held
			largest = max(largest, held)
		}
	}
	for _, o := range n.Outputs() {
		if o == nil {
			continue
		}
		dims, ok := passes.StaticShape(o)
		if !ok {
			s.out += largest
			s.outKnown = false
			continue
		}
		elems := int64(1)
		for _, d := range dims {
			elems *= d
		}
		s.out += passes.ElemType(o).RawSize(elems)
	}
	return s
}

// evaluate runs a node whose inputs are all constant through the interpreter,
// refusing results larger than the inputs plus the byte budget.
// contentFold replaces shape arithmetic whose result shape inference knows
// to be static although the shapes it starts from are not: Shape → Slice[1:]
// of [N,3,H,W] covers static dims only, Gather(Shape(x), 1) is 3.
func contentFold(info *interp.ShapeInfo, n *onnx.Node) ([]*onnx.Tensor, bool) {
	if info == nil || n.OpType == "Constant" {
		return nil, false
	}
	var outs []*onnx.Tensor
	for _, o := range n.Outputs() {
		if o == nil {
			return nil, false
		}
		vals, ok := info.StaticContent(o)
		if !ok || passes.ElemType(o) != onnx.Int64 || o.Type == nil || !o.Type.HasShape() || len(o.Type.Shape) > 1 {
			return nil, false
		}
		var dims []int64
		if len(o.Type.Shape) == 1 {
			dims = []int64{int64(len(vals))}
		} else if len(vals) != 1 {
			return nil, false
		}
		outs = append(outs, onnx.NewInt64Tensor("", dims, vals))
	}
	return outs, len(outs) > 0
}

func evaluate(c *passes.Context, m *onnx.Model, n *onnx.Node, limit int64) ([]*onnx.Tensor, bool) {
	var in []*interp.Tensor
	var inBytes int64
	for _, v := range n.Inputs() {
		if v == nil {
			in = append(in, nil)
			continue
		}
		t := passes.ConstTensor(v)
		if t == nil {
			return nil, false
		}
		x, err := interp.FromONNX(t)
		if err != nil {
			return nil, false
		}
		inBytes += t.ByteSize()
		in = append(in, x)
	}
	if n.OpType == "Constant" {
		return nil, false // cleanup turns these into initializers
	}
	opset := m.Opset(n.Domain)
	if opset == 0 && n.Domain == "" {
		opset = 1
	}
	outs, err := interp.EvalNode(n, opset, in)
	if err != nil {
		c.Logf("not folded: %s: %v", onnx.NodePlace(n), err)
		return nil, false
	}
	var res []*onnx.Tensor
	var outBytes int64
	for i, o := range n.Outputs() {
		if o == nil {
			res = append(res, nil)
			continue
		}
		if i >= len(outs) || outs[i] == nil || outs[i].Kind != interp.KindTensor {
			return nil, false
		}
		t, err := interp.ToONNX(o.Name, outs[i])
		if err != nil {
			return nil, false
		}
		outBytes += t.ByteSize()
		res = append(res, t)
	}
	if outBytes > inBytes+limit {
		return nil, false
	}
	return res, true
}

// replaceOutputs turns each output of node into an initializer and removes node.
func replaceOutputs(m *onnx.Model, g *onnx.Graph, node *onnx.Node, outs []*onnx.Tensor) bool {
	for i, o := range node.Outputs() {
		if o != nil && o.IsGraphOutput() {
			_ = i
			return false // a graph output must stay computed by a node of the graph
		}
	}
	for i, o := range node.Outputs() {
		if o == nil {
			continue
		}
		name := o.Name
		v := passes.AddConst(m, g, name+"_folded", outs[i])
		onnx.ReplaceAllUsesWith(o, v)
		o.Name = g.FreshName(name + "_dead")
		v.Name, outs[i].Name = name, name // keep the value's name for readable diffs
	}
	g.RemoveNodes(node)
	return true
}
