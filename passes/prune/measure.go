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
	// Batches run in parallel, a thread each; a large model's in lockstep
	// groups, on every thread (calib.GroupingFor).
	grouping, threads := calib.GroupingFor(float), 1
	if grouping.Workers == 1 {
		threads = 0
	}
	ps, err := interp.NewSession(pm, interp.Options{Threads: threads})
	if err != nil {
		return fmt.Errorf("pruned model: %w", err)
	}
	fs, err := interp.NewSession(fm, interp.Options{Threads: threads})
	if err != nil {
		return fmt.Errorf("float model: %w", err)
	}
	// Sums per batch, added up in batch order at the end: the same figures
	// whichever batches ran together.
	type sums struct{ err, norm []float64 }
	perBatch := make([]sums, src.Total())
	_, err = calib.StreamGroups(c, src, grouping, func(first int, ins []map[string]*interp.Tensor) error {
		pos, err := ps.RunLockstep(c, ins)
		if err != nil {
			return fmt.Errorf("batch %d: pruned model: %w", first, err)
		}
		fos, err := fs.RunLockstep(c, ins)
		if err != nil {
			return fmt.Errorf("batch %d: float model: %w", first, err)
		}
		for k := range ins {
			s := sums{make([]float64, len(names)), make([]float64, len(names))}
			for i, name := range names {
				yp, err := interp.AsFloat32(pos[k][pidx[name]])
				if err != nil {
					return fmt.Errorf("%s: %w", layers[i].name(), err)
				}
				yf, err := interp.AsFloat32(fos[k][fidx[name]])
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
			if b := first + k; b < len(perBatch) {
				perBatch[b] = s
			}
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
