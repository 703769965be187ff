package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/verify"
	"github.com/urfave/cli/v3"
)

// The flags every command that takes inputs shares.
func fillFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "fill", Usage: "set input NAME to the constant VALUE in every sample, `NAME=VALUE` (repeatable; e.g. --fill sr=16000)"}
}

func timeoutFlag(name, usage string) cli.Flag {
	return &cli.DurationFlag{Name: name, Value: verify.DefaultTimeout, Usage: usage}
}

// parseFill parses --fill NAME=VALUE flags and checks the names against the
// model's inputs.
func parseFill(specs []string, inputs []*onnx.Value) (map[string]float64, error) {
	fill := map[string]float64{}
	var names []string
	for _, v := range inputs {
		names = append(names, v.Name)
	}
	for _, s := range specs {
		name, val, ok := strings.Cut(s, "=")
		f, err := strconv.ParseFloat(val, 64)
		if !ok || name == "" || err != nil {
			return nil, usageErrorf("--fill %q: want NAME=VALUE with VALUE a number", s)
		}
		if !slices.Contains(names, name) {
			return nil, usageErrorf("--fill %q: the model has no input %q (its inputs: %s)", s, name, strings.Join(names, ", "))
		}
		fill[name] = f
	}
	return fill, nil
}

// fitDims chooses values for the free symbolic dims of m's inputs by running
// m on generated inputs (dataset.FitDims) and logs the choice. Each try is
// bounded by timeout.
func fitDims(ctx context.Context, m *onnx.Model, dims map[string]int64, fill map[string]float64, timeout time.Duration, log io.Writer) (map[string]int64, error) {
	inputs := graphInputs(m)
	for _, v := range inputs {
		if v.Type != nil && v.Type.Kind == onnx.TypeTensor && !v.Type.HasShape() {
			if shape, from, ok := dataset.GuessShape(v); ok {
				fmt.Fprintf(log, "onnxslim: note: input %q declares no shape: generated inputs start as %v, read from its consumer %s (give real ones with --inputs DIR)\n", v.Name, shape, from)
			}
		}
	}
	if len(dataset.FreeDims(inputs, dims)) == 0 {
		return dims, nil
	}
	sess, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		return nil, err
	}
	try := func(d map[string]int64) error {
		feeds, err := dataset.Generate(inputs, 0, dataset.Options{Dims: d, Fill: fill})
		if err != nil {
			return err
		}
		cx, cancel := withTimeout(ctx, timeout)
		defer cancel()
		_, err = sess.RunContext(cx, feeds)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return &verify.ReferenceError{Inputs: "generated inputs", Err: &verify.TimeoutError{Timeout: timeout, Err: err}}
		}
		return err
	}
	chosen, desc, err := dataset.FitDims(inputs, dims, fill, try, context.Canceled, context.DeadlineExceeded)
	if err != nil {
		return nil, err
	}
	if desc != "" {
		fmt.Fprintln(log, desc)
	}
	return chosen, nil
}

// withTimeout bounds ctx by timeout when it is positive (0: no limit).
func withTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return context.WithCancel(ctx)
}
