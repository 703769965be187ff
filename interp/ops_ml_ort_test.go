package interp_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

const ml = "ai.onnx.ml"

// forest is a random tree ensemble in the classic ops' attributes: full
// trees of the given depth, nodes in breadth-first order.
type forest struct {
	treeIDs, nodeIDs, feats, tIDs, fIDs, missing []int64
	modes                                        []string
	values                                       []float32
	wTree, wNode, wID                            []int64
	w                                            []float32
}

// randomForest: each leaf weighs the targets ids(leaf) returns, each by
// weight().
func randomForest(r *rand.Rand, trees, depth, features int, ids func() []int64, weight func() float32) forest {
	var f forest
	modes := []string{"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"}
	inner := 1<<depth - 1
	for t := range trees {
		for n := range 2*inner + 1 {
			f.treeIDs, f.nodeIDs = append(f.treeIDs, int64(t)), append(f.nodeIDs, int64(n))
			if n < inner {
				f.feats = append(f.feats, int64(r.IntN(features)))
				f.modes = append(f.modes, modes[r.IntN(len(modes))])
				f.values = append(f.values, float32(r.NormFloat64()))
				f.tIDs, f.fIDs = append(f.tIDs, int64(2*n+1)), append(f.fIDs, int64(2*n+2))
				f.missing = append(f.missing, int64(r.IntN(2)))
				continue
			}
			f.feats, f.modes, f.values = append(f.feats, 0), append(f.modes, "LEAF"), append(f.values, 0)
			f.tIDs, f.fIDs, f.missing = append(f.tIDs, 0), append(f.fIDs, 0), append(f.missing, 0)
			for _, id := range ids() {
				f.wTree, f.wNode, f.wID = append(f.wTree, int64(t)), append(f.wNode, int64(n)), append(f.wID, id)
				f.w = append(f.w, weight())
			}
		}
	}
	return f
}

// attrs writes the forest for prefix "class" or "target"; asTensor puts
// the thresholds and weights in the opset-3 double tensors.
func (f forest) attrs(prefix string, asTensor bool) []*onnx.Attribute {
	as := []*onnx.Attribute{
		onnx.IntsAttr("nodes_treeids", f.treeIDs), onnx.IntsAttr("nodes_nodeids", f.nodeIDs), onnx.IntsAttr("nodes_featureids", f.feats),
		onnx.StringsAttr("nodes_modes", f.modes...), onnx.IntsAttr("nodes_truenodeids", f.tIDs), onnx.IntsAttr("nodes_falsenodeids", f.fIDs),
		onnx.IntsAttr("nodes_missing_value_tracks_true", f.missing),
		onnx.IntsAttr(prefix+"_treeids", f.wTree), onnx.IntsAttr(prefix+"_nodeids", f.wNode), onnx.IntsAttr(prefix+"_ids", f.wID),
	}
	if !asTensor {
		return append(as, onnx.FloatsAttr("nodes_values", f.values), onnx.FloatsAttr(prefix+"_weights", f.w))
	}
	return append(as, doublesAttr("nodes_values_as_tensor", f.values), doublesAttr(prefix+"_weights_as_tensor", f.w))
}

func doublesAttr(name string, v []float32) *onnx.Attribute {
	d := make([]float64, len(v))
	for i, x := range v {
		d[i] = float64(x)
	}
	t, err := interp.ToONNX(name, interp.FromSlice(onnx.Double, []int{len(d)}, d))
	if err != nil {
		panic(err)
	}
	return onnx.TensorAttr(name, t)
}

// TestMLTreesMatchORT checks TreeEnsembleClassifier and
// TreeEnsembleRegressor against ONNX Runtime's kernels on random forests
// (inputs with NaNs, so that missing-value tracking counts).
func TestMLTreesMatchORT(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	x := normal(r, 64, 5)
	for i := range 20 {
		x.Floats()[r.IntN(x.Len())] = float32(math.NaN())
		_ = i
	}
	allClasses := func(n int) func() []int64 {
		return func() []int64 {
			ids := make([]int64, n)
			for i := range ids {
				ids[i] = int64(i)
			}
			return ids
		}
	}
	one := func() []int64 { return []int64{0} }
	prob := func() float32 { return r.Float32() / 8 }
	raw := func() float32 { return float32(r.NormFloat64()) }
	multi := randomForest(r, 8, 3, 5, allClasses(3), prob)
	gbm := randomForest(r, 6, 4, 5, allClasses(4), raw)
	binPos := randomForest(r, 8, 3, 5, one, prob)
	binMixed := randomForest(r, 8, 3, 5, one, raw)
	both := randomForest(r, 5, 2, 5, allClasses(2), prob)
	reg := randomForest(r, 7, 3, 5, one, raw)
	reg3 := randomForest(r, 7, 3, 5, allClasses(3), raw)
	// The opset-3 double attributes go with double inputs: ONNX Runtime
	// reads them as the input's type.
	xd := interp.Make(onnx.Double, x.Shape...)
	for i, v := range x.Floats() {
		xd.Data.([]float64)[i] = float64(v)
	}
	n1 := onnx.IntAttr("n_targets", 1)
	ints3 := onnx.IntsAttr("classlabels_int64s", []int64{3, 5, 7})
	ints2 := onnx.IntsAttr("classlabels_int64s", []int64{0, 1})
	s := onnx.StringAttr
	post := func(p string) *onnx.Attribute { return s("post_transform", p) }
	cases := []ortNode{
		{name: "classifier, probabilities", attrs: append(multi.attrs("class", false), ints3)},
		{name: "classifier, string labels, base_values", attrs: append(multi.attrs("class", false), onnx.StringsAttr("classlabels_strings", "a", "b", "c"), onnx.FloatsAttr("base_values", []float32{.1, -.2, .05}))},
		{name: "classifier, SOFTMAX", attrs: append(gbm.attrs("class", false), onnx.IntsAttr("classlabels_int64s", []int64{0, 1, 2, 3}), post("SOFTMAX"))},
		{name: "classifier, LOGISTIC", attrs: append(gbm.attrs("class", false), onnx.IntsAttr("classlabels_int64s", []int64{0, 1, 2, 3}), post("LOGISTIC"))},
		{name: "classifier, SOFTMAX_ZERO", attrs: append(multi.attrs("class", false), ints3, post("SOFTMAX_ZERO"))},
		{name: "classifier, PROBIT", attrs: append(multi.attrs("class", false), ints3, post("PROBIT")), atol: 5e-4},
		{name: "classifier, opset 3 tensors", domainOpset: 3, attrs: append(multi.attrs("class", true), ints3, doublesAttr("base_values_as_tensor", []float32{0, .1, 0})), in: []*interp.Tensor{xd}},
		{name: "binary, nonnegative weights", attrs: append(binPos.attrs("class", false), ints2)},
		{name: "binary, nonnegative weights, strings", attrs: append(binPos.attrs("class", false), onnx.StringsAttr("classlabels_strings", "no", "yes"))},
		{name: "binary, nonnegative weights, LOGISTIC", attrs: append(binPos.attrs("class", false), ints2, post("LOGISTIC"))},
		{name: "binary, mixed weights", attrs: append(binMixed.attrs("class", false), ints2)},
		{name: "binary, nonnegative weights, SOFTMAX", attrs: append(binPos.attrs("class", false), ints2, post("SOFTMAX"))},
		// ONNX Runtime's float32 erfinv cancels near s = .5 (1 - x² rounds):
		// up to 2e-4 off there.
		{name: "binary, nonnegative weights, PROBIT", attrs: append(binPos.attrs("class", false), ints2, post("PROBIT")), atol: 5e-4},
		{name: "binary, mixed weights, LOGISTIC", attrs: append(binMixed.attrs("class", false), ints2, post("LOGISTIC"))},
		{name: "binary, one base value", attrs: append(binMixed.attrs("class", false), ints2, onnx.FloatsAttr("base_values", []float32{.3}))},
		{name: "two classes, both weighted", attrs: append(both.attrs("class", false), ints2)},
		{name: "two classes, both weighted, base values", attrs: append(both.attrs("class", false), ints2, onnx.FloatsAttr("base_values", []float32{.2, .2}))},
		{name: "regressor SUM", op: "TreeEnsembleRegressor", attrs: append(reg.attrs("target", false), n1)},
		{name: "regressor AVERAGE, base", op: "TreeEnsembleRegressor", attrs: append(reg.attrs("target", false), n1, s("aggregate_function", "AVERAGE"), onnx.FloatsAttr("base_values", []float32{.5}))},
		{name: "regressor MIN", op: "TreeEnsembleRegressor", attrs: append(reg.attrs("target", false), n1, s("aggregate_function", "MIN"))},
		{name: "regressor MAX", op: "TreeEnsembleRegressor", attrs: append(reg.attrs("target", false), n1, s("aggregate_function", "MAX"))},
		{name: "regressor, one target ignores LOGISTIC", op: "TreeEnsembleRegressor", attrs: append(reg.attrs("target", false), n1, post("LOGISTIC"))},
		{name: "regressor, three targets", op: "TreeEnsembleRegressor", attrs: append(reg3.attrs("target", false), onnx.IntAttr("n_targets", 3), onnx.FloatsAttr("base_values", []float32{1, 2, 3}))},
		{name: "regressor, three targets, MAX, SOFTMAX", op: "TreeEnsembleRegressor", attrs: append(reg3.attrs("target", false), onnx.IntAttr("n_targets", 3), s("aggregate_function", "MAX"), post("SOFTMAX"))},
		{name: "regressor, opset 3 tensors", op: "TreeEnsembleRegressor", domainOpset: 3, attrs: append(reg3.attrs("target", true), onnx.IntAttr("n_targets", 3), s("aggregate_function", "AVERAGE")),
			in: []*interp.Tensor{xd}},
	}
	for _, c := range cases {
		if c.op == "" {
			c.op = "TreeEnsembleClassifier"
			c.outs = 2
		}
		c.domain = ml
		if c.in == nil {
			c.in = []*interp.Tensor{x}
		}
		t.Run(c.name, func(t *testing.T) { checkORT(t, c) })
	}
}

// TestMLLinearAndSVMMatchORT: the linear models, feature transforms and
// SVMs against ONNX Runtime.
func TestMLLinearAndSVMMatchORT(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	x := normal(r, 32, 4)
	fs := func(name string, n int, scale float64) *onnx.Attribute {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * scale)
		}
		return onnx.FloatsAttr(name, v)
	}
	s := onnx.StringAttr
	post := func(p string) *onnx.Attribute { return s("post_transform", p) }
	labels3 := onnx.IntsAttr("classlabels_ints", []int64{2, 4, 6})
	lin3 := []*onnx.Attribute{fs("coefficients", 12, 1), fs("intercepts", 3, 1), labels3}
	lin1 := []*onnx.Attribute{fs("coefficients", 4, 1), fs("intercepts", 1, 1)}
	svm3 := []*onnx.Attribute{fs("support_vectors", 6*4, 1), onnx.IntsAttr("vectors_per_class", []int64{2, 3, 1}), fs("coefficients", 2*6, 1), fs("rho", 3, .5),
		onnx.StringsAttr("classlabels_strings", "x", "y", "z")}
	svm2 := []*onnx.Attribute{fs("support_vectors", 5*4, 1), onnx.IntsAttr("vectors_per_class", []int64{3, 2}), fs("coefficients", 5, 1), fs("rho", 1, .5),
		onnx.IntsAttr("classlabels_ints", []int64{0, 1})}
	noKernel := onnx.FloatsAttr("kernel_params", []float32{0, 0, 0}) // ONNX Runtime requires the attribute
	kernels := func(k string, p ...float32) []*onnx.Attribute {
		return []*onnx.Attribute{s("kernel_type", k), onnx.FloatsAttr("kernel_params", p)}
	}
	svr := []*onnx.Attribute{fs("support_vectors", 6*4, 1), fs("coefficients", 6, 1), fs("rho", 1, 1), onnx.IntAttr("n_supports", 6)}
	cat := func(a ...[]*onnx.Attribute) []*onnx.Attribute {
		var out []*onnx.Attribute
		for _, x := range a {
			out = append(out, x...)
		}
		return out
	}
	nanX := normal(r, 8, 4)
	nanX.Floats()[3], nanX.Floats()[9] = float32(math.NaN()), float32(math.NaN())
	ints := interp.FromSlice(onnx.Int64, []int{6}, []int64{1, 3, 5, 2, 1, 9})
	words := interp.FromSlice(onnx.String, []int{2, 3}, []string{"cat", "dog", "emu", "dog", "yak", "cat"})
	cases := []ortNode{
		{name: "LinearClassifier", op: "LinearClassifier", attrs: lin3, outs: 2},
		{name: "LinearClassifier SOFTMAX", op: "LinearClassifier", attrs: append(lin3, post("SOFTMAX")), outs: 2},
		{name: "LinearClassifier LOGISTIC", op: "LinearClassifier", attrs: append(lin3, post("LOGISTIC")), outs: 2},
		{name: "LinearClassifier one row, two labels", op: "LinearClassifier", attrs: append(lin1, onnx.StringsAttr("classlabels_strings", "neg", "pos")), outs: 2},
		{name: "LinearClassifier one row, two labels, LOGISTIC", op: "LinearClassifier", attrs: append(lin1, onnx.IntsAttr("classlabels_ints", []int64{3, 9}), post("LOGISTIC")), outs: 2},
		{name: "LinearRegressor", op: "LinearRegressor", attrs: lin1},
		{name: "LinearRegressor three targets SOFTMAX", op: "LinearRegressor", attrs: []*onnx.Attribute{fs("coefficients", 12, 1), fs("intercepts", 3, 1), onnx.IntAttr("targets", 3), post("SOFTMAX")}},
		{name: "Scaler", op: "Scaler", attrs: []*onnx.Attribute{fs("offset", 4, 1), fs("scale", 4, 2)}},
		{name: "Scaler broadcast", op: "Scaler", attrs: []*onnx.Attribute{fs("offset", 1, 1), fs("scale", 1, 2)}},
		{name: "Normalizer MAX", op: "Normalizer", attrs: []*onnx.Attribute{s("norm", "MAX")}},
		{name: "Normalizer L1", op: "Normalizer", attrs: []*onnx.Attribute{s("norm", "L1")}},
		{name: "Normalizer L2", op: "Normalizer", attrs: []*onnx.Attribute{s("norm", "L2")}},
		{name: "Imputer", op: "Imputer", attrs: []*onnx.Attribute{fs("imputed_value_floats", 4, 1), onnx.FloatAttr("replaced_value_float", float32(math.NaN()))}, in: []*interp.Tensor{nanX}},
		{name: "Imputer int64", op: "Imputer", attrs: []*onnx.Attribute{onnx.IntsAttr("imputed_value_int64s", []int64{-7}), onnx.IntAttr("replaced_value_int64", 1)},
			in: []*interp.Tensor{interp.FromSlice(onnx.Int64, []int{2, 3}, []int64{1, 3, 5, 2, 1, 9})}},
		{name: "OneHotEncoder int64", op: "OneHotEncoder", attrs: []*onnx.Attribute{onnx.IntsAttr("cats_int64s", []int64{1, 2, 5, 7})}, in: []*interp.Tensor{ints}},
		{name: "OneHotEncoder strings", op: "OneHotEncoder", attrs: []*onnx.Attribute{onnx.StringsAttr("cats_strings", "cat", "dog", "emu")}, in: []*interp.Tensor{words}},
		{name: "CategoryMapper strings", op: "CategoryMapper", attrs: []*onnx.Attribute{onnx.StringsAttr("cats_strings", "cat", "dog"), onnx.IntsAttr("cats_int64s", []int64{10, 20}), onnx.IntAttr("default_int64", 99)},
			in: []*interp.Tensor{words}},
		{name: "CategoryMapper ints", op: "CategoryMapper", attrs: []*onnx.Attribute{onnx.StringsAttr("cats_strings", "one", "two"), onnx.IntsAttr("cats_int64s", []int64{1, 2})}, in: []*interp.Tensor{ints}},
		{name: "FeatureVectorizer", op: "FeatureVectorizer", attrs: []*onnx.Attribute{onnx.IntsAttr("inputdimensions", []int64{3, 2, 2})},
			in: []*interp.Tensor{normal(r, 5, 4), normal(r, 5, 2), normal(r, 5, 1)}},
		{name: "SVMClassifier ovo, LINEAR", op: "SVMClassifier", attrs: append(svm3, noKernel), outs: 2},
		{name: "SVMClassifier ovo, RBF", op: "SVMClassifier", attrs: cat(svm3, kernels("RBF", .3, 0, 0)), outs: 2},
		{name: "SVMClassifier ovo, POLY", op: "SVMClassifier", attrs: cat(svm3, kernels("POLY", .5, 1, 3)), outs: 2, rtol: 1e-3},
		{name: "SVMClassifier ovo, SIGMOID", op: "SVMClassifier", attrs: cat(svm3, kernels("SIGMOID", .2, .1, 0)), outs: 2},
		{name: "SVMClassifier ovo, probabilities", op: "SVMClassifier", attrs: cat(svm3, kernels("RBF", .3, 0, 0), []*onnx.Attribute{fs("prob_a", 3, 1), fs("prob_b", 3, .1)}), outs: 2, atol: 1e-4},
		{name: "SVMClassifier binary", op: "SVMClassifier", attrs: cat(svm2, kernels("RBF", .3, 0, 0)), outs: 2},
		{name: "SVMClassifier binary, LOGISTIC", op: "SVMClassifier", attrs: cat(svm2, kernels("RBF", .3, 0, 0), []*onnx.Attribute{post("LOGISTIC")}), outs: 2},
		{name: "SVMClassifier binary, probabilities", op: "SVMClassifier", attrs: cat(svm2, kernels("RBF", .3, 0, 0), []*onnx.Attribute{fs("prob_a", 1, 1), fs("prob_b", 1, .1)}), outs: 2, atol: 1e-4},
		{name: "SVMClassifier liblinear", op: "SVMClassifier", attrs: []*onnx.Attribute{fs("coefficients", 12, 1), fs("rho", 1, 1), labels3, noKernel}, outs: 2},
		{name: "SVMClassifier liblinear, two classes", op: "SVMClassifier", attrs: []*onnx.Attribute{fs("coefficients", 8, 1), fs("rho", 1, 1), onnx.IntsAttr("classlabels_ints", []int64{0, 1}), noKernel}, outs: 2},
		{name: "SVMRegressor RBF", op: "SVMRegressor", attrs: cat(svr, kernels("RBF", .3, 0, 0))},
		{name: "SVMRegressor POLY", op: "SVMRegressor", attrs: cat(svr, kernels("POLY", .5, 1, 2))},
		{name: "SVMRegressor SIGMOID one_class", op: "SVMRegressor", attrs: cat(svr, kernels("SIGMOID", .2, .1, 0), []*onnx.Attribute{onnx.IntAttr("one_class", 1)})},
		{name: "SVMRegressor liblinear", op: "SVMRegressor", attrs: []*onnx.Attribute{fs("coefficients", 4, 1), fs("rho", 1, 1), onnx.IntAttr("n_supports", 0), noKernel}},
		{name: "LinearClassifier one row, SOFTMAX", op: "LinearClassifier", attrs: append(lin1, onnx.IntsAttr("classlabels_ints", []int64{3, 9}), post("SOFTMAX")), outs: 2},
		{name: "SVMClassifier binary, SOFTMAX", op: "SVMClassifier", attrs: cat(svm2, kernels("RBF", .3, 0, 0), []*onnx.Attribute{post("SOFTMAX")}), outs: 2},
		{name: "SVMClassifier liblinear, two classes, LOGISTIC", op: "SVMClassifier", attrs: []*onnx.Attribute{fs("coefficients", 8, 1), fs("rho", 1, 1), onnx.IntsAttr("classlabels_ints", []int64{0, 1}), noKernel, post("LOGISTIC")}, outs: 2},
	}
	for _, c := range cases {
		c.domain = ml
		if c.in == nil {
			c.in = []*interp.Tensor{x}
		}
		t.Run(c.name, func(t *testing.T) { checkORT(t, c) })
	}
}

// TestMLShapeTypes: shape inference types a classifier's labels by its
// label attribute and ZipMap's output, which ONNX Runtime's node binding
// cannot return, as a sequence of maps.
func TestMLShapeTypes(t *testing.T) {
	f := randomForest(rand.New(rand.NewPCG(1, 2)), 2, 2, 2, func() []int64 { return []int64{0, 1} }, func() float32 { return .25 })
	for _, c := range []struct {
		labels                  *onnx.Attribute
		label, scores, probsMap string
	}{
		{onnx.IntsAttr("classlabels_int64s", []int64{0, 1}), "int64[N]", "float32[N,2]", "seq(map(int64,float32))"},
		{onnx.StringsAttr("classlabels_strings", "a", "b"), "string[N]", "float32[N,2]", "seq(map(string,float32))"},
	} {
		g := &onnx.Graph{Name: "forest"}
		x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.Shape{onnx.Sym("N"), onnx.D(2)}))
		te := g.NewNode("TreeEnsembleClassifier", ml, "forest", []*onnx.Value{x}, "label", "scores")
		te.Attrs = append(f.attrs("class", false), c.labels)
		g.Append(te)
		zip := g.NewNode("ZipMap", ml, "zip", []*onnx.Value{te.Output(1)}, "probs")
		zip.Attrs = []*onnx.Attribute{c.labels}
		g.Append(zip)
		g.Outputs = append(g.Outputs, te.Output(0), zip.Output(0))
		m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}, {Domain: ml, Version: 1}}, Graph: g}
		if _, err := interp.InferShapes(m, interp.ShapeOptions{Strict: true}); err != nil {
			t.Fatal(err)
		}
		for v, want := range map[*onnx.Value]string{te.Output(0): c.label, te.Output(1): c.scores, zip.Output(0): c.probsMap} {
			if got := fmt.Sprint(v.Type); got != want {
				t.Errorf("%s: type %s, want %s", v.Name, got, want)
			}
		}
	}
}
