package onnx

import (
	"bytes"
	"testing"
)

// TestClone checks, on every shared model, that a clone encodes to the same
// bytes as the original, is well formed, shares no IR object with it, and
// that editing every part of the clone leaves the original's encoding as it
// was.
func TestClone(t *testing.T) {
	subgraphs := 0
	eachModelFile(t, func(f string, data []byte) {
		m, err := DecodeUnchecked(data)
		if err != nil {
			return // malformed on purpose: TestRoundTrip covers it
		}
		want, err := Encode(m)
		if err != nil {
			return
		}
		cp := m.Clone()
		got, err := Encode(cp)
		if err != nil {
			t.Errorf("%s: encoding the clone: %v", f, err)
			return
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the clone encodes differently", f)
			return
		}
		if (m.Check() == nil) != (cp.Check() == nil) {
			t.Errorf("%s: Check differs: original %v, clone %v", f, m.Check(), cp.Check())
		}
		if len(m.Graphs()) > 1 {
			subgraphs++
		}
		if err := sharesNothing(m, cp); err != "" {
			t.Errorf("%s: %s", f, err)
			return
		}
		mutate(cp)
		after, err := Encode(m)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !bytes.Equal(after, want) {
			t.Errorf("%s: editing the clone changed the original", f)
		}
	})
	if subgraphs == 0 {
		t.Error("no model with subgraphs or functions was cloned")
	}
}

// sharesNothing reports an IR object (graph, node, value, attribute, type,
// tensor header) reachable from both models, or "".
func sharesNothing(a, b *Model) string {
	seen := map[any]string{}
	visit := func(m *Model, mark string) string {
		var clash string
		note := func(p any, what string) {
			if clash != "" {
				return
			}
			if prev, ok := seen[p]; ok && prev != mark {
				clash = what + " is shared"
			}
			seen[p] = mark
		}
		for _, g := range m.Graphs() {
			note(g, "graph "+g.Name)
			for _, v := range g.Values() {
				note(v, "value "+v.Name)
				if v.Type != nil {
					note(v.Type, "type of "+v.Name)
				}
				if v.Const != nil {
					note(v.Const, "tensor "+v.Name)
				}
				for _, u := range v.uses {
					if u.Node.Graph.Root() != g.Root() && u.Node.Graph.Root() != m.Graph {
						clash = "value " + v.Name + " is read by a node of another model"
					}
				}
				if v.graph != nil && v.graph.Root() != g.Root() {
					clash = "value " + v.Name + " belongs to a graph of another model"
				}
			}
			for _, n := range g.Nodes {
				note(n, "node "+n.Name)
				for _, at := range n.Attrs {
					note(at, "attribute "+at.Name)
				}
			}
		}
		return clash
	}
	if s := visit(a, "a"); s != "" {
		return s
	}
	return visit(b, "b")
}

// mutate edits every part of m that a pass may edit.
func mutate(m *Model) {
	m.ProducerName += "x"
	m.Metadata = append(m.Metadata, StringPair{"k", "v"})
	m.SetOpset("", m.Opset("")+1)
	for _, f := range m.Functions {
		f.Name += "x"
		f.Attributes = append(f.Attributes, "x")
	}
	for _, g := range m.Graphs() {
		g.Name += "x"
		for _, v := range g.Values() {
			v.Name += "_x"
			if v.Type != nil {
				v.Type.Elem++
				for i := range v.Type.Shape {
					v.Type.Shape[i] = D(7)
				}
			}
			if v.Const != nil {
				v.Const.Name += "_x"
				for i := range v.Const.Dims {
					v.Const.Dims[i]++
				}
			}
		}
		for _, n := range g.Nodes {
			n.Name += "_x"
			n.OpType += "X"
			for _, a := range n.Attrs {
				a.Name += "x"
				a.Int++
				for i := range a.Ints {
					a.Ints[i]++
				}
				for i := range a.Floats {
					a.Floats[i]++
				}
				for i := range a.String {
					a.String[i]++
				}
			}
			if len(n.inputs) > 0 {
				n.SetInput(0, nil)
			}
			n.SetAttr(IntAttr("added", 1))
		}
		if len(g.Initializers) > 0 {
			g.RemoveInitializer(g.Initializers[0])
		}
		g.Outputs = g.Outputs[:0]
		g.Inputs = append(g.Inputs[:0:0], g.AddInput(g.FreshName("in"), nil))
		g.RemoveNodes(g.Nodes...)
	}
}
