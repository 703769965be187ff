package quantize_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
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

// TestAccuracyFailsOnBrokenFolder: a data folder cut short fails the
// accuracy measure instead of scoring the samples read before the break.
func TestAccuracyFailsOnBrokenFolder(t *testing.T) {
	src := filepath.Join(testdata.Models(t), "mnist-data", "cnn-eval")
	dir := t.TempDir()
	for name, keep := range map[string]int{"labels.npy": -1, "input.npy": 3 << 20} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if keep >= 0 {
			b = b[:keep] // about half of the 2,000 digits
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, _ := loadModel(t, "mnist_cnn_op13")
	failed, msg := testutil.Fails(t, func(tb testing.TB) { accuracy(tb, m, dir) })
	if !failed {
		t.Fatal("accuracy on a truncated input.npy did not fail")
	}
	t.Logf("fails: %s", msg)
}
