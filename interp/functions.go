package interp

import (
	"fmt"

	"github.com/onnxslim/onnxslim/onnx"
)

// withFunctionsInlined returns m itself, or, when its graph calls
// model-local functions, a copy with their bodies inlined: the interpreter
// runs the nodes inside a function rather than treating the call as an
// unknown op. Inlined nodes are named "call/node", so an error inside a body
// still names the call. m is never changed.
func withFunctionsInlined(m *onnx.Model) (*onnx.Model, error) {
	if !m.CallsFunctions() {
		return m, nil
	}
	c := m.Clone()
	if _, err := c.InlineFunctions(); err != nil {
		return nil, fmt.Errorf("inlining model-local functions: %w", err)
	}
	return c, nil
}
