package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/verify/graphdiff"
)

// JSONReport is the verify --json document of the CLI contract; OutputReport
// carries the contract's keys plus extra ones.
type JSONReport struct {
	OK       bool                `json:"ok"`
	Samples  int                 `json:"samples"`
	Outputs  []OutputReport      `json:"outputs"`
	Accuracy *AccuracyComparison `json:"accuracy,omitempty"`
	Failures []string            `json:"failures"`
	// Cut lists the ops verification cut around (their insides unchecked).
	Cut []CutNode `json:"cut,omitempty"`
}

// JSON returns the report in the contract's JSON shape, judged against tol.
func (r *Report) JSON(tol Tolerance) JSONReport {
	f := r.Failures(tol)
	if f == nil {
		f = []string{}
	}
	j := JSONReport{OK: len(f) == 0, Samples: r.Samples, Outputs: r.Outputs, Accuracy: r.Accuracy, Failures: f}
	if r.Cut != nil {
		j.Cut = r.Cut.Nodes
	}
	return j
}

// WriteJSON writes r.JSON(tol), indented.
func (r *Report) WriteJSON(w io.Writer, tol Tolerance) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.JSON(tol))
}

// WriteText writes a table of the per-output metrics and the verdict.
func (r *Report) WriteText(w io.Writer, tol Tolerance) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "output\tdtype\tmax abs err\t(noise)\tmax rel err\trel L2\t(noise)\tcosine\ttop-1 agree\tNaN/Inf a→b\n")
	for _, o := range r.Outputs {
		na, nl := o.noiseCells()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d → %d/%d\n", o.Name, o.DType,
			sci(o.MaxAbsErr), na, sci(o.MaxRelErr), sci(o.RelL2), nl, cos(o.Cosine), top1(o.Top1Agreement), o.NaNA, o.InfA, o.NaNB, o.InfB)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if a := r.Accuracy; a != nil {
		fmt.Fprintf(w, "accuracy (%d labelled samples): top-1 %.4f → %.4f (drop %+.4f), top-5 %.4f → %.4f\n",
			a.A.Samples, a.A.Top1, a.B.Top1, a.Drop, a.A.Top5, a.B.Top5)
	}
	if r.Cut != nil {
		fmt.Fprintln(w, r.Cut)
	}
	if f := r.Failures(tol); len(f) > 0 {
		fmt.Fprintf(w, "FAIL on %d samples: %s\n", r.Samples, strings.Join(f, "; "))
	} else {
		fmt.Fprintf(w, "OK on %d samples (%s)\n", r.Samples, tol)
	}
	return nil
}

// noiseCells are the noise floor's max abs and rel L2 for a table, "-" when
// not measured.
func (o OutputReport) noiseCells() (string, string) {
	if o.Noise == nil {
		return "-", "-"
	}
	return sci(o.Noise.MaxAbs), sci(o.Noise.RelL2)
}

// String describes the tolerance: "rel L2 ≤ 1e-05, |b-a| ≤ 0.0001 + 0.0001·|a|".
func (t Tolerance) String() string {
	var parts []string
	if t.MaxRelL2 >= 0 {
		parts = append(parts, fmt.Sprintf("rel L2 ≤ %g", t.MaxRelL2))
	}
	if t.Elementwise {
		parts = append(parts, fmt.Sprintf("|b-a| ≤ %g + %g·|a|", t.ATol, t.RTol))
	}
	if t.NoiseMultiple > 0 && (t.MaxRelL2 >= 0 || t.Elementwise) {
		parts = append(parts, fmt.Sprintf("or within %g× the noise floor (rel L2: within it wherever it is measured)", t.NoiseMultiple))
	}
	if t.MinCosine > 0 {
		parts = append(parts, fmt.Sprintf("cosine ≥ %g", t.MinCosine))
	}
	if t.MaxAccuracyDrop >= 0 {
		parts = append(parts, fmt.Sprintf("top-1 drop ≤ %g", t.MaxAccuracyDrop))
	}
	if len(parts) == 0 {
		return "no limits"
	}
	return strings.Join(parts, ", ")
}

func sci(f Float) string {
	v := float64(f)
	switch {
	case math.IsInf(v, 0) || math.IsNaN(v):
		return fmt.Sprint(v)
	case v == 0:
		return "0"
	}
	return fmt.Sprintf("%.3e", v)
}

func cos(f Float) string {
	if float64(f) == 1 {
		return "1"
	}
	return fmt.Sprintf("%.8f", float64(f))
}

func top1(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.4f", *p)
}

// Markdown renders the verification as a markdown section.
func (r *Report) Markdown(tol Tolerance) string {
	var b strings.Builder
	f := r.Failures(tol)
	verdict := "✅ within tolerance"
	if len(f) > 0 {
		verdict = "❌ beyond tolerance"
	}
	fmt.Fprintf(&b, "### Verification: %s\n\n%d samples; tolerance: %s.\n\n", verdict, r.Samples, tol)
	if r.Cut != nil {
		fmt.Fprintf(&b, "%s.\n\n", clipText(r.Cut.String(), 2000))
	}
	b.WriteString("| output | max abs err | its noise floor | max rel err | rel L2 | its noise floor | cosine | top-1 agreement | NaN/Inf a → b |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for i, o := range r.Outputs {
		if i >= 200 {
			fmt.Fprintf(&b, "\n*… %d more outputs not shown*\n", len(r.Outputs)-i)
			break
		}
		na, nl := o.noiseCells()
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s | %d/%d → %d/%d |\n", strings.ReplaceAll(o.Name, "|", `\|`),
			sci(o.MaxAbsErr), na, sci(o.MaxRelErr), sci(o.RelL2), nl, cos(o.Cosine), top1(o.Top1Agreement), o.NaNA, o.InfA, o.NaNB, o.InfB)
	}
	if a := r.Accuracy; a != nil {
		fmt.Fprintf(&b, "\nAccuracy on %d labelled samples: top-1 %.4f → %.4f (drop %+.4f), top-5 %.4f → %.4f.\n",
			a.A.Samples, a.A.Top1, a.B.Top1, a.Drop, a.A.Top5, a.B.Top5)
	}
	if len(f) > 0 {
		b.WriteString("\nFailures:\n\n")
		for i, x := range f {
			if i >= 50 {
				fmt.Fprintf(&b, "- … %d more\n", len(f)-i)
				break
			}
			fmt.Fprintf(&b, "- %s\n", clipText(x, 500))
		}
	}
	return b.String()
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// WriteMarkdownReport writes the main command's --report: the verification
// (when rep is not nil, or the reason it was skipped when skipped != "")
// followed by the graph diff of a → b, in at most
// graphdiff.GitHubCommentLimit characters.
func WriteMarkdownReport(w io.Writer, a, b *onnx.Model, opts graphdiff.Options, rep *Report, tol Tolerance, skipped string) error {
	var head strings.Builder
	switch {
	case rep != nil:
		head.WriteString(rep.Markdown(tol))
	case skipped != "":
		fmt.Fprintf(&head, "### Verification: skipped\n\n%s\n", skipped)
	}
	if head.Len() > 0 {
		head.WriteString("\n")
	}
	d := graphdiff.Compare(a, b, opts)
	body := d.Markdown(graphdiff.GitHubCommentLimit - head.Len() - 1)
	_, err := io.WriteString(w, head.String()+body)
	return err
}
