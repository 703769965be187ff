package passtest

import (
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/verify"
)

// Top1 is m's top-1 accuracy on a labelled data folder (verify.Evaluate,
// batches of 500): a folder cut short fails the test rather than counting
// fewer samples.
func Top1(t testing.TB, m *onnx.Model, dir string) float64 {
	t.Helper()
	r, err := dataset.Open(dir, m.Graph.Inputs, dataset.Options{BatchSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, err := verify.Evaluate(m, r, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a.Top1
}
