package graphdiff

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/onnxslim/onnxslim/onnx"
)

// maxAttrElems bounds the list elements an attribute shows in a node line.
const maxAttrElems = 16

// NodeLine renders a node canonically on one line:
//
//	out1, out2 = Conv[kernel_shape=[3,3], pads=[1,1,1,1]](x, w, b)
//
// Attributes are sorted by name; ops of other domains are prefixed with it.
func NodeLine(n *onnx.Node) string {
	var b strings.Builder
	outs := make([]string, 0, len(n.Outputs()))
	for _, v := range n.Outputs() {
		outs = append(outs, valueName(v))
	}
	b.WriteString(strings.Join(outs, ", "))
	b.WriteString(" = ")
	b.WriteString(opName(n))
	if attrs := attrList(n); attrs != "" {
		b.WriteString("[" + attrs + "]")
	}
	ins := make([]string, 0, len(n.Inputs()))
	for _, v := range n.Inputs() {
		ins = append(ins, valueName(v))
	}
	b.WriteString("(" + strings.Join(ins, ", ") + ")")
	return b.String()
}

func opName(n *onnx.Node) string {
	if n.Domain == "" || n.Domain == "ai.onnx" {
		return n.OpType
	}
	return n.Domain + "." + n.OpType
}

func valueName(v *onnx.Value) string {
	if v == nil {
		return "∅" // omitted optional input or output
	}
	return v.Name
}

func attrList(n *onnx.Node) string {
	attrs := attrMap(n)
	parts := make([]string, 0, len(attrs))
	for _, k := range sortedKeys(attrs) {
		parts = append(parts, k+"="+attrs[k])
	}
	return strings.Join(parts, ", ")
}

// attrMap renders each attribute's value.
func attrMap(n *onnx.Node) map[string]string {
	m := map[string]string{}
	for _, a := range n.Attrs {
		m[a.Name] = AttrValue(a)
	}
	return m
}

// AttrValue renders an attribute value canonically.
func AttrValue(a *onnx.Attribute) string {
	if a.RefAttrName != "" {
		return "@" + a.RefAttrName
	}
	switch a.Type {
	case onnx.AttrFloat:
		return fmtFloat(a.Float)
	case onnx.AttrInt:
		return strconv.FormatInt(a.Int, 10)
	case onnx.AttrString:
		return strconv.Quote(string(a.String))
	case onnx.AttrTensor:
		return tensorText(a.Tensor)
	case onnx.AttrGraph:
		return graphText(a.Graph)
	case onnx.AttrFloats:
		return list(len(a.Floats), func(i int) string { return fmtFloat(a.Floats[i]) })
	case onnx.AttrInts:
		return list(len(a.Ints), func(i int) string { return strconv.FormatInt(a.Ints[i], 10) })
	case onnx.AttrStrings:
		return list(len(a.Strings), func(i int) string { return strconv.Quote(string(a.Strings[i])) })
	case onnx.AttrTensors:
		return list(len(a.Tensors), func(i int) string { return tensorText(a.Tensors[i]) })
	case onnx.AttrGraphs:
		return list(len(a.Graphs), func(i int) string { return graphText(a.Graphs[i]) })
	case onnx.AttrTypeProto:
		if a.TypeValue != nil {
			return a.TypeValue.String()
		}
	case onnx.AttrSparseTensor:
		return "sparse_tensor"
	}
	return fmt.Sprintf("<%d>", a.Type)
}

func list(n int, f func(int) string) string {
	parts := make([]string, 0, min(n, maxAttrElems)+1)
	for i := range min(n, maxAttrElems) {
		parts = append(parts, f(i))
	}
	if n > maxAttrElems {
		parts = append(parts, fmt.Sprintf("…%d more", n-maxAttrElems))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func fmtFloat(f float32) string { return strconv.FormatFloat(float64(f), 'g', -1, 32) }

// tensorText shows a small constant's values, a large one's type and a digest
// so that a changed payload changes the line.
func tensorText(t *onnx.Tensor) string {
	if t == nil {
		return "tensor()"
	}
	typ := t.DataType.String() + shapeText(t.Dims)
	if t.NumElements() <= 8 {
		if v, ok := numbers(t); ok {
			parts := make([]string, len(v))
			for i, x := range v {
				parts[i] = strconv.FormatFloat(x, 'g', -1, 64)
			}
			return "tensor(" + typ + ": " + strings.Join(parts, ",") + ")"
		}
	}
	raw, _ := t.Data()
	return fmt.Sprintf("tensor(%s #%08x)", typ, fnv32(raw))
}

func graphText(g *onnx.Graph) string {
	if g == nil {
		return "graph()"
	}
	lines := make([]string, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		lines = append(lines, NodeLine(n))
	}
	return fmt.Sprintf("graph(%d nodes #%08x)", len(g.Nodes), fnv32([]byte(strings.Join(lines, "\n"))))
}

func fnv32(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

func shapeText(dims []int64) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// typeText renders a graph input/output type: float32[N,3,224,224].
func typeText(t *onnx.Type) string {
	if t == nil {
		return "?"
	}
	if t.Kind != onnx.TypeTensor {
		return t.String()
	}
	s := t.Elem.String()
	if !t.HasShape() {
		return s + "[?]"
	}
	parts := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		switch d.Kind {
		case onnx.DimValue:
			parts[i] = strconv.FormatInt(d.Value, 10)
		case onnx.DimParam:
			parts[i] = d.Param
		default:
			parts[i] = "?"
		}
	}
	return s + "[" + strings.Join(parts, ",") + "]"
}

// sortedNames returns names sorted, for deterministic output.
func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
