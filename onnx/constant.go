package onnx

// ConstantValue is the tensor a Constant node (default domain) outputs, from
// whichever dense value attribute it has (value, value_float(s),
// value_int(s)); nil for other nodes and for sparse or string values.
func ConstantValue(n *Node) *Tensor {
	if n == nil || n.OpType != "Constant" || (n.Domain != "" && n.Domain != "ai.onnx") {
		return nil
	}
	for _, a := range n.Attrs {
		switch a.Name {
		case "value":
			return a.Tensor
		case "value_float":
			return NewFloatTensor("", nil, []float32{a.Float})
		case "value_floats":
			return NewFloatTensor("", []int64{int64(len(a.Floats))}, a.Floats)
		case "value_int":
			return NewInt64Tensor("", nil, []int64{a.Int})
		case "value_ints":
			return NewInt64Tensor("", []int64{int64(len(a.Ints))}, a.Ints)
		}
	}
	return nil
}
