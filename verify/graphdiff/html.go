package graphdiff

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"path/filepath"
	"strings"

	"github.com/onnxslim/onnxslim/onnx"
)

// page is the HTML report's shell: CSS and the script that lays out and
// draws the graph in the browser. The data goes in as JSON.
//
//go:embed page.html
var page string

// PageExtras are the run's results that the models alone do not hold; each
// is any JSON value and the page renders what it finds.
type PageExtras struct {
	// Verify is the verification report (verify.JSONReport): per-output
	// errors and whatever else it carries (e.g. a noise floor).
	Verify any `json:"verify,omitempty"`
	// VerifySkipped says why there is no verification.
	VerifySkipped string `json:"verify_skipped,omitempty"`
	// Passes are the run's per-pass figures.
	Passes any `json:"passes,omitempty"`
	// Details are passes' structured results; arrays of records with
	// numeric fields (per-layer error, kept channels, rank, bytes) are
	// charted layer by layer.
	Details any `json:"details,omitempty"`
}

// pageData is the JSON the page's script reads.
type pageData struct {
	Title        string       `json:"title"`
	A            string       `json:"a"`
	B            string       `json:"b"`
	Summary      Summary      `json:"summary"`
	Ops          []OpCount    `json:"ops"`
	IO           []IOChange   `json:"io"`
	Initializers []InitChange `json:"initializers"`
	Graph        *GraphView   `json:"graph"`
	PageExtras
}

// WriteHTML writes the diff of a → b as one self-contained HTML page (inline
// CSS, script and SVG; nothing fetched): the summary, the run's extras, and
// b's graph with added, changed and (ghosted) removed nodes coloured. No
// weights are embedded, only names, types and deltas.
func WriteHTML(w io.Writer, a, b *onnx.Model, opts Options, extra PageExtras) error {
	d := Compare(a, b, opts)
	data := pageData{
		Title: filepath.Base(d.A) + " → " + filepath.Base(d.B),
		A:     d.A, B: d.B, Summary: d.Summary, Ops: d.Ops, IO: d.IO, Initializers: d.Initializers,
		Graph: View(a, b), PageExtras: extra,
	}
	// encoding/json escapes <, > and & (and U+2028/9), so no name can end
	// the script element or start a tag: the page reads it as data only.
	js, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encoding the report data: %w", err)
	}
	head, tail, ok := strings.Cut(page, "@@DATA@@")
	if !ok {
		return fmt.Errorf("page template has no data marker")
	}
	head = strings.Replace(head, "@@TITLE@@", html.EscapeString("onnxslim diff: "+data.Title), 1)
	for _, s := range []string{head, string(js), tail} {
		if _, err := io.WriteString(w, s); err != nil {
			return err
		}
	}
	return nil
}
