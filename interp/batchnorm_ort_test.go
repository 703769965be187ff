package interp_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestBatchNormTrainingMatchesORT: a BatchNormalization that lists its
// statistics outputs is in training mode before opset 14 (PyTorch's
// training-mode exports: five outputs at opset 9–13), as training_mode=1
// makes it from 14; it normalises with the batch's statistics, and ONNX
// Runtime agrees on every output (the saved mean and inverse deviation
// too). One output is inference mode at every opset.
func TestBatchNormTrainingMatchesORT(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := normal(r, 4, 3, 5, 6)
	for i := range x.Floats() {
		x.Floats()[i] = 2*x.Floats()[i] + 0.5
	}
	scale, bias := normal(r, 3), normal(r, 3)
	mean, vr := normal(r, 3), normal(r, 3)
	for i := range vr.Floats() {
		vr.Floats()[i] = 1 + vr.Floats()[i]*vr.Floats()[i]
	}
	in := []*interp.Tensor{x, scale, bias, mean, vr}
	for _, c := range []struct {
		name     string
		opset    int64
		outs     int
		training bool
	}{
		{"opset 9, five outputs", 9, 5, true},
		{"opset 13, five outputs", 13, 5, true},
		{"opset 7, five outputs", 7, 5, true},
		{"opset 13, one output", 13, 1, false},
		{"opset 15, training_mode", 15, 3, true},
		{"opset 15, inference", 15, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var attrs []*onnx.Attribute
			if c.opset >= 14 && c.training {
				attrs = append(attrs, onnx.IntAttr("training_mode", 1))
			}
			nd := ortNode{name: c.name, op: "BatchNormalization", opset: c.opset, attrs: attrs, in: in, consts: 0b11110, outs: c.outs}
			m, feeds := nd.model(t)
			if got := interp.BatchNormTraining(m.Graph.Nodes[0], c.opset); got != c.training {
				t.Fatalf("BatchNormTraining = %v, want %v", got, c.training)
			}
			s, err := interp.NewSession(m, interp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := s.Run(feeds)
			if err != nil {
				t.Fatal(err)
			}
			// In training mode each channel of y has the batch mean β and
			// standard deviation |γ| (up to ε); in inference mode not.
			y := out[0].Floats()
			for ch := range 3 {
				var s, ss float64
				cnt := 0
				for n := range 4 {
					for _, v := range y[(n*3+ch)*30 : (n*3+ch+1)*30] {
						s += float64(v)
						ss += float64(v) * float64(v)
						cnt++
					}
				}
				m := s / float64(cnt)
				sd := math.Sqrt(ss/float64(cnt) - m*m)
				beta, gamma := float64(bias.Floats()[ch]), math.Abs(float64(scale.Floats()[ch]))
				batchStats := math.Abs(m-beta) < 1e-4 && math.Abs(sd-gamma) < 1e-3*max(gamma, 1)
				if batchStats != c.training {
					t.Errorf("channel %d: mean %.5f sd %.5f, β %.5f |γ| %.5f: normalised by the batch = %v, want %v", ch, m, sd, beta, gamma, batchStats, c.training)
				}
			}
			checkORT(t, nd)
		})
	}
}
