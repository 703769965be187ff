package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/urfave/cli/v3"
)

func init() { register(runCommand) }

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a model in the built-in interpreter",
		UsageText: "onnxslim run IN.onnx [--inputs DIR | --random SEED] [--dim NAME=VALUE]... [--fill NAME=VALUE]... [--out DIR] [--bench N] [--profile] [--profile-json FILE] [--threads N] [--fast-qdq=false] [--timeout DURATION]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "inputs", Usage: "read inputs from `DIR` (.npy per input, input_N.pb, or test_data_set_N/)", TakesFile: true},
			&cli.Uint64Flag{Name: "random", Usage: "make seeded random inputs from the declared shapes (`SEED`; the default when --inputs is absent)"},
			&cli.StringSliceFlag{Name: "dim", Usage: "fix a symbolic dimension, `NAME=VALUE` (repeatable)"},
			&cli.StringFlag{Name: "out", Usage: "write output_N.pb (and, with --random, input_N.pb) into `DIR`", TakesFile: true},
			&cli.IntFlag{Name: "bench", Usage: "time `N` runs after a warm-up and print median and min latency"},
			&cli.BoolFlag{Name: "profile", Usage: "time every node (median of 5 runs) and print the top nodes and the totals per op type"},
			&cli.StringFlag{Name: "profile-json", Usage: "with or without --profile: write the per-node times as Chrome trace events to `FILE.json`", TakesFile: true},
			&cli.IntFlag{Name: "threads", Usage: "bound the cores used to `N` (default: all); with more than one, the first runs time each node on one thread and on N and keep the faster plan (--profile prints it)"},
			&cli.BoolFlag{Name: "fast-qdq", Value: true, Usage: "run DequantizeLinear → Conv → QuantizeLinear patterns as integer convolutions and QDQ Gemms as integer products, as ONNX Runtime does (the default); --fast-qdq=false runs them node by node in float, where an output may differ by one quantization step"},
			&cli.Int64Flag{Name: "max-memory", Value: interp.DefaultMaxMemory, Usage: "refuse any tensor larger than `BYTES`"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors (and --bench's JSON line)"},
			fillFlag(),
			timeoutFlag("timeout", "fail when one run of the model takes longer than `DURATION` (e.g. 30s, 10m)"),
		},
		Action: runModel,
	}
}

func runModel(ctx context.Context, c *cli.Command) error {
	path, err := oneArg(c, "model file")
	if err != nil {
		return err
	}
	if c.IsSet("inputs") && c.IsSet("random") {
		return usageErrorf("--inputs and --random exclude each other")
	}
	dims, err := parseDims(c.StringSlice("dim"))
	if err != nil {
		return err
	}
	if c.Int("bench") < 0 || c.Int("threads") < 0 {
		return usageErrorf("--bench and --threads take non-negative numbers")
	}
	m, _, err := loadModel(path)
	if err != nil {
		return err
	}
	sess, err := interp.NewSession(m, interp.Options{Threads: int(c.Int("threads")), MaxMemory: c.Int64("max-memory"), FloatQDQ: !c.Bool("fast-qdq")})
	if err != nil {
		return inFile(path, err)
	}
	if interp.OptionsFor(m, interp.Options{}).NoPrepack && !c.Bool("quiet") {
		largeModelNote(c.Root().ErrWriter, m)
	}
	fill, err := parseFill(c.StringSlice("fill"), sess.Inputs())
	if err != nil {
		return err
	}
	timeout := c.Duration("timeout")
	logw := io.Writer(c.Root().ErrWriter)
	if c.Bool("quiet") {
		logw = io.Discard
	}
	var batches []*dataset.Batch
	if dir := c.String("inputs"); dir != "" {
		r, err := dataset.Open(dir, sess.Inputs(), dataset.Options{Dims: dims, Fill: fill})
		if err != nil {
			return err
		}
		defer r.Close()
		for {
			b, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			batches = append(batches, b)
		}
		if len(batches) == 0 {
			return fmt.Errorf("%s: no samples", dir)
		}
	} else {
		if dims, err = fitDims(ctx, m, dims, fill, timeout, logw); err != nil {
			return inFile(path, err)
		}
		feeds, err := dataset.Generate(sess.Inputs(), c.Uint64("random"), dataset.Options{Dims: dims, Fill: fill})
		if err != nil {
			return inFile(path, err)
		}
		batches = []*dataset.Batch{{Inputs: feeds}}
	}

	var inNames, outNames []string
	for _, v := range sess.Inputs() {
		inNames = append(inNames, v.Name)
	}
	for _, v := range sess.Outputs() {
		outNames = append(outNames, v.Name)
	}
	w := c.Root().Writer
	quiet := c.Bool("quiet")
	runOnce := func(feeds map[string]*interp.Tensor) ([]*interp.Tensor, error) {
		cx, cancel := withTimeout(ctx, timeout)
		defer cancel()
		outs, err := sess.RunContext(cx, feeds)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("the model did not finish within %s (--timeout): %w; give smaller inputs (--dim, --inputs) or allow more time with --timeout DURATION", timeout, err)
		}
		return outs, err
	}
	for i, b := range batches {
		outs, err := runOnce(b.Inputs)
		if err != nil {
			return inFile(path, err)
		}
		if dir := c.String("out"); dir != "" {
			if len(batches) > 1 {
				dir = filepath.Join(dir, fmt.Sprintf("test_data_set_%d", i))
			}
			if !c.IsSet("inputs") {
				ins := make([]*interp.Tensor, len(inNames))
				for k, n := range inNames {
					ins[k] = b.Inputs[n]
				}
				if err := dataset.WritePB(dir, "input", inNames, ins); err != nil {
					return err
				}
			}
			if err := dataset.WritePB(dir, "output", outNames, outs); err != nil {
				return err
			}
		}
		if !quiet {
			for k, t := range outs {
				fmt.Fprintf(w, "%s: %s\n", outNames[k], t)
			}
		}
	}
	if c.Bool("profile") || c.String("profile-json") != "" {
		pw := w
		if !c.Bool("profile") {
			pw = io.Discard
		}
		if err := profileModel(pw, sess, batches[0].Inputs, c.String("profile-json"), 15); err != nil {
			return inFile(path, err)
		}
	}
	if n := int(c.Int("bench")); n > 0 {
		feeds := batches[0].Inputs
		if err := warmUp(sess, func() error { out, err := runOnce(feeds); sess.Recycle(out); return err }); err != nil {
			return inFile(path, err)
		}
		ms := make([]float64, n)
		for i := range ms {
			start := time.Now()
			out, err := runOnce(feeds)
			if err != nil {
				return inFile(path, err)
			}
			ms[i] = float64(time.Since(start).Microseconds()) / 1000
			sess.Recycle(out) // the buffers serve the next run, as in a caller's loop
		}
		slices.Sort(ms)
		res := struct {
			Median float64 `json:"median_ms"`
			Min    float64 `json:"min_ms"`
		}{ms[len(ms)/2], ms[0]}
		if !quiet {
			fmt.Fprintf(w, "%d runs: median %.3f ms, min %.3f ms\n", n, res.Median, res.Min)
		}
		return json.NewEncoder(w).Encode(res)
	}
	return nil
}
