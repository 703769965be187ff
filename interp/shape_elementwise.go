package interp

import "github.com/onnxslim/onnxslim/onnx"

// Shape functions of elementwise ops: unary maps, broadcasting binary and
// variadic ops, comparisons, casts and activations.

func init() {
	regShapes(shapeSameAsInput,
		"Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Cos", "Cosh", "Erf", "Exp",
		"Floor", "Log", "Neg", "Reciprocal", "Round", "Sigmoid", "Sign", "Sin", "Sinh", "Sqrt", "Tan",
		"Tanh", "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "ThresholdedRelu", "HardSigmoid", "HardSwish",
		"Softplus", "Softsign", "Mish", "Gelu", "Swish", "Shrink", "BitwiseNot", "Not", "Clip",
		"Softmax", "LogSoftmax", "Hardmax", "CumSum", "CumProd", "Trilu", "LpNormalization",
		"MeanVarianceNormalization", "InstanceNormalization", "GroupNormalization", "LRN",
		"RMSNormalization", "RotaryEmbedding", "ReverseSequence", "ScatterElements", "ScatterND",
		"Scatter", "TensorScatter", "Identity", "PRelu")
	regShapes(shapeBroadcast(-1, 0),
		"Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
		"Max", "Min", "Mean", "Sum", "StringConcat")
	regShapes(shapeBroadcast(onnx.Bool, 0), "And", "Or", "Xor", "Equal", "Greater", "Less",
		"GreaterOrEqual", "LessOrEqual")
	regShapes(shapeMap(onnx.Bool), "IsNaN", "IsInf", "RegexFullMatch")
	regShapes(shapeWhere, "Where")
	regShapes(shapeCast, "Cast")
	regShapes(shapeCastLike, "CastLike")
	regShapes(shapeDropout, "Dropout")
	regShapes(shapeBatchNorm, "BatchNormalization")
	regShapes(shapeLayerNorm, "LayerNormalization")
	regShapes(shapeLikeWithDtype("dtype"), "EyeLike", "RandomNormalLike", "RandomUniformLike", "Bernoulli")
	regShapes(shapeBitCast, "BitCast")
}

// shapeSameAsInput gives output 0 the type of input 0. Its symbolic content
// passes through ops that do not change values.
func shapeSameAsInput(c *ShapeCtx) error {
	c.Same(0, 0)
	switch c.Node.OpType {
	case "Identity":
		if d, ok := c.Dims(0); ok {
			c.SetSym(0, d)
		}
		if c.Type(0) != nil && c.Type(0).Kind != onnx.TypeTensor {
			return nil
		}
	case "Abs", "Neg":
		if d, ok := c.Dims(0); ok {
			out := make([]onnx.Dim, len(d))
			for i, x := range d {
				switch {
				case x.IsStatic() && c.Node.OpType == "Abs":
					out[i] = onnx.D(max(x.Value, -x.Value))
				case x.IsStatic():
					out[i] = onnx.D(-x.Value)
				case c.Node.OpType == "Abs" && x.Kind == onnx.DimParam:
					out[i] = x // dims are never negative
				}
			}
			c.SetSym(0, out)
		}
	}
	return nil
}

// shapeMap keeps input 0's shape with a fixed element type.
func shapeMap(elem onnx.DataType) ShapeFunc {
	return func(c *ShapeCtx) error {
		s, _ := c.Shape(0)
		c.Set(0, elem, s)
		return nil
	}
}

// shapeBroadcast broadcasts all inputs; the element type is elem, or that of
// input from when elem is negative. Integer arithmetic on shape tensors is
// propagated symbolically.
func shapeBroadcast(elem onnx.DataType, from int) ShapeFunc {
	return func(c *ShapeCtx) error {
		shapes := make([]onnx.Shape, 0, len(c.In))
		for i := range c.In {
			if !c.Has(i) {
				continue
			}
			s, ok := c.Shape(i)
			if !ok {
				s = nil
			}
			shapes = append(shapes, s)
		}
		var out onnx.Shape
		var err error
		if c.Node.Attr("broadcast") != nil {
			// Before opset 7, B is broadcast to A (aligned by the axis attribute).
			out, _ = c.Shape(0)
		} else if out, err = broadcastShapes(shapes...); err != nil {
			return err
		}
		e := elem
		if e < 0 {
			e = c.Elem(from)
			for i := range c.In {
				if e == onnx.Undefined {
					e = c.Elem(i)
				}
			}
		}
		c.Set(0, e, out)
		shapeArith(c)
		return nil
	}
}

// shapeArith propagates the content of shape tensors through integer
// arithmetic, comparisons and Max/Min, broadcasting one-element operands.
func shapeArith(c *ShapeCtx) {
	var op byte
	switch c.Node.OpType {
	case "Add", "Sum":
		op = '+'
	case "Sub":
		op = '-'
	case "Mul":
		op = '*'
	case "Div":
		op = '/'
	case "Max", "Min", "Equal":
		op = c.Node.OpType[1] // 'a', 'i', 'q'
	default:
		return
	}
	if len(c.In) != 2 || !c.Elem(0).IsInteger() {
		return
	}
	a, ok1 := c.Dims(0)
	b, ok2 := c.Dims(1)
	if !ok1 || !ok2 {
		return
	}
	n := max(len(a), len(b))
	if (len(a) != n && len(a) != 1) || (len(b) != n && len(b) != 1) {
		return
	}
	out := make([]onnx.Dim, n)
	for i := range out {
		x, y := a[min(i, len(a)-1)], b[min(i, len(b)-1)]
		switch op {
		case 'a', 'i':
			switch {
			case x.IsStatic() && y.IsStatic():
				if (op == 'a') == (x.Value > y.Value) {
					out[i] = x
				} else {
					out[i] = y
				}
			case dimEq(x, y):
				out[i] = x
			case op == 'a' && dimIs(y, 0):
				out[i] = x // dims are never negative
			case op == 'a' && dimIs(x, 0):
				out[i] = y
			}
		case 'q':
			// Equal yields bools: no shape content.
			return
		default:
			out[i] = dimOp(op, shClean(x), shClean(y))
		}
	}
	c.SetSym(0, out)
}

func shapeWhere(c *ShapeCtx) error {
	var shapes []onnx.Shape
	for i := 0; i < 3; i++ {
		s, ok := c.Shape(i)
		if !ok {
			s = nil
		}
		shapes = append(shapes, s)
	}
	out, err := broadcastShapes(shapes...)
	if err != nil {
		return err
	}
	e := c.Elem(1)
	if e == onnx.Undefined {
		e = c.Elem(2)
	}
	c.Set(0, e, out)
	// Where on shape tensors with a known condition picks dims symbolically.
	cond, ok0 := c.Const[0], c.Const[0] != nil
	x, ok1 := c.Dims(1)
	y, ok2 := c.Dims(2)
	if ok0 && ok1 && ok2 && cond.DType == onnx.Bool && cond.Rank() <= 1 {
		cv := cond.Data.([]bool)
		n := max(len(cv), len(x), len(y))
		if (len(cv) == n || len(cv) == 1) && (len(x) == n || len(x) == 1) && (len(y) == n || len(y) == 1) {
			res := make([]onnx.Dim, n)
			for i := range res {
				if cv[min(i, len(cv)-1)] {
					res[i] = x[min(i, len(x)-1)]
				} else {
					res[i] = y[min(i, len(y)-1)]
				}
			}
			c.SetSym(0, res)
		}
	}
	return nil
}

func shapeCast(c *ShapeCtx) error {
	to := onnx.DataType(c.Node.AttrInt("to", 0))
	s, _ := c.Shape(0)
	c.Set(0, to, s)
	if to.IsInteger() {
		if d, ok := c.Dims(0); ok && c.Elem(0).IsInteger() {
			c.SetSym(0, d)
		}
	}
	return nil
}

func shapeCastLike(c *ShapeCtx) error {
	s, _ := c.Shape(0)
	c.Set(0, c.Elem(1), s)
	if c.Elem(1).IsInteger() && c.Elem(0).IsInteger() {
		if d, ok := c.Dims(0); ok {
			c.SetSym(0, d)
		}
	}
	return nil
}

func shapeDropout(c *ShapeCtx) error {
	c.Same(0, 0)
	s, _ := c.Shape(0)
	c.Set(1, onnx.Bool, s)
	return nil
}

func shapeBatchNorm(c *ShapeCtx) error {
	c.Same(0, 0)
	// Training mode outputs: running mean and variance, shaped like the input mean.
	for i := 1; i < len(c.Out); i++ {
		src := 3
		if i == 2 {
			src = 4
		}
		if c.Opset < 14 && i > 2 {
			src = 1 // saved mean/var of old opsets are shaped like scale
		}
		c.Same(i, src)
	}
	return nil
}

func shapeLayerNorm(c *ShapeCtx) error {
	c.Same(0, 0)
	s, err := normStatShape(c)
	if s == nil {
		return err
	}
	// Mean and InvStdDev have the stash type (float by default).
	elem := onnx.DataType(c.Node.AttrInt("stash_type", 1))
	c.Set(1, elem, s)
	c.Set(2, elem, append(onnx.Shape{}, s...))
	return nil
}

// shapeLikeWithDtype keeps input 0's shape with the element type of attr
// (when set) or of input 0.
func shapeLikeWithDtype(attr string) ShapeFunc {
	return func(c *ShapeCtx) error {
		s, _ := c.Shape(0)
		e := c.Elem(0)
		if c.Node.Attr(attr) != nil {
			e = onnx.DataType(c.Node.AttrInt(attr, 0))
		}
		c.Set(0, e, s)
		return nil
	}
}

func shapeBitCast(c *ShapeCtx) error {
	to := onnx.DataType(c.Node.AttrInt("to", 0))
	s, ok := c.Shape(0)
	from := c.Elem(0)
	if !ok || from == onnx.Undefined {
		c.Set(0, to, nil)
		return nil
	}
	switch a, b := from.BitSize(), to.BitSize(); {
	case a == b:
	case a > b && b > 0 && a%b == 0:
		s = append(s, onnx.D(int64(a/b)))
	case a < b && len(s) > 0 && a > 0 && b%a == 0 && dimIs(s[len(s)-1], int64(b/a)):
		s = s[:len(s)-1]
	default:
		s = nil
	}
	c.Set(0, to, s)
	return nil
}

// normStatShape is the shape of a normalization's per-row statistics: the
// input's with the axes from the axis attribute on set to 1 (nil when the
// input's shape is unknown).
func normStatShape(c *ShapeCtx) (onnx.Shape, error) {
	s, ok := c.Shape(0)
	if !ok {
		return nil, nil
	}
	axis, err := shAxis(c.Node.AttrInt("axis", -1), len(s))
	if err != nil {
		return nil, err
	}
	for i := axis; i < len(s); i++ {
		s[i] = onnx.D(1)
	}
	return s, nil
}
