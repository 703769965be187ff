package lowrank

import (
	"gonum.org/v1/gonum/mat"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// split replaces l's node by two: a new node applying b (r×cols) first,
// named after the original with a "_lowrank" suffix, then the original
// node itself (same name, same output value, its bias and attributes that
// still apply) applying a (rows×r). The old weight is dropped when nothing
// else reads it.
func split(m *onnx.Model, l *layer, a, b *mat.Dense) {
	n := l.node
	g := n.Graph
	r, _ := b.Dims()
	base := nodeName(n)
	wname := l.weight.Name
	addW := func(dims []int64, data []float32) *onnx.Value {
		return passes.AddConst(m, g, wname+"_lowrank", onnx.NewFloatTensor("", dims, data))
	}
	x := n.Input(0)
	var first *onnx.Node
	var second *onnx.Value // the original node's new weight
	switch l.op {
	case "Gemm":
		transB := n.AttrInt("transB", 0) == 1
		var w1 *onnx.Value
		if transB { // weights stored [out, in]
			w1 = addW([]int64{int64(r), int64(l.cols)}, f32(b))
			second = addW([]int64{int64(l.rows), int64(r)}, f32(a))
		} else {
			w1 = addW([]int64{int64(l.cols), int64(r)}, f32(b.T()))
			second = addW([]int64{int64(r), int64(l.rows)}, f32(a.T()))
		}
		ins := []*onnx.Value{x, w1}
		opset := m.Opset("")
		if opset < 11 { // C is required before opset 11: a zero that broadcasts
			ins = append(ins, passes.AddConst(m, g, wname+"_lowrank_zero", onnx.NewFloatTensor("", []int64{1}, []float32{0})))
		}
		first = g.NewNode("Gemm", "", g.FreshName(base+"_lowrank"), ins, g.FreshName(base+"_lowrank_out"))
		if t := n.Attr("transA"); t != nil {
			first.SetAttr(onnx.IntAttr("transA", t.Int))
		}
		if transB {
			first.SetAttr(onnx.IntAttr("transB", 1))
		}
		if opset < 7 { // Gemm-1/6 broadcast C only when asked
			first.SetAttr(onnx.IntAttr("broadcast", 1))
		}
		n.RemoveAttr("transA")
	case "MatMul":
		w1 := addW([]int64{int64(l.cols), int64(r)}, f32(b.T()))
		second = addW([]int64{int64(r), int64(l.rows)}, f32(a.T()))
		first = g.NewNode("MatMul", "", g.FreshName(base+"_lowrank"), []*onnx.Value{x, w1}, g.FreshName(base+"_lowrank_out"))
	case "Conv":
		first = g.NewNode("Conv", "", g.FreshName(base+"_lowrank"), nil, g.FreshName(base+"_lowrank_out"))
		for _, at := range n.Attrs {
			first.SetAttr(cloneAttr(at))
		}
		if l.spatial {
			N, C, kh, kw := l.dims[0], l.dims[1], l.dims[2], l.dims[3]
			w1 := addW([]int64{int64(r), C, kh, 1}, f32(b))
			h := make([]float32, int(N)*r*int(kw))
			for o := range int(N) {
				for j := range r {
					for x := range int(kw) {
						h[(o*r+j)*int(kw)+x] = float32(a.At(o*int(kw)+x, j))
					}
				}
			}
			second = addW([]int64{N, int64(r), 1, kw}, h)
			first.SetInputs(x, w1)
			// H then W: the first conv does the rows, the second the columns.
			along := func(node *onnx.Node, axis int, k int64) {
				if node.Attr("kernel_shape") != nil {
					ks := []int64{1, 1}
					ks[axis] = k
					node.SetAttr(onnx.IntsAttr("kernel_shape", ks))
				}
				for _, name := range []string{"strides", "dilations"} {
					if v := n.AttrInts(name, nil); len(v) == 2 {
						s := []int64{1, 1}
						s[axis] = v[axis]
						node.SetAttr(onnx.IntsAttr(name, s))
					}
				}
				if p := n.AttrInts("pads", nil); len(p) == 4 {
					s := make([]int64, 4)
					s[axis], s[axis+2] = p[axis], p[axis+2]
					node.SetAttr(onnx.IntsAttr("pads", s))
				}
			}
			along(first, 0, kh)
			along(n, 1, kw)
		} else {
			k := l.dims[1:]
			w1 := addW(append([]int64{int64(r)}, k...), f32(b))
			ones := make([]int64, len(l.dims)-2)
			for i := range ones {
				ones[i] = 1
			}
			second = addW(append([]int64{l.dims[0], int64(r)}, ones...), f32(a))
			first.SetInputs(x, w1)
			for _, name := range []string{"strides", "pads", "dilations", "auto_pad", "group"} {
				n.RemoveAttr(name)
			}
			if n.Attr("kernel_shape") != nil {
				n.SetAttr(onnx.IntsAttr("kernel_shape", ones))
			}
		}
	case "ConvTranspose":
		ones := make([]int64, len(l.dims)-2)
		for i := range ones {
			ones[i] = 1
		}
		w1 := addW(append([]int64{int64(r), l.dims[0]}, ones...), f32(b))
		second = addW(append([]int64{int64(r)}, l.dims[1:]...), f32(a.T()))
		first = g.NewNode("Conv", "", g.FreshName(base+"_lowrank"), []*onnx.Value{x, w1}, g.FreshName(base+"_lowrank_out"))
	}
	first.Output(0).Type = onnx.TensorType(onnx.Float, nil)
	g.InsertBefore(n, first)
	n.SetInput(0, first.Output(0))
	n.SetInput(1, second)
	if !passes.IsUsed(l.weight) && l.weight.Const != nil {
		g.RemoveInitializer(l.weight)
	}
}

// cloneAttr copies a plain attribute (Conv has no graph attributes).
func cloneAttr(a *onnx.Attribute) *onnx.Attribute {
	c := *a
	return &c
}

// f32 flattens a matrix row-major into float32s.
func f32(a mat.Matrix) []float32 {
	r, c := a.Dims()
	out := make([]float32, r*c)
	for i := range r {
		for j := range c {
			out[i*c+j] = float32(a.At(i, j))
		}
	}
	return out
}
