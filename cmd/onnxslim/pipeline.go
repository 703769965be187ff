package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/onnxslim/onnxslim/internal/stats"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/verify"
)

// PassReport is one pass's entry in the --json run report (see docs/cli.md).
type PassReport struct {
	Name         string  `json:"name"`
	NodesBefore  int     `json:"nodes_before"`
	NodesAfter   int     `json:"nodes_after"`
	ParamsBefore int64   `json:"params_before"`
	ParamsAfter  int64   `json:"params_after"`
	BytesBefore  int64   `json:"bytes_before"`
	BytesAfter   int64   `json:"bytes_after"`
	FlopsBefore  *int64  `json:"flops_before"`
	FlopsAfter   *int64  `json:"flops_after"`
	Rewrites     int     `json:"rewrites"`
	MS           float64 `json:"ms"`
}

// runConfig is what the main command hands the pass manager.
type runConfig struct {
	dims        map[string]int64
	genDims     map[string]int64 // dims for generated inputs (fitDims), never for shape inference
	fill        map[string]float64
	inputs      string // --inputs: data-driven passes calibrate on it without calib=
	maxRewrites int
	log         io.Writer
	// verifyEach, when set, checks the model after every pass.
	verifyEach func(r passes.Report, m *onnx.Model) error
}

// Pipeline rewrites a model in place and reports each pass it ran.
type Pipeline struct {
	spec *passes.Pipeline
}

// newPipeline parses --passes; an absent flag means the default group.
func newPipeline(spec string, given bool) (*Pipeline, error) {
	if !given {
		spec = "default"
	}
	p, err := passes.Parse(spec)
	if err != nil {
		var se *passes.SpecError
		if errors.As(err, &se) {
			return nil, usageError{err}
		}
		return nil, err
	}
	return &Pipeline{spec: p}, nil
}

// Lossy reports whether a pass of the pipeline changes numbers on purpose.
func (p *Pipeline) Lossy() bool { return p.spec.Lossy() }

// Empty reports whether the pipeline runs no pass (--passes none).
func (p *Pipeline) Empty() bool { return len(p.spec.Steps) == 0 }

// Run applies the pipeline to m.
func (p *Pipeline) Run(ctx context.Context, m *onnx.Model, rc runConfig) ([]PassReport, error) {
	cfg := passes.Config{
		Dims:         rc.dims,
		GenerateDims: rc.genDims,
		Fill:         rc.fill,
		Inputs:       rc.inputs,
		Log:          rc.log,
		MaxRewrites:  rc.maxRewrites,
		Measure:      measureAt(rc.genDims),
		AfterPass:    rc.verifyEach,
	}
	var reports []passes.Report
	if legacyOpset(m) && !p.spec.Has("convert") && !p.Empty() {
		// ONNX Runtime runs no model below opset 7 (nor do later tools): a
		// file written at its old opset would run nowhere. Converting
		// computes the same (and is verified with the rest); where it is
		// refused, the model keeps its opset and the pipeline goes on.
		old := m.Opset("")
		up, err := passes.Parse("convert(opset=7)")
		if err != nil {
			return nil, err
		}
		reports, err = up.Run(ctx, m, cfg)
		if err != nil {
			reports = nil
			fmt.Fprintf(rc.log, "onnxslim: note: ai.onnx opset %d is older than 7, the oldest ONNX Runtime runs, and it stays so: %v\n", old, err)
		} else {
			fmt.Fprintf(rc.log, "onnxslim: ai.onnx opset %d is older than 7, the oldest ONNX Runtime runs: converted to 7 first (convert(opset=7))\n", old)
		}
	}
	more, err := p.spec.Run(ctx, m, cfg)
	reports = append(reports, more...)
	out := make([]PassReport, 0, len(reports))
	for _, r := range reports {
		out = append(out, PassReport{
			Name: r.Name, NodesBefore: r.Before.Nodes, NodesAfter: r.After.Nodes,
			ParamsBefore: r.Before.Params, ParamsAfter: r.After.Params,
			BytesBefore: r.Before.Bytes, BytesAfter: r.After.Bytes,
			FlopsBefore: flopsPtr(r.Before), FlopsAfter: flopsPtr(r.After),
			Rewrites: r.Rewrites, MS: float64(r.Duration.Microseconds()) / 1000,
		})
	}
	return out, err
}

// legacyOpset reports whether m imports an ai.onnx opset below 7.
func legacyOpset(m *onnx.Model) bool {
	v := m.Opset("")
	return v > 0 && v < 7
}

// measureAt computes a pass report's figures; FLOPs use the shapes the last
// shape inference left on the values, or with sizes for symbolic dims
// (the main report's FlopsAt) the shapes inferred at those.
func measureAt(dims map[string]int64) func(*onnx.Model) passes.Measures {
	return func(m *onnx.Model) passes.Measures {
		f, ok := stats.FLOPs(m, stats.DeclaredShape)
		if len(dims) > 0 {
			f, ok = passes.FLOPsAt(m, dims)
		}
		return passes.Measures{Nodes: stats.Nodes(m), Params: stats.Params(m), Bytes: stats.Bytes(m), FLOPs: f, FLOPsKnown: ok}
	}
}

func flopsPtr(ms passes.Measures) *int64 {
	if !ms.FLOPsKnown {
		return nil
	}
	f := ms.FLOPs
	return &f
}

// writeSummary prints the per-pass table of the main command.
func writeSummary(w io.Writer, reps []PassReport) {
	if len(reps) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pass\tnodes\tparameters\tbytes\trewrites\tms\t")
	for _, r := range reps {
		fmt.Fprintf(tw, "%s\t%d → %d\t%s → %s\t%s → %s\t%d\t%.1f\t\n", r.Name, r.NodesBefore, r.NodesAfter,
			groupDigits(r.ParamsBefore), groupDigits(r.ParamsAfter), humanBytes(r.BytesBefore), humanBytes(r.BytesAfter),
			r.Rewrites, r.MS)
	}
	tw.Flush()
}

// cutOriginal cuts orig (in place) around the ops the interpreter cannot
// run, and returns the cut (nil when there are none). shapes are the --shape
// flags: the fed outputs' shapes the model does not declare.
func cutOriginal(orig *onnx.Model, shapes map[string][]int64, dims map[string]int64) (*verify.Cut, error) {
	cut, err := verify.PlanCut(orig, shapes, dims)
	if err != nil {
		return nil, fmt.Errorf("%w, or skip verification with --no-verify", err)
	}
	if cut != nil {
		if err := cut.Apply(orig); err != nil {
			return nil, fmt.Errorf("cutting around the ops the interpreter cannot run: %w", err)
		}
	}
	return cut, nil
}

// verification is the main command's check of OUT against IN.
type verification struct {
	checker *verify.Checker
	tol     verify.Tolerance
	binding bool        // a failure is an error (lossless pipeline, or limits given)
	cut     *verify.Cut // set when both models are cut around opaque ops
}

// newVerification runs the original model once on the verification inputs.
// A model cut around opaque ops (cutOriginal) is checked by cutting each
// candidate the same way.
func newVerification(orig *onnx.Model, opts verify.Options, binding bool, cut *verify.Cut) (*verification, error) {
	if cut != nil {
		opts.Fed = cut.Fed()
	}
	chk, err := verify.NewChecker(orig, opts)
	if err != nil {
		var re *verify.ReferenceError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("%w; this is not a failure of a pass", err)
		}
		return nil, err
	}
	return &verification{checker: chk, tol: *opts.Tolerance, binding: binding, cut: cut}, nil
}

// check compares m with the original (a cut copy of m when the original was cut).
func (v *verification) check(m *onnx.Model) (*verify.Report, error) {
	if v.cut != nil {
		m = m.Clone()
		if err := v.cut.Apply(m); err != nil {
			return nil, fmt.Errorf("cutting the optimized model as the original: %w", err)
		}
	}
	rep, err := v.checker.Check(m)
	if err != nil {
		return nil, err
	}
	rep.Cut = v.cut
	if v.binding && !rep.OK(v.tol) {
		return rep, rep.Err(v.tol)
	}
	return rep, nil
}
