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

func TestTimeRealModel(t *testing.T) {
	name := os.Getenv("GRAD_MODEL")
	if name == "" {
		t.Skip("set GRAD_MODEL to a folder of the shared models (e.g. resnet18_op13) to time Gradients on it")
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
