package all_test

import (
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestCloseEnoughFailsOnNaN: the ORT comparison of TestCompareORT fails on
// a NaN output, on another shape and on another type.
func TestCloseEnoughFailsOnNaN(t *testing.T) {
	want := onnx.NewFloatTensor("y", []int64{1, 2}, []float32{1, 2})
	for name, got := range map[string]*onnx.Tensor{
		"NaN":   onnx.NewFloatTensor("y", []int64{1, 2}, []float32{1, float32(math.NaN())}),
		"Inf":   onnx.NewFloatTensor("y", []int64{1, 2}, []float32{float32(math.Inf(1)), 2}),
		"shape": onnx.NewFloatTensor("y", []int64{2}, []float32{1, 2}),
		"type":  onnx.NewInt64Tensor("y", []int64{1, 2}, []int64{1, 2}),
	} {
		if closeEnough(got, want) == "" {
			t.Errorf("%s: passed", name)
		}
	}
	if msg := closeEnough(want, want); msg != "" {
		t.Errorf("equal outputs: %s", msg)
	}
}
