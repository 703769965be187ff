package interp

import (
	"fmt"
	"math"
	"strconv"

	"github.com/onnxslim/onnxslim/onnx"
)

// The ai.onnx.ml ops: LabelEncoder, Binarizer and ArrayFeatureExtractor here;
// the tree ensembles in ops_ml_tree.go, the linear models, scalers and
// encoders in ops_ml_linear.go, the SVMs in ops_ml_svm.go and the ops on
// maps in ops_ml_map.go.

const mlDomain = "ai.onnx.ml"

// ---- LabelEncoder ----

// labelKey canonicalizes element i of a keys or input tensor so that equal
// values of different storage types (float keys, double input) match; every
// NaN is the same key.
func labelKey(t *Tensor, i int) string {
	switch d := t.Data.(type) {
	case []string:
		return "s" + d[i]
	case []float32:
		return floatKey(float64(d[i]))
	case []float64:
		return floatKey(d[i])
	}
	v, err := numbersAsFloat64(&Tensor{DType: t.DType, Shape: []int{1}, Data: sliceData(t.Data, i, i+1)})
	if err != nil || len(v) != 1 {
		return ""
	}
	if t.DType.IsFloat() {
		return floatKey(v[0])
	}
	iv, _ := toInt64s(&Tensor{DType: t.DType, Shape: []int{1}, Data: sliceData(t.Data, i, i+1)})
	if len(iv) == 1 {
		return "i" + strconv.FormatInt(iv[0], 10)
	}
	return floatKey(v[0])
}

func floatKey(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case f == math.Trunc(f) && math.Abs(f) < 1<<62:
		return "i" + strconv.FormatInt(int64(f), 10) // integral floats match integer keys
	}
	return "f" + strconv.FormatFloat(f, 'g', -1, 64)
}

// attrTensor reads a list attribute (ints, floats or strings) or a tensor
// attribute as a 1-D tensor; nil when absent.
func attrTensor(b *Build, suffix string) (*Tensor, error) {
	n := b.Node
	if a := n.Attr(suffix + "_tensor"); a != nil && a.Tensor != nil {
		t, err := FromONNX(a.Tensor)
		if err != nil {
			return nil, err
		}
		return t.Reshaped([]int{t.Len()}), nil
	}
	if a := n.Attr(suffix + "_strings"); a != nil {
		s := make([]string, len(a.Strings))
		for i, v := range a.Strings {
			s[i] = string(v)
		}
		return FromSlice(onnx.String, []int{len(s)}, s), nil
	}
	if a := n.Attr(suffix + "_int64s"); a != nil {
		return FromSlice(onnx.Int64, []int{len(a.Ints)}, append([]int64{}, a.Ints...)), nil
	}
	if a := n.Attr(suffix + "_floats"); a != nil {
		return FromSlice(onnx.Float, []int{len(a.Floats)}, append([]float32{}, a.Floats...)), nil
	}
	return nil, nil
}

// labelDefault is the default_* value matching the values' type.
func labelDefault(b *Build, values *Tensor) (*Tensor, error) {
	if d, err := b.Tensor("default_tensor"); err != nil || d != nil {
		if d != nil && (d.DType != values.DType || d.Len() != 1) {
			return nil, fmt.Errorf("default_tensor %s does not match values of type %s", d, values.DType)
		}
		return d, err
	}
	switch {
	case values.DType == onnx.String:
		return Scalar(onnx.String, b.String("default_string", "_Unused")), nil
	case values.DType == onnx.Float && b.Node.Attr("values_floats") != nil:
		return Scalar(onnx.Float, b.Float("default_float", float32(math.Copysign(0, -1)))), nil
	case values.DType == onnx.Int64 && b.Node.Attr("values_int64s") != nil:
		return Scalar(onnx.Int64, b.Int("default_int64", -1)), nil
	}
	v := -1.0
	if values.DType.IsFloat() {
		v = math.Copysign(0, -1)
	}
	d, err := scalarData(values.DType, v)
	return &Tensor{DType: values.DType, Shape: []int{}, Data: d}, err
}

func labelEncoderBuilder(b *Build) (Kernel, error) {
	if b.Opset < 2 {
		return labelEncoderV1(b)
	}
	keys, err := attrTensor(b, "keys")
	if err != nil {
		return nil, err
	}
	values, err := attrTensor(b, "values")
	if err != nil {
		return nil, err
	}
	if keys == nil || values == nil || keys.Len() != values.Len() {
		return nil, fmt.Errorf("keys_* and values_* must be set and have the same length")
	}
	def, err := labelDefault(b, values)
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, keys.Len())
	for i := range keys.Len() {
		index[labelKey(keys, i)] = i // a repeated key: the last one wins
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if (x.DType == onnx.String) != (keys.DType == onnx.String) {
			return nil, fmt.Errorf("input type %s does not match keys of type %s", x.DType, keys.DType)
		}
		out := ctx.New(values.DType, x.Shape...)
		for i := range x.Len() {
			if j, ok := index[labelKey(x, i)]; ok {
				copyElems(out.Data, values.Data, i, j, 1)
			} else {
				copyElems(out.Data, def.Data, i, 0, 1)
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

// labelEncoderV1 maps strings to their index in classes_strings, or indices
// back to strings.
func labelEncoderV1(b *Build) (Kernel, error) {
	var classes []string
	if a := b.Node.Attr("classes_strings"); a != nil {
		for _, s := range a.Strings {
			classes = append(classes, string(s))
		}
	}
	defInt, defStr := b.Int("default_int64", -1), b.String("default_string", "_Unused")
	index := map[string]int64{}
	for i, s := range classes {
		index[s] = int64(i)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if x.DType == onnx.String {
			out := ctx.New(onnx.Int64, x.Shape...)
			d := out.Data.([]int64)
			for i, s := range x.Data.([]string) {
				if v, ok := index[s]; ok {
					d[i] = v
				} else {
					d[i] = defInt
				}
			}
			return []*Tensor{out}, nil
		}
		v, err := toInt64s(x)
		if err != nil {
			return nil, err
		}
		out := ctx.New(onnx.String, x.Shape...)
		d := out.Data.([]string)
		for i, k := range v {
			if k >= 0 && k < int64(len(classes)) {
				d[i] = classes[k]
			} else {
				d[i] = defStr
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

// ---- Binarizer, ArrayFeatureExtractor ----

func binarizerBuilder(b *Build) (Kernel, error) {
	th := float64(b.Float("threshold", 0))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		v, err := numbersAsFloat64(in[0])
		if err != nil {
			return nil, err
		}
		res := make([]float64, len(v))
		for i, x := range v {
			if x > th {
				res[i] = 1
			}
		}
		out, err := tensorFromFloat64s(ctx, in[0].DType, in[0].Shape, res)
		return []*Tensor{out}, err
	}, nil
}

func arrayFeatureExtractorKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	idx, err := toInt64s(in[1])
	if err != nil {
		return nil, err
	}
	if x.Rank() == 0 {
		return nil, fmt.Errorf("input must have rank ≥ 1")
	}
	f := x.Shape[x.Rank()-1]
	rows := x.Len() / max(f, 1)
	shape := append(append([]int{}, x.Shape[:x.Rank()-1]...), len(idx))
	if x.Rank() == 1 {
		shape = []int{1, len(idx)}
	}
	out := ctx.New(x.DType, shape...)
	for r := range rows {
		for j, k := range idx {
			if k < 0 || k >= int64(f) {
				return nil, fmt.Errorf("index %d is out of range for %d features", k, f)
			}
			copyElems(out.Data, x.Data, r*len(idx)+j, r*f+int(k), 1)
		}
	}
	return []*Tensor{out}, nil
}

func init() {
	for _, v := range []int64{1, 2, 4} {
		Register(mlDomain, "LabelEncoder", v, needInputs(1, labelEncoderBuilder))
	}
	Register(mlDomain, "Binarizer", 1, needInputs(1, binarizerBuilder))
	Register(mlDomain, "ArrayFeatureExtractor", 1, needInputs(2, noAttrs(arrayFeatureExtractorKernel)))
}
