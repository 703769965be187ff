package passes

import (
	"github.com/onnxslim/onnxslim/onnx"
)

// Shapes infers value types and shapes (Value.Type) before a pass runs.
// Symbolic dimensions stay symbolic unless fixed by Context.Dims.
var Shapes = &Analysis{
	Name: "shapes",
	Run: func(c *Context, m *onnx.Model) (any, error) {
		return inferShapes(c, m)
	},
}

// inferShapes is replaced by the interpreter's shape inference.
var inferShapes = func(c *Context, m *onnx.Model) (any, error) { return nil, nil }
