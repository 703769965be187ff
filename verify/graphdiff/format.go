package graphdiff

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// GitHubCommentLimit is the largest pull-request comment GitHub accepts.
const GitHubCommentLimit = 65536

// maxLineChars bounds one rendered node line in markdown; a Concat of 500
// inputs would otherwise fill a comment on its own.
const maxLineChars = 300

// contextLines of unchanged listing kept around each change.
const contextLines = 2

// WriteJSON writes the diff as indented JSON.
func (d *Diff) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// WriteText writes the full diff as plain text (nothing truncated).
func (d *Diff) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "diff %s → %s\n", d.A, d.B)
	if d.Empty() {
		b.WriteString("no changes\n")
	}
	b.WriteString("\n")
	for _, r := range d.summaryRows() {
		fmt.Fprintf(&b, "%-18s %14s → %-14s %s\n", r[0], r[1], r[2], r[3])
	}
	fmt.Fprintf(&b, "\n%s\n", d.countsLine())
	if len(d.IO) > 0 {
		b.WriteString("\nI/O signature changes\n")
		for _, c := range d.IO {
			fmt.Fprintf(&b, "  %s\n", ioLine(c))
		}
	}
	if ops := d.changedOps(); len(ops) > 0 {
		b.WriteString("\nop histogram changes\n")
		for _, o := range ops {
			fmt.Fprintf(&b, "  %-28s %5d → %-5d (%+d)\n", o.Op, o.Before, o.After, o.After-o.Before)
		}
	}
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s\n", title)
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	section(fmt.Sprintf("removed nodes (%d)", len(d.Removed)), nodeLines(d.Removed))
	section(fmt.Sprintf("added nodes (%d)", len(d.Added)), nodeLines(d.Added))
	section(fmt.Sprintf("changed nodes (%d)", len(d.Changed)), changeLines(d.Changed))
	section(fmt.Sprintf("initializer changes (%d)", len(d.Initializers)), initLines(d.Initializers))
	if hunks := d.hunks(); len(hunks) > 0 {
		b.WriteString("\ngraph listing diff\n")
		for _, l := range hunks {
			b.WriteString(l + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Markdown renders the diff for a pull-request comment in at most maxChars
// characters (GitHubCommentLimit when ≤ 0): the summary table first, long
// sections folded in <details>, and sections cut short with a note when the
// whole would not fit.
func (d *Diff) Markdown(maxChars int) string {
	if maxChars <= 0 {
		maxChars = GitHubCommentLimit
	}
	for limit := 400; ; limit /= 2 {
		s := d.markdown(limit)
		if len(s) <= maxChars {
			return s
		}
		if limit <= 2 {
			// Still too long (huge signature or histogram): cut hard, closing any code block.
			note := "\n```\n\n*… diff truncated to fit; run `onnxslim diff --format text` for all of it.*\n"
			cut := max(0, maxChars-len(note))
			for cut > 0 && !validCut(s, cut) {
				cut--
			}
			return s[:cut] + note
		}
	}
}

// validCut avoids splitting a UTF-8 sequence.
func validCut(s string, i int) bool { return i >= len(s) || s[i]&0xC0 != 0x80 }

func (d *Diff) markdown(limit int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### onnxslim diff: `%s` → `%s`\n\n", d.A, d.B)
	if d.Empty() {
		b.WriteString("**No changes.**\n\n")
	}
	b.WriteString("| | before | after | Δ |\n|---|--:|--:|--:|\n")
	for _, r := range d.summaryRows() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r[0], r[1], r[2], r[3])
	}
	fmt.Fprintf(&b, "\n%s\n", d.countsLine())

	if len(d.IO) > 0 {
		b.WriteString("\n**I/O signature changes**\n\n| kind | name | change | before | after |\n|---|---|---|---|---|\n")
		rows := d.IO
		for i, c := range rows {
			if i >= limit {
				fmt.Fprintf(&b, "\n*… %d more not shown*\n", len(rows)-i)
				break
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", c.Kind, cell(c.Name), c.Change, cell(c.Before), cell(c.After))
		}
	}
	if ops := d.changedOps(); len(ops) > 0 {
		b.WriteString("\n**Op histogram changes**\n\n| op | before | after | Δ |\n|---|--:|--:|--:|\n")
		for i, o := range ops {
			if i >= limit {
				fmt.Fprintf(&b, "\n*… %d more not shown*\n", len(ops)-i)
				break
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %+d |\n", cell(o.Op), o.Before, o.After, o.After-o.Before)
		}
	}
	if len(d.Ops) > 0 {
		b.WriteString("\n<details><summary>Op histogram (all ops)</summary>\n\n| op | before | after |\n|---|--:|--:|\n")
		for i, o := range d.Ops {
			if i >= limit {
				fmt.Fprintf(&b, "\n*… %d more not shown*\n", len(d.Ops)-i)
				break
			}
			fmt.Fprintf(&b, "| %s | %d | %d |\n", cell(o.Op), o.Before, o.After)
		}
		b.WriteString("\n</details>\n")
	}
	fold := func(title string, lines []string, lang string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n<details><summary>%s</summary>\n\n```%s\n", title, lang)
		for i, l := range lines {
			if i >= limit {
				fmt.Fprintf(&b, "```\n\n*… %d more lines not shown; run `onnxslim diff --format text` for all.*\n", len(lines)-i)
				b.WriteString("\n</details>\n")
				return
			}
			b.WriteString(clip(l) + "\n")
		}
		b.WriteString("```\n\n</details>\n")
	}
	fold(fmt.Sprintf("Removed nodes (%d)", len(d.Removed)), nodeLines(d.Removed), "text")
	fold(fmt.Sprintf("Added nodes (%d)", len(d.Added)), nodeLines(d.Added), "text")
	fold(fmt.Sprintf("Changed nodes (%d)", len(d.Changed)), changeLines(d.Changed), "text")
	fold(fmt.Sprintf("Initializer changes (%d)", len(d.Initializers)), initLines(d.Initializers), "text")
	if h := d.hunks(); len(h) > 0 {
		plus, minus := 0, 0
		for _, l := range d.Lines {
			switch l.Op {
			case "+":
				plus++
			case "-":
				minus++
			}
		}
		fold(fmt.Sprintf("Graph listing diff (+%d −%d lines)", plus, minus), h, "diff")
	}
	return b.String()
}

func clip(s string) string {
	if len(s) <= maxLineChars {
		return s
	}
	cut := maxLineChars
	for cut > 0 && !validCut(s, cut) {
		cut--
	}
	return s[:cut] + " …"
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func (d *Diff) summaryRows() [][4]string {
	row := func(name string, x Delta) [4]string {
		return [4]string{name, group(x.Before), group(x.After), signed(x.Delta, x.Before)}
	}
	s := d.Summary
	rows := [][4]string{row("nodes", s.Nodes), row("parameters", s.Parameters), row("initializer bytes", s.InitializerBytes)}
	if s.FileBytes != nil {
		rows = append(rows, row("file bytes", *s.FileBytes))
	}
	if s.FLOPs != nil {
		rows = append(rows, row("FLOPs", *s.FLOPs))
	} else {
		rows = append(rows, [4]string{"FLOPs", "?", "?", "unknown (shapes not declared)"})
	}
	return rows
}

func (d *Diff) countsLine() string {
	s := d.Summary
	return fmt.Sprintf("%d nodes removed, %d added, %d changed, %d matched under another name; %d initializers added, removed or changed; %d I/O signature changes.",
		s.Removed, s.Added, s.Changed, s.Renamed, s.Initializers, s.Signature)
}

func (d *Diff) changedOps() []OpCount {
	var out []OpCount
	for _, o := range d.Ops {
		if o.Before != o.After {
			out = append(out, o)
		}
	}
	return out
}

func ioLine(c IOChange) string {
	switch c.Change {
	case "added":
		return fmt.Sprintf("%s %s added: %s", c.Kind, c.Name, c.After)
	case "removed":
		return fmt.Sprintf("%s %s removed (was %s)", c.Kind, c.Name, c.Before)
	}
	return fmt.Sprintf("%s %s: %s → %s", c.Kind, c.Name, c.Before, c.After)
}

func nodeLines(ns []NodeInfo) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		name := n.Name
		if name == "" {
			name = "(unnamed)"
		}
		out[i] = name + ": " + n.Line
	}
	return out
}

func changeLines(cs []NodeChange) []string {
	var out []string
	for _, c := range cs {
		head := c.Name
		if c.NameA != "" {
			head = c.NameA + " → " + c.Name
		}
		var what []string
		if c.OpA != "" {
			what = append(what, "op "+c.OpA+" → "+c.Op)
		}
		for _, a := range c.Attrs {
			before, after := a.Before, a.After
			if before == "" {
				before = "(absent)"
			}
			if after == "" {
				after = "(absent)"
			}
			what = append(what, fmt.Sprintf("%s: %s → %s", a.Name, before, after))
		}
		if len(c.Weights) > 0 {
			what = append(what, "weights changed: "+strings.Join(c.Weights, ", "))
		}
		if c.Inputs {
			what = append(what, "inputs changed")
		}
		out = append(out, fmt.Sprintf("%s (%s): %s", head, c.Op, strings.Join(what, "; ")))
		if c.Before != c.After {
			out = append(out, "  - "+c.Before, "  + "+c.After)
		}
	}
	return out
}

func initLines(cs []InitChange) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		switch c.Change {
		case "added":
			out[i] = fmt.Sprintf("+ %s %s%s (%s bytes)", c.Name, c.DTypeB, shapeText(c.ShapeB), group(c.BytesB))
		case "removed":
			out[i] = fmt.Sprintf("- %s %s%s (%s bytes)", c.Name, c.DTypeA, shapeText(c.ShapeA), group(c.BytesA))
		default:
			name := c.Name
			if c.NameB != "" {
				name += " → " + c.NameB
			}
			s := fmt.Sprintf("~ %s %s%s → %s%s (%s → %s bytes)", name, c.DTypeA, shapeText(c.ShapeA), c.DTypeB, shapeText(c.ShapeB), group(c.BytesA), group(c.BytesB))
			if c.MaxAbsDiff != nil {
				s += ", max abs diff " + strconv.FormatFloat(*c.MaxAbsDiff, 'g', 4, 64)
			}
			out[i] = s
		}
	}
	return out
}

// hunks renders the listing diff with contextLines of context around changes.
func (d *Diff) hunks() []string {
	if !d.linesChanged() {
		return nil
	}
	keep := make([]bool, len(d.Lines))
	for i, l := range d.Lines {
		if l.Op != " " {
			for j := max(0, i-contextLines); j <= min(len(d.Lines)-1, i+contextLines); j++ {
				keep[j] = true
			}
		}
	}
	var out []string
	skipped := 0
	flush := func() {
		if skipped > 0 {
			out = append(out, fmt.Sprintf("@@ %d unchanged lines @@", skipped))
			skipped = 0
		}
	}
	for i, l := range d.Lines {
		if !keep[i] {
			skipped++
			continue
		}
		flush()
		out = append(out, l.Op+" "+l.Text)
	}
	flush()
	return out
}

// group renders 1234567 as 1,234,567.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
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

// signed renders a delta with its sign and, when meaningful, the percentage.
func signed(delta, before int64) string {
	s := group(delta)
	if delta > 0 {
		s = "+" + s
	}
	if before != 0 && delta != 0 {
		s += fmt.Sprintf(" (%+.1f%%)", 100*float64(delta)/float64(before))
	}
	return s
}
