package main

import (
	"context"
	"fmt"
	"io"

	"github.com/onnxslim/onnxslim/verify/graphdiff"
	"github.com/urfave/cli/v3"
)

func init() { register(diffCommand) }

func diffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "show what changed between two models, for code review",
		UsageText: "onnxslim diff A.onnx B.onnx [--format text|markdown|json|html]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "`FORMAT`: text, markdown (fits a pull-request comment), json or html (one self-contained page with the drawn graph)"},
		},
		Action: func(_ context.Context, c *cli.Command) error {
			pa, pb, err := twoArgs(c, "model files (A.onnx B.onnx)")
			if err != nil {
				return err
			}
			format := c.String("format")
			switch format {
			case "text", "markdown", "md", "json", "html":
			default:
				return usageErrorf("--format %q: want text, markdown, json or html", format)
			}
			a, fa, err := loadModel(pa)
			if err != nil {
				return err
			}
			b, fb, err := loadModel(pb)
			if err != nil {
				return err
			}
			// Inferred shapes make the FLOPs deltas known; inference only annotates values.
			annotateShapes(a, nil)
			annotateShapes(b, nil)
			gopts := graphdiff.Options{NameA: pa, NameB: pb, FileBytesA: fa.TotalBytes(), FileBytesB: fb.TotalBytes()}
			w := c.Root().Writer
			if format == "html" {
				return graphdiff.WriteHTML(w, a, b, gopts, graphdiff.PageExtras{})
			}
			d := graphdiff.Compare(a, b, gopts)
			switch format {
			case "json":
				return d.WriteJSON(w)
			case "markdown", "md":
				_, err = io.WriteString(w, d.Markdown(graphdiff.GitHubCommentLimit))
				return err
			}
			if err := d.WriteText(w); err != nil {
				return fmt.Errorf("writing the diff: %w", err)
			}
			return nil
		},
	}
}
