package prune

import (
	"fmt"

	"github.com/onnxslim/onnxslim/onnx"
)

// layer is a prunable node: a Conv, Gemm or MatMul whose weight is a
// constant float32 tensor read by this node alone. Its weight is seen as a
// matrix of Rows output channels by Cols reduction columns per group
// (Conv: Cols = C/groups · kernel size, column k = c·S + s, matching im2col).
type layer struct {
	node    *onnx.Node
	weight  *onnx.Value // the constant weight input
	rows    int         // output channels (all groups)
	cols    int         // reduction length per output row
	groups  int         // Conv groups (1 otherwise); rows of group g read group g's input channels
	spatial int         // Conv kernel size S (product of kernel dims), 1 otherwise
	transB  bool        // Gemm: weight stored [N, K]
	bias    *onnx.Value // Conv input 2 / Gemm C when it is a constant vector of length rows, else nil
}

// index is the flat position of weight (o, k) in the weight tensor.
func (l *layer) index(o, k int) int {
	switch {
	case l.node.OpType == "ConvTranspose":
		og := l.rows / l.groups
		g, j := o/og, o%og
		c, s := k/l.spatial, k%l.spatial
		return ((g*(l.cols/l.spatial)+c)*og+j)*l.spatial + s
	case l.node.OpType == "Conv" || l.transB:
		return o*l.cols + k
	}
	return k*l.rows + o // [K, N] layouts (MatMul, Gemm transB=0)
}

// name is the node's name, or its op and output when it has none.
func (l *layer) name() string {
	if l.node.Name != "" {
		return l.node.Name
	}
	return l.node.OpType + ":" + l.node.Output(0).Name
}

// findLayers returns the prunable layers in graph order, and for the nodes
// that look like layers but cannot be pruned, why.
func findLayers(m *onnx.Model) (layers []*layer, skipped []Skip) {
	for _, n := range m.Graph.Nodes {
		if n.Domain != "" && n.Domain != "ai.onnx" {
			continue
		}
		switch n.OpType {
		case "Conv", "Gemm", "MatMul":
		default:
			continue
		}
		l, why := newLayer(n)
		if w := n.Input(1); why == "" && (w.NumUses() != 1 || w.IsGraphOutput()) {
			// Zeroing weights in place would prune the other readers too.
			// (Channel removal writes each reader's weight anew: it may.)
			why = fmt.Sprintf("weight %s is shared by %d uses", w.Name, w.NumUses())
		}
		if why != "" {
			skipped = append(skipped, Skip{Node: nodeName(n), Op: n.OpType, Reason: why})
			continue
		}
		layers = append(layers, l)
	}
	return layers, skipped
}

func nodeName(n *onnx.Node) string {
	if n.Name != "" {
		return n.Name
	}
	if out := n.Output(0); out != nil {
		return n.OpType + ":" + out.Name
	}
	return n.OpType
}

// newLayer describes n's weight, or says why n is not prunable.
func newLayer(n *onnx.Node) (*layer, string) {
	w := n.Input(1)
	if w == nil || w.Const == nil {
		return nil, "weight is not a constant"
	}
	if w.Const.DataType != onnx.Float {
		return nil, fmt.Sprintf("weight is %s, not float32", w.Const.DataType)
	}
	if n.Input(0) == nil || n.Output(0) == nil {
		return nil, "missing input or output"
	}
	dims := w.Const.Dims
	l := &layer{node: n, weight: w, groups: 1, spatial: 1}
	switch n.OpType {
	case "Conv":
		if len(dims) < 3 {
			return nil, fmt.Sprintf("weight has rank %d", len(dims))
		}
		l.groups = int(n.AttrInt("group", 1))
		l.rows = int(dims[0])
		for _, d := range dims[2:] {
			l.spatial *= int(d)
		}
		l.cols = int(dims[1]) * l.spatial
		if l.groups < 1 || l.rows%l.groups != 0 {
			return nil, fmt.Sprintf("group=%d does not divide %d output channels", l.groups, l.rows)
		}
	case "ConvTranspose":
		// Weight [C, M/group, k…]: output channel o of group g is the
		// slice [g·C/group : (g+1)·C/group, o mod M/group, …] (channel
		// scores read it; refits are for Conv, Gemm and MatMul).
		if len(dims) < 3 {
			return nil, fmt.Sprintf("weight has rank %d", len(dims))
		}
		l.groups = int(n.AttrInt("group", 1))
		for _, d := range dims[2:] {
			l.spatial *= int(d)
		}
		if l.groups < 1 || int(dims[0])%l.groups != 0 {
			return nil, fmt.Sprintf("group=%d does not divide %d input channels", l.groups, dims[0])
		}
		l.rows = int(dims[1]) * l.groups
		l.cols = int(dims[0]) / l.groups * l.spatial
	case "Gemm":
		if len(dims) != 2 {
			return nil, fmt.Sprintf("weight has rank %d", len(dims))
		}
		if n.AttrInt("transA", 0) != 0 {
			return nil, "transA=1"
		}
		l.transB = n.AttrInt("transB", 0) != 0
		if l.transB {
			l.rows, l.cols = int(dims[0]), int(dims[1])
		} else {
			l.rows, l.cols = int(dims[1]), int(dims[0])
		}
	case "MatMul":
		if len(dims) != 2 {
			return nil, fmt.Sprintf("weight has rank %d (only 2-D MatMul weights)", len(dims))
		}
		l.rows, l.cols = int(dims[1]), int(dims[0])
	}
	if l.rows == 0 || l.cols == 0 {
		return nil, "empty weight"
	}
	if b := n.Input(2); b != nil && b.Const != nil && b.Const.DataType == onnx.Float &&
		b.Const.NumElements() == int64(l.rows) && b.NumUses() == 1 && !b.IsGraphOutput() {
		l.bias = b
	}
	return l, ""
}

// affine reports whether the layer computes x·W + b exactly (the refit
// solves for that); Gemm with alpha or beta other than 1 does not.
func (l *layer) affine() bool {
	if l.node.OpType != "Gemm" {
		return true
	}
	return l.node.AttrFloat("alpha", 1) == 1 && l.node.AttrFloat("beta", 1) == 1
}

// hasBiasSlot reports whether a bias can be given to the layer (Conv input
// 2, Gemm C); MatMul has none.
func (l *layer) hasBiasSlot() bool {
	if l.node.OpType == "MatMul" {
		return false
	}
	if b := l.node.Input(2); b != nil && l.bias == nil {
		return false // a bias the pass cannot edit (shared, broadcast, computed)
	}
	return true
}

// weights returns a copy of the weight's values.
func (l *layer) weights() ([]float32, error) {
	w, err := l.weight.Const.AsFloat32()
	if err != nil {
		return nil, fmt.Errorf("%s: weight %s: %w", l.name(), l.weight.Name, err)
	}
	return append([]float32(nil), w...), nil
}

// biasValues returns a copy of the bias (zeros when there is none).
func (l *layer) biasValues() ([]float32, error) {
	if l.bias == nil {
		return make([]float32, l.rows), nil
	}
	b, err := l.bias.Const.AsFloat32()
	if err != nil {
		return nil, fmt.Errorf("%s: bias %s: %w", l.name(), l.bias.Name, err)
	}
	return append([]float32(nil), b...), nil
}

// setWeights gives the weight value a new tensor (tensors are shared
// read-only between clones).
func (l *layer) setWeights(w []float32) {
	c := l.weight.Const
	l.weight.Const = onnx.NewFloatTensor(c.Name, append([]int64(nil), c.Dims...), w)
}

// setBias gives the layer a new bias, adding an initializer when it had none.
func (l *layer) setBias(b []float32) {
	if l.bias != nil {
		c := l.bias.Const
		l.bias.Const = onnx.NewFloatTensor(c.Name, append([]int64(nil), c.Dims...), b)
		return
	}
	// A layer without a bias followed by a BatchNormalization takes the
	// bias into the normalization's mean (BN(y + b) is BN with mean − b):
	// no new add, so the FLOPs do not grow.
	if out := l.node.Output(0); out != nil && !out.IsGraphOutput() {
		if cs := out.Consumers(); len(cs) == 1 && cs[0].OpType == "BatchNormalization" && cs[0].Input(0) == out {
			if mean := cs[0].Input(3); mean != nil && mean.Const != nil && mean.Const.DataType == onnx.Float &&
				mean.NumUses() == 1 && !mean.IsGraphOutput() && mean.Const.NumElements() == int64(len(b)) {
				if mv, err := mean.Const.AsFloat32(); err == nil {
					nv := make([]float32, len(mv))
					for i := range mv {
						nv[i] = mv[i] - b[i]
					}
					mean.Const = onnx.NewFloatTensor(mean.Const.Name, append([]int64(nil), mean.Const.Dims...), nv)
					return
				}
			}
		}
	}
	v := l.node.Graph.AddInitializer(l.weight.Name+"_bias", onnx.NewFloatTensor("", []int64{int64(l.rows)}, b))
	l.node.SetInput(2, v)
	l.bias = v
}
