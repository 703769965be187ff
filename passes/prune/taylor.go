package prune

import (
	"errors"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
)

// taylorWeightScores needs interp/grad (not merged yet).
func taylorWeightScores(c *passes.Context, float *onnx.Model, layers []*layer, src *calib.Source, cfg *config) ([][]float64, error) {
	return nil, errors.New("gradients are not available in this build (interp/grad)")
}
