package interp

import (
	"fmt"
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// mlCase is one node run on inputs with the outputs expected: labels (or
// any exact output) as printed, scores within 1e-4.
type mlCase struct {
	name, op string
	attrs    []*onnx.Attribute
	in       []*Tensor
	nout     int
	exact    string    // fmt of output 0's shape and data, when set
	scores   []float64 // the last output's values
	shape    string    // the last output's shape, when set
	wantErr  bool
}

func (c mlCase) run(t *testing.T) {
	t.Helper()
	t.Run(c.name, func(t *testing.T) {
		out, err := runKernel(c.op, mlDomain, 1, c.attrs, max(c.nout, 1), c.in...)
		if c.wantErr {
			if err == nil {
				t.Errorf("want an error, got %v", out)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.exact != "" {
			if got := fmt.Sprint(out[0].Shape, out[0].Data); got != c.exact {
				t.Errorf("output 0: got %s, want %s", got, c.exact)
			}
		}
		last := out[len(out)-1]
		if c.shape != "" && fmt.Sprint(last.Shape) != c.shape {
			t.Errorf("shape %v, want %s", last.Shape, c.shape)
		}
		if c.scores != nil {
			closeTo(t, c.name, last, c.scores...)
		}
	})
}

func f32(shape []int, v ...float32) *Tensor { return FromSlice(onnx.Float, shape, v) }

func TestLinearModels(t *testing.T) {
	x := f32([]int{2, 2}, 1, 2, 3, -1)
	fs := func(name string, v ...float32) *onnx.Attribute { return onnx.FloatsAttr(name, v) }
	s := onnx.StringAttr
	three := []*onnx.Attribute{fs("coefficients", 1, 0, 0, 1, 1, 1), fs("intercepts", 0, .5, -1), onnx.IntsAttr("classlabels_ints", []int64{1, 2, 3})}
	// Row 0 scores [1 2.5 2], row 1 [3 -.5 1].
	one := []*onnx.Attribute{fs("coefficients", 1, -1), fs("intercepts", .5)} // row 0: -.5, row 1: 4.5
	sm0, sm1 := softmaxOf(1, 2.5, 2), softmaxOf(3, -.5, 1)
	for _, c := range []mlCase{
		{name: "LinearClassifier", op: "LinearClassifier", attrs: three, in: []*Tensor{x}, nout: 2, exact: "[2] [2 1]", scores: []float64{1, 2.5, 2, 3, -.5, 1}},
		{name: "LinearClassifier SOFTMAX", op: "LinearClassifier", attrs: append(three, s("post_transform", "SOFTMAX")), in: []*Tensor{x}, nout: 2, exact: "[2] [2 1]", scores: append(sm0, sm1...)},
		{name: "LinearClassifier LOGISTIC", op: "LinearClassifier", attrs: append(three, s("post_transform", "LOGISTIC")), in: []*Tensor{x}, nout: 2, exact: "[2] [2 1]",
			scores: []float64{sigmoid(1), sigmoid(2.5), sigmoid(2), sigmoid(3), sigmoid(-.5), sigmoid(1)}},
		{name: "LinearClassifier int64 input", op: "LinearClassifier", attrs: three, in: []*Tensor{FromSlice(onnx.Int64, []int{1, 2}, []int64{1, 2})}, nout: 2, exact: "[1] [2]", scores: []float64{1, 2.5, 2}},
		{name: "LinearClassifier one row, two string labels", op: "LinearClassifier", attrs: append(one, onnx.StringsAttr("classlabels_strings", "neg", "pos")), in: []*Tensor{x}, nout: 2,
			exact: "[2] [neg pos]", scores: []float64{1.5, -.5, -3.5, 4.5}, shape: "[2 2]"},
		{name: "LinearClassifier one row, LOGISTIC", op: "LinearClassifier", attrs: append(one, onnx.IntsAttr("classlabels_ints", []int64{4, 6}), s("post_transform", "LOGISTIC")), in: []*Tensor{x}, nout: 2,
			exact: "[2] [4 6]", scores: []float64{1 - sigmoid(-.5), sigmoid(-.5), 1 - sigmoid(4.5), sigmoid(4.5)}},
		{name: "LinearClassifier one row, SOFTMAX ignored", op: "LinearClassifier", attrs: append(one, onnx.IntsAttr("classlabels_ints", []int64{4, 6}), s("post_transform", "SOFTMAX")), in: []*Tensor{x}, nout: 2,
			exact: "[2] [4 6]", scores: []float64{1.5, -.5, -3.5, 4.5}},
		{name: "LinearClassifier one row, one label", op: "LinearClassifier", attrs: append(one, onnx.IntsAttr("classlabels_ints", []int64{7})), in: []*Tensor{x}, nout: 2, wantErr: true},
		{name: "LinearClassifier coefficients for another width", op: "LinearClassifier", attrs: three, in: []*Tensor{f32([]int{1, 3}, 1, 2, 3)}, nout: 2, wantErr: true},
		{name: "LinearClassifier labels for other classes", op: "LinearClassifier", attrs: append(three[:2:2], onnx.IntsAttr("classlabels_ints", []int64{1, 2})), in: []*Tensor{x}, nout: 2, wantErr: true},
		{name: "LinearRegressor", op: "LinearRegressor", attrs: []*onnx.Attribute{fs("coefficients", 1, 2), fs("intercepts", 3)}, in: []*Tensor{x}, scores: []float64{8, 4}, shape: "[2 1]"},
		{name: "LinearRegressor two targets", op: "LinearRegressor", attrs: []*onnx.Attribute{fs("coefficients", 1, 0, 0, 1), fs("intercepts", 1, 2), onnx.IntAttr("targets", 2)}, in: []*Tensor{x},
			scores: []float64{2, 4, 4, 1}, shape: "[2 2]"},
		{name: "LinearRegressor no intercepts", op: "LinearRegressor", attrs: []*onnx.Attribute{fs("coefficients", 1, 1)}, in: []*Tensor{x}, scores: []float64{3, 2}},
		{name: "LinearRegressor wrong width", op: "LinearRegressor", attrs: []*onnx.Attribute{fs("coefficients", 1, 1, 1)}, in: []*Tensor{x}, wantErr: true},
	} {
		c.run(t)
	}
}

func TestScalerNormalizerImputer(t *testing.T) {
	x := f32([]int{2, 2}, 1, 2, 3, -1)
	fs := func(name string, v ...float32) *onnx.Attribute { return onnx.FloatsAttr(name, v) }
	nan := float32(math.NaN())
	s5, s10 := math.Sqrt(5), math.Sqrt(10)
	for _, c := range []mlCase{
		{name: "Scaler per feature", op: "Scaler", attrs: []*onnx.Attribute{fs("offset", 1, 2), fs("scale", 2, .5)}, in: []*Tensor{x}, scores: []float64{0, 0, 4, -1.5}},
		{name: "Scaler broadcast, int64 input", op: "Scaler", attrs: []*onnx.Attribute{fs("offset", 1), fs("scale", 3)}, in: []*Tensor{FromSlice(onnx.Int64, []int{3}, []int64{1, 2, 4})}, scores: []float64{0, 3, 9}},
		{name: "Scaler wrong width", op: "Scaler", attrs: []*onnx.Attribute{fs("offset", 1, 2, 3)}, in: []*Tensor{x}, wantErr: true},
		{name: "Normalizer MAX", op: "Normalizer", attrs: []*onnx.Attribute{onnx.StringAttr("norm", "MAX")}, in: []*Tensor{x}, scores: []float64{.5, 1, 1, -1.0 / 3}},
		{name: "Normalizer L1", op: "Normalizer", attrs: []*onnx.Attribute{onnx.StringAttr("norm", "L1")}, in: []*Tensor{x}, scores: []float64{1.0 / 3, 2.0 / 3, .75, -.25}},
		{name: "Normalizer L2", op: "Normalizer", attrs: []*onnx.Attribute{onnx.StringAttr("norm", "L2")}, in: []*Tensor{x}, scores: []float64{1 / s5, 2 / s5, 3 / s10, -1 / s10}},
		{name: "Normalizer zero row", op: "Normalizer", attrs: []*onnx.Attribute{onnx.StringAttr("norm", "L2")}, in: []*Tensor{f32([]int{1, 2}, 0, 0)}, scores: []float64{0, 0}},
		{name: "Normalizer MAX of negatives", op: "Normalizer", in: []*Tensor{f32([]int{1, 2}, -2, -4)}, scores: []float64{1, 2}},
		{name: "Normalizer bad norm", op: "Normalizer", attrs: []*onnx.Attribute{onnx.StringAttr("norm", "L3")}, in: []*Tensor{x}, wantErr: true},
		{name: "Imputer NaN", op: "Imputer", attrs: []*onnx.Attribute{fs("imputed_value_floats", 10, 20), onnx.FloatAttr("replaced_value_float", nan)},
			in: []*Tensor{f32([]int{2, 2}, nan, 1, 2, nan)}, scores: []float64{10, 1, 2, 20}},
		{name: "Imputer value", op: "Imputer", attrs: []*onnx.Attribute{fs("imputed_value_floats", 9), onnx.FloatAttr("replaced_value_float", -1)},
			in: []*Tensor{x}, scores: []float64{1, 2, 3, 9}},
		{name: "Imputer int64", op: "Imputer", attrs: []*onnx.Attribute{onnx.IntsAttr("imputed_value_int64s", []int64{7})},
			in: []*Tensor{FromSlice(onnx.Int64, []int{2, 2}, []int64{0, 1, 2, 0})}, exact: "[2 2] [7 1 2 7]"},
		{name: "Imputer without values", op: "Imputer", in: []*Tensor{x}, wantErr: true},
	} {
		c.run(t)
	}
}

func TestEncoders(t *testing.T) {
	i64 := func(shape []int, v ...int64) *Tensor { return FromSlice(onnx.Int64, shape, v) }
	cm := []*onnx.Attribute{onnx.StringsAttr("cats_strings", "a", "b"), onnx.IntsAttr("cats_int64s", []int64{1, 2})}
	for _, c := range []mlCase{
		{name: "OneHotEncoder int64", op: "OneHotEncoder", attrs: []*onnx.Attribute{onnx.IntsAttr("cats_int64s", []int64{1, 3, 5})}, in: []*Tensor{i64([]int{3}, 3, 4, 1)},
			scores: []float64{0, 1, 0, 0, 0, 0, 1, 0, 0}, shape: "[3 3]"},
		{name: "OneHotEncoder strings", op: "OneHotEncoder", attrs: []*onnx.Attribute{onnx.StringsAttr("cats_strings", "a", "b")}, in: []*Tensor{strs([]int{1, 2}, "b", "a")},
			scores: []float64{0, 1, 1, 0}, shape: "[1 2 2]"},
		{name: "OneHotEncoder float as int", op: "OneHotEncoder", attrs: []*onnx.Attribute{onnx.IntsAttr("cats_int64s", []int64{2, 3})}, in: []*Tensor{f32([]int{1}, 3)}, scores: []float64{0, 1}},
		{name: "OneHotEncoder zeros=0 unknown", op: "OneHotEncoder", attrs: []*onnx.Attribute{onnx.IntsAttr("cats_int64s", []int64{1}), onnx.IntAttr("zeros", 0)}, in: []*Tensor{i64([]int{1}, 2)}, wantErr: true},
		{name: "FeatureVectorizer pads", op: "FeatureVectorizer", attrs: []*onnx.Attribute{onnx.IntsAttr("inputdimensions", []int64{3, 1})},
			in: []*Tensor{f32([]int{2, 2}, 1, 2, 3, 4), i64([]int{2, 1}, 5, 6)}, scores: []float64{1, 2, 0, 5, 3, 4, 0, 6}, shape: "[2 4]"},
		{name: "FeatureVectorizer truncates", op: "FeatureVectorizer", attrs: []*onnx.Attribute{onnx.IntsAttr("inputdimensions", []int64{1, 1})},
			in: []*Tensor{f32([]int{2, 2}, 1, 2, 3, 4), i64([]int{2, 1}, 5, 6)}, scores: []float64{1, 5, 3, 6}, shape: "[2 2]"},
		{name: "FeatureVectorizer rows differ", op: "FeatureVectorizer", attrs: []*onnx.Attribute{onnx.IntsAttr("inputdimensions", []int64{2, 1})},
			in: []*Tensor{f32([]int{2, 2}, 1, 2, 3, 4), i64([]int{3, 1}, 5, 6, 7)}, wantErr: true},
		{name: "CategoryMapper to int64", op: "CategoryMapper", attrs: cm, in: []*Tensor{strs([]int{2}, "b", "x")}, exact: "[2] [2 -1]"},
		{name: "CategoryMapper to string", op: "CategoryMapper", attrs: append(cm, onnx.StringAttr("default_string", "?")), in: []*Tensor{i64([]int{2}, 1, 9)}, exact: "[2] [a ?]"},
		{name: "CategoryMapper lengths", op: "CategoryMapper", attrs: cm[:1], in: []*Tensor{strs([]int{1}, "a")}, wantErr: true},
	} {
		c.run(t)
	}
}
