package interp

import (
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func TestSVMRegressor(t *testing.T) {
	fs := func(name string, v ...float32) *onnx.Attribute { return onnx.FloatsAttr(name, v) }
	s := onnx.StringAttr
	// Two support vectors (0,0) and (1,1), coefficients 1 and -1, rho .1.
	sv := []*onnx.Attribute{fs("support_vectors", 0, 0, 1, 1), fs("coefficients", 1, -1), fs("rho", .1), onnx.IntAttr("n_supports", 2)}
	x := f32([]int{2, 2}, 0, 0, 1, 1)
	e := math.Exp
	for _, c := range []mlCase{
		{name: "liblinear", op: "SVMRegressor", attrs: []*onnx.Attribute{fs("coefficients", 1, 2), fs("rho", .5)}, in: []*Tensor{x}, scores: []float64{.5, 3.5}, shape: "[2 1]"},
		// RBF: exp(-γ·|x-v|²), γ = .5: row 0 K = [1, e⁻¹], row 1 [e⁻¹, 1].
		{name: "RBF", op: "SVMRegressor", attrs: append(sv, s("kernel_type", "RBF"), fs("kernel_params", .5, 0, 0)), in: []*Tensor{x},
			scores: []float64{1 - e(-1) + .1, e(-1) - 1 + .1}},
		// POLY: (γ·x·v + c)^d with γ 1, c 1, d 2: row 1 K = [1, 9].
		{name: "POLY", op: "SVMRegressor", attrs: append(sv, s("kernel_type", "POLY"), fs("kernel_params", 1, 1, 2)), in: []*Tensor{x}, scores: []float64{.1, 1 - 9 + .1}},
		{name: "SIGMOID", op: "SVMRegressor", attrs: append(sv, s("kernel_type", "SIGMOID"), fs("kernel_params", 1, 1, 0)), in: []*Tensor{x},
			scores: []float64{.1, math.Tanh(1) - math.Tanh(3) + .1}},
		{name: "LINEAR kernel", op: "SVMRegressor", attrs: sv, in: []*Tensor{x}, scores: []float64{.1, -1.9}},
		{name: "one_class", op: "SVMRegressor", attrs: append(sv, onnx.IntAttr("one_class", 1)), in: []*Tensor{x}, scores: []float64{1, -1}},
		{name: "wrong width", op: "SVMRegressor", attrs: sv, in: []*Tensor{f32([]int{1, 3}, 1, 2, 3)}, wantErr: true},
		{name: "coefficients for other vectors", op: "SVMRegressor", attrs: []*onnx.Attribute{fs("support_vectors", 0, 0, 1, 1), fs("coefficients", 1), fs("rho", 0), onnx.IntAttr("n_supports", 2)}, in: []*Tensor{x}, wantErr: true},
		{name: "bad kernel", op: "SVMRegressor", attrs: append(sv, s("kernel_type", "CUBIC")), in: []*Tensor{x}, wantErr: true},
	} {
		c.run(t)
	}
}

func TestSVMClassifier(t *testing.T) {
	fs := func(name string, v ...float32) *onnx.Attribute { return onnx.FloatsAttr(name, v) }
	s := onnx.StringAttr
	// Three classes, one support vector each: (1,0), (0,1), (-1,-1); linear
	// kernel. Coefficient rows [1 -1 1] and [1 1 -1]: the pair (0,1) weighs
	// K0 by row 0 and K1 by row 0; (0,2) K0 by row 1, K2 by row 0; (1,2) K1
	// by row 1, K2 by row 1. Row (2,0): K = [2 0 -2], pairs [2 0 2], votes
	// 0, 2, 1: a tie won by class 0. Row (0,3): K = [0 3 -3], pairs
	// [-3 -3 6], votes 1, 2, 1: class 1.
	three := []*onnx.Attribute{fs("support_vectors", 1, 0, 0, 1, -1, -1), onnx.IntsAttr("vectors_per_class", []int64{1, 1, 1}),
		fs("coefficients", 1, -1, 1, 1, 1, -1), fs("rho", 0, 0, 0), onnx.StringsAttr("classlabels_strings", "A", "B", "C")}
	x3 := f32([]int{2, 2}, 2, 0, 0, 3)
	// Two classes: vectors (1,0) and (0,1), coefficients [1 -1], rho .5:
	// s = K0 - K1 + .5, positive votes for class 0.
	two := []*onnx.Attribute{fs("support_vectors", 1, 0, 0, 1), onnx.IntsAttr("vectors_per_class", []int64{1, 1}),
		fs("coefficients", 1, -1), fs("rho", .5), onnx.IntsAttr("classlabels_ints", []int64{4, 6})}
	x2 := f32([]int{2, 2}, 2, 0, 0, 2) // s = 2.5, -1.5
	// Platt: p = 1 - σ(s·a + b) per pair, a = -2, b = .1.
	p := func(s float64) float64 { return 1 - sigmoid(s*-2+.1) }
	for _, c := range []mlCase{
		{name: "ovo votes", op: "SVMClassifier", attrs: three, in: []*Tensor{x3}, nout: 2, exact: "[2] [A B]", scores: []float64{2, 0, 2, -3, -3, 6}, shape: "[2 3]"},
		{name: "ovo votes, LOGISTIC", op: "SVMClassifier", attrs: append(three, s("post_transform", "LOGISTIC")), in: []*Tensor{x3}, nout: 2, exact: "[2] [A B]",
			scores: []float64{sigmoid(2), .5, sigmoid(2), sigmoid(-3), sigmoid(-3), sigmoid(6)}},
		{name: "binary", op: "SVMClassifier", attrs: two, in: []*Tensor{x2}, nout: 2, exact: "[2] [4 6]", scores: []float64{-2.5, 2.5, 1.5, -1.5}, shape: "[2 2]"},
		{name: "binary, transformed as ONNX Runtime does", op: "SVMClassifier", attrs: append(two, s("post_transform", "LOGISTIC")), in: []*Tensor{x2}, nout: 2, exact: "[2] [4 6]",
			scores: []float64{1 - sigmoid(2.5), sigmoid(2.5), 1 - sigmoid(-1.5), sigmoid(-1.5)}},
		{name: "binary, SOFTMAX ignored as ONNX Runtime does", op: "SVMClassifier", attrs: append(two, s("post_transform", "SOFTMAX")), in: []*Tensor{x2}, nout: 2, exact: "[2] [4 6]",
			scores: []float64{-1.5, 2.5, 2.5, -1.5}},
		{name: "binary, probabilities", op: "SVMClassifier", attrs: append(two, fs("prob_a", -2), fs("prob_b", .1)), in: []*Tensor{x2}, nout: 2, exact: "[2] [4 6]",
			scores: []float64{p(2.5), 1 - p(2.5), p(-1.5), 1 - p(-1.5)}},
		{name: "RBF kernel", op: "SVMClassifier", attrs: append(two, s("kernel_type", "RBF"), fs("kernel_params", 1, 0, 0)), in: []*Tensor{x2}, nout: 2, exact: "[2] [4 4]",
			scores: []float64{-(math.Exp(-1) - math.Exp(-5) + .5), math.Exp(-1) - math.Exp(-5) + .5, -(math.Exp(-5) - math.Exp(-1) + .5), math.Exp(-5) - math.Exp(-1) + .5}},
		// liblinear: one row of coefficients per class, rho[0] added: row
		// (2,0) scores [2.5 .5 -1.5].
		{name: "liblinear", op: "SVMClassifier", attrs: []*onnx.Attribute{fs("coefficients", 1, 0, 0, 1, -1, -1), fs("rho", .5), onnx.IntsAttr("classlabels_ints", []int64{0, 1, 2})},
			in: []*Tensor{x3}, nout: 2, exact: "[2] [0 1]", scores: []float64{2.5, .5, -1.5, .5, 3.5, -2.5}},
		{name: "vectors_per_class for other classes", op: "SVMClassifier", attrs: append(two[:1:1], onnx.IntsAttr("vectors_per_class", []int64{2}), fs("coefficients", 1, -1), fs("rho", .5),
			onnx.IntsAttr("classlabels_ints", []int64{4, 6})), in: []*Tensor{x2}, nout: 2, wantErr: true},
		{name: "rho per pair", op: "SVMClassifier", attrs: append(three[:3:3], fs("rho", 0), onnx.StringsAttr("classlabels_strings", "A", "B", "C")), in: []*Tensor{x3}, nout: 2, wantErr: true},
		{name: "prob_a without prob_b", op: "SVMClassifier", attrs: append(two, fs("prob_a", 1)), in: []*Tensor{x2}, nout: 2, wantErr: true},
		{name: "no labels", op: "SVMClassifier", attrs: two[:4], in: []*Tensor{x2}, nout: 2, wantErr: true},
	} {
		c.run(t)
	}
}

// TestSVMProbabilitiesMulticlass: pairwise coupling of three classes gives
// probabilities that sum to 1 and follow the pairwise votes.
func TestSVMProbabilitiesMulticlass(t *testing.T) {
	p := make([]float64, 3)
	// Class 0 beats 1 and 2 clearly; 1 beats 2.
	svmProbabilities(3, []float64{3, 3, 1}, []float64{-1, -1, -1}, []float64{0, 0, 0}, p)
	sum := p[0] + p[1] + p[2]
	if math.Abs(sum-1) > 1e-4 || !(p[0] > p[1] && p[1] > p[2]) {
		t.Errorf("probabilities %v (sum %v)", p, sum)
	}
}
