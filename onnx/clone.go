package onnx

// Clone returns a deep copy of the model's IR — graphs, nodes, values, types,
// attributes, subgraphs, functions and metadata — without an encode/decode
// round trip. Tensor payloads (Raw and the typed slices) are shared: they are
// read-only by convention, and a pass that changes a tensor's values gives it
// a new Tensor. Editing the copy (nodes, attributes, names, initializer
// lists, types) never changes m.
func (m *Model) Clone() *Model {
	if m == nil {
		return nil
	}
	c := &cloner{
		values: map[*Value]*Value{},
		nodes:  map[*Node]*Node{},
		graphs: map[*Graph]*Graph{},
	}
	cp := *m
	cp.Opsets = append([]OpsetID(nil), m.Opsets...)
	cp.Metadata = clonePairs(m.Metadata)
	cp.external = cloneSlice(m.external)
	cp.Graph = c.graph(m.Graph, nil)
	cp.Functions = nil
	for _, f := range m.Functions {
		cp.Functions = append(cp.Functions, c.function(f))
	}
	c.link()
	return &cp
}

// cloner maps the original IR objects to their copies; link rewires the
// pointers between them (producers, uses, defining graphs) once all exist.
type cloner struct {
	values map[*Value]*Value
	nodes  map[*Node]*Node
	graphs map[*Graph]*Graph
}

func (c *cloner) function(f *Function) *Function {
	cp := *f
	cp.Attributes = append([]string(nil), f.Attributes...)
	cp.AttrProtos = nil
	for _, a := range f.AttrProtos {
		cp.AttrProtos = append(cp.AttrProtos, c.attribute(a, nil))
	}
	cp.Opsets = append([]OpsetID(nil), f.Opsets...)
	cp.Metadata = clonePairs(f.Metadata)
	cp.Body = c.graph(f.Body, nil)
	return &cp
}

// graph copies g, whose copy is owned by the node owner (nil for the main
// graph and function bodies).
func (c *cloner) graph(g *Graph, owner *Node) *Graph {
	if g == nil {
		return nil
	}
	cp := &Graph{
		Name:                    g.Name,
		DocString:               g.DocString,
		Metadata:                clonePairs(g.Metadata),
		Owner:                   owner,
		LegacyInitializerInputs: g.LegacyInitializerInputs,
		quantAnnotations:        g.quantAnnotations,
		unknown:                 g.unknown,
		nameSeq:                 g.nameSeq,
	}
	if owner != nil {
		cp.Parent = owner.Graph
	}
	c.graphs[g] = cp
	cp.Inputs = c.valueList(g.Inputs)
	cp.Initializers = c.valueList(g.Initializers)
	cp.Sparse = c.valueList(g.Sparse)
	for _, n := range g.Nodes {
		nn := &Node{
			Name: n.Name, OpType: n.OpType, Domain: n.Domain, Overload: n.Overload,
			DocString: n.DocString, Metadata: clonePairs(n.Metadata), Graph: cp,
			deviceConfigs: n.deviceConfigs, unknown: n.unknown,
		}
		c.nodes[n] = nn
		nn.outputs = c.valueList(n.outputs)
		cp.Nodes = append(cp.Nodes, nn)
	}
	// Inputs and attributes after every node exists: subgraphs read values
	// of this graph, and nodes may be listed before their producers.
	for i, n := range g.Nodes {
		nn := cp.Nodes[i]
		nn.inputs = c.valueList(n.inputs)
		for _, a := range n.Attrs {
			nn.Attrs = append(nn.Attrs, c.attribute(a, nn))
		}
	}
	cp.Outputs = c.valueList(g.Outputs)
	cp.ValueInfo = c.valueList(g.ValueInfo)
	return cp
}

func (c *cloner) valueList(vs []*Value) []*Value {
	if vs == nil {
		return nil
	}
	out := make([]*Value, len(vs))
	for i, v := range vs {
		out[i] = c.value(v)
	}
	return out
}

// value returns the copy of v, made on first sight; link fills in its
// producer, uses and graph.
func (c *cloner) value(v *Value) *Value {
	if v == nil {
		return nil
	}
	if cp, ok := c.values[v]; ok {
		return cp
	}
	cp := &Value{
		Name: v.Name, Type: v.Type.Clone(), DocString: v.DocString, Metadata: clonePairs(v.Metadata),
		Const: cloneTensor(v.Const), Sparse: cloneSparse(v.Sparse), outIndex: v.outIndex,
	}
	c.values[v] = cp
	return cp
}

func (c *cloner) attribute(a *Attribute, owner *Node) *Attribute {
	cp := *a
	cp.String = cloneSlice(a.String)
	cp.Tensor = cloneTensor(a.Tensor)
	cp.Graph = c.graph(a.Graph, owner)
	cp.SparseTensor = cloneSparse(a.SparseTensor)
	cp.TypeValue = a.TypeValue.Clone()
	cp.Floats = cloneSlice(a.Floats)
	cp.Ints = cloneSlice(a.Ints)
	cp.Strings = cloneSlice(a.Strings)
	cp.Tensors = nil
	for _, t := range a.Tensors {
		cp.Tensors = append(cp.Tensors, cloneTensor(t))
	}
	cp.Graphs = nil
	for _, g := range a.Graphs {
		cp.Graphs = append(cp.Graphs, c.graph(g, owner))
	}
	cp.SparseTensors = nil
	for _, s := range a.SparseTensors {
		cp.SparseTensors = append(cp.SparseTensors, cloneSparse(s))
	}
	cp.TypeValues = nil
	for _, t := range a.TypeValues {
		cp.TypeValues = append(cp.TypeValues, t.Clone())
	}
	return &cp
}

// link points every copied value at the copies of its producer, readers and
// defining graph. A pointer to something outside the model (which a
// well-formed model does not have) is dropped rather than shared.
func (c *cloner) link() {
	for v, cp := range c.values {
		cp.producer = c.nodes[v.producer]
		cp.graph = c.graphs[v.graph]
		if len(v.uses) > 0 {
			cp.uses = make([]Use, 0, len(v.uses))
			for _, u := range v.uses {
				if n := c.nodes[u.Node]; n != nil {
					cp.uses = append(cp.uses, Use{n, u.Index})
				}
			}
		}
	}
}

func cloneTensor(t *Tensor) *Tensor {
	if t == nil {
		return nil
	}
	cp := t.Clone()
	cp.Metadata = clonePairs(t.Metadata)
	cp.External = clonePairs(t.External)
	if t.Segment != nil {
		s := *t.Segment
		cp.Segment = &s
	}
	return cp
}

func cloneSparse(s *SparseTensor) *SparseTensor {
	if s == nil {
		return nil
	}
	return &SparseTensor{Values: cloneTensor(s.Values), Indices: cloneTensor(s.Indices), Dims: cloneSlice(s.Dims), unknown: s.unknown}
}

func clonePairs(p []StringPair) []StringPair { return cloneSlice(p) }

// cloneSlice copies a slice, keeping nil as nil (the codec tells them apart
// in places).
func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}
