package interp_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestRealModels runs the exported PyTorch models on their reference inputs.
func TestRealModels(t *testing.T) {
	root := testdata.Models(t)
	for _, name := range []string{"mnist_mlp_op13", "mnist_cnn_op13", "mnist_cnn_op13_dynbatch", "gru_op13", "lstm_op13", "resnet18_op13", "mobilenet_v2_op13", "transformer_op14"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			sess, err := interp.NewSession(m, interp.Options{})
			if err != nil {
				t.Fatal(err) // every op of these models has a kernel: a missing one is a regression
			}
			sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
			compared := 0
			for _, set := range sets {
				feeds := map[string]*interp.Tensor{}
				for i, v := range sess.Inputs() {
					x, err := readDatum(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)), v.Type)
					if err != nil {
						t.Fatal(err)
					}
					feeds[v.Name] = x
				}
				start := time.Now()
				got, err := sess.Run(feeds)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %v", filepath.Base(set), time.Since(start))
				for i, v := range m.Graph.Outputs {
					p := filepath.Join(set, fmt.Sprintf("output_%d.pb", i))
					if _, err := os.Stat(p); err != nil {
						continue
					}
					want, err := readDatum(p, v.Type)
					if err != nil {
						t.Fatal(err)
					}
					compared++
					if err := Compare(got[i], want, 1e-3, 1e-4); err != nil {
						t.Errorf("output %q: %v", v.Name, err)
					}
				}
			}
			if compared == 0 {
				t.Errorf("no test_data_set_*/output_N.pb in %s: nothing was compared", dir)
			}
		})
	}
}
