package interp_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/opshapes"
	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestShapesMatchORT runs each of `make bench-shapes`' one-operator models
// (internal/opshapes: the convolution, pooling, Resize, broadcasting and
// normalization shapes of real models) on seeded random inputs in the
// interpreter, at one and two threads, and in ONNX Runtime, and checks
// that the outputs agree to float32 rounding: max |Δ| ≤ 1e-4·max |y|, no
// NaN, the same shape.
func TestShapesMatchORT(t *testing.T) {
	ort.Require(t)
	for i, nm := range opshapes.Models() {
		t.Run(nm.Name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.onnx")
			if err := onnx.Save(nm.Model, path, onnx.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(uint64(i), 11))
			feeds := map[string]*interp.Tensor{}
			var names []string
			var ins []*interp.Tensor
			for _, in := range nm.Model.Graph.Inputs {
				dims, ok := in.Type.Shape.Static()
				if !ok {
					t.Fatalf("input %s has no static shape", in.Name)
				}
				shape := make([]int, len(dims))
				for j, d := range dims {
					shape[j] = int(d)
				}
				x := interp.Make(onnx.Float, shape...)
				for j := range x.Floats() {
					x.Floats()[j] = float32(r.NormFloat64())
				}
				feeds[in.Name] = x
				names, ins = append(names, in.Name), append(ins, x)
			}
			inDir := filepath.Join(dir, "in")
			if err := os.MkdirAll(inDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := dataset.WritePB(inDir, "input", names, ins); err != nil {
				t.Fatal(err)
			}
			want := ort.Run(t, path, inDir, "--optimize", "disabled", "--threads", "1")
			wf, err := want[0].AsFloat32()
			if err != nil {
				t.Fatal(err)
			}
			var scale float64
			for _, v := range wf {
				scale = max(scale, math.Abs(float64(v)))
			}
			for _, th := range []int{1, 2} {
				s, err := interp.NewSession(nm.Model, interp.Options{Threads: th})
				if err != nil {
					t.Fatal(err)
				}
				out, err := s.Run(feeds)
				if err != nil {
					t.Fatal(err)
				}
				got := out[0].Floats()
				if len(got) != len(wf) {
					t.Fatalf("threads=%d: %d outputs (shape %v), ONNX Runtime %d", th, len(got), out[0].Shape, len(wf))
				}
				worst, at := 0.0, -1
				for j := range got {
					d := math.Abs(float64(got[j]) - float64(wf[j]))
					if math.IsNaN(d) {
						d = math.Inf(1)
					}
					if d > worst {
						worst, at = d, j
					}
				}
				if worst > 1e-4*scale {
					t.Errorf("threads=%d: max |Δ| %.3g at [%d] (%v, ORT %v) over 1e-4 of max |y| %.3g", th, worst, at, got[at], wf[at], scale)
				}
			}
		})
	}
}
