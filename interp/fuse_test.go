package interp_test

import (
	"math"
	"math/rand"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestConvEpilogueExact runs models with Conv → BatchNormalization →
// Relu/Clip chains fused (the default) and unfused (every Conv and
// BatchNormalization output made a graph output, which forbids fusion) and
// requires bit-identical outputs.
func TestConvEpilogueExact(t *testing.T) {
	for _, name := range []string{"resnet18_op13", "mobilenet_v2_op13", "mnist_cnn_op13"} {
		t.Run(name, func(t *testing.T) {
			fused := loadModel(t, name)
			plain := loadModel(t, name)
			chains := 0
			for _, n := range plain.Graph.Nodes {
				if n.OpType == "Conv" || n.OpType == "BatchNormalization" {
					if n.OpType == "BatchNormalization" {
						chains++
					}
					plain.Graph.Outputs = append(plain.Graph.Outputs, n.Output(0))
				}
			}
			feeds := map[string]*interp.Tensor{}
			rng := rand.New(rand.NewSource(1))
			for _, v := range fused.Graph.Inputs {
				if v.Const != nil {
					continue
				}
				var shape []int
				for _, d := range v.Type.Shape {
					shape = append(shape, max(int(d.Value), 1))
				}
				x := interp.Make(onnx.Float, shape...)
				f := x.Floats()
				for i := range f {
					f[i] = float32(rng.NormFloat64())
				}
				f[len(f)/3] = float32(math.NaN())
				feeds[v.Name] = x
			}
			run := func(m *onnx.Model) []*interp.Tensor {
				s, err := interp.NewSession(m, interp.Options{Threads: 1})
				if err != nil {
					t.Fatal(err)
				}
				out, err := s.Run(feeds)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			a, b := run(fused), run(plain)
			for i := range a {
				x, y := a[i].Floats(), b[i].Floats()
				for j := range x {
					if math.Float32bits(x[j]) != math.Float32bits(y[j]) {
						t.Fatalf("output %d element %d: fused %v, unfused %v", i, j, x[j], y[j])
					}
				}
			}
			t.Logf("%d BatchNormalization nodes", chains)
		})
	}
}
