package interp

import (
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// Shape functions of neural-network ops: convolutions, pools, matrix
// products, recurrent layers, resizing, quantization and losses.

func init() {
	regShapes(shapeConv(0, 1, -1), "Conv", "DeformConv")
	regShapes(shapeConv(0, 1, onnx.Int32), "ConvInteger")
	regShapes(shapeConv(0, 3, -7), "QLinearConv")
	regShapes(shapeConvTranspose, "ConvTranspose")
	regShapes(shapePool, "MaxPool", "AveragePool", "LpPool")
	regShapes(shapeGlobalPool, "GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool")
	regShapes(shapeGemm, "Gemm")
	regShapes(shapeMatMul(0, 1, -1), "MatMul")
	regShapes(shapeMatMul(0, 1, onnx.Int32), "MatMulInteger")
	regShapes(shapeMatMul(0, 3, -7), "QLinearMatMul")
	regShapes(shapeRNN, "RNN", "GRU", "LSTM")
	regShapes(shapeResize, "Resize", "Upsample")
	regShapes(shapeQuantize, "QuantizeLinear")
	regShapes(shapeDequantize, "DequantizeLinear")
	regShapes(shapeDynQuant, "DynamicQuantizeLinear")
	regShapes(shapeRoiPool, "MaxRoiPool", "RoiAlign")
	regShapes(shapeMaxUnpool, "MaxUnpool")
	regShapes(shapeGridSample, "GridSample")
	regShapes(shapeAffineGrid, "AffineGrid")
	regShapes(shapeCol2Im, "Col2Im")
	regShapes(shapeLoss, "SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss")
	regShapes(shapeAttention, "Attention")
}

// convGeom holds the spatial attributes of a conv or pool.
type convGeom struct {
	kernel, strides, dilations, pads []int64
	autoPad                          string
	ceil                             bool
}

func readGeom(c *ShapeCtx, spatial int, kernel []int64) convGeom {
	g := convGeom{kernel: kernel, autoPad: c.Node.AttrString("auto_pad", "NOTSET"), ceil: c.Node.AttrInt("ceil_mode", 0) != 0}
	ones := func() []int64 {
		o := make([]int64, spatial)
		for i := range o {
			o[i] = 1
		}
		return o
	}
	g.strides = c.Node.AttrInts("strides", ones())
	g.dilations = c.Node.AttrInts("dilations", ones())
	g.pads = c.Node.AttrInts("pads", make([]int64, 2*spatial))
	return g
}

// outDim is a conv/pool output size along spatial axis i for input size d.
func (g convGeom) outDim(i int, d onnx.Dim) onnx.Dim {
	if i >= len(g.kernel) || i >= len(g.strides) || i >= len(g.dilations) || 2*len(g.kernel) > len(g.pads) {
		return unknownDim
	}
	k := (g.kernel[i]-1)*g.dilations[i] + 1
	s := g.strides[i]
	switch g.autoPad {
	case "SAME_UPPER", "SAME_LOWER":
		if !d.IsStatic() {
			if s == 1 {
				return shClean(d)
			}
			return unknownDim
		}
		return onnx.D((d.Value + s - 1) / s)
	case "VALID":
		if !d.IsStatic() {
			if s == 1 && k == 1 {
				return shClean(d)
			}
			return unknownDim
		}
		return onnx.D((d.Value-k)/s + 1)
	}
	pb, pe := g.pads[i], g.pads[i+len(g.kernel)]
	if !d.IsStatic() {
		if s == 1 && pb+pe == k-1 {
			return shClean(d)
		}
		return unknownDim
	}
	num := d.Value + pb + pe - k
	if num < 0 {
		return onnx.D(0)
	}
	if !g.ceil {
		return onnx.D(num/s + 1)
	}
	out := (num+s-1)/s + 1
	// A window that would start in the right padding is dropped.
	if (out-1)*s >= d.Value+pb {
		out--
	}
	return onnx.D(out)
}

// outElem resolves the output element type of shapeConv/shapeMatMul: -1 is
// the type of input x, -7 that of the output zero point (input 7, uint8 when
// absent), anything else is fixed.
func outElem(c *ShapeCtx, x int, elem onnx.DataType) onnx.DataType {
	switch elem {
	case -1:
		return c.Elem(x)
	case -7:
		if c.Has(7) {
			return c.Elem(7)
		}
		return onnx.Uint8
	}
	return elem
}

// shapeConv handles Conv-like ops with data input x and weights w; the
// element type is elem, or that of input -elem when elem is negative.
func shapeConv(x, w int, elem onnx.DataType) ShapeFunc {
	return func(c *ShapeCtx) error {
		e := outElem(c, x, elem)
		s, ok := c.Shape(x)
		if !ok || len(s) < 2 {
			c.Set(0, e, nil)
			return nil
		}
		ws, wok := c.Shape(w)
		spatial := len(s) - 2
		kernel := c.Node.AttrInts("kernel_shape", nil)
		if kernel == nil && wok && len(ws) == len(s) {
			if k, ok := onnx.Shape(ws[2:]).Static(); ok {
				kernel = k
			}
		}
		out := make(onnx.Shape, len(s))
		out[0] = s[0]
		out[1] = unknownDim
		if wok && len(ws) > 0 {
			out[1] = ws[0]
			group := c.Node.AttrInt("group", 1)
			if len(ws) > 1 && ws[1].IsStatic() && s[1].IsStatic() && ws[1].Value*group != s[1].Value {
				return c.Errorf("input has %d channels, weights expect %d×%d groups", s[1].Value, ws[1].Value, group)
			}
		}
		g := readGeom(c, spatial, kernel)
		for i := 0; i < spatial; i++ {
			if kernel == nil {
				out[2+i] = unknownDim
				continue
			}
			out[2+i] = g.outDim(i, s[2+i])
		}
		c.Set(0, e, out)
		return nil
	}
}

func shapeConvTranspose(c *ShapeCtx) error {
	e := c.Elem(0)
	s, ok := c.Shape(0)
	if !ok || len(s) < 2 {
		c.Set(0, e, nil)
		return nil
	}
	spatial := len(s) - 2
	ws, wok := c.Shape(1)
	kernel := c.Node.AttrInts("kernel_shape", nil)
	if kernel == nil && wok && len(ws) == len(s) {
		if k, ok := onnx.Shape(ws[2:]).Static(); ok {
			kernel = k
		}
	}
	out := make(onnx.Shape, len(s))
	out[0] = s[0]
	out[1] = unknownDim
	if wok && len(ws) > 1 {
		out[1] = dimOp('*', shClean(ws[1]), onnx.D(c.Node.AttrInt("group", 1)))
	}
	g := readGeom(c, spatial, kernel)
	outPad := c.Node.AttrInts("output_padding", make([]int64, spatial))
	outShape := c.Node.AttrInts("output_shape", nil)
	for i := 0; i < spatial; i++ {
		d := s[2+i]
		switch {
		case outShape != nil && len(outShape) >= spatial:
			out[2+i] = onnx.D(outShape[len(outShape)-spatial+i])
		case kernel == nil || !d.IsStatic() || i >= len(outPad):
			out[2+i] = unknownDim
		case g.autoPad == "SAME_UPPER" || g.autoPad == "SAME_LOWER":
			out[2+i] = onnx.D(d.Value * g.strides[i])
		default:
			k := (kernel[i]-1)*g.dilations[i] + 1
			var pads int64
			if g.autoPad != "VALID" {
				pads = g.pads[i] + g.pads[i+spatial]
			}
			out[2+i] = onnx.D(g.strides[i]*(d.Value-1) + outPad[i] + k - pads)
		}
	}
	c.Set(0, e, out)
	return nil
}

func shapePool(c *ShapeCtx) error {
	e := c.Elem(0)
	s, ok := c.Shape(0)
	if !ok || len(s) < 2 {
		c.Set(0, e, nil)
		c.Set(1, onnx.Int64, nil)
		return nil
	}
	spatial := len(s) - 2
	kernel := c.Node.AttrInts("kernel_shape", nil)
	if len(kernel) != spatial {
		return c.Errorf("kernel_shape %v for %d spatial dimensions", kernel, spatial)
	}
	g := readGeom(c, spatial, kernel)
	out := append(onnx.Shape{}, s[:2]...)
	for i := 0; i < spatial; i++ {
		out = append(out, g.outDim(i, s[2+i]))
	}
	c.Set(0, e, out)
	c.Set(1, onnx.Int64, append(onnx.Shape{}, out...))
	return nil
}

func shapeGlobalPool(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, c.Elem(0), nil)
		return nil
	}
	for i := 2; i < len(s); i++ {
		s[i] = onnx.D(1)
	}
	c.Set(0, c.Elem(0), s)
	return nil
}

func shapeGemm(c *ShapeCtx) error { return setGemmShape(c, c.Elem(0), 0, 1) }

// setGemmShape sets output 0 to op(A)·op(B)'s M×N, A and B inputs x and y,
// op the transA/transB attributes.
func setGemmShape(c *ShapeCtx, e onnx.DataType, x, y int) error {
	a, ok1 := c.Shape(x)
	b, ok2 := c.Shape(y)
	if !ok1 || !ok2 || len(a) != 2 || len(b) != 2 {
		c.Set(0, e, shUnknown(2))
		return nil
	}
	if c.Node.AttrInt("transA", 0) != 0 {
		a[0], a[1] = a[1], a[0]
	}
	if c.Node.AttrInt("transB", 0) != 0 {
		b[0], b[1] = b[1], b[0]
	}
	if a[1].IsStatic() && b[0].IsStatic() && a[1].Value != b[0].Value {
		return c.Errorf("inner dimensions %d and %d differ", a[1].Value, b[0].Value)
	}
	c.Set(0, e, onnx.Shape{a[0], b[1]})
	return nil
}

// shapeMatMul broadcasts the batch dims of inputs x and y (numpy matmul).
func shapeMatMul(x, y int, elem onnx.DataType) ShapeFunc {
	return func(c *ShapeCtx) error {
		e := outElem(c, x, elem)
		a, ok1 := c.Shape(x)
		b, ok2 := c.Shape(y)
		if !ok1 || !ok2 || len(a) == 0 || len(b) == 0 {
			c.Set(0, e, nil)
			return nil
		}
		return setMatMulShape(c, e, a, b, x, y)
	}
}

// setMatMulShape sets output 0 to the product of shapes a and b (inputs x
// and y, named in errors), numpy's matmul rules.
func setMatMulShape(c *ShapeCtx, e onnx.DataType, a, b onnx.Shape, x, y int) error {
	ra, rb := len(a), len(b)
	if ra == 1 {
		a = onnx.Shape{onnx.D(1), a[0]}
	}
	if rb == 1 {
		b = onnx.Shape{b[0], onnx.D(1)}
	}
	k1, k2 := a[len(a)-1], b[len(b)-2]
	if k1.IsStatic() && k2.IsStatic() && k1.Value != k2.Value {
		return c.Errorf("inner dimensions %d and %d differ (%s × %s)", k1.Value, k2.Value, c.Type(x), c.Type(y))
	}
	batch, err := broadcastShapes(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return err
	}
	out := append(onnx.Shape{}, batch...)
	if ra > 1 {
		out = append(out, a[len(a)-2])
	}
	if rb > 1 {
		out = append(out, b[len(b)-1])
	}
	c.Set(0, e, out)
	return nil
}

func shapeRNN(c *ShapeCtx) error {
	e := c.Elem(0)
	s, ok := c.Shape(0)
	layout := c.Node.AttrInt("layout", 0)
	dirs := onnx.D(1)
	if c.Node.AttrString("direction", "forward") == "bidirectional" {
		dirs = onnx.D(2)
	}
	hidden := unknownDim
	if a := c.Node.Attr("hidden_size"); a != nil {
		hidden = onnx.D(a.Int)
	} else if r, ok := c.Shape(2); ok && len(r) == 3 {
		hidden = r[2]
	}
	seq, batch := unknownDim, unknownDim
	if ok && len(s) == 3 {
		seq, batch = s[0], s[1]
		if layout != 0 {
			seq, batch = s[1], s[0]
		}
	}
	if layout == 0 {
		c.Set(0, e, onnx.Shape{seq, dirs, batch, hidden})
		c.Set(1, e, onnx.Shape{dirs, batch, hidden})
	} else {
		c.Set(0, e, onnx.Shape{batch, seq, dirs, hidden})
		c.Set(1, e, onnx.Shape{batch, dirs, hidden})
	}
	if len(c.Out) > 2 {
		c.SetType(2, c.Out[1].Clone())
	}
	return nil
}

func shapeResize(c *ShapeCtx) error {
	e := c.Elem(0)
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, e, nil)
		return nil
	}
	r := len(s)
	axes := c.Node.AttrInts("axes", nil)
	if axes == nil {
		for i := 0; i < r; i++ {
			axes = append(axes, int64(i))
		}
	}
	var scales []float32
	var sizes []int64
	var haveScales, haveSizes bool
	switch {
	case c.Node.OpType == "Upsample" && c.Node.Attr("scales") != nil:
		scales, haveScales = c.Node.AttrFloats("scales", nil), true
	case c.Node.OpType == "Upsample" && c.Opset < 7: // Upsample-1: [N,C,H,W]
		scales, haveScales = Upsample1Scales(c.Node), true
	case c.Node.OpType == "Upsample" || c.Opset < 11:
		scales, haveScales = c.Floats(1)
	default:
		if c.Has(3) {
			sizes, haveSizes = c.Ints(3)
		}
		if !haveSizes && c.Has(2) {
			scales, haveScales = c.Floats(2)
			if haveScales && len(scales) == 0 {
				haveScales = false
			}
		}
	}
	out := append(onnx.Shape{}, s...)
	if !haveScales && !haveSizes {
		for _, a := range axes {
			if ax, err := shAxis(a, r); err == nil {
				out[ax] = unknownDim
			}
		}
		c.Set(0, e, out)
		return nil
	}
	n := len(scales)
	if haveSizes {
		n = len(sizes)
	}
	if n != len(axes) {
		return c.Errorf("%d scales or sizes for %d axes", n, len(axes))
	}
	policy := c.Node.AttrString("keep_aspect_ratio_policy", "stretch")
	if haveSizes && policy != "stretch" {
		// One scale for all axes, the smallest or largest of sizes/input.
		scale := math.Inf(1)
		if policy == "not_smaller" {
			scale = math.Inf(-1)
		}
		for i, a := range axes {
			ax, err := shAxis(a, r)
			if err != nil {
				return err
			}
			if !s[ax].IsStatic() {
				for _, a := range axes {
					out[a] = unknownDim
				}
				c.Set(0, e, out)
				return nil
			}
			sc := float64(sizes[i]) / float64(s[ax].Value)
			if policy == "not_larger" {
				scale = math.Min(scale, sc)
			} else {
				scale = math.Max(scale, sc)
			}
		}
		for _, a := range axes {
			ax, _ := shAxis(a, r)
			out[ax] = onnx.D(int64(math.Round(scale * float64(s[ax].Value))))
		}
		c.Set(0, e, out)
		return nil
	}
	for i, a := range axes {
		ax, err := shAxis(a, r)
		if err != nil {
			return err
		}
		switch {
		case haveSizes:
			out[ax] = onnx.D(sizes[i])
		case scales[i] == 1:
		case s[ax].IsStatic():
			out[ax] = onnx.D(int64(math.Floor(float64(s[ax].Value) * float64(scales[i]))))
		default:
			out[ax] = unknownDim
		}
	}
	c.Set(0, e, out)
	return nil
}

func shapeQuantize(c *ShapeCtx) error {
	e := onnx.Uint8
	if t := c.Elem(2); c.Has(2) && t != onnx.Undefined {
		e = t
	} else if a := c.Node.Attr("output_dtype"); a != nil && a.Int != 0 {
		e = onnx.DataType(a.Int)
	}
	s, _ := c.Shape(0)
	c.Set(0, e, s)
	return nil
}

func shapeDequantize(c *ShapeCtx) error {
	e := c.Elem(1)
	if a := c.Node.Attr("output_dtype"); a != nil && a.Int != 0 {
		e = onnx.DataType(a.Int)
	}
	if e == onnx.Undefined {
		e = onnx.Float
	}
	s, _ := c.Shape(0)
	c.Set(0, e, s)
	return nil
}

func shapeDynQuant(c *ShapeCtx) error {
	s, _ := c.Shape(0)
	c.Set(0, onnx.Uint8, s)
	c.Set(1, onnx.Float, onnx.Shape{})
	c.Set(2, onnx.Uint8, onnx.Shape{})
	return nil
}

func shapeRoiPool(c *ShapeCtx) error {
	e := c.Elem(0)
	s, ok := c.Shape(0)
	rois, ok2 := c.Shape(1)
	out := onnx.Shape{unknownDim, unknownDim, unknownDim, unknownDim}
	if ok2 && len(rois) == 2 {
		out[0] = rois[0]
	}
	if ok && len(s) == 4 {
		out[1] = s[1]
	}
	if c.Node.OpType == "MaxRoiPool" {
		p := c.Node.AttrInts("pooled_shape", nil)
		if len(p) == 2 {
			out[2], out[3] = onnx.D(p[0]), onnx.D(p[1])
		}
	} else {
		out[2] = onnx.D(c.Node.AttrInt("output_height", 1))
		out[3] = onnx.D(c.Node.AttrInt("output_width", 1))
	}
	c.Set(0, e, out)
	return nil
}

func shapeMaxUnpool(c *ShapeCtx) error {
	e := c.Elem(0)
	s, ok := c.Shape(0)
	if c.Has(2) {
		if v, ok := c.Dims(2); ok {
			c.Set(0, e, onnx.Shape(v))
			return nil
		}
		if ts, ok := c.Shape(2); ok && len(ts) == 1 && ts[0].IsStatic() {
			c.Set(0, e, shUnknown(int(ts[0].Value)))
			return nil
		}
	}
	if !ok || len(s) < 3 {
		c.Set(0, e, nil)
		return nil
	}
	spatial := len(s) - 2
	kernel := c.Node.AttrInts("kernel_shape", nil)
	g := readGeom(c, spatial, kernel)
	out := append(onnx.Shape{}, s[:2]...)
	for i := 0; i < spatial; i++ {
		d := s[2+i]
		if !d.IsStatic() || i >= len(kernel) {
			out = append(out, unknownDim)
			continue
		}
		out = append(out, onnx.D((d.Value-1)*g.strides[i]+kernel[i]-g.pads[i]-g.pads[i+spatial]))
	}
	c.Set(0, e, out)
	return nil
}

func shapeGridSample(c *ShapeCtx) error {
	e := c.Elem(0)
	s, ok := c.Shape(0)
	g, ok2 := c.Shape(1)
	if !ok || !ok2 || len(g) < 2 {
		c.Set(0, e, nil)
		return nil
	}
	out := onnx.Shape{g[0], s[1]}
	out = append(out, g[1:len(g)-1]...)
	c.Set(0, e, out)
	return nil
}

func shapeAffineGrid(c *ShapeCtx) error {
	e := c.Elem(0)
	size, ok := c.Dims(1)
	if !ok || len(size) < 3 {
		c.Set(0, e, nil)
		return nil
	}
	out := onnx.Shape{size[0]}
	out = append(out, size[2:]...)
	out = append(out, onnx.D(int64(len(size)-2)))
	c.Set(0, e, out)
	return nil
}

func shapeCol2Im(c *ShapeCtx) error {
	e := c.Elem(0)
	s, ok := c.Shape(0)
	img, ok2 := c.Dims(1)
	block, ok3 := c.Ints(2)
	if !ok || !ok2 || len(s) != 3 {
		c.Set(0, e, nil)
		return nil
	}
	ch := unknownDim
	if ok3 {
		var p int64 = 1
		for _, b := range block {
			p *= b
		}
		ch = dimOp('/', shClean(s[1]), onnx.D(p))
	}
	c.Set(0, e, append(onnx.Shape{s[0], ch}, img...))
	return nil
}

func shapeLoss(c *ShapeCtx) error {
	e := c.Elem(0)
	s, ok := c.Shape(0)
	if c.Node.AttrString("reduction", "mean") != "none" {
		c.Set(0, e, onnx.Shape{})
	} else if ok && len(s) >= 2 {
		c.Set(0, e, append(onnx.Shape{s[0]}, s[2:]...))
	} else {
		c.Set(0, e, nil)
	}
	if c.Node.OpType == "SoftmaxCrossEntropyLoss" {
		c.Same(1, 0)
	}
	return nil
}

// shapeAttention follows Attention-23: Q, K, V are 4-D [B, heads, seq, head]
// or 3-D [B, seq, heads·head]; past key/value add to the sequence length.
func shapeAttention(c *ShapeCtx) error {
	e := c.Elem(0)
	q, ok1 := c.Shape(0)
	k, ok2 := c.Shape(1)
	v, ok3 := c.Shape(2)
	if !ok1 || !ok2 || !ok3 || len(q) != len(k) || len(k) != len(v) || (len(q) != 3 && len(q) != 4) {
		c.Set(0, e, nil)
		return nil
	}
	qHeads := onnx.D(c.Node.AttrInt("q_num_heads", 0))
	kvHeads := onnx.D(c.Node.AttrInt("kv_num_heads", 0))
	var batch, qSeq, kvSeq, headV, headK onnx.Dim
	batch = q[0]
	if len(q) == 4 {
		qHeads, kvHeads = q[1], k[1]
		qSeq, kvSeq = q[2], k[2]
		headK, headV = k[3], v[3]
	} else {
		qSeq, kvSeq = q[1], k[1]
		headK = dimOp('/', shClean(k[2]), kvHeads)
		headV = dimOp('/', shClean(v[2]), kvHeads)
	}
	total := kvSeq
	if ps, ok := c.Shape(4); ok && c.Has(4) && len(ps) == 4 {
		total = dimOp('+', shClean(ps[2]), shClean(kvSeq))
	}
	if len(q) == 4 {
		c.Set(0, e, onnx.Shape{batch, qHeads, qSeq, headV})
	} else {
		c.Set(0, e, onnx.Shape{batch, qSeq, dimOp('*', qHeads, headV)})
	}
	c.Set(1, e, onnx.Shape{batch, kvHeads, total, headK})
	c.Set(2, e, onnx.Shape{batch, kvHeads, total, headV})
	c.Set(3, e, onnx.Shape{batch, qHeads, qSeq, total})
	return nil
}
