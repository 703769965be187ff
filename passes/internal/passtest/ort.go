package passtest

import (
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// SameInORT runs m (one input, x) in ONNX Runtime with its optimizations
// off and wants its first output equal to want, the interpreter's, within
// testutil.Mismatch's bounds. Without ONNX Runtime it skips, or fails
// under CI (ort.Require).
func SameInORT(t testing.TB, m *onnx.Model, x *interp.Tensor, want []float32, atol, rtol, relL2 float64) {
	t.Helper()
	ort.Require(t)
	dir, path := SaveTemp(t, m)
	in := filepath.Join(dir, "in")
	if err := dataset.WritePB(in, "input", []string{m.Graph.Inputs[0].Name}, []*interp.Tensor{x}); err != nil {
		t.Fatal(err)
	}
	outs := ort.Run(t, path, in, "--optimize", "disabled")
	got, err := outs[0].AsFloat32()
	if err != nil {
		t.Fatal(err)
	}
	if msg := testutil.Mismatch(got, want, atol, rtol, relL2); msg != "" {
		t.Fatalf("ONNX Runtime against the interpreter: %s", msg)
	}
}

// SaveTemp writes m to model.onnx in a new temporary folder (removed with
// the test) and returns the folder and the file.
func SaveTemp(t testing.TB, m *onnx.Model) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "model.onnx")
	if err := onnx.Save(m, path, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir, path
}
