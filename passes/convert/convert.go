// Package convert upgrades a model's default-domain (ai.onnx) opset. Most
// new operator versions only add types or optional attributes whose
// defaults keep the old meaning; the ops whose meaning or signature changed
// (attributes that became inputs, Softmax's axis, Upsample → Resize, …)
// are rewritten so that the model computes exactly what it computed before.
// What cannot be expressed at the new version is refused, naming the node,
// and the model is left untouched. Downgrades are refused.
package convert

import (
	"fmt"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// Oldest and Newest bound the opsets this package converts between: from
// the first opset, and up to the newest whose table of changes has been
// checked.
const (
	Oldest = 1
	Newest = 21
)

// modern is the first opset of numpy broadcasting, and the oldest ONNX
// Runtime runs: older models go through legacyAdapters first.
const modern = 7

func init() {
	passes.Register(&passes.Pass{
		Name: "convert",
		Doc:  "upgrade the ai.onnx opset (1 … 21), rewriting the ops whose meaning changed; downgrades are refused",
		Options: []passes.Option{
			{Name: "opset", Kind: passes.OptInt, Default: "21", Doc: "the ai.onnx opset to convert to"},
		},
		Run: func(c *passes.Context, m *onnx.Model) (int, error) {
			want := c.Options.Int("opset")
			have := m.Opset("")
			n, err := Upgrade(m, want)
			if err == nil && have != want {
				c.Logf("ai.onnx opset %d → %d (%d nodes rewritten), IR version %d", have, want, n, m.IRVersion)
			}
			return n, err
		},
	})
}

// irFor is the IR version each opset came with: the least a file at that
// opset may declare.
var irFor = map[int64]int64{
	7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8,
	17: 8, 18: 8, 19: 9, 20: 9, 21: 10,
}

// Upgrade converts m's ai.onnx opset to want, in every graph (subgraphs
// included), and raises the IR version if the new opset needs it. It returns
// the number of nodes rewritten. On error m is unchanged (apart from
// inferred value types).
func Upgrade(m *onnx.Model, want int64) (int, error) {
	have := m.Opset("")
	switch {
	case have == 0:
		return 0, fmt.Errorf("the model imports no ai.onnx opset")
	case want == have:
		return 0, nil
	case want < have:
		return 0, fmt.Errorf("opset %d → %d is a downgrade: later versions add types, attributes and ops that have no earlier form; convert only upgrades", have, want)
	case have < Oldest:
		return 0, fmt.Errorf("opset %d is below %d, the oldest there is", have, Oldest)
	case want > Newest:
		return 0, fmt.Errorf("opset %d is above %d, the newest this pass knows the changes up to", want, Newest)
	}
	// Local functions that import ai.onnx at the model's version are
	// converted with it; at another version their bodies would mean
	// something else.
	for _, f := range m.Functions {
		for _, o := range f.Opsets {
			if (o.Domain == "" || o.Domain == "ai.onnx") && o.Version != have {
				return 0, fmt.Errorf("local function %q imports ai.onnx opset %d, not the model's %d", f.Name, o.Version, have)
			}
		}
	}
	if have >= modern {
		n, err := stage(m, want, modernAdapter)
		if err == nil {
			raiseIR(m, want)
		}
		return n, err
	}
	// Two stages, each planned whole before it edits: to opset 7, then on.
	// They work on a copy (the tensors are shared), so that a refusal in
	// the second leaves m as it was.
	c := m.Clone()
	n, err := stage(c, min(want, modern), legacyAdapter)
	if err == nil && want > modern {
		var k int
		k, err = stage(c, want, modernAdapter)
		n += k
	}
	if err != nil {
		return 0, err
	}
	raiseIR(c, want)
	*m = *c
	return n, nil
}

// modernAdapter is n's entry in the opset 7 … 21 table.
func modernAdapter(u *upgrade, n *onnx.Node) (func(), error) {
	if adapt := adapters[n.OpType]; adapt != nil {
		return adapt(u, n)
	}
	return nil, nil
}

// stage plans the edit of every ai.onnx node from m's opset to want with
// adapt, refuses if any node cannot be converted (m unchanged), and
// otherwise applies the edits and sets the opset, local functions'
// included.
func stage(m *onnx.Model, want int64, adapt adapter) (int, error) {
	have := m.Opset("")
	// Element types and ranks decide some rewrites (a Clip bound's type,
	// whether Softmax's axis is the last one). Best effort: without them
	// the rewrites that need them refuse.
	_, _ = interp.InferShapes(m, interp.ShapeOptions{})

	u := &upgrade{m: m, from: have, to: want}
	var edits []func()
	for _, g := range m.Graphs() {
		for _, n := range g.Nodes {
			if n.Domain != "" && n.Domain != "ai.onnx" {
				continue
			}
			if v, ok := removed[n.OpType]; ok && u.crosses(v) {
				return 0, fmt.Errorf("%s: %s was removed from ai.onnx at opset %d and has no replacement", onnx.NodePlace(n), n.OpType, v)
			}
			edit, err := adapt(u, n)
			if err != nil {
				return 0, fmt.Errorf("%s: cannot convert opset %d → %d: %w", onnx.NodePlace(n), have, want, err)
			}
			if edit != nil {
				edits = append(edits, edit)
			}
		}
	}
	for _, e := range edits {
		e()
	}
	m.SetOpset("", want)
	for _, f := range m.Functions {
		for i, o := range f.Opsets {
			if o.Domain == "" || o.Domain == "ai.onnx" {
				f.Opsets[i].Version = want
			}
		}
	}
	return len(edits), nil
}

// raiseIR raises m's IR version to the least a file at opset want may
// declare.
func raiseIR(m *onnx.Model, want int64) {
	ir := irFor[want]
	if m.IRVersion >= ir {
		return
	}
	if m.IRVersion < 4 && ir >= 4 {
		// From IR 4 on, an initializer listed among the inputs is a
		// default a caller may override; before, it was a constant.
		m.Graph.Inputs = dropConsts(m.Graph.Inputs)
		m.Graph.LegacyInitializerInputs = false
	}
	m.IRVersion = ir
}

func dropConsts(vs []*onnx.Value) []*onnx.Value {
	var out []*onnx.Value
	for _, v := range vs {
		if !v.IsConst() {
			out = append(out, v)
		}
	}
	return out
}

// removed lists ops dropped from ai.onnx without a converted form: the
// experimental ops of opset ≤ 9 that no standard op expresses (the others
// are rewritten by the adapters in experimental.go).
var removed = map[string]int64{"GRUUnit": 10, "GivenTensorFill": 10}

// upgrade is one conversion: the model and the opsets it goes between.
type upgrade struct {
	m        *onnx.Model
	from, to int64
}

// crosses reports whether the conversion passes version v (an op's new
// definition at v applies to the result but not to the original).
func (u *upgrade) crosses(v int64) bool { return u.from < v && v <= u.to }

// constant adds a constant for one of n's new inputs: an initializer, or a
// Constant node in a function body (which cannot hold initializers).
func (u *upgrade) constant(n *onnx.Node, what string, t *onnx.Tensor) *onnx.Value {
	name := n.Name
	if name == "" {
		name = n.OpType
	}
	name += "_" + what
	if n.Graph.Root() == u.m.Graph {
		return passes.AddConst(u.m, n.Graph, name, t)
	}
	c := n.Graph.NewNode("Constant", "", n.Graph.FreshName(name), nil)
	c.SetAttr(onnx.TensorAttr("value", t))
	n.Graph.InsertBefore(n, c)
	return c.Output(0)
}

func ints(vals []int64) *onnx.Tensor {
	return onnx.NewInt64Tensor("", []int64{int64(len(vals))}, vals)
}
