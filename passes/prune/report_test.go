package prune_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// heldOut returns n inputs for m that calibration never saw: the rows of
// an evaluation folder, or seeded random inputs (seeds from 1000).
func heldOut(t *testing.T, m *onnx.Model, dir string, n int) []map[string]*interp.Tensor {
	t.Helper()
	s, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]*interp.Tensor
	if dir != "" {
		r, err := dataset.Open(dir, s.Inputs(), dataset.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for len(out) < n {
			b, err := r.Next()
			if err != nil {
				break
			}
			out = append(out, b.Inputs)
		}
		return out
	}
	for i := 0; i < n; i++ {
		in, err := dataset.Random(s.Inputs(), uint64(1000+i), nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, in)
	}
	return out
}

// outputCosine is the cosine between the float and the pruned model's
// outputs (all of them, all samples).
func outputCosine(t *testing.T, float, pruned *onnx.Model, ins []map[string]*interp.Tensor) (cos, relL2 float64) {
	t.Helper()
	run := func(m *onnx.Model) []float32 {
		s, err := interp.NewSession(m, interp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var all []float32
		for _, in := range ins {
			outs, err := s.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outs {
				if v, err := interp.AsFloat32(o); err == nil {
					all = append(all, v...)
				}
			}
		}
		return all
	}
	return testutil.Cosine(run(float), run(pruned))
}

// TestPruneReport prints the tables (make prune-report): MNIST CNN
// and a trained real model at 25/50/70% FLOPs, magnitude vs Taylor,
// reconstruction off vs on; resnet18 and mobilenet_v2 at −30% FLOPs with
// reconstruction (pruned files go to ONNXSLIM_PRUNE_OUT for the latency
// benchmark).
func TestPruneReport(t *testing.T) {
	if !full {
		t.Skip("slow figures: ONNXSLIM_PRUNE_FULL=1 (make prune-report)")
	}
	t.Run("table/mnist_cnn", func(t *testing.T) {
		data := filepath.Join(testdata.Models(t), "mnist-data")
		m := loadModel(t, "mnist_cnn_op13")
		eval := filepath.Join(data, "cnn-eval")
		base := passtest.Top1(t, m, eval)
		ins := heldOut(t, m, eval, 500)
		table(t, "mnist_cnn_op13", m, "calib="+filepath.Join(data, "cnn-calib"), ins, func(p *onnx.Model) string {
			acc := passtest.Top1(t, p, eval)
			return fmt.Sprintf("%.4f (%+.2f pt)", acc, 100*(base-acc))
		})
	})
	t.Run("table/fp_landmark", func(t *testing.T) {
		root := testdata.RealModels(t)
		m, err := onnx.Load(filepath.Join(root, "fp_landmark.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		table(t, "fp_landmark", m, "samples=32", heldOut(t, m, "", 16), nil)
	})
	for _, name := range []string{"resnet18_op13", "mobilenet_v2_op13"} {
		t.Run("big/"+name, func(t *testing.T) {
			m := loadModel(t, name)
			ins := heldOut(t, m, "", 8)
			r := slim(t, m, "prune(structure=channel,amount=0.3,samples=16)")
			cos, _ := outputCosine(t, m, r.model, ins)
			fb, _ := onnx.Encode(m)
			pb, _ := onnx.Encode(r.model)
			t.Logf("%s −30%% FLOPs (reconstruct): FLOPs %d → %d, params %d → %d, file %d → %d bytes, held-out output cosine %.4f (on calibration %.4f)",
				name, r.report.FLOPsBefore, r.report.FLOPsAfter, r.report.ParamsBefore, r.report.ParamsAfter, len(fb), len(pb), cos, r.report.Output.Cosine)
			testutil.AtLeast(t, name+" held-out output cosine", cos, 0.97)
			testutil.AtMost(t, "FLOPs after / before", float64(r.report.FLOPsAfter)/float64(r.report.FLOPsBefore), 0.7)
			ortMatches(t, r.model, 1)
			if dir := os.Getenv("ONNXSLIM_PRUNE_OUT"); dir != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for file, mm := range map[string]*onnx.Model{name + ".onnx": m, name + "_pruned30.onnx": r.model} {
					if err := onnx.Save(mm, filepath.Join(dir, file), onnx.SaveOptions{}); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// table prunes m by channels at 25/50/70% FLOPs with each criterion, with
// and without reconstruction, and logs the output cosine on held-out
// inputs (and extra, e.g. accuracy). At 50% Taylor or reconstruction must
// beat plain magnitude.
func table(t *testing.T, name string, m *onnx.Model, data string, ins []map[string]*interp.Tensor, extra func(*onnx.Model) string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| %s | criterion | reconstruct | FLOPs after | held-out output cosine | rel. L2 | %s\n|---|---|---|---|---|---|%s\n", name, map[bool]string{true: "accuracy (drop) |", false: ""}[extra != nil], map[bool]string{true: "---|", false: ""}[extra != nil])
	cosAt := map[string]float64{}
	for _, amount := range []string{"0.25", "0.5", "0.7"} {
		pct := map[string]string{"0.25": "25%", "0.5": "50%", "0.7": "70%"}[amount]
		for _, crit := range []string{"magnitude", "taylor"} {
			for _, rec := range []string{"false", "true"} {
				spec := "prune(structure=channel,scope=global,keep_first=false,amount=" + amount + ",criterion=" + crit + ",reconstruct=" + rec + "," + data + ")"
				r, err := trySlim(m, spec)
				if err != nil {
					fmt.Fprintf(&b, "| −%s FLOPs | %s | %s | error: %v |\n", pct, crit, rec, err)
					continue
				}
				cos, rel := outputCosine(t, m, r.model, ins)
				cosAt[amount+crit+rec] = cos
				row := fmt.Sprintf("| −%s FLOPs | %s | %s | %.1f%% | %.4f | %.4f |", pct, crit, rec, 100*float64(r.report.FLOPsAfter)/float64(r.report.FLOPsBefore), cos, rel)
				if extra != nil {
					row += " " + extra(r.model) + " |"
				}
				b.WriteString(row + "\n")
			}
		}
	}
	t.Log(b.String())
	plain := cosAt["0.5magnitudefalse"]
	best := max(cosAt["0.5magnitudetrue"], cosAt["0.5taylorfalse"], cosAt["0.5taylortrue"])
	if !(best > plain) {
		t.Errorf("%s at 50%%: neither Taylor nor reconstruction beats plain magnitude (cosine %.4f vs %.4f)", name, best, plain)
	}
}
