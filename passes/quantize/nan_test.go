package quantize_test

import (
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
)

// TestComparatorsFailOnNaN: the quantize tests' measures turn a NaN output
// into a failed bound, not a pass: the logits' cosine and error, and ONNX
// Runtime's agreement with the interpreter.
func TestComparatorsFailOnNaN(t *testing.T) {
	ref := [][]float32{{1, 2, 3}, {4, 5, 6}}
	bad := [][]float32{{1, 2, 3}, {4, float32(math.NaN()), 6}}
	cos, rel := cosine(ref, bad)
	if failed, _ := testutil.Fails(t, func(tb testing.TB) { testutil.AtLeast(tb, "cosine", cos, 0.99) }); !failed {
		t.Errorf("cosine %v passed ≥ 0.99", cos)
	}
	if failed, _ := testutil.Fails(t, func(tb testing.TB) { testutil.AtMost(tb, "relL2", rel, 0.1) }); !failed {
		t.Errorf("relL2 %v passed ≤ 0.1", rel)
	}
	if c, r := cosine(ref, ref); !(c > 0.999999 && r == 0) {
		t.Errorf("equal logits: cosine %v relL2 %v", c, r)
	}
	if (agreement{maxRel: math.NaN()}).within(1e-3) {
		t.Error("a NaN agreement is within 1e-3")
	}
	if !(agreement{maxRel: 1e-7}).within(1e-3) || (agreement{maxRel: 1e-7, beyondRtol: 1}).within(1e-3) {
		t.Error("agreement.within")
	}
}
