package interp

import "github.com/onnxslim/onnxslim/onnx"

// Shape functions of control flow (If, Loop, Scan), sequences and optionals.

func init() {
	regShapes(shapeIf, "If")
	regShapes(shapeLoop, "Loop")
	regShapes(shapeScan, "Scan")
	regShapes(shapeSequenceMap, "SequenceMap")
	regShapes(func(c *ShapeCtx) error {
		c.SetType(0, seqOf(onnx.TensorType(onnx.DataType(c.Node.AttrInt("dtype", int64(onnx.Float))), nil)))
		return nil
	}, "SequenceEmpty")
	regShapes(shapeSequenceConstruct, "SequenceConstruct")
	regShapes(shapeSequenceInsert, "SequenceInsert")
	regShapes(func(c *ShapeCtx) error {
		if t := c.Type(0); t != nil && t.Kind == onnx.TypeSequence {
			c.SetType(0, t.Inner.Clone())
		}
		return nil
	}, "SequenceAt")
	regShapes(func(c *ShapeCtx) error { c.Same(0, 0); return nil }, "SequenceErase")
	regShapes(func(c *ShapeCtx) error { c.Set(0, onnx.Int64, onnx.Shape{}); return nil }, "SequenceLength")
	regShapes(shapeSplitToSequence, "SplitToSequence")
	regShapes(shapeConcatFromSequence, "ConcatFromSequence")
	regShapes(shapeOptional, "Optional")
	regShapes(func(c *ShapeCtx) error {
		if t := c.Type(0); t != nil {
			if t.Kind == onnx.TypeOptional {
				c.SetType(0, t.Inner.Clone())
			} else {
				c.SetType(0, t.Clone())
			}
		}
		return nil
	}, "OptionalGetElement")
	regShapes(func(c *ShapeCtx) error { c.Set(0, onnx.Bool, onnx.Shape{}); return nil }, "OptionalHasElement")
}

func seqOf(t *onnx.Type) *onnx.Type { return &onnx.Type{Kind: onnx.TypeSequence, Inner: t} }

func graphAttr(n *onnx.Node, name string) *onnx.Graph {
	if a := n.Attr(name); a != nil {
		return a.Graph
	}
	return nil
}

// shapeIf infers both branches; with a known condition the taken branch's
// outputs (and their content) are the node's, else the branches are joined.
func shapeIf(c *ShapeCtx) error {
	th, el := graphAttr(c.Node, "then_branch"), graphAttr(c.Node, "else_branch")
	if th == nil || el == nil {
		return nil
	}
	a := c.InferGraph(th, nil)
	b := c.InferGraph(el, nil)
	var taken *onnx.Graph
	if cond := c.Const[0]; cond != nil && cond.Kind == KindTensor && cond.Len() == 1 {
		if v, ok := cond.Data.([]bool); ok {
			taken = el
			if v[0] {
				taken = th
			}
		}
	}
	for i := range c.Out {
		if taken != nil && i < len(taken.Outputs) {
			c.SetType(i, taken.Outputs[i].Type.Clone())
			c.OutSym[i], c.OutConst[i] = c.graphOut(taken, i)
			continue
		}
		if i < len(a) && i < len(b) {
			c.SetType(i, joinType(a[i], b[i]))
		}
	}
	return nil
}

// shapeLoop infers the body with the initial loop-carried types; where an
// iteration changes a carried type, it re-infers with the two joined.
func shapeLoop(c *ShapeCtx) error {
	body := graphAttr(c.Node, "body")
	if body == nil {
		return nil
	}
	nCarried := len(c.In) - 2
	in := make([]*onnx.Type, 2+max(nCarried, 0))
	in[0] = onnx.TensorType(onnx.Int64, onnx.Shape{})
	in[1] = onnx.TensorType(onnx.Bool, onnx.Shape{})
	for i := 0; i < nCarried; i++ {
		in[2+i] = c.Type(2 + i)
	}
	out := c.InferGraph(body, in)
	changed := false
	for i := 0; i < nCarried && 1+i < len(out); i++ {
		if !in[2+i].Equal(out[1+i]) {
			in[2+i] = joinType(in[2+i], out[1+i])
			changed = true
		}
	}
	if changed {
		out = c.InferGraph(body, in)
	}
	for i := 0; i < nCarried && i < len(c.Out) && 1+i < len(out); i++ {
		c.SetType(i, joinType(in[2+i], out[1+i]))
	}
	// Scan outputs stack one slice per iteration.
	trips := unknownDim
	if m, ok := c.Ints(0); ok && len(m) == 1 && !c.Has(1) && len(body.Outputs) > 0 && len(body.Inputs) > 1 && passesThrough(body.Outputs[0], body.Inputs[1]) {
		trips = onnx.D(m[0])
	}
	for k := nCarried; k < len(c.Out); k++ {
		j := 1 + k
		if j >= len(out) || out[j] == nil || out[j].Kind != onnx.TypeTensor {
			continue
		}
		var s onnx.Shape
		if out[j].HasShape() {
			s = append(onnx.Shape{trips}, out[j].Shape...)
		}
		c.Set(k, out[j].Elem, s)
	}
	return nil
}

// passesThrough reports whether out is in, possibly through Identity.
func passesThrough(out, in *onnx.Value) bool {
	for i := 0; i < 8 && out != nil; i++ {
		if out == in {
			return true
		}
		p := out.Producer()
		if p == nil || p.OpType != "Identity" {
			return false
		}
		out = p.Input(0)
	}
	return false
}

func shapeScan(c *ShapeCtx) error {
	body := graphAttr(c.Node, "body")
	if body == nil || c.Opset < 9 {
		return nil
	}
	m := int(c.Node.AttrInt("num_scan_inputs", 0))
	n := len(c.In) - m
	if n < 0 {
		return c.Errorf("num_scan_inputs %d exceeds %d inputs", m, len(c.In))
	}
	inAxes := c.Node.AttrInts("scan_input_axes", make([]int64, m))
	in := make([]*onnx.Type, len(c.In))
	seq := unknownDim
	for i := 0; i < n; i++ {
		in[i] = c.Type(i)
	}
	for j := 0; j < m && j < len(inAxes); j++ {
		s, ok := c.Shape(n + j)
		if !ok {
			in[n+j] = onnx.TensorType(c.Elem(n+j), nil)
			continue
		}
		ax, err := shAxis(inAxes[j], len(s))
		if err != nil {
			return err
		}
		if j == 0 {
			seq = s[ax]
		}
		in[n+j] = onnx.TensorType(c.Elem(n+j), append(append(onnx.Shape{}, s[:ax]...), s[ax+1:]...))
	}
	out := c.InferGraph(body, in)
	for i := 0; i < n && i < len(out) && i < len(c.Out); i++ {
		c.SetType(i, joinType(in[i], out[i]))
	}
	k := len(c.Out) - n
	outAxes := c.Node.AttrInts("scan_output_axes", make([]int64, k))
	for j := 0; j < k && n+j < len(out) && j < len(outAxes); j++ {
		t := out[n+j]
		if t == nil || t.Kind != onnx.TypeTensor {
			continue
		}
		if !t.HasShape() {
			c.Set(n+j, t.Elem, nil)
			continue
		}
		ax, err := shAxis(outAxes[j], len(t.Shape)+1)
		if err != nil {
			return err
		}
		s := append(append(append(onnx.Shape{}, t.Shape[:ax]...), seq), t.Shape[ax:]...)
		c.Set(n+j, t.Elem, s)
	}
	return nil
}

// shapeSequenceMap infers the body once with the element types of the
// sequence inputs; outputs are sequences of the body's outputs.
func shapeSequenceMap(c *ShapeCtx) error {
	body := graphAttr(c.Node, "body")
	if body == nil {
		return nil
	}
	in := make([]*onnx.Type, len(c.In))
	for i := range c.In {
		if t := c.Type(i); t != nil && t.Kind == onnx.TypeSequence {
			in[i] = t.Inner.Clone()
		} else {
			in[i] = c.Type(i).Clone()
		}
	}
	out := c.InferGraph(body, in)
	for i := range c.Out {
		if i < len(out) && out[i] != nil {
			c.SetType(i, seqOf(out[i]))
		}
	}
	return nil
}

func shapeSequenceConstruct(c *ShapeCtx) error {
	var inner *onnx.Type
	for i := range c.In {
		if i == 0 {
			inner = c.Type(0).Clone()
		} else {
			inner = joinType(inner, c.Type(i))
		}
	}
	c.SetType(0, seqOf(inner))
	return nil
}

func shapeSequenceInsert(c *ShapeCtx) error {
	s := c.Type(0)
	if s == nil || s.Kind != onnx.TypeSequence {
		return nil
	}
	inner := s.Inner
	if t := c.Type(1); t != nil {
		if inner == nil || (inner.Elem == t.Elem && !inner.HasShape()) {
			inner = onnx.TensorType(t.Elem, nil)
		} else {
			inner = joinType(inner, t)
		}
	}
	c.SetType(0, seqOf(inner))
	return nil
}

func shapeSplitToSequence(c *ShapeCtx) error {
	e := c.Elem(0)
	s, ok := c.Shape(0)
	if !ok {
		c.SetType(0, seqOf(onnx.TensorType(e, nil)))
		return nil
	}
	ax, err := shAxis(c.Node.AttrInt("axis", 0), len(s))
	if err != nil {
		return err
	}
	if !c.Has(1) {
		if c.Node.AttrInt("keepdims", 1) == 0 {
			s = append(s[:ax], s[ax+1:]...)
		} else {
			s[ax] = onnx.D(1)
		}
		c.SetType(0, seqOf(onnx.TensorType(e, s)))
		return nil
	}
	if sp, ok := c.Ints(1); ok && len(sp) > 0 {
		d := onnx.D(sp[0])
		for _, v := range sp {
			if v != sp[0] {
				d = unknownDim
			}
		}
		if r, _ := c.Rank(1); r == 0 && s[ax].IsStatic() && sp[0] > 0 && s[ax].Value%sp[0] != 0 {
			d = unknownDim // the last chunk is shorter
		}
		s[ax] = d
	} else {
		s[ax] = unknownDim
	}
	c.SetType(0, seqOf(onnx.TensorType(e, s)))
	return nil
}

func shapeConcatFromSequence(c *ShapeCtx) error {
	t := c.Type(0)
	if t == nil || t.Kind != onnx.TypeSequence || t.Inner == nil {
		return nil
	}
	inner := t.Inner
	if !inner.HasShape() {
		c.Set(0, inner.Elem, nil)
		return nil
	}
	s := append(onnx.Shape{}, inner.Shape...)
	newAxis := c.Node.AttrInt("new_axis", 0) != 0
	r := len(s)
	if newAxis {
		r++
	}
	ax, err := shAxis(c.Node.AttrInt("axis", 0), r)
	if err != nil {
		return err
	}
	if newAxis {
		s = append(append(append(onnx.Shape{}, s[:ax]...), unknownDim), s[ax:]...)
	} else {
		s[ax] = unknownDim
	}
	c.Set(0, inner.Elem, s)
	return nil
}

func shapeOptional(c *ShapeCtx) error {
	var inner *onnx.Type
	if a := c.Node.Attr("type"); a != nil && a.TypeValue != nil {
		inner = a.TypeValue.Clone()
	} else if c.Has(0) {
		inner = c.Type(0).Clone()
	}
	c.SetType(0, &onnx.Type{Kind: onnx.TypeOptional, Inner: inner})
	return nil
}
