//go:build !prunechan

package prune

import (
	"errors"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// runChannels: channel pruning needs passes/chandep, which is not merged
// into this branch yet (build with -tags prunechan once it is).
func runChannels(c *passes.Context, m *onnx.Model, cfg *config) (int, error) {
	return 0, errors.New("structure=channel: channel dependencies (passes/chandep) are not in this build")
}
