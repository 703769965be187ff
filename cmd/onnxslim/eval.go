package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/onnxslim/onnxslim/verify"
	"github.com/urfave/cli/v3"
)

func init() { register(evalCommand) }

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:      "eval",
		Usage:     "measure a classifier's top-1 and top-5 accuracy on a labelled data folder",
		UsageText: "onnxslim eval MODEL.onnx --data DIR [--dim NAME=VALUE]... [--fill NAME=VALUE]... [--json]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "labelled folder `DIR` (inputs plus labels.npy)", TakesFile: true},
			&cli.StringSliceFlag{Name: "dim", Usage: "fix a symbolic dimension, `NAME=VALUE` (repeatable)"},
			&cli.IntFlag{Name: "batch", Usage: "samples per run when the batch dimension is symbolic (`N`, default 32)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON: {\"samples\", \"top1\", \"top5\"}"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar"},
			fillFlag(),
			timeoutFlag("timeout", "fail when the model takes longer than `DURATION` on the folder"),
		},
		Action: func(ctx context.Context, c *cli.Command) error {
			path, err := oneArg(c, "model file")
			if err != nil {
				return err
			}
			dir := c.String("data")
			if dir == "" {
				return usageErrorf("missing --data DIR (usage: %s)", c.UsageText)
			}
			if st, err := os.Stat(dir); err != nil {
				return err
			} else if !st.IsDir() {
				return fmt.Errorf("%s: not a folder", dir)
			}
			dims, err := parseDims(c.StringSlice("dim"))
			if err != nil {
				return err
			}
			m, _, err := loadModel(path)
			if err != nil {
				return err
			}
			fill, err := parseFill(c.StringSlice("fill"), graphInputs(m))
			if err != nil {
				return err
			}
			opts := verify.Options{Dims: dims, BatchSize: int(c.Int("batch")), Fill: fill, Context: ctx, Timeout: c.Duration("timeout")}
			var done func()
			opts.Progress, done = progress(c, "eval", c.Bool("quiet"))
			acc, err := verify.EvaluateDir(m, dir, opts)
			done()
			if err != nil {
				return inFile(path, err)
			}
			w := c.Root().Writer
			if c.Bool("json") {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(acc)
			}
			_, err = fmt.Fprintf(w, "%s on %s: top-1 %.4f, top-5 %.4f (%d samples)\n", path, dir, acc.Top1, acc.Top5, acc.Samples)
			return err
		},
	}
}
