package passes

import (
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Shapes infers value types and shapes (it sets Value.Type throughout the
// model) and returns an *interp.ShapeInfo (contents of shape tensors,
// constants found): passes.Get[*interp.ShapeInfo](c, passes.Shapes).
// Symbolic dimensions stay symbolic unless fixed by Context.Dims. After
// editing the graph, c.Invalidate(passes.Shapes) and Get again re-infer.
var Shapes = &Analysis{
	Name: "shapes",
	Doc:  "*interp.ShapeInfo",
	Run: func(c *Context, m *onnx.Model) (any, error) {
		info, err := interp.InferShapes(m, interp.ShapeOptions{Dims: c.Dims})
		if err != nil {
			return nil, err
		}
		return info, nil
	},
}

// ShapeInfo returns the shape analysis's result (computed if need be), or
// nil if shapes could not be inferred.
func (c *Context) ShapeInfo() *interp.ShapeInfo {
	info, _ := Get[*interp.ShapeInfo](c, Shapes)
	return info
}
