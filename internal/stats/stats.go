// Package stats measures a model: parameter count, initializer bytes, op
// histogram and FLOPs. Inspect, the optimize report and the pass manager share
// it so that every "before → after" figure is computed the same way.
package stats

import (
	"github.com/onnxslim/onnxslim/onnx"
)

// Params is the number of parameters: the elements of every dense initializer
// plus the stored values of every sparse initializer, in all graphs.
func Params(m *onnx.Model) int64 {
	var n int64
	for _, g := range m.Graphs() {
		for _, v := range g.Initializers {
			n += v.Const.NumElements()
		}
		for _, v := range g.Sparse {
			if v.Sparse.Values != nil {
				n += v.Sparse.Values.NumElements()
			}
		}
	}
	return n
}

// Bytes is the payload size of all initializers (dense, and sparse values plus
// indices) in all graphs: what the weights cost on disk, without protobuf framing.
func Bytes(m *onnx.Model) int64 {
	var n int64
	for _, g := range m.Graphs() {
		for _, v := range g.Initializers {
			n += v.Const.ByteSize()
		}
		for _, v := range g.Sparse {
			for _, t := range []*onnx.Tensor{v.Sparse.Values, v.Sparse.Indices} {
				if t != nil {
					n += t.ByteSize()
				}
			}
		}
	}
	return n
}

// Nodes is the number of nodes of the main graph (subgraph bodies not counted).
func Nodes(m *onnx.Model) int {
	if m.Graph == nil {
		return 0
	}
	return len(m.Graph.Nodes)
}

// OpHistogram counts the main graph's nodes by operator. Operators of a
// domain other than the default one are keyed "domain.Op" (e.g.
// "com.microsoft.FusedConv") so that they cannot be confused with ONNX ops.
func OpHistogram(m *onnx.Model) map[string]int {
	h := map[string]int{}
	if m.Graph == nil {
		return h
	}
	for _, n := range m.Graph.Nodes {
		h[OpKey(n)]++
	}
	return h
}

// OpKey is the histogram key of a node: its op type, prefixed by its domain
// unless that is the default ONNX domain.
func OpKey(n *onnx.Node) string {
	if n.Domain == "" || n.Domain == "ai.onnx" {
		return n.OpType
	}
	return n.Domain + "." + n.OpType
}
