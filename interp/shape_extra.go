package interp

import "github.com/onnxslim/onnxslim/onnx"

// Shape functions of signal, string, image and training ops that the other
// shape files do not cover (ai.onnx.ml's are in shape_ml.go).

func init() {
	RegisterShape("", "STFT", 17, shapeSTFT)
	RegisterShape("", "StringSplit", 20, shapeStringSplit)
	RegisterShape("", "TfIdfVectorizer", 9, shapeTfIdf)
	RegisterShape("", "ImageDecoder", 20, shapeImageDecoder)
	RegisterShape(trainingDomain, "Gradient", 1, shapeGradient)
}

// shapeSTFT: [batch, frames, bins, 2] with bins = frame_length/2+1 when onesided.
func shapeSTFT(c *ShapeCtx) error {
	e := c.Elem(0)
	out := shUnknown(4)
	out[3] = onnx.D(2)
	s, ok := c.Shape(0)
	if !ok || len(s) != 3 {
		c.Set(0, e, out)
		return nil
	}
	out[0] = shClean(s[0])
	fl := int64(-1)
	if v, ok := c.Ints(3); ok && len(v) == 1 {
		fl = v[0]
	} else if w, ok := c.Shape(2); ok && len(w) == 1 && w[0].IsStatic() {
		fl = w[0].Value
	}
	if fl > 0 {
		out[2] = onnx.D(fl)
		if c.Node.AttrInt("onesided", 1) != 0 {
			out[2] = onnx.D(fl/2 + 1)
		}
		if step, ok := c.Ints(1); ok && len(step) == 1 && step[0] > 0 && s[1].IsStatic() && s[1].Value >= fl {
			out[1] = onnx.D((s[1].Value-fl)/step[0] + 1)
		}
	}
	c.Set(0, e, out)
	return nil
}

func shapeStringSplit(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, onnx.String, nil)
		c.Set(1, onnx.Int64, nil)
		return nil
	}
	c.Set(0, onnx.String, append(append(onnx.Shape{}, s...), unknownDim))
	c.Set(1, onnx.Int64, s)
	return nil
}

func shapeTfIdf(c *ShapeCtx) error {
	width := int64(0)
	for _, i := range c.Node.AttrInts("ngram_indexes", nil) {
		width = max(width, i+1)
	}
	s, ok := c.Shape(0)
	switch {
	case !ok:
		c.Set(0, onnx.Float, nil)
	case len(s) == 2:
		c.Set(0, onnx.Float, onnx.Shape{shClean(s[0]), onnx.D(width)})
	default:
		c.Set(0, onnx.Float, onnx.Shape{onnx.D(width)})
	}
	return nil
}

func shapeImageDecoder(c *ShapeCtx) error {
	ch := int64(3)
	if c.Node.AttrString("pixel_format", "RGB") == "Grayscale" {
		ch = 1
	}
	c.Set(0, onnx.Uint8, onnx.Shape{unknownDim, unknownDim, onnx.D(ch)})
	return nil
}

// shapeGradient: each output is shaped like the xs input of the same index.
func shapeGradient(c *ShapeCtx) error {
	for i := range c.Out {
		if i < len(c.In) {
			c.Same(i, i)
		}
	}
	return nil
}
