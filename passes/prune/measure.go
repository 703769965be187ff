package prune

import (
	"fmt"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
)

// measureMasked gives each layer's report the relative L2 error of its
// output against the float model's, on the calibration data, when nothing
// is refit: the masked weights do not depend on the data, so one run of
// each model a sample yields every layer's error, where the refit needs
// runs up to each layer in turn (L·S runs of the model instead of 2·S).
func measureMasked(c *passes.Context, m, float *onnx.Model, layers []*layer, reps []LayerReport, src *calib.Source) error {
	names := make([]string, len(layers))
	for i, l := range layers {
		names[i] = l.node.Output(0).Name
	}
	pm, pidx, err := calib.WithOutputs(m, names)
	if err != nil {
		return err
	}
	fm, fidx, err := calib.WithOutputs(float, names)
	if err != nil {
		return err
	}
	// Sums per batch, added up in batch order at the end: the same figures
	// whichever batches ran together.
	type sums struct{ err, norm []float64 }
	perBatch := make([]sums, src.Total())
	err = streamPair(c, src, pm, fm, float, func(b int, po, fo []*interp.Tensor) error {
		s := sums{make([]float64, len(names)), make([]float64, len(names))}
		for i, name := range names {
			yp, err := interp.AsFloat32(po[pidx[name]])
			if err != nil {
				return fmt.Errorf("%s: %w", layers[i].name(), err)
			}
			yf, err := interp.AsFloat32(fo[fidx[name]])
			if err != nil {
				return fmt.Errorf("%s: %w", layers[i].name(), err)
			}
			if len(yp) != len(yf) {
				return fmt.Errorf("%s: %d outputs, %d in the float model", layers[i].name(), len(yp), len(yf))
			}
			for j, v := range yf {
				d := float64(yp[j]) - float64(v)
				s.err[i] += d * d
				s.norm[i] += float64(v) * float64(v)
			}
		}
		if b < len(perBatch) {
			perBatch[b] = s
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range reps {
		var e, n float64
		for _, s := range perBatch {
			if s.err != nil {
				e += s.err[i]
				n += s.norm[i]
			}
		}
		reps[i].ErrBefore = ptr(relL2(e, n))
		reps[i].ErrAfter = reps[i].ErrBefore
	}
	return nil
}
