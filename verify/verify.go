// Package verify proves what a rewrite did to a model's numbers: it runs two
// models through the reference interpreter on the same inputs and reports per
// output error metrics (Compare, Checker), finds the first node where two
// models diverge (Localize), measures accuracy on labelled data (Evaluate), and
// renders the verification for reports. The graph diff lives in
// verify/graphdiff; WriteMarkdownReport combines both for --report.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Unchecked disables a limit of Tolerance.
const Unchecked = -1

// DefaultSamples is the number of seeded random samples compared when no
// input folder is given.
const DefaultSamples = 4

// Tolerance says when two models compute "the same".
type Tolerance struct {
	// Element-wise: every element must satisfy |b-a| <= ATol + RTol·|a|
	// (integer, bool and string outputs must be equal) when Elementwise is set.
	ATol, RTol  float64
	Elementwise bool
	// MaxRelL2 bounds each output's ||a-b||/||a|| (negative: not checked).
	MaxRelL2 float64
	// MinCosine bounds each output's cosine similarity from below (checked when > 0).
	MinCosine float64
	// MaxAccuracyDrop bounds top-1 accuracy lost on labelled data, as a
	// fraction (0.01 = one point; negative: not checked).
	MaxAccuracyDrop float64
	// NoiseMultiple (when > 0) also accepts an output whose error is within
	// this many times its own float32 rounding noise on the same inputs
	// (see NoiseFloor): the largest element error against the noise's
	// largest, rel L2 against the noise's rel L2. Where the floor is
	// measured on enough elements (minNoiseElements), it also rejects: rel
	// L2 beyond this many times the floor fails even within MaxRelL2.
	NoiseMultiple float64
	// AbsFloor (when > 0) accepts an output's rel L2 when no element is off
	// by more than this: for outputs so small that relative errors are
	// meaningless.
	AbsFloor float64
}

// DefaultTolerance is the bar of the lossless pipeline: per output rel L2 ≤
// 1e-5 and every element within 1e-4 + 1e-4·|expected|, or errors within
// 5 times the output's own rounding noise, or within 1e-6 absolute; where
// the noise is measured, rel L2 within 5 times it, whatever 1e-5 says.
func DefaultTolerance() Tolerance {
	return Tolerance{ATol: 1e-4, RTol: 1e-4, Elementwise: true, MaxRelL2: 1e-5, MaxAccuracyDrop: Unchecked,
		NoiseMultiple: DefaultNoiseMultiple, AbsFloor: 1e-6}
}

// DefaultNoiseMultiple is how many times its own rounding noise an output
// of a lossless rewrite may be off.
const DefaultNoiseMultiple = 5

// Options say what to compare on.
type Options struct {
	// Inputs is a data folder (the CLI's --inputs or --data); empty means
	// seeded random inputs.
	Inputs string
	// Samples is the number of random samples (default DefaultSamples).
	Samples int
	// Seed of the first random sample; sample i uses Seed+i.
	Seed uint64
	// Dims fixes symbolic dimensions (--dim NAME=VALUE).
	Dims map[string]int64
	// BatchSize for folders read into a model with a symbolic batch dimension.
	BatchSize int
	// Tolerance is applied element-wise while comparing (Report.Mismatches);
	// zero value means DefaultTolerance.
	Tolerance *Tolerance
	// Interp configures the sessions built from models. For a reference of
	// interp.LargeModel bytes or more, NoPrepack is set.
	Interp interp.Options
	// Fed names inputs given seeded random values even when Inputs is a
	// folder: the outputs of cut-out opaque ops (Cut.Fed).
	Fed []string
	// Progress, if set, is called after each batch with samples done and total.
	Progress func(done, total int)
	// Fill sets inputs to a constant (--fill NAME=VALUE), in folders and
	// generated inputs alike.
	Fill map[string]float64
	// Context ends the runs early when it is cancelled (Ctrl-C); nil means
	// context.Background().
	Context context.Context
	// Timeout bounds each pass over the inputs (the reference's, then each
	// candidate's) when positive: a model that does not finish in time fails
	// with a *TimeoutError instead of running on.
	Timeout time.Duration
}

// DefaultTimeout is the CLI's default --verify-timeout and --timeout: one
// minute per pass over the inputs, so that a model that never finishes (a
// Loop of 10^12 trips) ends the command within a minute with a message
// that says how to allow longer.
const DefaultTimeout = time.Minute

// TimeoutError says a model did not finish within Options.Timeout.
type TimeoutError struct {
	Timeout time.Duration
	Err     error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("did not finish within %s (--verify-timeout): %v", e.Timeout, e.Err)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// runContext is the context of one pass over the inputs: Options.Context
// bounded by Options.Timeout.
func (o Options) runContext() (context.Context, context.CancelFunc) {
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Timeout > 0 {
		return context.WithTimeout(ctx, o.Timeout)
	}
	return context.WithCancel(ctx)
}

// timeoutErr turns a run stopped by the deadline into a *TimeoutError.
func (o Options) timeoutErr(err error) error {
	if o.Timeout > 0 && errors.Is(err, context.DeadlineExceeded) {
		return &TimeoutError{Timeout: o.Timeout, Err: err}
	}
	return err
}

// dataOptions are the dataset options Options imply.
func (o Options) dataOptions() dataset.Options {
	return dataset.Options{Dims: o.Dims, BatchSize: o.BatchSize, Fill: o.Fill}
}

func (o Options) tolerance() Tolerance {
	if o.Tolerance != nil {
		return *o.Tolerance
	}
	return DefaultTolerance()
}

func (o Options) inputDescription() string {
	if o.Inputs != "" {
		return "the inputs in " + o.Inputs
	}
	return "generated inputs"
}

// Report is the result of a comparison.
type Report struct {
	Samples int            `json:"samples"`
	Outputs []OutputReport `json:"outputs"`
	// Accuracy is set when the inputs were a labelled folder.
	Accuracy *AccuracyComparison `json:"accuracy,omitempty"`
	// Tolerance is the one the comparison ran with (element-wise checks).
	Tolerance Tolerance `json:"-"`
	// Cut is set when both models were cut around ops the interpreter
	// cannot run (see PlanCut): what those ops compute was not checked.
	Cut *Cut `json:"-"`
}

// AccuracyComparison is the accuracy of both models on labelled data.
type AccuracyComparison struct {
	A    Accuracy `json:"a"`
	B    Accuracy `json:"b"`
	Drop float64  `json:"top1_drop"` // A.Top1 - B.Top1
}

// ReferenceError says the reference (original) model itself could not be run
// on the inputs: verification is impossible, which is not a failure of a pass.
type ReferenceError struct {
	Inputs string // description of the inputs tried
	Err    error
}

func (e *ReferenceError) Error() string {
	var te *TimeoutError
	if errors.As(e.Err, &te) {
		return fmt.Sprintf("the original model %v on %s (give smaller inputs with --dim NAME=VALUE or --inputs DIR, allow more time with --verify-timeout DURATION, or skip verification with --no-verify)", e.Err, e.Inputs)
	}
	var fe *dataset.FitError
	if errors.As(e.Err, &fe) {
		return e.Err.Error()
	}
	return fmt.Sprintf("the original model could not run on %s: %v (give real inputs with --inputs DIR, set an input that selects a mode with --fill NAME=VALUE, or skip verification with --no-verify)", e.Inputs, e.Err)
}

func (e *ReferenceError) Unwrap() error { return e.Err }

// CandidateError says the candidate (rewritten) model failed to run where the
// reference ran: the rewrite broke it.
type CandidateError struct{ Err error }

func (e *CandidateError) Error() string {
	return fmt.Sprintf("the optimized model failed to run: %v", e.Err)
}

func (e *CandidateError) Unwrap() error { return e.Err }

// ToleranceError is returned by Report.Err: the outputs beyond tolerance.
type ToleranceError struct {
	Failures []string // one per failing output: "name: what"
}

func (e *ToleranceError) Error() string {
	return "verification failed, outputs beyond tolerance: " + strings.Join(e.Failures, "; ")
}

// forReference returns o for checks against ref: a large model's weights
// are held once (interp.OptionsFor).
func (o Options) forReference(ref *onnx.Model) Options {
	o.Interp = interp.OptionsFor(ref, o.Interp)
	return o
}

// Compare runs models a (reference) and b (candidate) on the same inputs and
// reports the per-output differences. A session failure of a is a
// *ReferenceError, of b a *CandidateError.
func Compare(a, b *onnx.Model, opts Options) (*Report, error) {
	opts = opts.forReference(a)
	sa, err := interp.NewSession(a, opts.Interp)
	if err != nil {
		return nil, &ReferenceError{Inputs: opts.inputDescription(), Err: err}
	}
	sb, err := interp.NewSession(b, opts.Interp)
	if err != nil {
		return nil, &CandidateError{Err: err}
	}
	rep, err := CompareSessions(sa, sb, opts)
	if err != nil {
		return nil, err
	}
	tol := opts.tolerance()
	if tol.NoiseMultiple > 0 && (floatWeightBytes(a) <= noiseWeightBytes || !rep.OK(tol)) {
		rep.withNoise(noiseFloors(sa, a, opts, nil))
	}
	return rep, nil
}

// CompareSessions is Compare for sessions already built.
func CompareSessions(a, b *interp.Session, opts Options) (*Report, error) {
	r, err := OpenInputs(a.Inputs(), opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return CompareReader(a, b, r, opts)
}

// OpenInputs opens the inputs Options describe: the folder, or seeded random samples.
func OpenInputs(inputs []*onnx.Value, opts Options) (dataset.Reader, error) {
	if opts.Inputs != "" {
		var fromDir, fed []*onnx.Value
		for _, v := range inputs {
			if slices.Contains(opts.Fed, v.Name) {
				fed = append(fed, v)
			} else {
				fromDir = append(fromDir, v)
			}
		}
		r, err := dataset.Open(opts.Inputs, fromDir, opts.dataOptions())
		if err != nil {
			return nil, fmt.Errorf("inputs %s: %w", opts.Inputs, err)
		}
		if len(fed) > 0 {
			return &fedReader{Reader: r, fed: fed, seed: opts.Seed, data: opts.dataOptions()}, nil
		}
		return r, nil
	}
	n := opts.Samples
	if n <= 0 {
		n = DefaultSamples
	}
	return &randomReader{inputs: inputs, seed: opts.Seed, n: n, data: opts.dataOptions()}, nil
}

// randomReader yields n seeded random samples, made one at a time.
type randomReader struct {
	inputs []*onnx.Value
	seed   uint64
	n, i   int
	data   dataset.Options
}

func (r *randomReader) Samples() int { return r.n }
func (r *randomReader) Close() error { return nil }

func (r *randomReader) Next() (*dataset.Batch, error) {
	if r.i >= r.n {
		return nil, io.EOF
	}
	in, err := dataset.Generate(r.inputs, r.seed+uint64(r.i), r.data)
	if err != nil {
		return nil, &ReferenceError{Inputs: "generated inputs", Err: err}
	}
	r.i++
	return &dataset.Batch{Inputs: in, Source: fmt.Sprintf("random sample %d (seed %d)", r.i-1, r.seed+uint64(r.i-1))}, nil
}

// fedReader adds seeded random values for the fed inputs to every batch of
// a folder.
type fedReader struct {
	dataset.Reader
	fed  []*onnx.Value
	seed uint64
	i    int
	data dataset.Options
}

func (r *fedReader) Next() (*dataset.Batch, error) {
	b, err := r.Reader.Next()
	if err != nil {
		return b, err
	}
	extra, err := dataset.Generate(r.fed, r.seed+uint64(r.i), r.data)
	if err != nil {
		return nil, &ReferenceError{Inputs: "generated inputs", Err: err}
	}
	r.i++
	maps.Copy(b.Inputs, extra)
	return b, nil
}

// CompareReader compares two sessions on every batch of r, streaming.
func CompareReader(a, b *interp.Session, r dataset.Reader, opts Options) (*Report, error) {
	return compare(a, b, r, opts, nil)
}

// compare is CompareReader with an optional cache of reference outputs per
// batch (used by Checker so that the reference runs once).
func compare(a, b *interp.Session, r dataset.Reader, opts Options, ref *refCache) (*Report, error) {
	tol := opts.tolerance()
	bOuts := a.Outputs()
	if b != nil {
		bOuts = b.Outputs()
	}
	pairs, err := matchOutputs(a.Outputs(), bOuts)
	if err != nil {
		return nil, err
	}
	t := &tallies{pairs: pairs, accs: make([]*acc, len(pairs))}
	for i, p := range pairs {
		t.accs[i] = newAcc(p.name, tol)
		if p.ib < 0 {
			t.accs[i].r.Problem = "output missing in the optimized model"
		}
	}
	ctx, cancel := opts.runContext()
	defer cancel()
	total, done, batchNo := r.Samples(), 0, 0
	for {
		batches, err := nextBatches(r, opts.lockstepGroup())
		if err != nil {
			var re *ReferenceError
			if errors.As(err, &re) {
				return nil, err
			}
			return nil, fmt.Errorf("reading %s: %w", opts.inputDescription(), err)
		}
		if len(batches) == 0 {
			break
		}
		outsA := make([][]*interp.Tensor, len(batches))
		var missing []int // batches whose reference outputs are not cached
		var todo []*dataset.Batch
		for j := range batches {
			if ref != nil {
				outsA[j] = ref.get(batchNo + j)
			}
			if outsA[j] == nil {
				missing, todo = append(missing, j), append(todo, batches[j])
			}
		}
		if len(todo) > 0 {
			outs, ferr := runBatches(ctx, a, todo)
			if ferr != nil {
				return nil, &ReferenceError{Inputs: describeBatch(opts, todo[ferr.feed]), Err: opts.timeoutErr(ferr.err)}
			}
			for i, j := range missing {
				outsA[j] = outs[i]
				if ref != nil {
					ref.put(batchNo+j, outs[i])
				}
			}
		}
		if b == nil {
			batchNo += len(batches)
			continue // Checker warming its cache
		}
		outsB, ferr := runBatches(ctx, b, batches)
		if ferr != nil {
			return nil, &CandidateError{Err: fmt.Errorf("on %s: %w", describeBatch(opts, batches[ferr.feed]), opts.timeoutErr(ferr.err))}
		}
		for j, batch := range batches {
			if err := t.add(batchNo, batch, outsA[j], outsB[j]); err != nil {
				return nil, err
			}
			batchNo++
			done = min(total, done+batchSamples(batch))
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		}
	}
	rep := &Report{Samples: total, Tolerance: tol, Outputs: make([]OutputReport, len(t.accs))}
	for i, c := range t.accs {
		rep.Outputs[i] = c.report()
	}
	if t.labelled {
		ac := &AccuracyComparison{A: t.accA.result(), B: t.accB.result()}
		ac.Drop = ac.A.Top1 - ac.B.Top1
		rep.Accuracy = ac
	}
	return rep, nil
}

// lockstepBatches is how many batches a large model's verification runs
// together (interp.Session.RunLockstep), so that its weights are read, and
// decoded, once per group rather than once per batch.
const lockstepBatches = DefaultSamples

// lockstepGroup is how many batches run together under o: lockstepBatches
// for a large model (o.Interp.NoPrepack), else one.
func (o Options) lockstepGroup() int {
	if o.Interp.NoPrepack {
		return lockstepBatches
	}
	return 1
}

// nextBatches reads up to n batches of r; none at its end.
func nextBatches(r dataset.Reader, n int) ([]*dataset.Batch, error) {
	var out []*dataset.Batch
	for len(out) < n {
		batch, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, batch)
	}
	return out, nil
}

// feedError is a run's error and which of the batches it ran on failed.
type feedError struct {
	feed int
	err  error
}

// runBatches runs s on batches in lockstep (alone, for one).
func runBatches(ctx context.Context, s *interp.Session, batches []*dataset.Batch) ([][]*interp.Tensor, *feedError) {
	feeds := make([]map[string]*interp.Tensor, len(batches))
	for i, b := range batches {
		feeds[i] = b.Inputs
	}
	outs, err := s.RunLockstep(ctx, feeds)
	if err != nil {
		var fe *interp.FeedError
		if errors.As(err, &fe) {
			return nil, &feedError{fe.Feed, fe.Err}
		}
		return nil, &feedError{0, err}
	}
	return outs, nil
}

// tallies are a comparison's measurements, batch after batch.
type tallies struct {
	pairs      []outputPair
	accs       []*acc // by pair
	accA, accB accuracyAcc
	labelled   bool
}

// add takes one batch's outputs, a's and b's.
func (t *tallies) add(batchNo int, batch *dataset.Batch, outA, outB []*interp.Tensor) error {
	for i, p := range t.pairs {
		var tb *interp.Tensor
		if p.ib >= 0 {
			tb = outB[p.ib]
		}
		if err := t.accs[i].add(batchNo, outA[p.ia], tb); err != nil {
			return fmt.Errorf("output %q: %w", p.name, err)
		}
	}
	if len(batch.Labels) > 0 && t.pairs[0].ib >= 0 {
		t.labelled = true
		if err := t.accA.add(outA[0], batch.Labels); err != nil {
			return fmt.Errorf("accuracy of the original model: %w", err)
		}
		if err := t.accB.add(outB[t.pairs[0].ib], batch.Labels); err != nil {
			return fmt.Errorf("accuracy of the optimized model: %w", err)
		}
	}
	return nil
}

func describeBatch(opts Options, b *dataset.Batch) string {
	if b.Source != "" {
		if opts.Inputs == "" {
			return "generated inputs (" + b.Source + ")"
		}
		return b.Source
	}
	return opts.inputDescription()
}

// batchSamples guesses how many samples a batch holds, for progress only.
func batchSamples(b *dataset.Batch) int {
	if len(b.Labels) > 0 {
		return len(b.Labels)
	}
	return 1
}

type outputPair struct {
	name   string
	ia, ib int // ib < 0: missing in b
}

// matchOutputs pairs outputs by name; if no names agree but the counts do,
// by position (a rename of outputs is an interface change the diff reports).
func matchOutputs(a, b []*onnx.Value) ([]outputPair, error) {
	idx := map[string]int{}
	for i, v := range b {
		idx[v.Name] = i
	}
	var pairs []outputPair
	matched := 0
	for i, v := range a {
		j, ok := idx[v.Name]
		if !ok {
			j = -1
		} else {
			matched++
		}
		pairs = append(pairs, outputPair{name: v.Name, ia: i, ib: j})
	}
	if matched == 0 && len(a) == len(b) {
		for i := range pairs {
			pairs[i].ib = i
		}
	}
	if len(pairs) == 0 {
		return nil, errors.New("the original model has no outputs to compare")
	}
	return pairs, nil
}

// Failures lists the outputs beyond tol, one "name: reason" each, plus an
// accuracy drop beyond the limit.
func (r *Report) Failures(tol Tolerance) []string {
	var out []string
	for _, o := range r.Outputs {
		if why := o.failure(tol); why != "" {
			out = append(out, o.Name+": "+why)
		}
	}
	if r.Accuracy != nil && tol.MaxAccuracyDrop >= 0 && r.Accuracy.Drop > tol.MaxAccuracyDrop+1e-12 {
		out = append(out, fmt.Sprintf("accuracy: top-1 dropped by %.4f (%.4f → %.4f), limit %g",
			r.Accuracy.Drop, r.Accuracy.A.Top1, r.Accuracy.B.Top1, tol.MaxAccuracyDrop))
	}
	return out
}

// OK reports whether every output is within tol. Element-wise limits were
// applied while comparing (with Options.Tolerance); tol's aggregate limits
// (rel L2, cosine, accuracy drop) are applied here.
func (r *Report) OK(tol Tolerance) bool { return len(r.Failures(tol)) == 0 }

// Err is nil within tol, else a *ToleranceError naming the failing outputs.
func (r *Report) Err(tol Tolerance) error {
	if f := r.Failures(tol); len(f) > 0 {
		return &ToleranceError{Failures: f}
	}
	return nil
}

func (o OutputReport) failure(tol Tolerance) string {
	if o.Problem != "" {
		return o.Problem
	}
	var why []string
	if o.NaNB+o.InfB > o.NaNA+o.InfA || math.IsInf(float64(o.MaxAbsErr), 0) {
		why = append(why, fmt.Sprintf("non-finite values differ (NaN %d→%d, Inf %d→%d)", o.NaNA, o.NaNB, o.InfA, o.InfB))
	}
	if o.Exact {
		if o.Mismatches > 0 {
			why = append(why, fmt.Sprintf("%d of %d elements differ (exact type %s), first at %v", o.Mismatches, o.Elements, o.DType, o.WorstIndex))
		}
		return strings.Join(why, ", ")
	}
	var noiseAbs, noiseL2 Float
	if o.Noise != nil {
		noiseAbs, noiseL2 = o.Noise.MaxAbs, o.Noise.RelL2
	}
	k := tol.NoiseMultiple
	if tol.Elementwise && o.Mismatches > 0 && !withinNoise(o.MaxAbsErr, k, noiseAbs) {
		msg := fmt.Sprintf("%d of %d elements beyond atol %g + rtol %g (max abs err %.3g at sample %d index %v: expected %.6g, got %.6g)",
			o.Mismatches, o.Elements, tol.ATol, tol.RTol, float64(o.MaxAbsErr), o.WorstSample, o.WorstIndex, float64(o.WorstExpected), float64(o.WorstActual))
		if k > 0 && o.Noise != nil {
			msg += fmt.Sprintf(" and > %g× its float32 noise floor %.3g", k, float64(noiseAbs))
		}
		why = append(why, msg)
	}
	if tol.MaxRelL2 >= 0 && !(tol.AbsFloor > 0 && float64(o.MaxAbsErr) <= tol.AbsFloor) {
		switch {
		case o.noiseDecides(k):
			// The measured floor binds both ways: a wrong rewrite that moves a
			// well-conditioned output by less than the fixed bound is still
			// far beyond its rounding noise.
			if !withinNoise(o.RelL2, k, noiseL2) {
				why = append(why, fmt.Sprintf("rel L2 %.3g > %g× its float32 noise floor %.3g", float64(o.RelL2), k, float64(noiseL2)))
			}
		case !(float64(o.RelL2) <= tol.MaxRelL2) && !withinNoise(o.RelL2, k, noiseL2):
			msg := fmt.Sprintf("rel L2 %.3g > %g", float64(o.RelL2), tol.MaxRelL2)
			if k > 0 && o.Noise != nil {
				msg += fmt.Sprintf(" and > %g× its float32 noise floor %.3g", k, float64(noiseL2))
			}
			why = append(why, msg)
		}
	}
	if tol.MinCosine > 0 && !(float64(o.Cosine) >= tol.MinCosine) {
		why = append(why, fmt.Sprintf("cosine %.6f < %g", float64(o.Cosine), tol.MinCosine))
	}
	return strings.Join(why, ", ")
}
