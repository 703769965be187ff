package grad

import (
	"fmt"
	"math"
)

// Normalizations and reductions: BatchNormalization (inference),
// LayerNormalization, ReduceMean, ReduceSum.

func init() {
	register(gradBatchNorm, "BatchNormalization")
	register(gradLayerNorm, "LayerNormalization")
	register(gradReduce(reduceMean), "ReduceMean")
	register(gradReduce(reduceSum), "ReduceSum")
	register(gradReduce(reduceExtreme), "ReduceMax", "ReduceMin")
}

// gradBatchNorm differentiates y = scale·(x−mean)/√(var+ε) + B with the
// running statistics as constants of the forward (inference mode), and also
// gives their gradients when asked.
func gradBatchNorm(c *call) ([][]float64, error) {
	if c.n.AttrInt("training_mode", 0) != 0 {
		return nil, fmt.Errorf("BatchNormalization in training mode is not differentiated")
	}
	for k := 1; k < len(c.dy); k++ {
		if c.dy[k] != nil {
			return nil, fmt.Errorf("gradient through output %d of BatchNormalization is not supported", k)
		}
	}
	var p [5][]float32
	for i := range p {
		v, err := c.f(i)
		if err != nil {
			return nil, err
		}
		p[i] = v
	}
	x, scale, bias, mean, vr := p[0], p[1], p[2], p[3], p[4]
	xs := c.in[0].Shape
	if len(xs) < 2 {
		return nil, fmt.Errorf("BatchNormalization of shape %v", xs)
	}
	N, C, S := xs[0], xs[1], numel(xs[2:])
	for i := 1; i < 5; i++ {
		if len(p[i]) != C {
			return nil, fmt.Errorf("BatchNormalization parameter %d has %d elements for %d channels", i, len(p[i]), C)
		}
	}
	_ = bias
	eps := float64(c.n.AttrFloat("epsilon", 1e-5))
	dy := c.dy[0]
	dx := make([]float64, len(x))
	ds, db, dm, dv := make([]float64, C), make([]float64, C), make([]float64, C), make([]float64, C)
	for n := 0; n < N; n++ {
		for ch := 0; ch < C; ch++ {
			inv := 1 / math.Sqrt(float64(vr[ch])+eps)
			sc, mu := float64(scale[ch]), float64(mean[ch])
			base := (n*C + ch) * S
			for i := base; i < base+S; i++ {
				g := dy[i]
				xc := float64(x[i]) - mu
				dx[i] = g * sc * inv
				ds[ch] += g * xc * inv
				db[ch] += g
				dm[ch] -= g * sc * inv
				dv[ch] -= 0.5 * g * sc * xc * inv * inv * inv
			}
		}
	}
	return [][]float64{dx, ds, db, dm, dv}, nil
}

// gradLayerNorm: with x̂ = (x−μ)/σ over the axes from axis on,
// dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))/σ where ĝ = dy·scale.
func gradLayerNorm(c *call) ([][]float64, error) {
	for k := 1; k < len(c.dy); k++ {
		if c.dy[k] != nil {
			return nil, fmt.Errorf("gradient through output %d of LayerNormalization is not supported", k)
		}
	}
	x, err := c.f(0)
	if err != nil {
		return nil, err
	}
	scale, err := c.f(1)
	if err != nil {
		return nil, err
	}
	xs := c.in[0].Shape
	ax, err := normAxis(c.n.AttrInt("axis", -1), len(xs))
	if err != nil {
		return nil, err
	}
	eps := float64(c.n.AttrFloat("epsilon", 1e-5))
	D := numel(xs[ax:])
	outer := numel(xs[:ax])
	si, err := bcastIndex(xs[ax:], c.in[1].Shape)
	if err != nil {
		return nil, err
	}
	var bi []int
	if c.has(2) {
		if bi, err = bcastIndex(xs[ax:], c.in[2].Shape); err != nil {
			return nil, err
		}
	}
	dy := c.dy[0]
	dx := make([]float64, len(x))
	ds := make([]float64, len(scale))
	var db []float64
	if c.has(2) {
		db = make([]float64, c.in[2].Len())
	}
	xh := make([]float64, D)
	gh := make([]float64, D)
	for o := 0; o < outer; o++ {
		row := x[o*D : (o+1)*D]
		var mu, v float64
		for _, xv := range row {
			mu += float64(xv)
		}
		mu /= float64(D)
		for _, xv := range row {
			d := float64(xv) - mu
			v += d * d
		}
		v /= float64(D)
		inv := 1 / math.Sqrt(v+eps)
		var mg, mgx float64
		for j, xv := range row {
			xh[j] = (float64(xv) - mu) * inv
			g := dy[o*D+j]
			gh[j] = g * float64(scale[si[j]])
			mg += gh[j]
			mgx += gh[j] * xh[j]
			ds[si[j]] += g * xh[j]
			if db != nil {
				db[bi[j]] += g
			}
		}
		mg /= float64(D)
		mgx /= float64(D)
		for j := range row {
			dx[o*D+j] = inv * (gh[j] - mg - xh[j]*mgx)
		}
	}
	return [][]float64{dx, ds, db}, nil
}

// gradReduce spreads the gradient over the reduced axes (divided by their
// size for the mean). Axes are an attribute before ReduceMean-18 and
// ReduceSum-13, an input from then on.
// reduceKind is how a reduction's gradient spreads over its inputs.
type reduceKind int

const (
	reduceSum     reduceKind = iota // to every element
	reduceMean                      // to every element, divided by their count
	reduceExtreme                   // ReduceMax/ReduceMin: to the elements equal to the result, shared on a tie
)

func gradReduce(kind reduceKind) rule {
	return func(c *call) ([][]float64, error) {
		xs := c.in[0].Shape
		r := len(xs)
		// axes is an input from opset 13 for ReduceSum, from 18 for the others.
		axesInput := int64(18)
		if kind == reduceSum {
			axesInput = 13
		}
		var axes []int64
		if c.opset < axesInput {
			axes = c.n.AttrInts("axes", nil)
		} else if c.has(1) {
			var err error
			if axes, err = ints(c.in[1]); err != nil {
				return nil, err
			}
		}
		if len(axes) == 0 && c.n.AttrInt("noop_with_empty_axes", 0) != 0 {
			return [][]float64{append([]float64(nil), c.dy[0]...)}, nil
		}
		kept := append([]int(nil), xs...)
		if len(axes) == 0 {
			for d := range kept {
				kept[d] = 1
			}
		}
		for _, a := range axes {
			ax, err := normAxis(a, r)
			if err != nil {
				return nil, err
			}
			kept[ax] = 1
		}
		idx, err := bcastIndex(xs, kept)
		if err != nil {
			return nil, err
		}
		scale := 1.0
		if kind == reduceMean && numel(kept) > 0 {
			scale = float64(numel(kept)) / float64(numel(xs))
		}
		dx := make([]float64, len(idx))
		if kind == reduceExtreme {
			x, err := c.f(0)
			if err != nil {
				return nil, err
			}
			y := c.out[0].Floats()
			ties := make([]float64, len(y))
			for i, j := range idx {
				if x[i] == y[j] {
					ties[j]++
				}
			}
			for i, j := range idx {
				if x[i] == y[j] {
					dx[i] = c.dy[0][j] / ties[j]
				}
			}
		} else {
			for i, j := range idx {
				dx[i] = c.dy[0][j] * scale
			}
		}
		res := make([][]float64, len(c.in))
		res[0] = dx
		return res, nil
	}
}
