package graphdiff_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/verify/graphdiff"
)

// TestViewMatchesCompare: the drawing's coloured nodes are Compare's added,
// removed and changed nodes; every removed BatchNormalization is joined by
// ghost edges to the Conv it followed and the node it fed; changed Convs
// carry their weights' numeric deltas.
func TestViewMatchesCompare(t *testing.T) {
	m := load(t, "mnist_cnn_op13")
	b := clone(t, m)
	n := foldBN(t, b)
	d := graphdiff.Compare(m, b, graphdiff.Options{})
	v := graphdiff.View(m, b)
	count := map[string]int{}
	ghostIn, ghostOut := map[int]bool{}, map[int]bool{}
	for _, e := range v.Edges {
		if e.From < 0 || e.From >= len(v.Nodes) || e.To < 0 || e.To >= len(v.Nodes) {
			t.Fatalf("edge %+v out of range", e)
		}
		if e.Ghost {
			ghostIn[e.To], ghostOut[e.From] = true, true
		}
	}
	deltas := 0
	for i, vn := range v.Nodes {
		count[vn.Status]++
		if vn.Status == "removed" && (!ghostIn[i] || !ghostOut[i]) {
			t.Errorf("removed node %s has no ghost edge in or out", vn.Name)
		}
		for _, w := range vn.Weights {
			if w.MaxAbs != nil && *w.MaxAbs > 0 && w.RelL2 != nil && *w.RelL2 > 0 {
				deltas++
			}
		}
	}
	if count["added"] != d.Summary.Added || count["removed"] != d.Summary.Removed || count["changed"] != d.Summary.Changed {
		t.Errorf("view added/removed/changed %d/%d/%d, Compare %d/%d/%d", count["added"], count["removed"], count["changed"],
			d.Summary.Added, d.Summary.Removed, d.Summary.Changed)
	}
	if count["removed"] != n || deltas < n {
		t.Errorf("%d removed (want %d BN), %d weight deltas (want ≥ %d)", count["removed"], n, deltas, n)
	}
}

// TestWriteHTML: one page, its data readable back as JSON, no name able to
// close the script element, extras passed through, nothing fetched.
func TestWriteHTML(t *testing.T) {
	m := load(t, "mnist_cnn_op13")
	b := clone(t, m)
	foldBN(t, b)
	b.Graph.Nodes[0].Name = `</script><script>alert(1)</script>`
	var buf bytes.Buffer
	extras := graphdiff.PageExtras{Verify: map[string]any{"ok": true, "noise_floor": 1e-7}, Details: []map[string]any{{"pass": "x"}}}
	if err := graphdiff.WriteHTML(&buf, m, b, graphdiff.Options{NameA: "a<b>.onnx", NameB: "b.onnx"}, extras); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if strings.Count(page, "<script") != 2 || strings.Contains(page, "alert(1)</script>") || strings.Contains(page, "a<b>") {
		t.Fatal("a name reached the page unescaped")
	}
	for _, bad := range []string{"http://", "https://", "@import", "src=\""} {
		if strings.Contains(strings.ReplaceAll(page, "http://www.w3.org/2000/svg", ""), bad) {
			t.Errorf("page refers to something outside itself: %q", bad)
		}
	}
	_, rest, _ := strings.Cut(page, `<script id="data" type="application/json">`)
	js, _, _ := strings.Cut(rest, "</script>")
	var data struct {
		Graph  graphdiff.GraphView `json:"graph"`
		Verify map[string]any      `json:"verify"`
	}
	if err := json.Unmarshal([]byte(js), &data); err != nil {
		t.Fatalf("page data: %v", err)
	}
	if data.Verify["noise_floor"] != 1e-7 || len(data.Graph.Nodes) == 0 || data.Graph.Nodes[1].Name != b.Graph.Nodes[0].Name {
		t.Errorf("page data lost something: verify %v, %d nodes", data.Verify, len(data.Graph.Nodes))
	}
}
