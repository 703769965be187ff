package onnx

import (
	"fmt"

	pb "github.com/onnxslim/onnxslim/onnx/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Encode serializes the model. Tensor payloads are referenced, not copied, until
// the final marshal writes them into the output buffer.
func Encode(m *Model) ([]byte, error) {
	if err := m.makeLazy(); err != nil {
		return nil, err
	}
	mp, err := modelToProto(m)
	if err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return b, nil
}

func modelToProto(m *Model) (*pb.ModelProto, error) {
	mp := &pb.ModelProto{
		IrVersion:       m.IRVersion,
		OpsetImport:     opsetsToProto(m.Opsets),
		ProducerName:    m.ProducerName,
		ProducerVersion: m.ProducerVersion,
		Domain:          m.Domain,
		ModelVersion:    m.ModelVersion,
		DocString:       m.DocString,
		MetadataProps:   pairsToProto(m.Metadata),
	}
	setUnknown(mp, m.unknown)
	var err error
	if mp.TrainingInfo, err = unmarshalAll[*pb.TrainingInfoProto](m.trainingInfo); err != nil {
		return nil, err
	}
	if mp.Configuration, err = unmarshalAll[*pb.DeviceConfigurationProto](m.configuration); err != nil {
		return nil, err
	}
	if m.Graph != nil {
		if mp.Graph, err = graphToProto(m.Graph); err != nil {
			return nil, err
		}
	}
	for _, f := range m.Functions {
		fp, err := functionToProto(f)
		if err != nil {
			return nil, err
		}
		mp.Functions = append(mp.Functions, fp)
	}
	return mp, nil
}

func valueName(v *Value) string {
	if v == nil {
		return ""
	}
	return v.Name
}

func valueInfoToProto(v *Value) *pb.ValueInfoProto {
	return &pb.ValueInfoProto{
		Name: v.Name, Type: typeToProto(v.Type), DocString: v.DocString,
		MetadataProps: pairsToProto(v.Metadata),
	}
}

func graphToProto(g *Graph) (*pb.GraphProto, error) {
	gp := &pb.GraphProto{Name: g.Name, DocString: g.DocString, MetadataProps: pairsToProto(g.Metadata)}
	setUnknown(gp, g.unknown)
	var err error
	if gp.QuantizationAnnotation, err = unmarshalAll[*pb.TensorAnnotation](g.quantAnnotations); err != nil {
		return nil, err
	}
	for _, v := range g.Inputs {
		gp.Input = append(gp.Input, valueInfoToProto(v))
	}
	for _, v := range g.Outputs {
		gp.Output = append(gp.Output, valueInfoToProto(v))
	}
	for _, v := range g.ValueInfo {
		gp.ValueInfo = append(gp.ValueInfo, valueInfoToProto(v))
	}
	for _, v := range g.Initializers {
		if v.Const == nil {
			return nil, fmt.Errorf("%s: initializer %q has no data", graphPlace(g), v.Name)
		}
		t := tensorToProto(v.Const)
		t.Name = v.Name // the value's name is authoritative (passes rename values)
		gp.Initializer = append(gp.Initializer, t)
	}
	for _, v := range g.Sparse {
		sp := sparseToProto(v.Sparse)
		sp.Values.Name = v.Name
		gp.SparseInitializer = append(gp.SparseInitializer, sp)
	}
	for _, n := range g.Nodes {
		np, err := nodeToProto(n)
		if err != nil {
			return nil, err
		}
		gp.Node = append(gp.Node, np)
	}
	return gp, nil
}

func nodeToProto(n *Node) (*pb.NodeProto, error) {
	np := &pb.NodeProto{
		Name: n.Name, OpType: n.OpType, Domain: n.Domain, Overload: n.Overload,
		DocString: n.DocString, MetadataProps: pairsToProto(n.Metadata),
	}
	setUnknown(np, n.unknown)
	np.Input = make([]string, len(n.inputs))
	for i, v := range n.inputs {
		np.Input[i] = valueName(v)
	}
	np.Output = make([]string, len(n.outputs))
	for i, v := range n.outputs {
		np.Output[i] = valueName(v)
	}
	if len(np.Input) == 0 {
		np.Input = nil
	}
	if len(np.Output) == 0 {
		np.Output = nil
	}
	var err error
	if np.DeviceConfigurations, err = unmarshalAll[*pb.NodeDeviceConfigurationProto](n.deviceConfigs); err != nil {
		return nil, err
	}
	for _, a := range n.Attrs {
		ap, err := attributeToProto(a)
		if err != nil {
			return nil, fmt.Errorf("%s: attribute %q: %w", NodePlace(n), a.Name, err)
		}
		np.Attribute = append(np.Attribute, ap)
	}
	return np, nil
}

func attributeToProto(a *Attribute) (*pb.AttributeProto, error) {
	ap := &pb.AttributeProto{
		Name: a.Name, Type: pb.AttributeProto_AttributeType(a.Type), RefAttrName: a.RefAttrName,
		DocString: a.DocString, F: a.Float, I: a.Int, S: a.String, Floats: a.Floats, Ints: a.Ints,
		Strings: a.Strings,
	}
	setUnknown(ap, a.unknown)
	if a.Tensor != nil {
		ap.T = tensorToProto(a.Tensor)
	}
	for _, t := range a.Tensors {
		ap.Tensors = append(ap.Tensors, tensorToProto(t))
	}
	if a.SparseTensor != nil {
		ap.SparseTensor = sparseToProto(a.SparseTensor)
	}
	for _, s := range a.SparseTensors {
		ap.SparseTensors = append(ap.SparseTensors, sparseToProto(s))
	}
	if a.TypeValue != nil {
		ap.Tp = typeToProto(a.TypeValue)
	}
	for _, t := range a.TypeValues {
		ap.TypeProtos = append(ap.TypeProtos, typeToProto(t))
	}
	var err error
	if a.Graph != nil {
		if ap.G, err = graphToProto(a.Graph); err != nil {
			return nil, err
		}
	}
	for _, g := range a.Graphs {
		gp, err := graphToProto(g)
		if err != nil {
			return nil, err
		}
		ap.Graphs = append(ap.Graphs, gp)
	}
	return ap, nil
}

func functionToProto(f *Function) (*pb.FunctionProto, error) {
	fp := &pb.FunctionProto{
		Name: f.Name, Domain: f.Domain, Overload: f.Overload, Attribute: f.Attributes,
		OpsetImport: opsetsToProto(f.Opsets), DocString: f.DocString,
		MetadataProps: pairsToProto(f.Metadata),
	}
	setUnknown(fp, f.unknown)
	if f.Body != nil {
		for _, v := range f.Body.Inputs {
			fp.Input = append(fp.Input, v.Name)
		}
		for _, v := range f.Body.Outputs {
			fp.Output = append(fp.Output, v.Name)
		}
		for _, v := range f.Body.ValueInfo {
			fp.ValueInfo = append(fp.ValueInfo, valueInfoToProto(v))
		}
		for _, n := range f.Body.Nodes {
			np, err := nodeToProto(n)
			if err != nil {
				return nil, fmt.Errorf("function %q: %w", f.Name, err)
			}
			fp.Node = append(fp.Node, np)
		}
	}
	for _, a := range f.AttrProtos {
		ap, err := attributeToProto(a)
		if err != nil {
			return nil, fmt.Errorf("function %q: %w", f.Name, err)
		}
		fp.AttributeProto = append(fp.AttributeProto, ap)
	}
	return fp, nil
}

func tensorToProto(t *Tensor) *pb.TensorProto {
	tp := &pb.TensorProto{
		Name: t.Name, DataType: int32(t.DataType), Dims: t.Dims, DocString: t.DocString,
		MetadataProps: pairsToProto(t.Metadata), RawData: t.Raw, FloatData: t.Floats,
		Int32Data: t.Int32s, Int64Data: t.Int64s, DoubleData: t.Doubles, Uint64Data: t.Uint64s,
		StringData: t.Strings, ExternalData: pairsToProto(t.External),
		DataLocation: pb.TensorProto_DataLocation(t.DataLocation),
	}
	if t.Raw == nil && t.lazy != nil {
		tp.RawData = t.lazy.current()
	}
	setUnknown(tp, t.unknown)
	if t.Segment != nil {
		tp.Segment = &pb.TensorProto_Segment{Begin: t.Segment.Begin, End: t.Segment.End}
	}
	return tp
}

func sparseToProto(s *SparseTensor) *pb.SparseTensorProto {
	sp := &pb.SparseTensorProto{Dims: s.Dims}
	setUnknown(sp, s.unknown)
	if s.Values != nil {
		sp.Values = tensorToProto(s.Values)
	}
	if s.Indices != nil {
		sp.Indices = tensorToProto(s.Indices)
	}
	return sp
}

func typeToProto(t *Type) *pb.TypeProto {
	if t == nil {
		return nil
	}
	tp := &pb.TypeProto{Denotation: t.Denotation}
	setUnknown(tp, t.unknown)
	inner := func() *pb.TypeProto {
		if t.Inner == nil && !t.hasInner {
			return nil
		}
		return typeToProto(t.Inner)
	}
	switch t.Kind {
	case TypeTensor:
		tp.Value = &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{ElemType: int32(t.Elem), Shape: shapeToProto(t)}}
	case TypeSparseTensor:
		tp.Value = &pb.TypeProto_SparseTensorType{SparseTensorType: &pb.TypeProto_SparseTensor{ElemType: int32(t.Elem), Shape: shapeToProto(t)}}
	case TypeSequence:
		tp.Value = &pb.TypeProto_SequenceType{SequenceType: &pb.TypeProto_Sequence{ElemType: inner()}}
	case TypeOptional:
		tp.Value = &pb.TypeProto_OptionalType{OptionalType: &pb.TypeProto_Optional{ElemType: inner()}}
	case TypeMap:
		tp.Value = &pb.TypeProto_MapType{MapType: &pb.TypeProto_Map{KeyType: int32(t.Elem), ValueType: inner()}}
	case TypeOpaque:
		tp.Value = &pb.TypeProto_OpaqueType{OpaqueType: &pb.TypeProto_Opaque{Domain: t.Domain, Name: t.Name}}
	}
	return tp
}

func shapeToProto(t *Type) *pb.TensorShapeProto {
	if !t.HasShape() {
		return nil
	}
	sp := &pb.TensorShapeProto{Dim: make([]*pb.TensorShapeProto_Dimension, len(t.Shape))}
	for i, d := range t.Shape {
		pd := &pb.TensorShapeProto_Dimension{Denotation: d.Denotation}
		switch d.Kind {
		case DimValue:
			pd.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: d.Value}
		case DimParam:
			pd.Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
		}
		sp.Dim[i] = pd
	}
	return sp
}

func opsetsToProto(ops []OpsetID) []*pb.OperatorSetIdProto {
	out := make([]*pb.OperatorSetIdProto, len(ops))
	for i, o := range ops {
		out[i] = &pb.OperatorSetIdProto{Domain: o.Domain, Version: o.Version}
	}
	return out
}

func pairsToProto(ps []StringPair) []*pb.StringStringEntryProto {
	if ps == nil {
		return nil
	}
	out := make([]*pb.StringStringEntryProto, len(ps))
	for i, p := range ps {
		out[i] = &pb.StringStringEntryProto{Key: p.Key, Value: p.Value}
	}
	return out
}

func unmarshalAll[T interface {
	proto.Message
	*E
}, E any](bs [][]byte) ([]T, error) {
	if len(bs) == 0 {
		return nil, nil
	}
	out := make([]T, len(bs))
	for i, b := range bs {
		var m T = new(E)
		if err := proto.Unmarshal(b, m); err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}
