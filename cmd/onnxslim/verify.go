package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/verify"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v3"
	"golang.org/x/term"
)

func init() { register(verifyCommand) }

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "run two models on the same inputs and compare their outputs",
		UsageText: "onnxslim verify A.onnx B.onnx [--inputs DIR | --random-inputs N] [--data DIR] [--rtol X] [--atol Y] " +
			"[--max-rel-l2 Z] [--min-cosine C] [--max-accuracy-drop D] [--dim NAME=VALUE]... [--fill NAME=VALUE]... [--shape NAME=DIMS]... [--verify-timeout DURATION] [--json] [--localize]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "inputs", Usage: "compare on the inputs in `DIR` (.npy per input, input_N.pb or test_data_set_N/)", TakesFile: true},
			&cli.IntFlag{Name: "random-inputs", Usage: "compare on `N` seeded random samples", Value: verify.DefaultSamples},
			&cli.Uint64Flag{Name: "seed", Usage: "seed of the first random sample"},
			&cli.StringFlag{Name: "data", Usage: "compare on a labelled folder `DIR` and report both models' accuracy", TakesFile: true},
			&cli.FloatFlag{Name: "rtol", Usage: "element-wise relative tolerance `X` (default 1e-4); setting --rtol or --atol drops the default rel L2 limit"},
			&cli.FloatFlag{Name: "atol", Usage: "element-wise absolute tolerance `Y` (default 1e-4)"},
			&cli.FloatFlag{Name: "max-rel-l2", Usage: "per-output limit `Z` on ||a-b||/||a|| (default 1e-5)"},
			&cli.FloatFlag{Name: "min-cosine", Usage: "per-output lower bound `C` on cosine similarity"},
			&cli.FloatFlag{Name: "max-accuracy-drop", Usage: "with --data: largest allowed top-1 drop `D` (0.01 = one point)"},
			&cli.StringSliceFlag{Name: "dim", Usage: "fix a symbolic dimension, `NAME=VALUE` (repeatable)"},
			&cli.StringSliceFlag{Name: "shape", Usage: "shape of an output of an op the interpreter cannot run, fed random values when verifying around it: `NAME=DIMS` as 1x4x16x16 (repeatable)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON instead of text"},
			&cli.BoolFlag{Name: "localize", Usage: "on failure, find the first node whose output diverges (values matched by name)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors (the exit code says the verdict)"},
			fillFlag(),
			timeoutFlag("verify-timeout", "fail when a model takes longer than `DURATION` on the inputs (e.g. 30s, 10m)"),
		},
		Action: runVerify,
	}
}

// twoArgs returns the two positional arguments of a command.
func twoArgs(c *cli.Command, what string) (string, string, error) {
	if n := c.Args().Len(); n != 2 {
		return "", "", usageErrorf("expected two %s, got %d (usage: %s)", what, n, c.UsageText)
	}
	return c.Args().Get(0), c.Args().Get(1), nil
}

// verifyTolerance builds the tolerance from the verify flags.
func verifyTolerance(c *cli.Command) (verify.Tolerance, error) {
	tol := verify.DefaultTolerance()
	if c.IsSet("rtol") || c.IsSet("atol") {
		tol.MaxRelL2 = verify.Unchecked
	}
	for _, f := range []struct {
		name string
		dst  *float64
	}{{"rtol", &tol.RTol}, {"atol", &tol.ATol}, {"max-rel-l2", &tol.MaxRelL2}, {"min-cosine", &tol.MinCosine}, {"max-accuracy-drop", &tol.MaxAccuracyDrop}} {
		if !c.IsSet(f.name) {
			continue
		}
		v := c.Float(f.name)
		if v < 0 || v != v {
			return tol, usageErrorf("--%s %v: must be a non-negative number", f.name, v)
		}
		*f.dst = v
		if f.name != "max-accuracy-drop" && f.name != "min-cosine" {
			tol.NoiseMultiple = 0 // the user's own bound binds as given
		}
	}
	if tol.MinCosine > 1 {
		return tol, usageErrorf("--min-cosine %v: must be at most 1", tol.MinCosine)
	}
	return tol, nil
}

// verifyJSON is verify --json: the contract's keys plus localize.
type verifyJSON struct {
	verify.JSONReport
	Localize *verify.Divergence `json:"localize,omitempty"`
}

func runVerify(ctx context.Context, c *cli.Command) error {
	pa, pb, err := twoArgs(c, "model files (A.onnx B.onnx)")
	if err != nil {
		return err
	}
	dims, err := parseDims(c.StringSlice("dim"))
	if err != nil {
		return err
	}
	tol, err := verifyTolerance(c)
	if err != nil {
		return err
	}
	opts := verify.Options{Dims: dims, Tolerance: &tol, Samples: int(c.Int("random-inputs")), Seed: c.Uint64("seed")}
	switch {
	case c.IsSet("inputs") && c.IsSet("data"):
		return usageErrorf("--inputs and --data both name inputs; give one")
	case c.IsSet("random-inputs") && (c.IsSet("inputs") || c.IsSet("data")):
		return usageErrorf("--random-inputs and --inputs/--data both name inputs; give one")
	case c.IsSet("random-inputs") && opts.Samples <= 0:
		return usageErrorf("--random-inputs %d: want a positive number of samples", opts.Samples)
	}
	opts.Inputs = c.String("inputs")
	if d := c.String("data"); d != "" {
		opts.Inputs = d
	}
	if opts.Inputs != "" {
		if st, err := os.Stat(opts.Inputs); err != nil {
			return err
		} else if !st.IsDir() {
			return fmt.Errorf("%s: not a folder", opts.Inputs)
		}
	}
	a, _, err := loadModel(pa)
	if err != nil {
		return err
	}
	b, _, err := loadModel(pb)
	if err != nil {
		return err
	}
	shapes, err := parseShapes(c.StringSlice("shape"))
	if err != nil {
		return err
	}
	// Ops the interpreter cannot run: cut both models around them.
	cut, err := verify.PlanCut(a, shapes, dims)
	if err != nil {
		return fmt.Errorf("%s: %w", pa, err)
	}
	if cut != nil {
		if err := cut.Apply(a); err != nil {
			return fmt.Errorf("%s: %w", pa, err)
		}
		if err := cut.Apply(b); err != nil {
			return fmt.Errorf("%s: cutting as %s: %w", pb, pa, err)
		}
		opts.Fed = cut.Fed()
	}
	quiet := c.Bool("quiet")
	if opts.Fill, err = parseFill(c.StringSlice("fill"), graphInputs(a)); err != nil {
		return err
	}
	opts.Context, opts.Timeout = ctx, c.Duration("verify-timeout")
	if opts.Inputs == "" {
		logw := io.Writer(c.Root().ErrWriter)
		if quiet {
			logw = io.Discard
		}
		if opts.Dims, err = fitDims(ctx, a, dims, opts.Fill, opts.Timeout, logw); err != nil {
			return fmt.Errorf("%s: %w", pa, err)
		}
	}
	var done func()
	opts.Progress, done = progress(c, "verify", quiet)
	rep, err := verify.Compare(a, b, opts)
	done()
	if rep != nil {
		rep.Cut = cut
	}
	if err != nil {
		var ce *verify.CandidateError
		if errors.As(err, &ce) {
			return fmt.Errorf("%s: %w", pb, err)
		}
		var re *verify.ReferenceError
		if errors.As(err, &re) {
			return fmt.Errorf("%s: %w", pa, err)
		}
		return err
	}
	if c.IsSet("data") && rep.Accuracy == nil {
		return fmt.Errorf("--data %s: %w", opts.Inputs, verify.ErrNoLabels)
	}
	var div *verify.Divergence
	if c.Bool("localize") && !rep.OK(tol) {
		r, err := verify.OpenInputs(graphInputs(a), opts)
		if err == nil {
			batch, nerr := r.Next()
			r.Close()
			if nerr == nil {
				div, err = verify.Localize(a, b, batch.Inputs, tol, opts.Interp)
			} else {
				err = nerr
			}
		}
		if err != nil {
			return fmt.Errorf("--localize: %w", err)
		}
	}
	w := c.Root().Writer
	switch {
	case quiet:
	case c.Bool("json"):
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(verifyJSON{JSONReport: rep.JSON(tol), Localize: div}); err != nil {
			return err
		}
	default:
		if err := rep.WriteText(w, tol); err != nil {
			return err
		}
		if c.Bool("localize") && !rep.OK(tol) {
			if div != nil {
				fmt.Fprintln(w, div)
			} else {
				fmt.Fprintln(w, "localize: no value whose name exists in both models diverges; the difference is in values the rewrite renamed")
			}
		}
	}
	if err := rep.Err(tol); err != nil {
		return fmt.Errorf("%s vs %s: %w", pa, pb, err)
	}
	return nil
}

// progress returns a callback drawing a progress bar on stderr, and a function
// ending it. Bars are drawn only when stderr is a terminal: in logs and pipes
// their carriage returns are noise, and --quiet silences them.
func progress(c *cli.Command, what string, quiet bool) (func(done, total int), func()) {
	f, ok := c.Root().ErrWriter.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	var bar *progressbar.ProgressBar
	update := func(done, total int) {
		if total < 2 {
			return // one sample: nothing to watch
		}
		if bar == nil {
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100_000_000))
		}
		_ = bar.Set(done)
	}
	return update, func() {
		if bar != nil {
			_ = bar.Finish()
		}
	}
}

// graphInputs are the inputs a caller feeds (initializers listed as inputs
// before IR 4 excluded).
func graphInputs(m *onnx.Model) []*onnx.Value {
	var out []*onnx.Value
	for _, v := range m.Graph.Inputs {
		if !v.IsConst() {
			out = append(out, v)
		}
	}
	return out
}
