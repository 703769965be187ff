package grad

import (
	"fmt"
	"math"
)

// Elementwise ops: unary activations, broadcasting arithmetic, Clip,
// Softmax and LogSoftmax.

func init() {
	unary := func(op string, d func(c *call) (func(x, y float64) float64, error)) {
		register(func(c *call) ([][]float64, error) {
			x, err := c.f(0)
			if err != nil {
				return nil, err
			}
			y, ok := c.out[0].Data.([]float32)
			if !ok {
				return nil, fmt.Errorf("output is %s, not float32", c.out[0].DType)
			}
			df, err := d(c)
			if err != nil {
				return nil, err
			}
			dx := make([]float64, len(x))
			for i, g := range c.dy[0] {
				dx[i] = g * df(float64(x[i]), float64(y[i]))
			}
			return [][]float64{dx}, nil
		}, op)
	}
	fixed := func(f func(x, y float64) float64) func(c *call) (func(x, y float64) float64, error) {
		return func(*call) (func(x, y float64) float64, error) { return f, nil }
	}
	one := fixed(func(x, y float64) float64 { return 1 })
	unary("Identity", one)
	unary("Relu", fixed(func(x, y float64) float64 { return step(x > 0) }))
	unary("Sigmoid", fixed(func(x, y float64) float64 { return y * (1 - y) }))
	unary("Tanh", fixed(func(x, y float64) float64 { return 1 - y*y }))
	unary("Neg", fixed(func(x, y float64) float64 { return -1 }))
	unary("Exp", fixed(func(x, y float64) float64 { return y }))
	unary("Log", fixed(func(x, y float64) float64 { return 1 / x }))
	unary("Sqrt", fixed(func(x, y float64) float64 { return 0.5 / y }))
	unary("Reciprocal", fixed(func(x, y float64) float64 { return -y * y }))
	unary("Abs", fixed(func(x, y float64) float64 { return step(x > 0) - step(x < 0) }))
	unary("Softplus", fixed(func(x, y float64) float64 { return 1 / (1 + math.Exp(-x)) }))
	unary("Erf", fixed(func(x, y float64) float64 { return 2 / math.Sqrt(math.Pi) * math.Exp(-x*x) }))
	unary("LeakyRelu", func(c *call) (func(x, y float64) float64, error) {
		a := float64(c.n.AttrFloat("alpha", 0.01))
		return func(x, y float64) float64 {
			if x > 0 {
				return 1
			}
			return a
		}, nil
	})
	unary("HardSigmoid", func(c *call) (func(x, y float64) float64, error) {
		a, b := float64(c.n.AttrFloat("alpha", 0.2)), float64(c.n.AttrFloat("beta", 0.5))
		return func(x, y float64) float64 { return a * inside(a*x+b) }, nil
	})
	unary("HardSwish", fixed(func(x, y float64) float64 {
		const a, b = 1.0 / 6, 0.5
		h := math.Max(0, math.Min(1, a*x+b))
		return h + x*a*inside(a*x+b)
	}))
	unary("Gelu", func(c *call) (func(x, y float64) float64, error) {
		switch ap := c.n.AttrString("approximate", "none"); ap {
		case "none":
			return func(x, y float64) float64 {
				return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
			}, nil
		case "tanh":
			k := math.Sqrt(2 / math.Pi)
			return func(x, y float64) float64 {
				t := math.Tanh(k * (x + 0.044715*x*x*x))
				return 0.5*(1+t) + 0.5*x*(1-t*t)*k*(1+3*0.044715*x*x)
			}, nil
		default:
			return nil, fmt.Errorf("Gelu approximate=%q", ap)
		}
	})
	unary("Dropout", func(c *call) (func(x, y float64) float64, error) {
		if c.has(2) {
			if t, ok := c.in[2].Data.([]bool); ok && len(t) == 1 && t[0] {
				return nil, fmt.Errorf("Dropout in training mode is not differentiated")
			}
		}
		if c.n.AttrInt("is_test", 1) == 0 && c.opset < 7 {
			return nil, fmt.Errorf("Dropout in training mode is not differentiated")
		}
		return func(x, y float64) float64 { return 1 }, nil
	})
	unary("Cast", func(c *call) (func(x, y float64) float64, error) {
		if _, ok := c.out[0].Data.([]float32); !ok {
			return nil, fmt.Errorf("Cast to %s is not differentiated", c.out[0].DType)
		}
		return func(x, y float64) float64 { return 1 }, nil
	})

	register(binary(func(a, b, y float64) (float64, float64) { return 1, 1 }), "Add")
	register(binary(func(a, b, y float64) (float64, float64) { return 1, -1 }), "Sub")
	register(binary(func(a, b, y float64) (float64, float64) { return b, a }), "Mul")
	register(binary(func(a, b, y float64) (float64, float64) { return 1 / b, -a / (b * b) }), "Div")
	register(binary(func(a, b, y float64) (float64, float64) {
		db := 0.0
		if a > 0 {
			db = y * math.Log(a)
		}
		return b * math.Pow(a, b-1), db
	}), "Pow")
	register(binary(func(a, b, y float64) (float64, float64) {
		if a > 0 {
			return 1, 0
		}
		return b, a
	}), "PRelu")
	// The elementwise extremes send the gradient to the input that is the
	// result (the first one on a tie); one input is the identity.
	register(extreme(func(a, b float64) bool { return a >= b }), "Max")
	register(extreme(func(a, b float64) bool { return a <= b }), "Min")
	register(gradSum, "Sum")
	register(gradClip, "Clip")
	register(softmaxRule(false), "Softmax")
	register(softmaxRule(true), "LogSoftmax")
}

func step(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// inside is 1 strictly inside (0, 1), where a hard sigmoid is not clamped.
func inside(v float64) float64 { return step(v > 0 && v < 1) }

// binary is the rule of a broadcasting two-input op whose partial derivatives
// at (a, b) with result y are d(a, b, y).
func binary(d func(a, b, y float64) (float64, float64)) rule {
	return func(c *call) ([][]float64, error) {
		a, err := c.f(0)
		if err != nil {
			return nil, err
		}
		b, err := c.f(1)
		if err != nil {
			return nil, err
		}
		y := c.out[0].Floats()
		out := c.out[0].Shape
		ia, err := bcastIndex(out, c.in[0].Shape)
		if err != nil {
			return nil, err
		}
		ib, err := bcastIndex(out, c.in[1].Shape)
		if err != nil {
			return nil, err
		}
		var da, db []float64
		if c.wants(0) {
			da = make([]float64, len(a))
		}
		if c.wants(1) {
			db = make([]float64, len(b))
		}
		for k, g := range c.dy[0] {
			pa, pb := d(float64(a[ia[k]]), float64(b[ib[k]]), float64(y[k]))
			if da != nil {
				da[ia[k]] += g * pa
			}
			if db != nil {
				db[ib[k]] += g * pb
			}
		}
		return [][]float64{da, db}, nil
	}
}

// extreme is the rule of Max or Min of one or two broadcast inputs:
// first(a, b) says that a is the result.
func extreme(first func(a, b float64) bool) rule {
	pick := binary(func(a, b, y float64) (float64, float64) {
		if first(a, b) {
			return 1, 0
		}
		return 0, 1
	})
	return func(c *call) ([][]float64, error) {
		switch len(c.in) {
		case 1:
			return [][]float64{append([]float64(nil), c.dy[0]...)}, nil
		case 2:
			return pick(c)
		}
		return nil, fmt.Errorf("%s of %d inputs is not differentiated (one or two)", c.n.OpType, len(c.in))
	}
}

func gradSum(c *call) ([][]float64, error) {
	res := make([][]float64, len(c.in))
	for i := range c.in {
		if !c.wants(i) {
			continue
		}
		r, err := reduceTo(c.dy[0], c.out[0].Shape, c.in[i].Shape)
		if err != nil {
			return nil, err
		}
		res[i] = r
	}
	return res, nil
}

// gradClip passes the gradient where min ≤ x ≤ max and sends it to the bound
// (when it is an input) where x is clamped. Bounds are attributes before
// opset 11 and optional inputs from then on.
func gradClip(c *call) ([][]float64, error) {
	x, err := c.f(0)
	if err != nil {
		return nil, err
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	if c.opset < 11 {
		lo, hi = float64(c.n.AttrFloat("min", -math.MaxFloat32)), float64(c.n.AttrFloat("max", math.MaxFloat32))
	} else {
		if c.has(1) {
			v, err := c.f(1)
			if err != nil || len(v) != 1 {
				return nil, fmt.Errorf("Clip min must be a float32 scalar")
			}
			lo = float64(v[0])
		}
		if c.has(2) {
			v, err := c.f(2)
			if err != nil || len(v) != 1 {
				return nil, fmt.Errorf("Clip max must be a float32 scalar")
			}
			hi = float64(v[0])
		}
	}
	res := make([][]float64, len(c.in))
	dx := make([]float64, len(x))
	var dlo, dhi float64
	for i, g := range c.dy[0] {
		v := float64(x[i])
		switch {
		case v < lo:
			dlo += g
		case v > hi:
			dhi += g
		default:
			dx[i] = g
		}
	}
	res[0] = dx
	if c.wants(1) {
		res[1] = []float64{dlo}
	}
	if c.wants(2) {
		res[2] = []float64{dhi}
	}
	return res, nil
}

// softmaxLayout splits shape into (outer, n, inner) around the softmax axis:
// before opset 13 the input is coerced to 2-D at axis (default 1), from 13 on
// the softmax runs along axis (default −1) alone.
func softmaxLayout(c *call, shape []int) (outer, n, inner int, err error) {
	r := len(shape)
	if c.opset < 13 {
		ax, err := normAxisOrEnd(c.n.AttrInt("axis", 1), r)
		if err != nil {
			return 0, 0, 0, err
		}
		return numel(shape[:ax]), numel(shape[ax:]), 1, nil
	}
	ax, err := normAxis(c.n.AttrInt("axis", -1), r)
	if err != nil {
		return 0, 0, 0, err
	}
	return numel(shape[:ax]), shape[ax], numel(shape[ax+1:]), nil
}

// normAxisOrEnd accepts axis == rank too (a flatten point).
func normAxisOrEnd(axis int64, rank int) (int, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis > int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(axis), nil
}

// softmaxRule: dx = y ⊙ (dy − Σ dy⊙y) for Softmax, dx = dy − softmax·Σ dy
// for LogSoftmax, the sums along the softmax axis.
func softmaxRule(logs bool) rule {
	return func(c *call) ([][]float64, error) {
		y := c.out[0].Floats()
		outer, n, inner, err := softmaxLayout(c, c.out[0].Shape)
		if err != nil {
			return nil, err
		}
		dy := c.dy[0]
		dx := make([]float64, len(y))
		for o := 0; o < outer; o++ {
			for in := 0; in < inner; in++ {
				base := o*n*inner + in
				var s float64
				for k := 0; k < n; k++ {
					j := base + k*inner
					if logs {
						s += dy[j]
					} else {
						s += dy[j] * float64(y[j])
					}
				}
				for k := 0; k < n; k++ {
					j := base + k*inner
					if logs {
						dx[j] = dy[j] - math.Exp(float64(y[j]))*s
					} else {
						dx[j] = float64(y[j]) * (dy[j] - s)
					}
				}
			}
		}
		return [][]float64{dx}, nil
	}
}
