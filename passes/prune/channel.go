package prune

import (
	"errors"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// runChannels needs passes/chandep (not merged yet).
func runChannels(c *passes.Context, m *onnx.Model, cfg *config) (int, error) {
	return 0, errors.New("structure=channel: channel dependencies are not available in this build (passes/chandep)")
}
