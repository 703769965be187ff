package interp

import (
	"fmt"

	"github.com/onnxslim/onnxslim/onnx"
)

// EvalNode runs one node on the given inputs (nil for omitted ones) with its
// registered kernel at the given opset of the node's domain, as a session
// would. Nodes with subgraphs that read values of enclosing graphs cannot be
// evaluated this way.
func EvalNode(n *onnx.Node, opset int64, inputs []*Tensor) ([]*Tensor, error) {
	return evalNode(n, opset, inputs, DefaultMaxMemory)
}

// notImplemented is the error for a node no kernel runs.
func notImplemented(n *onnx.Node, opset int64) error {
	err := fmt.Errorf("%s: op %s of domain %q at opset %d is not implemented by the interpreter", onnx.NodePlace(n), n.OpType, domainName(n.Domain), opset)
	if n.Domain == NCHWcDomain {
		err = fmt.Errorf("%w: %s", err, NCHWcNote)
	}
	return err
}

// NCHWcDomain holds the ops ONNX Runtime's "all" optimization level writes
// (ReorderInput, Conv, MaxPool, … in a blocked channel layout).
const NCHWcDomain = "com.microsoft.nchwc"

// NCHWcNote says why a model with NCHWc ops cannot be run here.
const NCHWcNote = "ONNX Runtime's NCHWc layout (optimization level \"all\") is specific to the CPU that saved the model: its weights are reordered in channel blocks whose size (8 or 16) the file does not record. Save the model at level \"extended\" or below (or use the model ONNX Runtime read)"

func evalNode(n *onnx.Node, opset int64, inputs []*Tensor, maxMemory int64) (out []*Tensor, err error) {
	b, _, ok := Lookup(n.Domain, n.OpType, opset)
	if !ok {
		return nil, notImplemented(n, opset)
	}
	// The compiler only needs a model for the opsets of subgraph nodes.
	m := &onnx.Model{Opsets: []onnx.OpsetID{{Domain: n.Domain, Version: opset}}}
	var k Kernel
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%s: building the kernel failed: %v", onnx.NodePlace(n), r)
			}
		}()
		k, err = b(&Build{Node: n, Opset: opset, c: &compiler{model: m}})
	}()
	if err != nil {
		return nil, err
	}
	ctx := &Ctx{opts: &Options{MaxMemory: maxMemory, Threads: 1}}
	return ctx.call(&step{node: n, kernel: k}, inputs)
}
