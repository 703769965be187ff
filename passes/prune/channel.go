package prune

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/onnxslim/onnxslim/internal/stats"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
	"github.com/onnxslim/onnxslim/passes/chandep"
)

// Channel pruning removes whole output channels of the channel groups that
// passes/chandep finds (a layer's channels, or every layer tied to them by
// a residual Add), ranked by the criterion, until the model's FLOPs fall by
// amount; then it refits the next layers, which lost input channels, on
// their remaining inputs (ThiNet, He et al. 2017): per output row, ridge
// least squares so that the layer's output matches the float model's, with
// the bias absorbing the removed channels' mean.

// maxChannelFraction is the most of a group's channels the pass removes:
// a layer keeps at least a tenth of its width.
const maxChannelFraction = 0.9

// candidate is a group the pass may prune, with its channel scores.
type candidate struct {
	g      *chandep.Group
	scores []float64 // per channel, higher is more important
	keep   int       // channels to keep (set by the selection)
}

func runChannels(c *passes.Context, m *onnx.Model, cfg *config) (int, error) {
	if cfg.criterion == "wanda" {
		return 0, fmt.Errorf("criterion=wanda scores single weights: for structure=channel use magnitude, l1, l2 or taylor")
	}
	groups, err := chandep.Analyze(m) // m is the pass's working copy
	if err != nil {
		return 0, err
	}
	layers, _ := findLayers(m)
	first, last := (*onnx.Node)(nil), (*onnx.Node)(nil)
	if len(layers) > 0 {
		first, last = layers[0].node, layers[len(layers)-1].node
	}
	var cands []*candidate
	var skipped []Skip
	for _, g := range groups {
		why := ""
		for _, p := range g.Producers {
			switch {
			case cfg.exclude[p.Node.Name] || cfg.exclude[p.Node.OpType]:
				why = "exclude " + p.Node.Name
			case cfg.keepFirst && p.Node == first:
				why = "keep_first"
			case cfg.keepLast && p.Node == last:
				why = "keep_last"
			}
		}
		switch {
		case g.Pinned != "":
			why = "pinned: " + g.Pinned
		case len(g.Producers) == 0:
			why = "no producer"
		case g.Channels < 2:
			why = "one channel"
		}
		if why == "" {
			for _, p := range g.Producers {
				if w := p.Node.Input(1); w == nil || w.Const == nil || w.Const.DataType != onnx.Float {
					why = p.Node.Name + ": weight is not a float32 constant"
				}
			}
		}
		if why != "" {
			skipped = append(skipped, Skip{Node: groupName(g), Op: "group", Reason: why})
			continue
		}
		cands = append(cands, &candidate{g: g, keep: g.Channels})
	}
	hint := foldHint(skipped)
	if hint != "" {
		c.Logf("%s", hint)
		hint = "; " + hint // for the errors below
	}
	if len(cands) == 0 {
		if len(skipped) == 0 {
			return 0, fmt.Errorf("nothing to prune: no Conv, ConvTranspose, Gemm or MatMul with a constant float32 weight of its own produces channels")
		}
		return 0, fmt.Errorf("nothing to prune: no channel group can lose channels (%s)%s", skipText(skipped), hint)
	}
	src, err := calib.Open(c, m, cfg.calib, cfg.samples)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	float := m.Clone()
	before := measure(c, m)
	flops := &channelFLOPs{c: c}
	if !before.flopsKnown {
		if err := flops.firstBatch(src); err != nil {
			return 0, err
		}
		before = flops.measure(m)
	}
	if !before.flopsKnown || before.flops == 0 {
		if flops.sample != nil {
			return 0, fmt.Errorf("structure=channel: the model's FLOPs are unknown (some shapes are unknown until the model runs, and counting them on a run of the first calibration batch failed)")
		}
		return 0, fmt.Errorf("structure=channel: the model's FLOPs are unknown (some shapes could not be inferred; fix them with --dim)")
	}
	if err := channelScores(c, m, cands, cfg, src); err != nil {
		return 0, err
	}
	est, err := newFLOPsModel(m, cands, before.shape)
	if err != nil {
		return 0, err
	}
	target := cfg.amount * float64(before.flops)
	if most := est.removed(maxKeeps(cands)); most < target {
		return 0, fmt.Errorf("amount=%g: the prunable channel groups can remove at most %.1f%% of the FLOPs (each keeps ≥ %d%% of its channels; kept groups: %s)%s",
			cfg.amount, 100*most/float64(before.flops), int(math.Round(100*(1-maxChannelFraction))), skipText(skipped), hint)
	}
	// Choose, remove on a copy, measure the exact FLOPs, and aim again while
	// the estimate (which ignores elementwise ops) falls short.
	aim := target
	var keeps map[int][]int
	for try := 0; ; try++ {
		selectChannels(cands, est, aim, cfg.scope, cfg.multiple)
		keeps = keepLists(cands)
		trial := m.Clone()
		if err := removeAll(c, trial, keeps); err != nil {
			return 0, err
		}
		got, _, ok := flops.count(trial)
		if !ok {
			return 0, fmt.Errorf("structure=channel: FLOPs unknown after removing channels")
		}
		removed := float64(before.flops - got)
		if removed >= target {
			break
		}
		if try == 12 {
			got := removed / float64(before.flops)
			return 0, fmt.Errorf("amount=%g: could remove only %.1f%% of the FLOPs (FLOPs that channels do not scale, such as elementwise ops, make up the rest); ask for amount=%.2f or less", cfg.amount, 100*got, math.Floor(100*got)/100)
		}
		aim += (target-removed)*1.5 + 1e-3*float64(before.flops)
	}
	rowMap, err := keptRows(cands, keeps)
	if err != nil {
		return 0, err
	}
	rep := &Report{Structure: cfg.structure, Criterion: cfg.criterion, Scope: cfg.scope, Amount: cfg.amount,
		Reconstruct: cfg.reconstruct, Calibration: src.Origin(), Skipped: skipped, FLOPsOn: flops.on()}
	for _, cd := range cands {
		k := keeps[cd.g.ID]
		if k == nil {
			continue
		}
		rep.Layers = append(rep.Layers, LayerReport{Node: groupName(cd.g), Op: opsOf(cd.g), Weights: cd.g.Channels,
			Pruned: cd.g.Channels - cd.keep, ChannelsKept: cd.keep, ChannelsRemoved: cd.g.Channels - cd.keep,
			Scores: summarize(cd.scores, keepMask(cd.g.Channels, k)), Refit: "channels removed"})
	}
	if len(keeps) == 0 || !c.Allow() {
		return 0, nil
	}
	if err := removeAll(c, m, keeps); err != nil {
		return 0, err
	}
	refits, err := refitConsumers(c, m, float, rowMap, src, cfg)
	if err != nil {
		return 1, err
	}
	rep.Layers = append(rep.Layers, refits...)
	finishReport(c, rep, before, flops.measure(m), m, float, src)
	return 1, nil
}

// foldHint says how to prune the groups pinned by shape arithmetic (an
// exporter's x.view(x.size(0), -1): Shape, Gather, Concat, then a Reshape
// to the computed shape), which fold turns into constant shapes that the
// pass rewrites; "" when there are none.
func foldHint(skipped []Skip) string {
	shape, consts := 0, 0
	for _, s := range skipped {
		switch {
		case strings.Contains(s.Reason, "read by Shape node") || strings.Contains(s.Reason, "(non-constant shape)"):
			shape++
		case strings.Contains(s.Reason, "computed from constants (not folded)"):
			consts++
		}
	}
	var why []string
	if shape > 0 {
		why = append(why, "shape arithmetic (a Shape node, a Reshape to a computed shape)")
	}
	if consts > 0 {
		why = append(why, "operands computed from constants (a bias behind an Identity, say)")
	}
	n := shape + consts
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d channel %s pinned by %s: fold it into constants first (--passes fold,prune(…)) to prune %s",
		n, pluralize(n, "group is", "groups are"), strings.Join(why, " and by "), pluralize(n, "it", "them"))
}

func pluralize(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// channelFLOPs counts FLOPs as the pass compares models: at the inputs'
// sizes; or, where some shapes are unknown until the model runs (they
// depend on the data, as a detector's boxes after NonMaxSuppression do, or
// on a symbolic dim no size was given for) or an If/Loop body computes, on
// one run of the first calibration batch (passes.RunShapes), the same
// batch for every model, so that the fraction removed is that batch's.
type channelFLOPs struct {
	c      *passes.Context
	sample map[string]*interp.Tensor // nil: at the inputs' sizes
}

// firstBatch makes cf count on a run of src's first batch.
func (cf *channelFLOPs) firstBatch(src *calib.Source) error {
	first, err := src.Reopen(1)
	if err != nil {
		return err
	}
	defer first.Close()
	if cf.sample, err = first.Next(); err != nil {
		return fmt.Errorf("structure=channel: the first calibration batch, to count FLOPs on: %w", err)
	}
	return nil
}

// count returns m's FLOPs and the shapes they were counted with.
func (cf *channelFLOPs) count(m *onnx.Model) (int64, stats.ShapeFunc, bool) {
	if cf.sample == nil {
		shape := passes.SizedShapes(m, cf.c.InputDims())
		f, ok := stats.FLOPs(m, shape)
		return f, shape, ok
	}
	var cx context.Context = cf.c
	if cf.c.Context == nil {
		cx = context.Background()
	}
	return passes.RunFLOPs(cx, m, cf.c.InputDims(), cf.sample)
}

// measure is prune's measure with the FLOPs counted as count does.
func (cf *channelFLOPs) measure(m *onnx.Model) measures {
	ms := measure(cf.c, m)
	if cf.sample != nil {
		ms.flops, ms.shape, ms.flopsKnown = cf.count(m)
	}
	return ms
}

// on says where FLOPs were counted, for the report ("" at the inputs' sizes).
func (cf *channelFLOPs) on() string {
	if cf.sample == nil {
		return ""
	}
	return "one run of the first calibration batch (some shapes are unknown until the model runs)"
}

// weightPorts returns the ports of g on its producers' weights: which of
// each producer's output channels (rows) are the group's.
func weightPorts(g *chandep.Group) []chandep.Port {
	var out []chandep.Port
	for _, p := range g.Producers {
		if p.Input == 1 {
			out = append(out, p)
		}
	}
	return out
}

// keptRows returns, per producer that loses output channels, the float
// rows it keeps (for the refit): a producer's rows may belong to several
// groups, and rows of groups that keep everything stay.
func keptRows(cands []*candidate, keeps map[int][]int) (map[string][]int, error) {
	removed := map[*onnx.Node]map[int]bool{}
	var order []*onnx.Node
	for _, cd := range cands {
		k := keeps[cd.g.ID]
		if k == nil {
			continue
		}
		for _, p := range weightPorts(cd.g) {
			if removed[p.Node] == nil {
				removed[p.Node] = map[int]bool{}
				order = append(order, p.Node)
			}
			for c := 0; c < p.Count; c++ {
				if _, kept := slices.BinarySearch(k, p.First+c); !kept {
					removed[p.Node][p.Offset+c] = true
				}
			}
		}
	}
	out := map[string][]int{}
	for _, n := range order {
		l, why := newLayer(n)
		if why != "" {
			return nil, fmt.Errorf("%s: %s", n.Name, why)
		}
		var rows []int
		for r := 0; r < l.rows; r++ {
			if !removed[n][r] {
				rows = append(rows, r)
			}
		}
		out[n.Name] = rows
	}
	return out, nil
}

// removeAll removes, for each group ID of a fresh analysis of m, the
// channels not in keeps[ID] (the candidates were found on an equal model,
// and the analysis numbers groups the same way on equal models).
func removeAll(c *passes.Context, m *onnx.Model, keeps map[int][]int) error {
	if _, err := interp.InferShapes(m, interp.ShapeOptions{Dims: c.Dims}); err != nil {
		return err
	}
	groups, err := chandep.Analyze(m)
	if err != nil {
		return err
	}
	byID := map[int]*chandep.Group{}
	for _, g := range groups {
		byID[g.ID] = g
	}
	ids := make([]int, 0, len(keeps))
	for id := range keeps {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		g := byID[id]
		if g == nil {
			return fmt.Errorf("structure=channel: group %d not found again", id)
		}
		if err := chandep.Remove(m, g, keeps[id]); err != nil {
			return fmt.Errorf("structure=channel: %s: %w", groupName(g), err)
		}
	}
	_, err = interp.InferShapes(m, interp.ShapeOptions{Dims: c.Dims})
	return err
}

func groupName(g *chandep.Group) string {
	var names []string
	seen := map[*onnx.Node]bool{}
	for _, p := range g.Producers {
		if !seen[p.Node] {
			seen[p.Node] = true
			names = append(names, p.Node.Name)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("group %d", g.ID)
	}
	return strings.Join(names, "+")
}

func opsOf(g *chandep.Group) string {
	nodes := distinctNodes(g.Producers)
	if len(nodes) == 1 {
		return nodes[0].OpType
	}
	return fmt.Sprintf("%d layers", len(nodes))
}

func distinctNodes(ps []chandep.Port) []*onnx.Node {
	var out []*onnx.Node
	seen := map[*onnx.Node]bool{}
	for _, p := range ps {
		if !seen[p.Node] {
			seen[p.Node] = true
			out = append(out, p.Node)
		}
	}
	return out
}

func keepMask(n int, keep []int) []bool {
	mask := make([]bool, n)
	for _, k := range keep {
		mask[k] = true
	}
	return mask
}

// channelScores fills each candidate's per-channel importance.
// magnitude/l1: the mean |w| of the channel's rows in every producer, summed
// over producers; l2: their root mean square; taylor: Σ over calibration
// samples of |Σ_positions a·∂L/∂a| of the tensor the next layers read
// (after the producer's BatchNormalization and activation), summed over
// producers.
func channelScores(c *passes.Context, m *onnx.Model, cands []*candidate, cfg *config, src *calib.Source) error {
	if cfg.criterion != "taylor" {
		for _, cd := range cands {
			cd.scores = make([]float64, cd.g.Channels)
			for _, p := range weightPorts(cd.g) {
				l, why := newLayer(p.Node)
				if why != "" {
					return fmt.Errorf("%s: %s", p.Node.Name, why)
				}
				if p.Offset+p.Count > l.rows {
					return fmt.Errorf("%s: %d output channels, group reads %d from %d", p.Node.Name, l.rows, p.Count, p.Offset)
				}
				w, err := l.weights()
				if err != nil {
					return err
				}
				for c := 0; c < p.Count; c++ {
					o := p.Offset + c
					var s float64
					for k := 0; k < l.cols; k++ {
						v := float64(w[l.index(o, k)])
						if cfg.criterion == "l2" {
							s += v * v
						} else {
							s += math.Abs(v)
						}
					}
					s /= float64(l.cols)
					if cfg.criterion == "l2" {
						s = math.Sqrt(s)
					}
					cd.scores[p.First+c] += s
				}
			}
		}
		return nil
	}
	// Taylor: the activations the consumers read.
	// A producer's channels may fall in several groups (a residual stream
	// widened by a channel pad): each group takes its part of the scores.
	type share struct {
		cd *candidate
		p  chandep.Port
	}
	var acts []string
	owners := map[string][]share{}
	for _, cd := range cands {
		cd.scores = make([]float64, cd.g.Channels)
		for _, p := range weightPorts(cd.g) {
			a := readTensor(p.Node)
			if owners[a.Name] == nil {
				acts = append(acts, a.Name)
			}
			owners[a.Name] = append(owners[a.Name], share{cd, p})
		}
	}
	var mu sync.Mutex
	data, err := streamGradients(c, m, cfg, src, acts, acts, func(_ int, gs, vals map[string]*interp.Tensor) error {
		for _, name := range acts {
			a, g := vals[name], gs[name]
			av, err := interp.AsFloat32(a)
			if err != nil {
				return err
			}
			gv, err := interp.AsFloat32(g)
			if err != nil {
				return err
			}
			if len(av) != len(gv) || a.Rank() < 2 {
				return fmt.Errorf("taylor: %s: activation %v and gradient %v differ", name, a.Shape, g.Shape)
			}
			// Channel axis: 1 for NCHW, the last for [N, C] (and 2-D alike).
			n, ch := a.Shape[0], a.Shape[1]
			inner := len(av) / (n * ch)
			for _, sh := range owners[name] {
				if sh.p.Offset+sh.p.Count > ch {
					return fmt.Errorf("taylor: %s: %d channels on axis 1, group reads %d from %d", name, ch, sh.p.Count, sh.p.Offset)
				}
			}
			local := make([]float64, ch)
			for b := 0; b < n; b++ {
				for k := 0; k < ch; k++ {
					var s float64
					base := (b*ch + k) * inner
					for j := 0; j < inner; j++ {
						s += float64(av[base+j]) * float64(gv[base+j])
					}
					local[k] += math.Abs(s)
				}
			}
			mu.Lock()
			for _, sh := range owners[name] {
				for c := 0; c < sh.p.Count; c++ {
					sh.cd.scores[sh.p.First+c] += local[sh.p.Offset+c]
				}
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("criterion=taylor: %w", err)
	}
	c.Logf("taylor channel scores from gradients on %s", data.origin)
	return nil
}

// readTensor follows a producer's output through the per-channel ops that
// come right after it (BatchNormalization, activations) to the tensor the
// next layers read.
func readTensor(n *onnx.Node) *onnx.Value {
	v := n.Output(0)
	for {
		cs := v.Consumers()
		if len(cs) != 1 || v.IsGraphOutput() {
			return v
		}
		switch cs[0].OpType {
		case "BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Gelu", "Softplus", "PRelu":
			if cs[0].Input(0) != v {
				return v
			}
			v = cs[0].Output(0)
		default:
			return v
		}
	}
}

// flopsModel estimates a model's FLOPs when groups keep fewer channels: a
// node's FLOPs scale with the kept fraction of each channel axis it has (a
// Conv between two pruned groups by both), and an axis laid out from
// several groups (a Concat's, a producer's whose channels a channel pad
// splits) keeps the mean of their fractions, weighted by their widths.
type flopsModel struct {
	total float64
	nodes []nodeCost
}

type nodeCost struct {
	flops float64
	axes  []axisCost
}

// axisCost is one channel axis of a node: the share of its width each
// candidate holds; the rest belongs to no candidate and stays.
type axisCost struct {
	parts []axisPart
	rest  float64
}

type axisPart struct {
	cand  int
	share float64
}

func (a axisCost) kept(keep []float64) float64 {
	f := a.rest
	for _, p := range a.parts {
		f += p.share * keep[p.cand]
	}
	return f
}

func newFLOPsModel(m *onnx.Model, cands []*candidate, shape stats.ShapeFunc) (*flopsModel, error) {
	// The axes of each node: its ports by (input, axis).
	type key struct{ input, axis int }
	byNode := map[*onnx.Node]map[key][]axisPart{}
	for i, cd := range cands {
		for _, ps := range [][]chandep.Port{cd.g.Producers, cd.g.Consumers} {
			for _, p := range ps {
				t := passes.ConstTensor(p.Node.Input(p.Input))
				if t == nil || p.Axis >= len(t.Dims) || t.Dims[p.Axis] == 0 {
					return nil, fmt.Errorf("structure=channel: %s: port on a non-constant input", p)
				}
				if byNode[p.Node] == nil {
					byNode[p.Node] = map[key][]axisPart{}
				}
				k := key{p.Input, p.Axis}
				byNode[p.Node][k] = append(byNode[p.Node][k], axisPart{i, float64(p.Count*max(p.Stride, 1)) / float64(t.Dims[p.Axis])})
			}
		}
	}
	fm := &flopsModel{}
	for _, n := range m.Graph.Nodes {
		f, counted, ok := stats.NodeFLOPs(n, shape)
		if counted && !ok {
			return nil, fmt.Errorf("structure=channel: FLOPs of %s unknown", n.Name)
		}
		fm.total += float64(f)
		axes := byNode[n]
		if len(axes) == 0 || f <= 0 {
			continue
		}
		keys := make([]key, 0, len(axes))
		for k := range axes {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b key) int { return cmp.Or(a.input-b.input, a.axis-b.axis) })
		// One axis per distinct layout: a weight's bias, a depthwise conv's
		// bias and BatchNormalization's four parameters index the same
		// channels as another input; two axes of one input (a conv whose
		// input and output channels are one group) are two.
		nc := nodeCost{flops: float64(f)}
		seen := map[string]int{} // layout → input that gave it
		for _, k := range keys {
			parts := axes[k]
			sig := fmt.Sprint(parts)
			if in, ok := seen[sig]; ok && in != k.input {
				continue
			}
			seen[sig] = k.input
			a := axisCost{parts: parts, rest: 1}
			for _, p := range parts {
				a.rest -= p.share
			}
			a.rest = max(a.rest, 0)
			nc.axes = append(nc.axes, a)
		}
		fm.nodes = append(fm.nodes, nc)
	}
	return fm, nil
}

// removed estimates the FLOPs removed when candidate i keeps keep[i] channels.
func (fm *flopsModel) removed(keep []float64) float64 {
	var r float64
	for _, n := range fm.nodes {
		f := 1.0
		for _, a := range n.axes {
			f *= a.kept(keep)
		}
		r += n.flops * (1 - f)
	}
	return r
}

// perChannel is the FLOPs one channel of each candidate costs, with every
// group at full width.
func (fm *flopsModel) perChannel(cands []*candidate) []float64 {
	out := make([]float64, len(cands))
	for _, n := range fm.nodes {
		for _, a := range n.axes {
			for _, p := range a.parts {
				out[p.cand] += n.flops * p.share / float64(cands[p.cand].g.Channels)
			}
		}
	}
	return out
}

// maxKeeps is every candidate pruned as far as allowed, as kept fractions.
func maxKeeps(cands []*candidate) []float64 {
	out := make([]float64, len(cands))
	for i, cd := range cands {
		out[i] = float64(minKeep(cd.g.Channels)) / float64(cd.g.Channels)
	}
	return out
}

func minKeep(ch int) int { return max(1, int(math.Ceil(float64(ch)*(1-maxChannelFraction)))) }

// selectChannels sets each candidate's keep so that about aim FLOPs go.
// scope=layer: one fraction for every group, the smallest that reaches aim
// (bisection); scope=global: channels in order of their score normalized by
// its group's mean, lowest first, until aim is reached.
func selectChannels(cands []*candidate, est *flopsModel, aim float64, scope string, multiple int) {
	fracs := make([]float64, len(cands))
	set := func(f float64) {
		for i, cd := range cands {
			cd.keep = roundKeep(max(minKeep(cd.g.Channels), cd.g.Channels-int(math.Round(f*float64(cd.g.Channels)))), cd.g.Channels, multiple, cd.g.Blocks)
			fracs[i] = float64(cd.keep) / float64(cd.g.Channels)
		}
	}
	if scope == "layer" {
		lo, hi := 0.0, maxChannelFraction
		for it := 0; it < 40; it++ {
			mid := (lo + hi) / 2
			set(mid)
			if est.removed(fracs) >= aim {
				hi = mid
			} else {
				lo = mid
			}
		}
		set(hi)
		return
	}
	type ch struct {
		cand  int
		score float64
	}
	var all []ch
	// A channel's priority is its score over its group's mean score, per
	// FLOP its removal saves (relative to the mean saving): cheap channels
	// of a layer that costs little are not worth their accuracy.
	cost := est.perChannel(cands)
	var meanCost float64
	for _, c := range cost {
		meanCost += c / float64(len(cost))
	}
	for i, cd := range cands {
		cd.keep = cd.g.Channels
		fracs[i] = 1
		var mean float64
		for _, s := range cd.scores {
			mean += s
		}
		mean /= float64(len(cd.scores))
		for _, s := range cd.scores {
			all = append(all, ch{i, s / math.Max(mean, 1e-30) / math.Max(cost[i]/meanCost, 1e-9)})
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].score < all[b].score })
	for _, x := range all {
		if est.removed(fracs) >= aim {
			return
		}
		cd := cands[x.cand]
		if cd.keep <= minKeep(cd.g.Channels) {
			continue
		}
		cd.keep--
		fracs[x.cand] = float64(cd.keep) / float64(cd.g.Channels)
	}
	for _, cd := range cands {
		cd.keep = roundKeep(cd.keep, cd.g.Channels, multiple, cd.g.Blocks)
	}
}

// roundKeep rounds a kept channel count up to a multiple of m for groups of
// at least 8·m channels: runtimes' convolution kernels block channels by 8
// or 16 (ONNX Runtime's NCHWc, TensorRT), and a layer of 101 channels can
// run slower than one of 144. A group a grouped conv makes or reads
// (blocks > 1) keeps a multiple of its blocks (as many in each), and of m
// too where both fit below its width.
func roundKeep(keep, channels, m, blocks int) int {
	step := max(blocks, 1)
	if m > 1 && channels >= 8*m {
		if l := lcm(step, m); step == 1 || l < channels {
			step = l
		}
	}
	return min(channels, (keep+step-1)/step*step)
}

func lcm(a, b int) int {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}

// keepLists returns, per group ID that loses channels, the kept channels:
// the highest-scored, in channel order.
func keepLists(cands []*candidate) map[int][]int {
	out := map[int][]int{}
	for _, cd := range cands {
		if cd.keep >= cd.g.Channels {
			continue
		}
		idx := make([]int, cd.g.Channels)
		for i := range idx {
			idx[i] = i
		}
		best := func(idx []int) {
			sort.SliceStable(idx, func(a, b int) bool { return cd.scores[idx[a]] > cd.scores[idx[b]] })
		}
		var keep []int
		if b := cd.g.Blocks; b > 1 {
			// as many from each of a grouped conv's groups
			w := cd.g.Channels / b
			for j := range b {
				blk := idx[j*w : (j+1)*w]
				best(blk)
				keep = append(keep, blk[:cd.keep/b]...)
			}
		} else {
			best(idx)
			keep = append(keep, idx[:cd.keep]...)
		}
		sort.Ints(keep)
		out[cd.g.ID] = keep
	}
	return out
}

// refitConsumers refits, in graph order, every Conv/Gemm/MatMul whose input
// lost channels, on its remaining input channels, toward the float layer's
// output; rowMap gives the float rows of layers that lost output channels.
func refitConsumers(c *passes.Context, m, float *onnx.Model, rowMap map[string][]int, src *calib.Source, cfg *config) ([]LayerReport, error) {
	floatNodes := map[string]*onnx.Node{}
	for _, n := range float.Graph.Nodes {
		floatNodes[n.Name] = n
	}
	var out []LayerReport
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "Conv", "Gemm", "MatMul":
		default:
			continue
		}
		fn := floatNodes[n.Name]
		if fn == nil || n.Name == "" {
			continue
		}
		lp, why := newLayer(n)
		if why != "" {
			continue
		}
		lf, why := newLayer(fn)
		if why != "" || lf.cols == lp.cols || lp.groups != lf.groups {
			continue // input unchanged (or a depthwise conv, which only lost whole groups)
		}
		lr := LayerReport{Node: lp.name(), Op: n.OpType, Weights: lf.rows * lf.cols, Pruned: lf.rows*lf.cols - lp.rows*lp.cols, Refit: "off"}
		if lp.cols > maxGramCols || !lp.affine() {
			lr.Refit = fmt.Sprintf("skipped: %d columns > %d", lp.cols, maxGramCols)
			if !lp.affine() {
				lr.Refit = "skipped: Gemm with alpha or beta ≠ 1"
			}
			out = append(out, lr)
			continue
		}
		rows := rowMap[n.Name]
		if rows == nil {
			rows = make([]int, lp.rows)
			for i := range rows {
				rows[i] = i
			}
		}
		if len(rows) != lp.rows {
			return nil, fmt.Errorf("%s: %d rows, %d kept float rows", lp.name(), lp.rows, len(rows))
		}
		wp, err := lp.weights()
		if err != nil {
			return nil, err
		}
		bp, err := lp.biasValues()
		if err != nil {
			return nil, err
		}
		wf, err := lf.weights()
		if err != nil {
			return nil, err
		}
		bf, err := lf.biasValues()
		if err != nil {
			return nil, err
		}
		solveBias := lp.hasBiasSlot()
		og := lp.rows / lp.groups
		newW := append([]float32(nil), wp...)
		newB := append([]float32(nil), bp...)
		// Each group's float rows (weights and bias) and pruned rows.
		theta0s := make([][][]float64, lp.groups)
		starts := make([][][]float64, lp.groups)
		for g := range theta0s {
			theta0 := make([][]float64, og)
			start := make([][]float64, og)
			for j := 0; j < og; j++ {
				o := g*og + j
				fo := rows[o]
				th := make([]float64, lf.cols+1)
				for k := 0; k < lf.cols; k++ {
					th[k] = float64(wf[lf.index(fo, k)])
				}
				th[lf.cols] = float64(bf[fo])
				st := make([]float64, lp.cols+1)
				for k := 0; k < lp.cols; k++ {
					st[k] = float64(wp[lp.index(o, k)])
				}
				st[lp.cols] = float64(bp[o])
				theta0[j], start[j] = th, st
			}
			theta0s[g], starts[g] = theta0, start
		}
		grams, checks, err := layerStats(c, m, float, lp, lf, src, theta0s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", lp.name(), err)
		}
		all := make([]int, lp.cols)
		for k := range all {
			all[k] = k
		}
		var tot refitTotals
		for g, gm := range grams {
			kept := make([][]int, og)
			for j := range kept {
				kept[j] = all
			}
			res, f, err := refitRows(gm, checks[g], starts[g], kept, cfg.reconstruct, solveBias, cfg.ridge)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", lp.name(), err)
			}
			tot.add(f, lp, res, g*og, newW, newB)
		}
		tot.report(&lr)
		if tot.refitted > 0 {
			for _, v := range newW {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return nil, fmt.Errorf("%s: refit produced a non-finite weight", lp.name())
				}
			}
			lp.setWeights(newW)
			if solveBias {
				lp.setBias(newB)
			}
			lr.Refit = "refit"
		} else if cfg.reconstruct {
			lr.Refit = cmp.Or(tot.note, "kept the pruned weights: the refit did not lower the error")
		}
		out = append(out, lr)
	}
	return out, nil
}
