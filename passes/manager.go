package passes

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/onnxslim/onnxslim/onnx"
)

// Measures are the figures reported before and after each pass.
type Measures struct {
	Nodes  int
	Params int64
	Bytes  int64
	FLOPs  int64
	// FLOPsKnown is false when some shapes could not be inferred.
	FLOPsKnown bool
}

// Report is what one pass did (for a group, one entry per member, summed
// over the group's iterations).
type Report struct {
	Name     string
	Before   Measures
	After    Measures
	Rewrites int
	Duration time.Duration
}

// Config controls a pipeline run.
type Config struct {
	Dims map[string]int64
	// Inputs is the user's data folder (the CLI's --inputs), or "": data-driven
	// passes calibrate on it when they are given no folder of their own.
	Inputs string
	// Fill sets inputs to a constant (the CLI's --fill NAME=VALUE).
	Fill map[string]float64
	// GenerateDims: see Context.GenerateDims.
	GenerateDims map[string]int64
	Log          io.Writer
	// MaxRewrites stops rewriting after this many rewrites (0: no limit), to
	// bisect which rewrite breaks a model.
	MaxRewrites int
	// Measure computes the reported figures; nil reports node counts only.
	Measure func(m *onnx.Model) Measures
	// AfterPass runs after each pass (e.g. --verify-each); an error stops the
	// pipeline and is returned naming the pass.
	AfterPass func(r Report, m *onnx.Model) error
}

// PassError is a failure attributed to one pass.
type PassError struct {
	Pass string
	Err  error
}

func (e *PassError) Error() string { return fmt.Sprintf("pass %s: %v", e.Pass, e.Err) }
func (e *PassError) Unwrap() error { return e.Err }

// Run applies the pipeline to m in place.
func (p *Pipeline) Run(ctx context.Context, m *onnx.Model, cfg Config) ([]Report, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Measure == nil {
		cfg.Measure = func(m *onnx.Model) Measures { return Measures{Nodes: len(m.Graph.Nodes)} }
	}
	var budget *int
	if cfg.MaxRewrites > 0 {
		b := cfg.MaxRewrites
		budget = &b
	}
	run := &run{cfg: cfg, budget: budget, cache: newAnalysisCache()}
	var reports []Report
	for _, st := range p.Steps {
		if st.Group != nil {
			rs, err := run.group(ctx, st, m)
			reports = append(reports, rs...)
			if err != nil {
				return reports, err
			}
			continue
		}
		r, err := run.pass(ctx, st.Pass, st.Options, m)
		reports = append(reports, r)
		if err != nil {
			return reports, err
		}
	}
	return reports, nil
}

// runGroup repeats the group's members until a whole round changes nothing.
// It reports every run of the first round and, after it, the runs that
// changed something (named "pass #round"), so before/after figures chain.
// run is the state of one pipeline run shared by its passes.
type run struct {
	cfg    Config
	budget *int           // rewrites left, nil for unlimited
	cache  *analysisCache // analyses, valid until a pass changes the graph
}

func (rn *run) group(ctx context.Context, st Step, m *onnx.Model) ([]Report, error) {
	cfg := rn.cfg
	g := st.Group
	opts := st.MemberOptions
	if opts == nil { // a Step built by hand: members' own options
		var err error
		if opts, err = g.memberOptions(""); err != nil {
			return nil, err
		}
	}
	var reports []Report
	maxIter := g.MaxIterations
	if maxIter <= 0 {
		maxIter = 8
	}
	for iter := 0; iter < maxIter; iter++ {
		changed := 0
		for _, name := range g.memberNames() {
			pass, ok := Lookup(name)
			if !ok {
				return reports, fmt.Errorf("group %s: unknown pass %s", g.Name, name)
			}
			r, err := rn.pass(ctx, pass, opts[name], m)
			if iter > 0 {
				r.Name = fmt.Sprintf("%s #%d", r.Name, iter+1)
			}
			if iter == 0 || r.Rewrites > 0 || err != nil {
				reports = append(reports, r)
			}
			if err != nil {
				return reports, err
			}
			changed += r.Rewrites
		}
		if changed == 0 {
			return reports, nil
		}
		if iter == maxIter-1 {
			fmt.Fprintf(cfg.Log, "%s: still changing after %d rounds; stopped (a rewrite may be undoing another)\n", g.Name, maxIter)
		}
	}
	return reports, nil
}

func (rn *run) pass(ctx context.Context, pass *Pass, opts Values, m *onnx.Model) (Report, error) {
	cfg := rn.cfg
	r := Report{Name: pass.Name, Before: cfg.Measure(m)}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	c := &Context{Context: ctx, Pass: pass, Options: opts, Dims: cfg.Dims, Inputs: cfg.Inputs, Fill: cfg.Fill, GenerateDims: cfg.GenerateDims, Log: cfg.Log, model: m, results: rn.cache, budget: rn.budget}
	start := time.Now()
	for _, a := range pass.Requires {
		if _, err := c.result(a); err != nil {
			return r, &PassError{pass.Name, err}
		}
	}
	n, err := pass.Run(c, m)
	r.Duration = time.Since(start)
	r.Rewrites = n
	if n > 0 || err != nil {
		// The graph changed (or may have): cached results describe the old one.
		rn.cache.invalidate()
	}
	if err != nil {
		return r, &PassError{pass.Name, err}
	}
	// The consistency check: a pass must leave a well-formed graph.
	if err := m.Check(); err != nil {
		return r, &PassError{pass.Name, fmt.Errorf("left the graph inconsistent: %w", err)}
	}
	r.After = cfg.Measure(m)
	if cfg.AfterPass != nil {
		if err := cfg.AfterPass(r, m); err != nil {
			return r, &PassError{pass.Name, err}
		}
	}
	return r, nil
}
