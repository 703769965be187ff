// Package grad differentiates an ONNX graph in reverse mode on concrete
// float32 inputs, for Taylor pruning (|activation · ∂loss/∂activation|).
//
// The graph is run forward in one interpreter session whose outputs are
// every value (node by node with interp.EvalNode as the fallback and for the
// finite-difference tests); then the gradient of a scalar loss flows back
// through the nodes that lie on a path from a requested tensor to the loss. Only those nodes need a
// backward rule (see Differentiable); every other node is only run forward.
// Gradients are accumulated in float64 and returned as float32.
//
// # Loss
//
// The loss is cross-entropy of log_softmax over the last axis of the chosen
// output, summed over every other position (the batch): with labels y,
// L = Σ_n −log softmax(z_n)[y_n]. The output is always treated as logits, even
// when the graph ends in a Softmax: log_softmax of probabilities keeps their
// order, so the top-1 and the sign pattern of the gradient stay; to
// differentiate the logits proper name the Softmax's input as Loss.Output
// (any node output may be named).
//
// Without labels the loss is cross-entropy against the model's own top-1
// prediction. Its gradient p − e_top1 is the one the labelled loss has on
// every sample the model classifies correctly, so on a trained model it is the
// labelled gradient on most samples; it is the pseudo-label (empirical Fisher)
// proxy of label-free Taylor/Fisher pruning, and unlike a squared norm of the
// output it measures how a change moves the model's decision, not its scale.
// It vanishes only where the model is fully confident.
package grad

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Loss says what is differentiated: a scalar summed over the batch.
type Loss struct {
	// Output is the graph output (or any node output) holding logits/scores
	// over its last axis; default: the first graph output.
	Output string
	// Labels is the class index of each sample (each position of Output
	// before its last axis); nil: cross-entropy against the model's own top-1.
	Labels []int64
}

// Gradients runs m forward on feeds, then backward from the loss, and returns
// the loss value and the gradient of the loss with respect to each named
// tensor in wrt (activations, i.e. node outputs, graph inputs, or
// initializers). An op without a backward rule on a path from a wrt tensor to
// the loss is an error naming the node and op; ops off those paths are only
// run forward. A tensor the loss does not depend on gets zeros. Feeds that
// are not graph inputs are ignored; weights that IR < 4 files list as inputs
// stay constants. Safe for concurrent use (m is only read).
func Gradients(m *onnx.Model, feeds map[string]*interp.Tensor, loss Loss, wrt []string) (float64, map[string]*interp.Tensor, error) {
	out := loss.Output
	if out == "" {
		if m == nil || m.Graph == nil || len(m.Graph.Outputs) == 0 {
			return 0, nil, fmt.Errorf("grad: the model has no graph output to take the loss of")
		}
		out = m.Graph.Outputs[0].Name
	}
	return run(m, feeds, nil, out, func(z *interp.Tensor) (float64, []float64, error) {
		return crossEntropy(z, loss.Labels, out)
	}, wrt)
}

// Differentiable reports whether op (default domain) has a backward rule.
func Differentiable(op string) bool {
	_, ok := rules[op]
	return ok
}

// Ops lists the ops with a backward rule, sorted.
func Ops() []string {
	var ops []string
	for op := range rules {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops
}

// lossFunc turns the loss output into the loss and its gradient.
type lossFunc func(z *interp.Tensor) (float64, []float64, error)

// call is one node's backward step: the forward values around it and the
// gradients that reach its outputs.
type call struct {
	n     *onnx.Node
	opset int64
	in    []*interp.Tensor // forward inputs; nil for omitted ones
	out   []*interp.Tensor // forward outputs
	dy    [][]float64      // gradient of each output; nil when none flows
	need  []bool           // inputs whose gradient is wanted
}

// rule computes the gradients of a node's inputs (nil entries: not needed or
// zero) from the gradients of its outputs, each in a fresh slice (the engine
// keeps and accumulates into it).
type rule func(c *call) ([][]float64, error)

// rules is the registry op type → backward rule (default domain).
var rules = map[string]rule{}

func register(r rule, ops ...string) {
	for _, op := range ops {
		rules[op] = r
	}
}

// forward runs the main graph of m node by node and returns every value;
// override replaces named values (inputs, initializers or node outputs) as
// soon as they are defined, which the finite-difference tests use.
func forward(m *onnx.Model, feeds, override map[string]*interp.Tensor) (map[*onnx.Value]*interp.Tensor, error) {
	if m == nil || m.Graph == nil {
		return nil, fmt.Errorf("grad: no model graph")
	}
	g := m.Graph
	vals := map[*onnx.Value]*interp.Tensor{}
	set := func(v *onnx.Value, t *interp.Tensor) {
		if o, ok := override[v.Name]; ok {
			t = o
		}
		vals[v] = t
	}
	for _, v := range g.Initializers {
		t, err := interp.FromONNX(v.Const)
		if err != nil {
			return nil, fmt.Errorf("grad: initializer %s: %w", v.Name, err)
		}
		set(v, t)
	}
	for _, v := range g.Inputs {
		if t, ok := feeds[v.Name]; ok && (v.Const == nil || !g.LegacyInitializerInputs) {
			set(v, t)
			continue
		}
		if _, ok := vals[v]; !ok {
			return nil, fmt.Errorf("grad: no feed for graph input %s", v.Name)
		}
	}
	for _, n := range g.Nodes {
		ins := make([]*interp.Tensor, len(n.Inputs()))
		for i, v := range n.Inputs() {
			if v == nil || v.Name == "" {
				continue
			}
			t, ok := vals[v]
			if !ok {
				return nil, fmt.Errorf("grad: %s reads %s before it is computed (graph not in topological order or value from an outer graph)", onnx.NodePlace(n), v.Name)
			}
			ins[i] = t
		}
		outs, err := interp.EvalNode(n, m.Opset(n.Domain), ins)
		if err != nil {
			return nil, fmt.Errorf("grad: forward: %w", err)
		}
		for i, v := range n.Outputs() {
			if v == nil || v.Name == "" || i >= len(outs) {
				continue
			}
			set(v, outs[i])
		}
	}
	return vals, nil
}

// forwardSession runs a copy of m whose graph outputs are every value of the
// main graph in one interpreter session (compiled kernels, prepacked weights,
// subgraphs that read outer values), and returns the values of m by name.
func forwardSession(m *onnx.Model, feeds map[string]*interp.Tensor) (map[*onnx.Value]*interp.Tensor, error) {
	cp := m.Clone()
	g := cp.Graph
	g.Outputs = nil
	for _, n := range g.Nodes {
		for _, v := range n.Outputs() {
			if v != nil && v.Name != "" {
				g.Outputs = append(g.Outputs, v)
			}
		}
	}
	s, err := interp.NewSession(cp, interp.Options{})
	if err != nil {
		return nil, fmt.Errorf("grad: forward: %w", err)
	}
	in := map[string]*interp.Tensor{}
	for _, v := range g.Inputs {
		// IR < 4 lists weights as inputs: they stay constants (as in ORT).
		if t, ok := feeds[v.Name]; ok && (v.Const == nil || !g.LegacyInitializerInputs) {
			in[v.Name] = t
		}
	}
	outs, err := s.Run(in)
	if err != nil {
		return nil, fmt.Errorf("grad: forward: %w", err)
	}
	byName := map[string]*interp.Tensor{}
	for i, v := range g.Outputs {
		byName[v.Name] = outs[i]
	}
	vals := map[*onnx.Value]*interp.Tensor{}
	for _, v := range m.Graph.Initializers {
		t, err := interp.FromONNX(v.Const)
		if err != nil {
			return nil, fmt.Errorf("grad: initializer %s: %w", v.Name, err)
		}
		vals[v] = t
	}
	for _, v := range m.Graph.Inputs {
		if t, ok := in[v.Name]; ok && (v.Const == nil || !m.Graph.LegacyInitializerInputs) {
			vals[v] = t
		} else if _, ok := vals[v]; !ok {
			return nil, fmt.Errorf("grad: no feed for graph input %s", v.Name)
		}
	}
	for _, n := range m.Graph.Nodes {
		for _, v := range n.Outputs() {
			if v != nil && v.Name != "" {
				vals[v] = byName[v.Name]
			}
		}
	}
	return vals, nil
}

// values maps every value name of the main graph to its value.
func values(g *onnx.Graph) map[string]*onnx.Value {
	byName := map[string]*onnx.Value{}
	for _, v := range g.Initializers {
		byName[v.Name] = v
	}
	for _, v := range g.Inputs {
		byName[v.Name] = v
	}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs() {
			if v != nil && v.Name != "" {
				byName[v.Name] = v
			}
		}
	}
	return byName
}

// run is Gradients with any loss function of the tensor named out.
func run(m *onnx.Model, feeds map[string]*interp.Tensor, override map[string]*interp.Tensor, out string, lf lossFunc, wrt []string) (float64, map[string]*interp.Tensor, error) {
	if m == nil || m.Graph == nil {
		return 0, nil, fmt.Errorf("grad: no model graph")
	}
	g := m.Graph
	byName := values(g)
	lv := byName[out]
	if lv == nil {
		return 0, nil, fmt.Errorf("grad: loss output %q is not a value of the graph", out)
	}
	var targets []*onnx.Value
	var err error
	for _, name := range wrt {
		v := byName[name]
		if v == nil {
			return 0, nil, fmt.Errorf("grad: tensor %q to differentiate with respect to is not in the graph", name)
		}
		targets = append(targets, v)
	}
	var vals map[*onnx.Value]*interp.Tensor
	if override == nil {
		vals, err = forwardSession(m, feeds)
	}
	if vals == nil {
		var err2 error
		if vals, err2 = forward(m, feeds, override); err2 != nil {
			if err != nil {
				return 0, nil, err // the session's error: it runs more models
			}
			return 0, nil, err2
		}
	}
	for _, v := range targets {
		if t := vals[v]; t == nil || t.Kind != interp.KindTensor || t.DType != onnx.Float {
			return 0, nil, fmt.Errorf("grad: tensor %s is not a float32 tensor", v.Name)
		}
	}
	z := vals[lv]
	if z == nil || z.Kind != interp.KindTensor || z.DType != onnx.Float {
		return 0, nil, fmt.Errorf("grad: loss output %s is not a float32 tensor", out)
	}
	L, dz, err := lf(z)
	if err != nil {
		return 0, nil, err
	}

	// Values that depend on a target (through float tensors) and reach the loss.
	dep := map[*onnx.Value]bool{}
	for _, v := range targets {
		dep[v] = true
	}
	isFloat := func(v *onnx.Value) bool {
		t := vals[v]
		return t != nil && t.Kind == interp.KindTensor && t.DType == onnx.Float
	}
	for _, n := range g.Nodes {
		on := false
		for _, v := range n.Inputs() {
			if v != nil && dep[v] {
				on = true
			}
		}
		if !on {
			continue
		}
		for _, v := range n.Outputs() {
			if v != nil && isFloat(v) {
				dep[v] = true
			}
		}
	}
	reach := map[*onnx.Value]bool{lv: true}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		on := false
		for _, v := range n.Outputs() {
			if v != nil && reach[v] {
				on = true
			}
		}
		if on {
			for _, v := range n.Inputs() {
				if v != nil {
					reach[v] = true
				}
			}
		}
	}
	need := func(v *onnx.Value) bool { return v != nil && dep[v] && reach[v] }

	grads := map[*onnx.Value][]float64{}
	if need(lv) {
		grads[lv] = dz
	}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		c := &call{n: n, opset: m.Opset(n.Domain)}
		any := false
		for _, v := range n.Outputs() {
			var d []float64
			if need(v) {
				d = grads[v]
				if d != nil {
					any = true
				}
			}
			c.dy = append(c.dy, d)
			c.out = append(c.out, vals[v])
		}
		if !any {
			continue
		}
		wanted := false
		for _, v := range n.Inputs() {
			c.need = append(c.need, need(v))
			c.in = append(c.in, vals[v])
			wanted = wanted || need(v)
		}
		if !wanted {
			continue // the gradient stops here: no input depends on a wrt tensor
		}
		r, ok := rules[n.OpType]
		if !ok || (n.Domain != "" && n.Domain != "ai.onnx") {
			return 0, nil, fmt.Errorf("grad: %s: op %s has no backward rule, and it lies between %s and the loss", onnx.NodePlace(n), opName(n), listNames(wrt))
		}
		dx, err := safe(r, c)
		if err != nil {
			return 0, nil, fmt.Errorf("grad: %s backward: %w", onnx.NodePlace(n), err)
		}
		for j, v := range n.Inputs() {
			if j >= len(dx) || dx[j] == nil || !c.need[j] {
				continue
			}
			if len(dx[j]) != vals[v].Len() {
				return 0, nil, fmt.Errorf("grad: %s backward: gradient of input %d has %d elements, want %d", onnx.NodePlace(n), j, len(dx[j]), vals[v].Len())
			}
			if acc := grads[v]; acc != nil {
				for k, x := range dx[j] {
					acc[k] += x
				}
			} else {
				grads[v] = dx[j] // rules return fresh slices: no copy needed
			}
		}
	}
	res := map[string]*interp.Tensor{}
	for _, v := range targets {
		t := vals[v]
		d := make([]float32, t.Len())
		for k, x := range grads[v] {
			d[k] = float32(x)
		}
		res[v.Name] = interp.FromSlice(onnx.Float, append([]int(nil), t.Shape...), d)
	}
	return L, res, nil
}

// safe runs a rule, turning an index panic on a malformed node into an error.
func safe(r rule, c *call) (dx [][]float64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return r(c)
}

// listNames joins up to three names and counts the rest.
func listNames(names []string) string {
	if len(names) <= 3 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s (and %d more)", strings.Join(names[:3], ", "), len(names)-3)
}

func opName(n *onnx.Node) string {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return n.Domain + "." + n.OpType
	}
	return n.OpType
}

// crossEntropy is Σ_n −log softmax(z_n)[label_n] over the last axis of z and
// its gradient softmax(z_n) − onehot(label_n); labels nil: each row's argmax.
func crossEntropy(z *interp.Tensor, labels []int64, name string) (float64, []float64, error) {
	x := z.Floats()
	if z.Rank() == 0 || z.Shape[z.Rank()-1] == 0 {
		return 0, nil, fmt.Errorf("grad: loss output %s has shape %v: no class axis", name, z.Shape)
	}
	C := z.Shape[z.Rank()-1]
	N := len(x) / C
	if labels != nil && len(labels) != N {
		return 0, nil, fmt.Errorf("grad: %d labels for %d samples of output %s (shape %v)", len(labels), N, name, z.Shape)
	}
	var L float64
	d := make([]float64, len(x))
	for n := 0; n < N; n++ {
		row := x[n*C : (n+1)*C]
		mx := math.Inf(-1)
		top := 0
		for c, v := range row {
			if float64(v) > mx {
				mx, top = float64(v), c
			}
		}
		y := top
		if labels != nil {
			if labels[n] < 0 || labels[n] >= int64(C) {
				return 0, nil, fmt.Errorf("grad: label %d of sample %d is outside the %d classes of output %s", labels[n], n, C, name)
			}
			y = int(labels[n])
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(s)
		L += lse - float64(row[y])
		for c, v := range row {
			d[n*C+c] = math.Exp(float64(v) - lse)
		}
		d[n*C+y]--
	}
	if math.IsNaN(L) || math.IsInf(L, 0) {
		return 0, nil, fmt.Errorf("grad: loss of output %s is not finite", name)
	}
	return L, d, nil
}
