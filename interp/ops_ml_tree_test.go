package interp

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// classicTree is two trees: tree 0 tests x0 <= 1 (node 0) with leaves 1
// (true) and 2 (false); tree 1 is the single leaf 0. w lists the weights
// as (tree, node, id, weight).
type classicTree struct {
	prefix string // "class" or "target"
	w      [][4]float64
	extra  []*onnx.Attribute
	// edits break the nodes_* attributes for the error cases.
	edit func(map[string]*onnx.Attribute)
}

func (c classicTree) attrs() []*onnx.Attribute {
	as := map[string]*onnx.Attribute{
		"nodes_treeids":      onnx.IntsAttr("nodes_treeids", []int64{0, 0, 0, 1}),
		"nodes_nodeids":      onnx.IntsAttr("nodes_nodeids", []int64{0, 1, 2, 0}),
		"nodes_featureids":   onnx.IntsAttr("nodes_featureids", []int64{0, 0, 0, 0}),
		"nodes_modes":        onnx.StringsAttr("nodes_modes", "BRANCH_LEQ", "LEAF", "LEAF", "LEAF"),
		"nodes_values":       onnx.FloatsAttr("nodes_values", []float32{1, 0, 0, 0}),
		"nodes_truenodeids":  onnx.IntsAttr("nodes_truenodeids", []int64{1, 0, 0, 0}),
		"nodes_falsenodeids": onnx.IntsAttr("nodes_falsenodeids", []int64{2, 0, 0, 0}),
	}
	var tree, node, ids []int64
	var ws []float32
	for _, w := range c.w {
		tree, node, ids, ws = append(tree, int64(w[0])), append(node, int64(w[1])), append(ids, int64(w[2])), append(ws, float32(w[3]))
	}
	p := c.prefix
	as[p+"_treeids"], as[p+"_nodeids"] = onnx.IntsAttr(p+"_treeids", tree), onnx.IntsAttr(p+"_nodeids", node)
	as[p+"_ids"], as[p+"_weights"] = onnx.IntsAttr(p+"_ids", ids), onnx.FloatsAttr(p+"_weights", ws)
	if c.edit != nil {
		c.edit(as)
	}
	var out []*onnx.Attribute
	for _, a := range as {
		if a != nil {
			out = append(out, a)
		}
	}
	return append(out, c.extra...)
}

func softmaxOf(v ...float64) []float64 {
	s := 0.0
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Exp(x)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

func sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

func TestTreeEnsembleClassifier(t *testing.T) {
	x := FromSlice(onnx.Float, []int{2, 1}, []float32{0, 5})
	// Three classes: row 0 reaches leaf 0/1 (c0 .6, c1 .4) and tree 1
	// (c1 .5): [.6 .9 0], class 2 untouched; row 1 leaf 0/2 (c2 1) and
	// tree 1: [0 .5 1], class 0 untouched.
	multi := [][4]float64{{0, 1, 0, .6}, {0, 1, 1, .4}, {0, 2, 2, 1}, {1, 0, 1, .5}}
	ints := onnx.IntsAttr("classlabels_int64s", []int64{7, 8, 9})
	sm0, sm1 := softmaxOf(.6, .9, 0), softmaxOf(0, .5, 1)
	// Two classes, every weight for class 0 (skl2onnx's binary trees): the
	// one score s is class 1's; labels 10 and 20.
	bin := [][4]float64{{0, 1, 0, .8}, {0, 2, 0, .3}}
	mixed := [][4]float64{{0, 1, 0, 1.5}, {0, 2, 0, -2}}
	labels2 := onnx.IntsAttr("classlabels_int64s", []int64{10, 20})
	for _, c := range []struct {
		name   string
		w      [][4]float64
		extra  []*onnx.Attribute
		opset  int64
		labels string
		z      []float64
		tol    float64
	}{
		{"multiclass SUM", multi, []*onnx.Attribute{ints}, 1, "[8 9]", []float64{.6, .9, 0, 0, .5, 1}, 0},
		{"base_values", multi, []*onnx.Attribute{ints, onnx.FloatsAttr("base_values", []float32{.1, .2, .3})}, 1, "[8 9]", []float64{.7, 1.1, .3, .1, .7, 1.3}, 0},
		{"base_values_as_tensor (opset 3)", multi, []*onnx.Attribute{ints, doubles("base_values_as_tensor", 1, 0, .5)}, 3, "[7 9]", []float64{1.6, .9, .5, 1, .5, 1.5}, 0},
		{"string labels", multi, []*onnx.Attribute{onnx.StringsAttr("classlabels_strings", "a", "b", "c")}, 1, "[b c]", []float64{.6, .9, 0, 0, .5, 1}, 0},
		{"SOFTMAX", multi, []*onnx.Attribute{ints, onnx.StringAttr("post_transform", "SOFTMAX")}, 1, "[8 9]", append(sm0, sm1...), 0},
		{"SOFTMAX_ZERO", multi, []*onnx.Attribute{ints, onnx.StringAttr("post_transform", "SOFTMAX_ZERO")}, 1, "[8 9]",
			append(append(softmaxOf(.6, .9), 0), append([]float64{0}, softmaxOf(.5, 1)...)...), 0},
		{"LOGISTIC", multi, []*onnx.Attribute{ints, onnx.StringAttr("post_transform", "LOGISTIC")}, 1, "[8 9]",
			[]float64{sigmoid(.6), sigmoid(.9), .5, .5, sigmoid(.5), sigmoid(1)}, 0},
		// PROBIT: Φ⁻¹ in ONNX Runtime's approximation, within 2e-3 of the exact
		// quantiles Φ⁻¹(.6) = .253347 and Φ⁻¹(.9) = 1.281552.
		{"PROBIT", multi, []*onnx.Attribute{ints, onnx.StringAttr("post_transform", "PROBIT")}, 1, "[8 9]",
			[]float64{.253347, 1.281552, math.Inf(-1), math.Inf(-1), 0, math.Inf(1)}, 2e-3},
		{"binary, nonnegative weights", bin, []*onnx.Attribute{labels2}, 1, "[20 10]", []float64{.2, .8, .7, .3}, 0},
		{"binary, nonnegative weights, LOGISTIC", bin, []*onnx.Attribute{labels2, onnx.StringAttr("post_transform", "LOGISTIC")}, 1, "[20 10]",
			[]float64{1 - sigmoid(.8), sigmoid(.8), 1 - sigmoid(.3), sigmoid(.3)}, 0},
		{"binary, nonnegative weights, SOFTMAX ignored", bin, []*onnx.Attribute{labels2, onnx.StringAttr("post_transform", "SOFTMAX")}, 1, "[20 10]", []float64{.2, .8, .7, .3}, 0},
		{"binary, mixed weights", mixed, []*onnx.Attribute{labels2}, 1, "[20 10]", []float64{-1.5, 1.5, 2, -2}, 0},
		{"binary, mixed weights, LOGISTIC", mixed, []*onnx.Attribute{labels2, onnx.StringAttr("post_transform", "LOGISTIC")}, 1, "[20 10]",
			[]float64{sigmoid(-1.5), sigmoid(1.5), sigmoid(2), sigmoid(-2)}, 0},
		{"binary, one base value", bin, []*onnx.Attribute{labels2, onnx.FloatsAttr("base_values", []float32{.1})}, 1, "[20 10]", []float64{.1, .9, .6, .4}, 0},
		{"binary, string labels", bin, []*onnx.Attribute{onnx.StringsAttr("classlabels_strings", "no", "yes")}, 1, "[yes no]", []float64{.2, .8, .7, .3}, 0},
		{"two classes, both weighted", [][4]float64{{0, 1, 0, .7}, {0, 1, 1, .3}, {0, 2, 0, .2}, {0, 2, 1, .8}}, []*onnx.Attribute{labels2}, 1, "[20 20]",
			[]float64{.7, .3, .2, .8}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := runKernel("TreeEnsembleClassifier", mlDomain, c.opset, classicTree{prefix: "class", w: c.w, extra: c.extra}.attrs(), 2, x)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(out[0].Data); got != c.labels {
				t.Errorf("labels %s, want %s", got, c.labels)
			}
			if fmt.Sprint(out[1].Shape) != fmt.Sprintf("[2 %d]", len(c.z)/2) || out[1].DType != onnx.Float {
				t.Errorf("scores %s", out[1])
			}
			if c.tol == 0 {
				closeTo(t, "scores", out[1], c.z...)
				return
			}
			for i, v := range out[1].Floats() {
				if w := c.z[i]; !(math.Abs(float64(v)-w) <= c.tol || math.IsInf(w, 0) && float64(v) == w) {
					t.Errorf("score %d: %v, want %v", i, v, w)
				}
			}
		})
	}
}

func doubles(name string, v ...float64) *onnx.Attribute {
	t, err := ToONNX(name, FromSlice(onnx.Double, []int{len(v)}, v))
	if err != nil {
		panic(err)
	}
	return onnx.TensorAttr(name, t)
}

func TestTreeEnsembleRegressor(t *testing.T) {
	x := FromSlice(onnx.Float, []int{2, 1}, []float32{0, 5})
	one := [][4]float64{{0, 1, 0, 1}, {0, 2, 0, 3}, {1, 0, 0, 10}}
	two := [][4]float64{{0, 1, 0, 1}, {0, 1, 1, 2}, {0, 2, 1, 3}, {1, 0, 0, 1}}
	s := onnx.StringAttr
	n2 := onnx.IntAttr("n_targets", 2)
	for _, c := range []struct {
		name  string
		w     [][4]float64
		extra []*onnx.Attribute
		opset int64
		want  []float64
	}{
		{"SUM", one, nil, 1, []float64{11, 13}},
		{"AVERAGE", one, []*onnx.Attribute{s("aggregate_function", "AVERAGE")}, 1, []float64{5.5, 6.5}},
		{"MIN", one, []*onnx.Attribute{s("aggregate_function", "MIN")}, 1, []float64{1, 3}},
		{"MAX", one, []*onnx.Attribute{s("aggregate_function", "MAX")}, 1, []float64{10, 10}},
		{"base_values", one, []*onnx.Attribute{onnx.FloatsAttr("base_values", []float32{100})}, 1, []float64{111, 113}},
		{"AVERAGE with base", one, []*onnx.Attribute{s("aggregate_function", "AVERAGE"), onnx.FloatsAttr("base_values", []float32{1})}, 1, []float64{6.5, 7.5}},
		{"one target ignores LOGISTIC", one, []*onnx.Attribute{s("post_transform", "LOGISTIC")}, 1, []float64{11, 13}},
		{"two targets", two, []*onnx.Attribute{n2}, 1, []float64{2, 2, 1, 3}},
		{"two targets, MIN", two, []*onnx.Attribute{n2, s("aggregate_function", "MIN")}, 1, []float64{1, 2, 1, 3}},
		{"two targets, MAX, base", two, []*onnx.Attribute{n2, s("aggregate_function", "MAX"), onnx.FloatsAttr("base_values", []float32{1, -1})}, 1, []float64{2, 1, 2, 2}},
		{"two targets, SOFTMAX", two, []*onnx.Attribute{n2, s("post_transform", "SOFTMAX")}, 1, append(softmaxOf(2, 2), softmaxOf(1, 3)...)},
		{"two targets, LOGISTIC", two, []*onnx.Attribute{n2, s("post_transform", "LOGISTIC")}, 1, []float64{sigmoid(2), sigmoid(2), sigmoid(1), sigmoid(3)}},
		{"as_tensor (opset 3)", nil, []*onnx.Attribute{doubles("target_weights_as_tensor", 1, 3, 10)}, 3, []float64{11, 13}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ct := classicTree{prefix: "target", w: c.w, extra: c.extra}
			if c.w == nil { // weights from the tensor attribute
				ct.w = one
				ct.edit = func(as map[string]*onnx.Attribute) { as["target_weights"] = nil }
			}
			out, err := runKernel("TreeEnsembleRegressor", mlDomain, c.opset, ct.attrs(), 1, x)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(out[0].Shape) != fmt.Sprintf("[2 %d]", len(c.want)/2) || out[0].DType != onnx.Float {
				t.Errorf("output %s", out[0])
			}
			closeTo(t, c.name, out[0], c.want...)
		})
	}
	// PROBIT of one target: Φ⁻¹(.6) and Φ⁻¹(.8) within ONNX Runtime's
	// approximation.
	probit := classicTree{prefix: "target", w: [][4]float64{{0, 1, 0, .1}, {0, 2, 0, .3}, {1, 0, 0, .5}}, extra: []*onnx.Attribute{s("post_transform", "PROBIT")}}
	out, err := runKernel("TreeEnsembleRegressor", mlDomain, 1, probit.attrs(), 1, x)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{.253347, .841621} {
		if got := float64(out[0].Floats()[i]); math.Abs(got-want) > 2e-3 {
			t.Errorf("PROBIT %d: %v, want %v", i, got, want)
		}
	}
}

// TestTreeEnsembleBadAttributes: broken trees are errors naming what is
// wrong, never panics or endless walks.
func TestTreeEnsembleBadAttributes(t *testing.T) {
	x := FromSlice(onnx.Float, []int{1, 1}, []float32{0})
	w := [][4]float64{{0, 1, 0, 1}, {0, 2, 1, 1}, {1, 0, 0, 1}}
	labels := onnx.IntsAttr("classlabels_int64s", []int64{0, 1, 2})
	for _, c := range []struct {
		name, want string
		edit       func(map[string]*onnx.Attribute)
		w          [][4]float64
		extra      []*onnx.Attribute
	}{
		{"short featureids", "differ in length", func(as map[string]*onnx.Attribute) { as["nodes_featureids"].Ints = as["nodes_featureids"].Ints[:3] }, w, nil},
		{"short class weights", "differ in length", func(as map[string]*onnx.Attribute) { as["class_weights"].Floats = as["class_weights"].Floats[:1] }, w, nil},
		{"child out of range", "does not exist", func(as map[string]*onnx.Attribute) { as["nodes_truenodeids"].Ints[0] = 7 }, w, nil},
		{"weight on a missing node", "does not exist", nil, append(w, [4]float64{0, 9, 0, 1}), nil},
		{"class id out of range", "out of range", nil, append(w, [4]float64{0, 1, 3, 1}), nil},
		{"unknown mode", "unknown mode", func(as map[string]*onnx.Attribute) { as["nodes_modes"].Strings[0] = []byte("BRANCH_SOMETIMES") }, w, nil},
		{"duplicate node", "defined twice", func(as map[string]*onnx.Attribute) { as["nodes_nodeids"].Ints[2] = 1 }, w, nil},
		{"cycle", "cycle", func(as map[string]*onnx.Attribute) {
			as["nodes_modes"].Strings[1] = []byte("BRANCH_LEQ")
			as["nodes_truenodeids"].Ints[1] = 0 // node 1 back to the root
			as["nodes_falsenodeids"].Ints[1] = 2
		}, w, nil},
		{"self loop", "cycle", func(as map[string]*onnx.Attribute) { as["nodes_falsenodeids"].Ints[0] = 0 }, w, nil},
		{"feature beyond the input", "features", func(as map[string]*onnx.Attribute) { as["nodes_featureids"].Ints[0] = 3 }, w, nil},
		{"one class label", "at least 2", nil, w, []*onnx.Attribute{onnx.IntsAttr("classlabels_int64s", []int64{0})}},
		{"base_values length", "base_values", nil, w, []*onnx.Attribute{onnx.FloatsAttr("base_values", []float32{1, 2})}},
		{"both label kinds", "both", nil, w, []*onnx.Attribute{onnx.StringsAttr("classlabels_strings", "a", "b", "c")}},
		{"both values and as_tensor", "both", nil, w, []*onnx.Attribute{doubles("nodes_values_as_tensor", 1, 0, 0, 0)}},
		{"bad post_transform", "post_transform", nil, w, []*onnx.Attribute{onnx.StringAttr("post_transform", "EXP")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			extra := c.extra
			if len(extra) == 0 || extra[0].Name != "classlabels_int64s" {
				extra = append([]*onnx.Attribute{labels}, extra...)
			}
			_, err := runKernel("TreeEnsembleClassifier", mlDomain, 3, classicTree{prefix: "class", w: c.w, extra: extra, edit: c.edit}.attrs(), 2, x)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
		})
	}
	// The regressor shares the checks; its own: aggregate_function, n_targets.
	for _, extra := range [][]*onnx.Attribute{{onnx.StringAttr("aggregate_function", "MEDIAN")}, {onnx.IntAttr("n_targets", 0)}} {
		if _, err := runKernel("TreeEnsembleRegressor", mlDomain, 1, classicTree{prefix: "target", w: [][4]float64{{0, 1, 0, 1}}, extra: extra}.attrs(), 1, x); err == nil {
			t.Errorf("%s: want an error", extra[0].Name)
		}
	}
}

// TestTreeEnsembleSessionNamesNode: a broken tree fails the session with
// the node's name in the message.
func TestTreeEnsembleSessionNamesNode(t *testing.T) {
	g := &onnx.Graph{Name: "g"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 1)))
	n := g.NewNode("TreeEnsembleClassifier", mlDomain, "forest_7", []*onnx.Value{x}, "label", "scores")
	n.Attrs = classicTree{prefix: "class", w: [][4]float64{{0, 1, 0, 1}}, extra: []*onnx.Attribute{onnx.IntsAttr("classlabels_int64s", []int64{0, 1})},
		edit: func(as map[string]*onnx.Attribute) { as["nodes_truenodeids"].Ints[0] = 5 }}.attrs()
	g.Append(n)
	g.Outputs = append(g.Outputs, n.Output(0), n.Output(1))
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}, {Domain: mlDomain, Version: 3}}, Graph: g}
	_, err := NewSession(m, Options{})
	if err == nil || !strings.Contains(err.Error(), "forest_7") || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("got %v, want an error naming forest_7", err)
	}
}

// TestMLOpsRejectWithoutPanic: every ai.onnx.ml op, built in a session
// (which does not recover panics) from missing or inconsistent attributes,
// fails with an error or runs, and never panics.
func TestMLOpsRejectWithoutPanic(t *testing.T) {
	x := FromSlice(onnx.Float, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	fs := func(name string, v ...float32) *onnx.Attribute { return onnx.FloatsAttr(name, v) }
	is := func(name string, v ...int64) *onnx.Attribute { return onnx.IntsAttr(name, v) }
	attrSets := [][]*onnx.Attribute{
		nil,
		{fs("coefficients", 1, 2), fs("intercepts", 1, 2, 3), is("classlabels_ints", 1)},
		{fs("coefficients", 1), fs("rho"), is("vectors_per_class", 5, -1), fs("support_vectors", 1, 2), is("classlabels_ints", 1, 2)},
		{fs("coefficients", 1, 2, 3), fs("rho", 1), is("n_supports", 7), fs("kernel_params", 1)},
		{is("nodes_treeids", 0), is("nodes_nodeids", 0), onnx.StringsAttr("nodes_modes", "LEAF"), is("class_ids", 9), is("class_nodeids", 0), is("class_treeids", 0), is("classlabels_int64s", 0, 1)},
		{fs("offset", 1, 2), fs("scale"), is("inputdimensions", -1), onnx.StringsAttr("cats_strings", "a"), is("cats_int64s", 1, 2)},
		{fs("imputed_value_floats"), is("imputed_value_int64s", 1, 2, 3, 4)},
	}
	for _, op := range []string{"TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble", "ZipMap", "DictVectorizer", "CastMap", "LinearClassifier",
		"LinearRegressor", "Scaler", "Normalizer", "Imputer", "OneHotEncoder", "FeatureVectorizer", "CategoryMapper", "SVMClassifier", "SVMRegressor"} {
		for i, attrs := range attrSets {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s with attribute set %d: panic: %v", op, i, r)
					}
				}()
				g := &onnx.Graph{Name: "g"}
				in := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 3)))
				n := g.NewNode(op, mlDomain, "n", []*onnx.Value{in}, "y0", "y1")
				n.Attrs = attrs
				g.Append(n)
				g.Outputs = append(g.Outputs, n.Output(0))
				m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}, {Domain: mlDomain, Version: 3}}, Graph: g}
				if op == "TreeEnsemble" {
					m.Opsets[1].Version = 5
				}
				s, err := NewSession(m, Options{})
				if err != nil {
					return
				}
				_, _ = s.Run(map[string]*Tensor{"x": x})
			}()
		}
	}
}
