package verify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Verification around opaque ops. A node the interpreter cannot run (a
// custom-domain op such as a TensorRT plugin, or a standard op it lacks) is
// cut out of both models the same way: its outputs become extra graph inputs,
// fed the same seeded random values in both, and its inputs become extra graph
// outputs, compared as usual. What lies inside the opaque nodes is not checked.

// Opaque reports whether the interpreter has no kernel for n at m's opset:
// for a call of a model-local function (which the interpreter inlines),
// whether m's functions cannot be inlined or any op of its body, at any
// depth, is opaque.
func Opaque(m *onnx.Model, n *onnx.Node) bool {
	if m.FunctionOf(n) != nil && m.CheckInline() != nil {
		return true
	}
	return opaque(m, n, map[*onnx.Function]bool{})
}

func opaque(m *onnx.Model, n *onnx.Node, seen map[*onnx.Function]bool) bool {
	if f := m.FunctionOf(n); f != nil {
		if seen[f] || f.Body == nil {
			return seen[f] // a recursive call: the interpreter refuses it
		}
		seen[f] = true
		found := false
		f.Body.Walk(func(g *onnx.Graph) {
			for _, b := range g.Nodes {
				found = found || opaque(m, b, seen)
			}
		})
		delete(seen, f)
		return found
	}
	opset := m.Opset(n.Domain)
	if opset == 0 && (n.Domain == "" || n.Domain == "ai.onnx") {
		opset = 1
	}
	_, _, ok := interp.Lookup(n.Domain, n.OpType, opset)
	return !ok
}

// OpaqueNodes returns the main graph's opaque nodes in graph order, and
// those inside subgraphs (If/Loop/Scan bodies, functions), which cannot be cut.
func OpaqueNodes(m *onnx.Model) (main, nested []*onnx.Node) {
	for _, g := range m.Graphs() {
		for _, n := range g.Nodes {
			if !Opaque(m, n) {
				continue
			}
			if g == m.Graph {
				main = append(main, n)
			} else {
				nested = append(nested, n)
			}
		}
	}
	for _, f := range m.Functions {
		if f.Body == nil {
			continue
		}
		for _, n := range f.Body.Nodes {
			if Opaque(m, n) && !isLocalFunction(m, n) {
				nested = append(nested, n)
			}
		}
	}
	return main, nested
}

func isLocalFunction(m *onnx.Model, n *onnx.Node) bool { return m.FunctionOf(n) != nil }

// CutNode is one opaque node cut out of both models.
type CutNode struct {
	Name string `json:"name"`
	Op   string `json:"op"` // domain::op
	// Inputs are compared as extra outputs; "" marks an input that is not
	// (omitted, a constant, a graph input, or an output of another cut node).
	Inputs []string `json:"inputs"`
	// Outputs are fed with seeded random values, with these shapes.
	Outputs []string `json:"outputs"`
	Shapes  []string `json:"shapes"`
}

// Cut says where both models are cut: planned on the original, applied to
// the original and to every candidate (which Apply may rename values of:
// give it a copy).
type Cut struct {
	Nodes []CutNode
	types map[string]*onnx.Type // of the fed outputs
}

// MissingShapeError names the opaque outputs whose shape nothing declares.
type MissingShapeError struct{ Tensors []string }

func (e *MissingShapeError) Error() string {
	return fmt.Sprintf("cannot verify around the ops the interpreter cannot run: no shape is known for their output(s) %s; give each with --shape NAME=DIMS (as --shape %s=1x64x56x56)",
		strings.Join(quoteAll(e.Tensors), ", "), e.Tensors[0])
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// PlanCut plans the cut of ref at its opaque nodes, or returns nil when it has
// none. The fed outputs' types come from shapes (the CLI's --shape
// NAME=DIMS), else what the model declares or shape inference finds
// (value_info, graph outputs), else what the ops reading them imply (shape-
// preserving ops and stride-1 Convs up to a declared shape); a missing shape
// is a *MissingShapeError.
// It annotates ref's value types with inferred ones.
func PlanCut(ref *onnx.Model, shapes map[string][]int64, dims map[string]int64) (*Cut, error) {
	main, nested := OpaqueNodes(ref)
	if len(nested) > 0 {
		n := nested[0]
		return nil, fmt.Errorf("%s: op %s of domain %q is not implemented by the interpreter and sits inside a subgraph, where verification cannot cut around it (skip verification with --no-verify)",
			onnx.NodePlace(n), n.OpType, n.Domain)
	}
	for _, n := range main {
		if n.Domain == interp.NCHWcDomain {
			return nil, fmt.Errorf("%s: op %s of domain %q: %s", onnx.NodePlace(n), n.OpType, n.Domain, interp.NCHWcNote)
		}
	}
	if len(main) == 0 {
		if len(shapes) > 0 {
			return nil, fmt.Errorf("--shape: the model has no op the interpreter cannot run, so there is nothing to shape")
		}
		return nil, nil
	}
	_, _ = interp.InferShapes(ref, interp.ShapeOptions{Dims: dims})
	c := &Cut{types: map[string]*onnx.Type{}}
	fed := map[*onnx.Value]bool{}
	for _, n := range main {
		for _, v := range n.Outputs() {
			if v != nil {
				fed[v] = true
			}
		}
	}
	used := map[string]bool{}
	var missing []string
	for _, n := range main {
		cn := CutNode{Name: n.Name, Op: n.Domain + "::" + n.OpType}
		for _, v := range n.Inputs() {
			name := ""
			if v != nil && !v.IsConst() && !v.IsGraphInput() && !fed[v] && v.Producer() != nil && v.Producer().OpType != "Constant" {
				name = v.Name
			}
			cn.Inputs = append(cn.Inputs, name)
		}
		for _, v := range n.Outputs() {
			if v == nil {
				continue
			}
			t := v.Type.Clone()
			if d, ok := shapes[v.Name]; ok {
				used[v.Name] = true
				elem := onnx.Float
				if t != nil && t.Kind == onnx.TypeTensor && t.Elem != onnx.Undefined {
					elem = t.Elem
				}
				t = onnx.TensorType(elem, onnx.ShapeOf(d...))
			}
			derived := false
			if t == nil || t.Kind != onnx.TypeTensor || t.Elem == onnx.Undefined || !t.HasShape() {
				if t = backShape(v, 0); t == nil {
					missing = append(missing, v.Name)
					continue
				}
				derived = true
			}
			c.types[v.Name] = t
			cn.Outputs = append(cn.Outputs, v.Name)
			shape := t.String()
			if derived {
				shape += " (derived from the ops reading it)"
			}
			cn.Shapes = append(cn.Shapes, shape)
		}
		c.Nodes = append(c.Nodes, cn)
	}
	if len(missing) > 0 {
		return nil, &MissingShapeError{Tensors: missing}
	}
	for name := range shapes {
		if !used[name] {
			return nil, fmt.Errorf("--shape %s: not an output of an op the interpreter cannot run (those are: %s)", name, strings.Join(c.fedNames(), ", "))
		}
	}
	return c, nil
}

// Fed lists the cut inputs (the opaque ops' outputs), fed random values.
func (c *Cut) Fed() []string { return c.fedNames() }

func (c *Cut) fedNames() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Outputs...)
	}
	return out
}

// Apply cuts m (in place) where the plan says: each planned opaque node,
// found by its output names, is removed; its outputs become graph inputs of
// the planned types and its inputs graph outputs under the original's names.
// A model whose opaque nodes differ from the plan's is an error.
func (c *Cut) Apply(m *onnx.Model) error {
	g := m.Graph
	byOut := map[string]int{}
	for i, cn := range c.Nodes {
		for _, o := range cn.Outputs {
			byOut[o] = i
		}
	}
	main, nested := OpaqueNodes(m)
	if len(nested) > 0 {
		return fmt.Errorf("%s: an op the interpreter cannot run inside a subgraph", onnx.NodePlace(nested[0]))
	}
	found := make([]*onnx.Node, len(c.Nodes))
	for _, n := range main {
		idx := -1
		for _, v := range n.Outputs() {
			if v == nil {
				continue
			}
			if i, ok := byOut[v.Name]; ok {
				idx = i
				break
			}
		}
		if idx < 0 || found[idx] != nil {
			return fmt.Errorf("%s (%s): not among the original model's ops the interpreter cannot run, so the cut differs", onnx.NodePlace(n), n.OpType)
		}
		found[idx] = n
	}
	for i, n := range found {
		if n == nil {
			return fmt.Errorf("node %q (%s) of the original is missing: the cut differs", c.Nodes[i].Name, c.Nodes[i].Op)
		}
	}
	var outs []*onnx.Value
	for i, n := range found {
		cn := c.Nodes[i]
		ins := slices.Clone(n.Inputs())
		for _, v := range n.Outputs() {
			if v == nil || c.types[v.Name] == nil {
				continue
			}
			name := v.Name
			v.Name = g.FreshName(name + "_cut")
			onnx.ReplaceAllUsesWith(v, g.AddInput(name, c.types[name].Clone()))
		}
		g.RemoveNodes(n)
		for j, name := range cn.Inputs {
			if name == "" {
				continue
			}
			if j >= len(ins) || ins[j] == nil {
				return fmt.Errorf("%s: input %d is gone: the cut differs", onnx.NodePlace(n), j)
			}
			v := ins[j]
			if v.Name != name {
				// A pass fed the op through another value (a Cast, a
				// folded producer): compare it under the original's name,
				// which m, a copy made for the comparison, may give it.
				if other := g.ValueByName(name); other != nil {
					if other.IsGraphInput() || other.IsGraphOutput() {
						return fmt.Errorf("%s: input %d is now %q and %q is a graph input or output: the cut differs", onnx.NodePlace(n), j, v.Name, name)
					}
					other.Name = g.FreshName(name + "_cut")
				}
				if v.Producer() == nil || v.IsGraphOutput() {
					id := g.NewNode("Identity", "", g.FreshName("cut_identity"), []*onnx.Value{v}, name)
					g.Append(id)
					v = id.Output(0)
				} else {
					v.Name = name
				}
			}
			if !v.IsGraphOutput() && !slices.Contains(outs, v) {
				outs = append(outs, v)
			}
		}
	}
	g.Outputs = append(g.Outputs, outs...)
	return m.Check()
}

// String describes the cut for reports.
func (c *Cut) String() string {
	var parts []string
	for _, n := range c.Nodes {
		var compared []string
		for _, in := range n.Inputs {
			if in != "" {
				compared = append(compared, in)
			}
		}
		fed := make([]string, len(n.Outputs))
		for i, o := range n.Outputs {
			fed[i] = o + " " + n.Shapes[i]
		}
		parts = append(parts, fmt.Sprintf("%q (%s): inputs compared [%s], outputs fed random [%s]",
			n.Name, n.Op, strings.Join(compared, ", "), strings.Join(fed, ", ")))
	}
	return fmt.Sprintf("verified around %d op(s) the interpreter cannot run; what they compute was not checked: %s",
		len(c.Nodes), strings.Join(parts, "; "))
}
