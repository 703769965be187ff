package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/onnxslim/onnxslim/passes"
	_ "github.com/onnxslim/onnxslim/passes/all" // registers every pass
	"github.com/urfave/cli/v3"
)

func init() { register(passesCommand) }

func passesCommand() *cli.Command {
	return &cli.Command{
		Name:      "passes",
		Usage:     "list the passes, their options and defaults, and the groups",
		UsageText: "onnxslim passes [--json]",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON instead of text"}},
		Action: func(_ context.Context, c *cli.Command) error {
			if c.Args().Len() > 0 {
				return usageErrorf("passes takes no arguments")
			}
			w := c.Root().Writer
			if c.Bool("json") {
				type opt struct {
					Name    string   `json:"name"`
					Type    string   `json:"type"`
					Default string   `json:"default"`
					Values  []string `json:"values,omitempty"`
					Doc     string   `json:"doc"`
				}
				type pass struct {
					Name    string   `json:"name"`
					Doc     string   `json:"doc"`
					Lossy   bool     `json:"lossy"`
					Options []opt    `json:"options"`
					Members []string `json:"members,omitempty"`
				}
				var out []pass
				for _, p := range passes.All() {
					e := pass{Name: p.Name, Doc: p.Doc, Lossy: p.Lossy, Options: []opt{}}
					for _, o := range p.Options {
						e.Options = append(e.Options, opt{o.Name, o.Kind.String(), o.Default, o.Enum, o.Doc})
					}
					out = append(out, e)
				}
				for _, g := range passes.Groups() {
					out = append(out, pass{Name: g.Name, Doc: g.Doc, Options: []opt{}, Members: g.Members})
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
			for _, p := range passes.All() {
				kind := ""
				if p.Lossy {
					kind = " (lossy)"
				}
				fmt.Fprintf(tw, "%s%s\t%s\n", p.Name, kind, p.Doc)
				for _, o := range p.Options {
					typ := o.Kind.String()
					if len(o.Enum) > 0 {
						typ = strings.Join(o.Enum, "|")
					}
					fmt.Fprintf(tw, "  %s=%s\t%s (default %s)\n", o.Name, typ, o.Doc, o.Default)
				}
			}
			for _, g := range passes.Groups() {
				fmt.Fprintf(tw, "%s (group)\t%s: %s\n", g.Name, g.Doc, strings.Join(g.Members, ", "))
			}
			return tw.Flush()
		},
	}
}
