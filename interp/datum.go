package interp

import (
	"fmt"

	"github.com/onnxslim/onnxslim/onnx"
)

// FromDatum converts test or input data (tensor, sequence, optional, map) to a runtime value.
func FromDatum(d *onnx.Datum) (*Tensor, error) {
	switch d.Kind {
	case onnx.TypeTensor:
		return FromONNX(d.Tensor)
	case onnx.TypeSequence:
		out := &Tensor{Kind: KindSequence}
		for _, e := range d.Elems {
			t, err := FromDatum(e)
			if err != nil {
				return nil, err
			}
			out.DType = t.DType
			out.Elems = append(out.Elems, t)
		}
		return out, nil
	case onnx.TypeOptional:
		out := &Tensor{Kind: KindOptional}
		if d.Elem != nil {
			t, err := FromDatum(d.Elem)
			if err != nil {
				return nil, err
			}
			out.DType = t.DType
			out.Elems = []*Tensor{t}
		}
		return out, nil
	case onnx.TypeMap:
		return mapFromDatum(d)
	}
	return nil, fmt.Errorf("data of kind %d is not supported", d.Kind)
}

// mapFromDatum gathers a MapProto's values, one-element tensors (as ONNX's
// from_dict writes them), into the map's 1-D value tensor.
func mapFromDatum(d *onnx.Datum) (*Tensor, error) {
	if d.Keys == nil {
		return nil, fmt.Errorf("map %q has no keys", d.Name)
	}
	keys, err := FromONNX(d.Keys)
	if err != nil {
		return nil, err
	}
	keys = keys.Reshaped([]int{keys.Len()})
	if len(d.Elems) != keys.Len() {
		return nil, fmt.Errorf("map %q has %d keys and %d values", d.Name, keys.Len(), len(d.Elems))
	}
	var vals []*Tensor
	for i, e := range d.Elems {
		if e.Kind != onnx.TypeTensor {
			return nil, fmt.Errorf("map %q: value %d is not a tensor; only maps of scalars are supported", d.Name, i)
		}
		t, err := FromONNX(e.Tensor)
		if err != nil {
			return nil, err
		}
		if t.Len() != 1 || (len(vals) > 0 && t.DType != vals[0].DType) {
			return nil, fmt.Errorf("map %q: value %d is %s; only maps of scalars of one type are supported", d.Name, i, t)
		}
		vals = append(vals, t)
	}
	dt := onnx.Float
	if len(vals) > 0 {
		dt = vals[0].DType
	}
	values := Make(dt, len(vals))
	for i, t := range vals {
		copyElems(values.Data, t.Data, i, 0, 1)
	}
	return NewMap(keys, values), nil
}

// ToDatum converts a runtime value to data that can be written as a .pb file.
func ToDatum(name string, t *Tensor) (*onnx.Datum, error) {
	switch t.Kind {
	case KindSequence:
		d := &onnx.Datum{Name: name, Kind: onnx.TypeSequence, ElemKind: onnx.TypeTensor}
		for _, e := range t.Elems {
			ed, err := ToDatum("", e)
			if err != nil {
				return nil, err
			}
			d.ElemKind = ed.Kind
			d.Elems = append(d.Elems, ed)
		}
		return d, nil
	case KindOptional:
		d := &onnx.Datum{Name: name, Kind: onnx.TypeOptional, ElemKind: onnx.TypeTensor}
		if len(t.Elems) > 0 {
			ed, err := ToDatum("", t.Elems[0])
			if err != nil {
				return nil, err
			}
			d.ElemKind = ed.Kind
			d.Elem = ed
		}
		return d, nil
	case KindMap:
		keys, values, err := t.MapEntries()
		if err != nil {
			return nil, err
		}
		kt, err := ToONNX("", keys)
		if err != nil {
			return nil, err
		}
		d := &onnx.Datum{Name: name, Kind: onnx.TypeMap, Keys: kt, ElemKind: onnx.TypeTensor}
		for i := range values.Len() {
			vt, err := ToONNX("", &Tensor{DType: values.DType, Shape: []int{}, Data: sliceData(values.Data, i, i+1)})
			if err != nil {
				return nil, err
			}
			d.Elems = append(d.Elems, &onnx.Datum{Kind: onnx.TypeTensor, Tensor: vt})
		}
		return d, nil
	}
	ot, err := ToONNX(name, t)
	if err != nil {
		return nil, err
	}
	return &onnx.Datum{Name: name, Kind: onnx.TypeTensor, Tensor: ot}, nil
}
