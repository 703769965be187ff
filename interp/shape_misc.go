package interp

import "github.com/onnxslim/onnxslim/onnx"

// Shape functions of signal, string, training and ai.onnx.ml ops.

func init() {
	regShapes(shapeWindow, "HannWindow", "HammingWindow", "BlackmanWindow")
	regShapes(shapeMelWeight, "MelWeightMatrix")
	regShapes(shapeDFT, "DFT")
	regShapes(shapeStringNormalizer, "StringNormalizer")
	regShapes(shapeSameAsInput, "SwiGLU")
	regShapes(shapeCausalConv, "CausalConvWithState")
	regShapes(shapeLinearAttention, "LinearAttention")
	for op, groups := range map[string]int{"Adagrad": 3, "Momentum": 3, "Adam": 4} {
		RegisterShape("ai.onnx.preview.training", op, 1, shapeOptimizer(groups))
	}
}

func shapeWindow(c *ShapeCtx) error {
	e := onnx.DataType(c.Node.AttrInt("output_datatype", int64(onnx.Float)))
	n := unknownDim
	if d, ok := c.Dims(0); ok && len(d) == 1 {
		n = shClean(d[0])
	}
	c.Set(0, e, onnx.Shape{n})
	return nil
}

func shapeMelWeight(c *ShapeCtx) error {
	e := onnx.DataType(c.Node.AttrInt("output_datatype", int64(onnx.Float)))
	out := onnx.Shape{unknownDim, unknownDim}
	if v, ok := c.Ints(1); ok && len(v) == 1 {
		out[0] = onnx.D(v[0]/2 + 1)
	}
	if v, ok := c.Ints(0); ok && len(v) == 1 {
		out[1] = onnx.D(v[0])
	}
	c.Set(0, e, out)
	return nil
}

func shapeDFT(c *ShapeCtx) error {
	e := c.Elem(0)
	s, ok := c.Shape(0)
	if !ok || len(s) < 2 {
		c.Set(0, e, nil)
		return nil
	}
	axis := c.Node.AttrInt("axis", 1)
	if c.Opset >= 20 {
		axis = -2
		if c.Has(2) {
			v, ok := c.Ints(2)
			if !ok || len(v) != 1 {
				c.Set(0, e, shUnknown(len(s)))
				return nil
			}
			axis = v[0]
		}
	}
	ax, err := shAxis(axis, len(s))
	if err != nil || ax == len(s)-1 {
		return c.Errorf("axis %d is not a signal axis of rank %d", axis, len(s))
	}
	inverse, onesided := c.Node.AttrInt("inverse", 0) != 0, c.Node.AttrInt("onesided", 0) != 0
	out := append(onnx.Shape{}, s...)
	out[len(s)-1] = onnx.D(2)
	n := shClean(s[ax])
	if c.Has(1) {
		n = unknownDim
		if v, ok := c.Ints(1); ok && len(v) == 1 {
			n = onnx.D(v[0])
		}
	}
	switch {
	case onesided && inverse:
		// The inverse real transform's shape differs between versions.
		out[ax], out[len(s)-1] = unknownDim, unknownDim
	case onesided:
		out[ax] = dimOp('+', dimOp('/', n, onnx.D(2)), onnx.D(1))
	default:
		out[ax] = n
	}
	c.Set(0, e, out)
	return nil
}

func shapeStringNormalizer(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, onnx.String, nil)
		return nil
	}
	if a := c.Node.Attr("stopwords"); a != nil && len(a.Strings) > 0 && len(s) > 0 {
		s[len(s)-1] = unknownDim // stop words are removed
	}
	c.Set(0, onnx.String, s)
	return nil
}

// shapeOptimizer handles the training ops whose inputs are R, T and groups
// of n tensors (X..., G..., ...) and whose outputs are new X..., then the
// other state tensors, each shaped like the X of the same index.
func shapeOptimizer(groups int) ShapeFunc {
	return func(c *ShapeCtx) error {
		n := (len(c.In) - 2) / groups
		if n <= 0 {
			return nil
		}
		for k := range c.Out {
			c.Same(k, 2+k%n)
		}
		return nil
	}
}

func shapeCausalConv(c *ShapeCtx) error {
	c.Same(0, 0)
	s, ok := c.Shape(0)
	w, ok2 := c.Shape(1)
	if ok && ok2 && len(s) == 3 && len(w) == 3 {
		c.Set(1, c.Elem(0), onnx.Shape{s[0], s[1], dimOp('-', shClean(w[2]), onnx.D(1))})
	}
	return nil
}

// shapeLinearAttention: output (B, T, H_q·d_v), state (B, H_kv, d_k, d_v).
func shapeLinearAttention(c *ShapeCtx) error {
	e := c.Elem(0)
	q, ok1 := c.Shape(0)
	k, ok2 := c.Shape(1)
	v, ok3 := c.Shape(2)
	if !ok1 || !ok2 || !ok3 || len(q) != 3 || len(k) != 3 || len(v) != 3 {
		c.Set(0, e, shUnknown(3))
		return nil
	}
	hq, hkv := onnx.D(c.Node.AttrInt("q_num_heads", 0)), onnx.D(c.Node.AttrInt("kv_num_heads", 0))
	dk, dv := dimOp('/', shClean(k[2]), hkv), dimOp('/', shClean(v[2]), hkv)
	c.Set(0, e, onnx.Shape{q[0], q[1], dimOp('*', hq, dv)})
	se := e
	if c.Has(3) && c.Elem(3) != onnx.Undefined {
		se = c.Elem(3)
	}
	c.Set(1, se, onnx.Shape{q[0], hkv, dk, dv})
	return nil
}
