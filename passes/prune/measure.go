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
// The layers' outputs are held for a sample at once; where their sizes
// are known, layers go in walks of at most maxMeasureBytes of them.
func measureMasked(c *passes.Context, m, float *onnx.Model, layers []*layer, reps []LayerReport, src *calib.Source) error {
	shape := passes.SizedShapes(float, c.InputDims())
	for i0 := 0; i0 < len(layers); {
		i1, bytes := i0, int64(0)
		for i1 < len(layers) {
			if s, ok := shape(layers[i1].node.Output(0)); ok {
				bytes += 4 * numElements(s)
			}
			if i1 > i0 && bytes > maxMeasureBytes {
				break
			}
			i1++
		}
		if err := measureWalk(c, m, float, layers[i0:i1], reps[i0:i1], src); err != nil {
			return err
		}
		i0 = i1
	}
	return nil
}

// maxMeasureBytes bounds the layer outputs one walk of measureMasked holds
// for a sample (per model); a variable for tests.
var maxMeasureBytes int64 = 256 << 20

// numElements is a shape's element count, a dim ≤ 0 counted as 1 (an
// estimate that errs on the large side).
func numElements(s []int64) int64 {
	n := int64(1)
	for _, d := range s {
		n *= max(d, 1)
	}
	return n
}

// measureWalk is measureMasked for layers whose outputs are held together.
func measureWalk(c *passes.Context, m, float *onnx.Model, layers []*layer, reps []LayerReport, src *calib.Source) error {
	src, err := src.Reopen(0)
	if err != nil {
		return err
	}
	defer src.Close()
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
