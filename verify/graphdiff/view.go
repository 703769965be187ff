package graphdiff

import (
	"math"
	"slices"

	"github.com/onnxslim/onnxslim/onnx"
)

// GraphView is the graph of model B with model A's removed nodes put back as
// ghosts, for drawing: the HTML page lays it out in the browser. Nodes are
// graph inputs ("input"), graph outputs ("output") and operators ("op");
// edges join a value's producer to its consumers.
type GraphView struct {
	Nodes []ViewNode `json:"nodes"`
	Edges []ViewEdge `json:"edges"`
}

// ViewNode is one box of the drawing.
type ViewNode struct {
	Kind   string `json:"k"` // "op", "input" or "output"
	Name   string `json:"n"`
	Op     string `json:"op,omitempty"`
	Status string `json:"s,omitempty"` // "added", "removed", "changed" or "" (unchanged)
	// Attrs are the attribute names and rendered values, in file order.
	Attrs   [][2]string `json:"a,omitempty"`
	Inputs  []ViewPort  `json:"i,omitempty"`
	Outputs []ViewPort  `json:"o,omitempty"`
	// Change says what differs for a changed node; Line is a removed node's
	// canonical line.
	Change *NodeChange `json:"c,omitempty"`
	Line   string      `json:"l,omitempty"`
	// Weights are the numeric deltas of the node's changed constant inputs.
	Weights []WeightDelta `json:"w,omitempty"`
	// Bodies are B's If/Loop/Scan subgraphs, drawn on demand.
	Bodies []ViewBody `json:"g,omitempty"`
}

// ViewPort is a node's input or output: the tensor's name and type.
type ViewPort struct {
	Name  string `json:"n"`
	Type  string `json:"t"`
	Const bool   `json:"c,omitempty"`
}

// ViewEdge joins node From to node To (indexes into Nodes); Ghost marks an
// edge of model A drawn to or from a removed node.
type ViewEdge struct {
	From  int  `json:"f"`
	To    int  `json:"t"`
	Ghost bool `json:"g,omitempty"`
}

// ViewBody is a subgraph attribute's graph.
type ViewBody struct {
	Attr  string     `json:"attr"`
	Graph *GraphView `json:"graph"`
}

// WeightDelta is how much a constant input changed between A and B.
type WeightDelta struct {
	Name   string   `json:"name"`
	TypeA  string   `json:"type_a"`
	TypeB  string   `json:"type_b"`
	BytesA int64    `json:"bytes_a"`
	BytesB int64    `json:"bytes_b"`
	MaxAbs *float64 `json:"max_abs_diff,omitempty"`
	// MeanAbs is the mean |b-a|; RelL2 is ||b-a|| / ||a||.
	MeanAbs *float64 `json:"mean_abs_diff,omitempty"`
	RelL2   *float64 `json:"rel_l2,omitempty"`
}

// View builds the drawing of b with a's removed nodes ghosted, matching the
// nodes as Compare does (so its counts of added, removed and changed nodes
// are Compare's).
func View(a, b *onnx.Model) *GraphView {
	mt := match(a, b)
	v := &GraphView{Nodes: []ViewNode{}, Edges: []ViewEdge{}}
	if !hasGraph(b) {
		return v
	}
	g := b.Graph
	ids := map[*onnx.Node]int{}
	producer := map[*onnx.Value]int{} // B value → node index
	for _, in := range g.Inputs {
		if in.IsConst() {
			continue
		}
		producer[in] = len(v.Nodes)
		v.Nodes = append(v.Nodes, ViewNode{Kind: "input", Name: in.Name, Outputs: []ViewPort{port(in)}, Status: ioStatus(a, in.Name, true)})
	}
	edges := map[ViewEdge]bool{}
	addEdge := func(e ViewEdge) {
		if e.From != e.To && !edges[e] && !edges[ViewEdge{From: e.From, To: e.To, Ghost: !e.Ghost}] {
			edges[e] = true
			v.Edges = append(v.Edges, e)
		}
	}
	for _, n := range g.Nodes {
		vn := opNode(n)
		if an, ok := mt.ba[n]; !ok {
			vn.Status = "added"
		} else if c, changed := nodeChange(mt, an, n); changed {
			vn.Status, vn.Change = "changed", &c
			vn.Weights = weightDeltas(an, n)
		}
		for _, sg := range subgraphAttrs(n) {
			vn.Bodies = append(vn.Bodies, ViewBody{Attr: sg.name, Graph: View(nil, &onnx.Model{Graph: sg.g})})
		}
		ids[n] = len(v.Nodes)
		for _, in := range n.Inputs() {
			if p, ok := producer[in]; ok && in != nil {
				addEdge(ViewEdge{From: p, To: len(v.Nodes)})
			}
		}
		for _, out := range n.Outputs() {
			if out != nil {
				producer[out] = len(v.Nodes)
			}
		}
		v.Nodes = append(v.Nodes, vn)
	}
	// A's removed nodes, joined to what they read and fed in A's terms.
	removed := map[*onnx.Node]int{}
	if hasGraph(a) {
		for _, n := range a.Graph.Nodes {
			if _, ok := mt.ab[n]; ok {
				continue
			}
			vn := opNode(n)
			vn.Status, vn.Line = "removed", NodeLine(n)
			removed[n] = len(v.Nodes)
			v.Nodes = append(v.Nodes, vn)
		}
		bInputs := map[string]int{}
		for i, n := range v.Nodes {
			if n.Kind == "input" {
				bInputs[n.Name] = i
			}
		}
		for _, n := range a.Graph.Nodes {
			id, ok := removed[n]
			if !ok {
				continue
			}
			for _, in := range n.Inputs() {
				if in == nil || in.IsConst() {
					continue
				}
				if p := in.Producer(); p != nil {
					if pid, ok := removed[p]; ok {
						addEdge(ViewEdge{From: pid, To: id, Ghost: true})
					} else if bp := mt.ab[p]; bp != nil {
						addEdge(ViewEdge{From: ids[bp], To: id, Ghost: true})
					}
				} else if pid, ok := bInputs[in.Name]; ok {
					addEdge(ViewEdge{From: pid, To: id, Ghost: true})
				}
			}
			for _, out := range n.Outputs() {
				if out == nil {
					continue
				}
				for _, c := range out.Consumers() {
					if bc := mt.ab[c]; bc != nil {
						addEdge(ViewEdge{From: id, To: ids[bc], Ghost: true})
					}
				}
			}
		}
	}
	for _, out := range g.Outputs {
		id := len(v.Nodes)
		v.Nodes = append(v.Nodes, ViewNode{Kind: "output", Name: out.Name, Inputs: []ViewPort{port(out)}, Status: ioStatus(a, out.Name, false)})
		if p, ok := producer[out]; ok {
			addEdge(ViewEdge{From: p, To: id})
		}
		if hasGraph(a) {
			for _, ao := range a.Graph.Outputs {
				if p := ao.Producer(); ao.Name == out.Name && p != nil {
					if pid, ok := removed[p]; ok {
						addEdge(ViewEdge{From: pid, To: id, Ghost: true})
					}
				}
			}
		}
	}
	return v
}

// ioStatus marks a graph input or output of B that A lacks (only when there
// is an A to compare with).
func ioStatus(a *onnx.Model, name string, input bool) string {
	if !hasGraph(a) {
		return ""
	}
	vs := a.Graph.Outputs
	if input {
		vs = a.Graph.Inputs
	}
	for _, v := range vs {
		if v.Name == name {
			return ""
		}
	}
	return "added"
}

type namedGraph struct {
	name string
	g    *onnx.Graph
}

func subgraphAttrs(n *onnx.Node) []namedGraph {
	var out []namedGraph
	for _, at := range n.Attrs {
		switch at.Type {
		case onnx.AttrGraph:
			if at.Graph != nil {
				out = append(out, namedGraph{at.Name, at.Graph})
			}
		case onnx.AttrGraphs:
			for _, g := range at.Graphs {
				if g != nil {
					out = append(out, namedGraph{at.Name, g})
				}
			}
		}
	}
	return out
}

func opNode(n *onnx.Node) ViewNode {
	vn := ViewNode{Kind: "op", Name: n.Name, Op: opName(n)}
	for _, at := range n.Attrs {
		vn.Attrs = append(vn.Attrs, [2]string{at.Name, AttrValue(at)})
	}
	for _, in := range n.Inputs() {
		vn.Inputs = append(vn.Inputs, port(in))
	}
	for _, out := range n.Outputs() {
		vn.Outputs = append(vn.Outputs, port(out))
	}
	return vn
}

func port(v *onnx.Value) ViewPort {
	if v == nil {
		return ViewPort{Name: "∅", Type: ""}
	}
	if v.Const != nil {
		return ViewPort{Name: v.Name, Type: v.Const.DataType.String() + shapeText(v.Const.Dims), Const: true}
	}
	return ViewPort{Name: v.Name, Type: typeText(v.Type), Const: v.IsConst()}
}

// weightDeltas compares the constant inputs of a matched pair position by
// position: what changed and by how much.
func weightDeltas(a, b *onnx.Node) []WeightDelta {
	var out []WeightDelta
	ia, ib := a.Inputs(), b.Inputs()
	for i := range min(len(ia), len(ib)) {
		va, vb := ia[i], ib[i]
		if va == nil || vb == nil || va.Const == nil || vb.Const == nil || sameTensor(va.Const, vb.Const) {
			continue
		}
		w := WeightDelta{Name: vb.Name, TypeA: va.Const.DataType.String() + shapeText(va.Const.Dims),
			TypeB: vb.Const.DataType.String() + shapeText(vb.Const.Dims), BytesA: va.Const.ByteSize(), BytesB: vb.Const.ByteSize()}
		if slices.Equal(va.Const.Dims, vb.Const.Dims) {
			w.MaxAbs, w.MeanAbs, w.RelL2 = tensorDelta(va.Const, vb.Const)
		}
		out = append(out, w)
	}
	return out
}

// tensorDelta is max |b-a|, mean |b-a| and ||b-a||/||a|| of two same-shape
// numeric tensors; nils when they cannot be read as numbers.
func tensorDelta(a, b *onnx.Tensor) (maxAbs, meanAbs, relL2 *float64) {
	va, okA := numbers(a)
	vb, okB := numbers(b)
	if !okA || !okB || len(va) != len(vb) || len(va) == 0 {
		return nil, nil, nil
	}
	var mx, sum, d2, a2 float64
	for i := range va {
		d := math.Abs(vb[i] - va[i])
		if math.IsNaN(d) || math.IsInf(d, 0) {
			d = math.MaxFloat64 // JSON cannot hold NaN or infinity
		}
		mx = max(mx, d)
		sum += d
		d2 += d * d
		a2 += va[i] * va[i]
	}
	mean := sum / float64(len(va))
	rel := math.Sqrt(d2)
	if a2 > 0 {
		rel /= math.Sqrt(a2)
	}
	for _, p := range []*float64{&mx, &mean, &rel} {
		if math.IsNaN(*p) || math.IsInf(*p, 0) {
			*p = math.MaxFloat64
		}
	}
	return &mx, &mean, &rel
}
