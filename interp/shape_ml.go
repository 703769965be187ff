package interp

import "github.com/onnxslim/onnxslim/onnx"

// Shape and type inference for the ai.onnx.ml ops. Most take X [N, F] (or
// [F], one row) and give one row per sample; classifiers give labels [N]
// typed by their class label attribute and float scores [N, columns].

func init() {
	for op, f := range map[string]ShapeFunc{
		"TreeEnsemble":           shapeTreeEnsemble,
		"TreeEnsembleClassifier": shapeTreeClassifier,
		"TreeEnsembleRegressor":  shapeMLRows(func(n *onnx.Node) int64 { return n.AttrInt("n_targets", 1) }),
		"LinearClassifier":       shapeLinearClassifier,
		"LinearRegressor":        shapeMLRows(func(n *onnx.Node) int64 { return n.AttrInt("targets", 1) }),
		"SVMClassifier":          shapeSVMClassifier,
		"SVMRegressor":           shapeMLRows(func(*onnx.Node) int64 { return 1 }),
		"ZipMap":                 shapeZipMap,
		"DictVectorizer":         shapeDictVectorizer,
		"CastMap":                shapeCastMap,
		"Scaler":                 shapeMLFloatSame,
		"Normalizer":             shapeMLFloatSame,
		"Imputer":                shapeSameAsInput,
		"Binarizer":              shapeSameAsInput,
		"OneHotEncoder":          shapeOneHotEncoder,
		"FeatureVectorizer":      shapeFeatureVectorizer,
		"CategoryMapper":         shapeCategoryMapper,
		"LabelEncoder":           shapeLabelEncoder,
		"ArrayFeatureExtractor":  shapeArrayFeatureExtractor,
	} {
		since := int64(1)
		if op == "TreeEnsemble" {
			since = 5
		}
		RegisterShape(mlDomain, op, since, f)
	}
}

// mlBatch is the number of rows of input 0: N of [N, F], 1 of [F].
func mlBatch(c *ShapeCtx) onnx.Dim {
	s, ok := c.Shape(0)
	switch {
	case !ok:
		return unknownDim
	case len(s) == 1:
		return onnx.D(1)
	case len(s) == 2:
		return shClean(s[0])
	}
	return unknownDim
}

func shapeTreeEnsemble(c *ShapeCtx) error {
	c.Set(0, c.Elem(0), onnx.Shape{mlBatch(c), onnx.D(c.Node.AttrInt("n_targets", 0))})
	return nil
}

// shapeMLRows: float [N, cols] for regressors.
func shapeMLRows(cols func(*onnx.Node) int64) ShapeFunc {
	return func(c *ShapeCtx) error {
		c.Set(0, onnx.Float, onnx.Shape{mlBatch(c), onnx.D(cols(c.Node))})
		return nil
	}
}

// mlLabelType is the element type of a classifier's labels: string when
// the string labels are given, else int64.
func mlLabelType(n *onnx.Node) (onnx.DataType, int64) {
	if a := n.Attr("classlabels_strings"); a != nil && len(a.Strings) > 0 {
		return onnx.String, int64(len(a.Strings))
	}
	for _, name := range []string{"classlabels_int64s", "classlabels_ints"} {
		if a := n.Attr(name); a != nil && len(a.Ints) > 0 {
			return onnx.Int64, int64(len(a.Ints))
		}
	}
	return onnx.Int64, -1
}

// setClassifier sets labels [N] and scores [N, cols] (cols < 0: unknown).
func setClassifier(c *ShapeCtx, cols int64) {
	n := mlBatch(c)
	lt, _ := mlLabelType(c.Node)
	c.Set(0, lt, onnx.Shape{n})
	d := unknownDim
	if cols >= 0 {
		d = onnx.D(cols)
	}
	c.Set(1, onnx.Float, onnx.Shape{n, d})
}

func shapeTreeClassifier(c *ShapeCtx) error {
	_, nc := mlLabelType(c.Node)
	setClassifier(c, nc)
	return nil
}

func shapeLinearClassifier(c *ShapeCtx) error {
	rows := int64(len(c.Node.AttrFloats("intercepts", nil)))
	switch rows {
	case 1:
		rows = 2 // [1-s, s]
	case 0:
		rows = -1
	}
	setClassifier(c, rows)
	return nil
}

func shapeSVMClassifier(c *ShapeCtx) error {
	_, nc := mlLabelType(c.Node)
	cols := nc
	if len(c.Node.AttrInts("vectors_per_class", nil)) > 0 && len(c.Node.AttrFloats("prob_a", nil)) == 0 && nc >= 0 {
		cols = max(2, nc*(nc-1)/2)
	}
	setClassifier(c, cols)
	return nil
}

// shapeZipMap: seq(map(label type, float)).
func shapeZipMap(c *ShapeCtx) error {
	lt, _ := mlLabelType(c.Node)
	m := &onnx.Type{Kind: onnx.TypeMap, Elem: lt, Inner: onnx.TensorType(onnx.Float, nil)}
	c.SetType(0, &onnx.Type{Kind: onnx.TypeSequence, Inner: m})
	return nil
}

func shapeDictVectorizer(c *ShapeCtx) error {
	v := int64(len(c.Node.AttrInts("int64_vocabulary", nil)))
	if a := c.Node.Attr("string_vocabulary"); a != nil {
		v = int64(len(a.Strings))
	}
	elem := onnx.Undefined
	if t := c.Type(0); t != nil && t.Kind == onnx.TypeMap && t.Inner != nil {
		elem = t.Inner.Elem
	}
	c.Set(0, elem, onnx.Shape{onnx.D(1), onnx.D(v)})
	return nil
}

func shapeCastMap(c *ShapeCtx) error {
	elem := map[string]onnx.DataType{"TO_FLOAT": onnx.Float, "TO_STRING": onnx.String, "TO_INT64": onnx.Int64}[c.Node.AttrString("cast_to", "TO_FLOAT")]
	d := unknownDim
	if c.Node.AttrString("map_form", "DENSE") == "SPARSE" {
		d = onnx.D(c.Node.AttrInt("max_map", 1))
	}
	c.Set(0, elem, onnx.Shape{onnx.D(1), d})
	return nil
}

// shapeMLFloatSame: float output shaped like input 0.
func shapeMLFloatSame(c *ShapeCtx) error {
	s, _ := c.Shape(0)
	c.Set(0, onnx.Float, s)
	return nil
}

func shapeOneHotEncoder(c *ShapeCtx) error {
	n := int64(len(c.Node.AttrInts("cats_int64s", nil)))
	if a := c.Node.Attr("cats_strings"); a != nil {
		n = int64(len(a.Strings))
	}
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, onnx.Float, nil)
		return nil
	}
	c.Set(0, onnx.Float, append(append(onnx.Shape{}, s...), onnx.D(n)))
	return nil
}

func shapeFeatureVectorizer(c *ShapeCtx) error {
	total := int64(0)
	for _, d := range c.Node.AttrInts("inputdimensions", nil) {
		total += d
	}
	c.Set(0, onnx.Float, onnx.Shape{mlBatch(c), onnx.D(total)})
	return nil
}

// shapeCategoryMapper: strings become int64 and int64 strings.
func shapeCategoryMapper(c *ShapeCtx) error {
	out := onnx.Undefined
	switch c.Elem(0) {
	case onnx.String:
		out = onnx.Int64
	case onnx.Int64:
		out = onnx.String
	}
	s, _ := c.Shape(0)
	c.Set(0, out, s)
	return nil
}

// shapeLabelEncoder: the values' type (LabelEncoder 1: the other of string
// and int64), the input's shape.
func shapeLabelEncoder(c *ShapeCtx) error {
	out := onnx.Undefined
	n := c.Node
	switch {
	case c.Opset < 2 && c.Elem(0) == onnx.String:
		out = onnx.Int64
	case c.Opset < 2:
		out = onnx.String
	case n.Attr("values_strings") != nil:
		out = onnx.String
	case n.Attr("values_int64s") != nil:
		out = onnx.Int64
	case n.Attr("values_floats") != nil:
		out = onnx.Float
	case n.Attr("values_tensor") != nil && n.Attr("values_tensor").Tensor != nil:
		out = n.Attr("values_tensor").Tensor.DataType
	}
	s, _ := c.Shape(0)
	c.Set(0, out, s)
	return nil
}

func shapeArrayFeatureExtractor(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	idx, ok2 := c.Shape(1)
	if !ok || !ok2 || len(s) == 0 {
		c.Set(0, c.Elem(0), nil)
		return nil
	}
	k := prodDim(idx)
	if len(s) == 1 {
		c.Set(0, c.Elem(0), onnx.Shape{onnx.D(1), k})
		return nil
	}
	c.Set(0, c.Elem(0), append(append(onnx.Shape{}, s[:len(s)-1]...), k))
	return nil
}
