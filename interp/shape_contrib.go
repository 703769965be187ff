package interp

import "github.com/onnxslim/onnxslim/onnx"

// Shape functions of ONNX Runtime's fused and normalization contrib ops
// (ops_contrib.go).

func init() {
	RegisterShape(msDomain, "FusedConv", 1, shapeConv(0, 1, -1))
	RegisterShape(msDomain, "FusedGemm", 1, shapeGemm)
	RegisterShape(msDomain, "FusedMatMul", 1, shapeFusedMatMul)
	for _, op := range []string{"Gelu", "FastGelu", "BiasGelu", "QuickGelu"} {
		RegisterShape(msDomain, op, 1, shapeSameAsInput)
	}
	RegisterShape(msDomain, "SkipLayerNormalization", 1, shapeSkipNorm)
	RegisterShape(msDomain, "SkipSimplifiedLayerNormalization", 1, shapeSkipNorm)
	RegisterShape("", "SimplifiedLayerNormalization", 1, shapeSimplifiedNorm)
}

// shapeFusedMatMul is MatMul's shape of the transposed operands.
func shapeFusedMatMul(c *ShapeCtx) error {
	e := c.Elem(0)
	a, ok1 := c.Shape(0)
	b, ok2 := c.Shape(1)
	if !ok1 || !ok2 || len(a) == 0 || len(b) == 0 {
		c.Set(0, e, nil)
		return nil
	}
	n := c.Node
	a = permuted(a, FusedMatMulPerm(len(a), n.AttrInt("transA", 0) != 0, n.AttrInt("transBatchA", 0) != 0))
	b = permuted(b, FusedMatMulPerm(len(b), n.AttrInt("transB", 0) != 0, n.AttrInt("transBatchB", 0) != 0))
	return setMatMulShape(c, e, a, b, 0, 1)
}

// permuted returns s with its axes in perm's order (nil: s).
func permuted(s onnx.Shape, perm []int) onnx.Shape {
	if perm == nil {
		return s
	}
	out := make(onnx.Shape, len(perm))
	for i, p := range perm {
		out[i] = s[p]
	}
	return out
}

// shapeSkipNorm: the result and the sum have the input's shape, the
// float32 row statistics its shape with a last axis of 1.
func shapeSkipNorm(c *ShapeCtx) error {
	c.Same(0, 0)
	c.Same(3, 0)
	s, ok := c.Shape(0)
	if !ok || len(s) == 0 {
		return nil
	}
	s[len(s)-1] = onnx.D(1)
	c.Set(1, onnx.Float, s)
	c.Set(2, onnx.Float, append(onnx.Shape{}, s...))
	return nil
}

// shapeSimplifiedNorm: Y has X's shape, 1/rms X's with the normalized
// axes 1.
func shapeSimplifiedNorm(c *ShapeCtx) error {
	c.Same(0, 0)
	s, err := normStatShape(c)
	if s != nil {
		c.Set(1, onnx.Float, s)
	}
	return err
}
