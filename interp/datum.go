package interp

import (
	"fmt"

	"github.com/onnxslim/onnxslim/onnx"
)

// FromDatum converts test or input data (tensor, sequence, optional) to a runtime value.
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
	}
	return nil, fmt.Errorf("data of kind %d is not supported", d.Kind)
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
	}
	ot, err := ToONNX(name, t)
	if err != nil {
		return nil, err
	}
	return &onnx.Datum{Name: name, Kind: onnx.TypeTensor, Tensor: ot}, nil
}
