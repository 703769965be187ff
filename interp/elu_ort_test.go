package interp_test

import (
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestEluFamilyMatchesORT checks Elu, Selu and Celu (eluVec) against ONNX
// Runtime's kernels.
func TestEluFamilyMatchesORT(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x := normal(r, 3, 1000)
	for i := range x.Floats() {
		x.Floats()[i] *= 4
	}
	f := onnx.FloatAttr
	for _, c := range []ortNode{
		{name: "Elu", op: "Elu", attrs: []*onnx.Attribute{f("alpha", 0.7)}, in: []*interp.Tensor{x}},
		{name: "Selu", op: "Selu", in: []*interp.Tensor{x}},
		{name: "Celu", op: "Celu", attrs: []*onnx.Attribute{f("alpha", 1.5)}, in: []*interp.Tensor{x}},
	} {
		t.Run(c.name, func(t *testing.T) { checkORT(t, c) })
	}
}
