package interp_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// fnGraph builds a graph (a main graph, branch or function body) by value
// names; "a,,b" lists a, an absent value, b.
type fnGraph struct {
	g      *onnx.Graph
	v      map[string]*onnx.Value
	parent *fnGraph
}

func newFnGraph(name string) *fnGraph {
	return &fnGraph{g: &onnx.Graph{Name: name}, v: map[string]*onnx.Value{}}
}

// input adds a graph input (typ nil: a function's formal input).
func (b *fnGraph) input(name string, typ *onnx.Type) *fnGraph {
	b.v[name] = b.g.AddInput(name, typ)
	return b
}

// branch starts a subgraph of b held by owner.
func (b *fnGraph) branch(name string, owner *onnx.Node) *fnGraph {
	return &fnGraph{g: &onnx.Graph{Name: name, Parent: b.g, Owner: owner}, v: map[string]*onnx.Value{}, parent: b}
}

func (b *fnGraph) value(name string) *onnx.Value {
	for s := b; s != nil; s = s.parent {
		if v := s.v[name]; v != nil {
			return v
		}
	}
	panic("test graph " + b.g.Name + ": no value " + name)
}

// node appends op ("domain::Op" outside ai.onnx).
func (b *fnGraph) node(op, name, ins, outs string, attrs ...*onnx.Attribute) *onnx.Node {
	domain, opType := "", op
	if i := strings.Index(op, "::"); i >= 0 {
		domain, opType = op[:i], op[i+2:]
	}
	var in []*onnx.Value
	for _, s := range fnNames(ins) {
		if s == "" {
			in = append(in, nil)
		} else {
			in = append(in, b.value(s))
		}
	}
	n := b.g.NewNode(opType, domain, name, in, fnNames(outs)...)
	for _, o := range n.Outputs() {
		if o != nil {
			b.v[o.Name] = o
		}
	}
	n.Attrs = attrs
	b.g.Append(n)
	return n
}

func (b *fnGraph) outputs(names string) *onnx.Graph {
	for _, s := range fnNames(names) {
		b.g.Outputs = append(b.g.Outputs, b.value(s))
	}
	return b.g
}

func fnNames(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// localFunction is a function of domain "local" importing ai.onnx 17 and local 1.
func localFunction(name string, body *onnx.Graph, defaults ...*onnx.Attribute) *onnx.Function {
	return &onnx.Function{
		Name: name, Domain: "local", Body: body, AttrProtos: defaults,
		Attributes: nil,
		Opsets:     []onnx.OpsetID{{Domain: "", Version: 17}, {Domain: "local", Version: 1}},
	}
}

func refAttr(name string, typ onnx.AttrType, to string) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: typ, RefAttrName: to}
}

// Functions used by the models below.
func fnGelu() *onnx.Function { // X*X + X
	b := newFnGraph("MyGelu").input("X", nil)
	b.node("Mul", "mul", "X,X", "sq")
	b.node("Add", "add", "sq,X", "Y")
	return localFunction("MyGelu", b.outputs("Y"))
}

func fnLeaky() *onnx.Function { // LeakyRelu with alpha = the caller's slope, default 0.05
	b := newFnGraph("Leaky").input("X", nil)
	b.node("LeakyRelu", "lr", "X", "Y", refAttr("alpha", onnx.AttrFloat, "slope"))
	return localFunction("Leaky", b.outputs("Y"), onnx.FloatAttr("slope", 0.05))
}

func fnTranspose() *onnx.Function { // Transpose by the caller's perm, then Neg
	b := newFnGraph("Perm").input("X", nil)
	b.node("Transpose", "tr", "X", "t", refAttr("perm", onnx.AttrInts, "perm"))
	b.node("Neg", "neg", "t", "Y")
	return localFunction("Perm", b.outputs("Y"))
}

// fnBlock calls the others: Y = MyGelu(Leaky(X, slope=a) · W), Z = Perm(Y, perm=p).
func fnBlock() *onnx.Function {
	b := newFnGraph("Block").input("X", nil).input("W", nil)
	b.node("local::Leaky", "act", "X", "a", refAttr("slope", onnx.AttrFloat, "a"))
	b.node("MatMul", "mm", "a,W", "m")
	b.node("local::MyGelu", "gelu", "m", "Y")
	b.node("local::Perm", "perm", "Y", "Z", refAttr("perm", onnx.AttrInts, "p"))
	return localFunction("Block", b.outputs("Y,Z"))
}

func fnClamp() *onnx.Function { // Clip(X, Lo, Hi) and, second, -X
	b := newFnGraph("Clamp").input("X", nil).input("Lo", nil).input("Hi", nil)
	b.node("Clip", "clip", "X,Lo,Hi", "Y")
	b.node("Neg", "neg", "X", "N")
	return localFunction("Clamp", b.outputs("Y,N"))
}

func fnModel(g *onnx.Graph, fs ...*onnx.Function) *onnx.Model {
	return &onnx.Model{IRVersion: 10, Opsets: []onnx.OpsetID{{Domain: "", Version: 17}, {Domain: "local", Version: 1}}, Graph: g, Functions: fs}
}

type fnCase struct {
	name  string
	model func() *onnx.Model
	feeds func(r *rand.Rand) map[string]*interp.Tensor
}

var fnCases = []fnCase{{
	name: "two calls, one unnamed",
	model: func() *onnx.Model {
		b := newFnGraph("main").input("x", tf32(2, 3))
		b.node("local::MyGelu", "g", "x", "y")
		b.node("local::MyGelu", "", "y", "z")
		b.node("Relu", "r", "z", "out")
		return fnModel(b.outputs("out,y"), fnGelu())
	},
	feeds: func(r *rand.Rand) map[string]*interp.Tensor {
		return map[string]*interp.Tensor{"x": normal(r, 2, 3)}
	},
}, {
	name: "attributes from the call and the default",
	model: func() *onnx.Model {
		b := newFnGraph("main").input("x", tf32(2, 3, 4))
		b.node("local::Leaky", "given", "x", "a", onnx.FloatAttr("slope", 0.3))
		b.node("local::Leaky", "dflt", "x", "b")
		b.node("local::Perm", "p", "a", "c", onnx.IntsAttr("perm", []int64{2, 0, 1}))
		return fnModel(b.outputs("a,b,c"), fnLeaky(), fnTranspose())
	},
	feeds: func(r *rand.Rand) map[string]*interp.Tensor {
		return map[string]*interp.Tensor{"x": normal(r, 2, 3, 4)}
	},
}, {
	name: "nested calls with attributes passed down",
	model: func() *onnx.Model {
		b := newFnGraph("main").input("x", tf32(2, 3, 4)).input("w", tf32(4, 5))
		b.node("local::Block", "blk", "x,w", "y,z", onnx.FloatAttr("a", 0.2), onnx.IntsAttr("p", []int64{1, 2, 0}))
		b.node("local::Block", "blk2", "x,w", ",z2", onnx.IntsAttr("p", []int64{0, 2, 1}))
		return fnModel(b.outputs("y,z,z2"), fnBlock(), fnLeaky(), fnGelu(), fnTranspose())
	},
	feeds: func(r *rand.Rand) map[string]*interp.Tensor {
		return map[string]*interp.Tensor{"x": normal(r, 2, 3, 4), "w": normal(r, 4, 5)}
	},
}, {
	name: "optional input and output absent",
	model: func() *onnx.Model {
		b := newFnGraph("main").input("x", tf32(3, 4)).input("hi", tf32())
		// ONNX Runtime wants every output of a call listed: cn is unused.
		b.node("local::Clamp", "c", "x,,hi", "y,cn")
		b.node("local::Clamp", "n", "y", ",m")
		return fnModel(b.outputs("y,m"), fnClamp())
	},
	feeds: func(r *rand.Rand) map[string]*interp.Tensor {
		hi := interp.Make(onnx.Float)
		hi.Floats()[0] = 0.5
		return map[string]*interp.Tensor{"x": normal(r, 3, 4), "hi": hi}
	},
}, {
	name: "a call inside an If branch",
	model: func() *onnx.Model {
		b := newFnGraph("main").input("x", tf32(2, 3)).input("c", onnx.TensorType(onnx.Bool, onnx.ShapeOf()))
		n := b.node("If", "if", "c", "y")
		tb := b.branch("then", n)
		tb.node("local::MyGelu", "g", "x", "t")
		eb := b.branch("else", n)
		eb.node("local::Leaky", "l", "x", "e", onnx.FloatAttr("slope", 0.7))
		n.Attrs = []*onnx.Attribute{
			{Name: "then_branch", Type: onnx.AttrGraph, Graph: tb.outputs("t")},
			{Name: "else_branch", Type: onnx.AttrGraph, Graph: eb.outputs("e")},
		}
		return fnModel(b.outputs("y"), fnGelu(), fnLeaky())
	},
	feeds: func(r *rand.Rand) map[string]*interp.Tensor {
		c := interp.Make(onnx.Bool)
		return map[string]*interp.Tensor{"x": normal(r, 2, 3), "c": c} // false: the else branch's call
	},
}}

// TestFunctionsORT runs models calling model-local functions in the
// interpreter (which inlines them) and in ONNX Runtime (which runs the
// functions as they are) and compares the outputs.
func TestFunctionsORT(t *testing.T) {
	ort.Require(t)
	for i, c := range fnCases {
		t.Run(c.name, func(t *testing.T) {
			m := c.model()
			feeds := c.feeds(rand.New(rand.NewPCG(uint64(i), 7)))
			s, err := interp.NewSession(m, interp.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			if !m.CallsFunctions() {
				t.Fatal("NewSession changed the caller's model")
			}
			got, err := s.Run(feeds)
			if err != nil {
				t.Fatal(err)
			}
			want := runORT(t, m, feeds, got)
			for k, w := range want {
				g, err := interp.ToONNX("", got[k])
				if err != nil {
					t.Fatal(err)
				}
				if msg := testutil.MismatchTensor(g, w, 1e-5, 1e-4, -1); msg != "" {
					t.Errorf("output %d %q: %s", k, m.Graph.Outputs[k].Name, msg)
				}
			}
		})
	}
}

// TestFunctionErrorNamesCall checks that a node failing inside an inlined
// body is named after the call, so the user can find it.
func TestFunctionErrorNamesCall(t *testing.T) {
	b := newFnGraph("main").input("x", tf32(2, 3, 4)).input("w", tf32(3, 5))
	b.node("local::Block", "blk", "x,w", "y,z", onnx.IntsAttr("p", []int64{1, 2, 0}))
	m := fnModel(b.outputs("y,z"), fnBlock(), fnLeaky(), fnGelu(), fnTranspose())
	s, err := interp.NewSession(m, interp.Options{Threads: 1})
	if err == nil {
		r := rand.New(rand.NewPCG(1, 2))
		_, err = s.Run(map[string]*interp.Tensor{"x": normal(r, 2, 3, 4), "w": normal(r, 3, 5)})
	}
	if err == nil || !strings.Contains(err.Error(), "blk/mm") {
		t.Fatalf("error %v, want one naming node blk/mm", err)
	}
}

// TestFunctionRecursionError checks that a recursive function is an error
// of NewSession, not a hang.
func TestFunctionRecursionError(t *testing.T) {
	fb := newFnGraph("Loop").input("X", nil)
	fb.node("local::Loop", "again", "X", "Y")
	b := newFnGraph("main").input("x", tf32(2))
	b.node("local::Loop", "l", "x", "y")
	_, err := interp.NewSession(fnModel(b.outputs("y"), localFunction("Loop", fb.outputs("Y"))), interp.Options{})
	if err == nil || !strings.Contains(err.Error(), "recursion") {
		t.Fatalf("error %v, want a recursion error", err)
	}
}
