package interp

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// ai.onnx.preview.training: the optimizers Adagrad, Adam and Momentum, and
// Gradient for graphs of elementwise arithmetic and a few activations.

const trainingDomain = "ai.onnx.preview.training"

// optimizerKernel builds the kernel of an optimizer whose inputs are R, T and
// `groups` groups of n tensors (X..., G..., state...) and whose outputs are
// the new X... and the new state groups.
func optimizerKernel(groups int, step func(r float64, t int64, v []float64)) Kernel {
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 2+groups || (len(in)-2)%groups != 0 {
			return nil, fmt.Errorf("want R, T and %d groups of tensors, got %d inputs", groups, len(in))
		}
		r, err := scalarFloat(in[0], "R")
		if err != nil {
			return nil, err
		}
		t, err := scalarInt(in[1], "T")
		if err != nil {
			return nil, err
		}
		n := (len(in) - 2) / groups
		outs := make([]*Tensor, n*(groups-1))
		for i := range n {
			vals := make([][]float64, groups)
			x := in[2+i]
			for k := range groups {
				g := in[2+k*n+i]
				if g == nil || g.Len() != x.Len() {
					return nil, fmt.Errorf("input %d %s does not match X %s", 2+k*n+i, g, x)
				}
				v, err := numbersAsFloat64(g)
				if err != nil {
					return nil, err
				}
				vals[k] = append([]float64{}, v...)
			}
			v := make([]float64, groups)
			for e := range x.Len() {
				for k := range groups {
					v[k] = vals[k][e]
				}
				step(r, t, v)
				vals[0][e] = v[0]
				for k := 2; k < groups; k++ {
					vals[k][e] = v[k]
				}
			}
			// Outputs: X_new..., then each state group.
			for k, src := range append([]int{0}, seq(2, groups)...) {
				o, err := tensorFromFloat64s(ctx, in[2+src*n+i].DType, x.Shape, vals[src])
				if err != nil {
					return nil, err
				}
				outs[k*n+i] = o
			}
		}
		return outs, nil
	}
}

func seq(lo, hi int) []int {
	var s []int
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}

func adagradBuilder(b *Build) (Kernel, error) {
	decay, eps, norm := float64(b.Float("decay_factor", 0)), float64(b.Float("epsilon", 0)), float64(b.Float("norm_coefficient", 0))
	return optimizerKernel(3, func(r float64, t int64, v []float64) {
		x, g, h := v[0], v[1], v[2]
		rr := r / (1 + float64(t)*decay)
		gr := norm*x + g
		h += gr * gr
		v[0] = x - rr*gr/(math.Sqrt(h)+eps)
		v[2] = h
	}), nil
}

func adamBuilder(b *Build) (Kernel, error) {
	alpha, beta := float64(b.Float("alpha", 0.9)), float64(b.Float("beta", 0.999))
	eps, norm, post := float64(b.Float("epsilon", 0)), float64(b.Float("norm_coefficient", 0)), float64(b.Float("norm_coefficient_post", 0))
	return optimizerKernel(4, func(r float64, t int64, v []float64) {
		x, g, m, h := v[0], v[1], v[2], v[3]
		gr := norm*x + g
		m = alpha*m + (1-alpha)*gr
		h = beta*h + (1-beta)*gr*gr
		ra := r
		if t > 0 {
			ra = r * math.Sqrt(1-math.Pow(beta, float64(t))) / (1 - math.Pow(alpha, float64(t)))
		}
		xn := x - ra*m/(math.Sqrt(h)+eps)
		v[0], v[2], v[3] = (1-post)*xn, m, h
	}), nil
}

func momentumBuilder(b *Build) (Kernel, error) {
	alpha, beta, norm := float64(b.Float("alpha", 0)), float64(b.Float("beta", 0)), float64(b.Float("norm_coefficient", 0))
	mode := b.String("mode", "standard")
	if mode != "standard" && mode != "nesterov" {
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	return optimizerKernel(3, func(r float64, t int64, v []float64) {
		x, g, m := v[0], v[1], v[2]
		gr := norm*x + g
		ba := beta
		if t <= 0 {
			ba = 1
		}
		m = alpha*m + ba*gr
		if mode == "nesterov" {
			v[0] = x - r*(gr+alpha*m)
		} else {
			v[0] = x - r*m
		}
		v[2] = m
	}), nil
}

// ---- Gradient ----

// gradGraph is the part of the enclosing graph between xs/zs and y.
type gradGraph struct {
	xs, zs []string
	y      string
	nodes  []*onnx.Node // in topological order
	opset  int64        // the model's ai.onnx opset
}

func gradientBuilder(b *Build) (Kernel, error) {
	strs := func(name string) []string {
		var out []string
		if a := b.Node.Attr(name); a != nil {
			for _, s := range a.Strings {
				out = append(out, string(s))
			}
		}
		return out
	}
	gg := &gradGraph{xs: strs("xs"), zs: strs("zs"), y: b.String("y", "")}
	g := b.Node.Graph
	if g == nil || gg.y == "" || len(gg.xs) == 0 {
		return nil, fmt.Errorf("the attributes xs and y are required")
	}
	if b.c != nil && b.c.model != nil {
		gg.opset = b.c.model.Opset("")
	}
	leaf := map[string]bool{}
	for _, s := range append(append([]string{}, gg.xs...), gg.zs...) {
		leaf[s] = true
	}
	// Nodes that y depends on, stopping at xs and zs.
	need := map[*onnx.Node]bool{}
	var visit func(name string)
	byName := map[string]*onnx.Value{}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs() {
			if v != nil {
				byName[v.Name] = v
			}
		}
	}
	visit = func(name string) {
		if leaf[name] {
			return
		}
		v := byName[name]
		if v == nil || v.Producer() == nil || need[v.Producer()] {
			return
		}
		p := v.Producer()
		need[p] = true
		for _, in := range p.Inputs() {
			if in != nil {
				visit(in.Name)
			}
		}
	}
	visit(gg.y)
	for _, n := range g.Nodes {
		if need[n] {
			if n.Domain != "" && n.Domain != "ai.onnx" {
				return nil, fmt.Errorf("cannot differentiate op %s of domain %s", n.OpType, n.Domain)
			}
			gg.nodes = append(gg.nodes, n)
		}
	}
	return gg.kernel, nil
}

func (gg *gradGraph) kernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if len(in) != len(gg.xs)+len(gg.zs) {
		return nil, fmt.Errorf("want %d inputs (xs then zs), got %d", len(gg.xs)+len(gg.zs), len(in))
	}
	vals := map[string]*Tensor{}
	for i, name := range append(append([]string{}, gg.xs...), gg.zs...) {
		if err := needTensor(in[i]); err != nil {
			return nil, fmt.Errorf("input %d (%s): %w", i, name, err)
		}
		vals[name] = in[i]
	}
	get := func(v *onnx.Value) (*Tensor, error) {
		if v == nil {
			return nil, nil
		}
		if t, ok := vals[v.Name]; ok {
			return t, nil
		}
		if v.Const != nil {
			return FromONNX(v.Const)
		}
		return nil, fmt.Errorf("y depends on %q, which is neither in xs nor zs", v.Name)
	}
	// Forward pass.
	for _, n := range gg.nodes {
		args := make([]*Tensor, len(n.Inputs()))
		for i, v := range n.Inputs() {
			t, err := get(v)
			if err != nil {
				return nil, err
			}
			args[i] = t
		}
		outs, err := EvalNode(n, gg.opset, args)
		if err != nil {
			return nil, err
		}
		for i, v := range n.Outputs() {
			if v != nil && i < len(outs) {
				vals[v.Name] = outs[i]
			}
		}
	}
	y := vals[gg.y]
	if y == nil {
		return nil, fmt.Errorf("y %q was not computed", gg.y)
	}
	// Backward pass in float64.
	grads := map[string][]float64{}
	seed := make([]float64, y.Len())
	for i := range seed {
		seed[i] = 1
	}
	grads[gg.y] = seed
	for i := len(gg.nodes) - 1; i >= 0; i-- {
		n := gg.nodes[i]
		out := n.Output(0)
		if out == nil || grads[out.Name] == nil {
			continue
		}
		if err := backprop(n, vals, grads); err != nil {
			return nil, err
		}
	}
	res := make([]*Tensor, len(gg.xs))
	for i, name := range gg.xs {
		x := vals[name]
		gv := grads[name]
		if gv == nil {
			gv = make([]float64, x.Len())
		}
		t, err := tensorFromFloat64s(ctx, x.DType, x.Shape, gv)
		if err != nil {
			return nil, err
		}
		res[i] = t
	}
	return res, nil
}

// unbroadcast sums a gradient of shape out down to shape in.
func unbroadcast(g []float64, out, in []int) []float64 {
	if fmt.Sprint(out) == fmt.Sprint(in) {
		return g
	}
	res := make([]float64, numElements(in))
	r := len(out)
	pos := make([]int, r)
	for i, v := range g {
		rem := i
		for k := r - 1; k >= 0; k-- {
			pos[k] = rem % out[k]
			rem /= out[k]
		}
		off := 0
		for k := range in {
			d := in[k]
			p := pos[r-len(in)+k]
			if d == 1 {
				p = 0
			}
			off = off*d + p
		}
		res[off] += v
	}
	return res
}

// backprop adds node n's input gradients from its output gradient.
func backprop(n *onnx.Node, vals map[string]*Tensor, grads map[string][]float64) error {
	out := n.Output(0)
	gy := grads[out.Name]
	yt := vals[out.Name]
	yv, err := numbersAsFloat64(yt)
	if err != nil {
		return err
	}
	ins := n.Inputs()
	xv := make([][]float64, len(ins))
	xt := make([]*Tensor, len(ins))
	for i, v := range ins {
		if v == nil {
			continue
		}
		t := vals[v.Name]
		if t == nil && v.Const != nil {
			if t, err = FromONNX(v.Const); err != nil {
				return err
			}
		}
		if t == nil {
			continue
		}
		xt[i] = t
		if xv[i], err = numbersAsFloat64(t); err != nil {
			return err
		}
	}
	// at reads input k at output element e under broadcasting.
	at := func(k, e int) float64 {
		t := xt[k]
		if t.Len() == 1 {
			return xv[k][0]
		}
		if t.Len() == len(gy) {
			return xv[k][e]
		}
		off, rem := 0, e
		stride := 1
		for d := len(yt.Shape) - 1; d >= 0; d-- {
			p := rem % yt.Shape[d]
			rem /= yt.Shape[d]
			kd := d - (len(yt.Shape) - t.Rank())
			if kd >= 0 && t.Shape[kd] != 1 {
				off += p * stride
			}
			if kd >= 0 {
				stride *= t.Shape[kd]
			}
		}
		return xv[k][off]
	}
	add := func(k int, local func(e int) float64) {
		if k >= len(ins) || ins[k] == nil || xt[k] == nil {
			return
		}
		g := make([]float64, len(gy))
		for e := range g {
			g[e] = gy[e] * local(e)
		}
		g = unbroadcast(g, yt.Shape, xt[k].Shape)
		name := ins[k].Name
		if prev := grads[name]; prev != nil {
			for i := range prev {
				prev[i] += g[i]
			}
		} else {
			grads[name] = append([]float64{}, g...)
		}
	}
	one := func(int) float64 { return 1 }
	switch n.OpType {
	case "Add", "Sum":
		for k := range ins {
			add(k, one)
		}
	case "Sub":
		add(0, one)
		add(1, func(int) float64 { return -1 })
	case "Mul":
		add(0, func(e int) float64 { return at(1, e) })
		add(1, func(e int) float64 { return at(0, e) })
	case "Div":
		add(0, func(e int) float64 { return 1 / at(1, e) })
		add(1, func(e int) float64 { b := at(1, e); return -at(0, e) / (b * b) })
	case "Neg":
		add(0, func(int) float64 { return -1 })
	case "Identity":
		add(0, one)
	case "Relu":
		add(0, func(e int) float64 {
			if at(0, e) > 0 {
				return 1
			}
			return 0
		})
	case "Sigmoid":
		add(0, func(e int) float64 { return yv[e] * (1 - yv[e]) })
	case "Tanh":
		add(0, func(e int) float64 { return 1 - yv[e]*yv[e] })
	case "Exp":
		add(0, func(e int) float64 { return yv[e] })
	case "Log":
		add(0, func(e int) float64 { return 1 / at(0, e) })
	case "Sqrt":
		add(0, func(e int) float64 { return 0.5 / yv[e] })
	default:
		return fmt.Errorf("cannot differentiate op %s", n.OpType)
	}
	return nil
}

func init() {
	Register(trainingDomain, "Adagrad", 1, adagradBuilder)
	Register(trainingDomain, "Adam", 1, adamBuilder)
	Register(trainingDomain, "Momentum", 1, momentumBuilder)
	Register(trainingDomain, "Gradient", 1, gradientBuilder)
}
