package interp

import "github.com/onnxslim/onnxslim/onnx"

// Shape functions of attention ops outside the default domain. (Attention,
// LinearAttention, RotaryEmbedding and the losses are in shape_nn.go,
// shape_misc.go and shape_elementwise.go.)

func init() {
	RegisterShape("ai.onnx.preview", "FlexAttention", 1, shapeFlexAttention)
}

// shapeFlexAttention: Y is (B, Hq, L, Dv) of Q's type.
func shapeFlexAttention(c *ShapeCtx) error {
	e := c.Elem(0)
	q, ok1 := c.Shape(0)
	v, ok2 := c.Shape(2)
	if !ok1 || !ok2 || len(q) != 4 || len(v) != 4 {
		c.Set(0, e, shUnknown(4))
		return nil
	}
	c.Set(0, e, onnx.Shape{shClean(q[0]), shClean(q[1]), shClean(q[2]), shClean(v[3])})
	return nil
}
