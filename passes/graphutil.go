package passes

import (
	"slices"
	"strings"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Rewrite helpers shared by the passes.

// FusedContribOps counts ONNX Runtime's fused contrib ops (com.microsoft
// FusedConv, FusedGemm, FusedMatMul) in m's main graph: the model was saved
// after ORT's optimizer. Passes that work on the standard Conv, Gemm and
// MatMul leave them; the unfuse pass turns them back.
func FusedContribOps(m *onnx.Model) int {
	n := 0
	for _, nd := range m.Graph.Nodes {
		if nd.Domain == "com.microsoft" && (nd.OpType == "FusedConv" || nd.OpType == "FusedGemm" || nd.OpType == "FusedMatMul") {
			n++
		}
	}
	return n
}

// ConstTensor returns the constant a value holds: an initializer, or the
// output of a Constant node with a tensor value. Nil if it is not constant.
// Graph inputs with an initializer (a default value) are not constant:
// callers may feed them, except in IR < 4 models where every initializer is
// listed as an input.
func ConstTensor(v *onnx.Value) *onnx.Tensor {
	if v == nil {
		return nil
	}
	if v.Const != nil {
		if v.IsGraphInput() && !v.Graph().Root().LegacyInitializerInputs {
			return nil
		}
		return v.Const
	}
	if p := v.Producer(); p != nil && p.OpType == "Constant" && p.Domain == "" {
		if a := p.Attr("value"); a != nil && a.Tensor != nil {
			return a.Tensor
		}
	}
	return nil
}

// Foldable reports whether n may be evaluated ahead of time once its inputs
// are constants: a deterministic standard op (not Random*, Multinomial,
// Bernoulli or Dropout, whose training mode is random) without subgraphs.
func Foldable(n *onnx.Node) bool {
	if strings.HasPrefix(n.OpType, "Random") || n.OpType == "Multinomial" || n.OpType == "Bernoulli" {
		return false
	}
	if len(n.Subgraphs()) > 0 || len(n.Outputs()) == 0 {
		return false
	}
	if n.OpType == "Dropout" {
		return false // cleanup removes inference-mode Dropout; training-mode is random
	}
	return n.Domain == "" || n.Domain == "ai.onnx" || n.Domain == "ai.onnx.ml"
}

// ConstInts reads a constant integer tensor (an axes, pads or steps
// input) as int64s, or nil where v is not a constant integer tensor.
func ConstInts(v *onnx.Value) []int64 {
	t := ConstTensor(v)
	if t == nil {
		return nil
	}
	x, err := t.AsInt64()
	if err != nil {
		return nil
	}
	return x
}

// StaticShape returns a value's shape when every dimension is a known number.
func StaticShape(v *onnx.Value) ([]int64, bool) {
	if v == nil {
		return nil, false
	}
	if t := ConstTensor(v); t != nil {
		return t.Dims, true
	}
	if v.Type == nil || v.Type.Kind != onnx.TypeTensor || !v.Type.HasShape() {
		return nil, false
	}
	return v.Type.Shape.Static()
}

// ElemType returns a value's element type, or Undefined.
func ElemType(v *onnx.Value) onnx.DataType {
	if v == nil {
		return onnx.Undefined
	}
	if t := ConstTensor(v); t != nil {
		return t.DataType
	}
	if v.Type != nil && v.Type.Kind == onnx.TypeTensor {
		return v.Type.Elem
	}
	return onnx.Undefined
}

// Replace makes readers of old read new. It refuses (returns false) when old
// is a graph output that new cannot stand in for without renaming a graph
// input, an initializer, another output or a value of an enclosing graph:
// the model's interface never changes.
func Replace(old, new *onnx.Value) bool {
	if old == new {
		return true
	}
	if old.IsGraphOutput() {
		if new.Producer() == nil || new.Graph() != old.Graph() || new.IsGraphOutput() || new.IsGraphInput() {
			return false
		}
	}
	onnx.ReplaceAllUsesWith(old, new)
	return true
}

// AddConst adds a constant tensor to g as an initializer. In IR < 4 models
// the main graph's initializers must also be listed as inputs. A large
// payload moves to disk (onnx.Spill), so that a pass adding tensor after
// tensor does not hold them all in memory.
func AddConst(m *onnx.Model, g *onnx.Graph, name string, t *onnx.Tensor) *onnx.Value {
	onnx.Spill(t)
	v := g.AddInitializer(name, t)
	if m.IRVersion < 4 && g.Parent == nil {
		v.Type = onnx.TensorType(t.DataType, onnx.ShapeOf(t.Dims...))
		g.Inputs = append(g.Inputs, v)
	}
	return v
}

// ConstantToInitializer turns the Constant node that outputs v into an
// initializer of the same name in v's graph and returns it; v itself where
// v is not a Constant's dense output (or is a graph output, which an
// initializer cannot be without also being an input).
func ConstantToInitializer(m *onnx.Model, v *onnx.Value) *onnx.Value {
	if v == nil || v.IsGraphOutput() || v.Producer() == nil || len(v.Producer().Outputs()) != 1 {
		return v
	}
	node := v.Producer()
	t := onnx.ConstantValue(node)
	if t == nil {
		return v
	}
	g := v.Graph()
	t = t.Clone()
	name := v.Name
	c := AddConst(m, g, name, t)
	onnx.ReplaceAllUsesWith(v, c)
	g.RemoveNodes(node)
	if c.Name != name { // the Constant's output name is free now: keep it
		c.Name, t.Name = name, name
	}
	return c
}

// WeightsToInitializers makes the float weights (input 1) of the Conv,
// ConvTranspose, Gemm and MatMul nodes of m's main graph (where those
// passes work), and with nested of its subgraphs too (If branches, Loop
// bodies: where weight-only quantization reaches), plain initializers,
// says so in c's log, and returns how many:
// a weight held in a Constant node (Paddle's and some TensorFlow exporters
// write them so) becomes an initializer (ConstantToInitializer), and the
// initializers also listed as graph inputs (defaults the caller may
// override; older PyTorch exporters list every weight so) stop being
// inputs, as ONNX Runtime's quantizer does for the weights it takes. The
// passes that rewrite weights (quantize, prune, lowrank) then treat such
// models as they treat the usual ones. Each counts as a rewrite of the pass.
func WeightsToInitializers(c *Context, m *onnx.Model, nested bool) int {
	g := m.Graph
	unlisted := 0
	if !g.LegacyInitializerInputs {
		// Every such input, not only the weights: their biases and
		// normalization parameters are as fixed as they are.
		g.Inputs = slices.DeleteFunc(g.Inputs, func(v *onnx.Value) bool {
			if v.Const != nil {
				unlisted++
				return true
			}
			return false
		})
	}
	lifted, computed, bypassed := 0, 0, 0
	g.Walk(func(sg *onnx.Graph) {
		if sg != g && !nested {
			return
		}
		for _, node := range slices.Clone(sg.Nodes) {
			if node.Domain != "" || !weightOps[node.OpType] {
				continue
			}
			for i := 1; i <= 2 && i < len(node.Inputs()); i++ {
				v := node.Input(i)
				if src := identitySource(v); src != nil {
					node.SetInput(i, src)
					removeDeadIdentities(v)
					bypassed++
				}
			}
			if w := node.Input(1); w != nil && !w.IsConst() {
				if t := ConstTensor(w); t != nil && t.DataType == onnx.Float && ConstantToInitializer(m, w) != w {
					lifted++
				} else if foldWeightChain(m, w) != w {
					computed++
				}
			}
		}
	})
	if lifted+computed+bypassed+unlisted > 0 {
		c.Invalidate() // the analyses the pass required describe the graph before
	}
	if lifted > 0 {
		c.Logf("%d weights held in Constant nodes made initializers", lifted)
	}
	if bypassed > 0 {
		c.Logf("%d weights and biases read through Identity nodes (an exporter's deduplicated constants) read the constant directly", bypassed)
	}
	if computed > 0 {
		c.Logf("%d weights computed from constants (a Transpose or Reshape of an initializer, as exporters write without constant folding) made initializers", computed)
	}
	if unlisted > 0 {
		c.Logf("%d initializers listed as graph inputs (defaults a caller could override) are no longer inputs: the result takes them as fixed, as ONNX Runtime's quantizer does with weights", unlisted)
	}
	return lifted + computed + bypassed + unlisted
}

// removeDeadIdentities removes the Identity nodes of the chain ending in v
// that nothing reads any more.
func removeDeadIdentities(v *onnx.Value) {
	for v != nil && !IsUsed(v) && v.Producer() != nil && v.Producer().OpType == "Identity" {
		p := v.Producer()
		v = p.Input(0)
		p.Graph.RemoveNodes(p)
	}
}

// identitySource is the constant a chain of Identity nodes passes on to v,
// or nil.
func identitySource(v *onnx.Value) *onnx.Value {
	src := v
	for src != nil && !src.IsGraphOutput() && src.Producer() != nil && src.Producer().OpType == "Identity" && src.Producer().Domain == "" {
		src = src.Producer().Input(0)
	}
	if src == v || src == nil || !src.IsConst() || src.Graph() != v.Graph() {
		return nil
	}
	return src
}

// weightChainOps rearrange a tensor without computing with it:
// exporters that do not fold constants write a layer's weight as one of
// them applied to an initializer (PyTorch's nn.Linear: MatMul by
// Transpose(W)).
var weightChainOps = map[string]bool{"Transpose": true, "Reshape": true, "Squeeze": true, "Unsqueeze": true,
	"Flatten": true, "Identity": true}

// foldWeightChain evaluates the chain of weightChainOps that computes w
// from one initializer, when w and each value of the chain have no other
// reader (the result is then the layer's own weight and the model does
// not grow), and returns the initializer holding the result, named as w;
// else w.
func foldWeightChain(m *onnx.Model, w *onnx.Value) *onnx.Value {
	p := w.Producer()
	if p == nil || p.Domain != "" || !weightChainOps[p.OpType] || len(p.Outputs()) != 1 ||
		w.NumUses() != 1 || w.IsGraphOutput() || len(p.Subgraphs()) > 0 {
		return w
	}
	data := p.Input(0)
	if data == nil {
		return w
	}
	if !data.IsConst() {
		if data = ConstantToInitializer(m, foldWeightChain(m, data)); !data.IsConst() {
			return w
		}
	}
	g := w.Graph()
	if data.Graph() != g || data.NumUses() != 1 || data.IsGraphOutput() || slices.Contains(g.Inputs, data) {
		return w
	}
	in := []*interp.Tensor{}
	for _, v := range p.Inputs() {
		if v == nil {
			in = append(in, nil)
			continue
		}
		t := ConstTensor(v)
		if t == nil {
			return w
		}
		x, err := interp.FromONNX(t)
		if err != nil {
			return w
		}
		in = append(in, x)
	}
	outs, err := interp.EvalNode(p, max(m.Opset(""), 1), in)
	if err != nil || len(outs) != 1 || outs[0] == nil || outs[0].Kind != interp.KindTensor {
		return w
	}
	t, err := interp.ToONNX(w.Name, outs[0])
	if err != nil {
		return w
	}
	name := w.Name
	v := AddConst(m, g, name+"_folded", t)
	onnx.ReplaceAllUsesWith(w, v)
	g.RemoveNodes(p)
	g.RemoveInitializer(data)
	v.Name, t.Name = name, name
	return v
}

var weightOps = map[string]bool{"Conv": true, "ConvTranspose": true, "Gemm": true, "MatMul": true}

// IsUsed reports whether anything reads v: a node, or the graph's outputs.
func IsUsed(v *onnx.Value) bool {
	return v != nil && (v.NumUses() > 0 || v.IsGraphOutput())
}

// EachGraph calls f for every graph of the model, innermost last.
func EachGraph(m *onnx.Model, f func(g *onnx.Graph)) {
	for _, g := range m.Graphs() {
		f(g)
	}
}

// EachOp is the loop of a pattern rewrite: it visits the nodes of g whose
// type (default domain) is one of ops, in order, over a snapshot of g.Nodes
// so that rewrite may insert and remove nodes; a node an earlier rewrite
// removed is skipped. It returns how many calls of rewrite changed the
// graph (returned true).
func EachOp(g *onnx.Graph, ops []string, rewrite func(n *onnx.Node) bool) int {
	changed := 0
	for _, n := range slices.Clone(g.Nodes) {
		if n.Graph != g || n.Domain != "" || !slices.Contains(ops, n.OpType) {
			continue
		}
		if rewrite(n) {
			changed++
		}
	}
	return changed
}
