package passtest

import (
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestSameFailsOnNaN: the comparison behind Run fails on a NaN on one side,
// on another shape and on another type, and passes equal outputs.
func TestSameFailsOnNaN(t *testing.T) {
	x := Input(2, 3)
	nan := interp.Make(onnx.Float, 2, 3)
	copy(nan.Floats(), x.Floats())
	nan.Floats()[4] = float32(math.NaN())
	flat := interp.Make(onnx.Float, 6)
	copy(flat.Floats(), x.Floats())
	ints := interp.Make(onnx.Int64, 2, 3)
	for _, tc := range []struct {
		name      string
		got, want *interp.Tensor
		bad       bool
	}{
		{"equal", x, x, false},
		{"NaN got", nan, x, true},
		{"NaN want", x, nan, true},
		{"shape", flat, x, true},
		{"type", ints, x, true},
	} {
		failed, msg := testutil.Fails(t, func(tb testing.TB) {
			Same(tb, tc.name, []*interp.Tensor{tc.got}, []*interp.Tensor{tc.want}, 1e-4, 1e-4, 1e-5)
		})
		if failed != tc.bad {
			t.Errorf("%s: failed %v (%s), want %v", tc.name, failed, msg, tc.bad)
		}
	}
}
