package grad

import (
	"fmt"

	"github.com/onnxslim/onnxslim/interp"
)

// Data-movement ops: the gradient goes back to where each element came from.

func init() {
	// Same elements in the same order: the gradient is passed on unchanged.
	register(func(c *call) ([][]float64, error) {
		res := make([][]float64, len(c.in))
		res[0] = append([]float64(nil), c.dy[0]...)
		return res, nil
	}, "Reshape", "Flatten", "Squeeze", "Unsqueeze")
	register(gradTranspose, "Transpose")
	register(gradConcat, "Concat")
	register(gradSplit, "Split")
	register(gradSlice, "Slice")
	register(gradPad, "Pad")
	register(gradGather, "Gather")
	register(gradResize, "Resize", "Upsample")
	register(func(c *call) ([][]float64, error) {
		dx, err := reduceTo(c.dy[0], c.out[0].Shape, c.in[0].Shape)
		return [][]float64{dx, nil}, err
	}, "Expand")
}

// walk lists, for each element of a tensor of shape out, the flat offset
// base + Σ index[d]·st[d] into another tensor.
func walk(out, st []int, base int) []int {
	n := numel(out)
	idx := make([]int, n)
	if n == 0 {
		return idx
	}
	pos := make([]int, len(out))
	cur := base
	for k := 0; k < n; k++ {
		idx[k] = cur
		for d := len(out) - 1; d >= 0; d-- {
			pos[d]++
			cur += st[d]
			if pos[d] < out[d] {
				break
			}
			cur -= st[d] * pos[d]
			pos[d] = 0
		}
	}
	return idx
}

func gradTranspose(c *call) ([][]float64, error) {
	xs := c.in[0].Shape
	r := len(xs)
	perm := c.n.AttrInts("perm", nil)
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r {
		return nil, fmt.Errorf("perm %v for rank %d", perm, r)
	}
	ist := strides(xs)
	st := make([]int, r)
	for k, p := range perm {
		st[k] = ist[p]
	}
	dx := make([]float64, numel(xs))
	for o, i := range walk(c.out[0].Shape, st, 0) {
		dx[i] = c.dy[0][o]
	}
	return [][]float64{dx}, nil
}

func gradConcat(c *call) ([][]float64, error) {
	ys := c.out[0].Shape
	ax, err := normAxis(c.n.AttrInt("axis", 1), len(ys))
	if err != nil {
		return nil, err
	}
	outer, inner := numel(ys[:ax]), numel(ys[ax+1:])
	res := make([][]float64, len(c.in))
	at := 0
	for i, t := range c.in {
		if t == nil {
			continue
		}
		w := t.Shape[ax] * inner
		if c.wants(i) {
			dx := make([]float64, outer*w)
			for o := 0; o < outer; o++ {
				copy(dx[o*w:(o+1)*w], c.dy[0][o*ys[ax]*inner+at:])
			}
			res[i] = dx
		}
		at += w
	}
	return res, nil
}

func gradSplit(c *call) ([][]float64, error) {
	xs := c.in[0].Shape
	ax, err := normAxis(c.n.AttrInt("axis", 0), len(xs))
	if err != nil {
		return nil, err
	}
	outer, inner := numel(xs[:ax]), numel(xs[ax+1:])
	dx := make([]float64, numel(xs))
	at := 0
	for k, y := range c.out {
		if y == nil {
			continue
		}
		w := y.Shape[ax] * inner
		if d := c.dy[k]; d != nil {
			for o := 0; o < outer; o++ {
				copy(dx[o*xs[ax]*inner+at:], d[o*w:(o+1)*w])
			}
		}
		at += w
	}
	res := make([][]float64, len(c.in))
	res[0] = dx
	return res, nil
}

// gradSlice scatters the gradient back to the sliced positions; starts, ends,
// axes (and steps) are inputs from opset 10 and attributes before.
func gradSlice(c *call) ([][]float64, error) {
	xs := c.in[0].Shape
	r := len(xs)
	var starts, ends, axes, steps []int64
	if c.opset < 10 {
		starts, ends, axes = c.n.AttrInts("starts", nil), c.n.AttrInts("ends", nil), c.n.AttrInts("axes", nil)
	} else {
		get := func(i int) ([]int64, error) {
			if !c.has(i) {
				return nil, nil
			}
			return ints(c.in[i])
		}
		var err error
		if starts, err = get(1); err != nil {
			return nil, err
		}
		if ends, err = get(2); err != nil {
			return nil, err
		}
		if axes, err = get(3); err != nil {
			return nil, err
		}
		if steps, err = get(4); err != nil {
			return nil, err
		}
	}
	if len(ends) != len(starts) {
		return nil, fmt.Errorf("Slice starts %v and ends %v", starts, ends)
	}
	start := make([]int, r)
	step := ones(r)
	for i, s := range starts {
		a := i
		if axes != nil {
			ax, err := normAxis(axes[i], r)
			if err != nil {
				return nil, err
			}
			a = ax
		}
		st := int64(1)
		if steps != nil {
			st = steps[i]
		}
		d := int64(xs[a])
		if s < 0 {
			s += d
		}
		if st > 0 {
			s = min(max(s, 0), d)
		} else {
			s = min(max(s, 0), d-1)
		}
		start[a], step[a] = int(s), int(st)
	}
	ist := strides(xs)
	st := make([]int, r)
	base := 0
	for d := range r {
		st[d] = ist[d] * step[d]
		base += start[d] * ist[d]
	}
	dx := make([]float64, numel(xs))
	for o, i := range walk(c.out[0].Shape, st, base) {
		dx[i] += c.dy[0][o]
	}
	res := make([][]float64, len(c.in))
	res[0] = dx
	return res, nil
}

// gradPad crops the gradient (constant mode; pads as an attribute before
// opset 11, an input from then on, with optional axes from opset 18).
func gradPad(c *call) ([][]float64, error) {
	xs := c.in[0].Shape
	r := len(xs)
	mode := c.n.AttrString("mode", "constant")
	if mode != "constant" {
		return nil, fmt.Errorf("Pad mode %q is not differentiated", mode)
	}
	var pads []int64
	if c.opset < 11 {
		pads = c.n.AttrInts("pads", c.n.AttrInts("paddings", nil))
	} else if c.has(1) {
		var err error
		if pads, err = ints(c.in[1]); err != nil {
			return nil, err
		}
	}
	begin := make([]int, r)
	if c.has(3) {
		axes, err := ints(c.in[3])
		if err != nil {
			return nil, err
		}
		if len(pads) != 2*len(axes) {
			return nil, fmt.Errorf("pads %v for axes %v", pads, axes)
		}
		for i, a := range axes {
			ax, err := normAxis(a, r)
			if err != nil {
				return nil, err
			}
			begin[ax] = int(pads[i])
		}
	} else if pads != nil {
		if len(pads) != 2*r {
			return nil, fmt.Errorf("pads %v for rank %d", pads, r)
		}
		for i := range r {
			begin[i] = int(pads[i])
		}
	}
	ys := c.out[0].Shape
	ost := strides(ys)
	dx := make([]float64, numel(xs))
	pos := make([]int, r)
	var inside float64
	for i := range dx {
		k := i
		for d := r - 1; d >= 0; d-- {
			pos[d] = k % xs[d]
			k /= xs[d]
		}
		o, ok := 0, true
		for d := range r {
			p := pos[d] + begin[d]
			if p < 0 || p >= ys[d] {
				ok = false
				break
			}
			o += p * ost[d]
		}
		if ok {
			dx[i] = c.dy[0][o]
			inside += dx[i]
		}
	}
	res := make([][]float64, len(c.in))
	res[0] = dx
	if c.wants(2) {
		// The constant fills every output position no input lands on.
		var all float64
		for _, g := range c.dy[0] {
			all += g
		}
		res[2] = []float64{all - inside}
	}
	return res, nil
}

// gradGather adds each gathered slice's gradient back to the row of data it
// was read from (repeated indices accumulate).
func gradGather(c *call) ([][]float64, error) {
	xs := c.in[0].Shape
	ax, err := normAxis(c.n.AttrInt("axis", 0), len(xs))
	if err != nil {
		return nil, err
	}
	idx, err := ints(c.in[1])
	if err != nil {
		return nil, err
	}
	outer, n, inner := numel(xs[:ax]), xs[ax], numel(xs[ax+1:])
	dx := make([]float64, numel(xs))
	dy := c.dy[0]
	for o := 0; o < outer; o++ {
		for k, i := range idx {
			if i < 0 {
				i += int64(n)
			}
			if i < 0 || i >= int64(n) {
				return nil, fmt.Errorf("Gather index %d out of range for axis of %d", idx[k], n)
			}
			src := dy[(o*len(idx)+k)*inner : (o*len(idx)+k+1)*inner]
			dst := dx[(o*n+int(i))*inner:]
			for j, g := range src {
				dst[j] += g
			}
		}
	}
	res := make([][]float64, len(c.in))
	res[0] = dx
	return res, nil
}

// gradResize applies each axis's map transposed (interp.ResizeMap), the
// first axis first, since the forward resized the last axis first: every
// output element's gradient goes back to the inputs it was computed from,
// by the same weights. Extrapolated outputs are constants.
func gradResize(c *call) ([][]float64, error) {
	maps, outShape, err := interp.ResizeMap(c.n, c.opset, c.in)
	if err != nil {
		return nil, err
	}
	g := c.dy[0]
	shape := append([]int(nil), outShape...)
	for ax, m := range maps {
		if m == nil {
			continue
		}
		outer, inner := numel(shape[:ax]), numel(shape[ax+1:])
		out, in := shape[ax], c.in[0].Shape[ax]
		next := make([]float64, outer*in*inner)
		for o := 0; o < outer; o++ {
			for k := 0; k < out; k++ {
				if m.Extrap[k] {
					continue
				}
				src := g[(o*out+k)*inner : (o*out+k+1)*inner]
				for j, i := range m.Idx[k] {
					w := m.W[k][j]
					dst := next[(o*in+i)*inner : (o*in+i+1)*inner]
					for e, v := range src {
						dst[e] += w * v
					}
				}
			}
		}
		g, shape[ax] = next, in
	}
	res := make([][]float64, len(c.in))
	res[0] = g
	return res, nil
}
