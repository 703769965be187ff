// Package all links every pass into the binary and defines the "default"
// group: the lossless pipeline that runs when --passes is absent.
package all

import (
	"github.com/onnxslim/onnxslim/passes"
	_ "github.com/onnxslim/onnxslim/passes/cleanup"  // registers cleanup
	_ "github.com/onnxslim/onnxslim/passes/convert"  // registers convert
	_ "github.com/onnxslim/onnxslim/passes/fold"     // registers fold
	_ "github.com/onnxslim/onnxslim/passes/fuse"     // registers fuse
	_ "github.com/onnxslim/onnxslim/passes/lowrank"  // registers lowrank
	_ "github.com/onnxslim/onnxslim/passes/prune"    // registers prune
	_ "github.com/onnxslim/onnxslim/passes/quantize" // registers quantize
	_ "github.com/onnxslim/onnxslim/passes/unfuse"   // registers unfuse
)

func init() {
	passes.RegisterGroup(&passes.Group{
		Name:          "default",
		Doc:           "the lossless pipeline: cleanup, fold and fuse repeated until nothing changes",
		Members:       []string{"cleanup", "fold", "fuse"},
		MaxIterations: 8,
	})
}
