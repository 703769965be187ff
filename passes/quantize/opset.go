package quantize

import (
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes/convert"
)

// raiseOpset moves the model's ai.onnx opset to want through the convert
// pass, which rewrites the ops whose meaning changed on the way. It changes
// nothing and says why when an op cannot be carried over.
func raiseOpset(m *onnx.Model, want int64) error {
	_, err := convert.Upgrade(m, want)
	return err
}
