package passes

import (
	"github.com/onnxslim/onnxslim/internal/stats"
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

// SizedShapes is a stats.ShapeFunc for m's main-graph values: the shape
// stated on a value where it is static, else the one shape inference finds
// on a copy of m with its symbolic dims set from dims (Context.InputDims:
// the sizes generated inputs take). A dynamic model's FLOPs are then known
// at those sizes, while m keeps its symbolic shapes.
func SizedShapes(m *onnx.Model, dims map[string]int64) stats.ShapeFunc {
	if len(dims) == 0 {
		return stats.DeclaredShape
	}
	sized := m.Clone()
	_, _ = interp.InferShapes(sized, interp.ShapeOptions{Dims: dims})
	byName := map[string]*onnx.Value{}
	for _, v := range sized.Graph.Values() {
		byName[v.Name] = v
	}
	return func(v *onnx.Value) ([]int64, bool) {
		if s, ok := stats.DeclaredShape(v); ok || v.Graph() != m.Graph {
			return s, ok
		}
		if sv := byName[v.Name]; sv != nil {
			return stats.DeclaredShape(sv)
		}
		return nil, false
	}
}

// FLOPsAt is m's FLOPs with SizedShapes(m, dims).
func FLOPsAt(m *onnx.Model, dims map[string]int64) (int64, bool) {
	return stats.FLOPs(m, SizedShapes(m, dims))
}
