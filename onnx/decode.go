package onnx

import (
	"errors"
	"fmt"
	"unicode/utf8"

	pb "github.com/onnxslim/onnxslim/onnx/internal/onnxpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MaxGraphDepth bounds the nesting of subgraphs (If inside Loop inside …).
const MaxGraphDepth = 64

// protoRecursionLimit lets protobuf parse MaxGraphDepth nested subgraphs (each
// level is GraphProto → NodeProto → AttributeProto, plus types inside) so that
// the decoder, not protobuf, reports over-deep nesting with its place.
const protoRecursionLimit = 4 * (MaxGraphDepth + 4) * 4

// Decode parses a serialized ModelProto into the IR and checks that its graphs
// are well formed (every input defined, no duplicate names, no cycles).
// Tensor payloads alias the decoded message: bytes are not copied again.
func Decode(data []byte) (*Model, error) {
	m, err := DecodeUnchecked(data)
	if err != nil {
		return nil, err
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeUnchecked is Decode without the graph checks (names must still resolve).
func DecodeUnchecked(data []byte) (*Model, error) {
	if len(data) == 0 {
		return nil, errors.New("empty file: not an ONNX model")
	}
	if what := notONNX(data); what != "" {
		return nil, errors.New("not an ONNX model: the file is " + what)
	}
	mp := &pb.ModelProto{}
	if err := (proto.UnmarshalOptions{RecursionLimit: protoRecursionLimit}).Unmarshal(data, mp); err != nil {
		// The protobuf error does not say where; find the place for the message.
		if where := locateWireError(data, mp.ProtoReflect().Descriptor(), "model", 0, 0); where != "" {
			return nil, fmt.Errorf("not a valid ONNX protobuf: %s: %w", where, err)
		}
		return nil, fmt.Errorf("not a valid ONNX protobuf: %w", err)
	}
	if mp.Graph == nil {
		return nil, errors.New("not an ONNX model: no graph (ModelProto.graph is missing)")
	}
	if mp.IrVersion == 0 && len(mp.OpsetImport) == 0 {
		return nil, errors.New("not an ONNX model: no ir_version and no opset_import")
	}
	return modelFromProto(mp)
}

func modelFromProto(mp *pb.ModelProto) (*Model, error) {
	m := &Model{
		IRVersion:       mp.IrVersion,
		Opsets:          opsetsFromProto(mp.OpsetImport),
		ProducerName:    mp.ProducerName,
		ProducerVersion: mp.ProducerVersion,
		Domain:          mp.Domain,
		ModelVersion:    mp.ModelVersion,
		DocString:       mp.DocString,
		Metadata:        pairsFromProto(mp.MetadataProps),
		unknown:         unknownOf(mp),
	}
	var err error
	if m.trainingInfo, err = marshalAll(mp.TrainingInfo); err != nil {
		return nil, err
	}
	if m.configuration, err = marshalAll(mp.Configuration); err != nil {
		return nil, err
	}
	d := &decoder{}
	if m.Graph, err = d.graph(mp.Graph, nil, 0); err != nil {
		return nil, err
	}
	m.Graph.LegacyInitializerInputs = m.IRVersion < 4
	for _, fp := range mp.Functions {
		f, err := d.function(fp)
		if err != nil {
			return nil, err
		}
		m.Functions = append(m.Functions, f)
	}
	return m, nil
}

type decoder struct{}

// depthError reports subgraphs nested too deeply. It is passed up unwrapped.
type depthError struct{ msg string }

func (e *depthError) Error() string { return e.msg }

// scope maps names to values for one graph; lookups fall back to the parent scope.
type scope struct {
	names  map[string]*Value
	parent *scope
}

func (s *scope) lookup(name string) *Value {
	for ; s != nil; s = s.parent {
		if v, ok := s.names[name]; ok {
			return v
		}
	}
	return nil
}

// graphPlace names a graph for error messages.
func graphPlace(g *Graph) string {
	if g.Owner != nil {
		return fmt.Sprintf("graph %q (in node %q)", g.Name, g.Owner.Name)
	}
	return fmt.Sprintf("graph %q", g.Name)
}

// NodePlace names a node for error messages: its name, or op type and index.
func NodePlace(n *Node) string {
	if n.Name != "" {
		return fmt.Sprintf("node %q (%s)", n.Name, n.OpType)
	}
	idx := -1
	if n.Graph != nil {
		idx = indexOf(n.Graph.Nodes, n)
	}
	return fmt.Sprintf("node #%d (%s)", idx, n.OpType)
}

func (d *decoder) graph(gp *pb.GraphProto, parent *scope, depth int) (*Graph, error) {
	return d.graphIn(gp, parent, depth, nil)
}

func (d *decoder) graphIn(gp *pb.GraphProto, parent *scope, depth int, owner *Node) (*Graph, error) {
	g := &Graph{
		Name:      gp.Name,
		DocString: gp.DocString,
		Metadata:  pairsFromProto(gp.MetadataProps),
		Owner:     owner,
		unknown:   unknownOf(gp),
	}
	if owner != nil {
		g.Parent = owner.Graph
	}
	if depth > MaxGraphDepth {
		return nil, &depthError{fmt.Sprintf("%s: subgraphs nested deeper than %d levels", graphPlace(g), MaxGraphDepth)}
	}
	var err error
	if g.quantAnnotations, err = marshalAll(gp.QuantizationAnnotation); err != nil {
		return nil, err
	}
	sc := &scope{names: map[string]*Value{}, parent: parent}
	define := func(name, what string) (*Value, error) {
		if _, dup := sc.names[name]; dup {
			return nil, fmt.Errorf("%s: %s %q: name is defined twice", graphPlace(g), what, name)
		}
		v := &Value{Name: name, graph: g}
		sc.names[name] = v
		return v, nil
	}

	// Phase 1: every name the graph defines, so nodes may appear in any order.
	for _, vi := range gp.Input {
		v, err := define(vi.Name, "input")
		if err != nil {
			return nil, err
		}
		d.valueInfo(v, vi)
		g.Inputs = append(g.Inputs, v)
	}
	for i, tp := range gp.Initializer {
		t, err := tensorFromProto(tp)
		if err != nil {
			return nil, fmt.Errorf("%s: initializer #%d %q: %w", graphPlace(g), i, tp.Name, err)
		}
		v := sc.names[tp.Name]
		if v == nil || !v.IsGraphInput() || v.Const != nil {
			if v, err = define(tp.Name, "initializer"); err != nil {
				return nil, err
			}
		}
		v.Const = t
		g.Initializers = append(g.Initializers, v)
	}
	for i, sp := range gp.SparseInitializer {
		st, err := sparseFromProto(sp)
		if err != nil {
			return nil, fmt.Errorf("%s: sparse initializer #%d: %w", graphPlace(g), i, err)
		}
		v := sc.names[st.Values.Name]
		if v == nil || !v.IsGraphInput() || v.IsConst() {
			if v, err = define(st.Values.Name, "sparse initializer"); err != nil {
				return nil, err
			}
		}
		v.Sparse = st
		g.Sparse = append(g.Sparse, v)
	}
	for k, np := range gp.Node {
		n := &Node{
			Name: np.Name, OpType: np.OpType, Domain: np.Domain, Overload: np.Overload,
			DocString: np.DocString, Metadata: pairsFromProto(np.MetadataProps), Graph: g,
			unknown: unknownOf(np),
		}
		if n.deviceConfigs, err = marshalAll(np.DeviceConfigurations); err != nil {
			return nil, err
		}
		for i, name := range np.Output {
			if name == "" {
				n.outputs = append(n.outputs, nil)
				continue
			}
			place := NodePlace(n) // named, or (not yet listed) by its index
			if n.Name == "" {
				place = fmt.Sprintf("node #%d (%s)", k, n.OpType)
			}
			v, err := define(name, "output of "+place)
			if err != nil {
				return nil, err
			}
			v.producer, v.outIndex = n, i
			n.outputs = append(n.outputs, v)
		}
		g.Nodes = append(g.Nodes, n)
	}

	// Phase 2: wire node inputs and decode attributes (subgraphs see this scope).
	for i, np := range gp.Node {
		n := g.Nodes[i]
		for j, name := range np.Input {
			if name == "" {
				n.inputs = append(n.inputs, nil)
				continue
			}
			v := sc.lookup(name)
			if v == nil {
				return nil, fmt.Errorf("%s: %s: input %q is not produced by any node, graph input or initializer", graphPlace(g), NodePlace(n), name)
			}
			n.inputs = append(n.inputs, v)
			v.uses = append(v.uses, Use{n, j})
		}
		for _, ap := range np.Attribute {
			a, err := d.attribute(ap, sc, depth, n)
			var deep *depthError
			if errors.As(err, &deep) {
				return nil, err // its place already names the graph; the chain above it would be MaxGraphDepth levels long
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %s: attribute %q: %w", graphPlace(g), NodePlace(n), ap.Name, err)
			}
			n.Attrs = append(n.Attrs, a)
		}
	}
	for _, vi := range gp.Output {
		v := sc.lookup(vi.Name)
		if v == nil {
			return nil, fmt.Errorf("%s: output %q is not produced by any node, graph input or initializer", graphPlace(g), vi.Name)
		}
		d.declare(g, v, vi, &g.Outputs)
	}
	for _, vi := range gp.ValueInfo {
		v := sc.lookup(vi.Name)
		if v == nil {
			v = &Value{Name: vi.Name, graph: g} // describes nothing in the graph: kept as is
		}
		d.declare(g, v, vi, &g.ValueInfo)
	}
	return g, nil
}

// declare records a ValueInfo entry for v. If v already carries a different
// declaration, the entry is kept as a detached record so the file round-trips.
func (d *decoder) declare(g *Graph, v *Value, vi *pb.ValueInfoProto, list *[]*Value) {
	if v.Type == nil && v.DocString == "" && v.Metadata == nil {
		d.valueInfo(v, vi)
		*list = append(*list, v)
		return
	}
	probe := &Value{Name: vi.Name, graph: g}
	d.valueInfo(probe, vi)
	if probe.Type.Equal(v.Type) && probe.DocString == v.DocString && len(probe.Metadata) == len(v.Metadata) {
		*list = append(*list, v)
		return
	}
	*list = append(*list, probe)
}

func (d *decoder) valueInfo(v *Value, vi *pb.ValueInfoProto) {
	v.Type = typeFromProto(vi.Type)
	v.DocString = vi.DocString
	v.Metadata = pairsFromProto(vi.MetadataProps)
}

func (d *decoder) attribute(ap *pb.AttributeProto, sc *scope, depth int, owner *Node) (*Attribute, error) {
	a := &Attribute{
		Name: ap.Name, Type: AttrType(ap.Type), RefAttrName: ap.RefAttrName, DocString: ap.DocString,
		Float: ap.F, Int: ap.I, String: ap.S, Floats: ap.Floats, Ints: ap.Ints, Strings: ap.Strings,
		unknown: unknownOf(ap),
	}
	var err error
	if ap.T != nil {
		if a.Tensor, err = tensorFromProto(ap.T); err != nil {
			return nil, err
		}
	}
	for _, tp := range ap.Tensors {
		t, err := tensorFromProto(tp)
		if err != nil {
			return nil, err
		}
		a.Tensors = append(a.Tensors, t)
	}
	if ap.SparseTensor != nil {
		if a.SparseTensor, err = sparseFromProto(ap.SparseTensor); err != nil {
			return nil, err
		}
	}
	for _, sp := range ap.SparseTensors {
		st, err := sparseFromProto(sp)
		if err != nil {
			return nil, err
		}
		a.SparseTensors = append(a.SparseTensors, st)
	}
	if ap.Tp != nil {
		a.TypeValue = typeFromProto(ap.Tp)
	}
	for _, tp := range ap.TypeProtos {
		a.TypeValues = append(a.TypeValues, typeFromProto(tp))
	}
	if ap.G != nil {
		if a.Graph, err = d.graphIn(ap.G, sc, depth+1, owner); err != nil {
			return nil, err
		}
	}
	for _, gp := range ap.Graphs {
		sg, err := d.graphIn(gp, sc, depth+1, owner)
		if err != nil {
			return nil, err
		}
		a.Graphs = append(a.Graphs, sg)
	}
	return a, nil
}

func (d *decoder) function(fp *pb.FunctionProto) (*Function, error) {
	f := &Function{
		Name: fp.Name, Domain: fp.Domain, Overload: fp.Overload, Attributes: fp.Attribute,
		Opsets: opsetsFromProto(fp.OpsetImport), DocString: fp.DocString,
		Metadata: pairsFromProto(fp.MetadataProps), unknown: unknownOf(fp),
	}
	// The body is decoded as a graph whose inputs and outputs are the formal parameters.
	gp := &pb.GraphProto{Node: fp.Node, ValueInfo: fp.ValueInfo}
	for _, in := range fp.Input {
		gp.Input = append(gp.Input, &pb.ValueInfoProto{Name: in})
	}
	for _, out := range fp.Output {
		gp.Output = append(gp.Output, &pb.ValueInfoProto{Name: out})
	}
	body, err := d.graph(gp, nil, 0)
	if err != nil {
		return nil, fmt.Errorf("function %q: %w", fp.Domain+"."+fp.Name, err)
	}
	body.Name = fp.Name
	f.Body = body
	for _, ap := range fp.AttributeProto {
		a, err := d.attribute(ap, nil, 0, nil)
		if err != nil {
			return nil, fmt.Errorf("function %q: attribute %q: %w", fp.Name, ap.Name, err)
		}
		f.AttrProtos = append(f.AttrProtos, a)
	}
	return f, nil
}

func tensorFromProto(tp *pb.TensorProto) (*Tensor, error) {
	t := &Tensor{
		Name: tp.Name, DataType: DataType(tp.DataType), Dims: tp.Dims, DocString: tp.DocString,
		Metadata: pairsFromProto(tp.MetadataProps), Raw: tp.RawData, Floats: tp.FloatData,
		Int32s: tp.Int32Data, Int64s: tp.Int64Data, Doubles: tp.DoubleData, Uint64s: tp.Uint64Data,
		Strings: tp.StringData, External: pairsFromProto(tp.ExternalData),
		DataLocation: int32(tp.DataLocation), unknown: unknownOf(tp),
	}
	if tp.Segment != nil {
		t.Segment = &Segment{Begin: tp.Segment.Begin, End: tp.Segment.End}
	}
	if _, err := checkedElements(t.Dims); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return t, nil
}

func sparseFromProto(sp *pb.SparseTensorProto) (*SparseTensor, error) {
	st := &SparseTensor{Dims: sp.Dims, unknown: unknownOf(sp)}
	var err error
	if sp.Values != nil {
		if st.Values, err = tensorFromProto(sp.Values); err != nil {
			return nil, err
		}
	} else {
		st.Values = &Tensor{}
	}
	if sp.Indices != nil {
		if st.Indices, err = tensorFromProto(sp.Indices); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func typeFromProto(tp *pb.TypeProto) *Type {
	if tp == nil {
		return nil
	}
	t := &Type{Denotation: tp.Denotation, unknown: unknownOf(tp)}
	switch v := tp.Value.(type) {
	case *pb.TypeProto_TensorType:
		t.Kind, t.Elem = TypeTensor, DataType(v.TensorType.GetElemType())
		t.Shape, t.hasShape = shapeFromProto(v.TensorType.GetShape())
	case *pb.TypeProto_SparseTensorType:
		t.Kind, t.Elem = TypeSparseTensor, DataType(v.SparseTensorType.GetElemType())
		t.Shape, t.hasShape = shapeFromProto(v.SparseTensorType.GetShape())
	case *pb.TypeProto_SequenceType:
		t.Kind = TypeSequence
		t.Inner, t.hasInner = typeFromProto(v.SequenceType.GetElemType()), v.SequenceType.GetElemType() != nil
	case *pb.TypeProto_OptionalType:
		t.Kind = TypeOptional
		t.Inner, t.hasInner = typeFromProto(v.OptionalType.GetElemType()), v.OptionalType.GetElemType() != nil
	case *pb.TypeProto_MapType:
		t.Kind, t.Elem = TypeMap, DataType(v.MapType.GetKeyType())
		t.Inner, t.hasInner = typeFromProto(v.MapType.GetValueType()), v.MapType.GetValueType() != nil
	case *pb.TypeProto_OpaqueType:
		t.Kind, t.Domain, t.Name = TypeOpaque, v.OpaqueType.GetDomain(), v.OpaqueType.GetName()
	}
	return t
}

func shapeFromProto(sp *pb.TensorShapeProto) (Shape, bool) {
	if sp == nil {
		return nil, false
	}
	s := make(Shape, len(sp.Dim))
	for i, d := range sp.Dim {
		s[i].Denotation = d.Denotation
		switch v := d.Value.(type) {
		case *pb.TensorShapeProto_Dimension_DimValue:
			s[i].Kind, s[i].Value = DimValue, v.DimValue
		case *pb.TensorShapeProto_Dimension_DimParam:
			s[i].Kind, s[i].Param = DimParam, v.DimParam
		}
	}
	return s, true
}

func opsetsFromProto(ops []*pb.OperatorSetIdProto) []OpsetID {
	out := make([]OpsetID, len(ops))
	for i, o := range ops {
		out[i] = OpsetID{Domain: o.Domain, Version: o.Version}
	}
	return out
}

func pairsFromProto(ps []*pb.StringStringEntryProto) []StringPair {
	if ps == nil {
		return nil
	}
	out := make([]StringPair, len(ps))
	for i, p := range ps {
		out[i] = StringPair{p.Key, p.Value}
	}
	return out
}

func unknownOf(m proto.Message) []byte {
	u := m.ProtoReflect().GetUnknown()
	if len(u) == 0 {
		return nil
	}
	return u
}

func setUnknown(m proto.Message, u []byte) {
	if len(u) > 0 {
		m.ProtoReflect().SetUnknown(protoreflect.RawFields(u))
	}
}

func marshalAll[T proto.Message](ms []T) ([][]byte, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	out := make([][]byte, len(ms))
	for i, m := range ms {
		b, err := proto.Marshal(m)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// locateWireError walks the wire format of a message that protobuf refused and
// names the first field that is malformed: its byte offset and its path from
// the model (e.g. `byte 1234 in model.graph.node[3] "conv1".attribute[0]`).
// It returns "" if it finds nothing wrong.
func locateWireError(b []byte, md protoreflect.MessageDescriptor, path string, base, depth int) string {
	if depth > protoRecursionLimit {
		return fmt.Sprintf("byte %d in %s: messages nested deeper than %d levels", base, shortPath(path), protoRecursionLimit)
	}
	counts := map[protowire.Number]int{}
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return fmt.Sprintf("byte %d in %s: bad field tag (%v)", base+off, shortPath(path), protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		fd := md.Fields().ByNumber(num)
		idx := counts[num]
		counts[num]++
		if m < 0 {
			// A message cut short (a truncated file): name the innermost place reached.
			if l, ln := protowire.ConsumeVarint(b[off+n:]); typ == protowire.BytesType && ln > 0 && fd != nil &&
				fd.Kind() == protoreflect.MessageKind && l > uint64(len(b)-off-n-ln) {
				val := b[off+n+ln:]
				sub := path + "." + string(fd.Name())
				if fd.IsList() {
					sub += fmt.Sprintf("[%d]", idx)
				}
				if where := locateWireError(val, fd.Message(), sub+messageName(val, fd.Message()), base+off+n+ln, depth+1); where != "" {
					return where
				}
				return fmt.Sprintf("byte %d in %s: the data ends %d bytes early", base+off, shortPath(sub), l-uint64(len(val)))
			}
			return fmt.Sprintf("byte %d in %s: field #%d%s is truncated or malformed (%v)", base+off, shortPath(path), num, fieldName(md, num), protowire.ParseError(m))
		}
		if fd != nil && typ == protowire.BytesType {
			val, vn := protowire.ConsumeBytes(b[off+n:])
			valBase := base + off + n + vn - len(val) // where the payload starts, after its length
			sub := path + "." + string(fd.Name())
			if fd.IsList() {
				sub += fmt.Sprintf("[%d]", idx)
			}
			switch {
			case fd.Kind() == protoreflect.MessageKind:
				if where := locateWireError(val, fd.Message(), sub+messageName(val, fd.Message()), valBase, depth+1); where != "" {
					return where
				}
			case fd.Kind() == protoreflect.StringKind && !utf8.Valid(val):
				return fmt.Sprintf("byte %d in %s: string is not valid UTF-8", valBase, shortPath(sub))
			case fd.IsList() && fd.Kind() != protoreflect.BytesKind && !validPacked(val, fd.Kind()):
				return fmt.Sprintf("byte %d in %s: packed %s values are truncated", valBase, shortPath(sub), fd.Kind())
			}
		}
		off += n + m
	}
	return ""
}

// shortPath elides the middle of a very long field path (deeply nested subgraphs).
func shortPath(p string) string {
	r := []rune(p)
	if len(r) <= 300 {
		return p
	}
	return string(r[:120]) + " … " + string(r[len(r)-160:])
}

func fieldName(md protoreflect.MessageDescriptor, num protowire.Number) string {
	if fd := md.Fields().ByNumber(num); fd != nil {
		return " (" + string(fd.Name()) + ")"
	}
	return ""
}

// messageName returns ` "NAME"` when the message has a well-formed name field,
// so that a place reads node[3] "conv1" rather than only an index.
func messageName(b []byte, md protoreflect.MessageDescriptor) string {
	fd := md.Fields().ByName("name")
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return ""
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return ""
		}
		if num == fd.Number() && typ == protowire.BytesType {
			if v, _ := protowire.ConsumeBytes(b[n:]); utf8.Valid(v) && len(v) <= 200 {
				return fmt.Sprintf(" %q", v)
			}
		}
		b = b[n+m:]
	}
	return ""
}

// validPacked reports whether b parses as packed scalars of the given kind.
func validPacked(b []byte, k protoreflect.Kind) bool {
	switch k {
	case protoreflect.FloatKind, protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return len(b)%4 == 0
	case protoreflect.DoubleKind, protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return len(b)%8 == 0
	}
	for len(b) > 0 {
		_, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}
