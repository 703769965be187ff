package interp

import (
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// Shape functions of shape and data-movement ops, with propagation of the
// content of shape tensors (Shape → Gather → Concat → Reshape chains).

func init() {
	regShapes(shapeShape, "Shape")
	regShapes(shapeSize, "Size")
	regShapes(shapeReshape, "Reshape")
	regShapes(shapeFlatten, "Flatten")
	regShapes(shapeSqueeze, "Squeeze")
	regShapes(shapeUnsqueeze, "Unsqueeze")
	regShapes(shapeTranspose, "Transpose")
	regShapes(shapeConcat, "Concat")
	regShapes(shapeSplit, "Split")
	regShapes(shapeSlice, "Slice")
	regShapes(shapeGather, "Gather")
	regShapes(shapeGatherElements, "GatherElements")
	regShapes(shapeGatherND, "GatherND")
	regShapes(shapeExpand, "Expand")
	regShapes(shapeTile, "Tile")
	regShapes(shapePad, "Pad")
	regShapes(shapeConstant, "Constant")
	regShapes(shapeConstantOfShape, "ConstantOfShape")
	regShapes(shapeRange, "Range")
	regShapes(shapeNonZero, "NonZero")
	regShapes(shapeTopK, "TopK")
	regShapes(shapeArgReduce, "ArgMax", "ArgMin")
	regShapes(shapeReduce, "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
		"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")
	regShapes(shapeOneHot, "OneHot")
	regShapes(shapeDepthToSpace, "DepthToSpace")
	regShapes(shapeSpaceToDepth, "SpaceToDepth")
	regShapes(shapeCompress, "Compress")
	regShapes(shapeUnique, "Unique")
	regShapes(shapeCenterCropPad, "CenterCropPad")
	regShapes(shapeDet, "Det")
	regShapes(shapeNMS, "NonMaxSuppression")
	regShapes(shapeEinsum, "Einsum")
	regShapes(shapeRandom, "RandomNormal", "RandomUniform")
	regShapes(shapeMultinomial, "Multinomial")
}

// axesArg reads axes from the attribute, else from input i (since the ops
// moved them there); ok is false when they are given but not known.
func axesArg(c *ShapeCtx, i int) (axes []int64, given, ok bool) {
	if a := c.Node.Attr("axes"); a != nil {
		return a.Ints, true, true
	}
	if i >= 0 && c.Has(i) {
		v, ok := c.Ints(i)
		return v, true, ok
	}
	return nil, false, true
}

func shapeShape(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, onnx.Int64, onnx.Shape{unknownDim})
		return nil
	}
	r := int64(len(s))
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start := clamp(c.Node.AttrInt("start", 0))
	end := clamp(c.Node.AttrInt("end", r))
	if end < start {
		end = start
	}
	content := make([]onnx.Dim, 0, end-start)
	for _, d := range s[start:end] {
		content = append(content, shClean(d))
	}
	c.Set(0, onnx.Int64, onnx.ShapeOf(end-start))
	c.SetSym(0, content)
	return nil
}

func shapeSize(c *ShapeCtx) error {
	c.Set(0, onnx.Int64, onnx.Shape{})
	if s, ok := c.Shape(0); ok {
		c.SetSym(0, []onnx.Dim{prodDim(s)})
	}
	return nil
}

func shapeReshape(c *ShapeCtx) error {
	elem := c.Elem(0)
	target, ok := c.Dims(1)
	if a := c.Node.Attr("shape"); c.Opset < 5 && !c.Has(1) && a != nil { // Reshape-1
		target, ok = onnx.ShapeOf(a.Ints...), true
	}
	if !ok {
		// The target's length still gives the rank.
		if ts, ok := c.Shape(1); ok && len(ts) == 1 && ts[0].IsStatic() {
			c.Set(0, elem, shUnknown(int(ts[0].Value)))
		} else {
			c.Set(0, elem, nil)
		}
		return nil
	}
	in, inOK := c.Shape(0)
	allowZero := c.Node.AttrInt("allowzero", 0) != 0
	out := make(onnx.Shape, len(target))
	infer := -1
	for i, d := range target {
		switch {
		case dimIs(d, 0) && !allowZero:
			if inOK && i < len(in) {
				out[i] = shClean(in[i])
			} else if inOK {
				return c.Errorf("shape %v copies dimension %d of a rank-%d input", onnx.Shape(target), i, len(in))
			}
		case dimIs(d, -1):
			if infer >= 0 {
				return c.Errorf("shape %v has more than one -1", onnx.Shape(target))
			}
			infer = i
		case d.IsStatic() && d.Value < -1:
			return c.Errorf("shape %v has a negative dimension", onnx.Shape(target))
		default:
			out[i] = shClean(d)
		}
	}
	if infer >= 0 && inOK {
		rest := make([]onnx.Dim, 0, len(out))
		for i, d := range out {
			if i != infer {
				rest = append(rest, d)
			}
		}
		out[infer] = productOf(in).div(productOf(rest))
	}
	if infer < 0 && inOK {
		// A static size mismatch can never run.
		pi, po := productOf(in), productOf(out)
		if len(pi.syms) == 0 && len(po.syms) == 0 && !pi.unknown && !po.unknown && pi.coef != po.coef {
			return c.Errorf("cannot reshape %s into %s", onnx.Shape(in), out)
		}
	}
	c.Set(0, elem, out)
	if d, ok := c.Dims(0); ok && len(out) <= 1 {
		c.SetSym(0, d)
	}
	return nil
}

func shapeFlatten(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, c.Elem(0), shUnknown(2))
		return nil
	}
	axis := c.Node.AttrInt("axis", 1)
	if axis < 0 {
		axis += int64(len(s))
	}
	if axis < 0 || axis > int64(len(s)) {
		return c.Errorf("axis %d is out of range for rank %d", c.Node.AttrInt("axis", 1), len(s))
	}
	c.Set(0, c.Elem(0), onnx.Shape{prodDim(s[:axis]), prodDim(s[axis:])})
	return nil
}

func shapeSqueeze(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok := c.Shape(0)
	axes, given, known := axesArg(c, 1)
	if !ok || !known {
		c.Set(0, elem, rankOnly(c, s, ok, -1))
		return nil
	}
	drop := map[int]bool{}
	if given && len(axes) > 0 {
		for _, a := range axes {
			ax, err := shAxis(a, len(s))
			if err != nil {
				return err
			}
			if s[ax].IsStatic() && s[ax].Value != 1 {
				return c.Errorf("cannot squeeze axis %d of size %d", ax, s[ax].Value)
			}
			drop[ax] = true
		}
	} else {
		for i, d := range s {
			if !d.IsStatic() {
				c.Set(0, elem, nil) // which dims are 1 is not known
				return nil
			}
			if d.Value == 1 {
				drop[i] = true
			}
		}
	}
	out := onnx.Shape{}
	for i, d := range s {
		if !drop[i] {
			out = append(out, d)
		}
	}
	c.Set(0, elem, out)
	if d, ok := c.Dims(0); ok {
		c.SetSym(0, d)
	}
	return nil
}

func shapeUnsqueeze(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok := c.Shape(0)
	axes, _, known := axesArg(c, 1)
	if !ok || !known {
		c.Set(0, elem, rankOnly(c, s, ok, 1))
		return nil
	}
	r := len(s) + len(axes)
	ins := map[int]bool{}
	for _, a := range axes {
		ax, err := shAxis(a, r)
		if err != nil {
			return err
		}
		if ins[ax] {
			return c.Errorf("axis %d is repeated", a)
		}
		ins[ax] = true
	}
	out := make(onnx.Shape, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			out = append(out, onnx.D(1))
		} else {
			out = append(out, s[j])
			j++
		}
	}
	c.Set(0, elem, out)
	if d, ok := c.Dims(0); ok {
		c.SetSym(0, d)
	}
	return nil
}

// rankOnly is the shape of unknown dims when axes (input 1) are not known
// but their count is: rank(s) + sign·count.
func rankOnly(c *ShapeCtx, s onnx.Shape, ok bool, sign int) onnx.Shape {
	as, ok2 := c.Shape(1)
	if !ok || !ok2 || len(as) != 1 || !as[0].IsStatic() || len(s)+sign*int(as[0].Value) < 0 {
		return nil
	}
	return shUnknown(len(s) + sign*int(as[0].Value))
}

func shapeTranspose(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, c.Elem(0), nil)
		return nil
	}
	perm := c.Node.AttrInts("perm", nil)
	if perm == nil {
		for i := len(s) - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != len(s) {
		return c.Errorf("perm %v does not match rank %d", perm, len(s))
	}
	out := make(onnx.Shape, len(s))
	for i, p := range perm {
		ax, err := shAxis(p, len(s))
		if err != nil {
			return err
		}
		out[i] = s[ax]
	}
	c.Set(0, c.Elem(0), out)
	return nil
}

func shapeConcat(c *ShapeCtx) error {
	var out onnx.Shape
	elem := onnx.Undefined
	axisAttr := c.Node.AttrInt("axis", 1) // Concat-1 defaulted to 1; from 4 axis is required
	ax := -1
	for i := range c.In {
		if elem == onnx.Undefined {
			elem = c.Elem(i)
		}
	}
	for i := range c.In {
		s, ok := c.Shape(i)
		if !ok {
			out = nil
			ax = -2
			break
		}
		if ax == -1 {
			a, err := shAxis(axisAttr, len(s))
			if err != nil {
				return err
			}
			ax = a
			out = s
			continue
		}
		if len(s) != len(out) {
			return c.Errorf("inputs of ranks %d and %d cannot be concatenated", len(out), len(s))
		}
		for j := range s {
			if j == ax {
				out[j] = dimOp('+', shClean(out[j]), shClean(s[j]))
				continue
			}
			if out[j].IsStatic() && s[j].IsStatic() && out[j].Value != s[j].Value {
				return c.Errorf("dimension %d differs: %d and %d", j, out[j].Value, s[j].Value)
			}
			if !out[j].IsStatic() && s[j].Kind != onnx.DimUnknown {
				if s[j].IsStatic() || out[j].Kind == onnx.DimUnknown {
					out[j] = s[j]
				}
			}
		}
	}
	if ax == -2 {
		// Rank is still known from any input of known shape.
		for i := range c.In {
			if s, ok := c.Shape(i); ok {
				out = shUnknown(len(s))
				break
			}
		}
	}
	c.Set(0, elem, out)
	// Concatenated shape tensors.
	var content []onnx.Dim
	for i := range c.In {
		d, ok := c.Dims(i)
		if !ok {
			return nil
		}
		content = append(content, d...)
	}
	c.SetSym(0, content)
	return nil
}

func shapeSplit(c *ShapeCtx) error {
	n := len(c.Out)
	elem := c.Elem(0)
	s, ok := c.Shape(0)
	if !ok {
		for i := 0; i < n; i++ {
			c.Set(i, elem, nil)
		}
		return nil
	}
	ax, err := shAxis(c.Node.AttrInt("axis", 0), len(s))
	if err != nil {
		return err
	}
	d := s[ax]
	sizes := make([]onnx.Dim, n)
	var split []int64
	known := true
	if a := c.Node.Attr("split"); a != nil {
		split = a.Ints
	} else if c.Has(1) {
		split, known = c.Ints(1)
	}
	switch {
	case !known:
	case split != nil:
		if len(split) != n {
			return c.Errorf("split %v has %d parts for %d outputs", split, len(split), n)
		}
		var sum int64
		for i, v := range split {
			sizes[i] = onnx.D(v)
			sum += v
		}
		if d.IsStatic() && sum != d.Value {
			return c.Errorf("split %v does not add up to dimension %d", split, d.Value)
		}
	case d.IsStatic():
		parts := c.Node.AttrInt("num_outputs", int64(n))
		chunk := (d.Value + parts - 1) / parts
		if c.Node.Attr("num_outputs") == nil && d.Value%parts != 0 {
			return c.Errorf("dimension %d cannot be split evenly into %d", d.Value, parts)
		}
		for i := range sizes {
			sizes[i] = onnx.D(min(chunk, max(d.Value-chunk*int64(i), 0)))
		}
	case n == 1:
		sizes[0] = d
	}
	for i := 0; i < n; i++ {
		o := append(onnx.Shape{}, s...)
		o[ax] = sizes[i]
		c.Set(i, elem, o)
	}
	return nil
}

// sliceLen is the length of a slice of a dimension of static size dim.
func sliceLen(dim, start, end, step int64) int64 {
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		start = min(max(start, 0), dim)
		end = min(max(end, 0), dim)
		if end <= start {
			return 0
		}
		return (end - start + step - 1) / step
	}
	start = min(max(start, 0), dim-1)
	end = min(max(end, -1), dim-1)
	if start <= end {
		return 0
	}
	return (start - end - step - 1) / -step
}

// sliceIndex gives the element positions a slice selects (for shape content).
func sliceIndex(dim, start, end, step int64) []int64 {
	n := sliceLen(dim, start, end, step)
	if start < 0 {
		start += dim
	}
	if step > 0 {
		start = min(max(start, 0), dim)
	} else {
		start = min(max(start, 0), dim-1)
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out
}

func shapeSlice(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, elem, nil)
		return nil
	}
	var starts, ends, axes, steps []int64
	known := true
	get := func(attr string, i int) []int64 {
		if a := c.Node.Attr(attr); a != nil {
			return a.Ints
		}
		if c.Opset >= 10 && c.Has(i) {
			v, ok := c.Ints(i)
			if !ok {
				known = false
			}
			return v
		}
		return nil
	}
	starts, ends, axes, steps = get("starts", 1), get("ends", 2), get("axes", 3), get("steps", 4)
	if !known || len(starts) != len(ends) {
		out := append(onnx.Shape{}, s...)
		if len(axes) > 0 {
			// Axes known: only they change.
			for _, a := range axes {
				if ax, err := shAxis(a, len(s)); err == nil {
					out[ax] = unknownDim
				}
			}
		} else {
			out = shUnknown(len(s))
		}
		c.Set(0, elem, out)
		return nil
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if steps == nil {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	if len(axes) != len(starts) || len(steps) != len(starts) {
		return c.Errorf("starts, ends, axes and steps differ in length")
	}
	out := append(onnx.Shape{}, s...)
	var index []int64 // positions selected along a 1-D shape tensor
	for i, a := range axes {
		ax, err := shAxis(a, len(s))
		if err != nil {
			return err
		}
		if steps[i] == 0 {
			return c.Errorf("slice step is 0")
		}
		d := s[ax]
		switch {
		case d.IsStatic():
			out[ax] = onnx.D(sliceLen(d.Value, starts[i], ends[i], steps[i]))
			if len(s) == 1 {
				index = sliceIndex(d.Value, starts[i], ends[i], steps[i])
			}
		case steps[i] == 1 && starts[i] == 0 && ends[i] >= math.MaxInt32:
			// The whole dimension: a symbol passes untouched.
		default:
			out[ax] = unknownDim
		}
	}
	c.Set(0, elem, out)
	if content, ok := c.Dims(0); ok && len(s) == 1 && index != nil {
		res := make([]onnx.Dim, len(index))
		for i, j := range index {
			if j < 0 || j >= int64(len(content)) {
				return nil
			}
			res[i] = content[j]
		}
		c.SetSym(0, res)
	}
	return nil
}

func shapeGather(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok1 := c.Shape(0)
	idx, ok2 := c.Shape(1)
	if !ok1 || !ok2 {
		c.Set(0, elem, nil)
		return nil
	}
	ax, err := shAxis(c.Node.AttrInt("axis", 0), len(s))
	if err != nil {
		return err
	}
	out := append(append(append(onnx.Shape{}, s[:ax]...), idx...), s[ax+1:]...)
	c.Set(0, elem, out)
	content, ok := c.Dims(0)
	ii, ok2 := c.Ints(1)
	if ok && ok2 && len(s) == 1 {
		res := make([]onnx.Dim, len(ii))
		for k, j := range ii {
			if j < 0 {
				j += int64(len(content))
			}
			if j < 0 || j >= int64(len(content)) {
				return c.Errorf("index %d is out of range for %d elements", ii[k], len(content))
			}
			res[k] = content[j]
		}
		c.SetSym(0, res)
	}
	return nil
}

func shapeGatherElements(c *ShapeCtx) error {
	s, _ := c.Shape(1)
	c.Set(0, c.Elem(0), s)
	return nil
}

func shapeGatherND(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok1 := c.Shape(0)
	idx, ok2 := c.Shape(1)
	if !ok1 || !ok2 || len(idx) == 0 || !idx[len(idx)-1].IsStatic() {
		c.Set(0, elem, nil)
		return nil
	}
	b := int(c.Node.AttrInt("batch_dims", 0))
	k := int(idx[len(idx)-1].Value)
	if b+k > len(s) {
		return c.Errorf("indices of depth %d with %d batch dims exceed rank %d", k, b, len(s))
	}
	out := append(append(onnx.Shape{}, idx[:len(idx)-1]...), s[b+k:]...)
	c.Set(0, elem, out)
	return nil
}

func shapeExpand(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok := c.Shape(0)
	target, tok := c.Dims(1)
	if !tok {
		if ts, ok2 := c.Shape(1); ok2 && ok && len(ts) == 1 && ts[0].IsStatic() {
			c.Set(0, elem, shUnknown(max(len(s), int(ts[0].Value))))
		} else {
			c.Set(0, elem, nil)
		}
		return nil
	}
	if !ok {
		c.Set(0, elem, nil)
		return nil
	}
	out, err := broadcastShapes(s, target)
	if err != nil {
		return err
	}
	c.Set(0, elem, out)
	return nil
}

func shapeTile(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, elem, nil)
		return nil
	}
	if c.Opset < 6 { // Tile-1: tiles copies along one axis
		tiles, ok1 := c.Ints(1)
		axis, ok2 := c.Ints(2)
		out := shUnknown(len(s))
		if ok1 && ok2 && len(tiles) == 1 && len(axis) == 1 {
			out = append(onnx.Shape{}, s...)
			a := int(axis[0])
			if a < 0 {
				a += len(s)
			}
			if a >= 0 && a < len(s) {
				out[a] = dimOp('*', shClean(s[a]), onnx.D(tiles[0]))
			}
		}
		c.Set(0, elem, out)
		return nil
	}
	reps, ok := c.Dims(1)
	if !ok {
		c.Set(0, elem, shUnknown(len(s)))
		return nil
	}
	if len(reps) != len(s) {
		return c.Errorf("repeats of length %d for rank %d", len(reps), len(s))
	}
	out := make(onnx.Shape, len(s))
	for i := range s {
		out[i] = dimOp('*', shClean(s[i]), reps[i])
	}
	c.Set(0, elem, out)
	return nil
}

func shapePad(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, elem, nil)
		return nil
	}
	var pads []onnx.Dim
	if a := c.Node.Attr("pads"); a != nil && c.Opset < 11 {
		pads = make([]onnx.Dim, len(a.Ints))
		for i, v := range a.Ints {
			pads[i] = onnx.D(v)
		}
	} else if a := c.Node.Attr("paddings"); a != nil {
		pads = shStatic(a.Ints)
	} else {
		var ok bool
		pads, ok = c.Dims(1)
		if !ok {
			c.Set(0, elem, shUnknown(len(s)))
			return nil
		}
	}
	axes := make([]int64, len(s))
	for i := range axes {
		axes[i] = int64(i)
	}
	if c.Has(3) {
		a, ok := c.Ints(3)
		if !ok {
			c.Set(0, elem, shUnknown(len(s)))
			return nil
		}
		axes = a
	}
	if len(pads) != 2*len(axes) {
		return c.Errorf("pads of length %d for %d axes", len(pads), len(axes))
	}
	out := append(onnx.Shape{}, s...)
	for i, a := range axes {
		ax, err := shAxis(a, len(s))
		if err != nil {
			return err
		}
		out[ax] = dimOp('+', dimOp('+', shClean(s[ax]), pads[i]), pads[i+len(axes)])
		if out[ax].IsStatic() && out[ax].Value < 0 {
			return c.Errorf("padding makes dimension %d negative", ax)
		}
	}
	c.Set(0, elem, out)
	return nil
}

func shapeConstant(c *ShapeCtx) error {
	n := c.Node
	var t *Tensor
	var err error
	switch {
	case n.Attr("value") != nil && n.Attr("value").Tensor != nil:
		t, err = FromONNX(n.Attr("value").Tensor)
	case n.Attr("value_float") != nil:
		t = Scalar(onnx.Float, n.AttrFloat("value_float", 0))
	case n.Attr("value_floats") != nil:
		v := n.AttrFloats("value_floats", nil)
		t = FromSlice(onnx.Float, []int{len(v)}, append([]float32{}, v...))
	case n.Attr("value_int") != nil:
		t = Scalar(onnx.Int64, n.AttrInt("value_int", 0))
	case n.Attr("value_ints") != nil:
		v := n.AttrInts("value_ints", nil)
		t = FromSlice(onnx.Int64, []int{len(v)}, append([]int64{}, v...))
	case n.Attr("value_string") != nil:
		t = Scalar(onnx.String, n.AttrString("value_string", ""))
	case n.Attr("value_strings") != nil:
		a := n.Attr("value_strings")
		v := make([]string, len(a.Strings))
		for i, b := range a.Strings {
			v[i] = string(b)
		}
		t = FromSlice(onnx.String, []int{len(v)}, v)
	case n.Attr("sparse_value") != nil && n.Attr("sparse_value").SparseTensor != nil:
		sp := n.Attr("sparse_value").SparseTensor
		elem := onnx.Undefined
		if sp.Values != nil {
			elem = sp.Values.DataType
		}
		c.Set(0, elem, shStatic(sp.Dims))
		return nil
	}
	if err != nil || t == nil {
		return err
	}
	c.OutConst[0] = t
	c.SetType(0, typeOfTensor(t))
	if d, ok := symFromTensor(t); ok {
		c.SetSym(0, d)
	}
	return nil
}

func shapeConstantOfShape(c *ShapeCtx) error {
	elem := onnx.Float
	if a := c.Node.Attr("value"); a != nil && a.Tensor != nil {
		elem = a.Tensor.DataType
	}
	d, ok := c.Dims(0)
	if !ok {
		if ts, ok2 := c.Shape(0); ok2 && len(ts) == 1 && ts[0].IsStatic() {
			c.Set(0, elem, shUnknown(int(ts[0].Value)))
		} else {
			c.Set(0, elem, nil)
		}
		return nil
	}
	out := make(onnx.Shape, len(d))
	for i, x := range d {
		out[i] = shClean(x)
	}
	c.Set(0, elem, out)
	// A small integer fill gives shape content (e.g. ones to Expand with).
	if len(d) == 1 && d[0].IsStatic() && d[0].Value <= maxSymLen && elem.IsInteger() {
		var fill int64
		if a := c.Node.Attr("value"); a != nil && a.Tensor != nil {
			if t, err := FromONNX(a.Tensor); err == nil {
				if v, ok := tensorInts(t); ok && len(v) == 1 {
					fill = v[0]
				}
			}
		}
		content := make([]onnx.Dim, d[0].Value)
		for i := range content {
			content[i] = onnx.D(fill)
		}
		c.SetSym(0, content)
	}
	return nil
}

func shapeRange(c *ShapeCtx) error {
	elem := c.Elem(0)
	start, ok1 := c.Dims(0)
	limit, ok2 := c.Dims(1)
	delta, ok3 := c.Dims(2)
	out := onnx.Shape{unknownDim}
	if ok1 && ok2 && ok3 && len(start) == 1 && len(limit) == 1 && len(delta) == 1 {
		// Range(0, N, 1) has N elements, whatever N is.
		if dimIs(start[0], 0) && dimIs(delta[0], 1) {
			out[0] = shClean(limit[0])
		}
	}
	c.Set(0, elem, out)
	return nil
}

func shapeNonZero(c *ShapeCtx) error {
	r, ok := c.Rank(0)
	if !ok {
		c.Set(0, onnx.Int64, shUnknown(2))
		return nil
	}
	c.Set(0, onnx.Int64, onnx.Shape{onnx.D(int64(r)), unknownDim})
	return nil
}

func shapeTopK(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, elem, nil)
		c.Set(1, onnx.Int64, nil)
		return nil
	}
	ax, err := shAxis(c.Node.AttrInt("axis", -1), len(s))
	if err != nil {
		return err
	}
	k := unknownDim
	if a := c.Node.Attr("k"); a != nil {
		k = onnx.D(a.Int)
	} else if v, ok := c.Ints(1); ok && len(v) == 1 {
		k = onnx.D(v[0])
	}
	if k.IsStatic() && s[ax].IsStatic() && k.Value > s[ax].Value {
		return c.Errorf("k = %d is larger than dimension %d", k.Value, s[ax].Value)
	}
	s[ax] = k
	c.Set(0, elem, s)
	c.Set(1, onnx.Int64, append(onnx.Shape{}, s...))
	return nil
}

func shapeArgReduce(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, onnx.Int64, nil)
		return nil
	}
	ax, err := shAxis(c.Node.AttrInt("axis", 0), len(s))
	if err != nil {
		return err
	}
	if c.Node.AttrInt("keepdims", 1) != 0 {
		s[ax] = onnx.D(1)
	} else {
		s = append(s[:ax], s[ax+1:]...)
	}
	c.Set(0, onnx.Int64, s)
	return nil
}

func shapeReduce(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok := c.Shape(0)
	keep := c.Node.AttrInt("keepdims", 1) != 0
	axes, given, known := axesArg(c, 1)
	if !ok {
		c.Set(0, elem, nil)
		return nil
	}
	if !known {
		if keep {
			c.Set(0, elem, shUnknown(len(s)))
		} else if as, ok := c.Shape(1); ok && len(as) == 1 && as[0].IsStatic() {
			c.Set(0, elem, shUnknown(len(s)-int(as[0].Value)))
		} else {
			c.Set(0, elem, nil)
		}
		return nil
	}
	if (!given || len(axes) == 0) && c.Node.AttrInt("noop_with_empty_axes", 0) != 0 {
		c.Set(0, elem, s)
		return nil
	}
	red := map[int]bool{}
	if !given || len(axes) == 0 {
		for i := range s {
			red[i] = true
		}
	}
	for _, a := range axes {
		ax, err := shAxis(a, len(s))
		if err != nil {
			return err
		}
		red[ax] = true
	}
	out := onnx.Shape{}
	for i, d := range s {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, onnx.D(1))
		}
	}
	c.Set(0, elem, out)
	return nil
}

func shapeOneHot(c *ShapeCtx) error {
	elem := c.Elem(2)
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, elem, nil)
		return nil
	}
	depth := unknownDim
	if v, ok := c.Floats(1); ok && len(v) == 1 {
		depth = onnx.D(int64(v[0]))
	} else if v, ok := c.Ints(1); ok && len(v) == 1 {
		depth = onnx.D(v[0])
	}
	ax, err := shAxis(c.Node.AttrInt("axis", -1), len(s)+1)
	if err != nil {
		return err
	}
	out := append(append(append(onnx.Shape{}, s[:ax]...), depth), s[ax:]...)
	c.Set(0, elem, out)
	return nil
}

func shapeDepthToSpace(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	b := c.Node.AttrInt("blocksize", 1)
	if !ok || len(s) != 4 {
		c.Set(0, c.Elem(0), shUnknown(4))
		return nil
	}
	ch := s[1]
	if ch.IsStatic() && ch.Value%(b*b) != 0 {
		return c.Errorf("channels %d are not a multiple of blocksize² = %d", ch.Value, b*b)
	}
	c.Set(0, c.Elem(0), onnx.Shape{s[0], dimOp('/', shClean(ch), onnx.D(b*b)), dimOp('*', shClean(s[2]), onnx.D(b)), dimOp('*', shClean(s[3]), onnx.D(b))})
	return nil
}

func shapeSpaceToDepth(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	b := c.Node.AttrInt("blocksize", 1)
	if !ok || len(s) != 4 {
		c.Set(0, c.Elem(0), shUnknown(4))
		return nil
	}
	for _, d := range s[2:] {
		if d.IsStatic() && d.Value%b != 0 {
			return c.Errorf("spatial dimension %d is not a multiple of blocksize %d", d.Value, b)
		}
	}
	c.Set(0, c.Elem(0), onnx.Shape{s[0], dimOp('*', shClean(s[1]), onnx.D(b*b)), dimOp('/', shClean(s[2]), onnx.D(b)), dimOp('/', shClean(s[3]), onnx.D(b))})
	return nil
}

func shapeCompress(c *ShapeCtx) error {
	elem := c.Elem(0)
	if c.Node.Attr("axis") == nil {
		c.Set(0, elem, onnx.Shape{unknownDim})
		return nil
	}
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, elem, nil)
		return nil
	}
	ax, err := shAxis(c.Node.AttrInt("axis", 0), len(s))
	if err != nil {
		return err
	}
	s[ax] = unknownDim
	c.Set(0, elem, s)
	return nil
}

func shapeUnique(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok := c.Shape(0)
	inv := onnx.Shape{unknownDim}
	if c.Node.Attr("axis") == nil {
		c.Set(0, elem, onnx.Shape{unknownDim})
		if ok {
			inv[0] = prodDim(s)
		}
	} else if ok {
		ax, err := shAxis(c.Node.AttrInt("axis", 0), len(s))
		if err != nil {
			return err
		}
		inv[0] = s[ax]
		s[ax] = unknownDim
		c.Set(0, elem, s)
	} else {
		c.Set(0, elem, nil)
	}
	c.Set(1, onnx.Int64, onnx.Shape{unknownDim})
	c.Set(2, onnx.Int64, inv)
	c.Set(3, onnx.Int64, onnx.Shape{unknownDim})
	return nil
}

func shapeCenterCropPad(c *ShapeCtx) error {
	elem := c.Elem(0)
	s, ok := c.Shape(0)
	if !ok {
		c.Set(0, elem, nil)
		return nil
	}
	target, ok := c.Dims(1)
	if !ok {
		c.Set(0, elem, shUnknown(len(s)))
		return nil
	}
	axes := c.Node.AttrInts("axes", nil)
	if axes == nil {
		for i := range target {
			axes = append(axes, int64(i))
		}
	}
	if len(axes) != len(target) {
		return c.Errorf("shape of length %d for %d axes", len(target), len(axes))
	}
	for i, a := range axes {
		ax, err := shAxis(a, len(s))
		if err != nil {
			return err
		}
		s[ax] = shClean(target[i])
	}
	c.Set(0, elem, s)
	return nil
}

func shapeDet(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	if !ok || len(s) < 2 {
		c.Set(0, c.Elem(0), nil)
		return nil
	}
	c.Set(0, c.Elem(0), s[:len(s)-2])
	return nil
}

func shapeNMS(c *ShapeCtx) error {
	c.Set(0, onnx.Int64, onnx.Shape{unknownDim, onnx.D(3)})
	return nil
}

func shapeRandom(c *ShapeCtx) error {
	c.Set(0, onnx.DataType(c.Node.AttrInt("dtype", int64(onnx.Float))), shStatic(c.Node.AttrInts("shape", nil)))
	return nil
}

func shapeMultinomial(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	out := onnx.Shape{unknownDim, onnx.D(c.Node.AttrInt("sample_size", 1))}
	if ok && len(s) == 2 {
		out[0] = s[0]
	}
	c.Set(0, onnx.DataType(c.Node.AttrInt("dtype", int64(onnx.Int32))), out)
	return nil
}

// shapeEinsum maps the equation's letters to input dims; "..." broadcasts.
func shapeEinsum(c *ShapeCtx) error {
	eq := []byte(c.Node.AttrString("equation", ""))
	var b []byte
	for _, ch := range eq {
		if ch != ' ' {
			b = append(b, ch)
		}
	}
	lhs, rhs, explicit := string(b), "", false
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '-' && b[i+1] == '>' {
			lhs, rhs, explicit = string(b[:i]), string(b[i+2:]), true
			break
		}
	}
	elem := c.Elem(0)
	var terms []string
	start := 0
	for i := 0; i <= len(lhs); i++ {
		if i == len(lhs) || lhs[i] == ',' {
			terms = append(terms, lhs[start:i])
			start = i + 1
		}
	}
	if len(terms) != len(c.In) {
		return c.Errorf("equation %q has %d operands for %d inputs", eq, len(terms), len(c.In))
	}
	letters := map[byte]onnx.Dim{}
	count := map[byte]int{}
	var ellipsis onnx.Shape
	hasEllipsis := false
	for i, t := range terms {
		s, ok := c.Shape(i)
		if !ok {
			c.Set(0, elem, nil)
			return nil
		}
		nl := 0
		for j := 0; j < len(t); j++ {
			if t[j] != '.' {
				nl++
			}
		}
		ne := len(s) - nl
		k := 0
		for j := 0; j < len(t); j++ {
			ch := t[j]
			if ch == '.' {
				if j+2 < len(t) && t[j+1] == '.' && t[j+2] == '.' {
					j += 2
				}
				if ne < 0 {
					return c.Errorf("operand %d of rank %d does not fit %q", i, len(s), t)
				}
				var err error
				ellipsis, err = broadcastShapes(ellipsisOr(ellipsis, hasEllipsis), s[k:k+ne])
				if err != nil {
					return err
				}
				hasEllipsis = true
				k += ne
				continue
			}
			if k >= len(s) {
				return c.Errorf("operand %d of rank %d does not fit %q", i, len(s), t)
			}
			d := shClean(s[k])
			if prev, seen := letters[ch]; seen {
				nd, err := broadcastDim(prev, d)
				if err != nil {
					return err
				}
				letters[ch] = nd
			} else {
				letters[ch] = d
			}
			count[ch]++
			k++
		}
		if k != len(s) {
			return c.Errorf("operand %d of rank %d does not fit %q", i, len(s), t)
		}
	}
	if !explicit {
		var ls []byte
		for ch, n := range count {
			if n == 1 {
				ls = append(ls, ch)
			}
		}
		for i := 1; i < len(ls); i++ {
			for j := i; j > 0 && ls[j] < ls[j-1]; j-- {
				ls[j], ls[j-1] = ls[j-1], ls[j]
			}
		}
		rhs = string(ls)
		if hasEllipsis {
			rhs = "..." + rhs
		}
	}
	out := onnx.Shape{}
	for j := 0; j < len(rhs); j++ {
		if rhs[j] == '.' {
			if j+2 < len(rhs) {
				j += 2
			}
			out = append(out, ellipsis...)
			continue
		}
		d, ok := letters[rhs[j]]
		if !ok {
			return c.Errorf("output letter %q does not appear in the inputs", rhs[j])
		}
		out = append(out, d)
	}
	c.Set(0, elem, out)
	return nil
}

func ellipsisOr(s onnx.Shape, has bool) onnx.Shape {
	if !has {
		return onnx.Shape{}
	}
	return s
}
