package stats

import (
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// ShapeFunc returns a value's static shape, or false when it is not known.
// Inspect uses DeclaredShape; the pass manager can pass the shapes its shape
// inference found.
type ShapeFunc func(v *onnx.Value) ([]int64, bool)

// DeclaredShape reads a shape from what the file states: an initializer's dims,
// or the declared tensor type of a graph input, output or value_info entry.
func DeclaredShape(v *onnx.Value) ([]int64, bool) {
	switch {
	case v == nil:
		return nil, false
	case v.Const != nil:
		return v.Const.Dims, true
	case v.Sparse != nil:
		return v.Sparse.Dims, true
	case v.Type != nil && v.Type.Kind == onnx.TypeTensor && v.Type.HasShape():
		return v.Type.Shape.Static()
	}
	return nil, false
}

// FLOPs is the floating-point operation count of one run of the main graph:
// Conv, Gemm and MatMul (a multiply-add is 2 FLOPs, a bias add 1 per output
// element; ConvInteger, QLinearConv, MatMulInteger and QLinearMatMul alike), BatchNormalization (2 per element: scale and shift) and the
// elementwise arithmetic and activations (1 per output element; not those
// whose output is known to hold integers: index arithmetic), so that
// folding a BatchNormalization or a Mul into a Conv shows as fewer FLOPs. It reports false when a counted
// node's shapes are unknown, or when one sits in a subgraph (If/Loop/Scan run
// their bodies a data-dependent number of times), so that a figure is never a
// silent undercount.
func FLOPs(m *onnx.Model, shape ShapeFunc) (int64, bool) {
	if m.Graph == nil {
		return 0, true
	}
	var total int64
	for _, n := range m.Graph.Nodes {
		f, counted, ok := NodeFLOPs(n, shape)
		if counted && !ok {
			return 0, false
		}
		total = AddSat(total, f)
		for _, sg := range n.Subgraphs() {
			inner := false
			sg.Walk(func(g *onnx.Graph) {
				for _, sn := range g.Nodes {
					if countedOp(sn) {
						inner = true
					}
				}
			})
			if inner {
				return 0, false
			}
		}
	}
	return total, true
}

func countedOp(n *onnx.Node) bool {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return false
	}
	switch n.OpType {
	case "Conv", "Gemm", "MatMul":
		return true
	}
	_, conv := intConvWeight[n.OpType]
	_, matmul := intMatMulB[n.OpType]
	return conv || matmul || elementCost[n.OpType] > 0 && !integerOutput(n)
}

// integerOutput reports whether n's output is known to hold integers or
// booleans: index and shape arithmetic (an Add of int64 offsets, often
// with shapes only a run knows), no floating-point operations.
func integerOutput(n *onnx.Node) bool {
	v := n.Output(0)
	if v == nil || v.Type == nil || v.Type.Kind != onnx.TypeTensor || v.Type.Elem == onnx.Undefined {
		return false
	}
	return !v.Type.Elem.IsFloat()
}

// The integer convolutions and products count as their float forms do (2
// per multiply-add), so that a pre-quantized model's figure compares with
// its float model's rather than dropping to its elementwise ops: the input
// that holds the weights (or B), and the bias input (-1: none).
var (
	intConvWeight = map[string][2]int{"ConvInteger": {1, -1}, "QLinearConv": {3, 8}}
	intMatMulB    = map[string]int{"MatMulInteger": 1, "QLinearMatMul": 3}
)

// elementCost is the FLOPs per output element of ops counted by output size.
var elementCost = map[string]int64{
	"BatchNormalization": 2,
	"Add":                1, "Sub": 1, "Mul": 1, "Div": 1, "Pow": 1, "Sqrt": 1, "Reciprocal": 1,
	"Relu": 1, "LeakyRelu": 1, "PRelu": 1, "Clip": 1, "Sigmoid": 1, "Tanh": 1,
	"HardSigmoid": 1, "HardSwish": 1, "Erf": 1, "Exp": 1, "Gelu": 1, "Softplus": 1,
}

// NodeFLOPs is one node's FLOPs. counted says whether the op is one FLOPs
// counts at all; ok says whether the shapes needed were known.
func NodeFLOPs(n *onnx.Node, shape ShapeFunc) (flops int64, counted, ok bool) {
	if !countedOp(n) {
		return 0, false, true
	}
	in := func(i int) ([]int64, bool) { return shape(n.Input(i)) }
	if c := elementCost[n.OpType]; c > 0 {
		y, okY := shape(n.Output(0))
		if !okY {
			return 0, true, false
		}
		return mulSat(c, prod(y)), true, true
	}
	op := n.OpType
	weight, bias := 1, 2
	if wb, ok := intConvWeight[op]; ok {
		op, weight, bias = "Conv", wb[0], wb[1]
	}
	bIn := 1
	if b, ok := intMatMulB[op]; ok {
		op, bIn = "MatMul", b
	}
	switch op {
	case "Conv":
		w, okW := in(weight)
		y, okY := shape(n.Output(0))
		if !okW || !okY || len(w) < 3 {
			return 0, true, false
		}
		out := prod(y)
		f := mulSat(2, mulSat(out, prod(w[1:])))
		if bias >= 0 && n.Input(bias) != nil {
			f = AddSat(f, out)
		}
		return f, true, true
	case "Gemm":
		m, nn, k, good := gemmDims(n, shape)
		if !good {
			return 0, true, false
		}
		f := mulSat(2, mulSat(m, mulSat(nn, k)))
		if n.Input(2) != nil {
			f = AddSat(f, mulSat(m, nn))
		}
		return f, true, true
	case "MatMul":
		a, okA := in(0)
		b, okB := in(bIn)
		k := int64(-1)
		switch {
		case okA && len(a) >= 1:
			k = a[len(a)-1]
		case okB && len(b) == 1:
			k = b[0]
		case okB && len(b) >= 2:
			k = b[len(b)-2]
		}
		y, okY := shape(n.Output(0))
		if !okY && okA && okB {
			y, okY = matmulShape(a, b)
		}
		if k < 0 || !okY {
			return 0, true, false
		}
		return mulSat(2, mulSat(prod(y), k)), true, true
	}
	return 0, false, true
}

// gemmDims finds M, N and K of a Gemm from whichever of A, B and Y are known.
func gemmDims(n *onnx.Node, shape ShapeFunc) (m, nn, k int64, ok bool) {
	m, nn, k = -1, -1, -1
	if a, okA := shape(n.Input(0)); okA && len(a) == 2 {
		if n.AttrInt("transA", 0) != 0 {
			m, k = a[1], a[0]
		} else {
			m, k = a[0], a[1]
		}
	}
	if b, okB := shape(n.Input(1)); okB && len(b) == 2 {
		if n.AttrInt("transB", 0) != 0 {
			k, nn = b[1], b[0]
		} else {
			k, nn = b[0], b[1]
		}
	}
	if y, okY := shape(n.Output(0)); okY && len(y) == 2 {
		m, nn = y[0], y[1]
	}
	return m, nn, k, m >= 0 && nn >= 0 && k >= 0
}

// matmulShape is numpy.matmul's result shape, or false if the shapes do not fit.
func matmulShape(a, b []int64) ([]int64, bool) {
	if len(a) == 0 || len(b) == 0 {
		return nil, false
	}
	var tail []int64
	switch {
	case len(a) == 1 && len(b) == 1:
		return []int64{}, true
	case len(a) == 1:
		tail = []int64{b[len(b)-1]}
		b = b[:len(b)-2]
		a = nil
	case len(b) == 1:
		tail = []int64{a[len(a)-2]}
		a = a[:len(a)-2]
		b = nil
	default:
		tail = []int64{a[len(a)-2], b[len(b)-1]}
		a, b = a[:len(a)-2], b[:len(b)-2]
	}
	batch := make([]int64, max(len(a), len(b)))
	for i := range batch {
		da, db := int64(1), int64(1)
		if j := len(a) - len(batch) + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - len(batch) + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			batch[i] = da
		case da == 1:
			batch[i] = db
		default:
			return nil, false
		}
	}
	return append(batch, tail...), true
}

func prod(dims []int64) int64 {
	p := int64(1)
	for _, d := range dims {
		p = mulSat(p, d)
	}
	return p
}

// mulSat and addSat saturate instead of wrapping: shapes come from untrusted files.
func mulSat(a, b int64) int64 {
	if a < 0 || b < 0 {
		return 0
	}
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// AddSat is a+b for non-negative counts, saturating at the largest int64.
func AddSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
