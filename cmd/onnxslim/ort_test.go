package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestPassesNoneInORT checks the lossless round trip where it matters: for
// every shared model, `onnxslim IN -o OUT --passes none` gives a model that ONNX
// Runtime runs to the same outputs as IN (rtol 1e-5), and both match the
// reference outputs recorded by PyTorch (rtol 1e-3, atol 1e-4).
func TestPassesNoneInORT(t *testing.T) {
	ort.Require(t)
	root := testdata.Models(t)
	models, _ := filepath.Glob(filepath.Join(root, "*", "model.onnx"))
	if len(models) == 0 {
		t.Fatalf("no models under %s", root)
	}
	for _, in := range models {
		name := filepath.Base(filepath.Dir(in))
		t.Run(name, func(t *testing.T) {
			t.Parallel() // ORT runs in its own process; two at a time on two cores
			out := filepath.Join(t.TempDir(), "out.onnx")
			if code, _, stderr := runCLI(t, in, "-o", out, "--passes", "none", "--quiet"); code != 0 {
				t.Fatalf("onnxslim: exit %d: %s", code, stderr)
			}
			sets, _ := filepath.Glob(filepath.Join(filepath.Dir(in), "test_data_set_*"))
			if len(sets) == 0 {
				t.Fatalf("no test_data_set_* beside %s", in)
			}
			for _, set := range sets {
				orig := ort.Run(t, in, set)
				slim := ort.Run(t, out, set)
				ref := readOutputs(t, set)
				where := filepath.Base(set)
				compareTensors(t, where+": OUT vs IN in ORT", slim, orig, 1e-5, 1e-7)
				compareTensors(t, where+": IN in ORT vs reference", orig, ref, 1e-3, 1e-4)
				compareTensors(t, where+": OUT in ORT vs reference", slim, ref, 1e-3, 1e-4)
			}
		})
	}
}

func readOutputs(t *testing.T, dir string) []*onnx.Tensor {
	t.Helper()
	var outs []*onnx.Tensor
	for i := 0; ; i++ {
		data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("output_%d.pb", i)))
		if os.IsNotExist(err) {
			return outs
		}
		if err != nil {
			t.Fatal(err)
		}
		tensor, err := onnx.DecodeTensor(data)
		if err != nil {
			t.Fatalf("%s/output_%d.pb: %v", dir, i, err)
		}
		outs = append(outs, tensor)
	}
}

// compareTensors checks types, shapes and |got-want| ≤ atol + rtol·|want|
// element-wise (exact for integers), NaN matching only NaN.
func compareTensors(t *testing.T, what string, got, want []*onnx.Tensor, rtol, atol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d outputs, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if msg := testutil.MismatchTensor(got[i], want[i], atol, rtol, -1); msg != "" {
			t.Errorf("%s: output %d: %s (rtol %g atol %g)", what, i, msg, rtol, atol)
		}
	}
}
