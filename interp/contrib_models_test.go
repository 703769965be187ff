package interp_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
)

// TestORTOptimizedModels runs models as ONNX Runtime's optimizer writes
// them at level "extended" (FusedConv, FusedMatMul, SkipLayerNormalization,
// Gelu, QuickGelu, …: what users save with optimized_model_filepath or
// optimum's --optimize) in the interpreter, and checks the outputs against
// ONNX Runtime's on the original model: the shared models and the
// real-models corpus, seeded random inputs.
func TestORTOptimizedModels(t *testing.T) {
	ort.Require(t)
	shared := testdata.Models(t)
	paths := []string{
		filepath.Join(shared, "transformer_op14", "model.onnx"),
		filepath.Join(shared, "mobilenet_v2_op13", "model.onnx"),
		filepath.Join(shared, "resnet18_op13", "model.onnx"),
	}
	real, _ := filepath.Glob(filepath.Join(testdata.RealModels(t), "*.onnx"))
	paths = append(paths, real...)
	for _, path := range paths {
		name := filepath.Base(path)
		if name == "model.onnx" {
			name = filepath.Base(filepath.Dir(path))
		}
		t.Run(name, func(t *testing.T) {
			opt, feeds, _, want := ort.Optimized(t, path, "extended", 7, map[string]int64{"batch_size": 1, "samples": 1760})
			contrib := map[string]int{}
			for _, n := range opt.Graph.Nodes {
				if n.Domain == "com.microsoft" {
					contrib[n.OpType]++
				}
			}
			t.Logf("ORT's contrib ops: %v", contrib)
			if filepath.Base(path) == "model.onnx" && len(contrib) == 0 {
				t.Fatal("ONNX Runtime wrote no contrib op into a shared model: this test checks nothing of them")
			}
			s, err := interp.NewSession(opt, interp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Run(feeds)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range want {
				wt, err := interp.FromONNX(w)
				if err != nil {
					t.Fatal(err)
				}
				wf, err1 := interp.AsFloat32(wt)
				gf, err2 := interp.AsFloat32(got[i])
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if len(gf) != len(wf) {
					t.Fatalf("output %d: %d elements, ORT %d", i, len(gf), len(wf))
				}
				var scale, worst float64
				for j := range wf {
					scale = max(scale, math.Abs(float64(wf[j])))
					d := math.Abs(float64(gf[j]) - float64(wf[j]))
					if math.IsNaN(d) {
						d = math.Inf(1)
					}
					worst = max(worst, d)
				}
				if worst > 1e-4*scale+1e-5 {
					t.Errorf("output %d: max |Δ| %.3g against ORT on the original, max |y| %.3g", i, worst, scale)
				}
			}
		})
	}
}
