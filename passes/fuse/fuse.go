// Package fuse replaces patterns of standard ops by a single standard op that
// runtimes execute faster: MatMul+Add → Gemm, Pad → Conv/AveragePool pads,
// a Relu into the Clip after it, and, where the model's opset has them, the
// decomposed LayerNormalization (opset ≥ 17) and Gelu (opset ≥ 20). Fusions
// never raise the opset.
package fuse

import (
	"math"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

func init() {
	passes.Register(&passes.Pass{
		Name:     "fuse",
		Doc:      "MatMul+Add→Gemm, Pad into Conv/AveragePool, Relu into a following Clip, LayerNormalization (opset ≥ 17) and Gelu (opset ≥ 20) from their decomposed forms",
		Requires: []*passes.Analysis{passes.Shapes},
		Run:      run,
	})
}

func run(c *passes.Context, m *onnx.Model) (int, error) {
	total := 0
	opset := m.Opset("")
	for _, g := range m.Graphs() {
		total += fuseMatMulAdd(c, m, g)
		total += fusePad(c, m, g)
		total += fuseReluClip(c, m, g)
		if opset >= 17 {
			total += fuseLayerNorm(c, m, g)
		}
		if opset >= 20 {
			total += fuseGelu(c, m, g)
		}
	}
	return total, nil
}

// rank is v's rank, or -1 when unknown.
func rank(v *onnx.Value) int {
	if v == nil || v.Type == nil || v.Type.Kind != onnx.TypeTensor || !v.Type.HasShape() {
		return -1
	}
	return len(v.Type.Shape)
}

// soleUser returns the only node reading v (and nil if v is also a graph
// output or read by more than one node).
func soleUser(v *onnx.Value) *onnx.Node {
	if v == nil || v.IsGraphOutput() || v.NumUses() != 1 {
		return nil
	}
	return v.Uses()[0].Node
}

// fuseMatMulAdd turns MatMul(A[M,K], B[K,N] const) + C into Gemm(A, B, C)
// when C broadcasts to [M,N] along rows only ([N] or [1,N]); M may be
// symbolic.
func fuseMatMulAdd(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	return passes.EachOp(g, []string{"MatMul"}, func(mm *onnx.Node) bool {
		a, b := mm.Input(0), mm.Input(1)
		bs, ok := passes.StaticShape(b)
		// Gemm's A is 2-D; its rows may be symbolic (a dynamic batch).
		if !ok || len(bs) != 2 || rank(a) != 2 || passes.ConstTensor(b) == nil || m.Opset("") < 7 {
			return false
		}
		if et := passes.ElemType(a); et != onnx.Float && et != onnx.Double && et != onnx.Float16 {
			return false
		}
		add := soleUser(mm.Output(0))
		if add == nil || add.OpType != "Add" || add.Domain != "" {
			return false
		}
		bias := add.Input(1)
		if bias == mm.Output(0) {
			bias = add.Input(0)
		}
		bshape, ok := passes.StaticShape(bias)
		if !ok || passes.ConstTensor(bias) == nil {
			return false
		}
		N := bs[1]
		switch {
		case len(bshape) == 1 && bshape[0] == N:
		case len(bshape) == 2 && bshape[0] == 1 && bshape[1] == N:
		default:
			return false
		}
		if !c.Allow() {
			return false
		}
		gemm := g.NewNode("Gemm", "", mm.Name, []*onnx.Value{a, b, bias}, g.FreshName(mm.Name+"_gemm"))
		g.InsertBefore(mm, gemm)
		out := gemm.Output(0)
		out.Type = add.Output(0).Type
		if !passes.Replace(add.Output(0), out) {
			g.RemoveNodes(gemm)
			return false
		}
		g.RemoveNodes(add, mm)
		return true
	})
}

// fusePad folds a constant-zero Pad on spatial axes into the pads of the Conv
// (or AveragePool counting padding) that alone reads it.
func fusePad(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	return passes.EachOp(g, []string{"Pad"}, func(pad *onnx.Node) bool {
		if mode := pad.AttrString("mode", "constant"); mode != "constant" {
			return false
		}
		pads, ok := padAmounts(pad)
		if !ok {
			return false
		}
		next := soleUser(pad.Output(0))
		if next == nil || next.Domain != "" || next.Input(0) != pad.Output(0) {
			return false
		}
		switch next.OpType {
		case "Conv":
		case "AveragePool":
			if next.AttrInt("count_include_pad", 0) != 1 && !allZero(next.AttrInts("pads", nil)) {
				return false
			}
		default:
			return false
		}
		if next.Attr("auto_pad") != nil && next.AttrString("auto_pad", "NOTSET") != "NOTSET" {
			return false
		}
		rank := len(pads) / 2
		if rank < 3 || pads[0] != 0 || pads[1] != 0 || pads[rank] != 0 || pads[rank+1] != 0 {
			return false // only spatial padding folds into pads
		}
		sp := rank - 2
		old := next.AttrInts("pads", make([]int64, 2*sp))
		if len(old) != 2*sp {
			return false
		}
		if !c.Allow() {
			return false
		}
		merged := make([]int64, 2*sp)
		for i := 0; i < sp; i++ {
			merged[i] = old[i] + pads[2+i]
			merged[sp+i] = old[sp+i] + pads[rank+2+i]
		}
		next.SetAttr(onnx.IntsAttr("pads", merged))
		if next.OpType == "AveragePool" {
			next.SetAttr(onnx.IntAttr("count_include_pad", 1))
		}
		next.SetInput(0, pad.Input(0))
		g.RemoveNodes(pad)
		return true
	})
}

func allZero(xs []int64) bool {
	for _, x := range xs {
		if x != 0 {
			return false
		}
	}
	return true
}

// padAmounts returns the pads of a Pad node that pads with zeros on all axes
// (no axes input), or false.
func padAmounts(pad *onnx.Node) ([]int64, bool) {
	var pads []int64
	if a := pad.Attr("pads"); a != nil {
		pads = a.Ints
		if pad.AttrFloat("value", 0) != 0 {
			return nil, false
		}
	} else {
		t := passes.ConstTensor(pad.Input(1))
		if t == nil {
			return nil, false
		}
		p, err := t.AsInt64()
		if err != nil {
			return nil, false
		}
		pads = p
		if v := pad.Input(2); v != nil {
			ct := passes.ConstTensor(v)
			if ct == nil || ct.DataType != onnx.Float {
				return nil, false
			}
			f, err := ct.AsFloat32()
			if err != nil || len(f) != 1 || f[0] != 0 {
				return nil, false
			}
		}
		if pad.Input(3) != nil {
			return nil, false
		}
	}
	for _, p := range pads {
		if p < 0 {
			return nil, false
		}
	}
	return pads, len(pads)%2 == 0
}

// fuseReluClip drops a Relu whose only reader is a Clip that bounds from
// below at 0 or above (PyTorch's relu6 after a ReLU; ONNX Runtime's basic
// level does the same): Clip(Relu(x), lo, hi) = Clip(x, lo, hi) for lo ≥ 0.
// Clip's bounds are attributes before opset 11 and constant inputs from it.
func fuseReluClip(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	return passes.EachOp(g, []string{"Clip"}, func(clip *onnx.Node) bool {
		relu := clip.Input(0).Producer()
		if relu == nil || relu.OpType != "Relu" || relu.Domain != "" || relu.Graph != g || soleUser(relu.Output(0)) != clip {
			return false
		}
		if m.Opset("") < 11 {
			if clip.AttrFloat("min", float32(math.Inf(-1))) < 0 {
				return false
			}
		} else if lo, ok := scalarOf(clip.Input(1)); !ok || lo < 0 {
			return false
		}
		if !c.Allow() {
			return false
		}
		clip.SetInput(0, relu.Input(0))
		g.RemoveNodes(relu)
		return true
	})
}

// scalarOf returns the single float value of a constant, or false.
func scalarOf(v *onnx.Value) (float64, bool) {
	t := passes.ConstTensor(v)
	if t == nil || t.NumElements() != 1 {
		return 0, false
	}
	switch t.DataType {
	case onnx.Float:
		f, err := t.AsFloat32()
		if err != nil {
			return 0, false
		}
		return float64(f[0]), true
	}
	return 0, false
}

// other returns the input of a binary node that is not v.
func other(n *onnx.Node, v *onnx.Value) *onnx.Value {
	if n.Input(0) == v {
		return n.Input(1)
	}
	return n.Input(0)
}

// lastAxis reports whether a Reduce node reduces only the last axis, keeping dims.
func lastAxis(n *onnx.Node, rank int) bool {
	if n.AttrInt("keepdims", 1) != 1 {
		return false
	}
	var axes []int64
	if a := n.Attr("axes"); a != nil {
		axes = a.Ints
	} else if t := passes.ConstTensor(n.Input(1)); t != nil {
		axes, _ = t.AsInt64()
	}
	return len(axes) == 1 && (axes[0] == -1 || (rank > 0 && axes[0] == int64(rank-1)))
}

// fuseLayerNorm matches
//
//	mean = ReduceMean(x, [-1]); d = Sub(x, mean); var = ReduceMean(Pow(d, 2), [-1])
//	y = Div(d, Sqrt(Add(var, eps))) [* gamma] [+ beta]
//
// and replaces it by LayerNormalization(x, gamma, beta, axis=-1, epsilon=eps).
func fuseLayerNorm(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	return passes.EachOp(g, []string{"ReduceMean"}, func(mean *onnx.Node) bool {
		x := mean.Input(0)
		rank := -1
		if x.Type != nil && x.Type.HasShape() {
			rank = len(x.Type.Shape)
		}
		if !lastAxis(mean, rank) || passes.ElemType(x) != onnx.Float {
			return false
		}
		sub := soleUser(mean.Output(0))
		if sub == nil || sub.OpType != "Sub" || sub.Input(0) != x || sub.Input(1) != mean.Output(0) {
			return false
		}
		d := sub.Output(0)
		var pow, div *onnx.Node
		for _, u := range d.Consumers() {
			switch u.OpType {
			case "Pow":
				pow = u
			case "Div":
				div = u
			}
		}
		if pow == nil || div == nil || d.NumUses() != 2 || d.IsGraphOutput() || pow.Input(0) != d || div.Input(0) != d {
			return false
		}
		if e, ok := scalarOf(pow.Input(1)); !ok || e != 2 {
			return false
		}
		mean2 := soleUser(pow.Output(0))
		if mean2 == nil || mean2.OpType != "ReduceMean" || !lastAxis(mean2, rank) {
			return false
		}
		addEps := soleUser(mean2.Output(0))
		if addEps == nil || addEps.OpType != "Add" {
			return false
		}
		eps, ok := scalarOf(other(addEps, mean2.Output(0)))
		if !ok {
			return false
		}
		sqrt := soleUser(addEps.Output(0))
		if sqrt == nil || sqrt.OpType != "Sqrt" || div.Input(1) != sqrt.Output(0) || sqrt.Output(0).NumUses() != 1 {
			return false
		}
		// Optional scale and shift by constants of the normalized axis' size.
		matched := []*onnx.Node{mean, sub, pow, mean2, addEps, sqrt, div}
		out := div.Output(0)
		var gamma, beta *onnx.Value
		if mul := soleUser(out); mul != nil && mul.OpType == "Mul" && passes.ConstTensor(other(mul, out)) != nil {
			gamma, out = other(mul, out), mul.Output(0)
			matched = append(matched, mul)
			if add := soleUser(out); add != nil && add.OpType == "Add" && passes.ConstTensor(other(add, out)) != nil {
				beta, out = other(add, out), add.Output(0)
				matched = append(matched, add)
			}
		}
		if gamma == nil {
			xs, ok := passes.StaticShape(x)
			if !ok {
				return false
			}
			ones := make([]float32, xs[len(xs)-1])
			for i := range ones {
				ones[i] = 1
			}
			gamma = passes.AddConst(m, g, mean.Name+"_ln_scale", onnx.NewFloatTensor("", []int64{int64(len(ones))}, ones))
		}
		if !c.Allow() {
			return false
		}
		inputs := []*onnx.Value{x, gamma}
		if beta != nil {
			inputs = append(inputs, beta)
		}
		ln := g.NewNode("LayerNormalization", "", mean.Name+"_layernorm", inputs, g.FreshName(mean.Name+"_ln"))
		ln.SetAttr(onnx.IntAttr("axis", -1))
		ln.SetAttr(onnx.FloatAttr("epsilon", float32(eps)))
		ln.Output(0).Type = out.Type
		g.InsertBefore(mean, ln)
		if !passes.Replace(out, ln.Output(0)) {
			g.RemoveNodes(ln)
			return false
		}
		g.RemoveNodes(matched...)
		return true
	})
}

// fuseGelu matches Mul(Mul(x, 0.5)?, Add(Erf(Div(x, √2)), 1)) in its common
// orderings and replaces it by Gelu(x).
func fuseGelu(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	return passes.EachOp(g, []string{"Erf"}, func(erf *onnx.Node) bool {
		div := erf.Input(0).Producer()
		if div == nil || (div.OpType != "Div" && div.OpType != "Mul") || erf.Input(0).NumUses() != 1 {
			return false
		}
		x := div.Input(0)
		k, ok := scalarOf(div.Input(1))
		if !ok || (div.OpType == "Div" && math.Abs(k-math.Sqrt2) > 1e-4) || (div.OpType == "Mul" && math.Abs(k-1/math.Sqrt2) > 1e-4) {
			return false
		}
		add := soleUser(erf.Output(0))
		if add == nil || add.OpType != "Add" {
			return false
		}
		if one, ok := scalarOf(other(add, erf.Output(0))); !ok || one != 1 {
			return false
		}
		mul := soleUser(add.Output(0))
		if mul == nil || mul.OpType != "Mul" {
			return false
		}
		matched := []*onnx.Node{div, erf, add, mul}
		var out *onnx.Value
		o := other(mul, add.Output(0))
		switch {
		case o == x: // x * (1+erf) then * 0.5
			half := soleUser(mul.Output(0))
			if half == nil || half.OpType != "Mul" {
				return false
			}
			if h, ok := scalarOf(other(half, mul.Output(0))); !ok || h != 0.5 {
				return false
			}
			matched, out = append(matched, half), half.Output(0)
		case o.Producer() != nil && o.Producer().OpType == "Mul" && o.NumUses() == 1:
			pre := o.Producer()
			if other(pre, x) == x || (pre.Input(0) != x && pre.Input(1) != x) {
				return false
			}
			if h, ok := scalarOf(other(pre, x)); !ok || h != 0.5 {
				return false
			}
			matched, out = append(matched, pre), mul.Output(0)
		default:
			return false
		}
		if !c.Allow() {
			return false
		}
		gelu := g.NewNode("Gelu", "", erf.Name+"_gelu", []*onnx.Value{x}, g.FreshName(erf.Name+"_gelu"))
		gelu.Output(0).Type = out.Type
		g.InsertBefore(div, gelu)
		if !passes.Replace(out, gelu.Output(0)) {
			g.RemoveNodes(gelu)
			return false
		}
		g.RemoveNodes(matched...)
		return true
	})
}
