package grad

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/onnx"
)

func TestTimeRealModel(t *testing.T) {
	name := os.Getenv("GRAD_MODEL")
	if name == "" {
		t.Skip("set GRAD_MODEL to a folder of the shared models (e.g. resnet18_op13) to time Gradients on it")
	}
	m, err := onnx.Load(filepath.Join(testdata.Models(t), name, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	feeds, err := dataset.Random(m.Graph.Inputs, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wrt []string
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Conv" || n.OpType == "Gemm" {
			wrt = append(wrt, n.Output(0).Name, n.Input(1).Name)
		}
	}
	t0 := time.Now()
	vals, err := forward(m, feeds, nil)
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	L, g, err := Gradients(m, feeds, Loss{}, wrt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: forward %v, forward+backward %v, loss %v, %d grads, %d values", name, t1.Sub(t0), time.Since(t1), L, len(g), len(vals))
}
