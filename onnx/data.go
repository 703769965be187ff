package onnx

import (
	"fmt"

	pb "github.com/onnxslim/onnxslim/onnx/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// DecodeTensor parses a serialized TensorProto (an input_N.pb / output_N.pb file).
func DecodeTensor(data []byte) (*Tensor, error) {
	tp := &pb.TensorProto{}
	if err := proto.Unmarshal(data, tp); err != nil {
		return nil, fmt.Errorf("not a TensorProto: %w", err)
	}
	t, err := tensorFromProto(tp)
	if err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return t, nil
}

// EncodeTensor serializes a tensor as a TensorProto.
func EncodeTensor(t *Tensor) ([]byte, error) {
	if t.Raw == nil && t.lazy != nil {
		if _, err := t.Data(); err != nil {
			return nil, err
		}
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(tensorToProto(t))
}

// Datum is one value of test or input data: a tensor, a sequence of data, a map,
// or an optional that may be empty. Kind uses the TypeKind constants.
type Datum struct {
	Name     string
	Kind     TypeKind
	Tensor   *Tensor       // TypeTensor
	Sparse   *SparseTensor // TypeSparseTensor
	Elems    []*Datum      // TypeSequence elements; TypeMap values
	Keys     *Tensor       // TypeMap keys (int64 or string tensor)
	Elem     *Datum        // TypeOptional content; nil when empty
	ElemKind TypeKind      // declared element kind of a sequence or optional
}

// DecodeDatum parses a .pb data file whose message type follows from t, the
// graph's declared type for it: TensorProto, SequenceProto or OptionalProto.
func DecodeDatum(data []byte, t *Type) (*Datum, error) {
	kind := TypeTensor
	if t != nil {
		kind = t.Kind
	}
	switch kind {
	case TypeSequence:
		sp := &pb.SequenceProto{}
		if err := proto.Unmarshal(data, sp); err != nil {
			return nil, fmt.Errorf("not a SequenceProto: %w", err)
		}
		return datumFromSequence(sp)
	case TypeOptional:
		op := &pb.OptionalProto{}
		if err := proto.Unmarshal(data, op); err != nil {
			return nil, fmt.Errorf("not an OptionalProto: %w", err)
		}
		return datumFromOptional(op)
	case TypeMap:
		mp := &pb.MapProto{}
		if err := proto.Unmarshal(data, mp); err != nil {
			return nil, fmt.Errorf("not a MapProto: %w", err)
		}
		return datumFromMap(mp)
	}
	tt, err := DecodeTensor(data)
	if err != nil {
		return nil, err
	}
	return &Datum{Name: tt.Name, Kind: TypeTensor, Tensor: tt}, nil
}

// elemKind maps SequenceProto/OptionalProto.DataType to a TypeKind.
func elemKind(et int32) TypeKind {
	switch et {
	case 1:
		return TypeTensor
	case 2:
		return TypeSparseTensor
	case 3:
		return TypeSequence
	case 4:
		return TypeMap
	case 5:
		return TypeOptional
	}
	return TypeNone
}

func datumFromSequence(sp *pb.SequenceProto) (*Datum, error) {
	d := &Datum{Name: sp.Name, Kind: TypeSequence, ElemKind: elemKind(sp.ElemType)}
	for _, tp := range sp.TensorValues {
		t, err := tensorFromProto(tp)
		if err != nil {
			return nil, err
		}
		if err := t.Validate(); err != nil {
			return nil, err
		}
		d.Elems = append(d.Elems, &Datum{Kind: TypeTensor, Tensor: t})
	}
	for _, s := range sp.SparseTensorValues {
		st, err := sparseFromProto(s)
		if err != nil {
			return nil, err
		}
		d.Elems = append(d.Elems, &Datum{Kind: TypeSparseTensor, Sparse: st})
	}
	for _, s := range sp.SequenceValues {
		e, err := datumFromSequence(s)
		if err != nil {
			return nil, err
		}
		d.Elems = append(d.Elems, e)
	}
	for _, m := range sp.MapValues {
		e, err := datumFromMap(m)
		if err != nil {
			return nil, err
		}
		d.Elems = append(d.Elems, e)
	}
	for _, o := range sp.OptionalValues {
		e, err := datumFromOptional(o)
		if err != nil {
			return nil, err
		}
		d.Elems = append(d.Elems, e)
	}
	return d, nil
}

func datumFromOptional(op *pb.OptionalProto) (*Datum, error) {
	d := &Datum{Name: op.Name, Kind: TypeOptional, ElemKind: elemKind(op.ElemType)}
	var err error
	switch {
	case op.TensorValue != nil:
		var t *Tensor
		if t, err = tensorFromProto(op.TensorValue); err == nil {
			err = t.Validate()
		}
		d.Elem = &Datum{Kind: TypeTensor, Tensor: t}
	case op.SparseTensorValue != nil:
		var st *SparseTensor
		st, err = sparseFromProto(op.SparseTensorValue)
		d.Elem = &Datum{Kind: TypeSparseTensor, Sparse: st}
	case op.SequenceValue != nil:
		d.Elem, err = datumFromSequence(op.SequenceValue)
	case op.MapValue != nil:
		d.Elem, err = datumFromMap(op.MapValue)
	case op.OptionalValue != nil:
		d.Elem, err = datumFromOptional(op.OptionalValue)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

func datumFromMap(mp *pb.MapProto) (*Datum, error) {
	d := &Datum{Name: mp.Name, Kind: TypeMap}
	if DataType(mp.KeyType) == String {
		d.Keys = &Tensor{DataType: String, Dims: []int64{int64(len(mp.StringKeys))}, Strings: mp.StringKeys}
	} else {
		d.Keys = NewInt64Tensor("", []int64{int64(len(mp.Keys))}, mp.Keys)
		d.Keys.DataType = DataType(mp.KeyType)
	}
	if mp.Values != nil {
		vals, err := datumFromSequence(mp.Values)
		if err != nil {
			return nil, err
		}
		d.Elems = vals.Elems
	}
	return d, nil
}

// EncodeDatum serializes a datum as the message its kind calls for.
func EncodeDatum(d *Datum) ([]byte, error) {
	switch d.Kind {
	case TypeTensor:
		return EncodeTensor(d.Tensor)
	case TypeSequence:
		return marshalWith(sequenceToProto(d))
	case TypeOptional:
		return marshalWith(optionalToProto(d))
	case TypeMap:
		return marshalWith(mapToProto(d))
	}
	return nil, fmt.Errorf("cannot encode a datum of kind %d", d.Kind)
}

// marshalWith marshals m unless building it failed.
func marshalWith[M proto.Message](m M, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return proto.Marshal(m)
}

// mapToProto writes a map datum: keys as int64s or strings, values as a
// sequence of the value data.
func mapToProto(d *Datum) (*pb.MapProto, error) {
	if d.Keys == nil {
		return nil, fmt.Errorf("map %q has no keys", d.Name)
	}
	mp := &pb.MapProto{Name: d.Name, KeyType: int32(d.Keys.DataType)}
	if d.Keys.DataType == String {
		mp.StringKeys = d.Keys.Strings
	} else {
		keys, err := d.Keys.AsInt64()
		if err != nil {
			return nil, fmt.Errorf("map %q: %w", d.Name, err)
		}
		mp.Keys = keys
	}
	kind := d.ElemKind
	if kind == TypeNone {
		kind = TypeTensor
	}
	values, err := sequenceToProto(&Datum{Kind: TypeSequence, ElemKind: kind, Elems: d.Elems})
	if err != nil {
		return nil, fmt.Errorf("map %q: %w", d.Name, err)
	}
	mp.Values = values
	return mp, nil
}

func kindToElemType(k TypeKind) int32 {
	switch k {
	case TypeTensor:
		return 1
	case TypeSparseTensor:
		return 2
	case TypeSequence:
		return 3
	case TypeMap:
		return 4
	case TypeOptional:
		return 5
	}
	return 0
}

func sequenceToProto(d *Datum) (*pb.SequenceProto, error) {
	sp := &pb.SequenceProto{Name: d.Name, ElemType: kindToElemType(d.ElemKind)}
	for _, e := range d.Elems {
		switch e.Kind {
		case TypeTensor:
			sp.TensorValues = append(sp.TensorValues, tensorToProto(e.Tensor))
		case TypeSequence:
			v, err := sequenceToProto(e)
			if err != nil {
				return nil, err
			}
			sp.SequenceValues = append(sp.SequenceValues, v)
		case TypeOptional:
			v, err := optionalToProto(e)
			if err != nil {
				return nil, err
			}
			sp.OptionalValues = append(sp.OptionalValues, v)
		case TypeMap:
			v, err := mapToProto(e)
			if err != nil {
				return nil, err
			}
			sp.MapValues = append(sp.MapValues, v)
		}
	}
	return sp, nil
}

func optionalToProto(d *Datum) (*pb.OptionalProto, error) {
	op := &pb.OptionalProto{Name: d.Name, ElemType: kindToElemType(d.ElemKind)}
	var err error
	if e := d.Elem; e != nil {
		switch e.Kind {
		case TypeTensor:
			op.TensorValue = tensorToProto(e.Tensor)
		case TypeSequence:
			op.SequenceValue, err = sequenceToProto(e)
		case TypeOptional:
			op.OptionalValue, err = optionalToProto(e)
		case TypeMap:
			op.MapValue, err = mapToProto(e)
		}
	}
	if err != nil {
		return nil, err
	}
	return op, nil
}
