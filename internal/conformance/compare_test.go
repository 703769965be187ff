package conformance

import (
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestCompareFailsOnNaN: the backend runner's comparison fails on a NaN or
// an infinity on one side, on another shape, type or kind, and passes NaN
// against NaN.
func TestCompareFailsOnNaN(t *testing.T) {
	f := func(shape []int, v ...float32) *interp.Tensor {
		x := interp.Make(onnx.Float, shape...)
		copy(x.Floats(), v)
		return x
	}
	c := func(v ...complex64) *interp.Tensor {
		return &interp.Tensor{Kind: interp.KindTensor, DType: onnx.Complex64, Shape: []int{len(v)}, Data: v}
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	want := f([]int{2}, 1, 2)
	for _, tc := range []struct {
		name      string
		got, want *interp.Tensor
		bad       bool
	}{
		{"equal", f([]int{2}, 1, 2), want, false},
		{"NaN both", f([]int{2}, nan, 2), f([]int{2}, nan, 2), false},
		{"NaN got", f([]int{2}, nan, 2), want, true},
		{"NaN want", want, f([]int{2}, nan, 2), true},
		{"Inf got", f([]int{2}, inf, 2), want, true},
		{"shape", f([]int{1, 2}, 1, 2), want, true},
		{"type", interp.Make(onnx.Int64, 2), want, true},
		{"nil", nil, want, true},
		{"complex imaginary", c(1+1i, 2+2i), c(1+1i, 2+3i), true},
		{"complex NaN", c(1+1i, complex(nan, 0)), c(1+1i, 2), true},
	} {
		if bad := Compare(tc.got, tc.want, 1e-3, 1e-7) != nil; bad != tc.bad {
			t.Errorf("%s: mismatch %v, want %v", tc.name, bad, tc.bad)
		}
	}
}
