package onnx

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// gb builds a graph by value names: "a,,b" lists inputs a, (absent), b.
type gb struct {
	g      *Graph
	v      map[string]*Value
	parent *gb
}

// newGB starts a graph with inputs of type typ (nil for a function body).
func newGB(name string, typ *Type, inputs ...string) *gb {
	b := &gb{g: &Graph{Name: name}, v: map[string]*Value{}}
	for _, in := range inputs {
		b.v[in] = b.g.AddInput(in, typ.Clone())
	}
	return b
}

// sub starts a subgraph of b held by node owner.
func (b *gb) sub(name string, owner *Node) *gb {
	return &gb{g: &Graph{Name: name, Parent: b.g, Owner: owner}, v: map[string]*Value{}, parent: b}
}

func (b *gb) lookup(name string) *Value {
	for s := b; s != nil; s = s.parent {
		if v := s.v[name]; v != nil {
			return v
		}
	}
	panic("test graph: no value " + name)
}

// node appends op ("Domain::Op" for other domains) reading ins and writing outs.
func (b *gb) node(op, name, ins, outs string, attrs ...*Attribute) *Node {
	domain, opType := "", op
	if i := strings.Index(op, "::"); i >= 0 {
		domain, opType = op[:i], op[i+2:]
	}
	var in []*Value
	for _, s := range splitNames(ins) {
		if s == "" {
			in = append(in, nil)
		} else {
			in = append(in, b.lookup(s))
		}
	}
	n := b.g.NewNode(opType, domain, name, in, splitNames(outs)...)
	for _, o := range n.outputs {
		if o != nil {
			b.v[o.Name] = o
		}
	}
	n.Attrs = attrs
	b.g.Append(n)
	return n
}

func (b *gb) out(names string) *Graph {
	for _, s := range splitNames(names) {
		b.g.Outputs = append(b.g.Outputs, b.lookup(s))
	}
	return b.g
}

func splitNames(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func ref(name string, typ AttrType, to string) *Attribute {
	return &Attribute{Name: name, Type: typ, RefAttrName: to}
}

func localFn(name string, body *Graph, defaults ...*Attribute) *Function {
	return &Function{Name: name, Domain: "local", Opsets: []OpsetID{{Domain: "", Version: 17}, {Domain: "local", Version: 1}}, Body: body, AttrProtos: defaults}
}

func testModel(g *Graph, fs ...*Function) *Model {
	return &Model{IRVersion: 10, Opsets: []OpsetID{{Domain: "", Version: 17}, {Domain: "local", Version: 1}}, Graph: g, Functions: fs}
}

var floatT = TensorType(Float, ShapeOf(2, 3))

// gelu is local::MyGelu(X) = X*X + X.
func gelu() *Function {
	b := newGB("MyGelu", nil, "X")
	b.node("Mul", "mul", "X,X", "sq")
	b.node("Add", "add", "sq,X", "Y")
	return localFn("MyGelu", b.out("Y"))
}

// leaky is local::Leaky(X) = LeakyRelu(X) with alpha from the caller's "slope".
func leaky(defaults ...*Attribute) *Function {
	b := newGB("Leaky", nil, "X")
	b.node("LeakyRelu", "lr", "X", "Y", ref("alpha", AttrFloat, "slope"))
	return localFn("Leaky", b.out("Y"), defaults...)
}

// dumpGraph lists g's nodes, one a line, subgraphs indented below their node.
func dumpGraph(g *Graph, indent string) string {
	var sb strings.Builder
	for _, n := range g.Nodes {
		op := n.OpType
		if n.Domain != "" {
			op = n.Domain + "::" + op
		}
		fmt.Fprintf(&sb, "%s%s: %s(%s) -> %s", indent, n.Name, op, valueNames(n.inputs), valueNames(n.outputs))
		for _, a := range n.Attrs {
			switch a.Type {
			case AttrFloat:
				fmt.Fprintf(&sb, " %s=%g", a.Name, a.Float)
			case AttrInt:
				fmt.Fprintf(&sb, " %s=%d", a.Name, a.Int)
			case AttrInts:
				fmt.Fprintf(&sb, " %s=%v", a.Name, a.Ints)
			}
			if a.RefAttrName != "" {
				fmt.Fprintf(&sb, "@%s", a.RefAttrName)
			}
		}
		sb.WriteString("\n")
		for _, sg := range n.Subgraphs() {
			sb.WriteString(dumpGraph(sg, indent+"  "))
		}
	}
	fmt.Fprintf(&sb, "%sout: %s\n", indent, valueNames(g.Outputs))
	return sb.String()
}

func valueNames(vs []*Value) string {
	var s []string
	for _, v := range vs {
		if v == nil {
			s = append(s, "")
		} else {
			s = append(s, v.Name)
		}
	}
	return strings.Join(s, ",")
}

func TestInlineFunctions(t *testing.T) {
	cases := []struct {
		name    string
		model   func() *Model
		calls   int
		want    string   // dumpGraph of the main graph
		funcs   []string // functions left
		opsets  string   // the model's imports afterwards
		wantErr string
	}{{
		name: "one call",
		model: func() *Model {
			b := newGB("main", floatT, "x")
			b.node("local::MyGelu", "g", "x", "y")
			b.node("Relu", "r", "y", "z")
			return testModel(b.out("z"), gelu())
		},
		calls: 1,
		want: `g/mul: Mul(x,x) -> g/sq
g/add: Add(g/sq,x) -> y
r: Relu(y) -> z
out: z
`,
		opsets: "[ai.onnx v17]",
	}, {
		name: "a call's output is a graph output",
		model: func() *Model {
			b := newGB("main", floatT, "x")
			b.node("local::MyGelu", "g", "x", "y")
			return testModel(b.out("y"), gelu())
		},
		calls: 1,
		want: `g/mul: Mul(x,x) -> g/sq
g/add: Add(g/sq,x) -> y
out: y
`,
		opsets: "[ai.onnx v17]",
	}, {
		name: "two calls of one function, one unnamed, names clashing",
		model: func() *Model {
			b := newGB("main", floatT, "x")
			b.node("Relu", "g/sq", "x", "g/mul")
			b.node("local::MyGelu", "g", "g/mul", "y")
			b.node("local::MyGelu", "", "y", "z")
			return testModel(b.out("z"), gelu())
		},
		calls: 2,
		want: `g/sq: Relu(x) -> g/mul
g/mul_2: Mul(g/mul,g/mul) -> g/sq_1
g/add: Add(g/sq_1,g/mul) -> y
MyGelu_3/mul: Mul(y,y) -> MyGelu_3/sq
MyGelu_3/add: Add(MyGelu_3/sq,y) -> z
out: z
`,
		opsets: "[ai.onnx v17]",
	}, {
		name: "nested calls",
		model: func() *Model {
			ob := newGB("Outer", nil, "X")
			ob.node("local::MyGelu", "inner", "X", "t")
			ob.node("local::MyGelu", "inner2", "t", "u")
			ob.node("Neg", "neg", "u", "Y")
			b := newGB("main", floatT, "x")
			b.node("local::Outer", "o", "x", "y")
			return testModel(b.out("y"), localFn("Outer", ob.out("Y")), gelu())
		},
		calls: 3,
		want: `o/inner/mul: Mul(x,x) -> o/inner/sq
o/inner/add: Add(o/inner/sq,x) -> o/t
o/inner2/mul: Mul(o/t,o/t) -> o/inner2/sq
o/inner2/add: Add(o/inner2/sq,o/t) -> o/u
o/neg: Neg(o/u) -> y
out: y
`,
		opsets: "[ai.onnx v17]",
	}, {
		name: "attribute references: from the call, the default, missing, through a nested call",
		model: func() *Model {
			ob := newGB("Outer", nil, "X")
			ob.node("local::Leaky", "inner", "X", "Y", ref("slope", AttrFloat, "a"))
			b := newGB("main", floatT, "x")
			b.node("local::Leaky", "call", "x", "y1", FloatAttr("slope", 0.25))
			b.node("local::Leaky", "dflt", "y1", "y2")
			b.node("local::Outer", "nest", "y2", "y3", FloatAttr("a", 0.125))
			b.node("local::Outer", "none", "y3", "y4")
			return testModel(b.out("y4"), leaky(FloatAttr("slope", 0.5)), localFn("Outer", ob.out("Y")))
		},
		calls: 6,
		// "none" passes no "a": the inner call gets no "slope", so Leaky's default applies.
		want: `call/lr: LeakyRelu(x) -> y1 alpha=0.25
dflt/lr: LeakyRelu(y1) -> y2 alpha=0.5
nest/inner/lr: LeakyRelu(y2) -> y3 alpha=0.125
none/inner/lr: LeakyRelu(y3) -> y4 alpha=0.5
out: y4
`,
		opsets: "[ai.onnx v17]",
	}, {
		name: "attribute reference with no value is dropped",
		model: func() *Model {
			b := newGB("main", floatT, "x")
			b.node("local::Leaky", "call", "x", "y")
			return testModel(b.out("y"), leaky())
		},
		calls: 1,
		want: `call/lr: LeakyRelu(x) -> y
out: y
`,
		opsets: "[ai.onnx v17]",
	}, {
		name: "optional inputs and outputs absent",
		model: func() *Model {
			fb := newGB("Clamp", nil, "X", "Lo", "Hi")
			fb.node("Clip", "clip", "X,Lo,Hi", "Y")
			fb.node("Neg", "neg", "X", "Z")
			b := newGB("main", floatT, "x", "hi")
			b.node("local::Clamp", "c1", "x,,hi", "y")
			b.node("local::Clamp", "c2", "y", ",z")
			return testModel(b.out("z"), localFn("Clamp", fb.out("Y,Z")))
		},
		calls: 2,
		want: `c1/clip: Clip(x,,hi) -> y
c1/neg: Neg(x) -> c1/Z
c2/clip: Clip(y,,) -> c2/Y
c2/neg: Neg(y) -> z
out: z
`,
		opsets: "[ai.onnx v17]",
	}, {
		name: "outputs that are an input or returned twice",
		model: func() *Model {
			fb := newGB("Dup", nil, "X")
			fb.node("Neg", "neg", "X", "N")
			b := newGB("main", floatT, "x")
			b.node("local::Dup", "d", "x", "a,b,c")
			return testModel(b.out("a,b,c"), localFn("Dup", fb.out("X,N,N")))
		},
		calls: 1,
		want: `d/neg: Neg(x) -> b
d/Identity: Identity(x) -> a
d/Identity_1: Identity(b) -> c
out: a,b,c
`,
		opsets: "[ai.onnx v17]",
	}, {
		name: "a call inside an If branch",
		model: func() *Model {
			b := newGB("main", floatT, "x", "cond")
			n := b.node("If", "if", "cond", "y")
			tb := b.sub("then", n)
			tb.node("local::MyGelu", "g", "x", "t")
			eb := b.sub("else", n)
			eb.node("Identity", "id", "x", "e")
			n.Attrs = []*Attribute{{Name: "then_branch", Type: AttrGraph, Graph: tb.out("t")}, {Name: "else_branch", Type: AttrGraph, Graph: eb.out("e")}}
			return testModel(b.out("y"), gelu())
		},
		calls: 1,
		want: `if: If(cond) -> y
  g/mul: Mul(x,x) -> g/sq
  g/add: Add(g/sq,x) -> t
  out: t
  id: Identity(x) -> e
  out: e
out: y
`,
		opsets: "[ai.onnx v17]",
	}, {
		name: "an If in the body returning a formal input and a formal output",
		model: func() *Model {
			fb := newGB("Pick", nil, "C", "X")
			fb.node("Neg", "neg", "X", "N")
			n := fb.node("If", "if", "C", "Y")
			n.Attrs = []*Attribute{
				{Name: "then_branch", Type: AttrGraph, Graph: fb.sub("then", n).out("X")},
				{Name: "else_branch", Type: AttrGraph, Graph: fb.sub("else", n).out("N")},
			}
			b := newGB("main", floatT, "c", "x")
			b.node("local::Pick", "p", "c,x", "y,n")
			return testModel(b.out("y,n"), localFn("Pick", fb.out("Y,N")))
		},
		calls: 1,
		want: `p/neg: Neg(x) -> n
p/if: If(c) -> y
  out: x
  out: n
out: y,n
`,
		opsets: "[ai.onnx v17]",
	}, {
		name: "uncalled functions stay, with what they call",
		model: func() *Model {
			ub := newGB("Unused", nil, "X")
			ub.node("local::MyGelu", "g", "X", "Y")
			b := newGB("main", floatT, "x")
			b.node("local::MyGelu", "g", "x", "y")
			return testModel(b.out("y"), gelu(), localFn("Unused", ub.out("Y")))
		},
		calls: 1,
		want: `g/mul: Mul(x,x) -> g/sq
g/add: Add(g/sq,x) -> y
out: y
`,
		funcs:  []string{"MyGelu", "Unused"},
		opsets: "[ai.onnx v17 local v1]",
	}, {
		name: "a domain the model does not import takes the function's version",
		model: func() *Model {
			fb := newGB("G", nil, "X")
			fb.node("com.microsoft::Gelu", "gelu", "X", "Y")
			f := localFn("G", fb.out("Y"))
			f.Opsets = append(f.Opsets, OpsetID{Domain: "com.microsoft", Version: 1})
			b := newGB("main", floatT, "x")
			b.node("local::G", "g", "x", "y")
			return testModel(b.out("y"), f)
		},
		calls: 1,
		want: `g/gelu: com.microsoft::Gelu(x) -> y
out: y
`,
		opsets: "[ai.onnx v17 com.microsoft v1]",
	}, {
		name: "recursion",
		model: func() *Model {
			ab := newGB("A", nil, "X")
			ab.node("local::B", "b", "X", "Y")
			bb := newGB("B", nil, "X")
			bb.node("local::A", "a", "X", "Y")
			b := newGB("main", floatT, "x")
			b.node("local::A", "call", "x", "y")
			return testModel(b.out("y"), localFn("A", ab.out("Y")), localFn("B", bb.out("Y")))
		},
		wantErr: "function local::A calls itself (local::A → local::B → local::A)",
	}, {
		name: "opset mismatch",
		model: func() *Model {
			f := gelu()
			f.Opsets[0].Version = 13
			b := newGB("main", floatT, "x")
			b.node("local::MyGelu", "g", "x", "y")
			return testModel(b.out("y"), f)
		},
		wantErr: `function local::MyGelu imports domain "ai.onnx" at version 13 but the model imports it at version 17`,
	}, {
		name: "too many inputs",
		model: func() *Model {
			b := newGB("main", floatT, "x")
			b.node("local::MyGelu", "g", "x,x", "y")
			return testModel(b.out("y"), gelu())
		},
		wantErr: `node "g" (MyGelu) calls function local::MyGelu with 2 inputs, it takes 1`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.model()
			if err := m.Check(); err != nil {
				t.Fatalf("test model: %v", err)
			}
			before, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			n, err := m.InlineFunctions()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if after, _ := Encode(m); !bytes.Equal(after, before) {
					t.Error("a failed InlineFunctions changed the model")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.calls {
				t.Errorf("inlined %d calls, want %d", n, tc.calls)
			}
			if got := dumpGraph(m.Graph, ""); got != tc.want {
				t.Errorf("graph:\n%s\nwant:\n%s", got, tc.want)
			}
			var funcs []string
			for _, f := range m.Functions {
				funcs = append(funcs, f.Name)
			}
			if !slices.Equal(funcs, tc.funcs) {
				t.Errorf("functions left %v, want %v", funcs, tc.funcs)
			}
			if got := fmt.Sprint(m.Opsets); got != tc.opsets {
				t.Errorf("opsets %s, want %s", got, tc.opsets)
			}
			if m.CallsFunctions() {
				t.Error("the model still calls a function")
			}
			checkInlined(t, m)
		})
	}
}

// checkInlined checks that m is well formed, its links consistent, its
// names unique, and that it survives Save and Load unchanged.
func checkInlined(t *testing.T, m *Model) {
	t.Helper()
	if err := m.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	names := map[string]bool{}
	m.Graph.Walk(func(g *Graph) {
		for _, v := range g.Values() {
			if names[v.Name] {
				t.Errorf("%s: value name %q defined twice", graphPlace(g), v.Name)
			}
			names[v.Name] = true
			if v.graph != g {
				t.Errorf("%s: value %q thinks it is in %s", graphPlace(g), v.Name, graphPlace(v.graph))
			}
			for _, u := range v.uses {
				if u.Node.Input(u.Index) != v || indexOf(u.Node.Graph.Nodes, u.Node) < 0 {
					t.Errorf("value %q: stale use by %s input %d", v.Name, NodePlace(u.Node), u.Index)
				}
			}
		}
		for _, n := range g.Nodes {
			if n.Graph != g {
				t.Errorf("%s thinks it is in %s", NodePlace(n), graphPlace(n.Graph))
			}
			for i, v := range n.inputs {
				if v != nil && !slices.Contains(v.uses, Use{n, i}) {
					t.Errorf("%s input %d %q: use not recorded", NodePlace(n), i, v.Name)
				}
			}
			for i, v := range n.outputs {
				if v != nil && (v.producer != n || v.outIndex != i) {
					t.Errorf("%s output %d %q: producer link wrong", NodePlace(n), i, v.Name)
				}
			}
			for _, sg := range n.Subgraphs() {
				if sg.Parent != g || sg.Owner != n {
					t.Errorf("%s: subgraph %q has the wrong parent or owner", NodePlace(n), sg.Name)
				}
			}
		}
	})
	path := filepath.Join(t.TempDir(), "inlined.onnx")
	if err := Save(m, path, SaveOptions{}); err != nil {
		t.Fatalf("Save: %v", err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := dumpGraph(back.Graph, ""), dumpGraph(m.Graph, ""); got != want {
		t.Errorf("after Save and Load:\n%s\nwant:\n%s", got, want)
	}
}

// TestInlineFunctionsCopiesBody checks that inlining copies a body: the
// function itself is left as it was.
func TestInlineFunctionsCopiesBody(t *testing.T) {
	f := leaky(FloatAttr("slope", 0.5))
	want := dumpGraph(f.Body, "")
	b := newGB("main", floatT, "x")
	b.node("local::Leaky", "a", "x", "y", FloatAttr("slope", 0.25))
	m := testModel(b.out("y"), f)
	if _, err := m.InlineFunctions(); err != nil {
		t.Fatal(err)
	}
	if got := dumpGraph(f.Body, ""); got != want {
		t.Errorf("the function body changed:\n%s\nwant:\n%s", got, want)
	}
}

// TestRemoveUncalledFunctions checks that functions the graph does not
// reach go, with the imports of domains only they used, and called ones stay.
func TestRemoveUncalledFunctions(t *testing.T) {
	hb := newGB("Helper", nil, "X")
	hb.node("Neg", "neg", "X", "Y")
	helper := localFn("Helper", hb.out("Y"))
	helper.Domain = "other"
	ub := newGB("Unused", nil, "X")
	ub.node("other::Helper", "h", "X", "Y")
	b := newGB("main", floatT, "x")
	b.node("local::MyGelu", "g", "x", "y")
	m := testModel(b.out("y"), gelu(), localFn("Unused", ub.out("Y")), helper)
	m.Opsets = append(m.Opsets, OpsetID{Domain: "other", Version: 1})
	if n := m.RemoveUncalledFunctions(); n != 2 {
		t.Errorf("removed %d functions, want 2", n)
	}
	if len(m.Functions) != 1 || m.Functions[0].Name != "MyGelu" {
		t.Errorf("functions left %v, want MyGelu", m.Functions)
	}
	if got, want := fmt.Sprint(m.Opsets), "[ai.onnx v17 local v1]"; got != want {
		t.Errorf("opsets %s, want %s", got, want)
	}
}
