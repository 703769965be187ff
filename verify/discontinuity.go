package verify

import (
	"github.com/onnxslim/onnxslim/onnx"
)

// discontinuous are the ops whose output jumps when an input moves across a
// boundary: comparisons, rounding, selections by rank. An output computed
// through one can change by whole values under a tiny change of the
// weights (a peak found by Equal(MaxPool(x), x) moves one pixel), so a
// lossy result that is fine elsewhere can look far off there.
var discontinuous = map[string]bool{
	"Equal": true, "Greater": true, "GreaterOrEqual": true, "Less": true, "LessOrEqual": true,
	"ArgMax": true, "ArgMin": true, "TopK": true, "NonMaxSuppression": true,
	"Round": true, "Floor": true, "Ceil": true, "Sign": true,
}

// Discontinuity returns the nearest node of m's main graph, walking back
// from the output named output, that computes a discontinuous function of
// floating-point inputs (see discontinuous; a Cast from float to an
// integer counts), or nil.
func Discontinuity(m *onnx.Model, output string) *onnx.Node {
	if m == nil || m.Graph == nil {
		return nil
	}
	start := m.Graph.ValueByName(output)
	if start == nil {
		return nil
	}
	seen := map[*onnx.Node]bool{}
	queue := []*onnx.Value{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		n := v.Producer()
		if n == nil || n.Graph != m.Graph || seen[n] {
			continue
		}
		seen[n] = true
		if jumps(n) {
			return n
		}
		for _, in := range n.Inputs() {
			if in != nil && in.Const == nil {
				queue = append(queue, in)
			}
		}
	}
	return nil
}

// jumps reports whether n is a discontinuous op reading floats (inputs of
// unknown type count as floats).
func jumps(n *onnx.Node) bool {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return false
	}
	in := n.Input(0)
	floatIn := in == nil || in.Type == nil || in.Type.Kind != onnx.TypeTensor || in.Type.Elem == onnx.Undefined || in.Type.Elem.IsFloat()
	if n.OpType == "Cast" {
		to := onnx.DataType(n.AttrInt("to", 0))
		return floatIn && to != onnx.Undefined && !to.IsFloat()
	}
	return floatIn && discontinuous[n.OpType]
}
