package onnx

import (
	"fmt"
	"strconv"
)

// Inputs returns the node's inputs; nil entries are omitted optional inputs.
// The slice is the node's own: edit through SetInput.
func (n *Node) Inputs() []*Value { return n.inputs }

// Outputs returns the node's outputs; nil entries are omitted optional outputs.
func (n *Node) Outputs() []*Value { return n.outputs }

// Input returns input i, or nil when it is absent or omitted.
func (n *Node) Input(i int) *Value {
	if i < 0 || i >= len(n.inputs) {
		return nil
	}
	return n.inputs[i]
}

// Output returns output i, or nil when it is absent or omitted.
func (n *Node) Output(i int) *Value {
	if i < 0 || i >= len(n.outputs) {
		return nil
	}
	return n.outputs[i]
}

// SetInput replaces input i (growing the list with omitted inputs if needed).
func (n *Node) SetInput(i int, v *Value) {
	for len(n.inputs) <= i {
		n.inputs = append(n.inputs, nil)
	}
	if old := n.inputs[i]; old != nil {
		old.removeUse(n, i)
	}
	n.inputs[i] = v
	if v != nil {
		v.uses = append(v.uses, Use{n, i})
	}
}

// SetInputs replaces all inputs.
func (n *Node) SetInputs(vs ...*Value) {
	for i, old := range n.inputs {
		if old != nil {
			old.removeUse(n, i)
		}
	}
	n.inputs = nil
	for i, v := range vs {
		n.SetInput(i, v)
	}
}

// TrimInputs drops trailing omitted inputs, as ONNX writers do.
func (n *Node) TrimInputs() {
	for len(n.inputs) > 0 && n.inputs[len(n.inputs)-1] == nil {
		n.inputs = n.inputs[:len(n.inputs)-1]
	}
}

func (v *Value) removeUse(n *Node, i int) {
	for k, u := range v.uses {
		if u.Node == n && u.Index == i {
			v.uses = append(v.uses[:k], v.uses[k+1:]...)
			return
		}
	}
}

// Attr returns the attribute with the given name, or nil.
func (n *Node) Attr(name string) *Attribute {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// AttrInt returns an INT attribute, or def when it is absent.
func (n *Node) AttrInt(name string, def int64) int64 {
	if a := n.Attr(name); a != nil {
		return a.Int
	}
	return def
}

// AttrFloat returns a FLOAT attribute, or def when it is absent.
func (n *Node) AttrFloat(name string, def float32) float32 {
	if a := n.Attr(name); a != nil {
		return a.Float
	}
	return def
}

// AttrString returns a STRING attribute, or def when it is absent.
func (n *Node) AttrString(name, def string) string {
	if a := n.Attr(name); a != nil {
		return string(a.String)
	}
	return def
}

// AttrInts returns an INTS attribute, or def when it is absent.
func (n *Node) AttrInts(name string, def []int64) []int64 {
	if a := n.Attr(name); a != nil {
		return a.Ints
	}
	return def
}

// AttrFloats returns a FLOATS attribute, or def when it is absent.
func (n *Node) AttrFloats(name string, def []float32) []float32 {
	if a := n.Attr(name); a != nil {
		return a.Floats
	}
	return def
}

// SetAttr adds or replaces an attribute.
func (n *Node) SetAttr(a *Attribute) {
	for i, b := range n.Attrs {
		if b.Name == a.Name {
			n.Attrs[i] = a
			return
		}
	}
	n.Attrs = append(n.Attrs, a)
}

// RemoveAttr deletes an attribute if present.
func (n *Node) RemoveAttr(name string) {
	for i, a := range n.Attrs {
		if a.Name == name {
			n.Attrs = append(n.Attrs[:i], n.Attrs[i+1:]...)
			return
		}
	}
}

// IntAttr, FloatAttr, IntsAttr, FloatsAttr, StringAttr, TensorAttr build attributes.
func IntAttr(name string, v int64) *Attribute { return &Attribute{Name: name, Type: AttrInt, Int: v} }

// FloatAttr builds a FLOAT attribute.
func FloatAttr(name string, v float32) *Attribute {
	return &Attribute{Name: name, Type: AttrFloat, Float: v}
}

// IntsAttr builds an INTS attribute.
func IntsAttr(name string, v []int64) *Attribute {
	return &Attribute{Name: name, Type: AttrInts, Ints: v}
}

// FloatsAttr builds a FLOATS attribute.
func FloatsAttr(name string, v []float32) *Attribute {
	return &Attribute{Name: name, Type: AttrFloats, Floats: v}
}

// StringAttr builds a STRING attribute.
func StringAttr(name, v string) *Attribute {
	return &Attribute{Name: name, Type: AttrString, String: []byte(v)}
}

// StringsAttr builds a STRINGS attribute.
func StringsAttr(name string, v ...string) *Attribute {
	a := &Attribute{Name: name, Type: AttrStrings}
	for _, x := range v {
		a.Strings = append(a.Strings, []byte(x))
	}
	return a
}

// TensorAttr builds a TENSOR attribute.
func TensorAttr(name string, t *Tensor) *Attribute {
	return &Attribute{Name: name, Type: AttrTensor, Tensor: t}
}

// Subgraphs returns the graphs held by the node's attributes.
func (n *Node) Subgraphs() []*Graph {
	var gs []*Graph
	for _, a := range n.Attrs {
		if a.Graph != nil {
			gs = append(gs, a.Graph)
		}
		gs = append(gs, a.Graphs...)
	}
	return gs
}

// Root returns the outermost graph.
func (g *Graph) Root() *Graph {
	for g.Parent != nil {
		g = g.Parent
	}
	return g
}

// Walk calls f for g and every subgraph below it, outer graphs first.
func (g *Graph) Walk(f func(*Graph)) {
	f(g)
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			sg.Walk(f)
		}
	}
}

// Graphs returns the main graph, its subgraphs and the function bodies.
func (m *Model) Graphs() []*Graph {
	var gs []*Graph
	if m.Graph != nil {
		m.Graph.Walk(func(g *Graph) { gs = append(gs, g) })
	}
	for _, f := range m.Functions {
		if f.Body != nil {
			f.Body.Walk(func(g *Graph) { gs = append(gs, g) })
		}
	}
	return gs
}

// Values returns every value the graph defines: inputs, initializers and node outputs.
func (g *Graph) Values() []*Value {
	var vs []*Value
	seen := map[*Value]bool{}
	add := func(v *Value) {
		if v != nil && !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
	}
	for _, v := range g.Inputs {
		add(v)
	}
	for _, v := range g.Initializers {
		add(v)
	}
	for _, v := range g.Sparse {
		add(v)
	}
	for _, n := range g.Nodes {
		for _, v := range n.outputs {
			add(v)
		}
	}
	return vs
}

// FreshName returns a value or node name based on prefix that is used nowhere in
// the graph tree that g belongs to. The names in use are collected once per
// tree and then kept up to date by the editing API.
func (g *Graph) FreshName(prefix string) string {
	root := g.Root()
	used := root.usedNames()
	for {
		root.nameSeq++
		name := prefix + "_" + strconv.Itoa(root.nameSeq)
		if !used[name] {
			used[name] = true
			return name
		}
	}
}

// usedNames returns the root graph's set of value and node names.
func (g *Graph) usedNames() map[string]bool {
	if g.names == nil {
		g.names = map[string]bool{}
		g.Walk(func(sg *Graph) {
			for _, v := range sg.Values() {
				g.names[v.Name] = true
			}
			for _, v := range sg.ValueInfo {
				g.names[v.Name] = true
			}
			for _, n := range sg.Nodes {
				g.names[n.Name] = true
			}
		})
	}
	return g.names
}

// noteName records a name as used in g's tree.
func (g *Graph) noteName(name string) {
	if root := g.Root(); root.names != nil {
		root.names[name] = true
	}
}

// NewNode creates a node in g (not yet placed in g.Nodes: use Append or
// InsertBefore) reading inputs and with nOut fresh output values named after name.
func (g *Graph) NewNode(opType, domain, name string, inputs []*Value, outNames ...string) *Node {
	n := &Node{Name: name, OpType: opType, Domain: domain, Graph: g}
	for i, v := range inputs {
		n.inputs = append(n.inputs, v)
		if v != nil {
			v.uses = append(v.uses, Use{n, i})
		}
	}
	for i, on := range outNames {
		if on == "" {
			n.outputs = append(n.outputs, nil)
			continue
		}
		n.outputs = append(n.outputs, &Value{Name: on, producer: n, outIndex: i, graph: g})
		g.noteName(on)
	}
	g.noteName(name)
	return n
}

// Append places n at the end of g.Nodes.
func (g *Graph) Append(n *Node) { n.Graph = g; g.Nodes = append(g.Nodes, n) }

// InsertBefore places n just before ref in g.Nodes (at the end if ref is absent).
func (g *Graph) InsertBefore(ref, n *Node) {
	n.Graph = g
	i := indexOf(g.Nodes, ref)
	if i < 0 {
		g.Nodes = append(g.Nodes, n)
		return
	}
	g.Nodes = append(g.Nodes, nil)
	copy(g.Nodes[i+1:], g.Nodes[i:])
	g.Nodes[i] = n
}

// RemoveNodes deletes the nodes from g, detaching them from the values they read.
// Their outputs must no longer be used; Check finds any that still are.
func (g *Graph) RemoveNodes(dead ...*Node) {
	set := map[*Node]bool{}
	for _, n := range dead {
		set[n] = true
		for i, v := range n.inputs {
			if v != nil {
				v.removeUse(n, i)
			}
		}
		// Values read inside the node's subgraphs lose those uses too.
		for _, sg := range n.Subgraphs() {
			sg.Walk(func(s *Graph) {
				for _, m := range s.Nodes {
					for i, v := range m.inputs {
						if v != nil && !isInside(v.graph, n) {
							v.removeUse(m, i)
						}
					}
				}
			})
		}
	}
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if !set[n] {
			kept = append(kept, n)
		}
	}
	for i := len(kept); i < len(g.Nodes); i++ {
		g.Nodes[i] = nil
	}
	g.Nodes = kept
}

// isInside reports whether graph g is a subgraph (at any depth) of node n.
func isInside(g *Graph, n *Node) bool {
	for ; g != nil; g = g.Parent {
		if g.Owner == n {
			return true
		}
	}
	return false
}

// ReplaceAllUsesWith makes every reader of old read new instead, in this graph
// and in subgraphs. Where old is a graph output, new takes its place there; if
// new is a plain intermediate, it also takes old's name so the model's
// interface does not change; the same holds where a custom-domain op reads
// old. new's type keeps what either knew (MergeTypes).
func ReplaceAllUsesWith(old, new *Value) {
	if old == new {
		return
	}
	oldCustom, newCustom := readByCustomDomain(old), readByCustomDomain(new)
	for _, u := range old.uses {
		u.Node.inputs[u.Index] = new
		new.uses = append(new.uses, u)
	}
	old.uses = nil
	if g := old.graph; g != nil {
		isOut := false
		for i, v := range g.Outputs {
			if v == old {
				g.Outputs[i] = new
				isOut = true
			}
		}
		canRename := new.producer != nil && new.graph == g && !new.IsGraphInput()
		if isOut && canRename {
			name := old.Name
			old.Name = g.FreshName(old.Name + "_replaced")
			new.Name = name
		} else if canRename && oldCustom && !newCustom && !new.IsGraphOutput() {
			// A custom-domain op (a TensorRT plugin) may be configured by
			// its tensors' names, and verification cuts around it by them:
			// its inputs keep their names too.
			name := old.Name
			old.Name = g.FreshName(old.Name + "_replaced")
			new.Name = name
		}
		// old and new hold the same value: what is known of one holds for
		// the other. A graph output keeps the type the model declares for it;
		// elsewhere new keeps what it knows and learns what only old knew.
		if isOut {
			new.Type = MergeTypes(old.Type, new.Type)
		} else {
			new.Type = MergeTypes(new.Type, old.Type)
		}
	}
}

// readByCustomDomain reports whether a node of a domain other than ONNX's
// own reads v.
func readByCustomDomain(v *Value) bool {
	for _, u := range v.uses {
		switch u.Node.Domain {
		case "", "ai.onnx", "ai.onnx.ml":
		default:
			return true
		}
	}
	return false
}

// AddInput appends a graph input of the given type.
func (g *Graph) AddInput(name string, t *Type) *Value {
	g.noteName(name)
	v := &Value{Name: name, Type: t, graph: g}
	g.Inputs = append(g.Inputs, v)
	return v
}

// AddInitializer adds a constant value to g under a fresh name based on name.
func (g *Graph) AddInitializer(name string, t *Tensor) *Value {
	if g.hasName(name) {
		name = g.FreshName(name)
	}
	t.Name = name
	g.noteName(name)
	v := &Value{Name: name, Const: t, graph: g}
	g.Initializers = append(g.Initializers, v)
	return v
}

// hasName reports whether any value or node in g's tree is called name.
func (g *Graph) hasName(name string) bool { return g.Root().usedNames()[name] }

// RemoveInitializer drops an initializer (its value must no longer be used).
func (g *Graph) RemoveInitializer(v *Value) {
	if i := indexOf(g.Initializers, v); i >= 0 {
		g.Initializers = append(g.Initializers[:i], g.Initializers[i+1:]...)
	}
	if i := indexOf(g.Inputs, v); i >= 0 {
		g.Inputs = append(g.Inputs[:i], g.Inputs[i+1:]...)
	}
	v.Const = nil
}

// ValueByName finds a value defined in g (not in enclosing graphs), or nil.
func (g *Graph) ValueByName(name string) *Value {
	for _, v := range g.Values() {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// ImplicitInputs returns the values that n's subgraphs read from g or its
// enclosing graphs: the node depends on them as much as on its inputs.
func (n *Node) ImplicitInputs() []*Value {
	var out []*Value
	seen := map[*Value]bool{}
	for _, sg := range n.Subgraphs() {
		sg.Walk(func(s *Graph) {
			for _, m := range s.Nodes {
				for _, v := range m.inputs {
					if v != nil && !seen[v] && !isInside(v.graph, n) {
						seen[v] = true
						out = append(out, v)
					}
				}
			}
			for _, v := range s.Outputs {
				if v != nil && !seen[v] && !isInside(v.graph, n) {
					seen[v] = true
					out = append(out, v)
				}
			}
		})
	}
	return out
}

// TopoSort orders g.Nodes so that every node comes after the producers of its
// inputs (explicit and through subgraphs), keeping the original order where it
// can. A cycle is an error naming a node on it.
func (g *Graph) TopoSort() error {
	order, err := g.TopoOrder()
	if err != nil {
		return err
	}
	copy(g.Nodes, order)
	return nil
}

// TopoOrder is the order TopoSort would give g.Nodes, leaving g as it is
// (for readers that may share the graph with others).
func (g *Graph) TopoOrder() ([]*Node, error) {
	index := make(map[*Node]int, len(g.Nodes))
	for i, n := range g.Nodes {
		index[n] = i
	}
	deps := func(n *Node) []*Node {
		var ds []*Node
		add := func(v *Value) {
			if v == nil {
				return
			}
			if p := v.producer; p != nil {
				// A value from an enclosing graph's node is ordered by that graph, not this one.
				for p != nil && p.Graph != g {
					p = p.Graph.Owner
				}
				if p != nil && p != n {
					if _, ok := index[p]; ok {
						ds = append(ds, p)
					}
				}
			}
		}
		for _, v := range n.inputs {
			add(v)
		}
		for _, v := range n.ImplicitInputs() {
			add(v)
		}
		return ds
	}
	const (
		unvisited = 0
		active    = 1
		done      = 2
	)
	state := make(map[*Node]int, len(g.Nodes))
	order := make([]*Node, 0, len(g.Nodes))
	type frame struct {
		n    *Node
		deps []*Node
		next int
	}
	for _, start := range g.Nodes {
		if state[start] != unvisited {
			continue
		}
		stack := []frame{{n: start, deps: deps(start)}}
		state[start] = active
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next < len(top.deps) {
				d := top.deps[top.next]
				top.next++
				switch state[d] {
				case active:
					return nil, fmt.Errorf("%s: %s: the graph has a cycle through %q", graphPlace(g), NodePlace(d), valueName(d.Output(0)))
				case unvisited:
					state[d] = active
					stack = append(stack, frame{n: d, deps: deps(d)})
				}
				continue
			}
			state[top.n] = done
			order = append(order, top.n)
			stack = stack[:len(stack)-1]
		}
	}
	return order, nil
}

// InlineSubgraph replaces node n (an If whose branch is known) by the nodes of
// sub: they move into g before n, sub's initializers become g's, and readers
// of n's outputs read sub's outputs instead. n is removed.
func (g *Graph) InlineSubgraph(n *Node, sub *Graph) error {
	if n.Graph != g {
		return fmt.Errorf("%s is not in %s", NodePlace(n), graphPlace(g))
	}
	if len(sub.Outputs) < len(n.outputs) {
		return fmt.Errorf("%s: subgraph has %d outputs, node has %d", NodePlace(n), len(sub.Outputs), len(n.outputs))
	}
	for _, v := range sub.Initializers {
		v.graph = g
		g.Initializers = append(g.Initializers, v)
	}
	for _, v := range sub.Sparse {
		v.graph = g
		g.Sparse = append(g.Sparse, v)
	}
	for _, m := range sub.Nodes {
		g.adopt(m)
		g.InsertBefore(n, m)
	}
	for i, out := range n.outputs {
		if out == nil {
			continue
		}
		ReplaceAllUsesWith(out, sub.Outputs[i])
	}
	sub.Nodes = nil
	g.RemoveNodes(n)
	return nil
}

// MoveValue makes v a value of graph g (used when a rewrite moves a
// constant into another graph).
func MoveValue(v *Value, g *Graph) { v.graph = g }

// adopt makes n, taken from another graph, g's: its outputs are defined
// in g and its subgraphs' parent is g (n is not placed in g.Nodes).
func (g *Graph) adopt(n *Node) {
	n.Graph = g
	for _, v := range n.outputs {
		if v != nil {
			v.graph = g
		}
	}
	for _, sg := range n.Subgraphs() {
		sg.Parent = g
	}
}
