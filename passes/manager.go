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
	Log    io.Writer
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
	var reports []Report
	for _, st := range p.Steps {
		if st.Group != nil {
			rs, err := runGroup(ctx, st.Group, m, cfg, budget)
			reports = append(reports, rs...)
			if err != nil {
				return reports, err
			}
			continue
		}
		r, err := runPass(ctx, st.Pass, st.Options, m, cfg, budget)
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
func runGroup(ctx context.Context, g *Group, m *onnx.Model, cfg Config, budget *int) ([]Report, error) {
	var reports []Report
	maxIter := g.MaxIterations
	if maxIter <= 0 {
		maxIter = 8
	}
	for iter := 0; iter < maxIter; iter++ {
		changed := 0
		for _, name := range g.Members {
			pass, ok := Lookup(name)
			if !ok {
				return reports, fmt.Errorf("group %s: unknown pass %s", g.Name, name)
			}
			vals, err := pass.defaults()
			if err != nil {
				return reports, err
			}
			r, err := runPass(ctx, pass, vals, m, cfg, budget)
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

func runPass(ctx context.Context, pass *Pass, opts Values, m *onnx.Model, cfg Config, budget *int) (Report, error) {
	r := Report{Name: pass.Name, Before: cfg.Measure(m)}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	c := &Context{Context: ctx, Pass: pass, Options: opts, Dims: cfg.Dims, Inputs: cfg.Inputs, Log: cfg.Log, results: map[*Analysis]any{}, budget: budget}
	start := time.Now()
	for _, a := range pass.Requires {
		res, err := a.Run(c, m)
		if err != nil {
			return r, &PassError{pass.Name, fmt.Errorf("analysis %s: %w", a.Name, err)}
		}
		c.results[a] = res
	}
	n, err := pass.Run(c, m)
	r.Duration = time.Since(start)
	r.Rewrites = n
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
