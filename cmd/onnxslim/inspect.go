package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/onnxslim/onnxslim/internal/stats"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/verify"
	"github.com/urfave/cli/v3"
)

func init() { register(inspectCommand) }

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "print a model's signature, op histogram, size and FLOPs",
		UsageText: "onnxslim inspect IN.onnx [--json] [--dim NAME=VALUE]...",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON instead of text"},
		},
		Action: func(_ context.Context, c *cli.Command) error {
			path, err := oneArg(c, "model file")
			if err != nil {
				return err
			}
			dims, err := parseDims(c.StringSlice("dim"))
			if err != nil {
				return err
			}
			m, files, err := loadModel(path)
			if err != nil {
				return err
			}
			info := inspectModel(m, files, dims)
			w := c.Root().Writer
			if c.Bool("json") {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			return info.writeText(w, path)
		},
	}
}

// modelInfo is inspect's JSON output. The first keys are fixed by the CLI contract;
// external_data is an addition.
type modelInfo struct {
	IRVersion        int64            `json:"ir_version"`
	Opsets           map[string]int64 `json:"opsets"`
	Producer         string           `json:"producer"`
	Inputs           []ioInfo         `json:"inputs"`
	Outputs          []ioInfo         `json:"outputs"`
	Nodes            int              `json:"nodes"`
	Ops              map[string]int   `json:"ops"`
	Parameters       int64            `json:"parameters"`
	InitializerBytes int64            `json:"initializer_bytes"`
	FileBytes        int64            `json:"file_bytes"`
	Flops            *int64           `json:"flops"`
	ExternalData     []externalFile   `json:"external_data"`
	// CustomOps are the nodes of custom domains and the ones the interpreter
	// cannot run (verification cuts around those: --shape gives what is
	// unknown of their outputs).
	CustomOps []customOp `json:"custom_ops"`

	dims map[string]int64 // --dim, at which FLOPs were counted
}

// customOp is one custom-domain or opaque node and its outputs' types
// (declared or inferred; shape_known false: the shape is not fully known).
type customOp struct {
	Node       string   `json:"node"`
	Domain     string   `json:"domain"`
	Op         string   `json:"op"`
	Runnable   bool     `json:"runnable"` // the interpreter implements it
	Outputs    []ioInfo `json:"outputs"`
	ShapeKnown []bool   `json:"shape_known"`
}

// ioInfo is one graph input or output. Shape entries are int64 (static), string
// (symbolic) or nil (unknown); Shape is nil when even the rank is unknown.
type ioInfo struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []any  `json:"shape"`
}

func inspectModel(m *onnx.Model, files modelFiles, dims map[string]int64) modelInfo {
	info := modelInfo{
		IRVersion:        m.IRVersion,
		Opsets:           map[string]int64{},
		Producer:         strings.TrimSpace(m.ProducerName + " " + m.ProducerVersion),
		Inputs:           []ioInfo{},
		Outputs:          []ioInfo{},
		Nodes:            stats.Nodes(m),
		Ops:              stats.OpHistogram(m),
		Parameters:       stats.Params(m),
		InitializerBytes: stats.Bytes(m),
		FileBytes:        files.Bytes,
		ExternalData:     files.External,
	}
	if info.ExternalData == nil {
		info.ExternalData = []externalFile{}
	}
	for _, o := range m.Opsets {
		d := o.Domain
		if d == "" {
			d = "ai.onnx"
		}
		info.Opsets[d] = o.Version
	}
	for _, v := range m.Graph.Inputs {
		// Before IR 4 initializers were also listed as inputs; they are weights, not inputs.
		if !v.IsConst() {
			info.Inputs = append(info.Inputs, valueIO(v))
		}
	}
	for _, v := range m.Graph.Outputs {
		info.Outputs = append(info.Outputs, valueIO(v))
	}
	// FLOPs need the shapes of intermediate values: infer them, after the
	// signature above was read as declared.
	annotateShapes(m, nil)
	// FLOPs at the sizes of --dim; the model's own shapes stay symbolic.
	if f, ok := passes.FLOPsAt(m, dims); ok {
		info.Flops = &f
	}
	info.dims = dims
	info.CustomOps = customOps(m)
	return info
}

// customOps lists the nodes of custom domains and those the interpreter
// cannot run, in every graph, with their outputs' types as inferred.
func customOps(m *onnx.Model) []customOp {
	out := []customOp{}
	for _, g := range m.Graphs() {
		for _, n := range g.Nodes {
			opaque := verify.Opaque(m, n)
			if !opaque && (n.Domain == "" || n.Domain == "ai.onnx" || n.Domain == "ai.onnx.ml") {
				continue
			}
			c := customOp{Node: n.Name, Domain: n.Domain, Op: n.OpType, Runnable: !opaque}
			for _, v := range n.Outputs() {
				if v == nil {
					continue
				}
				c.Outputs = append(c.Outputs, valueIO(v))
				c.ShapeKnown = append(c.ShapeKnown, v.Type.HasShape() && v.Type.Elem != onnx.Undefined && !slices.ContainsFunc(v.Type.Shape, func(d onnx.Dim) bool { return d.Kind == onnx.DimUnknown }))
			}
			out = append(out, c)
		}
	}
	return out
}

func valueIO(v *onnx.Value) ioInfo {
	r := ioInfo{Name: v.Name, DType: "unknown"}
	t := v.Type
	if t == nil {
		return r
	}
	if t.Kind == onnx.TypeTensor || t.Kind == onnx.TypeSparseTensor {
		r.DType = t.Elem.String()
		if t.HasShape() {
			r.Shape = make([]any, len(t.Shape))
			for i, d := range t.Shape {
				switch d.Kind {
				case onnx.DimValue:
					r.Shape[i] = d.Value
				case onnx.DimParam:
					r.Shape[i] = d.Param
				}
			}
		}
		return r
	}
	r.DType = t.String() // sequence, map, optional: the whole type says more than an element type
	return r
}

func shapeText(s []any) string {
	if s == nil {
		return "?"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		if d == nil {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (info modelInfo) writeText(out io.Writer, path string) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "model\t%s\n", path)
	fmt.Fprintf(w, "ir version\t%d\n", info.IRVersion)
	var opsets []string
	for d, v := range info.Opsets {
		opsets = append(opsets, fmt.Sprintf("%s %d", d, v))
	}
	sort.Strings(opsets)
	fmt.Fprintf(w, "opsets\t%s\n", strings.Join(opsets, ", "))
	fmt.Fprintf(w, "producer\t%s\n", info.Producer)
	fmt.Fprintf(w, "nodes\t%d\n", info.Nodes)
	fmt.Fprintf(w, "parameters\t%s\n", groupDigits(info.Parameters))
	fmt.Fprintf(w, "initializers\t%s\n", humanBytes(info.InitializerBytes))
	fmt.Fprintf(w, "file\t%s\n", humanBytes(info.FileBytes))
	for _, e := range info.ExternalData {
		share := ""
		if info.InitializerBytes > 0 {
			share = fmt.Sprintf(", %.1f%% of the initializers", 100*float64(e.TensorBytes)/float64(info.InitializerBytes))
		}
		if e.Names > 1 {
			share += fmt.Sprintf("; the file has %d names (hard links: --link-data shares it with another model)", e.Names)
		}
		fmt.Fprintf(w, "external data\t%s (%s: %d tensors, %s%s)\n", e.Location, humanBytes(e.Bytes), e.Tensors, humanBytes(e.TensorBytes), share)
	}
	switch {
	case info.Flops != nil && len(info.dims) > 0:
		fmt.Fprintf(w, "FLOPs\t%s (at %s)\n", groupDigits(*info.Flops), dimList(info.dims))
	case info.Flops != nil:
		fmt.Fprintf(w, "FLOPs\t%s\n", groupDigits(*info.Flops))
	case symbolicInputs(info):
		fmt.Fprintf(w, "FLOPs\tunknown at symbolic sizes (count them at some with --dim NAME=VALUE)\n")
	default:
		fmt.Fprintf(w, "FLOPs\tunknown (some shapes could not be inferred)\n")
	}
	for _, sec := range []struct {
		title string
		ios   []ioInfo
	}{{"inputs", info.Inputs}, {"outputs", info.Outputs}} {
		fmt.Fprintf(w, "\n%s\n", sec.title)
		for _, v := range sec.ios {
			fmt.Fprintf(w, "  %s\t%s\t%s\n", v.Name, v.DType, shapeText(v.Shape))
		}
	}
	if len(info.CustomOps) > 0 {
		fmt.Fprintf(w, "\ncustom ops (outputs: ? = unknown; verification cuts around ops the interpreter cannot run, --shape NAME=DIMS gives an unknown shape)\n")
		for _, c := range info.CustomOps {
			run := "interpreter cannot run it"
			if c.Runnable {
				run = "runs in the interpreter"
			}
			var outs []string
			for i, o := range c.Outputs {
				known := "shape known"
				if !c.ShapeKnown[i] {
					known = "shape unknown"
				}
				outs = append(outs, fmt.Sprintf("%s %s%s (%s)", o.Name, o.DType, shapeText(o.Shape), known))
			}
			fmt.Fprintf(w, "  %s\t%s::%s\t%s\t%s\n", c.Node, c.Domain, c.Op, run, strings.Join(outs, ", "))
		}
	}
	fmt.Fprintf(w, "\nops\n")
	ops := make([]string, 0, len(info.Ops))
	for op := range info.Ops {
		ops = append(ops, op)
	}
	// Most frequent first, then by name, so the output is stable.
	sort.Slice(ops, func(i, j int) bool {
		if info.Ops[ops[i]] != info.Ops[ops[j]] {
			return info.Ops[ops[i]] > info.Ops[ops[j]]
		}
		return ops[i] < ops[j]
	})
	for _, op := range ops {
		fmt.Fprintf(w, "  %s\t%d\n", op, info.Ops[op])
	}
	return w.Flush()
}

// groupDigits renders 1234567 as 1,234,567.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// symbolicInputs reports whether an input has a dimension that is not a
// number.
func symbolicInputs(info modelInfo) bool {
	for _, in := range info.Inputs {
		for _, d := range in.Shape {
			if _, ok := d.(int64); !ok {
				return true
			}
		}
	}
	return false
}

// dimList renders symbolic dims' sizes in name order: "b=1, s=64".
func dimList(dims map[string]int64) string {
	var at []string
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		at = append(at, fmt.Sprintf("%s=%d", k, dims[k]))
	}
	return strings.Join(at, ", ")
}
