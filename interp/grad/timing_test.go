package grad

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestGradientsTiming times Gradients (forward and backward, cross-entropy
// against the top-1, every Conv/Gemm/constant-weight MatMul output and weight)
// on one random sample of a shared model.
func TestGradientsTiming(t *testing.T) {
	// GRAD_MODEL picks another shared model folder (resnet18_op13) or an
	// .onnx path; the default is small enough for every test run.
	name := os.Getenv("GRAD_MODEL")
	if name == "" {
		name = "mnist_cnn_op13"
	}
	path := name
	if !strings.HasSuffix(name, ".onnx") {
		path = filepath.Join(testdata.Models(t), name, "model.onnx")
	}
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []*onnx.Value
	for _, v := range m.Graph.Inputs {
		if v.Const == nil { // IR 4 lists weights as inputs too: keep them
			inputs = append(inputs, v)
		}
	}
	feeds, err := dataset.Random(inputs, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wrt []string
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Conv" || n.OpType == "Gemm" || n.OpType == "MatMul" && n.Input(1).Const != nil {
			wrt = append(wrt, n.Output(0).Name, n.Input(1).Name)
		}
	}
	t0 := time.Now()
	L, g, err := Gradients(m, feeds, Loss{}, wrt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: Gradients %v (forward and backward, batch of one), loss %v, %d gradients", name, time.Since(t0), L, len(g))
}
