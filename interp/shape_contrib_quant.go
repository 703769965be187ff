package interp

import "github.com/onnxslim/onnxslim/onnx"

// Shape functions of ONNX Runtime's quantization contrib ops
// (ops_contrib_quant.go).

func init() {
	reg := func(f ShapeFunc, ops ...string) {
		for _, op := range ops {
			RegisterShape(msDomain, op, 1, f)
		}
	}
	reg(shapeMatMulNBits, "MatMulNBits")
	reg(shapeMatMul(0, 1, onnx.Float), "MatMulIntegerToFloat")
	reg(shapeMatMul(0, 1, -1), "DynamicQuantizeMatMul")
	reg(shapeQGemm, "QGemm")
	reg(shapeQuantize, "QuantizeLinear")
	reg(shapeDequantize, "DequantizeLinear")
	reg(shapeQLinearBinary, "QLinearAdd", "QLinearMul")
	reg(shapeSameAsInput, "QLinearSigmoid", "QLinearLeakyRelu")
	reg(shapeQLinearGlobalAvgPool, "QLinearGlobalAveragePool")
	reg(shapeQLinearConcat, "QLinearConcat")
}

// shapeMatMulNBits is A's shape with its last dimension (K) made N.
func shapeMatMulNBits(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	if !ok || len(s) == 0 {
		c.Set(0, c.Elem(0), nil)
		return nil
	}
	k := c.Node.AttrInt("K", 0)
	if last := s[len(s)-1]; last.IsStatic() && last.Value != k {
		return c.Errorf("A's last dimension %d is not K=%d", last.Value, k)
	}
	s[len(s)-1] = onnx.D(c.Node.AttrInt("N", 0))
	c.Set(0, c.Elem(0), s)
	return nil
}

// shapeQGemm is Gemm's M×N; the output is y_zero_point's type, float
// without it.
func shapeQGemm(c *ShapeCtx) error {
	e := onnx.Float
	if c.Has(8) {
		e = c.Elem(8)
	}
	return setGemmShape(c, e, 0, 3)
}

// shapeQLinearBinary broadcasts A (input 0) and B (input 3).
func shapeQLinearBinary(c *ShapeCtx) error {
	a, ok1 := c.Shape(0)
	b, ok2 := c.Shape(3)
	if !ok1 || !ok2 {
		c.Set(0, c.Elem(0), nil)
		return nil
	}
	s, err := broadcastShapes(a, b)
	if err != nil {
		return err
	}
	c.Set(0, c.Elem(0), s)
	return nil
}

// shapeQLinearGlobalAvgPool keeps the batch and channel dimensions (the
// channels last with channels_last) and makes the spatial ones 1.
func shapeQLinearGlobalAvgPool(c *ShapeCtx) error {
	if c.Node.AttrInt("channels_last", 0) == 0 {
		return shapeGlobalPool(c)
	}
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, c.Elem(0), nil)
		return nil
	}
	for i := 1; i < len(s)-1; i++ {
		s[i] = onnx.D(1)
	}
	c.Set(0, c.Elem(0), s)
	return nil
}

// shapeQLinearConcat concatenates inputs 2, 5, 8, … along axis.
func shapeQLinearConcat(c *ShapeCtx) error {
	e := c.Elem(2)
	var out onnx.Shape
	ax := -1
	for i := 2; i < c.NumIn(); i += 3 {
		s, ok := c.Shape(i)
		if !ok {
			c.Set(0, e, nil)
			return nil
		}
		if ax < 0 {
			a, err := shAxis(c.Node.AttrInt("axis", 0), len(s))
			if err != nil {
				return err
			}
			ax, out = a, s
			continue
		}
		if len(s) != len(out) {
			return c.Errorf("inputs of ranks %d and %d cannot be concatenated", len(out), len(s))
		}
		for j := range s {
			switch {
			case j == ax:
				out[j] = dimOp('+', shClean(out[j]), shClean(s[j]))
			case out[j].IsStatic() && s[j].IsStatic() && out[j].Value != s[j].Value:
				return c.Errorf("dimension %d differs: %d and %d", j, out[j].Value, s[j].Value)
			case !out[j].IsStatic():
				out[j] = s[j]
			}
		}
	}
	c.Set(0, e, out)
	return nil
}
