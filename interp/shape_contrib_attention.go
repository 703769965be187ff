package interp

import "github.com/onnxslim/onnxslim/onnx"

// Shape functions of ONNX Runtime's transformer contrib ops (kernels in
// ops_contrib_attention.go).

func init() {
	RegisterShape(msDomain, "MultiHeadAttention", 1, shapeMSMultiHeadAttention)
	RegisterShape(msDomain, "Attention", 1, shapeMSAttention)
	RegisterShape(msDomain, "RotaryEmbedding", 1, shapeSameAsInput)
	RegisterShape(msDomain, "GroupQueryAttention", 1, shapeGroupQueryAttention)
	RegisterShape(msDomain, "EmbedLayerNormalization", 1, shapeEmbedLayerNorm)
}

// shapeEmbedLayerNorm: output and embedding_sum (B, S, H) of the word
// embedding's type, mask_index (B) int32.
func shapeEmbedLayerNorm(c *ShapeCtx) error {
	e := c.Elem(2)
	ids, ok1 := c.Shape(0)
	w, ok2 := c.Shape(2)
	if !ok1 || !ok2 || len(ids) != 2 || len(w) != 2 {
		c.Set(0, e, shUnknown(3))
		c.Set(1, onnx.Int32, shUnknown(1))
		c.Set(2, e, shUnknown(3))
		return nil
	}
	b := shClean(ids[0])
	c.Set(0, e, onnx.Shape{b, shClean(ids[1]), shClean(w[1])})
	c.Set(1, onnx.Int32, onnx.Shape{b})
	c.Set(2, e, onnx.Shape{b, shClean(ids[1]), shClean(w[1])})
	return nil
}

// shapeMSMultiHeadAttention: output (B, S, N·Hv); present_key and
// present_value (B, N, past+L, H and Hv), with K and V (B, L, ·) or, for
// cross attention, (B, N, L, ·).
func shapeMSMultiHeadAttention(c *ShapeCtx) error {
	e := c.Elem(0)
	q, okQ := c.Shape(0)
	k, okK := c.Shape(1)
	v, okV := c.Shape(2)
	if !okQ || len(q) != 3 || !okK || !okV || len(k) != len(v) || (len(k) != 3 && len(k) != 4) {
		c.Set(0, e, shUnknown(3))
		c.Set(1, e, shUnknown(4))
		c.Set(2, e, shUnknown(4))
		return nil
	}
	n := onnx.D(c.Node.AttrInt("num_heads", 0))
	h := dimOp('/', shClean(q[2]), n)
	var kvSeq, hv, vHidden onnx.Dim
	if len(k) == 3 {
		kvSeq, vHidden = shClean(k[1]), shClean(v[2])
		hv = dimOp('/', vHidden, n)
	} else {
		kvSeq, hv = shClean(k[2]), shClean(v[3])
		vHidden = dimOp('*', n, hv)
	}
	total := kvSeq
	if pk, ok := c.Shape(6); ok && c.Has(6) && len(pk) == 4 {
		total = dimOp('+', shClean(pk[2]), kvSeq)
	}
	b := shClean(q[0])
	c.Set(0, e, onnx.Shape{b, shClean(q[1]), vHidden})
	c.Set(1, e, onnx.Shape{b, n, total, h})
	c.Set(2, e, onnx.Shape{b, n, total, hv})
	return nil
}

// shapeMSAttention: output (B, S, Dv) with Dv the third qkv_hidden_sizes
// entry or a third of the weights' width; present (2, B, N, past+S, H).
func shapeMSAttention(c *ShapeCtx) error {
	e := c.Elem(0)
	x, okX := c.Shape(0)
	w, okW := c.Shape(1)
	if !okX || len(x) != 3 {
		c.Set(0, e, shUnknown(3))
		c.Set(1, e, shUnknown(5))
		return nil
	}
	n := onnx.D(c.Node.AttrInt("num_heads", 0))
	var dk, dv onnx.Dim = unknownDim, unknownDim
	if sizes := c.Node.AttrInts("qkv_hidden_sizes", nil); len(sizes) == 3 {
		dk, dv = onnx.D(sizes[1]), onnx.D(sizes[2])
	} else if okW && len(w) == 2 {
		dk = dimOp('/', shClean(w[1]), onnx.D(3))
		dv = dk
	}
	b, s := shClean(x[0]), shClean(x[1])
	total := s
	if p, ok := c.Shape(4); ok && c.Has(4) && len(p) == 5 {
		total = dimOp('+', shClean(p[3]), s)
	}
	c.Set(0, e, onnx.Shape{b, s, dv})
	c.Set(1, e, onnx.Shape{onnx.D(2), b, n, total, dimOp('/', dk, n)})
	return nil
}

// shapeGroupQueryAttention: output (B, S, N·H); present_key and
// present_value (B, kvN, max(past buffer, total_sequence_length), H), the
// head size coming from the query, packed with K and V when key is absent.
func shapeGroupQueryAttention(c *ShapeCtx) error {
	e := c.Elem(0)
	q, ok := c.Shape(0)
	if !ok || len(q) != 3 {
		c.Set(0, e, shUnknown(3))
		c.Set(1, e, shUnknown(4))
		c.Set(2, e, shUnknown(4))
		return nil
	}
	n := c.Node.AttrInt("num_heads", 0)
	kvn := c.Node.AttrInt("kv_num_heads", 0)
	width := n
	if !c.Has(1) {
		width = n + 2*kvn
	}
	h := dimOp('/', shClean(q[2]), onnx.D(width))
	present := unknownDim
	tot, okT := c.Ints(6)
	pk, okP := c.Shape(3)
	hasPast := c.Has(3) && okP && len(pk) == 4
	switch {
	case okT && len(tot) == 1 && !c.Has(3):
		present = onnx.D(tot[0])
	case okT && len(tot) == 1 && hasPast && pk[2].IsStatic():
		present = onnx.D(max(tot[0], pk[2].Value))
	}
	b := shClean(q[0])
	c.Set(0, e, onnx.Shape{b, shClean(q[1]), dimOp('*', onnx.D(n), h)})
	c.Set(1, e, onnx.Shape{b, onnx.D(kvn), present, h})
	c.Set(2, e, onnx.Shape{b, onnx.D(kvn), present, h})
	return nil
}
