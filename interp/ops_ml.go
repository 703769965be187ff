package interp

import (
	"fmt"
	"math"
	"strconv"

	"github.com/onnxslim/onnxslim/onnx"
)

// The ai.onnx.ml ops the conformance suite tests: LabelEncoder, TreeEnsemble,
// Binarizer and ArrayFeatureExtractor.

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

// ---- TreeEnsemble (ml opset 5) ----

type treeNode struct {
	mode           uint8
	split          float64
	set            map[float64]bool
	feature        int
	missingTrue    bool
	tChild, fChild int // ≥ 0: node index; < 0: leaf -1-index
}

type treeEnsemble struct {
	nodes     []treeNode
	roots     []int // encoded like children
	leafW     []float64
	leafT     []int
	nTargets  int
	aggregate int64
	post      int64
}

func intsAttr(b *Build, name string) []int64 { return b.Ints(name, nil) }

func treeEnsembleBuilder(b *Build) (Kernel, error) {
	te := &treeEnsemble{nTargets: int(b.Int("n_targets", 0)), aggregate: b.Int("aggregate_function", 1), post: b.Int("post_transform", 0)}
	feat, tIDs, fIDs := intsAttr(b, "nodes_featureids"), intsAttr(b, "nodes_truenodeids"), intsAttr(b, "nodes_falsenodeids")
	tLeaf, fLeaf := intsAttr(b, "nodes_trueleafs"), intsAttr(b, "nodes_falseleafs")
	missing := intsAttr(b, "nodes_missing_value_tracks_true")
	floatsOf := func(name string) ([]float64, error) {
		t, err := b.Tensor(name)
		if err != nil || t == nil {
			return nil, err
		}
		return numbersAsFloat64(t)
	}
	modesT, err := b.Tensor("nodes_modes")
	if err != nil || modesT == nil {
		return nil, fmt.Errorf("nodes_modes is required")
	}
	modes, err := toInt64s(modesT)
	if err != nil {
		return nil, err
	}
	splits, err := floatsOf("nodes_splits")
	if err != nil {
		return nil, err
	}
	members, err := floatsOf("membership_values")
	if err != nil {
		return nil, err
	}
	if te.leafW, err = floatsOf("leaf_weights"); err != nil {
		return nil, err
	}
	n := len(modes)
	if len(feat) != n || len(tIDs) != n || len(fIDs) != n || len(tLeaf) != n || len(fLeaf) != n || len(splits) != n || (missing != nil && len(missing) != n) {
		return nil, fmt.Errorf("the nodes_* attributes differ in length")
	}
	lt := intsAttr(b, "leaf_targetids")
	if len(lt) != len(te.leafW) {
		return nil, fmt.Errorf("leaf_targetids and leaf_weights differ in length")
	}
	for _, t := range lt {
		if t < 0 || t >= int64(te.nTargets) {
			return nil, fmt.Errorf("leaf target %d is out of range for %d targets", t, te.nTargets)
		}
		te.leafT = append(te.leafT, int(t))
	}
	child := func(id, leaf int64) (int, error) {
		if leaf != 0 {
			if id < 0 || id >= int64(len(te.leafW)) {
				return 0, fmt.Errorf("leaf index %d is out of range", id)
			}
			return -1 - int(id), nil
		}
		if id < 0 || id >= int64(n) {
			return 0, fmt.Errorf("node index %d is out of range", id)
		}
		return int(id), nil
	}
	mi := 0
	for i := range n {
		nd := treeNode{mode: uint8(modes[i]), split: splits[i], feature: int(feat[i]), missingTrue: missing != nil && missing[i] != 0}
		if nd.mode > 6 || nd.feature < 0 {
			return nil, fmt.Errorf("bad mode %d or feature %d at node %d", nd.mode, nd.feature, i)
		}
		if nd.mode == 6 { // the next NaN-terminated run of membership_values
			nd.set = map[float64]bool{}
			for mi < len(members) && !math.IsNaN(members[mi]) {
				nd.set[members[mi]] = true
				mi++
			}
			mi++
		}
		if nd.tChild, err = child(tIDs[i], tLeaf[i]); err != nil {
			return nil, err
		}
		if nd.fChild, err = child(fIDs[i], fLeaf[i]); err != nil {
			return nil, err
		}
		te.nodes = append(te.nodes, nd)
	}
	for _, r := range intsAttr(b, "tree_roots") {
		if r < 0 || r >= int64(n) {
			return nil, fmt.Errorf("tree root %d is out of range", r)
		}
		nd := te.nodes[r]
		if tLeaf[r] != 0 && fLeaf[r] != 0 && nd.tChild == nd.fChild {
			te.roots = append(te.roots, nd.tChild) // a tree that is a single leaf
		} else {
			te.roots = append(te.roots, int(r))
		}
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		out, err := te.run(ctx, in[0])
		return []*Tensor{out}, err
	}, nil
}

func (nd *treeNode) goesTrue(x float64) bool {
	if math.IsNaN(x) && nd.missingTrue {
		return true
	}
	switch nd.mode {
	case 0:
		return x <= nd.split
	case 1:
		return x < nd.split
	case 2:
		return x >= nd.split
	case 3:
		return x > nd.split
	case 4:
		return x == nd.split
	case 5:
		return x != nd.split
	}
	return nd.set[x]
}

func (te *treeEnsemble) run(ctx *Ctx, x *Tensor) (*Tensor, error) {
	if x.Rank() != 2 && x.Rank() != 1 {
		return nil, fmt.Errorf("input must be [N, F], got %s", x)
	}
	xv, err := numbersAsFloat64(x)
	if err != nil {
		return nil, err
	}
	rows, f := 1, x.Len()
	if x.Rank() == 2 {
		rows, f = x.Shape[0], x.Shape[1]
	}
	res := make([]float64, rows*te.nTargets)
	init := 0.0
	switch te.aggregate {
	case 0, 1:
	case 2:
		init = math.MaxFloat32
	case 3:
		init = -math.MaxFloat32
	default:
		return nil, fmt.Errorf("unknown aggregate_function %d", te.aggregate)
	}
	if x.DType == onnx.Double && te.aggregate >= 2 {
		init = math.Copysign(math.MaxFloat64, init)
	}
	for r := range rows {
		row := xv[r*f : (r+1)*f]
		y := res[r*te.nTargets : (r+1)*te.nTargets]
		for i := range y {
			y[i] = init
		}
		for _, c := range te.roots {
			for steps := 0; c >= 0; steps++ {
				if steps > len(te.nodes) {
					return nil, fmt.Errorf("the trees contain a cycle")
				}
				nd := &te.nodes[c]
				if nd.feature >= f {
					return nil, fmt.Errorf("feature %d is out of range for %d features", nd.feature, f)
				}
				if nd.goesTrue(row[nd.feature]) {
					c = nd.tChild
				} else {
					c = nd.fChild
				}
			}
			leaf := -1 - c
			w, t := te.leafW[leaf], te.leafT[leaf]
			switch te.aggregate {
			case 0:
				y[t] += w / float64(len(te.roots))
			case 1:
				y[t] += w
			case 2:
				y[t] = min(y[t], w)
			case 3:
				y[t] = max(y[t], w)
			}
		}
		mlPostTransform(y, te.post)
	}
	return tensorFromFloat64s(ctx, x.DType, []int{rows, te.nTargets}, res)
}

// mlPostTransform applies post_transform (NONE, SOFTMAX, LOGISTIC,
// SOFTMAX_ZERO, PROBIT) to one row of scores.
func mlPostTransform(y []float64, post int64) {
	switch post {
	case 1, 3:
		m := math.Inf(-1)
		for _, v := range y {
			if post == 1 || v != 0 {
				m = max(m, v)
			}
		}
		s := 0.0
		for i, v := range y {
			if post == 3 && v == 0 {
				continue
			}
			y[i] = math.Exp(v - m)
			s += y[i]
		}
		for i := range y {
			if s > 0 {
				y[i] /= s
			}
		}
	case 2:
		for i, v := range y {
			y[i] = 1 / (1 + math.Exp(-v))
		}
	case 4:
		for i, v := range y {
			y[i] = math.Sqrt2 * math.Erfinv(2*v-1)
		}
	}
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
	Register(mlDomain, "TreeEnsemble", 5, needInputs(1, treeEnsembleBuilder))
	Register(mlDomain, "Binarizer", 1, needInputs(1, binarizerBuilder))
	Register(mlDomain, "ArrayFeatureExtractor", 1, needInputs(2, noAttrs(arrayFeatureExtractorKernel)))
}
