package graphdiff

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/onnxslim/onnxslim/internal/stats"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// Options label the models and give what the models alone do not know.
type Options struct {
	// NameA and NameB label the models (file paths); default "A" and "B".
	NameA, NameB string
	// FileBytesA and FileBytesB are the sizes on disk (0: not reported).
	FileBytesA, FileBytesB int64
}

// Delta is a before → after figure.
type Delta struct {
	Before int64 `json:"before"`
	After  int64 `json:"after"`
	Delta  int64 `json:"delta"`
}

func delta(a, b int64) Delta { return Delta{a, b, b - a} }

// Summary holds the headline figures.
type Summary struct {
	Nodes            Delta  `json:"nodes"`
	Parameters       Delta  `json:"parameters"`
	InitializerBytes Delta  `json:"initializer_bytes"`
	FileBytes        *Delta `json:"file_bytes"` // nil when the sizes were not given
	// FLOPs is nil when either model's shapes are not all declared.
	FLOPs        *Delta `json:"flops"`
	Added        int    `json:"nodes_added"`
	Removed      int    `json:"nodes_removed"`
	Changed      int    `json:"nodes_changed"`
	Renamed      int    `json:"nodes_renamed"`
	Initializers int    `json:"initializers_changed"` // added, removed or changed
	Signature    int    `json:"io_changes"`
}

// OpCount is one row of the op histogram.
type OpCount struct {
	Op     string `json:"op"`
	Before int    `json:"before"`
	After  int    `json:"after"`
}

// IOChange is a graph input or output added, removed or retyped.
type IOChange struct {
	Kind   string `json:"kind"` // "input" or "output"
	Name   string `json:"name"`
	Change string `json:"change"` // "added", "removed", "type"
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// NodeInfo is an added or removed node.
type NodeInfo struct {
	Name string `json:"name"`
	Op   string `json:"op"`
	Line string `json:"line"`
}

// AttrChange is one attribute's change; an empty side means absent.
type AttrChange struct {
	Name   string `json:"name"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// NodeChange is a node present in both models that differs.
type NodeChange struct {
	Name    string       `json:"name"` // in B
	NameA   string       `json:"name_a,omitempty"`
	Op      string       `json:"op"`
	OpA     string       `json:"op_a,omitempty"`
	Before  string       `json:"before"`
	After   string       `json:"after"`
	Attrs   []AttrChange `json:"attributes"`
	Inputs  bool         `json:"inputs_changed"`
	Weights []string     `json:"weights_changed"` // constant inputs whose content changed
}

// InitChange is an initializer added, removed or changed.
type InitChange struct {
	Name   string  `json:"name"`             // in A (removed, changed) or B (added)
	NameB  string  `json:"name_b,omitempty"` // when a changed initializer was renamed
	Change string  `json:"change"`           // "added", "removed", "changed"
	DTypeA string  `json:"dtype_a,omitempty"`
	DTypeB string  `json:"dtype_b,omitempty"`
	ShapeA []int64 `json:"shape_a"`
	ShapeB []int64 `json:"shape_b"`
	BytesA int64   `json:"bytes_a"`
	BytesB int64   `json:"bytes_b"`
	// MaxAbsDiff is the largest element difference, for same-shape numeric tensors.
	MaxAbsDiff *float64 `json:"max_abs_diff"`
}

// LineOp is one line of the canonical graph listing diff.
type LineOp struct {
	Op   string `json:"op"` // " ", "-" or "+"
	Text string `json:"text"`
}

// Diff is the comparison of model A (before) with model B (after).
type Diff struct {
	A            string       `json:"a"`
	B            string       `json:"b"`
	Summary      Summary      `json:"summary"`
	Ops          []OpCount    `json:"ops"`
	IO           []IOChange   `json:"io"`
	Removed      []NodeInfo   `json:"removed"`
	Added        []NodeInfo   `json:"added"`
	Changed      []NodeChange `json:"changed"`
	Initializers []InitChange `json:"initializers"`
	// Lines is the line diff of the canonical one-line-per-node listings.
	Lines []LineOp `json:"lines"`
}

// Empty reports whether the models have the same graph (names, ops,
// attributes, weights and signature).
func (d *Diff) Empty() bool {
	return len(d.IO) == 0 && len(d.Removed) == 0 && len(d.Added) == 0 && len(d.Changed) == 0 &&
		len(d.Initializers) == 0 && d.Summary.Renamed == 0 && !d.linesChanged()
}

func (d *Diff) linesChanged() bool {
	for _, l := range d.Lines {
		if l.Op != " " {
			return true
		}
	}
	return false
}

// Compare diffs model a (before) against model b (after). Neither is modified.
func Compare(a, b *onnx.Model, opts Options) *Diff {
	if opts.NameA == "" {
		opts.NameA = "A"
	}
	if opts.NameB == "" {
		opts.NameB = "B"
	}
	d := &Diff{A: opts.NameA, B: opts.NameB}
	mt := match(a, b)

	for _, n := range mt.a {
		if _, ok := mt.ab[n]; !ok {
			d.Removed = append(d.Removed, NodeInfo{Name: n.Name, Op: opName(n), Line: NodeLine(n)})
		}
	}
	for _, n := range mt.b {
		if an, ok := mt.ba[n]; !ok {
			d.Added = append(d.Added, NodeInfo{Name: n.Name, Op: opName(n), Line: NodeLine(n)})
		} else if c, changed := nodeChange(mt, an, n); changed {
			d.Changed = append(d.Changed, c)
		}
	}
	d.IO = ioChanges(a, b)
	d.Initializers = initChanges(a, b, mt)
	d.Ops = opCounts(a, b)
	d.Lines = lineDiff(mt.a, mt.b)

	// Empty lists, not null, so that tools can iterate without checks.
	d.Removed, d.Added, d.Changed = orEmpty(d.Removed), orEmpty(d.Added), orEmpty(d.Changed)
	d.IO, d.Initializers = orEmpty(d.IO), orEmpty(d.Initializers)

	s := &d.Summary
	s.Nodes = delta(int64(len(mt.a)), int64(len(mt.b)))
	s.Parameters = delta(params(a), params(b))
	s.InitializerBytes = delta(initBytes(a), initBytes(b))
	if opts.FileBytesA > 0 || opts.FileBytesB > 0 {
		fd := delta(opts.FileBytesA, opts.FileBytesB)
		s.FileBytes = &fd
	}
	if fa, okA := flops(a); okA {
		if fb, okB := flops(b); okB {
			fd := delta(fa, fb)
			s.FLOPs = &fd
		}
	}
	s.Added, s.Removed, s.Changed, s.Renamed = len(d.Added), len(d.Removed), len(d.Changed), mt.renamed
	s.Initializers, s.Signature = len(d.Initializers), len(d.IO)
	return d
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func hasGraph(m *onnx.Model) bool { return m != nil && m.Graph != nil }

func params(m *onnx.Model) int64 {
	if !hasGraph(m) {
		return 0
	}
	return stats.Params(m)
}

func initBytes(m *onnx.Model) int64 {
	if !hasGraph(m) {
		return 0
	}
	return stats.Bytes(m)
}

func flops(m *onnx.Model) (int64, bool) {
	if !hasGraph(m) {
		return 0, true
	}
	return stats.FLOPs(m, stats.DeclaredShape)
}

func nodeChange(mt *matching, a, b *onnx.Node) (NodeChange, bool) {
	c := NodeChange{Name: b.Name, Op: opName(b), Before: NodeLine(a), After: NodeLine(b)}
	changed := false
	if a.Name != b.Name {
		c.NameA = a.Name
	}
	if opName(a) != opName(b) {
		c.OpA, changed = opName(a), true
	}
	am, bm := attrMap(a), attrMap(b)
	names := map[string]bool{}
	for k := range am {
		names[k] = true
	}
	for k := range bm {
		names[k] = true
	}
	for _, k := range sortedNames(names) {
		if am[k] != bm[k] {
			c.Attrs = append(c.Attrs, AttrChange{Name: k, Before: am[k], After: bm[k]})
			changed = true
		}
	}
	ia, ib := a.Inputs(), b.Inputs()
	if len(ia) != len(ib) {
		c.Inputs, changed = true, true
	}
	for i := range min(len(ia), len(ib)) {
		va, vb := ia[i], ib[i]
		if va == nil || vb == nil {
			if va != vb {
				c.Inputs, changed = true, true
			}
			continue
		}
		if va.IsConst() && vb.IsConst() {
			if !sameTensor(va.Const, vb.Const) {
				c.Weights = append(c.Weights, vb.Name)
				changed = true
			} else if va.Name != vb.Name {
				c.Inputs, changed = true, true
			}
			continue
		}
		if mt.vals[va] != vb && va.Name != vb.Name {
			c.Inputs, changed = true, true
		}
	}
	if len(a.Outputs()) != len(b.Outputs()) {
		changed = true
	}
	if c.Attrs == nil {
		c.Attrs = []AttrChange{}
	}
	if c.Weights == nil {
		c.Weights = []string{}
	}
	return c, changed
}

func sameTensor(a, b *onnx.Tensor) bool {
	if a.DataType != b.DataType || !slices.Equal(a.Dims, b.Dims) {
		return false
	}
	ra, errA := a.Data()
	rb, errB := b.Data()
	return errA == nil && errB == nil && bytes.Equal(ra, rb)
}

func ioChanges(a, b *onnx.Model) []IOChange {
	var out []IOChange
	for _, kind := range []string{"input", "output"} {
		get := func(m *onnx.Model) []*onnx.Value {
			if !hasGraph(m) {
				return nil
			}
			if kind == "input" {
				var vs []*onnx.Value
				for _, v := range m.Graph.Inputs {
					if !v.IsConst() { // before IR 4, initializers were listed as inputs
						vs = append(vs, v)
					}
				}
				return vs
			}
			return m.Graph.Outputs
		}
		va, vb := get(a), get(b)
		tb := map[string]string{}
		for _, v := range vb {
			tb[v.Name] = typeText(v.Type)
		}
		ta := map[string]string{}
		for _, v := range va {
			ta[v.Name] = typeText(v.Type)
			if t, ok := tb[v.Name]; !ok {
				out = append(out, IOChange{Kind: kind, Name: v.Name, Change: "removed", Before: ta[v.Name]})
			} else if t != ta[v.Name] {
				out = append(out, IOChange{Kind: kind, Name: v.Name, Change: "type", Before: ta[v.Name], After: t})
			}
		}
		for _, v := range vb {
			if _, ok := ta[v.Name]; !ok {
				out = append(out, IOChange{Kind: kind, Name: v.Name, Change: "added", After: tb[v.Name]})
			}
		}
	}
	return out
}

// initChanges compares initializers of all main-graph levels by name, and
// through matched nodes' constant inputs when a rewrite renamed them.
func initChanges(a, b *onnx.Model, mt *matching) []InitChange {
	inits := func(m *onnx.Model) (map[string]*onnx.Value, []string) {
		out := map[string]*onnx.Value{}
		var order []string
		if hasGraph(m) {
			for _, v := range m.Graph.Initializers {
				if _, dup := out[v.Name]; !dup {
					order = append(order, v.Name)
				}
				out[v.Name] = v
			}
		}
		return out, order
	}
	ia, orderA := inits(a)
	ib, orderB := inits(b)
	pairedB := map[string]bool{}
	var out []InitChange
	for _, name := range orderA {
		va := ia[name]
		vb := ib[name]
		if vb == nil {
			if w := mt.vals[va]; w != nil && w.IsConst() && ib[w.Name] == w && ia[w.Name] == nil {
				vb = w
			}
		}
		if vb == nil {
			out = append(out, InitChange{Name: name, Change: "removed", DTypeA: va.Const.DataType.String(),
				ShapeA: dims(va.Const), ShapeB: []int64{}, BytesA: va.Const.ByteSize()})
			continue
		}
		pairedB[vb.Name] = true
		if sameTensor(va.Const, vb.Const) && va.Name == vb.Name {
			continue
		}
		c := InitChange{Name: name, Change: "changed", DTypeA: va.Const.DataType.String(), DTypeB: vb.Const.DataType.String(),
			ShapeA: dims(va.Const), ShapeB: dims(vb.Const), BytesA: va.Const.ByteSize(), BytesB: vb.Const.ByteSize()}
		if vb.Name != name {
			c.NameB = vb.Name
		}
		if slices.Equal(va.Const.Dims, vb.Const.Dims) {
			c.MaxAbsDiff = maxAbsDiff(va.Const, vb.Const)
		}
		out = append(out, c)
	}
	for _, name := range orderB {
		if pairedB[name] || ia[name] != nil {
			continue
		}
		vb := ib[name]
		out = append(out, InitChange{Name: name, Change: "added", DTypeB: vb.Const.DataType.String(),
			ShapeA: []int64{}, ShapeB: dims(vb.Const), BytesB: vb.Const.ByteSize()})
	}
	return out
}

func dims(t *onnx.Tensor) []int64 {
	if t.Dims == nil {
		return []int64{}
	}
	return slices.Clone(t.Dims)
}

func maxAbsDiff(a, b *onnx.Tensor) *float64 {
	va, okA := numbers(a)
	vb, okB := numbers(b)
	if !okA || !okB || len(va) != len(vb) {
		return nil
	}
	m := 0.0
	for i := range va {
		d := math.Abs(va[i] - vb[i])
		if math.IsNaN(d) {
			if math.IsNaN(va[i]) && math.IsNaN(vb[i]) {
				continue
			}
			d = math.Inf(1)
		}
		m = max(m, d)
	}
	if math.IsInf(m, 0) {
		m = math.MaxFloat64 // JSON cannot hold infinity
	}
	return &m
}

// numbers reads a constant's elements as float64.
func numbers(t *onnx.Tensor) ([]float64, bool) {
	if t.DataType == onnx.String || t.DataType == onnx.Complex64 || t.DataType == onnx.Complex128 {
		return nil, false
	}
	it, err := interp.FromONNX(t)
	if err != nil || it.Kind != interp.KindTensor {
		return nil, false
	}
	if t.DataType.IsFloat() {
		f, err := interp.AsFloat32(it)
		if t.DataType == onnx.Double {
			return it.Data.([]float64), true
		}
		if err != nil {
			if d, ok := it.Data.([]uint8); ok && interp.IsFloat8(t.DataType) {
				out := make([]float64, len(d))
				for i, x := range d {
					out[i] = float64(interp.Float8ToFloat32(t.DataType, x))
				}
				return out, true
			}
			return nil, false
		}
		out := make([]float64, len(f))
		for i, x := range f {
			out[i] = float64(x)
		}
		return out, true
	}
	switch d := it.Data.(type) {
	case []bool:
		out := make([]float64, len(d))
		for i, x := range d {
			if x {
				out[i] = 1
			}
		}
		return out, true
	case []int64:
		return widen(d), true
	case []int32:
		return widen(d), true
	case []int16:
		return widen(d), true
	case []int8:
		return widen(d), true
	case []uint64:
		return widen(d), true
	case []uint32:
		return widen(d), true
	case []uint16:
		return widen(d), true
	case []uint8:
		return widen(d), true
	}
	return nil, false
}

func widen[T int64 | int32 | int16 | int8 | uint64 | uint32 | uint16 | uint8](d []T) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out
}

func opCounts(a, b *onnx.Model) []OpCount {
	ha, hb := map[string]int{}, map[string]int{}
	if hasGraph(a) {
		ha = stats.OpHistogram(a)
	}
	if hasGraph(b) {
		hb = stats.OpHistogram(b)
	}
	ops := map[string]bool{}
	for k := range ha {
		ops[k] = true
	}
	for k := range hb {
		ops[k] = true
	}
	out := make([]OpCount, 0, len(ops))
	for _, op := range sortedNames(ops) {
		out = append(out, OpCount{Op: op, Before: ha[op], After: hb[op]})
	}
	// Largest change first, then by name: the review starts with what moved most.
	sort.SliceStable(out, func(i, j int) bool {
		di, dj := abs(out[i].After-out[i].Before), abs(out[j].After-out[j].Before)
		if di != dj {
			return di > dj
		}
		return out[i].Op < out[j].Op
	})
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// lineDiff diffs the canonical listings with go-diff's line mode.
func lineDiff(a, b []*onnx.Node) []LineOp {
	text := func(ns []*onnx.Node) string {
		var buf bytes.Buffer
		for _, n := range ns {
			buf.WriteString(NodeLine(n))
			buf.WriteByte('\n')
		}
		return buf.String()
	}
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = 0 // no time limit: a timeout would make the output depend on machine speed
	ca, cb, lines := dmp.DiffLinesToChars(text(a), text(b))
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(ca, cb, false), lines)
	out := []LineOp{}
	for _, d := range diffs {
		op := " "
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			op = "-"
		case diffmatchpatch.DiffInsert:
			op = "+"
		}
		for _, l := range splitLines(d.Text) {
			out = append(out, LineOp{Op: op, Text: l})
		}
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := bytes.IndexByte([]byte(s), '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
	return out
}

// String is a one-line summary: "nodes 69 → 49 (-20), 20 removed, …".
func (s Summary) String() string {
	return fmt.Sprintf("nodes %d → %d (%+d): %d removed, %d added, %d changed, %d renamed; parameters %+d; initializer bytes %+d",
		s.Nodes.Before, s.Nodes.After, s.Nodes.Delta, s.Removed, s.Added, s.Changed, s.Renamed, s.Parameters.Delta, s.InitializerBytes.Delta)
}
