package quantize

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
)

// Accuracy-aware fallback (min_cosine=X), as NNCF's accuracy-aware
// quantization and Intel Neural Compressor's tuning do it: after mode=int8,
// measure the graph outputs' cosine with the float model on calibration
// samples; while it is below X, return the activations that hurt most to
// float (their Q/DQ pair dropped; the weights stay int8, so the file barely
// changes) and measure again.
//
// The ranking is one activation at a time: the outputs' cosine with only
// that activation in float, on a few samples. The per-layer report's error
// is no ranking: it accumulates along the graph, so it names the last
// layers, while on mobilenet_v2 the first blocks are the ones that matter.

const (
	// fallbackSamples bounds the calibration samples the cosine is measured
	// on (the first ones; fewer when samples= says so).
	fallbackSamples = 64
	// rankSamples is how many of them rank the activations one at a time:
	// every activation costs a model copy and rankSamples runs.
	rankSamples = 8
)

// Fallback is what min_cosine did, in the pass's report (--json).
type Fallback struct {
	Target float64 `json:"target"`
	// Samples is the calibration samples the cosine is measured on and
	// RankSamples how many of them ranked the activations.
	Samples     int     `json:"samples"`
	RankSamples int     `json:"rank_samples,omitempty"`
	Before      float64 `json:"cosine_before"`
	After       float64 `json:"cosine_after"`
	Reached     bool    `json:"reached"`
	// Quantized is the number of activations with a Q/DQ pair before the
	// fallback; Float lists those left in float, in the order chosen.
	Quantized int              `json:"quantized_activations"`
	Float     []FallbackTensor `json:"float"`
	// Steps are the measurements after each batch of activations.
	Steps   []FallbackStep `json:"steps,omitempty"`
	Seconds float64        `json:"seconds"`
	Warning string         `json:"warning,omitempty"`
}

// FallbackTensor is one activation left in float and the outputs' cosine
// on the ranking samples with only it in float.
type FallbackTensor struct {
	Tensor      string  `json:"tensor"`
	CosineAlone float64 `json:"cosine_alone"`
}

// FallbackStep is one measurement: Float activations in float, cosine.
type FallbackStep struct {
	Float  int     `json:"float"`
	Cosine float64 `json:"cosine"`
}

// minGain is the least rise of the cosine that counts as help.
const minGain = 1e-9

// fallback runs the accuracy-aware fallback on q.m (already quantized)
// against the float model and drops the Q/DQ pairs it chooses from q.m.
func (q *quantizer) fallback(float *onnx.Model) (*Fallback, error) {
	start := time.Now()
	c, cfg := q.c, q.cfg
	cands := quantizedActs(q.g, q.acts)
	// The Q/DQ model with its weights dequantized once: the same numbers,
	// faster to run many times.
	base, err := foldConstDQ(q.m)
	if err != nil {
		return nil, fmt.Errorf("quantized model: %w", err)
	}
	limit := fallbackSamples
	if cfg.samples > 0 && cfg.samples < limit {
		limit = cfg.samples
	}
	src, err := calib.Open(c, float, cfg.calib, limit)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	ref, err := calib.NewMeasurer(c, float, src, limit)
	if err != nil {
		return nil, fmt.Errorf("float model: %w", err)
	}
	ms := &measurer{base: base, ref: ref}
	before, samples, err := ms.cosine(nil, limit)
	if err != nil {
		return nil, err
	}
	fb := &Fallback{Target: cfg.minCosine, Samples: samples, Before: before, After: before, Quantized: len(cands), Float: []FallbackTensor{}}
	defer func() { fb.Seconds = time.Since(start).Seconds() }()
	if before >= cfg.minCosine {
		fb.Reached = true
		c.Logf("min_cosine %g: outputs' cosine %.6f on %d samples (%s), nothing left in float", cfg.minCosine, before, samples, src.Origin())
		return fb, nil
	}

	// Rank: each activation alone in float, on the first few samples.
	rankN := min(rankSamples, limit)
	rankBase := before
	if rankN < limit {
		if rankBase, _, err = ms.cosine(nil, rankN); err != nil {
			return nil, err
		}
	}
	fb.RankSamples = rankN
	type ranked struct {
		name string
		cos  float64
	}
	var rank []ranked
	for _, name := range cands {
		cos, _, err := ms.cosine([]string{name}, rankN)
		if err != nil {
			return nil, err
		}
		// Only activations whose float version helps on their own, by more
		// than float64 rounding of the sums: the others' quantization error
		// is noise or cancels out.
		if cos > rankBase+minGain {
			rank = append(rank, ranked{name, cos})
		}
	}
	sort.SliceStable(rank, func(i, j int) bool { return rank[i].cos > rank[j].cos })

	// Greedy, in batches sized by the ranking: add activations until their
	// gains alone would cover the gap (at least one), then measure. Gains do
	// not add up fully, so this undershoots rather than leaving more in
	// float than needed; each batch is measured on all the samples.
	maxFloat := cfg.maxFallback
	if maxFloat <= 0 {
		maxFloat = len(cands)
	}
	var chosen []string
	cur, next := before, 0
	for cur < cfg.minCosine && next < len(rank) && len(chosen) < maxFloat {
		gap, est, added := cfg.minCosine-cur, 0.0, 0
		for next < len(rank) && len(chosen) < maxFloat && (added == 0 || est < gap) {
			r := rank[next]
			chosen = append(chosen, r.name)
			fb.Float = append(fb.Float, FallbackTensor{Tensor: r.name, CosineAlone: r.cos})
			est += r.cos - rankBase
			next++
			added++
		}
		if cur, _, err = ms.cosine(chosen, limit); err != nil {
			return nil, err
		}
		fb.Steps = append(fb.Steps, FallbackStep{Float: len(chosen), Cosine: cur})
	}
	fb.After, fb.Reached = cur, cur >= cfg.minCosine

	// Leave the chosen activations in float in the model itself.
	set := map[string]bool{}
	for _, name := range chosen {
		set[name] = true
	}
	for _, n := range dropQDQ(q.g, set) {
		for _, v := range n.Inputs()[1:] {
			if v != nil {
				q.dropIfUnused(v)
			}
		}
	}
	secs := time.Since(start).Seconds()
	c.Logf("min_cosine %g: outputs' cosine %.6f → %.6f on %d samples (%s), %d of %d activations left in float (ranked one at a time on %d samples), %.1fs",
		cfg.minCosine, before, cur, samples, src.Origin(), len(chosen), len(cands), rankN, secs)
	if len(chosen) > 0 {
		c.Logf("  in float: %s", strings.Join(chosen, ", "))
	}
	if !fb.Reached {
		why := "no other activation helps on its own"
		if len(chosen) >= maxFloat {
			why = fmt.Sprintf("max_fallback=%d reached", maxFloat)
		}
		fb.Warning = fmt.Sprintf("min_cosine %g not reached: %.6f with %d activations in float (%s); exclude= leaves whole layers (weights too) in float",
			cfg.minCosine, cur, len(chosen), why)
		c.Logf("warning: %s", fb.Warning)
	}
	return fb, nil
}

// quantizedActs returns the names of the activations in acts that still
// have a QuantizeLinear in g (a --max-rewrites budget may have stopped
// before some), in graph order.
func quantizedActs(g *onnx.Graph, acts []*onnx.Value) []string {
	var names []string
	for _, v := range acts {
		for _, n := range v.Consumers() {
			if n.OpType == "QuantizeLinear" && n.Domain == "" && n.Input(0) == v {
				names = append(names, v.Name)
				break
			}
		}
	}
	return names
}

// dropQDQ removes the QuantizeLinear→DequantizeLinear pairs on the named
// tensors of g (all of them: TensorRT has one per consumer), so that their
// readers see the float tensor again, and returns the removed nodes.
func dropQDQ(g *onnx.Graph, names map[string]bool) []*onnx.Node {
	var dead []*onnx.Node
	for _, n := range g.Nodes {
		if n.OpType != "QuantizeLinear" || n.Domain != "" || n.Input(0) == nil || !names[n.Input(0).Name] {
			continue
		}
		dqs := n.Output(0).Consumers()
		ok := !n.Output(0).IsGraphOutput()
		for _, dq := range dqs {
			ok = ok && dq.OpType == "DequantizeLinear" && dq.Domain == "" && !dq.Output(0).IsGraphOutput()
		}
		if !ok {
			continue // not a plain pair of ours: leave it
		}
		for _, dq := range dqs {
			onnx.ReplaceAllUsesWith(dq.Output(0), n.Input(0))
			dead = append(dead, dq)
		}
		dead = append(dead, n)
	}
	g.RemoveNodes(dead...)
	return dead
}

// measurer computes the outputs' cosine of the Q/DQ model, with some
// activations in float, against the float model.
type measurer struct {
	base *onnx.Model // the Q/DQ model, constant DequantizeLinear folded
	ref  *calib.Measurer
}

// cosine returns the smallest cosine over the graph outputs (each over all
// the first `limit` calibration samples) of base with the Q/DQ pairs on
// the float tensors dropped, and the number of samples. A NaN cosine (the
// candidate computes NaN or Inf) compares below every target.
func (ms *measurer) cosine(float []string, limit int) (float64, int, error) {
	m := ms.base.Clone()
	set := map[string]bool{}
	for _, name := range float {
		set[name] = true
	}
	dropQDQ(m.Graph, set)
	if err := fakeQuant(m); err != nil {
		return 0, 0, err
	}
	a, err := ms.ref.AgreementOn(m, limit)
	if err != nil {
		return 0, 0, fmt.Errorf("quantized model: %w", err)
	}
	return a.Cosine, a.Samples, nil
}

// fakeQuant replaces each QuantizeLinear→DequantizeLinear pair of m with
// per-tensor constant parameters by float32 ops that compute the same
// numbers and that the interpreter runs several times faster than its
// generic Q/DQ kernels (which dominate a Q/DQ model's run time):
//
//	y = ((clip(x/s, qmin−zp, qmax−zp) + M) − M) · s,  M = 1.5·2²³
//
// x/s is a true float32 division, as QuantizeLinear's; clipping before
// rounding is the same as after, the bounds being integers; adding M rounds
// |v| ≤ 2²² half to even (float32 addition at unit spacing), as
// QuantizeLinear does, and the integers and their product by s are exact.
// Only the fallback's measurements run it.
func fakeQuant(m *onnx.Model) error {
	if m.Opset("") < 11 { // Clip with bounds as inputs
		return nil
	}
	g := m.Graph
	var dead []*onnx.Node
	for _, n := range g.Nodes {
		if n.OpType != "QuantizeLinear" || n.Domain != "" || len(n.Attrs) > 0 {
			continue
		}
		st := passes.ConstTensor(n.Input(1))
		if st == nil || st.DataType != onnx.Float || numElements(st) != 1 {
			continue
		}
		lo, hi, zp := 0.0, 255.0, 0.0
		if n.Input(2) != nil {
			zt := passes.ConstTensor(n.Input(2))
			if zt == nil || numElements(zt) != 1 || (zt.DataType != onnx.Uint8 && zt.DataType != onnx.Int8) {
				continue
			}
			z, err := zt.AsInt64()
			if err != nil {
				return err
			}
			if zt.DataType == onnx.Int8 {
				lo, hi = -128, 127
			}
			zp = float64(z[0])
		}
		dqs := n.Output(0).Consumers()
		ok := !n.Output(0).IsGraphOutput()
		for _, dq := range dqs {
			ok = ok && dq.OpType == "DequantizeLinear" && dq.Domain == "" && len(dq.Attrs) == 0 &&
				dq.Input(1) == n.Input(1) && dq.Input(2) == n.Input(2) && !dq.Output(0).IsGraphOutput()
		}
		if !ok || len(dqs) == 0 {
			continue
		}
		x, scale := n.Input(0), n.Input(1)
		name := x.Name + "_fake"
		add := func(op string, in ...*onnx.Value) *onnx.Value {
			node := g.NewNode(op, "", g.FreshName(name+"_"+op), in, g.FreshName(name+"_"+op+"_out"))
			g.Append(node)
			return node.Output(0)
		}
		k := func(v float64) *onnx.Value {
			return passes.AddConst(m, g, name+"_k", float32Tensor(nil, []float32{float32(v)}))
		}
		const magic = 1.5 * (1 << 23)
		clipped := add("Clip", add("Div", x, scale), k(lo-zp), k(hi-zp))
		y := add("Mul", add("Sub", add("Add", clipped, k(magic)), k(magic)), scale)
		for _, dq := range dqs {
			onnx.ReplaceAllUsesWith(dq.Output(0), y)
			dead = append(dead, dq)
		}
		dead = append(dead, n)
	}
	g.RemoveNodes(dead...)
	return g.TopoSort()
}

func numElements(t *onnx.Tensor) int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}
