package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
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

// compareTensors checks |got-want| ≤ atol + rtol·|want| element-wise (exact for integers).
func compareTensors(t *testing.T, what string, got, want []*onnx.Tensor, rtol, atol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d outputs, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.DataType != w.DataType || !slices.Equal(g.Dims, w.Dims) {
			t.Errorf("%s: output %d is %s%v, want %s%v", what, i, g.DataType, g.Dims, w.DataType, w.Dims)
			continue
		}
		gv, err1 := asFloat64(g)
		wv, err2 := asFloat64(w)
		if err1 != nil || err2 != nil {
			t.Errorf("%s: output %d: %v %v", what, i, err1, err2)
			continue
		}
		bad, worst, worstAt := 0, 0.0, 0
		for j := range gv {
			d := math.Abs(gv[j] - wv[j])
			if d > atol+rtol*math.Abs(wv[j]) || math.IsNaN(gv[j]) != math.IsNaN(wv[j]) {
				bad++
				if d > worst || math.IsNaN(d) {
					worst, worstAt = d, j
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: output %d: %d of %d elements beyond rtol %g atol %g; worst at %d: %g vs %g",
				what, i, bad, len(gv), rtol, atol, worstAt, gv[worstAt], wv[worstAt])
		}
	}
}

func asFloat64(t *onnx.Tensor) ([]float64, error) {
	switch {
	case t.DataType == onnx.Float:
		f, err := t.AsFloat32()
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out, err
	case t.DataType.IsInteger() || t.DataType == onnx.Bool:
		v, err := t.AsInt64()
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out, err
	}
	return nil, fmt.Errorf("tensor %q: comparing %s outputs is not supported", t.Name, t.DataType)
}
