// Package prune is the "prune" pass: magnitude (L1/L2), activation-aware
// (Wanda: |w|·||x||) and first-order Taylor pruning of Conv, Gemm and MatMul
// weights, unstructured, in TensorRT's 2:4 pattern, or whole channels (which
// shrink the model). An ONNX file has no training loop, so instead of
// fine-tuning the pass recovers the way one-shot post-training methods do
// (ThiNet, He et al.'s channel pruning, SparseGPT): it refits each pruned
// layer's remaining weights and bias by ridge least squares so that, on the
// calibration data, the layer's output matches the float model's.
package prune

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/onnxslim/onnxslim/internal/stats"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
)

func init() {
	passes.Register(&passes.Pass{
		Name:  "prune",
		Doc:   "magnitude, Wanda or Taylor pruning: unstructured, 2:4 or whole channels, with least-squares reconstruction on calibration data",
		Lossy: true,
		Options: []passes.Option{
			{Name: "criterion", Kind: passes.OptEnum, Default: "magnitude", Enum: []string{"magnitude", "l1", "l2", "wanda", "taylor"},
				Doc: "importance: magnitude/l1 |w| (channels: mean |w| of the producers' rows), l2 w² (channels: their RMS), wanda |w|·||x|| (input column norm on the calibration data), taylor |w·∂L/∂w| (channels: |Σ activation·gradient|)"},
			{Name: "structure", Kind: passes.OptEnum, Default: "unstructured", Enum: []string{"unstructured", "2:4", "channel"},
				Doc: "unstructured: single weights set to 0; 2:4: 2 of every 4 consecutive weights along the input channels set to 0 (TensorRT sparse kernels); channel: output channels removed with their consumers (the model shrinks)"},
			{Name: "amount", Kind: passes.OptFloat, Default: "0.5", Doc: "fraction to prune, in (0,1): of the FLOPs for structure=channel, of the weights otherwise (2:4 is always half)"},
			{Name: "scope", Kind: passes.OptEnum, Default: "layer", Enum: []string{"layer", "global"}, Doc: "layer: every layer pruned by amount; global: one ranking over all layers"},
			{Name: "exclude", Kind: passes.OptList, Default: "", Doc: "node names (or op types) left as they are"},
			{Name: "keep_first", Kind: passes.OptBool, Default: "true", Doc: "leave the first prunable layer as it is"},
			{Name: "keep_last", Kind: passes.OptBool, Default: "true", Doc: "leave the last prunable layer as it is"},
			{Name: "reconstruct", Kind: passes.OptBool, Default: "true", Doc: "refit the kept weights and biases by least squares on the calibration data"},
			{Name: "ridge", Kind: passes.OptFloat, Default: "0.01", Doc: "smallest refit damping λ toward the float weights, relative to the mean diagonal of XᵀX (λ·{1,10,100,1000} is chosen on held-out calibration batches)"},
			{Name: "multiple", Kind: passes.OptInt, Default: "8", Doc: "structure=channel: groups of at least 8×multiple channels keep a multiple of this many (runtime kernels block channels by 8 or 16); 1: any count"},
			{Name: "calib", Kind: passes.OptString, Default: "", Doc: "calibration data folder (empty: the CLI's --inputs folder, else seeded random inputs)"},
			{Name: "samples", Kind: passes.OptInt, Default: "0", Doc: "max calibration samples (0: the whole folder, or 64 seeded random inputs)"},
		},
		Requires: []*passes.Analysis{passes.Shapes},
		Run:      run,
	})
}

// config is the parsed options.
type config struct {
	criterion, structure, scope, calib string
	amount, ridge                      float64
	samples, multiple                  int
	exclude                            map[string]bool
	keepFirst, keepLast, reconstruct   bool
}

func parseConfig(c *passes.Context) (*config, error) {
	o := c.Options
	cfg := &config{
		criterion: o.String("criterion"), structure: o.String("structure"), scope: o.String("scope"), calib: o.String("calib"),
		amount: o.Float("amount"), ridge: o.Float("ridge"), samples: int(o.Int("samples")), multiple: int(o.Int("multiple")),
		keepFirst: o.Bool("keep_first"), keepLast: o.Bool("keep_last"), reconstruct: o.Bool("reconstruct"),
		exclude: map[string]bool{},
	}
	for _, e := range o.List("exclude") {
		cfg.exclude[e] = true
	}
	if !(cfg.amount > 0 && cfg.amount < 1) {
		return nil, fmt.Errorf("amount=%g: must be in (0, 1), the fraction of %s to prune", cfg.amount, cfg.amountOf())
	}
	if !(cfg.ridge >= 0) || math.IsInf(cfg.ridge, 0) {
		return nil, fmt.Errorf("ridge=%g: must be a number ≥ 0", cfg.ridge)
	}
	if cfg.multiple < 1 {
		return nil, fmt.Errorf("multiple=%d: must be at least 1", cfg.multiple)
	}
	if cfg.samples < 0 {
		return nil, fmt.Errorf("samples=%d: must be at least 0", cfg.samples)
	}
	if cfg.structure == "2:4" && cfg.scope == "global" {
		return nil, fmt.Errorf("scope=global: 2:4 prunes half of every group of 4, there is nothing to rank across layers")
	}
	return cfg, nil
}

func (cfg *config) amountOf() string {
	if cfg.structure == "channel" {
		return "FLOPs"
	}
	return "weights"
}

// selectLayers returns the layers the options let the pass prune, and the
// others with the reason.
func selectLayers(m *onnx.Model, cfg *config) ([]*layer, []Skip, error) {
	all, skipped := findLayers(m)
	var out []*layer
	for i, l := range all {
		why := ""
		switch {
		case cfg.exclude[l.node.Name] || cfg.exclude[l.node.OpType]:
			why = "exclude"
		case i == 0 && cfg.keepFirst:
			why = "keep_first"
		case i == len(all)-1 && cfg.keepLast:
			why = "keep_last"
		}
		if why != "" {
			skipped = append(skipped, Skip{Node: l.name(), Op: l.node.OpType, Reason: why})
			continue
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		msg := "nothing to prune: no Conv, Gemm or MatMul with a constant float32 weight of its own"
		if len(all) > 0 {
			msg = fmt.Sprintf("nothing to prune: the model's %d prunable layer(s) are all kept by exclude/keep_first/keep_last", len(all))
		}
		for _, s := range skipped {
			msg += fmt.Sprintf("; %s (%s): %s", s.Node, s.Op, s.Reason)
		}
		return nil, nil, errors.New(msg)
	}
	return out, skipped, nil
}

// run prunes a copy of the model and takes its graph only when everything
// succeeded: a refusal (bad data, a layer that cannot be refit) leaves the
// model as it was.
func run(c *passes.Context, m *onnx.Model) (int, error) {
	cfg, err := parseConfig(c)
	if err != nil {
		return 0, err
	}
	work := m.Clone()
	lifted := passes.WeightsToInitializers(c, work, false)
	var n int
	if cfg.structure == "channel" {
		n, err = runChannels(c, work, cfg)
	} else {
		n, err = runWeights(c, work, cfg)
	}
	if fused := passes.FusedContribOps(m); fused > 0 {
		// Their weights are not pruned, and they pin the channel groups
		// they read.
		hint := fmt.Sprintf("%d of ONNX Runtime's fused ops (FusedConv, FusedGemm, FusedMatMul) are left as they are: run unfuse first (--passes unfuse,prune(…)) to prune them", fused)
		if err != nil {
			return 0, fmt.Errorf("%w (%s)", err, hint)
		}
		c.Logf("%s", hint)
	}
	if err != nil || n == 0 {
		return 0, err
	}
	m.Graph = work.Graph
	c.Invalidate()
	return lifted + n, nil
}

// runWeights is unstructured and 2:4 pruning.
func runWeights(c *passes.Context, m *onnx.Model, cfg *config) (int, error) {
	layers, skipped, err := selectLayers(m, cfg)
	if err != nil {
		return 0, err
	}
	// 2:4 needs the input channels in whole groups of 4.
	var groups [][][]int
	if cfg.structure == "2:4" {
		var ok []*layer
		for _, l := range layers {
			g, why := nmGroups(l, 4)
			if why != "" {
				skipped = append(skipped, Skip{Node: l.name(), Op: l.node.OpType, Reason: "2:4: " + why})
				continue
			}
			ok = append(ok, l)
			groups = append(groups, g)
		}
		if len(ok) == 0 {
			return 0, fmt.Errorf("nothing to prune in 2:4: %s", skipText(skipped))
		}
		layers = ok
	}
	src, err := calib.Open(c, m, cfg.calib, cfg.samples)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	float := m.Clone()
	before := measure(c, m)

	// Scores on the float model, for every layer, before anything changes.
	var colNorms [][][]float64
	var taylor [][]float64
	switch cfg.criterion {
	case "wanda":
		if colNorms, err = inputNorms(c, float, layers, src); err != nil {
			return 0, fmt.Errorf("criterion=wanda: %w", err)
		}
	case "taylor":
		if taylor, err = taylorWeightScores(c, float, layers, src, cfg); err != nil {
			return 0, fmt.Errorf("criterion=taylor: %w", err)
		}
	}
	scores := make([][]float64, len(layers))
	ws := make([][]float32, len(layers))
	for i, l := range layers {
		if ws[i], err = l.weights(); err != nil {
			return 0, err
		}
		var norms [][]float64
		if colNorms != nil {
			norms = colNorms[i]
		}
		var tl []float64
		if taylor != nil {
			tl = taylor[i]
		}
		if scores[i], err = weightScores(l, ws[i], cfg.criterion, norms, tl); err != nil {
			return 0, err
		}
	}
	keeps := make([][]bool, len(layers))
	switch {
	case cfg.structure == "2:4":
		for i := range layers {
			keeps[i] = nmKeep(scores[i], groups[i], 2)
		}
	case cfg.scope == "global":
		counts := globalCounts(scores, cfg.amount)
		for i := range layers {
			keeps[i] = unstructuredKeep(scores[i], counts[i])
		}
	default:
		for i := range layers {
			keeps[i] = unstructuredKeep(scores[i], int(math.Round(cfg.amount*float64(len(ws[i])))))
		}
	}

	rep := &Report{Structure: cfg.structure, Criterion: cfg.criterion, Scope: cfg.scope, Amount: cfg.amount,
		Reconstruct: cfg.reconstruct, Calibration: src.Origin(), Skipped: skipped}
	if cfg.structure == "2:4" {
		rep.Amount = 0.5
	}
	rewrites := 0
	for i, l := range layers {
		if !c.Allow() {
			break
		}
		lr, err := pruneLayer(c, m, float, l, ws[i], keeps[i], src, cfg)
		if err != nil {
			return rewrites, err
		}
		lr.Scores = summarize(scores[i], keeps[i])
		rep.Layers = append(rep.Layers, lr)
		rewrites++
	}
	if !cfg.reconstruct && rewrites > 0 {
		if err := measureMasked(c, m, float, layers[:rewrites], rep.Layers, src); err != nil {
			return rewrites, err
		}
	}
	finishReport(c, rep, before, measure(c, m), m, float, src)
	return rewrites, nil
}

// pruneLayer zeroes the weights keep drops, refits the rest when asked, and
// measures the layer's output error against the float model before and
// after the refit.
func pruneLayer(c *passes.Context, m, float *onnx.Model, l *layer, w []float32, keep []bool, src *calib.Source, cfg *config) (LayerReport, error) {
	lr := LayerReport{Node: l.name(), Op: l.node.OpType, Weights: len(w), Refit: "off"}
	for _, k := range keep {
		if !k {
			lr.Pruned++
		}
	}
	masked := make([]float32, len(w))
	for i, v := range w {
		if keep[i] {
			masked[i] = v
		}
	}
	if !cfg.reconstruct {
		l.setWeights(masked) // measured with the others (measureMasked)
		return lr, nil
	}
	if l.cols > maxGramCols || !l.affine() {
		lr.Refit = fmt.Sprintf("skipped: %d columns > %d", l.cols, maxGramCols)
		if !l.affine() {
			lr.Refit = "skipped: Gemm with alpha or beta ≠ 1"
		}
		l.setWeights(masked)
		return lr, nil
	}
	bias, err := l.biasValues()
	if err != nil {
		return lr, err
	}
	solveBias := l.hasBiasSlot()
	og := l.rows / l.groups
	// Each group's float rows (weights and bias) and kept columns.
	theta0s := make([][][]float64, l.groups)
	kepts := make([][][]int, l.groups)
	works := make([]float64, l.groups)
	for g := range theta0s {
		theta0 := make([][]float64, og)
		kept := make([][]int, og)
		var work float64
		for j := range theta0 {
			o := g*og + j
			th := make([]float64, l.cols+1)
			for k := 0; k < l.cols; k++ {
				i := l.index(o, k)
				th[k] = float64(w[i])
				if keep[i] {
					kept[j] = append(kept[j], k)
				}
			}
			th[l.cols] = float64(bias[o])
			theta0[j] = th
			n := float64(len(kept[j]) + 1)
			work += n * n * n / 3
		}
		theta0s[g], kepts[g], works[g] = theta0, kept, work
	}
	grams, checks, err := layerStats(c, m, float, l, l, src, theta0s)
	if err != nil {
		return lr, fmt.Errorf("%s: %w", l.name(), err)
	}
	newW := append([]float32(nil), masked...)
	newB := append([]float32(nil), bias...)
	var tot refitTotals
	for g, gm := range grams {
		theta0, kept, work := theta0s[g], kepts[g], works[g]
		solve := cfg.reconstruct && work <= maxRefitWork
		if cfg.reconstruct && !solve {
			lr.Refit = fmt.Sprintf("skipped: %.3g FLOPs of Cholesky > %.3g", work, maxRefitWork)
		}
		rows, f, err := refitRows(gm, checks[g], theta0, kept, solve, solveBias, cfg.ridge)
		if err != nil {
			return lr, fmt.Errorf("%s: %w", l.name(), err)
		}
		tot.add(f, l, rows, g*og, newW, newB)
	}
	if cfg.reconstruct && tot.refitted > 0 {
		lr.Refit = "refit"
		if tot.refitted < len(grams) {
			lr.Refit = fmt.Sprintf("refit %d of %d groups", tot.refitted, len(grams))
		}
	} else if cfg.reconstruct && lr.Refit == "off" {
		lr.Refit = cmp.Or(tot.note, "kept the pruned weights: the refit did not lower the error")
	}
	tot.report(&lr)
	for i := range newW {
		if math.IsNaN(float64(newW[i])) || math.IsInf(float64(newW[i]), 0) {
			return lr, fmt.Errorf("%s: refit produced a non-finite weight", l.name())
		}
	}
	l.setWeights(newW)
	if tot.refitted > 0 && solveBias {
		l.setBias(newB)
	}
	return lr, nil
}

// measure counts the FLOPs, parameters and nonzero float weights of m.
type measures struct {
	flops, params, nonzero int64
	flopsKnown             bool
	// shape gives the model's value shapes as its FLOPs were counted
	// (a dynamic model's at its generated inputs' sizes).
	shape stats.ShapeFunc
}

func measure(c *passes.Context, m *onnx.Model) measures {
	_, _ = interp.InferShapes(m, interp.ShapeOptions{Dims: c.Dims}) // sets value shapes for the FLOPs count
	var ms measures
	ms.shape = passes.SizedShapes(m, c.InputDims())
	ms.flops, ms.flopsKnown = stats.FLOPs(m, ms.shape)
	ms.params = stats.Params(m)
	for _, v := range m.Graph.Initializers {
		if v.Const == nil || v.Const.DataType != onnx.Float {
			continue
		}
		d, err := v.Const.AsFloat32()
		if err != nil {
			continue
		}
		for _, x := range d {
			if x != 0 {
				ms.nonzero++
			}
		}
	}
	return ms
}

// finishReport measures the pruned model, logs the report and hands it on.
func finishReport(c *passes.Context, rep *Report, before, after measures, m, float *onnx.Model, src *calib.Source) {
	rep.FLOPsBefore, rep.FLOPsAfter, rep.FLOPsKnown = before.flops, after.flops, before.flopsKnown && after.flopsKnown
	rep.ParamsBefore, rep.ParamsAfter = before.params, after.params
	rep.NonzeroBefore, rep.NonzeroAfter = before.nonzero, after.nonzero
	rep.Samples = src.Total()
	// Per-layer FLOPs: the node (or a group's producers) in each model.
	shapes := map[*onnx.Model]stats.ShapeFunc{float: passes.SizedShapes(float, c.InputDims()), m: after.shape}
	nodeFLOPs := func(mm *onnx.Model, names string) int64 {
		var f int64
		for _, name := range strings.Split(names, "+") {
			for _, n := range mm.Graph.Nodes {
				if n.Name == name {
					x, _, _ := stats.NodeFLOPs(n, shapes[mm])
					f += x
				}
			}
		}
		return f
	}
	// A channel group's weights: its producers' weight tensors.
	weights := func(mm *onnx.Model, names string) int {
		n := 0
		for _, name := range strings.Split(names, "+") {
			for _, x := range mm.Graph.Nodes {
				if x.Name == name && x.Input(1) != nil && x.Input(1).Const != nil {
					n += int(x.Input(1).Const.NumElements())
				}
			}
		}
		return n
	}
	for i := range rep.Layers {
		l := &rep.Layers[i]
		l.FLOPsBefore = nodeFLOPs(float, l.Node)
		l.FLOPsAfter = nodeFLOPs(m, l.Node)
		if l.ChannelsKept+l.ChannelsRemoved > 0 {
			l.Weights = weights(float, l.Node)
			l.Pruned = l.Weights - weights(m, l.Node)
		}
	}
	if ms, err := calib.NewMeasurer(c, float, src, 64); err != nil {
		c.Logf("output agreement not measured: %v", err)
	} else if a, err := ms.Agreement(m); err != nil {
		c.Logf("output agreement not measured: %v", err)
	} else {
		rep.Output = &Agreement{Cosine: finiteOr(a.Cosine, 0), RelL2: finiteOr(a.RelL2, math.MaxFloat64), Top1: finiteOr(a.Top1, 0)}
	}
	rep.log(c)
	c.Detail(rep)
}

// inputNorms returns, per layer and group, the L2 norm of each input column
// (im2col for Conv) of the float model on the calibration data.
func inputNorms(c *passes.Context, float *onnx.Model, layers []*layer, src *calib.Source) ([][][]float64, error) {
	names := make([]string, len(layers))
	out := make([][][]float64, len(layers))
	for i, l := range layers {
		names[i] = l.node.Input(0).Name
		out[i] = make([][]float64, l.groups)
		for g := range out[i] {
			out[i][g] = make([]float64, l.cols)
		}
	}
	src, err := src.Reopen(0)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var mu sync.Mutex
	_, err = calib.Activations(c, float, names, src, func(b int, acts map[string]*interp.Tensor) error {
		for i, l := range layers {
			t := acts[names[i]]
			x, err := interp.AsFloat32(t)
			if err != nil {
				return fmt.Errorf("%s: input: %w", l.name(), err)
			}
			n, err := l.positions(t.Shape)
			if err != nil {
				return err
			}
			pick := samplePositions(n, maxRowsPerSample, newRand(b))
			for g := 0; g < l.groups; g++ {
				z, err := l.patches(t.Shape, x, g, pick)
				if err != nil {
					return err
				}
				mu.Lock()
				acc := out[i][g]
				for r := 0; r+l.cols < len(z); r += l.cols + 1 {
					for k := 0; k < l.cols; k++ {
						acc[k] += z[r+k] * z[r+k]
					}
				}
				mu.Unlock()
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		for g := range out[i] {
			for k, v := range out[i][g] {
				out[i][g][k] = math.Sqrt(v)
			}
		}
	}
	return out, nil
}

func skipText(s []Skip) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "; "
		}
		out += x.Node + " (" + x.Op + "): " + x.Reason
	}
	return out
}

func itoa(n int) string     { return strconv.Itoa(n) }
func ftoa(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }
