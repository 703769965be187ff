package verify

import (
	"github.com/onnxslim/onnxslim/onnx"
)

// Shapes of opaque outputs derived backwards from what reads them: when a
// plugin's output has no declared shape but the graph output further on
// does (issue 19's Conv → BN → plugin → Conv → BN with only y declared), the
// plugin's output shape follows exactly through shape-preserving ops and
// stride-1 convolutions. A wrong derivation cannot pass unnoticed: the fed
// values would not fit and the original would fail to run.

// sameShapeOps keep input 0's shape in output 0 (and its element type).
var sameShapeOps = map[string]bool{
	"BatchNormalization": true, "InstanceNormalization": true, "LayerNormalization": true,
	"Relu": true, "LeakyRelu": true, "PRelu": true, "Elu": true, "Selu": true, "Celu": true,
	"Sigmoid": true, "HardSigmoid": true, "HardSwish": true, "Tanh": true, "Softplus": true,
	"Softsign": true, "Gelu": true, "Mish": true, "Clip": true, "Identity": true, "Dropout": true,
	"Softmax": true, "LogSoftmax": true, "Hardmax": true, "Neg": true, "Abs": true, "Exp": true,
	"Sqrt": true, "Erf": true, "Sin": true, "Cos": true, "Floor": true, "Ceil": true, "Round": true,
	"LRN": true, "MeanVarianceNormalization": true, "Shrink": true, "ThresholdedRelu": true,
}

// backShape returns v's static type derived from its readers, or nil.
func backShape(v *onnx.Value, depth int) *onnx.Type {
	if t := v.Type; t != nil && t.Kind == onnx.TypeTensor && t.Elem != onnx.Undefined && t.HasShape() {
		if _, ok := t.Shape.Static(); ok {
			return t
		}
	}
	if depth > 16 {
		return nil
	}
	for _, u := range v.Uses() {
		n := u.Node
		if u.Index != 0 || (n.Domain != "" && n.Domain != "ai.onnx") || n.Output(0) == nil {
			continue
		}
		out := backShape(n.Output(0), depth+1)
		if out == nil {
			continue
		}
		switch {
		case sameShapeOps[n.OpType]:
			return out.Clone()
		case n.OpType == "Conv":
			if t := convInputShape(n, out); t != nil {
				return t
			}
		}
	}
	return nil
}

// convInputShape is the input shape of a Conv with output type out, when it
// is unique: strides 1, explicit pads, constant weights.
func convInputShape(n *onnx.Node, out *onnx.Type) *onnx.Type {
	w := n.Input(1)
	if w == nil || w.Const == nil || len(w.Const.Dims) < 3 || len(out.Shape) != len(w.Const.Dims) {
		return nil
	}
	if ap := n.AttrString("auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
		return nil
	}
	spatial := len(w.Const.Dims) - 2
	strides := n.AttrInts("strides", nil)
	dil := n.AttrInts("dilations", nil)
	pads := n.AttrInts("pads", make([]int64, 2*spatial))
	if len(pads) != 2*spatial {
		return nil
	}
	od, _ := out.Shape.Static()
	in := make([]int64, len(od))
	in[0] = od[0]
	in[1] = w.Const.Dims[1] * n.AttrInt("group", 1)
	for i := 0; i < spatial; i++ {
		if len(strides) > i && strides[i] != 1 {
			return nil // several input sizes give the same output size
		}
		d := int64(1)
		if len(dil) > i {
			d = dil[i]
		}
		in[2+i] = od[2+i] - 1 + d*(w.Const.Dims[2+i]-1) + 1 - pads[i] - pads[i+spatial]
		if in[2+i] <= 0 {
			return nil
		}
	}
	return onnx.TensorType(out.Elem, onnx.ShapeOf(in...))
}
