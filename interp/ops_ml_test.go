package interp

import (
	"fmt"
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func TestLabelEncoder(t *testing.T) {
	attrs := []*onnx.Attribute{onnx.FloatsAttr("keys_floats", []float32{1.5, float32(math.NaN())}), onnx.IntsAttr("values_int64s", []int64{7, 8})}
	out, err := runKernel("LabelEncoder", mlDomain, 4, attrs, 1, FromSlice(onnx.Float, []int{3}, []float32{float32(math.NaN()), 1.5, 2}))
	if err != nil || fmt.Sprint(out[0].Data) != "[8 7 -1]" {
		t.Errorf("float keys: got %v, %v", out, err)
	}
	v1 := []*onnx.Attribute{{Name: "classes_strings", Type: onnx.AttrStrings, Strings: [][]byte{[]byte("a"), []byte("b")}}}
	out, err = runKernel("LabelEncoder", mlDomain, 1, v1, 1, FromSlice(onnx.Int64, []int{3}, []int64{1, 0, 5}))
	if err != nil || fmt.Sprint(out[0].Data) != "[b a _Unused]" {
		t.Errorf("v1 ints to strings: got %v, %v", out, err)
	}
	if _, err := runKernel("LabelEncoder", mlDomain, 4, attrs[:1], 1, FromSlice(onnx.Float, []int{1}, []float32{1})); err == nil {
		t.Error("keys without values: want an error")
	}
}

func treeAttrs(agg int64, roots ...int64) []*onnx.Attribute {
	// Tree 0: x0 <= 1 ? leaf 0 (w 1) : leaf 1 (w 3); tree 1: a single leaf 2 (w 10).
	modes, _ := ToONNX("modes", FromSlice(onnx.Uint8, []int{2}, []uint8{0, 0}))
	splits, _ := ToONNX("splits", FromSlice(onnx.Float, []int{2}, []float32{1, 0}))
	weights, _ := ToONNX("w", FromSlice(onnx.Float, []int{3}, []float32{1, 3, 10}))
	return []*onnx.Attribute{
		onnx.IntAttr("aggregate_function", agg), onnx.IntAttr("n_targets", 1),
		onnx.IntsAttr("nodes_featureids", []int64{0, 0}), onnx.TensorAttr("nodes_modes", modes), onnx.TensorAttr("nodes_splits", splits),
		onnx.IntsAttr("nodes_truenodeids", []int64{0, 2}), onnx.IntsAttr("nodes_trueleafs", []int64{1, 1}),
		onnx.IntsAttr("nodes_falsenodeids", []int64{1, 2}), onnx.IntsAttr("nodes_falseleafs", []int64{1, 1}),
		onnx.IntsAttr("leaf_targetids", []int64{0, 0, 0}), onnx.TensorAttr("leaf_weights", weights), onnx.IntsAttr("tree_roots", roots),
	}
}

func TestTreeEnsemble(t *testing.T) {
	x := FromSlice(onnx.Float, []int{2, 1}, []float32{0, 5})
	for _, c := range []struct {
		agg  int64
		want []float64
	}{{1, []float64{11, 13}}, {0, []float64{5.5, 6.5}}, {2, []float64{1, 3}}, {3, []float64{10, 10}}} {
		out, err := runKernel("TreeEnsemble", mlDomain, 5, treeAttrs(c.agg, 0, 1), 1, x)
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, fmt.Sprint("aggregate ", c.agg), out[0], c.want...)
	}
	if _, err := runKernel("TreeEnsemble", mlDomain, 5, treeAttrs(1, 5), 1, x); err == nil {
		t.Error("root out of range: want an error")
	}
	if _, err := runKernel("TreeEnsemble", mlDomain, 5, treeAttrs(1, 0), 1, FromSlice(onnx.Float, []int{1, 0}, []float32{})); err == nil {
		t.Error("no features: want an error")
	}
}

func TestBinarizerAndFeatureExtractor(t *testing.T) {
	out, err := runKernel("Binarizer", mlDomain, 1, []*onnx.Attribute{onnx.FloatAttr("threshold", 0.5)}, 1, FromSlice(onnx.Float, []int{3}, []float32{0.2, 0.5, 0.7}))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "binarizer", out[0], 0, 0, 1)
	out, err = runKernel("ArrayFeatureExtractor", mlDomain, 1, nil, 1, strs([]int{2, 2}, "a", "b", "c", "d"), FromSlice(onnx.Int64, []int{1}, []int64{1}))
	if err != nil || fmt.Sprint(out[0].Shape, out[0].Data) != "[2 1] [b d]" {
		t.Errorf("feature extractor: got %v, %v", out, err)
	}
	if _, err := runKernel("ArrayFeatureExtractor", mlDomain, 1, nil, 1, strs([]int{2}, "a", "b"), FromSlice(onnx.Int64, []int{1}, []int64{2})); err == nil {
		t.Error("index out of range: want an error")
	}
}
