package onnx

import "fmt"

// Check verifies that every graph of the model is well formed: each value read
// is defined (by a node, an input or an initializer of this or an enclosing
// graph), no two nodes produce the same name, initializers match their dims,
// and there is no cycle. Errors name the graph, node and value.
func (m *Model) Check() error {
	if m.Graph == nil {
		return fmt.Errorf("model has no graph")
	}
	for _, g := range m.Graphs() {
		if err := g.checkLocal(); err != nil {
			return err
		}
	}
	return nil
}

func (g *Graph) checkLocal() error {
	for _, v := range g.Initializers {
		if v.Const == nil {
			continue
		}
		if err := v.Const.Validate(); err != nil {
			return fmt.Errorf("%s: initializer %q: %w", graphPlace(g), v.Name, err)
		}
	}
	defined := map[*Value]bool{}
	for _, v := range g.Values() {
		defined[v] = true
	}
	for _, n := range g.Nodes {
		for i, v := range n.inputs {
			if v == nil {
				continue
			}
			if !definedIn(v, g, defined) {
				return fmt.Errorf("%s: %s: input %d %q is not produced by any node, graph input or initializer", graphPlace(g), NodePlace(n), i, v.Name)
			}
		}
		for _, a := range n.Attrs {
			if a.Tensor != nil {
				if err := a.Tensor.Validate(); err != nil {
					return fmt.Errorf("%s: %s: attribute %q: tensor: %w", graphPlace(g), NodePlace(n), a.Name, err)
				}
			}
		}
	}
	// Cycle check on a copy of the order: Check must not reorder the graph.
	saved := append([]*Node(nil), g.Nodes...)
	err := g.TopoSort()
	copy(g.Nodes, saved)
	return err
}

// definedIn reports whether v is defined by g or an enclosing graph, and (for
// values of g itself) still present in it.
func definedIn(v *Value, g *Graph, local map[*Value]bool) bool {
	if v.graph == g {
		return local[v]
	}
	for p := g.Parent; p != nil; p = p.Parent {
		if v.graph == p {
			if v.producer != nil {
				return indexOf(p.Nodes, v.producer) >= 0
			}
			return true
		}
	}
	return false
}
