package passes

import (
	"context"

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

// FLOPsRun is m's FLOPs where shape inference at dims leaves them unknown
// because some shapes depend on the data (detections after
// NonMaxSuppression, NonZero, a TopK by a computed k) or an If or Loop body
// holds counted ops: one run on the sample feeds gives (RunShapes) — that
// sample's figure. Without a run (ran false) it is FLOPsAt's; a model of
// interp.LargeModel weights or more is not run for it (a run reads every
// weight from disk), nor any model when feeds is nil, and the run stops
// when cx is done (FLOPs unknown).
func FLOPsRun(cx context.Context, m *onnx.Model, dims map[string]int64, feeds func() (map[string]*interp.Tensor, error)) (flops int64, ran, ok bool) {
	if f, ok := FLOPsAt(m, dims); ok || feeds == nil || interp.WeightBytes(m) >= interp.LargeModel {
		return f, false, ok
	}
	in, err := feeds()
	if err != nil {
		return 0, false, false
	}
	f, _, ok := RunFLOPs(cx, m, dims, in)
	return f, true, ok
}

// RunFLOPs is m's FLOPs on one run of the feeds in (RunShapes): the main
// graph's nodes with the shapes it gives, and the bodies' as executed;
// shape is the main graph's shapes.
func RunFLOPs(cx context.Context, m *onnx.Model, dims map[string]int64, in map[string]*interp.Tensor) (flops int64, shape stats.ShapeFunc, ok bool) {
	shape, bodies, ok := RunShapes(cx, m, dims, in)
	if !ok {
		return 0, nil, false
	}
	f, ok := mainGraphFLOPs(m, shape)
	return stats.AddSat(f, bodies), shape, ok
}

// mainGraphFLOPs is the FLOPs of m's main graph's nodes with shape, an If
// or Loop counted without its bodies (RunShapes counts those).
func mainGraphFLOPs(m *onnx.Model, shape stats.ShapeFunc) (int64, bool) {
	var total int64
	for _, n := range m.Graph.Nodes {
		f, counted, ok := stats.NodeFLOPs(n, shape)
		if counted && !ok {
			return 0, false
		}
		total = stats.AddSat(total, f)
	}
	return total, true
}

// RunShapes runs m once on the feeds in and returns the shapes of its main
// graph's values — SizedShapes(m, dims)'s, and the run's where inference
// leaves them unknown (they depend on the data) — and the FLOPs of the
// If and Loop bodies' nodes as the run executed them (the branch an If
// took, every trip of a Loop). ok is false when the run fails, cx is done
// first, or a body node's FLOPs cannot be counted.
func RunShapes(cx context.Context, m *onnx.Model, dims map[string]int64, in map[string]*interp.Tensor) (shape stats.ShapeFunc, bodyFLOPs int64, ok bool) {
	s, err := interp.NewSession(m, interp.OptionsFor(m, interp.Options{}))
	if err != nil {
		return nil, 0, false
	}
	seen := map[*onnx.Value][]int64{}
	note := func(into map[*onnx.Value][]int64, vs []*onnx.Value, ts []*interp.Tensor) {
		for i, v := range vs {
			if v != nil && i < len(ts) && ts[i] != nil && ts[i].Kind == interp.KindTensor {
				into[v] = interp.DimsInt64(ts[i].Shape)
			}
		}
	}
	bodiesKnown := true
	_, err = s.RunVisit(cx, in, func(n *onnx.Node, ins, outs []*interp.Tensor) {
		if n.Graph == m.Graph {
			note(seen, n.Inputs(), ins)
			note(seen, n.Outputs(), outs)
			return
		}
		local := map[*onnx.Value][]int64{}
		note(local, n.Inputs(), ins)
		note(local, n.Outputs(), outs)
		f, counted, ok := stats.NodeFLOPs(n, func(v *onnx.Value) ([]int64, bool) {
			if d, ok := local[v]; ok {
				return d, true
			}
			return stats.DeclaredShape(v)
		})
		bodiesKnown = bodiesKnown && (ok || !counted)
		bodyFLOPs = stats.AddSat(bodyFLOPs, f)
	})
	if err != nil || !bodiesKnown {
		return nil, 0, false
	}
	sized := SizedShapes(m, dims)
	return func(v *onnx.Value) ([]int64, bool) {
		if d, ok := sized(v); ok {
			return d, true
		}
		d, ok := seen[v]
		return d, ok
	}, bodyFLOPs, true
}
