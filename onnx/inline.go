package onnx

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// funcKey identifies a model-local function the way a call node names it.
type funcKey struct{ domain, name, overload string }

func (k funcKey) String() string {
	s := k.domain + "::" + k.name
	if k.overload != "" {
		s += ":" + k.overload
	}
	return s
}

func keyOfFunction(f *Function) funcKey { return funcKey{normDomain(f.Domain), f.Name, f.Overload} }

func keyOfNode(n *Node) funcKey { return funcKey{normDomain(n.Domain), n.OpType, n.Overload} }

// FunctionOf returns the model-local function n calls, or nil.
func (m *Model) FunctionOf(n *Node) *Function {
	k := keyOfNode(n)
	for _, f := range m.Functions {
		if keyOfFunction(f) == k {
			return f
		}
	}
	return nil
}

// CallsFunctions reports whether the main graph (or one of its subgraphs)
// calls a model-local function.
func (m *Model) CallsFunctions() bool {
	if m.Graph == nil || len(m.Functions) == 0 {
		return false
	}
	funcs := map[funcKey]bool{}
	for _, f := range m.Functions {
		funcs[keyOfFunction(f)] = true
	}
	found := false
	m.Graph.Walk(func(g *Graph) {
		for _, n := range g.Nodes {
			found = found || funcs[keyOfNode(n)]
		}
	})
	return found
}

// InlineFunctions replaces every call of a model-local function — in the main
// graph, its subgraphs, and (through them) in function bodies — by a copy of
// the function's body, and returns how many calls it expanded. Inlined nodes
// and values are named after the call ("call/name"), made unique in the graph.
// Attribute references take the call's attribute, else the function's default,
// else are dropped. Functions no longer called are removed, and so are the
// opset imports of their domains that nothing else uses.
//
// Everything is checked before the model changes: recursion, a call with more
// inputs or outputs than its function, and a function importing a domain at a
// version other than the model's (its nodes would mean something else) are
// errors that leave m as it was.
func (m *Model) InlineFunctions() (int, error) {
	if m.Graph == nil || len(m.Functions) == 0 {
		return 0, nil
	}
	in, reached, err := m.checkInline()
	if err != nil {
		return 0, err
	}
	if len(reached) == 0 {
		return 0, nil
	}
	m.Opsets = append(m.Opsets, in.addOpsets...)
	in.graph(m.Graph)
	in.removeInlined(reached)
	return in.count, nil
}

// CheckInline reports why InlineFunctions would refuse m (nil: it would
// not), without changing m.
func (m *Model) CheckInline() error {
	if m.Graph == nil || len(m.Functions) == 0 {
		return nil
	}
	_, _, err := m.checkInline()
	return err
}

// checkInline indexes m's functions and checks every call reachable from
// the main graph (inliner.check), returning the functions reached.
func (m *Model) checkInline() (*inliner, map[*Function]bool, error) {
	in := &inliner{m: m, funcs: map[funcKey]*Function{}}
	for _, f := range m.Functions {
		k := keyOfFunction(f)
		if in.funcs[k] != nil {
			return nil, nil, fmt.Errorf("function %s is defined twice", k)
		}
		if f.Body == nil {
			return nil, nil, fmt.Errorf("function %s has no body", k)
		}
		in.funcs[k] = f
	}
	reached, err := in.check()
	return in, reached, err
}

type inliner struct {
	m         *Model
	funcs     map[funcKey]*Function
	addOpsets []OpsetID // imports the model lacks and the inlined bodies need
	count     int
}

// callee returns the local function n calls, or nil.
func (in *inliner) callee(n *Node) *Function { return in.funcs[keyOfNode(n)] }

// calls returns the call nodes in g and its subgraphs.
func (in *inliner) calls(g *Graph) []*Node {
	var out []*Node
	g.Walk(func(sg *Graph) {
		for _, n := range sg.Nodes {
			if in.callee(n) != nil {
				out = append(out, n)
			}
		}
	})
	return out
}

// check validates every call reachable from the main graph and returns the
// functions reached; it fails on recursion, on malformed calls and on opset
// imports that would change what an inlined node means.
func (in *inliner) check() (map[*Function]bool, error) {
	reached := map[*Function]bool{}
	const (
		active = 1
		done   = 2
	)
	state := map[*Function]int{}
	var visit func(f *Function, path []string) error
	visit = func(f *Function, path []string) error {
		path = append(path, keyOfFunction(f).String())
		switch state[f] {
		case active:
			return fmt.Errorf("function %s calls itself (%s): recursion cannot be inlined", keyOfFunction(f), strings.Join(path, " → "))
		case done:
			return nil
		}
		state[f] = active
		reached[f] = true
		for _, c := range in.calls(f.Body) {
			if err := in.checkCall(c, fmt.Sprintf("function %s", keyOfFunction(f))); err != nil {
				return err
			}
			if err := visit(in.callee(c), path); err != nil {
				return err
			}
		}
		state[f] = done
		return in.checkOpsets(f)
	}
	for _, c := range in.calls(in.m.Graph) {
		if err := in.checkCall(c, graphPlace(c.Graph)); err != nil {
			return nil, err
		}
		if err := visit(in.callee(c), nil); err != nil {
			return nil, err
		}
	}
	return reached, nil
}

// checkCall rejects a call its function's body cannot be bound to.
func (in *inliner) checkCall(n *Node, where string) error {
	f := in.callee(n)
	k := keyOfFunction(f)
	if len(n.inputs) > len(f.Body.Inputs) {
		return fmt.Errorf("%s: %s calls function %s with %d inputs, it takes %d", where, NodePlace(n), k, len(n.inputs), len(f.Body.Inputs))
	}
	if len(n.outputs) > len(f.Body.Outputs) {
		return fmt.Errorf("%s: %s asks function %s for %d outputs, it has %d", where, NodePlace(n), k, len(n.outputs), len(f.Body.Outputs))
	}
	for j, out := range f.Body.Outputs {
		// A formal output that is a formal input passes the actual input through.
		if i := indexOf(f.Body.Inputs, out); i >= 0 && n.Output(j) != nil && n.Input(i) == nil {
			return fmt.Errorf("%s: %s: output %d of function %s is its input %d, which the call omits", where, NodePlace(n), j, k, i)
		}
	}
	for _, a := range n.Attrs {
		if a.Graph != nil || len(a.Graphs) > 0 {
			return fmt.Errorf("%s: %s passes graph attribute %q to function %s: not supported", where, NodePlace(n), a.Name, k)
		}
	}
	for _, a := range f.AttrProtos {
		if a.Graph != nil || len(a.Graphs) > 0 {
			return fmt.Errorf("function %s: default of attribute %q is a graph: not supported", k, a.Name)
		}
	}
	return nil
}

// checkOpsets compares the imports of f with the model's for every domain
// that f's own nodes (not its calls, inlined in turn) use. A domain the model
// does not import takes f's version.
func (in *inliner) checkOpsets(f *Function) error {
	domains := map[string]bool{}
	f.Body.Walk(func(g *Graph) {
		for _, n := range g.Nodes {
			if in.callee(n) == nil {
				domains[normDomain(n.Domain)] = true
			}
		}
	})
	for _, d := range slices.Sorted(maps.Keys(domains)) {
		fv := opsetOf(f.Opsets, d)
		if fv == 0 {
			continue // f does not say: nothing to compare
		}
		mv := opsetOf(in.m.Opsets, d)
		if mv == 0 {
			mv = opsetOf(in.addOpsets, d)
		}
		switch {
		case mv == 0:
			in.addOpsets = append(in.addOpsets, OpsetID{Domain: d, Version: fv})
		case mv != fv:
			return fmt.Errorf("function %s imports domain %q at version %d but the model imports it at version %d: its inlined nodes would mean something else", keyOfFunction(f), domainName(d), fv, mv)
		}
	}
	return nil
}

func domainName(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

// graph expands the calls in g and its subgraphs. Expanded bodies are
// scanned in turn, so calls nested in them are expanded too (check ruled
// out recursion, so this ends).
func (in *inliner) graph(g *Graph) {
	for i := 0; i < len(g.Nodes); {
		n := g.Nodes[i]
		if f := in.callee(n); f != nil {
			in.expand(g, i, f)
			continue // g.Nodes[i] is now the body's first node
		}
		for _, sg := range n.Subgraphs() {
			in.graph(sg)
		}
		i++
	}
}

// expand replaces the call g.Nodes[i] by a copy of f's body.
func (in *inliner) expand(g *Graph, i int, f *Function) {
	call := g.Nodes[i]
	prefix := call.Name
	if prefix == "" {
		prefix = g.FreshName(f.Name)
	}
	body := cloneBody(f.Body)
	bindAttrs(body, call, f)
	renameBody(g, body, prefix)
	subst := bindInputs(body, call)
	bindOutputs(g, body, call, prefix, subst)
	substituteSubgraphOutputs(body, subst)

	for _, n := range body.Nodes {
		g.adopt(n)
	}
	for _, v := range body.ValueInfo {
		if p := v.producer; p != nil && p.Graph == g && p.Output(v.outIndex) == v && v.Type != nil {
			g.ValueInfo = append(g.ValueInfo, v)
		}
	}
	g.Nodes = slices.Replace(g.Nodes, i, i+1, body.Nodes...)
	for k, v := range call.inputs {
		if v != nil {
			v.removeUse(call, k)
		}
	}
	call.inputs, call.outputs = nil, nil
	in.count++
}

// cloneBody copies a function body (a graph with no enclosing scope).
func cloneBody(b *Graph) *Graph {
	c := &cloner{values: map[*Value]*Value{}, nodes: map[*Node]*Node{}, graphs: map[*Graph]*Graph{}}
	cp := c.graph(b, nil)
	c.link()
	return cp
}

// bindAttrs resolves the attribute references in body (at any depth) from
// the call's attributes, else the function's defaults; a reference neither
// gives a value for is dropped, as ONNX specifies.
func bindAttrs(body *Graph, call *Node, f *Function) {
	c := &cloner{values: map[*Value]*Value{}, nodes: map[*Node]*Node{}, graphs: map[*Graph]*Graph{}}
	body.Walk(func(g *Graph) {
		for _, n := range g.Nodes {
			kept := n.Attrs[:0]
			for _, a := range n.Attrs {
				if a.RefAttrName == "" {
					kept = append(kept, a)
					continue
				}
				v := call.Attr(a.RefAttrName)
				if v == nil {
					v = findAttr(f.AttrProtos, a.RefAttrName)
				}
				if v == nil {
					continue
				}
				cp := c.attribute(v, n)
				cp.Name, cp.RefAttrName, cp.DocString = a.Name, "", a.DocString
				kept = append(kept, cp)
			}
			n.Attrs = kept
		}
	})
}

func findAttr(as []*Attribute, name string) *Attribute {
	for _, a := range as {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// renameBody gives every node and value of body (but the formal inputs,
// which the call's inputs replace) a name unique in g's tree, prefixed by
// the call's name so that errors and dumps lead back to the call.
func renameBody(g *Graph, body *Graph, prefix string) {
	unique := func(name string) string {
		name = prefix + "/" + name
		if g.hasName(name) {
			return g.FreshName(name)
		}
		g.noteName(name)
		return name
	}
	renamed := map[*Value]bool{}
	body.Walk(func(sg *Graph) {
		for _, v := range sg.Values() {
			if sg == body && indexOf(body.Inputs, v) >= 0 {
				continue
			}
			v.Name = unique(v.Name)
			if v.Const != nil {
				v.Const.Name = v.Name
			}
			if v.Sparse != nil && v.Sparse.Values != nil {
				v.Sparse.Values.Name = v.Name
			}
			renamed[v] = true
		}
		for _, n := range sg.Nodes {
			name := n.Name
			if name == "" {
				name = n.OpType
			}
			n.Name = unique(name)
		}
	})
	// A value_info entry that describes no value of the body would now name
	// nothing: drop it.
	body.Walk(func(sg *Graph) {
		sg.ValueInfo = slices.DeleteFunc(sg.ValueInfo, func(v *Value) bool { return !renamed[v] })
	})
}

// bindInputs makes the body's readers of each formal input read the call's
// actual input instead (nothing, where the call omits it). It returns the
// formal inputs the call gives, mapped to its values.
func bindInputs(body *Graph, call *Node) map[*Value]*Value {
	subst := map[*Value]*Value{}
	for j, formal := range body.Inputs {
		actual := call.Input(j)
		if actual != nil {
			subst[formal] = actual
		}
		for _, u := range formal.uses {
			u.Node.inputs[u.Index] = actual
			if actual != nil {
				actual.uses = append(actual.uses, u)
			}
		}
		formal.uses = nil
	}
	return subst
}

// substituteSubgraphOutputs points the outputs of the body's subgraphs that
// return a bound value of the body (an If branch returning a formal input)
// at what it is bound to: those are not uses, so binding did not move them.
func substituteSubgraphOutputs(body *Graph, subst map[*Value]*Value) {
	body.Walk(func(sg *Graph) {
		if sg == body {
			return
		}
		for i, v := range sg.Outputs {
			if r := subst[v]; r != nil {
				sg.Outputs[i] = r
			}
		}
	})
}

// bindOutputs makes the body compute the call's output values themselves,
// so readers (and graph outputs) of the call need no rewiring. Where that is
// impossible — an output that is a formal input, or one value returned
// twice — an Identity node copies it. It adds the formal outputs it
// replaced to subst.
func bindOutputs(g *Graph, body *Graph, call *Node, prefix string, subst map[*Value]*Value) {
	bound := map[*Value]*Value{}
	for j, formal := range body.Outputs {
		actual := call.Output(j)
		if actual == nil {
			continue
		}
		if i := indexOf(body.Inputs, formal); i >= 0 || bound[formal] != nil || formal.producer == nil {
			src := bound[formal]
			if i >= 0 {
				src = call.Input(i)
			}
			name := prefix + "/Identity"
			if g.hasName(name) {
				name = g.FreshName(name)
			}
			id := g.NewNode("Identity", "", name, []*Value{src})
			setOutput(id, 0, actual)
			body.Nodes = append(body.Nodes, id)
			continue
		}
		p := formal.producer
		setOutput(p, formal.outIndex, actual)
		for _, u := range formal.uses {
			u.Node.inputs[u.Index] = actual
			actual.uses = append(actual.uses, u)
		}
		formal.uses = nil
		actual.Type = MergeTypes(actual.Type, formal.Type)
		bound[formal] = actual
		subst[formal] = actual
	}
}

// setOutput makes v output k of n.
func setOutput(n *Node, k int, v *Value) {
	for len(n.outputs) <= k {
		n.outputs = append(n.outputs, nil)
	}
	n.outputs[k] = v
	v.producer, v.outIndex, v.graph = n, k, n.Graph
}

// removeInlined drops the functions the main graph reached (all inlined now)
// unless a function it never reached still calls them.
func (in *inliner) removeInlined(reached map[*Function]bool) {
	keep := map[*Function]bool{}
	for _, f := range in.m.Functions {
		if !reached[f] {
			markCalled(in.funcs, f.Body, keep)
			keep[f] = true
		}
	}
	in.m.dropFunctions(func(f *Function) bool { return !keep[f] })
}

// RemoveUncalledFunctions drops the model-local functions that the main
// graph does not call, directly or through other functions, and the opset
// imports of their domains that nothing uses any more. It returns how many
// functions it dropped.
func (m *Model) RemoveUncalledFunctions() int {
	funcs := map[funcKey]*Function{}
	for _, f := range m.Functions {
		if k := keyOfFunction(f); funcs[k] == nil {
			funcs[k] = f
		}
	}
	called := map[*Function]bool{}
	if m.Graph != nil {
		markCalled(funcs, m.Graph, called)
	}
	return m.dropFunctions(func(f *Function) bool { return !called[f] })
}

// markCalled adds to called the functions g calls, directly or not.
func markCalled(funcs map[funcKey]*Function, g *Graph, called map[*Function]bool) {
	g.Walk(func(sg *Graph) {
		for _, n := range sg.Nodes {
			if f := funcs[keyOfNode(n)]; f != nil && !called[f] {
				called[f] = true
				if f.Body != nil {
					markCalled(funcs, f.Body, called)
				}
			}
		}
	})
}

// dropFunctions removes the functions drop selects, then the opset imports
// of their domains that no node or remaining function uses.
func (m *Model) dropFunctions(drop func(*Function) bool) int {
	var kept []*Function
	gone := map[string]bool{}
	for _, f := range m.Functions {
		if drop(f) {
			gone[normDomain(f.Domain)] = true
		} else {
			kept = append(kept, f)
		}
	}
	dropped := len(m.Functions) - len(kept)
	if dropped == 0 {
		return 0
	}
	m.Functions = kept
	used := map[string]bool{"": true}
	for _, g := range m.Graphs() {
		for _, n := range g.Nodes {
			used[normDomain(n.Domain)] = true
		}
	}
	for _, f := range kept {
		used[normDomain(f.Domain)] = true
	}
	m.Opsets = slices.DeleteFunc(m.Opsets, func(o OpsetID) bool {
		d := normDomain(o.Domain)
		return gone[d] && !used[d]
	})
	return dropped
}
