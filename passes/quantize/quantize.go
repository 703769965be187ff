// Package quantize is the "quantize" pass: calibrated static int8 QDQ
// (ONNX Runtime or TensorRT conventions), weight-only int8 and blocked int4,
// binary weights and float16. After rewriting it measures each quantized
// layer's output against the float model on the calibration data, so users
// see which layer costs accuracy (and can exclude it).
package quantize

import (
	"fmt"
	"math"
	"strconv"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

func init() {
	passes.Register(&passes.Pass{
		Name:  "quantize",
		Doc:   "int8 QDQ with calibration, weight-only int8/int4, binary weights or float16",
		Lossy: true,
		Options: []passes.Option{
			{Name: "mode", Kind: passes.OptEnum, Default: "int8", Enum: []string{"int8", "int8-weights", "int4", "binary", "fp16"},
				Doc: "int8: static QDQ of weights and activations; int8-weights/int4/binary: weights only; fp16: float16 weights and compute"},
			{Name: "calib", Kind: passes.OptString, Default: "", Doc: "calibration data folder (empty: the CLI's --inputs folder, else seeded random inputs, poor scales)"},
			{Name: "method", Kind: passes.OptEnum, Default: "mse", Enum: []string{"mse", "minmax", "percentile", "entropy"},
				Doc: "activation range calibration; mse: the range with the least quantization error (rounding + clipping) on the histogram"},
			{Name: "percentile", Kind: passes.OptFloat, Default: "99.99", Doc: "percentile kept by method=percentile"},
			{Name: "samples", Kind: passes.OptInt, Default: "0", Doc: "max calibration samples (0: the whole folder, or 64 seeded random inputs)"},
			{Name: "exclude", Kind: passes.OptList, Default: "", Doc: "node names or op types left in float"},
			{Name: "per_channel", Kind: passes.OptBool, Default: "true", Doc: "one weight scale per output channel (opset >= 13)"},
			{Name: "symmetric", Kind: passes.OptEnum, Default: "auto", Enum: []string{"auto", "true", "false"},
				Doc: "activations: int8 with zero point 0 (true) or uint8 with a zero point (false); auto: false for ort, true for tensorrt"},
			{Name: "target", Kind: passes.OptEnum, Default: "ort", Enum: []string{"ort", "tensorrt"}, Doc: "QDQ conventions of the runtime"},
			{Name: "block", Kind: passes.OptEnum, Default: "32", Enum: []string{"16", "32", "64", "128"}, Doc: "int4 block size along the reduction axis"},
			{Name: "reduce_range", Kind: passes.OptBool, Default: "false",
				Doc: "mode=int8: 7-bit weights ([-64, 64]) so that ONNX Runtime's u8s8 int8 kernels on x86 CPUs without VNNI (AVX2, AVX-512 without VNNI), whose paired products saturate at 16 bits, compute what the QDQ model says; costs weight precision"},
			{Name: "bias_correction", Kind: passes.OptBool, Default: "true",
				Doc: "mode=int8: add (W−Wq)·E[x] to each Conv/Gemm bias so weight rounding does not shift the mean output"},
			{Name: "report", Kind: passes.OptInt, Default: "8", Doc: "samples for the per-layer error report (0: none)"},
			{Name: "min_cosine", Kind: passes.OptFloat, Default: "0",
				Doc: "mode=int8: accuracy-aware fallback; while the outputs' cosine with the float model on the calibration samples (the first 64) is below this, leave the most harmful activations in float (weights stay int8); 0: off. Not taken from the CLI's --min-cosine, which checks the whole pipeline on the verification inputs"},
			{Name: "max_fallback", Kind: passes.OptInt, Default: "16", Doc: "most activations min_cosine may leave in float (0: no limit)"},
		},
		Requires: []*passes.Analysis{passes.Shapes},
		Run:      run,
	})
}

// config is the parsed options.
type config struct {
	mode, calib, method, target string
	percentile                  float64
	samples, block, report      int
	minCosine                   float64
	maxFallback                 int
	exclude                     map[string]bool
	perChannel, symmetric       bool
	biasCorrection, reduceRange bool
}

func parseConfig(c *passes.Context) (*config, error) {
	o := c.Options
	cfg := &config{
		mode: o.String("mode"), calib: o.String("calib"), method: o.String("method"), target: o.String("target"),
		percentile: o.Float("percentile"), samples: int(o.Int("samples")), report: int(o.Int("report")),
		perChannel: o.Bool("per_channel"), biasCorrection: o.Bool("bias_correction"), reduceRange: o.Bool("reduce_range"), exclude: map[string]bool{},
		minCosine: o.Float("min_cosine"), maxFallback: int(o.Int("max_fallback")),
	}
	cfg.block, _ = strconv.Atoi(o.String("block"))
	for _, e := range o.List("exclude") {
		cfg.exclude[e] = true
	}
	if cfg.percentile <= 50 || cfg.percentile > 100 {
		return nil, fmt.Errorf("percentile=%g: must be in (50, 100]", cfg.percentile)
	}
	if cfg.minCosine < 0 || cfg.minCosine > 1 {
		return nil, fmt.Errorf("min_cosine=%g: must be in [0, 1]", cfg.minCosine)
	}
	if cfg.maxFallback < 0 {
		return nil, fmt.Errorf("max_fallback=%d: must be at least 0", cfg.maxFallback)
	}
	if cfg.minCosine > 0 && cfg.mode != "int8" {
		c.Logf("min_cosine applies to mode=int8 (it leaves activations in float); ignored for mode=%s", cfg.mode)
		cfg.minCosine = 0
	}
	switch o.String("symmetric") {
	case "true":
		cfg.symmetric = true
	case "auto":
		cfg.symmetric = cfg.target == "tensorrt"
	}
	if cfg.target == "tensorrt" {
		if !cfg.symmetric {
			c.Logf("target=tensorrt: activations are symmetric int8 (TensorRT needs zero point 0); symmetric=false ignored")
			cfg.symmetric = true
		}
		if !cfg.perChannel {
			c.Logf("target=tensorrt: weights stay per-channel (TensorRT's rule); per_channel=false ignored")
			cfg.perChannel = true
		}
	}
	return cfg, nil
}

func (cfg *config) excluded(n *onnx.Node) bool {
	return cfg.exclude[n.Name] || cfg.exclude[n.OpType]
}

func run(c *passes.Context, m *onnx.Model) (int, error) {
	cfg, err := parseConfig(c)
	if err != nil {
		return 0, err
	}
	weightOnly := cfg.mode == "int8-weights" || cfg.mode == "int4" || cfg.mode == "binary"
	lifted := passes.WeightsToInitializers(c, m, weightOnly) // those reach into subgraphs
	n, err := quantize(c, m, cfg)
	return lifted + n, err
}

func quantize(c *passes.Context, m *onnx.Model, cfg *config) (int, error) {
	q := &quantizer{c: c, m: m, g: m.Graph, cfg: cfg, dq: map[dqKey]*onnx.Value{}}
	noteFusedContrib(c, m)
	// The float model, kept for the fallback and the per-layer error report.
	var float *onnx.Model
	if cfg.report > 0 || cfg.minCosine > 0 {
		float = m.Clone()
	}
	var n int
	var err error
	switch cfg.mode {
	case "int8":
		n, err = q.static()
	case "int8-weights", "int4", "binary":
		n, err = q.weightsOnly()
	case "fp16":
		n, err = q.fp16()
	}
	if err != nil || n == 0 {
		return n, err
	}
	var sortErr error
	m.Graph.Walk(func(g *onnx.Graph) { // a subgraph's weights get their DequantizeLinear there
		if err := g.TopoSort(); err != nil && sortErr == nil {
			sortErr = err
		}
	})
	if sortErr != nil {
		return n, fmt.Errorf("after quantizing: %w", sortErr)
	}
	// The fallback comes first, so that the report describes the model
	// that is written.
	var fb *Fallback
	if cfg.minCosine > 0 && len(q.acts) > 0 {
		if fb, err = q.fallback(float); err != nil {
			// The user asked for a bound the pass cannot check: fail.
			return n, fmt.Errorf("min_cosine=%g: %w", cfg.minCosine, err)
		}
	}
	if cfg.report > 0 && len(q.layers) > 0 {
		rep, err := layerReport(c, float, m, q.layers, cfg)
		if err != nil {
			// The report is advice: a failure to produce it does not undo
			// the quantization, but the user hears about it.
			c.Logf("per-layer error report failed: %v", err)
		} else {
			rep.Fallback, fb = fb, nil
			rep.Calibration = q.origin
			rep.log(c)
			c.Detail(rep)
		}
	}
	if fb != nil { // no per-layer report: the fallback alone
		rep := &Report{Mode: cfg.mode, Target: cfg.target, Method: methodText(cfg), Calibration: q.origin, Fallback: fb}
		c.Detail(rep)
	}
	return n, nil
}

// quantizer holds the state of one run of the pass.
type quantizer struct {
	c   *passes.Context
	m   *onnx.Model
	g   *onnx.Graph
	cfg *config
	// dq caches the DequantizeLinear output of each quantized weight.
	dq map[dqKey]*onnx.Value
	// layers are the outputs the report compares, in graph order.
	layers []layer
	// acts are the activations that got a Q/DQ pair (mode=int8).
	acts []*onnx.Value
	// origin says what calibrated the activations (mode=int8).
	origin string
}

type dqKey struct {
	w    *onnx.Value
	axis int
}

// layer names a quantized node's output in the float and quantized models.
type layer struct {
	node, op string
	float    string      // tensor name in the float model
	quant    *onnx.Value // the same tensor in the quantized model (read its name late: rewrites may rename it)
}

func (q *quantizer) addLayer(n *onnx.Node) {
	if out := n.Output(0); out != nil && n.Graph == q.g { // the report reads main-graph tensors
		q.layers = append(q.layers, layer{node: n.Name, op: n.OpType, float: out.Name, quant: out})
	}
}

// graphs is where q.weights looks: the main graph, and for the weight-only
// modes its subgraphs too (If branches, Loop and Scan bodies: Silero VAD
// keeps all its layers in If branches).
func (q *quantizer) graphs(weightOnly bool) []*onnx.Graph {
	if !weightOnly {
		return []*onnx.Graph{q.g}
	}
	var gs []*onnx.Graph
	q.g.Walk(func(g *onnx.Graph) { gs = append(gs, g) })
	return gs
}

// computedRecurrentWeights counts the W and R inputs of the recurrent ops
// (main graph and subgraphs) that a node computes instead of holding.
func (q *quantizer) computedRecurrentWeights() int {
	n := 0
	for _, g := range q.graphs(true) {
		for _, nd := range g.Nodes {
			if !isRecurrent(nd) {
				continue
			}
			for _, in := range []int{1, 2} {
				if v := nd.Input(in); v != nil && passes.ConstTensor(v) == nil && v.Producer() != nil {
					n++
				}
			}
		}
	}
	return n
}

// ensureOpset raises the opset to want when the model is below it, saying so.
func (q *quantizer) ensureOpset(want int64, why string) error {
	have := q.m.Opset("")
	if have >= want {
		return nil
	}
	if err := raiseOpset(q.m, want); err != nil {
		return err
	}
	q.c.Logf("raised the ai.onnx opset from %d to %d: %s", have, want, why)
	return nil
}

// weights are the layers to quantize: the nodes not excluded whose weight
// weightOf recognises, in graph order.
func (q *quantizer) weights(weightOnly bool) []*weighted {
	var ws []*weighted
	for _, g := range q.graphs(weightOnly) {
		for _, n := range g.Nodes {
			if q.cfg.excluded(n) {
				continue
			}
			if w, ok := weightOf(n); ok {
				ws = append(ws, w)
			} else if weightOnly {
				ws = append(ws, recurrentWeights(n)...)
			}
		}
	}
	return ws
}

// halfWeightsNote says, when layers of the main graph have float16 or
// bfloat16 constant weights, that the pass quantizes from float32.
func (q *quantizer) halfWeightsNote() string {
	n := 0
	for _, node := range q.g.Nodes {
		if !weightedOps[node.OpType] || node.Domain != "" {
			continue
		}
		if t := passes.ConstTensor(node.Input(1)); t != nil && (t.DataType == onnx.Float16 || t.DataType == onnx.BFloat16) {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(": %d layers have float16 weights, and quantization starts from float32 ones — quantize the float32 model", n)
}

// static is mode=int8: per-channel int8 weights and calibrated Q/DQ pairs
// on the activations.
func (q *quantizer) static() (int, error) {
	c, cfg := q.c, q.cfg
	if len(q.weights(false)) == 0 { // and the opset stays
		c.Logf("nothing to quantize (no Conv, ConvTranspose, Gemm or MatMul with float32 constant weights)%s", q.halfWeightsNote())
		return 0, nil
	}
	if err := q.ensureOpset(13, "per-channel QuantizeLinear/DequantizeLinear (axis) needs opset 13"); err != nil {
		if !cfg.perChannel && q.m.Opset("") >= 10 {
			c.Logf("opset %d kept: %v", q.m.Opset(""), err)
		} else if q.m.Opset("") >= 10 {
			c.Logf("per-tensor weight scales: cannot raise the opset to 13 (%v)", err)
			cfg.perChannel = false
		} else {
			return 0, fmt.Errorf("int8 QDQ needs opset 10 at least and the model's opset %d cannot be raised: %w", q.m.Opset(""), err)
		}
	}
	p := q.plan()
	names := make([]string, len(p.acts))
	for i, t := range p.acts {
		names[i] = t.Name
	}
	// Bias correction needs each weighted layer's mean input per channel.
	chanAxis := map[string]int{}
	if cfg.biasCorrection {
		inActs := map[string]bool{}
		for _, n := range names {
			inActs[n] = true
		}
		for _, w := range p.weighted {
			if a := inputChannelAxis(w); a >= 0 && w.biasOK {
				in := w.node.Input(0).Name
				chanAxis[in] = a
				if !inActs[in] {
					inActs[in] = true
					names = append(names, in)
				}
			}
		}
	}
	stats, samples, origin, err := calibrate(c, q.m, names, chanAxis, cfg)
	if err != nil {
		return 0, err
	}
	q.origin = origin
	c.Logf("calibrated %d activations on %s, %d read (%s)", len(names), origin, samples, methodText(cfg))
	if cfg.calib == "" && c.Inputs == "" {
		c.Logf("warning: no calib= folder or --inputs: calibrated on seeded random inputs; activation scales will be poor for real data")
	}
	params := map[*onnx.Value]qparams{}
	for _, t := range p.acts {
		lo, hi := stats[t.Name].rangeFor(cfg.method, cfg.percentile, cfg.symmetric)
		params[t] = paramsFor(lo, hi, cfg.symmetric)
	}
	// Ops that only move values (MaxPool) share their input's parameters, so
	// ONNX Runtime can drop their Q/DQ pair.
	for out, in := range p.share {
		if pi, ok := params[in]; ok {
			params[out] = pi
		}
	}
	rewrites := 0
	for _, w := range p.weighted {
		if !c.Allow() {
			break
		}
		var xp *qparams
		if pi, ok := params[w.node.Input(0)]; ok && cfg.target == "ort" {
			xp = &pi
		}
		var mean []float64
		if _, ok := chanAxis[w.node.Input(0).Name]; ok {
			mean = stats[w.node.Input(0).Name].channelMeans()
		}
		if err := q.int8Weight(w, xp, mean); err != nil {
			return rewrites, err
		}
		q.addLayer(w.node)
		rewrites++
	}
	for _, t := range p.acts {
		if !c.Allow() {
			break
		}
		uses := p.uses[t]
		if cfg.target == "tensorrt" {
			for _, u := range uses {
				q.insertQDQ(t, params[t], []onnx.Use{u})
			}
		} else {
			q.insertQDQ(t, params[t], t.Uses())
		}
		q.acts = append(q.acts, t)
		rewrites++
	}
	c.Logf("int8 QDQ (%s): %d weighted nodes, %d activations", cfg.target, len(p.weighted), len(p.acts))
	return rewrites, nil
}

func methodText(cfg *config) string {
	if cfg.method == "percentile" {
		return fmt.Sprintf("percentile %g", cfg.percentile)
	}
	return cfg.method
}

// plan is what mode=int8 will quantize.
type plan struct {
	weighted []*weighted
	acts     []*onnx.Value               // activations that get Q/DQ, in graph order
	uses     map[*onnx.Value][]onnx.Use  // tensorrt: the inputs that get a dedicated pair
	share    map[*onnx.Value]*onnx.Value // output → input whose parameters it reuses
}

// passThrough ops are quantized on their inputs and outputs when they sit
// between quantized layers (ONNX Runtime runs them in int8).
var passThrough = map[string]bool{"MaxPool": true, "AveragePool": true, "GlobalAveragePool": true, "Concat": true, "Add": true}

// sameScale ops select or move values: their output keeps the input's scale.
var sameScale = map[string]bool{"MaxPool": true}

func (q *quantizer) plan() *plan {
	cfg := q.cfg
	p := &plan{uses: map[*onnx.Value][]onnx.Use{}, share: map[*onnx.Value]*onnx.Value{}}
	set := map[*onnx.Value]bool{}
	mark := func(v *onnx.Value) bool {
		if !isFloatAct(v) || v.IsGraphOutput() || v.Graph() != q.g {
			return false
		}
		set[v] = true
		return true
	}
	isW := map[*onnx.Node]*weighted{}
	p.weighted = q.weights(false)
	for _, w := range p.weighted {
		isW[w.node] = w
	}
	// residual reports whether n adds two activations.
	residual := func(n *onnx.Node) bool {
		return n.OpType == "Add" && n.Domain == "" && len(n.Inputs()) == 2 && isFloatAct(n.Input(0)) && isFloatAct(n.Input(1))
	}
	if cfg.target == "tensorrt" {
		// TensorRT: Q/DQ on the inputs of weighted layers, one pair per
		// consumer, and on the residual input of an Add so it can fuse the
		// Add into the preceding layer.
		for _, n := range q.g.Nodes {
			if cfg.excluded(n) {
				continue
			}
			var ins []int
			switch {
			case isW[n] != nil:
				ins = []int{0}
			case n.OpType == "MatMul" && n.Domain == "" && isFloatAct(n.Input(0)) && isFloatAct(n.Input(1)):
				ins = []int{0, 1}
			case residual(n):
				fusable := func(v *onnx.Value) bool { return isW[v.Producer()] != nil && v.NumUses() == 1 }
				switch {
				case fusable(n.Input(0)):
					ins = []int{1}
				case fusable(n.Input(1)):
					ins = []int{0}
				default:
					ins = []int{0, 1}
				}
			}
			for _, i := range ins {
				if v := n.Input(i); mark(v) {
					p.uses[v] = append(p.uses[v], onnx.Use{Node: n, Index: i})
				}
			}
		}
	} else {
		// ONNX Runtime: quantize each tensor once, on the inputs and outputs
		// of weighted layers and of the ops between them; a Relu or Clip
		// after a layer is folded into its range (the output of the
		// activation is quantized, not the layer's).
		for _, n := range q.g.Nodes {
			if cfg.excluded(n) || n.Domain != "" {
				continue
			}
			switch {
			case isW[n] != nil:
				mark(n.Input(0))
			case n.OpType == "MatMul" && isFloatAct(n.Input(0)) && isFloatAct(n.Input(1)):
				mark(n.Input(0))
				mark(n.Input(1))
			case passThrough[n.OpType] && (n.OpType != "Add" || residual(n)):
				if !q.nearQuantized(n, isW) {
					continue
				}
				for _, in := range n.Inputs() {
					mark(in)
				}
			default:
				continue
			}
			out := n.Output(0)
			if out == nil {
				continue
			}
			if cs := out.Consumers(); len(cs) == 1 && !out.IsGraphOutput() && isActivation(cs[0]) && !cfg.excluded(cs[0]) {
				out = cs[0].Output(0)
			}
			if mark(out) && sameScale[n.OpType] {
				p.share[out] = n.Input(0)
			}
		}
	}
	for _, v := range q.g.Values() {
		if set[v] {
			p.acts = append(p.acts, v)
		}
	}
	return p
}

// nearQuantized reports whether a pass-through op reads or feeds a weighted
// layer within a few hops, so that isolated float regions stay float.
func (q *quantizer) nearQuantized(n *onnx.Node, isW map[*onnx.Node]*weighted) bool {
	const hops = 4
	seen := map[*onnx.Node]bool{}
	var up func(n *onnx.Node, d int) bool
	up = func(n *onnx.Node, d int) bool {
		if n == nil || d > hops || seen[n] {
			return false
		}
		seen[n] = true
		if isW[n] != nil {
			return true
		}
		for _, in := range n.Inputs() {
			if in != nil && up(in.Producer(), d+1) {
				return true
			}
		}
		return false
	}
	return up(n, 0)
}

// isActivation reports whether n is a Relu or a Clip with constant bounds,
// whose range the preceding layer's output quantization absorbs.
func isActivation(n *onnx.Node) bool {
	if n.Domain != "" {
		return false
	}
	switch n.OpType {
	case "Relu":
		return true
	case "Clip":
		for _, in := range n.Inputs()[1:] {
			if in != nil && passes.ConstTensor(in) == nil {
				return false
			}
		}
		return true
	}
	return false
}

// insertQDQ adds QuantizeLinear→DequantizeLinear on t and makes the given
// uses read the dequantized value.
func (q *quantizer) insertQDQ(t *onnx.Value, p qparams, uses []onnx.Use) {
	g, m := q.g, q.m
	scale := passes.AddConst(m, g, t.Name+"_scale", float32Tensor(nil, []float32{p.scale}))
	zp := passes.AddConst(m, g, t.Name+"_zero_point", zeroPoint(p.elem, nil, p.zp))
	qn := g.NewNode("QuantizeLinear", "", g.FreshName(t.Name+"_QuantizeLinear"), []*onnx.Value{t, scale, zp}, g.FreshName(t.Name+"_quantized"))
	dq := g.NewNode("DequantizeLinear", "", g.FreshName(t.Name+"_DequantizeLinear"), []*onnx.Value{qn.Output(0), scale, zp}, g.FreshName(t.Name+"_dequantized"))
	if t.Type != nil {
		qt := t.Type.Clone()
		qt.Elem = onnx.DataType(p.elem)
		qn.Output(0).Type = qt
		dq.Output(0).Type = t.Type.Clone()
	}
	g.Append(qn)
	g.Append(dq)
	for _, u := range uses {
		if u.Node != qn {
			u.Node.SetInput(u.Index, dq.Output(0))
		}
	}
}

// int8Weight replaces a layer's weight by int8 + DequantizeLinear and, for
// ONNX Runtime, its bias by int32 with scale x_scale·w_scale (xp non-nil).
// mean, the per-channel mean of the layer's input on the calibration data
// (nil: none), corrects the bias for the weights' rounding (biasShift).
func (q *quantizer) int8Weight(w *weighted, xp *qparams, mean []float64) error {
	axis := w.outAxis
	if !q.cfg.perChannel {
		axis = -1
	}
	// ONNX Runtime's x86 u8s8 kernels add pairs of u8·s8 products in 16
	// bits (VPMADDUBSW): 255·127·2 saturates, 255·64·2 = 32640 does not.
	// reduce_range keeps |w| ≤ 64, as ORT's own quantizer does.
	qmax := 127.0
	if q.cfg.reduceRange {
		qmax = 64
	}
	quant := func(x []float32) ([]int8, []float32) { return quantSymmetric(x, w.dims, axis, qmax) }
	var bt *onnx.Tensor
	var bias []float32
	if w.biasOK {
		if t := passes.ConstTensor(w.node.Input(2)); t != nil && t.DataType == onnx.Float && len(t.Dims) == 1 {
			var err error
			if bias, err = t.AsFloat32(); err != nil {
				return fmt.Errorf("node %s: bias: %w", onnx.NodePlace(w.node), err)
			}
			bt = t
		}
	}
	var shift []float64
	if bt != nil && mean != nil {
		x, err := passes.ConstTensor(w.w).Float32s() // read only
		if err != nil {
			return fmt.Errorf("node %s: weight %s: %w", onnx.NodePlace(w.node), w.w.Name, err)
		}
		qv, s := quant(x)
		if shift = biasShift(w, x, qv, s, mean); len(shift) != len(bias) {
			shift = nil
		}
	}
	scales, err := q.weightDQ(w, axis, func(x []float32) ([]int8, []float32, *onnx.Tensor, []int64) {
		qv, s := quant(x)
		return qv, s, int8Tensor(w.dims, qv), scaleDims(len(s))
	}, q.cfg.target == "tensorrt") // TensorRT wants the zero point explicit; for ORT it defaults to 0
	if err != nil {
		return err
	}
	if bt == nil {
		return nil
	}
	b := w.node.Input(2)
	g, m := w.node.Graph, q.m
	if shift != nil {
		corrected := make([]float32, len(bias))
		for i, v := range bias {
			corrected[i] = float32(float64(v) + shift[i])
		}
		bias = corrected
	}
	if xp == nil {
		if shift != nil { // the bias stays float, corrected
			w.node.SetInput(2, passes.AddConst(m, g, b.Name+"_corrected", float32Tensor(bt.Dims, bias)))
			q.dropIfUnused(b)
		}
		return nil
	}
	bs := make([]float32, len(bias))
	bq := make([]int32, len(bias))
	for i, v := range bias {
		sw := scales[0]
		if len(scales) > 1 {
			sw = scales[i]
		}
		bs[i] = xp.scale * sw
		x := math.RoundToEven(float64(v) / float64(bs[i]))
		if bs[i] == 0 || math.Abs(x) > math.MaxInt32 {
			if shift != nil { // the bias does not fit int32 at this scale: keep it float, corrected
				w.node.SetInput(2, passes.AddConst(m, g, b.Name+"_corrected", float32Tensor(bt.Dims, bias)))
				q.dropIfUnused(b)
			}
			return nil
		}
		bq[i] = int32(x)
	}
	qv := passes.AddConst(m, g, b.Name+"_quantized", int32Tensor(bt.Dims, bq))
	sv := passes.AddConst(m, g, b.Name+"_scale", float32Tensor(bt.Dims, bs))
	// No zero point: it defaults to 0 and int32 zeros would cost 4 bytes a channel.
	dq := g.NewNode("DequantizeLinear", "", g.FreshName(b.Name+"_DequantizeLinear"), []*onnx.Value{qv, sv}, g.FreshName(b.Name+"_dequantized"))
	dq.SetAttr(onnx.IntAttr("axis", 0))
	dq.Output(0).Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(bt.Dims...))
	g.Append(dq)
	w.node.SetInput(2, dq.Output(0))
	q.dropIfUnused(b)
	return nil
}

// weightDQ quantizes w's weight with quant and makes the layer read it
// through DequantizeLinear (axis < 0: per-tensor). It returns the scales.
func (q *quantizer) weightDQ(w *weighted, axis int, quant func([]float32) ([]int8, []float32, *onnx.Tensor, []int64), zeroPt bool) ([]float32, error) {
	return q.weightDQAttrs(w, axis, 0, quant, zeroPt)
}

func (q *quantizer) weightDQAttrs(w *weighted, axis, block int, quant func([]float32) ([]int8, []float32, *onnx.Tensor, []int64), zeroPt bool) ([]float32, error) {
	key := dqKey{w.w, axis*1000 + block}
	if v, ok := q.dq[key]; ok {
		w.node.SetInput(w.in, v)
		q.dropIfUnused(w.w) // the last reader of a shared weight
		return q.scalesOf(v), nil
	}
	t := passes.ConstTensor(w.w)
	x, err := t.Float32s() // read only: a view of the file when it is mapped
	if err != nil {
		return nil, fmt.Errorf("node %s: weight %s: %w", onnx.NodePlace(w.node), w.w.Name, err)
	}
	_, scales, qt, sdims := quant(x)
	q.addWeightDQ(w, key, axis, block, qt, float32Tensor(sdims, scales), zeroPt)
	return scales, nil
}

// addWeightDQ makes w's layer read its weight as DequantizeLinear(qt, st)
// (zero point 0 when zeroPt) and drops the float weight when unused.
func (q *quantizer) addWeightDQ(w *weighted, key dqKey, axis, block int, qt, st *onnx.Tensor, zeroPt bool) {
	// The graph that defines the weight: every node that reads it (in
	// that graph or a subgraph below it, as sibling If branches may) can
	// read the one DequantizeLinear there, which the cache hands out.
	g, m := w.w.Graph(), q.m
	if g == nil {
		g = w.node.Graph
	}
	name := w.w.Name
	qv := passes.AddConst(m, g, name+"_quantized", qt)
	sv := passes.AddConst(m, g, name+"_scale", st)
	ins := []*onnx.Value{qv, sv}
	if zeroPt {
		ins = append(ins, passes.AddConst(m, g, name+"_zero_point", zeroPoint(int32(qt.DataType), st.Dims, 0)))
	}
	dq := g.NewNode("DequantizeLinear", "", g.FreshName(name+"_DequantizeLinear"), ins, g.FreshName(name+"_dequantized"))
	if axis >= 0 && st.NumElements() > 1 {
		dq.SetAttr(onnx.IntAttr("axis", int64(axis)))
	}
	if block > 0 {
		dq.SetAttr(onnx.IntAttr("block_size", int64(block)))
	}
	dq.Output(0).Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(w.dims...))
	g.Append(dq)
	w.node.SetInput(w.in, dq.Output(0))
	q.dq[key] = dq.Output(0)
	q.dropIfUnused(w.w)
}

// scalesOf reads back the scales of a cached weight DequantizeLinear.
func (q *quantizer) scalesOf(v *onnx.Value) []float32 {
	s, _ := passes.ConstTensor(v.Producer().Input(1)).AsFloat32()
	return s
}

// dropIfUnused removes a float initializer nothing reads any more: that is
// where the file shrinks.
func (q *quantizer) dropIfUnused(v *onnx.Value) {
	if v.Const != nil && !passes.IsUsed(v) && !(v.IsGraphInput() && !v.Graph().LegacyInitializerInputs) {
		v.Graph().RemoveInitializer(v)
	}
}

// weightsOnly is mode=int8-weights, int4 and binary: weights become integers
// read through DequantizeLinear; activations stay float.
func (q *quantizer) weightsOnly() (int, error) {
	c, cfg := q.c, q.cfg
	ws := q.weights(true)
	if n := q.computedRecurrentWeights(); n > 0 {
		c.Logf("%d LSTM/GRU/RNN weights are computed in the graph (PyTorch builds them from gate slices) and stay float: run default first (--passes default,quantize(…)) to fold and quantize them", n)
	}
	if len(ws) == 0 { // and the opset stays
		c.Logf("nothing to quantize (no Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU or RNN with float32 constant weights)%s", q.halfWeightsNote())
		return 0, nil
	}
	mode := cfg.mode
	switch mode {
	case "int4":
		if err := q.ensureOpset(21, "int4 weights with block_size need DequantizeLinear-21"); err != nil {
			c.Logf("mode=int4 falls back to int8 weights: cannot raise the opset to 21 (%v)", err)
			mode = "int8-weights"
		}
	case "binary":
		if err := q.ensureOpset(21, "±1 weights are stored as int4 (DequantizeLinear-21)"); err != nil {
			c.Logf("mode=binary stores the ±1 weights as int8: cannot raise the opset to 21 (%v)", err)
		}
	}
	if mode == "int8-weights" && cfg.perChannel {
		if err := q.ensureOpset(13, "per-channel DequantizeLinear (axis) needs opset 13"); err != nil {
			c.Logf("per-tensor weight scales: %v", err)
			cfg.perChannel = false
		}
	}
	if mode == "binary" && len(ws) > 2 {
		// The first and last layers carry the most information per weight
		// (input features, class scores): binary networks keep them float.
		c.Logf("binary: keeping the first (%s) and last (%s) layers float", onnx.NodePlace(ws[0].node), onnx.NodePlace(ws[len(ws)-1].node))
		ws = ws[1 : len(ws)-1]
	}
	rewrites := 0
	// Each weight is read once, from disk with direct I/O where it is not
	// in memory yet, the next one while this one is quantized.
	ts := make([]*onnx.Tensor, len(ws))
	for i, w := range ws {
		if mode != "int4" || !q.int4Lazy(w) { // lazy ones are read when saved
			ts[i] = passes.ConstTensor(w.w)
		}
	}
	ra := onnx.NewReadAhead(ts)
	defer ra.Close()
	for i, w := range ws {
		if !c.Allow() {
			break
		}
		ra.Hold(i)
		var err error
		switch mode {
		case "int8-weights":
			err = q.int8Weight(w, nil, nil)
		case "int4":
			err = q.int4Weight(w)
		case "binary":
			err = q.binaryWeight(w, q.m.Opset("") >= 21)
		}
		if err != nil {
			return rewrites, err
		}
		q.addLayer(w.node)
		rewrites++
	}
	c.Logf("%s weights: %d layers", mode, rewrites)
	return rewrites, nil
}

// int4Weight stores a weight as int4 in blocks along the reduction axis;
// where that axis is shorter than a block (depthwise convolutions), one scale
// per output channel instead.
func (q *quantizer) int4Weight(w *weighted) error {
	block := q.cfg.block
	if int(w.dims[w.redAxis]) < block {
		_, err := q.weightDQ(w, w.outAxis, func(x []float32) ([]int8, []float32, *onnx.Tensor, []int64) {
			qv, s := quantSymmetric(x, w.dims, w.outAxis, 7)
			return qv, s, int4Tensor(w.dims, qv), scaleDims(len(s))
		}, false)
		return err
	}
	if t := passes.ConstTensor(w.w); int4Streams(t, w.dims) {
		// A float32 weight is quantized as onnx.ReadChunks hands it out
		// (from disk with direct I/O when mapped and not in memory).
		key := dqKey{w.w, w.redAxis*1000 + block}
		if v, ok := q.dq[key]; ok {
			w.node.SetInput(w.in, v)
			q.dropIfUnused(w.w)
			return nil
		}
		j := newInt4Job(t, w.dims, w.redAxis, block)
		qt := onnx.NewLazyTensor("", onnx.Int4, w.dims, int4WeightPayload{j})
		st := onnx.NewLazyTensor("", onnx.Float, j.scaleDims(), int4ScalePayload{j})
		if !q.int4Lazy(w) {
			// Made now: the weight's payload keeps the scales for theirs.
			for _, x := range []*onnx.Tensor{qt, st} {
				if _, err := x.Data(); err != nil {
					return fmt.Errorf("node %s: weight %s: %w", onnx.NodePlace(w.node), w.w.Name, err)
				}
			}
		}
		// Larger ones are quantized as the model is saved.
		q.addWeightDQ(w, key, w.redAxis, block, qt, st, false)
		return nil
	}
	_, err := q.weightDQAttrs(w, w.redAxis, block, func(x []float32) ([]int8, []float32, *onnx.Tensor, []int64) {
		if _, inner := axisLayout(w.dims, w.redAxis); inner%2 == 0 {
			qt, s, sdims := packBlockedInt4(x, w.dims, w.redAxis, block)
			return nil, s, qt, sdims
		}
		qv, s, sdims := quantBlocked(x, w.dims, w.redAxis, block)
		return qv, s, int4Tensor(w.dims, qv), sdims
	}, false)
	return err
}

// int4Lazy reports whether int4Weight leaves w's quantized weight to the
// save (see lazyInt4Min): a large float32 weight quantized in blocks, with
// scales of onnx.LazyMin or more.
func (q *quantizer) int4Lazy(w *weighted) bool {
	t := passes.ConstTensor(w.w)
	if !int4Streams(t, w.dims) || t.ByteSize() < lazyInt4Min || int(w.dims[w.redAxis]) < q.cfg.block {
		return false
	}
	return (int4ScalePayload{newInt4Job(t, w.dims, w.redAxis, q.cfg.block)}).Len() >= onnx.LazyMin
}

// int4Streams reports whether t, a weight of the given dims, is float32
// that an int4Job quantizes as it reads it.
func int4Streams(t *onnx.Tensor, dims []int64) bool {
	return t != nil && t.DataType == onnx.Float && t.NumElements() == onnx.NewTensor("", onnx.Float, dims, nil).NumElements()
}

// binaryWeight stores sign(w) as int4 (or int8 below opset 21) with
// α = mean |w| per output channel as the DequantizeLinear scale.
func (q *quantizer) binaryWeight(w *weighted, int4 bool) error {
	_, err := q.weightDQAttrs(w, w.outAxis, -1, func(x []float32) ([]int8, []float32, *onnx.Tensor, []int64) {
		qv, a := binarize(x, w.dims, w.outAxis)
		if int4 {
			return qv, a, int4Tensor(w.dims, qv), scaleDims(len(a))
		}
		return qv, a, int8Tensor(w.dims, qv), scaleDims(len(a))
	}, false)
	return err
}

// noteFusedContrib says when the model holds ONNX Runtime's fused contrib
// ops (a model saved after ORT's optimizer): quantize works on the
// standard Conv, Gemm and MatMul, so those stay float unless unfuse runs
// first.
func noteFusedContrib(c *passes.Context, m *onnx.Model) {
	if n := passes.FusedContribOps(m); n > 0 {
		c.Logf("%d of ONNX Runtime's fused ops (FusedConv, FusedGemm, FusedMatMul) stay float: run unfuse first (--passes unfuse,quantize(…)) to quantize them", n)
	}
}
