// Package lowrank splits Gemm, MatMul, Conv and ConvTranspose layers into
// two thinner ones by a truncated SVD of their weight, W ≈ A·B, when the
// two are smaller and cheaper than the one. Plain SVD minimises ‖W − A·B‖;
// method=data minimises the error on the layer's output over calibration
// inputs X, ‖(W − A·B)·X‖, by whitening with X's covariance before the SVD
// (as SVD-LLM). Ranks come from an energy threshold per layer or from a
// budget for the whole model, shared out greedily by output error per
// parameter (or FLOP) saved.
package lowrank

import (
	"container/heap"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/onnxslim/onnxslim/internal/stats"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
)

func init() {
	passes.Register(&passes.Pass{
		Name: "lowrank",
		Doc:  "SVD layer splitting: Gemm/MatMul/Conv/ConvTranspose weights factored W ≈ A·B into two layers where that is smaller and cheaper (lossy)",
		Options: []passes.Option{
			{Name: "method", Kind: passes.OptEnum, Default: "svd", Enum: []string{"svd", "data"},
				Doc: "svd: plain truncated SVD; data: whitened by the calibration inputs' covariance (SVD-LLM), least output error"},
			{Name: "energy", Kind: passes.OptFloat, Default: "0.95", Doc: "keep per layer the smallest rank holding this fraction of the squared singular values, in (0,1] (when ratio is 0)"},
			{Name: "ratio", Kind: passes.OptFloat, Default: "0", Doc: "budget: the model keeps at most this fraction of its parameters (or FLOPs, see budget), in (0,1); 0: use energy"},
			{Name: "budget", Kind: passes.OptEnum, Default: "params", Enum: []string{"params", "flops"}, Doc: "what ratio counts"},
			{Name: "scope", Kind: passes.OptEnum, Default: "model", Enum: []string{"model", "layers"},
				Doc: "what ratio is a fraction of: the whole model, or the layers that may be split (after only and exclude)"},
			{Name: "min_rank", Kind: passes.OptInt, Default: "1", Doc: "no layer is split below this rank"},
			{Name: "min_saving", Kind: passes.OptFloat, Default: "0.1",
				Doc: "cost rule: a layer is split only if that saves at least this fraction of its weights and FLOPs (two thin layers run slower than their FLOPs say; TestResNet18Energy measures it in ONNX Runtime)"},
			{Name: "allow_slower", Kind: passes.OptBool, Default: "false",
				Doc: "drop the cost rule: split wherever weights and FLOPs shrink at all, even if the model may run slower"},
			{Name: "conv", Kind: passes.OptEnum, Default: "channel", Enum: []string{"channel", "spatial"},
				Doc: "channel: k×k conv to r channels then 1×1; spatial: k×1 conv to r channels then 1×k (Jaderberg)"},
			{Name: "exclude", Kind: passes.OptList, Default: "", Doc: "node names or op types left whole; * matches any characters (exclude=*attn*)"},
			{Name: "only", Kind: passes.OptList, Default: "", Doc: "if given, only these node names or op types are split; * matches any characters (only=[*linear*])"},
			{Name: "ranks", Kind: passes.OptList, Default: "",
				Doc: "fixed ranks NAME:R (NAME a node name, pattern or op type, as in only; the first match counts): those layers at those ranks, no others (instead of energy or ratio; min_saving does not apply)"},
			{Name: "calib", Kind: passes.OptString, Default: "", Doc: "calibration data folder for method=data (empty: the CLI's --inputs, else seeded random inputs)"},
			{Name: "samples", Kind: passes.OptInt, Default: "0", Doc: "max calibration samples (0: the whole folder, or 64 seeded random inputs)"},
			{Name: "ridge", Kind: passes.OptFloat, Default: "0.01", Doc: "added to the covariance's diagonal, relative to its mean, before the Cholesky factorisation"},
			{Name: "max_memory", Kind: passes.OptInt, Default: "1GiB",
				Doc: "the input covariances that method=data and compare collect (up to 64 MiB a layer) are held in at most about this much memory: beyond it they are collected in groups, one calibration run each, and kept in a temporary file (same results, more runs)"},
			{Name: "compare", Kind: passes.OptBool, Default: "false", Doc: "also run the other method at the same ranks and report both layers' output errors"},
			{Name: "svd", Kind: passes.OptEnum, Default: "auto", Enum: []string{"auto", "exact", "randomized"},
				Doc: "SVD algorithm: auto uses the randomized SVD (Halko-Martinsson-Tropp) for a low rank of a large matrix"},
			{Name: "report", Kind: passes.OptInt, Default: "8", Doc: "samples on which the report compares the graph outputs with the original's (0: none)"},
		},
		Requires: []*passes.Analysis{passes.Shapes},
		Lossy:    true,
		Run:      run,
	})
}

// config is the parsed options.
type config struct {
	method, conv, budget, calib string
	scope                       string
	energy, ratio, minSaving    float64
	ridge                       float64
	minRank, samples, report    int
	maxMemory                   int64
	compare, allowSlower        bool
	svd                         svdMode
	exclude, only               []string
	ranks                       []fixedRank
}

// fixedRank is one entry of the ranks option.
type fixedRank struct {
	pattern string
	rank    int
}

func parseRanks(list []string) ([]fixedRank, error) {
	var out []fixedRank
	for _, e := range list {
		i := strings.LastIndexByte(e, ':')
		if i <= 0 {
			return nil, fmt.Errorf("ranks: %q is not NAME:RANK", e)
		}
		r, err := strconv.Atoi(e[i+1:])
		if err != nil || r < 1 {
			return nil, fmt.Errorf("ranks: %q: the rank must be a whole number ≥ 1", e)
		}
		out = append(out, fixedRank{pattern: e[:i], rank: r})
	}
	return out, nil
}

// fixed is the rank that the ranks option gives n (0: none).
func (cfg *config) fixed(n *onnx.Node) int {
	for _, f := range cfg.ranks {
		if f.pattern == n.OpType || globMatch(f.pattern, n.Name) {
			return f.rank
		}
	}
	return 0
}

func parseConfig(o passes.Values) (*config, error) {
	cfg := &config{
		method: o.String("method"), conv: o.String("conv"), budget: o.String("budget"), calib: o.String("calib"), scope: o.String("scope"),
		energy: o.Float("energy"), ratio: o.Float("ratio"), minSaving: o.Float("min_saving"), ridge: o.Float("ridge"),
		minRank: int(o.Int("min_rank")), samples: int(o.Int("samples")), report: int(o.Int("report")), maxMemory: o.Int("max_memory"),
		compare: o.Bool("compare"), allowSlower: o.Bool("allow_slower"), svd: svdMode(o.String("svd")),
		exclude: o.List("exclude"), only: o.List("only"),
	}
	switch {
	case !(cfg.energy > 0 && cfg.energy <= 1):
		return nil, fmt.Errorf("energy=%g: must be in (0, 1]", cfg.energy)
	case !(cfg.ratio >= 0 && cfg.ratio < 1):
		return nil, fmt.Errorf("ratio=%g: must be in (0, 1) (0: use energy)", cfg.ratio)
	case cfg.minRank < 1:
		return nil, fmt.Errorf("min_rank=%d: must be at least 1", cfg.minRank)
	case !(cfg.minSaving >= 0 && cfg.minSaving < 1):
		return nil, fmt.Errorf("min_saving=%g: must be in [0, 1)", cfg.minSaving)
	case !(cfg.ridge >= 0) || math.IsInf(cfg.ridge, 0):
		return nil, fmt.Errorf("ridge=%g: must be a number ≥ 0", cfg.ridge)
	case cfg.samples < 0:
		return nil, fmt.Errorf("samples=%d: must be ≥ 0", cfg.samples)
	case cfg.maxMemory < 1:
		return nil, fmt.Errorf("max_memory=%d: must be at least 1 byte", cfg.maxMemory)
	}
	if cfg.allowSlower {
		cfg.minSaving = 0
	}
	var err error
	if cfg.ranks, err = parseRanks(o.List("ranks")); err != nil {
		return nil, err
	}
	if len(cfg.ranks) > 0 && cfg.ratio > 0 {
		return nil, fmt.Errorf("ranks and ratio=%g: give one of them", cfg.ratio)
	}
	return cfg, nil
}

// selects reports whether n is named by a list entry: its op type or its
// name, exactly or as a pattern where * matches any run of characters.
func selects(list []string, n *onnx.Node) bool {
	for _, p := range list {
		if p == n.OpType || globMatch(p, n.Name) {
			return true
		}
	}
	return false
}

// globMatch matches s against p, where * stands for any characters ('/'
// included, unlike path.Match: node names are paths).
func globMatch(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// candidate is a layer with its spectra and the rank chosen: what rank
// selection needs, not its weight (see layer.matrix).
type candidate struct {
	*layer
	plain, data *spectrum   // singular values of W and of W·L (no vectors)
	cov         *covariance // its input's (method=data or compare; nil: none)
	rmax        int         // the largest rank at which a split pays (0: none)
	rank        int         // chosen (0: left whole)
	note        string
}

// whitener is the candidate's whitener (nil without a covariance): made
// when its layer is processed, as its matrix is, rather than kept.
func (cd *candidate) whitener(ridge float64) (*whitener, error) {
	if cd.cov == nil {
		return nil, nil
	}
	wh, err := newWhitener(cd.cov.sym(), ridge)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", cd.name(), err)
	}
	return wh, nil
}

// spec is the spectrum the chosen method ranks by.
func (c *candidate) spec(method string) *spectrum {
	if method == "data" && c.data != nil {
		return c.data
	}
	return c.plain
}

func run(c *passes.Context, m *onnx.Model) (int, error) {
	cfg, err := parseConfig(c.Options)
	if err != nil {
		return 0, err
	}
	lifted := passes.WeightsToInitializers(c, m, false)
	n, err := lowRank(c, m, cfg)
	return lifted + n, err
}

// lowRank is the pass once every weight is an initializer.
func lowRank(c *passes.Context, m *onnx.Model, cfg *config) (int, error) {
	if _, err := passes.Get[*interp.ShapeInfo](c, passes.Shapes); err != nil {
		c.Logf("shapes could not be inferred (%v): FLOPs are per position", err)
	}
	rep := &Report{Method: cfg.method, Conv: cfg.conv, Budget: cfg.budget, Layers: []Layer{}}
	if cfg.ratio > 0 {
		rep.Ratio = cfg.ratio
	} else if len(cfg.ranks) == 0 {
		rep.Energy = cfg.energy
	}
	var orig *onnx.Model // shares the weights' payloads (Clone copies no tensor bytes)
	if cfg.report > 0 {
		orig = m.Clone()
	}
	// FLOPs at the generated inputs' sizes where the model's are symbolic.
	shape := passes.SizedShapes(m, c.InputDims())
	var cands []*candidate
	for _, n := range m.Graph.Nodes {
		if len(cfg.only) > 0 && !selects(cfg.only, n) {
			continue
		}
		if selects(cfg.exclude, n) {
			continue
		}
		if len(cfg.ranks) > 0 && cfg.fixed(n) == 0 {
			continue
		}
		l, why := recognize(n, cfg.conv, shape)
		if l == nil {
			if why != "" {
				rep.Skipped = append(rep.Skipped, Skip{Node: nodeName(n), Op: n.OpType, Reason: why})
				c.Logf("%s %s: skipped: %s", n.OpType, nodeName(n), why)
			}
			continue
		}
		cd := &candidate{layer: l}
		saving := cfg.minSaving
		if len(cfg.ranks) > 0 {
			saving = 0 // the user chose the rank: only "smaller and cheaper" holds
		}
		cd.rmax = cd.maxRank(saving)
		if cd.rmax < cfg.minRank {
			sk := Skip{Node: l.name(), Op: l.op,
				Reason: fmt.Sprintf("a %d×%d matrix: no rank ≥ min_rank=%d saves %.0f%% of its weights and FLOPs", l.rows, l.cols, cfg.minRank, 100*max(cfg.minSaving, 0))}
			rep.Skipped = append(rep.Skipped, sk)
			c.Logf("%s %s: skipped: %s", sk.Op, sk.Node, sk.Reason)
			continue
		}
		cands = append(cands, cd)
	}
	if len(cands) == 0 && cfg.ratio > 0 {
		return 0, fmt.Errorf("ratio=%g is out of reach: no layer can be split (%d skipped: see the log; min_saving=%g)", cfg.ratio, len(rep.Skipped), cfg.minSaving)
	}
	if len(cands) == 0 {
		c.Logf("no layer to split")
		c.Detail(rep)
		return 0, nil
	}
	if cfg.method == "data" || cfg.compare {
		var layers []*layer
		for _, cd := range cands {
			layers = append(layers, cd.layer)
		}
		covs, origin, err := covariances(c, m, layers, cfg.calib, cfg.samples, cfg.maxMemory)
		if err != nil {
			return 0, err
		}
		rep.Calibration = origin
		for _, cd := range cands {
			if cd.cov = covs[cd.layer]; cd.cov == nil && cfg.method == "data" {
				cd.note = "no data-aware path (input features unsupported or wider than 4096): plain SVD"
				c.Logf("%s %s: %s", cd.op, cd.name(), cd.note)
			}
		}
	}
	if err := factorizeAll(c, cands, cfg); err != nil {
		return 0, err
	}
	switch {
	case len(cfg.ranks) > 0:
		for _, cd := range cands {
			r := cfg.fixed(cd.node)
			if r > cd.rmax {
				cd.note = fmt.Sprintf("ranks: rank %d > %d, the largest at which two layers are smaller and cheaper than one", r, cd.rmax)
				c.Logf("%s %s: left whole: %s", cd.op, cd.name(), cd.note)
				continue
			}
			cd.rank = r
		}
	case cfg.ratio > 0:
		if err := allocate(m, shape, cands, cfg); err != nil {
			return 0, err
		}
	default:
		for _, cd := range cands {
			s := cd.spec(cfg.method)
			r, ok := s.rankFor(cfg.energy)
			r = max(r, cfg.minRank)
			if !ok || r > cd.rmax {
				cd.note = fmt.Sprintf("energy=%g needs rank %s > %d, the largest that saves %.0f%% (min_saving; allow_slower=true drops that rule)", cfg.energy, rankText(r, ok), cd.rmax, 100*cfg.minSaving)
				c.Logf("%s %s: left whole: %s", cd.op, cd.name(), cd.note)
				continue
			}
			cd.rank = r
		}
	}
	rewrites := 0
	for _, cd := range cands {
		lr, err := cd.apply(m, cfg, c)
		if err != nil {
			return rewrites, err
		}
		if lr.Split {
			rewrites++
		}
		rep.Layers = append(rep.Layers, lr)
		rep.ParamsBefore += lr.ParamsBefore
		rep.ParamsAfter += lr.ParamsAfter
		rep.FLOPsBefore += lr.FLOPsBefore
		rep.FLOPsAfter += lr.FLOPsAfter
	}
	c.Logf("split %d of %d candidate layers: weights %d → %d, FLOPs %d → %d", rewrites, len(cands),
		rep.ParamsBefore, rep.ParamsAfter, rep.FLOPsBefore, rep.FLOPsAfter)
	if rewrites > 0 && orig != nil {
		if err := measureOutputs(c, orig, m, cfg, rep); err != nil {
			c.Logf("output comparison skipped: %v", err)
		}
	}
	c.Detail(rep)
	return rewrites, nil
}

func rankText(r int, ok bool) string {
	if ok {
		return fmt.Sprint(r)
	}
	return fmt.Sprintf("> %d", r)
}

// maxRank is the largest rank whose split saves at least the fraction
// minSaving of the weights and the FLOPs (and some of each).
func (cd *candidate) maxRank(minSaving float64) int {
	p0, f0 := float64(cd.params(0)), float64(cd.flops(0))
	for r := cd.fullRank(); r >= 1; r-- {
		p, f := float64(cd.params(r)), float64(cd.flops(r))
		if p < p0 && f < f0 && p <= (1-minSaving)*p0 && f <= (1-minSaving)*f0 {
			return r
		}
	}
	return 0
}

// factorizeAll computes each candidate's singular values: of W, and of
// W·L where there is a covariance. Ranks are chosen from them; the factors
// come later, for the layers that are split.
func factorizeAll(c *passes.Context, cands []*candidate, cfg *config) error {
	for _, cd := range cands {
		if err := c.Err(); err != nil {
			return err
		}
		if err := cd.spectra(cfg); err != nil {
			return err
		}
	}
	return nil
}

// spectra sets the candidate's singular values; its matrices are dropped
// on return.
func (cd *candidate) spectra(cfg *config) error {
	w, err := cd.matrix()
	if err != nil {
		return fmt.Errorf("node %s: %w", cd.name(), err)
	}
	wh, err := cd.whitener(cfg.ridge)
	if err != nil {
		return err
	}
	values := singularValues
	if r := cfg.fixed(cd.node); r > 0 && cfg.svd == "randomized" {
		// The rank and the randomized SVD are the user's: the report's
		// energy comes from its values (and the exact Frobenius norm)
		// rather than from every singular value, whose exact SVD per
		// layer is what makes a large model slow.
		values = func(a *mat.Dense) (*spectrum, bool) {
			s, ok := truncated(a, min(r, cd.fullRank()), cfg.svd)
			if ok {
				s.U, s.V = nil, nil // values only, as singularValues gives
			}
			return s, ok
		}
	}
	if cfg.method == "svd" || cfg.compare || wh == nil {
		s, ok := values(w)
		if !ok {
			return fmt.Errorf("node %s: the SVD of its %d×%d weight did not converge", cd.name(), cd.rows, cd.cols)
		}
		cd.plain = s
	}
	if wh != nil {
		s, ok := values(wh.apply(w))
		if !ok {
			return fmt.Errorf("node %s: the SVD of its whitened %d×%d weight did not converge", cd.name(), cd.rows, cd.cols)
		}
		cd.data = s
	}
	return nil
}

// factors returns the rank-r factors A (rows×r), B (r×cols) of w by one
// method (data: whitened by wh), and whether the randomized SVD made them.
func (cd *candidate) factors(w *mat.Dense, wh *whitener, method string, r int, mode svdMode) (a, b *mat.Dense, randomized bool, err error) {
	if method == "data" && cd.data != nil {
		s, ok := truncated(wh.apply(w), r, mode)
		if !ok {
			return nil, nil, false, fmt.Errorf("the SVD of the whitened weight did not converge")
		}
		a, bt := s.factors(r)
		b, err := wh.unwhiten(bt)
		return a, b, s.Randomized, err
	}
	s, ok := truncated(w, r, mode)
	if !ok {
		return nil, nil, false, fmt.Errorf("the SVD of the weight did not converge")
	}
	a, b = s.factors(r)
	return a, b, s.Randomized, nil
}

// apply splits the candidate at its rank (if any) and reports it.
func (cd *candidate) apply(m *onnx.Model, cfg *config, c *passes.Context) (Layer, error) {
	s := cd.spec(cfg.method)
	lr := Layer{
		Node: cd.name(), Op: cd.op, Weight: cd.dims, Matrix: [2]int{cd.rows, cd.cols}, FullRank: cd.fullRank(),
		ParamsBefore: cd.params(0), FLOPsBefore: cd.flops(0), FLOPsKnown: cd.flopsKnown, Note: cd.note,
	}
	lr.ParamsAfter, lr.FLOPsAfter = lr.ParamsBefore, lr.FLOPsBefore
	if cd.rank == 0 || !c.Allow() {
		lr.Energy = 1
		return lr, nil
	}
	r := cd.rank
	method := cfg.method
	if cd.data == nil {
		method = "svd"
	}
	// W (and its whitener) again, for this layer only: dropped on return.
	w, err := cd.matrix()
	if err != nil {
		return lr, fmt.Errorf("node %s: %w", cd.name(), err)
	}
	wh, err := cd.whitener(cfg.ridge)
	if err != nil {
		return lr, err
	}
	a, b, randomized, err := cd.factors(w, wh, method, r, cfg.svd)
	if err != nil {
		return lr, fmt.Errorf("node %s: %w", cd.name(), err)
	}
	lr.SVD = "exact"
	if randomized {
		lr.SVD = "randomized"
	}
	lr.Rank, lr.Split = r, true
	if s.Total > 0 {
		lr.Energy = s.kept(r) / s.Total
	} else {
		lr.Energy = 1
	}
	lr.ParamsAfter, lr.FLOPsAfter = cd.params(r), cd.flops(r)
	var ab mat.Dense
	ab.Mul(a, b)
	lr.WeightErr = relFrob(w, &ab)
	if wh != nil {
		errOf := func(other string) float64 {
			if (other == "svd" && cd.plain == nil) || (other == "data" && cd.data == nil) {
				return math.NaN()
			}
			a, b := a, b
			if other != method {
				var err error
				if a, b, _, err = cd.factors(w, wh, other, r, cfg.svd); err != nil {
					return math.NaN()
				}
			}
			var ab mat.Dense
			ab.Mul(a, b)
			return wh.relErr(w, &ab)
		}
		lr.ErrSVD, lr.ErrData = fptr(errOf("svd")), fptr(errOf("data"))
	}
	split(m, cd.layer, a, b)
	c.Logf("%s %s: %d×%d → rank %d (energy %.3f): weights %d → %d%s", cd.op, cd.name(), cd.rows, cd.cols, r, lr.Energy,
		lr.ParamsBefore, lr.ParamsAfter, errText(lr))
	return lr, nil
}

func errText(lr Layer) string {
	var parts []string
	if lr.ErrSVD != nil {
		parts = append(parts, fmt.Sprintf("svd %.4f", *lr.ErrSVD))
	}
	if lr.ErrData != nil {
		parts = append(parts, fmt.Sprintf("data %.4f", *lr.ErrData))
	}
	if len(parts) == 0 {
		return fmt.Sprintf(", weight error %.4f", lr.WeightErr)
	}
	return ", output error " + strings.Join(parts, ", ")
}

// relFrob is ‖w − approx‖/‖w‖; approx is overwritten with the difference
// (one rows×cols matrix less at the pass's peak).
func relFrob(w, approx *mat.Dense) float64 {
	approx.Sub(w, approx)
	d := frob2(w)
	if d == 0 {
		return 0
	}
	return sqrt(frob2(approx) / d)
}

// measureOutputs compares the graph outputs of the split model with the
// original's on the first cfg.report calibration samples.
func measureOutputs(c *passes.Context, orig, m *onnx.Model, cfg *config, rep *Report) error {
	src, err := calib.Open(c, orig, cfg.calib, cfg.report)
	if err != nil {
		return err
	}
	defer src.Close()
	ms, err := calib.NewMeasurer(c, orig, src, cfg.report)
	if err != nil {
		return err
	}
	ag, err := ms.Agreement(m)
	if err != nil {
		return err
	}
	rep.Output = &Output{Samples: ag.Samples, Cosine: ag.Cosine, RelL2: ag.RelL2}
	if math.IsNaN(ag.Cosine) {
		rep.Output.Cosine, rep.Output.RelL2 = -1, -1
	}
	c.Logf("graph outputs on %s: cosine %.5f, relative L2 %.4g", src.Origin(), ag.Cosine, ag.RelL2)
	return nil
}

// allocate chooses ranks so that the model keeps at most cfg.ratio of its
// parameters (or FLOPs): greedily, the step that adds the least relative
// output error (squared, per the ranking method's spectrum) per unit saved
// is taken first — first splitting a layer at its largest paying rank,
// then lowering ranks one at a time — until the budget holds.
func allocate(m *onnx.Model, shape stats.ShapeFunc, cands []*candidate, cfg *config) error {
	cost := func(cd *candidate, r int) int64 {
		if cfg.budget == "flops" {
			return cd.flops(r)
		}
		return cd.params(r)
	}
	var total int64
	switch {
	case cfg.scope == "layers":
		for _, cd := range cands {
			total += cost(cd, 0)
		}
	case cfg.budget == "flops":
		f, ok := stats.FLOPs(m, shape)
		if !ok {
			return fmt.Errorf("budget=flops: the model's FLOPs are unknown (shapes could not be inferred; try --dim or budget=params)")
		}
		total = f
	default:
		total = stats.Params(m)
	}
	need := total - int64(math.Floor(cfg.ratio*float64(total)))
	// The most that can be saved: every candidate at min_rank.
	var most int64
	for _, cd := range cands {
		most += cost(cd, 0) - cost(cd, cfg.minRank)
	}
	if most < need {
		return fmt.Errorf("ratio=%g is out of reach: the %s has %d %s and splitting every eligible layer (%d, those where a split saves min_saving=%g) at min_rank=%d leaves %d (%.3f of it)",
			cfg.ratio, cfg.scope, total, cfg.budget, len(cands), cfg.minSaving, cfg.minRank, total-most, float64(total-most)/float64(total))
	}
	relErr := func(cd *candidate, r int) float64 {
		s := cd.spec(cfg.method)
		if s.Total == 0 {
			return 0
		}
		return s.tail(r) / s.Total
	}
	h := &stepHeap{}
	push := func(cd *candidate) {
		var next int
		switch {
		case cd.rank == 0:
			next = cd.rmax
		case cd.rank > cfg.minRank:
			next = cd.rank - 1
		default:
			return
		}
		saved := cost(cd, cd.rank) - cost(cd, next)
		if saved <= 0 {
			return
		}
		derr := relErr(cd, next) - relErr(cd, cd.rank)
		if cd.rank == 0 {
			derr = relErr(cd, next)
		}
		heap.Push(h, step{cd: cd, next: next, saved: saved, price: derr / float64(saved)})
	}
	for _, cd := range cands {
		cd.rank = 0
		push(cd)
	}
	var saved int64
	for saved < need && h.Len() > 0 {
		st := heap.Pop(h).(step)
		saved += st.saved
		st.cd.rank = st.next
		push(st.cd)
	}
	if saved < need {
		return fmt.Errorf("ratio=%g is out of reach (%d of %d %s saved)", cfg.ratio, saved, need, cfg.budget)
	}
	return nil
}

// step lowers one candidate's rank to next, saving saved at price (error per unit saved).
type step struct {
	cd    *candidate
	next  int
	saved int64
	price float64
}

type stepHeap []step

func (h stepHeap) Len() int { return len(h) }
func (h stepHeap) Less(i, j int) bool {
	if h[i].price != h[j].price {
		return h[i].price < h[j].price
	}
	return h[i].cd.name() < h[j].cd.name()
}
func (h stepHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *stepHeap) Push(x any)   { *h = append(*h, x.(step)) }
func (h *stepHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
