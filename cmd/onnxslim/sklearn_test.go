package main

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestSklearnModels runs two real scikit-learn exports through the default
// pipeline, whose verification runs both models in the interpreter: a
// random forest (TreeEnsembleClassifier, Cast, ZipMap: labels and a sequence
// of maps) and a StandardScaler (Scaler). ONNX Runtime then runs each output
// on the same rows as the interpreter ran the original; its node binding
// returns tensors only, so for the forest it is asked for the labels and the
// classifier's probabilities, compared with the maps' values.
func TestSklearnModels(t *testing.T) {
	for _, c := range []struct {
		file              string
		features          int
		nodesIn, nodesOut int
	}{
		{"sklearn_randomforest.onnx", 4, 3, 2}, // the Cast of int64 labels to int64 goes
		{"scaler.onnx", 3, 1, 1},
	} {
		t.Run(c.file, func(t *testing.T) {
			in := testdata.SklearnModel(t, c.file)
			out := filepath.Join(t.TempDir(), "out.onnx")
			code, stdout, stderr := runCLI(t, in, "-o", out)
			if code != 0 {
				t.Fatalf("onnxslim: exit %d: %s%s", code, stdout, stderr)
			}
			if all := stdout + stderr; !strings.Contains(all, "OK on") || strings.Contains(all, "cannot run") {
				t.Errorf("verification did not run both models in full:\n%s", all)
			}
			orig, err := onnx.Load(in)
			if err != nil {
				t.Fatal(err)
			}
			m, err := onnx.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(orig.Graph.Nodes) != c.nodesIn || len(m.Graph.Nodes) != c.nodesOut {
				t.Errorf("nodes %d → %d, want %d → %d", len(orig.Graph.Nodes), len(m.Graph.Nodes), c.nodesIn, c.nodesOut)
			}

			r := rand.New(rand.NewPCG(5, 6))
			x := interp.Make(onnx.Float, 32, c.features)
			for i := range x.Floats() {
				x.Floats()[i] = float32(r.NormFloat64()*2 + 4) // around the iris-like features' range
			}
			s, err := interp.NewSession(orig, interp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.Run(map[string]*interp.Tensor{"X": x})
			if err != nil {
				t.Fatal(err)
			}
			ort.Require(t)
			if probs := want[len(want)-1]; probs.Kind == interp.KindSequence {
				want[len(want)-1] = mapValues(t, probs)
				tensorOutputs(t, m, "probabilities")
			}
			tmp := filepath.Join(t.TempDir(), "ort.onnx")
			if err := onnx.Save(m, tmp, onnx.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			got := ort.Run(t, tmp, ort.WriteInputs(t, []string{"X"}, []*interp.Tensor{x}), "--optimize", "disabled")
			if len(got) != len(want) {
				t.Fatalf("ONNX Runtime gave %d outputs, want %d", len(got), len(want))
			}
			for i, w := range want {
				wt, err := interp.ToONNX("", w)
				if err != nil {
					t.Fatal(err)
				}
				if msg := testutil.MismatchTensor(got[i], wt, 1e-5, 1e-4, -1); msg != "" {
					t.Errorf("output %d: ONNX Runtime on the output against the interpreter on the input: %s", i, msg)
				}
			}
		})
	}
}

// mapValues stacks a sequence of maps with keys 0..C-1 into the [N, C]
// scores ZipMap took them from.
func mapValues(t *testing.T, seq *interp.Tensor) *interp.Tensor {
	t.Helper()
	var rows [][]float32
	for i, e := range seq.Elems {
		keys, vals, err := e.MapEntries()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]float32, keys.Len())
		for j, k := range keys.Data.([]int64) {
			if k < 0 || int(k) >= len(row) {
				t.Fatalf("map %d: key %d is not a class index", i, k)
			}
			row[k] = vals.Floats()[j]
		}
		rows = append(rows, row)
	}
	out := interp.Make(onnx.Float, len(rows), len(rows[0]))
	for i, row := range rows {
		copy(out.Floats()[i*len(row):], row)
	}
	return out
}

// tensorOutputs makes the value named name the model's last output in place
// of the sequence of maps, typed float [N, C], for ONNX Runtime's binding.
func tensorOutputs(t *testing.T, m *onnx.Model, name string) {
	t.Helper()
	v := m.Graph.ValueByName(name)
	if v == nil {
		t.Fatalf("no value %q", name)
	}
	v.Type = onnx.TensorType(onnx.Float, onnx.Shape{onnx.Sym("N"), {}})
	m.Graph.Outputs[len(m.Graph.Outputs)-1] = v
}
