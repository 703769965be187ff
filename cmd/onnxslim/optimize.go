package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/stats"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/verify"
	"github.com/onnxslim/onnxslim/verify/graphdiff"
	"github.com/urfave/cli/v3"
)

// optimizeCommand is the main job: onnxslim IN -o OUT [flags].
func optimizeCommand() *cli.Command {
	return &cli.Command{
		UsageText: "onnxslim IN.onnx -o OUT.onnx [--passes SPEC] [--verify|--no-verify] [--inputs DIR] [--dim NAME=VALUE]... [--shape NAME=DIMS]... [--report FILE.md] [--json FILE.json] [--external-data] [--quiet]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the optimized model to `FILE`", TakesFile: true},
			&cli.StringFlag{Name: "passes", Usage: "comma-separated passes to run (`SPEC`); \"none\" re-encodes without changes"},
			&cli.BoolWithInverseFlag{Name: "verify", Value: true, Usage: "run OUT against IN and compare outputs"},
			&cli.StringFlag{Name: "inputs", Usage: "inputs for verification from `DIR` (.npy per input or input_N.pb)", TakesFile: true},
			&cli.StringSliceFlag{Name: "dim", Usage: "fix a symbolic dimension, `NAME=VALUE` (repeatable)"},
			&cli.StringSliceFlag{Name: "shape", Usage: "shape of an output of an op the interpreter cannot run (a custom-domain plugin), fed random values when verifying around it: `NAME=DIMS` as 1x4x16x16 (repeatable)"},
			&cli.StringFlag{Name: "report", Usage: "write a report of the run to `FILE.md` (markdown) or FILE.html (a page with the drawn graph)", TakesFile: true},
			&cli.StringFlag{Name: "json", Usage: "write a machine-readable run report to `FILE.json`", TakesFile: true},
			&cli.BoolFlag{Name: "external-data", Usage: "store large initializers in OUT's base name + .data beside OUT (automatic, with a note, for a model over 2 GiB)"},
			&cli.Int64Flag{Name: "external-threshold", Value: 1024, Usage: "external data: initializers of at least `BYTES` go out"},
			&cli.Int64Flag{Name: "external-align", Value: 65536, Usage: "external data: tensors of 1 MiB or more start at a multiple of `BYTES` (4096: a page)"},
			&cli.Int64Flag{Name: "external-file-size", Usage: "external data: split into files of at most `BYTES` (0: one file)"},
			&cli.BoolFlag{Name: "link-data", Usage: "external data: hard-link the input's data file beside OUT where its tensors go out unchanged (same file system) instead of copying them; only new and changed tensors are written (implies --external-data). The files then share their bytes: change neither in place"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors"},
			&cli.BoolFlag{Name: "verify-each", Usage: "verify after every pass and name the first pass that breaks tolerance"},
			&cli.IntFlag{Name: "verify-samples", Value: 2, Usage: "random input samples for verification (without --inputs)"},
			&cli.BoolFlag{Name: "force", Usage: "write a lossy result even when its outputs' cosine with the original is below 0.9"},
			&cli.Float64Flag{Name: "max-rel-err", Value: -1, Usage: "fail if an output's relative L2 error exceeds `X` (binding for lossy passes)"},
			&cli.Float64Flag{Name: "min-cosine", Value: -1, Usage: "fail if an output's cosine similarity is below `C`"},
			&cli.Float64Flag{Name: "max-accuracy-drop", Value: -1, Usage: "fail if top-1 accuracy on labelled --inputs drops by more than `X` (0.01 = one point)"},
			&cli.IntFlag{Name: "max-rewrites", Usage: "stop rewriting after `N` rewrites (to bisect a rewrite that breaks a model)"},
			fillFlag(),
			timeoutFlag("verify-timeout", "fail verification when a model takes longer than `DURATION` on the inputs (e.g. 30s, 10m)"),
		},
		Action: runOptimize,
	}
}

// optimizeReport is the --json run report.
type optimizeReport struct {
	Input        string       `json:"input"`
	Output       string       `json:"output"`
	Passes       []PassReport `json:"passes"`
	NodesBefore  int          `json:"nodes_before"`
	NodesAfter   int          `json:"nodes_after"`
	ParamsBefore int64        `json:"params_before"`
	ParamsAfter  int64        `json:"params_after"`
	BytesBefore  int64        `json:"bytes_before"`
	BytesAfter   int64        `json:"bytes_after"`
	// ExternalAfter lists the output's external data files (bytes_after
	// counts them; a linked one shares its bytes with the input's).
	ExternalAfter []externalFile `json:"external_data_after,omitempty"`
	FlopsBefore   *int64         `json:"flops_before"`
	FlopsAfter    *int64         `json:"flops_after"`
	// FlopsAt are the sizes of a dynamic model's symbolic dims the FLOPs
	// are counted at: --dim, else the data's (--inputs), else the ones
	// generated inputs use.
	FlopsAt map[string]int64 `json:"flops_at,omitempty"`
	// FlopsRun: some shapes depend on the data (detections after
	// NonMaxSuppression) or an If/Loop body computes, and the FLOPs are
	// those of one run of the first sample.
	FlopsRun bool    `json:"flops_run,omitempty"`
	MS       float64 `json:"ms"`
	// Verify is the verification result (absent with --no-verify).
	Verify any `json:"verify,omitempty"`
	// Details are passes' structured results (e.g. quantize's per-layer error).
	Details []passDetail `json:"details,omitempty"`

	verifyRep *verify.Report
	verifyTol verify.Tolerance
}

func runOptimize(ctx context.Context, c *cli.Command) error {
	if c.Args().Len() == 0 {
		return usageErrorf("missing IN.onnx (usage: %s; commands: %s)", c.UsageText, commandNames(c))
	}
	in, err := oneArg(c, "input model")
	if err != nil {
		return err
	}
	out := c.String("output")
	if out == "" {
		return usageErrorf("missing -o OUT.onnx (usage: %s)", c.UsageText)
	}
	dims, err := parseDims(c.StringSlice("dim"))
	if err != nil {
		return err
	}
	shapes, err := parseShapes(c.StringSlice("shape"))
	if err != nil {
		return err
	}
	pipeline, err := newPipeline(c.String("passes"), c.IsSet("passes"))
	if err != nil {
		return err
	}
	if dir := c.String("inputs"); dir != "" {
		if st, err := os.Stat(dir); err != nil {
			return fmt.Errorf("--inputs: %w", err)
		} else if !st.IsDir() {
			return fmt.Errorf("--inputs %s: not a folder", dir)
		}
	}
	if same, err := sameFile(in, out); err == nil && same && c.Bool("external-data") {
		// Saving would replace the data file the input still points to.
		return usageErrorf("-o %s is the input file; --external-data needs a different output", out)
	}

	start := time.Now()
	phase := newPhaseTimer()
	m, inFiles, err := loadModel(in)
	if err != nil {
		return err
	}
	phase.done("load")
	if v, newest := m.Opset(""), interp.NewestOpset(""); v > newest {
		fmt.Fprintf(c.Root().ErrWriter, "onnxslim: note: %s imports ai.onnx opset %d, newer than any the interpreter knows (%d): verification runs each op as its newest version here\n", in, v, newest)
	}
	fill, err := parseFill(c.StringSlice("fill"), graphInputs(m))
	if err != nil {
		return err
	}
	annotateShapes(m, dims)
	rep := optimizeReport{
		Input: in, Output: out,
		NodesBefore: stats.Nodes(m), ParamsBefore: stats.Params(m),
		BytesBefore: inFiles.TotalBytes(),
	}
	quiet := c.Bool("quiet")
	logw := io.Writer(c.Root().ErrWriter)
	if quiet {
		logw = io.Discard
	}

	// Generated inputs (verification, random calibration) need values for
	// symbolic dims that let the original run.
	genDims := dims
	timeout := c.Duration("verify-timeout")
	verifying := c.Bool("verify") && !pipeline.Empty()
	var orig *onnx.Model // an untouched copy of the input
	if verifying || c.String("inputs") == "" && pipeline.Lossy() {
		if orig, _, err = loadModel(in); err != nil {
			return err
		}
		phase.done("load original")
	}
	// Ops the interpreter cannot run: verification compares the models cut
	// around them (and generated dims are fitted on the cut original).
	var cut *verify.Cut
	if verifying {
		if cut, err = cutOriginal(orig, shapes, dims); err != nil {
			return inFile(in, err)
		}
	}
	if c.String("inputs") == "" && orig != nil {
		if genDims, err = fitDims(ctx, orig, dims, fill, timeout, logw); err != nil {
			return inFile(in, err)
		}
	} else if dir := c.String("inputs"); dir != "" {
		// The data's sizes, for counting FLOPs (channel pruning needs
		// them); a folder that cannot be read says so where it is read.
		if d, err := dataset.SampleDims(dir, graphInputs(m), dims, fill); err == nil {
			genDims = d
		}
	}
	// FLOPs at those sizes; where some shapes depend on the data or an
	// If/Loop body computes, on one run of the first sample (of --inputs,
	// else generated) when verifying, within the verification's timeout.
	var sample func() (map[string]*interp.Tensor, error) // nil: no run
	if verifying {
		sample = func() (map[string]*interp.Tensor, error) {
			if dir := c.String("inputs"); dir != "" {
				b, err := dataset.FirstSample(dir, graphInputs(m), dataset.Options{Dims: genDims, Fill: fill})
				if err != nil {
					return nil, err
				}
				return b.Inputs, nil
			}
			return dataset.Generate(graphInputs(m), 0, dataset.Options{Dims: genDims, Fill: fill})
		}
	}
	countFLOPs := func(m *onnx.Model) *int64 {
		cx, cancel := withTimeout(ctx, timeout)
		defer cancel()
		f, ran, ok := passes.FLOPsRun(cx, m, genDims, sample)
		if !ok {
			return nil
		}
		rep.FlopsRun = rep.FlopsRun || ran
		return &f
	}
	rep.FlopsBefore = countFLOPs(m)
	if rep.FlopsBefore != nil && len(dataset.FreeDims(graphInputs(m), dims)) > 0 {
		rep.FlopsAt = genDims
	}
	// Verification against the untouched copy.
	var ver *verification
	if verifying {
		tol, binding := optimizeTolerance(c, pipeline.Lossy())
		vopts := verify.Options{Inputs: c.String("inputs"), Dims: genDims, Samples: int(c.Int("verify-samples")), Tolerance: &tol,
			Fill: fill, Context: ctx, Timeout: timeout}
		if ver, err = newVerification(orig, vopts, binding, cut); err != nil {
			return inFile(in, err)
		}
		if interp.OptionsFor(orig, interp.Options{}).NoPrepack {
			largeModelNote(c.Root().ErrWriter, orig)
		}
		phase.done("verify: run original")
	}
	rc := runConfig{dims: dims, genDims: genDims, fill: fill, inputs: c.String("inputs"), maxRewrites: int(c.Int("max-rewrites")), log: logw}
	if ver != nil && c.Bool("verify-each") {
		rc.verifyEach = func(r passes.Report, m *onnx.Model) error {
			if _, err := ver.check(m); err != nil {
				return fmt.Errorf("verification after this pass failed: %w", err)
			}
			return nil
		}
	}
	ctx = passes.WithDetails(ctx, func(pass string, d any) {
		rep.Details = append(rep.Details, passDetail{Pass: pass, Detail: d})
	})
	if rep.Passes, err = pipeline.Run(ctx, m, rc); err != nil {
		return inFile(in, err)
	}
	phase.done("passes")
	// The save runs beside the result's verification, its files written
	// under no name and put in place only once the check has passed: on a
	// large model one is mostly disk and the other mostly CPU.
	saveCtx, stopSave := context.WithCancel(ctx)
	defer stopSave()
	if ver != nil {
		// Each weight the passes left to be computed (quantized, converted)
		// is computed once for the save and the check together.
		defer m.ShareLazy(shareBudget)()
	}
	var notes []string // the save's, printed when it is done
	save := &stagedSave{done: make(chan struct{})}
	go save.run(m, out, onnx.SaveOptions{ExternalData: c.Bool("external-data") || c.Bool("link-data"),
		ExternalThreshold: int(c.Int64("external-threshold")), ExternalAlign: c.Int64("external-align"),
		ExternalFileBytes: c.Int64("external-file-size"), LinkData: c.Bool("link-data"), Context: saveCtx,
		Note: func(note string) { notes = append(notes, note) }})
	defer save.discard(stopSave) // unless committed
	var verRep *verify.Report
	if ver != nil {
		if verRep, err = ver.check(m); err != nil {
			var pe *passes.PassError
			if !errors.As(err, &pe) {
				err = fmt.Errorf("verification of the result failed: %w (nothing was written)", err)
			}
			return inFile(in, err)
		}
		phase.done("verify: run result (saving alongside)")
		rep.Verify = verRep.JSON(ver.tol)
		rep.verifyTol = ver.tol
		rep.verifyRep = verRep
		if !ver.binding && !c.Bool("force") {
			if err := lossyGuard(verRep, m, c.String("inputs") == "", c.Root().ErrWriter); err != nil {
				return inFile(in, err)
			}
		}
	}
	<-save.done
	for _, note := range notes {
		fmt.Fprintf(c.Root().ErrWriter, "onnxslim: note: %s\n", note)
	}
	if err := ctx.Err(); err != nil {
		return err // interrupted: nothing is put in place
	}
	if save.err != nil {
		return inFile(out, save.err)
	}
	if err := save.staged.Commit(); err != nil {
		return inFile(out, err)
	}
	phase.done("save")
	outFiles := modelFiles{Path: out, Bytes: save.staged.Bytes, External: externalFiles(save.staged.External)}
	for _, e := range outFiles.External {
		if e.Linked {
			fmt.Fprintf(c.Root().ErrWriter, "onnxslim: note: %s is a hard link to the input's data file (--link-data): %d tensors, %d bytes not copied; modify neither file in place\n", e.Location, e.Tensors, e.TensorBytes)
		}
	}
	rep.ExternalAfter = outFiles.External
	rep.NodesAfter, rep.ParamsAfter = stats.Nodes(m), stats.Params(m)
	rep.BytesAfter, rep.FlopsAfter = outFiles.TotalBytes(), countFLOPs(m)
	rep.MS = float64(time.Since(start).Microseconds()) / 1000

	if path := c.String("json"); path != "" {
		if err := writeJSON(path, rep); err != nil {
			return err
		}
	}
	if path := c.String("report"); path != "" {
		orig, _, err := loadModel(in)
		if err != nil {
			return err
		}
		annotateShapes(orig, dims)
		skipped := ""
		if verRep == nil {
			skipped = "verification was skipped (--no-verify or --passes none)"
		}
		gopts := graphdiff.Options{NameA: in, NameB: out, FileBytesA: rep.BytesBefore, FileBytesB: rep.BytesAfter}
		if ext := strings.ToLower(filepath.Ext(path)); ext == ".html" || ext == ".htm" {
			extras := graphdiff.PageExtras{Verify: rep.Verify, VerifySkipped: skipped, Passes: rep.Passes, Details: rep.Details}
			if err := onnx.WriteFileAtomic(path, func(w io.Writer) error {
				return graphdiff.WriteHTML(w, orig, m, gopts, extras)
			}); err != nil {
				return fmt.Errorf("--report: %w", err)
			}
		} else if err := onnx.WriteFileAtomic(path, func(w io.Writer) error {
			if err := writeMarkdown(w, rep); err != nil {
				return err
			}
			return verify.WriteMarkdownReport(w, orig, m, gopts, verRep, rep.verifyTol, skipped)
		}); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
	}
	if !quiet {
		w := c.Root().Writer
		writeSummary(w, rep.Passes)
		fmt.Fprintf(w, "%s → %s: nodes %d → %d, parameters %s → %s, size %s → %s\n",
			in, out, rep.NodesBefore, rep.NodesAfter, groupDigits(rep.ParamsBefore), groupDigits(rep.ParamsAfter),
			humanBytes(rep.BytesBefore), humanBytes(rep.BytesAfter))
		if verRep != nil {
			verRep.WriteText(w, rep.verifyTol)
		}
	}
	return nil
}

// passDetail is one structured result a pass handed over.
type passDetail struct {
	Pass   string `json:"pass"`
	Detail any    `json:"detail"`
}

// optimizeTolerance is the default lossless tolerance, or for lossy pipelines
// the limits the user gave (--max-rel-err, --min-cosine, --max-accuracy-drop),
// which are then binding; without them lossy results are only reported.
func optimizeTolerance(c *cli.Command, lossy bool) (verify.Tolerance, bool) {
	tol := verify.DefaultTolerance()
	if lossy {
		// Only the limits the user gives bind a lossy pipeline.
		tol.Elementwise, tol.MaxRelL2, tol.MinCosine, tol.MaxAccuracyDrop = false, verify.Unchecked, 0, verify.Unchecked
	}
	given := false
	if v := c.Float64("max-rel-err"); v >= 0 {
		tol.MaxRelL2, given = v, true
		tol.NoiseMultiple = 0 // the user's own bound binds as given
	}
	if v := c.Float64("min-cosine"); v >= 0 {
		tol.MinCosine, given = v, true
	}
	if v := c.Float64("max-accuracy-drop"); v >= 0 {
		tol.MaxAccuracyDrop, given = v, true
	}
	return tol, !lossy || given
}

// annotateShapes infers value shapes so that FLOPs figures are known. It only
// annotates values; a model whose shapes cannot be inferred keeps unknown FLOPs.
func annotateShapes(m *onnx.Model, dims map[string]int64) {
	_, _ = interp.InferShapes(m, interp.ShapeOptions{Dims: dims})
}

// parseShapes parses --shape NAME=DIMS flags (DIMS as 1x4x16x16 or 1,4,16,16).
func parseShapes(specs []string) (map[string][]int64, error) {
	shapes := map[string][]int64{}
	for _, s := range specs {
		name, val, ok := strings.Cut(s, "=")
		var dims []int64
		for _, f := range strings.FieldsFunc(val, func(r rune) bool { return r == 'x' || r == ',' }) {
			v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || v < 0 {
				ok = false
				break
			}
			dims = append(dims, v)
		}
		if !ok || name == "" {
			return nil, usageErrorf("--shape %q: want NAME=DIMS with DIMS non-negative integers as 1x4x16x16", s)
		}
		shapes[name] = dims
	}
	return shapes, nil
}

// parseDims parses --dim NAME=VALUE flags.
func parseDims(specs []string) (map[string]int64, error) {
	dims := map[string]int64{}
	for _, s := range specs {
		name, val, ok := strings.Cut(s, "=")
		v, err := strconv.ParseInt(val, 10, 64)
		if !ok || name == "" || err != nil || v < 0 {
			return nil, usageErrorf("--dim %q: want NAME=VALUE with VALUE a non-negative integer", s)
		}
		dims[name] = v
	}
	return dims, nil
}

func writeJSON(path string, v any) error {
	err := onnx.WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
	if err != nil {
		return fmt.Errorf("--json: %w", err)
	}
	return nil
}

func writeMarkdown(w io.Writer, r optimizeReport) error {
	fl := func(p *int64) string {
		if p == nil {
			return "unknown"
		}
		return strconv.FormatInt(*p, 10)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# onnxslim: `%s` → `%s`\n\n", filepath.Base(r.Input), filepath.Base(r.Output))
	b.WriteString("| | before | after |\n|---|---:|---:|\n")
	fmt.Fprintf(&b, "| nodes | %d | %d |\n", r.NodesBefore, r.NodesAfter)
	fmt.Fprintf(&b, "| parameters | %d | %d |\n", r.ParamsBefore, r.ParamsAfter)
	fmt.Fprintf(&b, "| bytes | %d | %d |\n", r.BytesBefore, r.BytesAfter)
	fmt.Fprintf(&b, "| FLOPs | %s | %s |\n\n", fl(r.FlopsBefore), fl(r.FlopsAfter))
	if len(r.FlopsAt) > 0 {
		fmt.Fprintf(&b, "FLOPs are counted at %s.\n\n", dimList(r.FlopsAt))
	}
	if r.FlopsRun {
		b.WriteString("Some shapes depend on the data, or an If/Loop body computes: FLOPs are those of one run of the first sample.\n\n")
	}
	if len(r.Passes) == 0 {
		b.WriteString("No passes ran: the model was re-encoded unchanged.\n")
	} else {
		b.WriteString("| pass | nodes | parameters | bytes | ms |\n|---|---:|---:|---:|---:|\n")
		for _, p := range r.Passes {
			fmt.Fprintf(&b, "| %s | %d → %d | %d → %d | %d → %d | %.1f |\n", p.Name,
				p.NodesBefore, p.NodesAfter, p.ParamsBefore, p.ParamsAfter, p.BytesBefore, p.BytesAfter, p.MS)
		}
	}
	// Passes whose details know how to read as markdown (lowrank's per-layer table).
	for _, d := range r.Details {
		if md, ok := d.Detail.(interface{ Markdown() string }); ok {
			fmt.Fprintf(&b, "\n## %s\n\n%s", d.Pass, md.Markdown())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// sameFile reports whether two paths name the same existing file.
func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

func commandNames(c *cli.Command) string {
	var names []string
	for _, sc := range c.Root().Commands {
		if !sc.Hidden && sc.Name != "help" {
			names = append(names, sc.Name)
		}
	}
	return strings.Join(names, ", ")
}

// humanBytes renders a size as 1.2 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Guard rails of a lossy pipeline that the user bound by nothing (no
// --max-rel-err, --min-cosine or --max-accuracy-drop): below lossyWarn the
// result is written with a warning; below lossyFloor it is refused.
const (
	lossyWarn  = 0.99
	lossyFloor = 0.9
)

// lossyGuard applies the guard rails to the smallest output cosine of the
// verification (NaN counts as below the floor). generated says the
// verification ran on generated inputs, which the message points out: a
// model calibrated on real data can be far off on noise. An output m
// computes through a comparison or rounding of floats is named with it:
// there a tiny change moves whole values.
func lossyGuard(r *verify.Report, m *onnx.Model, generated bool, warn io.Writer) error {
	worst, name := math.Inf(1), ""
	for _, o := range r.Outputs {
		if c := float64(o.Cosine); !(c >= worst) {
			worst, name = c, o.Name
		}
	}
	on := "on the verification inputs"
	if generated {
		on = "on generated random inputs (give real ones with --inputs DIR)"
	}
	if n := verify.Discontinuity(m, name); n != nil {
		on += fmt.Sprintf(" (it is computed through %s node %q, a step function of floats: a tiny change there moves whole values, e.g. a peak by one pixel)", n.OpType, n.Name)
	}
	switch {
	case name == "":
		return nil
	case !(worst >= lossyFloor):
		return fmt.Errorf("the lossy result is far from the original: output %q has cosine %.4f with it %s, below the floor of %g; "+
			"calibrate on real data (calib=DIR, or --inputs DIR), ask for less (quantize(min_cosine=0.99) keeps sensitive layers in float; "+
			"a smaller prune amount; a higher lowrank energy), or give a bound (--min-cosine) or --force to write it anyway (nothing was written)", name, worst, on, lossyFloor)
	case worst < lossyWarn:
		fmt.Fprintf(warn, "onnxslim: warning: output %q has cosine %.4f with the original %s, below %g: check accuracy on real data (--inputs DIR with labels, --max-accuracy-drop)\n", name, worst, on, lossyWarn)
	}
	return nil
}

// shareBudget bounds the computed weights held between the save and the
// check of the result (onnx.Model.ShareLazy): the one ahead keeps them
// for the other up to this many bytes.
const shareBudget = 128 << 20

// largeModelNote says that the interpreter runs m with its weights as
// stored (interp.OptionsFor: NoPrepack), which bounds memory and slows
// the runs.
func largeModelNote(w io.Writer, m *onnx.Model) {
	fmt.Fprintf(w, "onnxslim: note: the model's weights come to %s as the interpreter computes with them: its runs hold them once, as stored, and decode quantized and float16 ones in each run (bounded memory, slower runs)\n", humanBytes(interp.WeightBytes(m)))
}
