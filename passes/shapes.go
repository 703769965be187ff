package passes

import (
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Shapes infers value types and shapes (Value.Type) before a pass runs, and
// returns the *interp.ShapeInfo (contents of shape tensors, constants found).
// Symbolic dimensions stay symbolic unless fixed by Context.Dims.
var Shapes = &Analysis{
	Name: "shapes",
	Run: func(c *Context, m *onnx.Model) (any, error) {
		info, err := interp.InferShapes(m, interp.ShapeOptions{Dims: c.Dims})
		if err != nil {
			return nil, err
		}
		return info, nil
	},
}

// ShapeInfo returns the shape analysis result of a pass that requires Shapes.
func (c *Context) ShapeInfo() *interp.ShapeInfo {
	info, _ := c.results[Shapes].(*interp.ShapeInfo)
	return info
}
