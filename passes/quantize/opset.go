package quantize

import (
	"fmt"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// Raising the ai.onnx opset is only safe where every op of the model means
// the same at the new version. Most later versions only add types or
// optional attributes; the changes below are the ones that alter meaning.
// Those that move an attribute to an input (axes, split) are converted; the
// rest make the raise refuse.

// attrToInput lists ops whose attribute became an int64 input at a version.
var attrToInput = map[string]struct {
	since int64
	attr  string
	index int
}{
	"ReduceSum":       {13, "axes", 1},
	"Squeeze":         {13, "axes", 1},
	"Unsqueeze":       {13, "axes", 1},
	"Split":           {13, "split", 1},
	"ReduceMean":      {18, "axes", 1},
	"ReduceMax":       {18, "axes", 1},
	"ReduceMin":       {18, "axes", 1},
	"ReduceProd":      {18, "axes", 1},
	"ReduceL1":        {18, "axes", 1},
	"ReduceL2":        {18, "axes", 1},
	"ReduceLogSum":    {18, "axes", 1},
	"ReduceLogSumExp": {18, "axes", 1},
	"ReduceSumSquare": {18, "axes", 1},
}

// changedAt lists ops whose meaning changed at a version in a way not
// converted here.
var changedAt = map[string][]int64{
	"Softmax":            {13},
	"LogSoftmax":         {13},
	"Hardmax":            {13},
	"Upsample":           {10},
	"Resize":             {11, 13},
	"Pad":                {11},
	"Clip":               {11},
	"TopK":               {10, 11},
	"Slice":              {10},
	"GridSample":         {20},
	"DFT":                {20},
	"GroupNormalization": {21},
	"Scan":               {9},
	"Dropout":            {12},
}

// raiseOpset moves the model's ai.onnx opset to want, converting the ops
// whose attributes became inputs. It changes nothing and says why when an
// op of the model changed meaning on the way.
func raiseOpset(m *onnx.Model, want int64) error {
	have := m.Opset("")
	if have >= want {
		return nil
	}
	if have == 0 {
		return fmt.Errorf("the model imports no ai.onnx opset")
	}
	if m.IRVersion < 4 {
		// Raising the IR version would turn IR<4 initializer inputs into
		// inputs a caller may override.
		return fmt.Errorf("IR version %d lists initializers as inputs", m.IRVersion)
	}
	var convert []*onnx.Node
	for _, g := range m.Graphs() {
		for _, n := range g.Nodes {
			if n.Domain != "" && n.Domain != "ai.onnx" {
				continue
			}
			for _, v := range changedAt[n.OpType] {
				if v > have && v <= want {
					return fmt.Errorf("node %s: %s changed meaning at opset %d", onnx.NodePlace(n), n.OpType, v)
				}
			}
			if c, ok := attrToInput[n.OpType]; ok && c.since > have && c.since <= want {
				if n.Attr(c.attr) != nil {
					if g.Parent != nil {
						return fmt.Errorf("node %s: %s in a subgraph would need its %s converted", onnx.NodePlace(n), n.OpType, c.attr)
					}
					convert = append(convert, n)
				}
			}
		}
	}
	for _, n := range convert {
		c := attrToInput[n.OpType]
		vals := n.AttrInts(c.attr, nil)
		v := passes.AddConst(m, n.Graph, n.Name+"_"+c.attr, onnx.NewInt64Tensor("", []int64{int64(len(vals))}, vals))
		n.SetInput(c.index, v)
		n.RemoveAttr(c.attr)
	}
	m.SetOpset("", want)
	// Opset 21 needs IR version 10 (int4 types); opset 13 needs IR 7.
	irFor := map[int64]int64{13: 7, 21: 10}
	if ir := irFor[want]; m.IRVersion < ir {
		m.IRVersion = ir
	}
	return nil
}
