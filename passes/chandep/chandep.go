// Package chandep finds which tensors' channel axes must be pruned together
// (channel dependency groups) and removes channels of a group for real.
//
// A channel is one index of a tensor's channel axis: axis 1 of an NCHW
// activation, the last axis of a Gemm/MatMul output. Layers with weights
// make channels (producers: Conv, ConvTranspose, Gemm, MatMul by a constant
// [K,N]); channel-preserving ops (BatchNormalization, activations, pooling,
// per-channel or scalar constant arithmetic, depthwise convs, …) pass them
// on; residual Add/Mul/Sub of two activations ties both sides into one
// group; Concat and Split lay several groups (or parts of one) side by side
// on one axis; Flatten/Reshape [N,C,H,W]→[N,C·H·W] turns each channel into a
// block of H·W positions that a following Gemm/MatMul reads. Layers that
// read the channels (the next convs' input channels, biases, BN parameters,
// constants of elementwise ops) are the group's consumers.
//
// Whatever the analysis cannot follow pins the group with a reason: a graph
// output, Softmax, a Reshape to another shape, Shape, grouped
// (non-depthwise) convs, depthwise convs with a channel multiplier, grouped
// ConvTranspose, an op it does not know. Pinned groups are never pruned.
//
// Remove deletes channels of one group: producers' weight rows and biases,
// BatchNormalization parameters, consumers' weight input channels, the
// group attribute of depthwise convs, Split sizes, Reshape constants; value
// shapes follow. Groups from one Analyze stay valid across Removes of that
// result (offsets of the other groups are updated); after any other edit of
// the graph, Analyze again.
package chandep

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// Group is a set of channel axes that must be pruned together (same channel
// count).
type Group struct {
	ID       int
	Channels int
	// Producers are the layers whose weights make these channels: the weight
	// input (Input 1) and the bias (Input 2) with their output-channel axis.
	Producers []Port
	// Consumers are the other uses that index these channels: next layers'
	// weight input axis, BN parameters, biases of depthwise convs, constants of
	// elementwise ops, Flatten→Gemm blocks (Stride > 1), Concat offsets
	// (Offset > 0).
	Consumers []Port
	// Pinned is non-empty when the group cannot be pruned: why.
	Pinned string
	// Blocks > 1: the channels fall into Blocks equal runs, the groups of a
	// grouped conv that makes or reads them, and each run must keep as many
	// as the others (Remove refuses otherwise).
	Blocks int

	st   *state
	root int
}

// Port names a node input and the axis of that input that holds the group's
// channels. Group channels First … First+Count−1 are found at positions
// (Offset + c − First)·Stride … (Offset + c − First)·Stride + Stride − 1 along
// Axis: Offset is where the group starts in a Concat, Stride the block of a
// channel after Flatten (H·W), First/Count a part of the group after Split.
type Port struct {
	Node   *onnx.Node
	Input  int
	Axis   int
	Offset int
	Stride int
	First  int
	Count  int
}

func (p Port) String() string {
	return fmt.Sprintf("%s(%s).in%d[axis %d]", p.Node.Name, p.Node.OpType, p.Input, p.Axis)
}

// Analysis is the cached passes.Analysis whose result is []*Group.
var Analysis = &passes.Analysis{
	Name: "chandep",
	Doc:  "[]*chandep.Group",
	Run: func(c *passes.Context, m *onnx.Model) (any, error) {
		if _, err := passes.Get[*interp.ShapeInfo](c, passes.Shapes); err != nil {
			return nil, err
		}
		return analyze(m)
	},
}

// Analyze builds the channel groups of the main graph. It infers shapes
// (setting value types) when some node output has none.
func Analyze(m *onnx.Model) ([]*Group, error) {
	if m == nil || m.Graph == nil {
		return nil, fmt.Errorf("chandep: no graph")
	}
	for _, n := range m.Graph.Nodes {
		for _, o := range n.Outputs() {
			if o != nil && (o.Type == nil || !o.Type.HasShape()) {
				if _, err := interp.InferShapes(m, interp.ShapeOptions{}); err != nil {
					return nil, fmt.Errorf("chandep: shapes: %w", err)
				}
				return analyze(m)
			}
		}
	}
	return analyze(m)
}

// Describe writes one line per group: id, channels, producers, consumers and
// why it is pinned.
func Describe(w io.Writer, groups []*Group) {
	for _, g := range groups {
		fmt.Fprintln(w, g.String())
	}
}

func (g *Group) String() string {
	var prod []string
	seen := map[*onnx.Node]bool{}
	for _, p := range g.Producers {
		if !seen[p.Node] {
			seen[p.Node] = true
			prod = append(prod, p.Node.Name)
		}
	}
	s := fmt.Sprintf("group %d: %d channels, producers [%s], %d consumer ports", g.ID, g.Channels, strings.Join(prod, " "), len(g.Consumers))
	if g.Blocks > 1 {
		s += fmt.Sprintf(", in %d blocks (as many kept in each)", g.Blocks)
	}
	if g.Pinned != "" {
		s += ", pinned: " + g.Pinned
	}
	return s
}

// ---- analysis state ----

// seg is a run of a group's channels laid out on a tensor's channel axis:
// group channels start … start+count−1 (el < 0: channels of no group, kept).
type seg struct{ el, start, count int }

// layout is how a tracked tensor's channel axis is made of groups.
type layout struct {
	axis  int
	block int // positions per channel along axis (H·W after Flatten)
	segs  []seg
}

func (l *layout) channels() int {
	n := 0
	for _, s := range l.segs {
		n += s.count
	}
	return n
}

type recKind int

const (
	recSlice     recKind = iota // slice constant input along axis by the layout
	recGroup                    // depthwise conv: group attribute = channels
	recSplit                    // Split: sizes from the outputs' layouts
	recReshape                  // Reshape: the shape constant's entry at axis
	recShape                    // ConstantOfShape: its shape's axis entry
	recSizes                    // Resize: its sizes' entry at axis
	recBounds                   // Slice: its starts' and ends' entry at axis
	recGroupedIn                // grouped conv: each output channel's kept input channels
)

// rec is a change Remove makes: input `input` of node, along axis, indexed by
// the channels of the tensor `by` (its layout).
type rec struct {
	kind     recKind
	producer bool
	node     *onnx.Node
	input    int
	axis     int
	by       *onnx.Value
	// before: for recBounds, a stand-in laid out as the channels before
	// the slice's start.
	before *onnx.Value
}

type element struct {
	parent   int
	channels int
	pinned   string
	recs     []rec
	dead     bool // split into two elements (splitAt); in no layout any more
	blocks   int  // > 1: a grouped conv's groups (Group.Blocks)
}

type state struct {
	m      *onnx.Model
	els    []*element
	vals   map[*onnx.Value]*layout
	order  []*onnx.Value // tracked values in graph order
	groups []*Group
}

func (st *state) find(i int) int {
	for st.els[i].parent != i {
		st.els[i].parent = st.els[st.els[i].parent].parent
		i = st.els[i].parent
	}
	return i
}

func (st *state) union(a, b int) {
	a, b = st.find(a), st.find(b)
	if a == b {
		return
	}
	if b < a {
		a, b = b, a
	}
	ea, eb := st.els[a], st.els[b]
	eb.parent = a
	if ea.pinned == "" {
		ea.pinned = eb.pinned
	}
	switch {
	case ea.blocks <= 1:
		ea.blocks = eb.blocks
	case eb.blocks > 1 && eb.blocks != ea.blocks && ea.pinned == "":
		ea.pinned = fmt.Sprintf("grouped convs of %d and %d groups share these channels", ea.blocks, eb.blocks)
	}
	ea.recs = append(ea.recs, eb.recs...)
	eb.recs = nil
}

func (st *state) newElement(channels int) int {
	st.els = append(st.els, &element{parent: len(st.els), channels: channels})
	return len(st.els) - 1
}

func (st *state) pinEl(el int, why string) {
	e := st.els[st.find(el)]
	if e.pinned == "" {
		e.pinned = why
	}
}

// pin pins every group laid out on v.
func (st *state) pin(v *onnx.Value, why string) {
	if l := st.vals[v]; l != nil {
		for _, s := range l.segs {
			if s.el >= 0 {
				st.pinEl(s.el, why)
			}
		}
	}
}

// addRec records r in every group laid out on r.by.
func (st *state) addRec(r rec) {
	for _, s := range st.vals[r.by].segs {
		if s.el >= 0 {
			e := st.els[st.find(s.el)]
			e.recs = append(e.recs, r)
		}
	}
}

func (st *state) track(v *onnx.Value, l *layout) {
	if v == nil || l == nil {
		return
	}
	if _, ok := st.vals[v]; !ok {
		st.order = append(st.order, v)
	}
	st.vals[v] = l
	if v.IsGraphOutput() {
		st.pin(v, "graph output "+v.Name)
	}
}

// dims returns v's shape (constants included); ok false when unknown.
func dims(v *onnx.Value) ([]onnx.Dim, bool) {
	if v == nil {
		return nil, false
	}
	if t := passes.ConstTensor(v); t != nil {
		return onnx.ShapeOf(t.Dims...), true
	}
	if v.Type == nil || v.Type.Kind != onnx.TypeTensor || !v.Type.HasShape() {
		return nil, false
	}
	return v.Type.Shape, true
}

func staticDim(v *onnx.Value, axis int) (int, bool) {
	d, ok := dims(v)
	if !ok || axis < 0 || axis >= len(d) || !d[axis].IsStatic() {
		return 0, false
	}
	return int(d[axis].Value), true
}

func rank(v *onnx.Value) int {
	d, ok := dims(v)
	if !ok {
		return -1
	}
	return len(d)
}

func normAxis(a int64, r int) int {
	if a < 0 {
		a += int64(r)
	}
	return int(a)
}

func copyLayout(l *layout, axis int) *layout {
	return &layout{axis: axis, block: l.block, segs: append([]seg(nil), l.segs...)}
}

// layerOps are the ops whose input 1 is a weight with channel axes.
var layerOps = map[string]bool{"Conv": true, "ConvTranspose": true, "Gemm": true, "MatMul": true}

func floatConst(v *onnx.Value) bool {
	t := passes.ConstTensor(v)
	return t != nil && t.DataType.BitSize() >= 8
}

func analyze(m *onnx.Model) ([]*Group, error) {
	st := &state{m: m, vals: map[*onnx.Value]*layout{}}
	for _, n := range m.Graph.Nodes {
		st.node(n)
	}
	st.export()
	return st.groups, nil
}

// produce starts a new group of C channels on out along axis.
func (st *state) produce(out *onnx.Value, axis, c int) int {
	el := st.newElement(c)
	st.track(out, &layout{axis: axis, block: 1, segs: []seg{{el, 0, c}}})
	return el
}

var unaryOps = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Sigmoid": true, "HardSwish": true, "HardSigmoid": true,
	"Tanh": true, "Gelu": true, "Erf": true, "Elu": true, "Selu": true, "Celu": true,
	"Softplus": true, "Softsign": true, "Mish": true, "Abs": true, "Neg": true, "Exp": true,
	"Sqrt": true, "Reciprocal": true, "Identity": true, "Dropout": true, "Clip": true,
	"ThresholdedRelu": true, "Floor": true, "Ceil": true, "Round": true, "Sign": true,
	"MaxPool": true, "AveragePool": true, "GlobalAveragePool": true, "GlobalMaxPool": true,
	"LpPool": true, "GlobalLpPool": true, "Swish": true,
}

// msUnary reports whether n is one of ONNX Runtime's elementwise
// activations of one input (com.microsoft), which optimized models carry.
func msUnary(n *onnx.Node) bool {
	if n.Domain != "com.microsoft" {
		return false
	}
	switch n.OpType {
	case "Gelu", "QuickGelu":
		return true
	case "FastGelu": // without its bias input
		return len(n.Inputs()) < 2 || n.Input(1) == nil
	}
	return false
}

var binaryOps = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true, "Max": true, "Min": true, "PRelu": true, "Pow": true}

// node follows channels through one node.
func (st *state) node(n *onnx.Node) {
	var tracked []int
	for i, v := range n.Inputs() {
		if v != nil && st.vals[v] != nil {
			tracked = append(tracked, i)
		}
	}
	isTracked := func(i int) bool { v := n.Input(i); return v != nil && st.vals[v] != nil }
	pinAll := func(why string) {
		for _, i := range tracked {
			st.pin(n.Input(i), why)
		}
	}
	what := fmt.Sprintf("%s node %q", n.OpType, n.Name)
	for _, v := range n.ImplicitInputs() {
		st.pin(v, "read inside a subgraph of "+what)
	}
	if n.Domain != "" && n.Domain != "ai.onnx" && !msUnary(n) {
		pinAll("read by " + what + " (custom domain)")
		return
	}
	out := n.Output(0)
	if w := n.Input(1); layerOps[n.OpType] && w != nil && floatConst(w) && (w.NumUses() > 1 || w.IsGraphOutput()) {
		// Tied weights (ALBERT's layers, an exporter's deduplicated
		// copies): slicing one reader's copy would leave the model the
		// original and a pruned copy, larger than before.
		pinAll("read by " + what + " (its weight " + w.Name + " is shared with another node)")
		return
	}
	switch {
	case n.OpType == "Conv":
		st.conv(n, what, pinAll)
		return
	case n.OpType == "ConvTranspose":
		w := n.Input(1)
		if !floatConst(w) || rank(w) < 3 || n.AttrInt("group", 1) != 1 || (len(n.Inputs()) > 2 && n.Input(2) != nil && !floatConst(n.Input(2))) {
			pinAll("read by " + what + " (grouped or non-constant weights)")
			return
		}
		if isTracked(0) && len(tracked) == 1 && st.vals[n.Input(0)].axis == 1 && st.vals[n.Input(0)].block == 1 {
			st.addRec(rec{kind: recSlice, node: n, input: 1, axis: 0, by: n.Input(0)})
		} else {
			pinAll("read by " + what)
		}
		if c, ok := staticDim(w, 1); ok && rank(out) >= 3 {
			st.produce(out, 1, c)
			st.addRec(rec{kind: recSlice, producer: true, node: n, input: 1, axis: 1, by: out})
			if len(n.Inputs()) > 2 && n.Input(2) != nil {
				st.addRec(rec{kind: recSlice, producer: true, node: n, input: 2, axis: 0, by: out})
			}
		}
		return
	case n.OpType == "Gemm":
		a, b := n.Input(0), n.Input(1)
		if !floatConst(b) || rank(b) != 2 || (len(n.Inputs()) > 2 && n.Input(2) != nil && !floatConst(n.Input(2))) {
			pinAll("read by " + what + " (non-constant weights)")
			return
		}
		transB := n.AttrInt("transB", 0) != 0
		if isTracked(0) && len(tracked) == 1 && n.AttrInt("transA", 0) == 0 && st.vals[a].axis == 1 {
			k := 0
			if transB {
				k = 1
			}
			st.addRec(rec{kind: recSlice, node: n, input: 1, axis: k, by: a})
		} else {
			pinAll("read by " + what)
		}
		nAxis := 1
		if transB {
			nAxis = 0
		}
		c, ok := staticDim(b, nAxis)
		if !ok || rank(out) != 2 {
			return
		}
		st.produce(out, 1, c)
		st.addRec(rec{kind: recSlice, producer: true, node: n, input: 1, axis: nAxis, by: out})
		if len(n.Inputs()) > 2 && n.Input(2) != nil {
			cr := rank(n.Input(2))
			if d, ok := staticDim(n.Input(2), cr-1); ok && d == c && c != 1 {
				st.addRec(rec{kind: recSlice, producer: true, node: n, input: 2, axis: cr - 1, by: out})
			} else if !ok || d != 1 {
				st.pin(out, "Gemm bias of "+what+" does not broadcast per channel")
			}
		}
		return
	case n.OpType == "MatMul":
		a, b := n.Input(0), n.Input(1)
		if !floatConst(b) || rank(b) != 2 || isTracked(1) {
			pinAll("read by " + what + " (non-constant or non-2-D weights)")
			return
		}
		ra := rank(a)
		if isTracked(0) && ra >= 2 && st.vals[a].axis == ra-1 {
			st.addRec(rec{kind: recSlice, node: n, input: 1, axis: 0, by: a})
		} else {
			pinAll("read by " + what)
		}
		c, ok := staticDim(b, 1)
		if !ok || rank(out) < 2 {
			return
		}
		st.produce(out, rank(out)-1, c)
		st.addRec(rec{kind: recSlice, producer: true, node: n, input: 1, axis: 1, by: out})
		return
	}
	if len(tracked) == 0 {
		return
	}
	switch {
	case unaryOps[n.OpType] || msUnary(n):
		if tracked[0] != 0 || len(tracked) > 1 {
			pinAll("read by " + what + " as a parameter")
			return
		}
		for i := 1; i < len(n.Outputs()); i++ {
			if o := n.Output(i); o != nil && passes.IsUsed(o) {
				pinAll("output " + o.Name + " of " + what + " is used")
				return
			}
		}
		l := st.vals[n.Input(0)]
		if rank(out) != rank(n.Input(0)) {
			pinAll("rank changes at " + what)
			return
		}
		if strings.HasSuffix(n.OpType, "Pool") && (l.axis != 1 || l.block != 1) {
			// Pooling keeps axis 1 and pools the axes after it: channels
			// anywhere else (after a Transpose) would be pooled together.
			pinAll("read by " + what + " off its channel axis")
			return
		}
		st.track(out, copyLayout(l, l.axis))
	case binaryOps[n.OpType]:
		st.binary(n, what, pinAll)
	case n.OpType == "BatchNormalization" || n.OpType == "InstanceNormalization":
		x := n.Input(0)
		l := st.vals[x]
		if tracked[0] != 0 || len(tracked) > 1 || l.axis != 1 || l.block != 1 {
			pinAll("read by " + what + " off its channel axis")
			return
		}
		for i := 1; i < len(n.Outputs()); i++ {
			if o := n.Output(i); o != nil && passes.IsUsed(o) {
				pinAll("training outputs of " + what + " are used")
				return
			}
		}
		for i := 1; i < len(n.Inputs()); i++ {
			if !floatConst(n.Input(i)) {
				pinAll(what + " has non-constant parameters")
				return
			}
		}
		for i := 1; i < len(n.Inputs()); i++ {
			st.addRec(rec{kind: recSlice, node: n, input: i, axis: 0, by: x})
		}
		st.track(out, copyLayout(l, 1))
	case n.OpType == "Pad":
		st.pad(n, what, pinAll)
	case n.OpType == "Resize" || n.OpType == "Upsample":
		if tracked[0] != 0 || len(tracked) > 1 {
			pinAll("read by " + what + " as a parameter")
			return
		}
		l := st.vals[n.Input(0)]
		if rank(out) != rank(n.Input(0)) || l.block != 1 {
			pinAll("read by " + what)
			return
		}
		// entry: the channel axis's place in scales and sizes (opset 18's
		// axes lists the axes they cover; -1: not covered).
		entry, covered := l.axis, rank(out) // covered: how many axes scales and sizes hold
		if axes := n.AttrInts("axes", nil); axes != nil {
			entry, covered = -1, len(axes)
			for i, a := range axes {
				if normAxis(a, rank(out)) == l.axis {
					entry = i
				}
			}
		}
		// scales: must be 1 on the channel axis
		if sc := n.AttrFloats("scales", nil); entry >= 0 && len(sc) > entry && sc[entry] != 1 {
			pinAll(what + " scales the channel axis")
			return
		}
		for _, i := range []int{1, 2} {
			if i >= len(n.Inputs()) || n.Input(i) == nil {
				continue
			}
			t := passes.ConstTensor(n.Input(i))
			if t == nil {
				pinAll(what + " has non-constant scales")
				return
			}
			// scales, not roi (which holds twice as many)
			if t.DataType == onnx.Float && t.NumElements() == int64(covered) && entry >= 0 {
				f, err := t.AsFloat32()
				if err != nil || f[entry] != 1 {
					pinAll(what + " scales the channel axis")
					return
				}
			}
		}
		// sizes (input 3): a constant whose channel entry is the channel
		// count, rewritten when channels go.
		if len(n.Inputs()) > 3 && n.Input(3) != nil {
			t := passes.ConstTensor(n.Input(3))
			if t == nil {
				pinAll(what + " has non-constant sizes (hold the channel count)")
				return
			}
			sz, err := t.AsInt64()
			if err != nil || entry >= len(sz) || entry >= 0 && int(sz[entry]) != l.channels() {
				pinAll(what + " resizes the channel axis")
				return
			}
			if entry >= 0 {
				st.addRec(rec{kind: recSizes, node: n, input: 3, axis: entry, by: n.Input(0)})
			}
		}
		st.track(out, copyLayout(l, l.axis))
	case n.OpType == "Transpose":
		// The channels move with their axis (NCHW ↔ NHWC around the ops
		// tf2onnx leaves in NHWC); a flattened layout (block > 1) stays.
		l := st.dataOnly(n, what, pinAll)
		if l == nil {
			return
		}
		r := rank(n.Input(0))
		perm := n.AttrInts("perm", nil)
		if perm == nil && r > 0 {
			for i := r - 1; i >= 0; i-- {
				perm = append(perm, int64(i))
			}
		}
		axis := slices.Index(perm, int64(l.axis))
		if axis < 0 || len(perm) != r || l.block != 1 {
			pinAll("read by " + what)
			return
		}
		st.track(out, copyLayout(l, axis))
	case n.OpType == "Concat":
		st.concat(n, what, pinAll)
	case n.OpType == "Split":
		st.split(n, what, pinAll)
	case n.OpType == "Slice":
		st.slice(n, what, pinAll)
	case n.OpType == "Flatten" || n.OpType == "Reshape" || n.OpType == "Squeeze" || n.OpType == "Unsqueeze":
		st.reshape(n, what, pinAll)
	case n.OpType == "ReduceMean" || n.OpType == "ReduceMax" || n.OpType == "ReduceSum" || n.OpType == "ReduceMin":
		l := st.vals[n.Input(0)]
		axes, bad := intsArg(n, "axes", 1)
		if bad != "" {
			pinAll(what + bad)
			return
		}
		r := rank(n.Input(0))
		ok := tracked[0] == 0 && len(tracked) == 1 && len(axes) > 0 && l.block == 1
		axis := l.axis // where the channels are in the output
		for _, a := range axes {
			switch a := normAxis(a, r); {
			case a == l.axis:
				ok = false
			case a < l.axis && n.AttrInt("keepdims", 1) == 0:
				axis--
			}
		}
		if !ok || rank(out) < 0 {
			pinAll(what + " reduces over the channel axis")
			return
		}
		st.track(out, copyLayout(l, axis))
	default:
		pinAll("read by " + what)
	}
}

func (st *state) conv(n *onnx.Node, what string, pinAll func(string)) {
	x, w, out := n.Input(0), n.Input(1), n.Output(0)
	hasBias := len(n.Inputs()) > 2 && n.Input(2) != nil
	if !floatConst(w) || rank(w) < 3 || (hasBias && !floatConst(n.Input(2))) || st.vals[w] != nil {
		pinAll("read by " + what + " (non-constant weights)")
		return
	}
	group := int(n.AttrInt("group", 1))
	cout, ok := staticDim(w, 0)
	if !ok || rank(out) < 3 {
		pinAll("read by " + what)
		return
	}
	lx := st.vals[x]
	if lx != nil && (lx.axis != 1 || lx.block != 1) {
		st.pin(x, "read by "+what+" off its channel axis")
		lx = nil
	}
	switch {
	case group == 1:
		if lx != nil {
			st.addRec(rec{kind: recSlice, node: n, input: 1, axis: 1, by: x})
		}
		st.produce(out, 1, cout)
		st.addRec(rec{kind: recSlice, producer: true, node: n, input: 1, axis: 0, by: out})
		if hasBias {
			st.addRec(rec{kind: recSlice, producer: true, node: n, input: 2, axis: 0, by: out})
		}
	case lx != nil && group == lx.channels() && cout == group:
		// Depthwise: output channel c is input channel c; one group.
		st.track(out, copyLayout(lx, 1))
		st.addRec(rec{kind: recSlice, node: n, input: 1, axis: 0, by: x})
		if hasBias {
			st.addRec(rec{kind: recSlice, node: n, input: 2, axis: 0, by: x})
		}
		st.addRec(rec{kind: recGroup, node: n, by: x})
	case group > 1 && cout%group == 0:
		// Grouped (and depthwise with a channel multiplier): output
		// channel o reads the input channels of its group, o/(cout/group).
		// Both sides lose as many channels in every group (blocks); the
		// input side only when it is one whole group of its own.
		if lx != nil {
			if s := lx.segs[0]; len(lx.segs) == 1 && s.el >= 0 && s.start == 0 && s.count == st.els[st.find(s.el)].channels && s.count%group == 0 {
				st.setBlocks(s.el, group)
				st.addRec(rec{kind: recGroupedIn, node: n, input: 1, axis: 1, by: x})
			} else {
				st.pin(x, fmt.Sprintf("read by grouped %s (group=%d) with other channels", what, group))
			}
		}
		el := st.produce(out, 1, cout)
		st.setBlocks(el, group)
		st.addRec(rec{kind: recSlice, producer: true, node: n, input: 1, axis: 0, by: out})
		if hasBias {
			st.addRec(rec{kind: recSlice, producer: true, node: n, input: 2, axis: 0, by: out})
		}
	default:
		why := fmt.Sprintf("grouped %s (group=%d)", what, group)
		if lx != nil {
			st.pin(x, why)
		}
		el := st.produce(out, 1, cout)
		st.pinEl(el, why)
	}
}

// setBlocks gives element el's group the blocks of a grouped conv; one
// with other blocks already is pinned.
func (st *state) setBlocks(el, blocks int) {
	e := st.els[st.find(el)]
	switch {
	case e.channels == blocks && e.pinned == "":
		e.pinned = fmt.Sprintf("read by a grouped conv of one channel per group (group=%d)", blocks)
	case e.blocks <= 1:
		e.blocks = blocks
	case e.blocks != blocks && e.pinned == "":
		e.pinned = fmt.Sprintf("grouped convs of %d and %d groups share these channels", e.blocks, blocks)
	}
}

// binary: elementwise op of two inputs with broadcasting.
func (st *state) binary(n *onnx.Node, what string, pinAll func(string)) {
	out := n.Output(0)
	ro := rank(out)
	if len(n.Inputs()) != 2 || ro < 0 {
		pinAll("read by " + what)
		return
	}
	a, b := n.Input(0), n.Input(1)
	la, lb := st.vals[a], st.vals[b]
	if la != nil && lb != nil {
		ra, rb := rank(a), rank(b)
		if ra-la.axis != rb-lb.axis || la.block != lb.block || la.channels() != lb.channels() || !st.align(a, b) {
			pinAll(what + " mixes different channel layouts")
			return
		}
		// Channel i of one side meets channel i of the other: their groups
		// are pruned together. Channels of no group (a graph input's, say)
		// cannot lose channels, so the channels they meet cannot either.
		la, lb = st.vals[a], st.vals[b]
		for i := range la.segs {
			sa, sb := la.segs[i], lb.segs[i]
			switch {
			case sa.el >= 0 && sb.el >= 0:
				st.union(sa.el, sb.el)
			case sa.el >= 0:
				st.pinEl(sa.el, what+" meets channels of no group")
			case sb.el >= 0:
				st.pinEl(sb.el, what+" meets channels of no group")
			}
		}
		st.track(out, copyLayout(la, ro-(ra-la.axis)))
		return
	}
	t, o, ti := a, b, 0
	if la == nil {
		t, o, ti = b, a, 1
	}
	if n.OpType == "PRelu" && ti != 0 || n.OpType == "Pow" && ti != 0 {
		pinAll("read by " + what + " as a parameter")
		return
	}
	l := st.vals[t]
	fromEnd := rank(t) - l.axis
	od, ok := dims(o)
	if !ok {
		pinAll(what + ": shape of the other operand unknown")
		return
	}
	oa := len(od) - fromEnd
	switch {
	case oa < 0 || od[oa].IsStatic() && od[oa].Value == 1:
		// broadcast along the channels
	case passes.ConstTensor(o) != nil && od[oa].IsStatic() && int(od[oa].Value) == l.channels()*l.block && passes.ConstTensor(o).DataType.BitSize() >= 8:
		st.addRec(rec{kind: recSlice, node: n, input: 1 - ti, axis: oa, by: t})
	case fromConstants(o, 8):
		// A bias behind an Identity (PyTorch's shared parameters), say:
		// per-channel or not, it is known only once folded.
		pinAll(what + ": the other operand is computed from constants (not folded)")
		return
	default:
		pinAll(what + ": the other operand is not per-channel")
		return
	}
	st.track(out, copyLayout(l, ro-fromEnd))
}

// fromConstants reports whether v is computed, within depth nodes, from
// constants alone by ops constant folding evaluates (passes.Foldable): a
// value fold would turn into a constant.
func fromConstants(v *onnx.Value, depth int) bool {
	p := v.Producer()
	if p == nil || depth == 0 || !passes.Foldable(p) {
		return false
	}
	for _, in := range p.Inputs() {
		if in != nil && passes.ConstTensor(in) == nil && !fromConstants(in, depth-1) {
			return false
		}
	}
	return true
}

// align makes the layouts of a and b (the same number of channels) match
// segment for segment, each segment a whole group: where a segment covers
// part of a group, or where one side has a boundary the other has not, the
// group is split there (splitAt), everywhere it is laid out. Channels of no
// group are cut in place. It reports false when the layouts do not settle
// (a pathological self-overlap), leaving them consistent but unaligned.
func (st *state) align(a, b *onnx.Value) bool {
	for range 2*st.vals[a].channels() + 8 { // each round splits once
		if !st.wholeSegs(a) || !st.wholeSegs(b) {
			continue
		}
		la, lb := st.vals[a], st.vals[b]
		if st.cutMissing(la, lb) || st.cutMissing(lb, la) {
			continue
		}
		return true
	}
	return false
}

// cutMissing cuts l at the first boundary of other that l lacks; it
// reports whether it cut.
func (st *state) cutMissing(l, other *layout) bool {
	have := boundaries(l)
	for _, off := range boundaries(other) {
		if !slices.Contains(have, off) && st.cutAt(l, off) {
			return true
		}
	}
	return false
}

// wholeSegs splits every group that a segment of v's layout covers only in
// part; it reports whether none had to be.
func (st *state) wholeSegs(v *onnx.Value) bool {
	for _, s := range st.vals[v].segs {
		if s.el < 0 {
			continue
		}
		n := st.els[st.find(s.el)].channels
		if s.start > 0 {
			st.splitAt(s.el, s.start)
			return false
		}
		if s.count < n {
			st.splitAt(s.el, s.count)
			return false
		}
	}
	return true
}

// boundaries returns the offsets where l's segments start, 0 excluded, in
// order (the analysis must split in the same order on equal models: group
// IDs follow).
func boundaries(l *layout) []int {
	var out []int
	off := 0
	for _, s := range l.segs {
		if off > 0 {
			out = append(out, off)
		}
		off += s.count
	}
	return out
}

// cutAt makes off a segment boundary of l: the segment across it is split
// (its group everywhere, or in place for channels of no group). It reports
// whether anything changed.
func (st *state) cutAt(l *layout, off int) bool {
	pos := 0
	for i, s := range l.segs {
		if off > pos && off < pos+s.count {
			if s.el >= 0 {
				st.splitAt(s.el, s.start+off-pos)
			} else {
				l.segs = slices.Insert(l.segs, i+1, seg{-1, 0, s.count - (off - pos)})
				l.segs[i].count = off - pos
			}
			return true
		}
		pos += s.count
	}
	return false
}

// splitAt divides the group of element el at channel k into channels
// [0,k) and [k,n): every member element becomes two, every layout that
// lays the group out follows, and both halves keep the group's pin and
// records (a record indexes a tensor through a layout, so each half finds
// its own channels there).
func (st *state) splitAt(el, k int) {
	root := st.find(el)
	e := st.els[root]
	n := e.channels
	if k <= 0 || k >= n {
		return
	}
	var members []int
	for i := range st.els {
		if !st.els[i].dead && st.find(i) == root {
			members = append(members, i)
		}
	}
	lo, hi := map[int]int{}, map[int]int{}
	for _, i := range members {
		lo[i], hi[i] = st.newElement(k), st.newElement(n-k)
	}
	for _, v := range st.order {
		l := st.vals[v]
		var segs []seg
		for _, s := range l.segs {
			if s.el < 0 || st.find(s.el) != root {
				segs = append(segs, s)
				continue
			}
			if s.start < k {
				segs = append(segs, seg{lo[s.el], s.start, min(s.count, k-s.start)})
			}
			if end := s.start + s.count; end > k {
				from := max(s.start, k)
				segs = append(segs, seg{hi[s.el], from - k, end - from})
			}
		}
		l.segs = segs
	}
	for _, half := range []map[int]int{lo, hi} {
		first := half[members[0]]
		for _, i := range members[1:] {
			st.union(first, half[i])
		}
		r := st.els[st.find(first)]
		r.pinned = e.pinned
		r.recs = append(r.recs, e.recs...)
		if e.blocks > 1 && r.pinned == "" {
			// Its grouped conv keeps as many channels in every group:
			// two groups could not agree on that.
			r.pinned = fmt.Sprintf("cut inside the %d groups of a grouped conv", e.blocks)
		}
	}
	for _, i := range members {
		st.els[i].dead = true
	}
	e.recs = nil
}

func (st *state) pad(n *onnx.Node, what string, pinAll func(string)) {
	x := n.Input(0)
	l := st.dataOnly(n, what, pinAll)
	if l == nil {
		return
	}
	r := rank(x)
	pads, bad := intsArg(n, "pads", 1)
	if bad != "" {
		pinAll(what + bad)
		return
	}
	if len(n.Inputs()) > 3 && n.Input(3) != nil { // axes
		pinAll(what + " has axes")
		return
	}
	if len(pads) != 2*r || pads[l.axis] != 0 || pads[l.axis+r] != 0 || l.block != 1 {
		pinAll(what + " pads the channel axis")
		return
	}
	st.track(n.Output(0), copyLayout(l, l.axis))
}

// intsArg reads an int list given as attribute name (older opsets) or as
// constant input i (newer ones); bad says why it cannot be read.
func intsArg(n *onnx.Node, name string, i int) ([]int64, string) {
	if i >= len(n.Inputs()) || n.Input(i) == nil {
		return n.AttrInts(name, nil), ""
	}
	t := passes.ConstTensor(n.Input(i))
	if t == nil {
		return nil, " has non-constant " + name
	}
	v, err := t.AsInt64()
	if err != nil {
		return nil, " has unreadable " + name
	}
	return v, ""
}

// dataOnly returns the layout of n's first input when that is the only
// tracked input; otherwise it pins (channels used as a parameter) and
// returns nil.
func (st *state) dataOnly(n *onnx.Node, what string, pinAll func(string)) *layout {
	for i, v := range n.Inputs() {
		if v != nil && st.vals[v] != nil && i > 0 || i == 0 && st.vals[v] == nil {
			pinAll("read by " + what + " as a parameter")
			return nil
		}
	}
	return st.vals[n.Input(0)]
}

func (st *state) concat(n *onnx.Node, what string, pinAll func(string)) {
	out := n.Output(0)
	r := rank(out)
	axis := normAxis(n.AttrInt("axis", 0), r)
	l := &layout{axis: axis, block: 1}
	for i, v := range n.Inputs() {
		if lv := st.vals[v]; lv != nil {
			if lv.axis != axis || lv.block != 1 {
				pinAll(what + " joins along another axis")
				return
			}
			l.segs = append(l.segs, lv.segs...)
			continue
		}
		c, ok := staticDim(v, axis)
		if !ok {
			pinAll(what + ": an input's channel count is unknown")
			return
		}
		if floatConst(v) && rank(v) == r {
			// A constant block (the zero channels of a channel pad, as
			// tf2onnx writes it): its own group, sliced along with the
			// channels it meets (a residual Add ties them), or left whole.
			// Remove slices it for this use only, so its layout is keyed
			// by a stand-in for the use (equal constants are often one
			// shared value).
			use := &onnx.Value{Name: v.Name + " in " + n.Name, Const: passes.ConstTensor(v)}
			el := st.newElement(c)
			st.track(use, &layout{axis: axis, block: 1, segs: []seg{{el, 0, c}}})
			st.addRec(rec{kind: recSlice, node: n, input: i, axis: axis, by: use})
			l.segs = append(l.segs, seg{el, 0, c})
			continue
		}
		if p := v.Producer(); p != nil && p.OpType == "ConstantOfShape" && v.NumUses() == 1 && rank(v) == r && passes.ConstTensor(p.Input(0)) != nil {
			// The same block made at run time (unfolded): Remove rewrites
			// the shape it is made from.
			el := st.newElement(c)
			st.track(v, &layout{axis: axis, block: 1, segs: []seg{{el, 0, c}}})
			st.addRec(rec{kind: recShape, node: p, axis: axis, by: v})
			l.segs = append(l.segs, seg{el, 0, c})
			continue
		}
		l.segs = append(l.segs, seg{-1, 0, c})
	}
	st.track(out, l)
}

func (st *state) split(n *onnx.Node, what string, pinAll func(string)) {
	x := n.Input(0)
	l := st.dataOnly(n, what, pinAll)
	if l == nil {
		return
	}
	r := rank(x)
	axis := normAxis(n.AttrInt("axis", 0), r)
	if axis != l.axis {
		for _, o := range n.Outputs() {
			if o != nil {
				st.track(o, copyLayout(l, l.axis))
			}
		}
		return
	}
	if l.block != 1 {
		pinAll(what + " splits a flattened axis")
		return
	}
	sizes := make([]int, 0, len(n.Outputs()))
	for _, o := range n.Outputs() {
		c, ok := staticDim(o, axis)
		if !ok || o == nil {
			pinAll(what + ": output sizes unknown")
			return
		}
		sizes = append(sizes, c)
	}
	// Cut the input's segments at the outputs' boundaries.
	segs := append([]seg(nil), l.segs...)
	for j, o := range n.Outputs() {
		need := sizes[j]
		ol := &layout{axis: axis, block: 1}
		for need > 0 {
			if len(segs) == 0 {
				pinAll(what + ": sizes exceed the input")
				return
			}
			s := segs[0]
			take := min(s.count, need)
			ol.segs = append(ol.segs, seg{s.el, s.start, take})
			need -= take
			if take == s.count {
				segs = segs[1:]
			} else {
				segs[0] = seg{s.el, s.start + take, s.count - take}
			}
		}
		st.track(o, ol)
	}
	st.addRec(rec{kind: recSplit, node: n, by: x})
}

// slice follows a Slice: along other axes the channels pass through;
// along the channel axis (step 1, constant bounds) the output holds the
// channels in [start, end), each group wholly in or out (cut there), and
// Remove rewrites both bounds from the channels kept before and within
// them (recBounds). A slice of every channel passes them through (an end
// past the count still takes them all after pruning).
func (st *state) slice(n *onnx.Node, what string, pinAll func(string)) {
	x, out := n.Input(0), n.Output(0)
	l := st.dataOnly(n, what, pinAll)
	if l == nil {
		return
	}
	r := rank(x)
	b, ok := sliceBoundsOf(n)
	if !ok || r < 0 {
		pinAll(what + " has non-constant bounds")
		return
	}
	entry := -1
	for i, a := range b.axes {
		if normAxis(a, r) == l.axis {
			entry = i
		}
	}
	if entry < 0 {
		st.track(out, copyLayout(l, l.axis))
		return
	}
	if l.block != 1 || b.steps[entry] != 1 {
		pinAll(what + " slices the channel axis with a step, or a flattened one")
		return
	}
	c := l.channels()
	start, end := clampBound(b.starts[entry], c), clampBound(b.ends[entry], c)
	switch {
	case end <= start:
		pinAll(what + " takes no channel")
		return
	case start == 0 && end == c:
		st.track(out, copyLayout(l, l.axis))
		return
	}
	st.cutAt(st.vals[x], start)
	st.cutAt(st.vals[x], end)
	l = st.vals[x]
	pre, mid := &layout{axis: l.axis, block: 1}, &layout{axis: l.axis, block: 1}
	pos := 0
	for _, sg := range l.segs {
		switch {
		case pos+sg.count <= start:
			pre.segs = append(pre.segs, sg)
		case pos >= start && pos+sg.count <= end:
			mid.segs = append(mid.segs, sg)
		}
		pos += sg.count
	}
	shape := make([]int64, r)
	for i := range shape {
		shape[i] = 1
	}
	shape[l.axis] = int64(start)
	before := &onnx.Value{Name: x.Name + " before " + n.Name, Type: onnx.TensorType(onnx.Float, onnx.ShapeOf(shape...))}
	st.track(before, pre)
	st.track(out, mid)
	rc := rec{kind: recBounds, node: n, axis: entry, by: out, before: before}
	st.addRec(rc)
	rc.by = before
	st.addRec(rc)
}

// sliceBounds are a Slice's constant starts, ends, axes and steps (axes
// and steps defaulted), from its attributes before opset 10, else its
// inputs.
type sliceBounds struct{ starts, ends, axes, steps []int64 }

func sliceBoundsOf(n *onnx.Node) (sliceBounds, bool) {
	var b sliceBounds
	if n.Attr("starts") != nil {
		b.starts, b.ends, b.axes = n.AttrInts("starts", nil), n.AttrInts("ends", nil), n.AttrInts("axes", nil)
	} else {
		in := func(i int) ([]int64, bool) {
			if i >= len(n.Inputs()) || n.Input(i) == nil {
				return nil, true
			}
			v := passes.ConstInts(n.Input(i))
			return v, v != nil
		}
		var ok [4]bool
		b.starts, ok[0] = in(1)
		b.ends, ok[1] = in(2)
		b.axes, ok[2] = in(3)
		b.steps, ok[3] = in(4)
		if !ok[0] || !ok[1] || !ok[2] || !ok[3] {
			return b, false
		}
	}
	if b.axes == nil {
		for i := range b.starts {
			b.axes = append(b.axes, int64(i))
		}
	}
	if b.steps == nil {
		for range b.starts {
			b.steps = append(b.steps, 1)
		}
	}
	ok := len(b.starts) == len(b.ends) && len(b.axes) == len(b.starts) && len(b.steps) == len(b.starts)
	return b, ok
}

// clampBound is a Slice bound on an axis of c entries, step 1.
func clampBound(x int64, c int) int {
	if x < 0 {
		x += int64(c)
	}
	return int(max(0, min(x, int64(c))))
}

// reshape follows the reshapes that keep the batch and the channels in
// order: [N,C,H,W] → [N,C·H·W] (Flatten axis 1, Reshape, Squeeze of unit
// dims), where each channel becomes a block of H·W positions, and
// [N,C] ↔ [N,C,1,1] (Unsqueeze, Reshape) around squeeze-excitation blocks.
func (st *state) reshape(n *onnx.Node, what string, pinAll func(string)) {
	x, out := n.Input(0), n.Output(0)
	l := st.dataOnly(n, what, pinAll)
	if l == nil {
		return
	}
	din, ok1 := dims(x)
	dout, ok2 := dims(out)
	if ok1 && ok2 && len(din) > 0 && len(dout) > 0 && l.axis == len(din)-1 && l.block == 1 && l.axis > 0 {
		// Channels last ([B,S,C] ↔ [B·S,C] around a Gemm, as ORT's
		// MatMul+Add fusion and tf2onnx write them): when the output's
		// last dim is the channel count, the flat index modulo C is the
		// channel on both sides, whatever the leading dims do.
		if c := dout[len(dout)-1]; c.IsStatic() && int(c.Value) == l.channels() && len(dout) >= 2 {
			if n.OpType == "Reshape" && passes.ConstTensor(n.Input(1)) == nil {
				pinAll("read by " + what + " (non-constant shape)")
				return
			}
			st.track(out, &layout{axis: len(dout) - 1, block: 1, segs: append([]seg(nil), l.segs...)})
			if n.OpType == "Reshape" {
				st.addRec(rec{kind: recReshape, node: n, axis: len(dout) - 1, by: out})
			}
			return
		}
	}
	if !ok1 || !ok2 || l.axis != 1 || l.block != 1 || len(dout) < 2 || len(din) < 2 || din[0] != dout[0] {
		pinAll("read by " + what + " (reshapes the channel axis)")
		return
	}
	prod := func(ds []onnx.Dim) (int, bool) {
		p := 1
		for _, d := range ds {
			if !d.IsStatic() {
				return 0, false
			}
			p *= int(d.Value)
		}
		return p, true
	}
	restIn, ok1 := prod(din[2:])
	restOut, ok2 := prod(dout[2:])
	c, ok3 := staticDim(out, 1)
	var block int
	switch {
	case !ok1 || !ok2 || !ok3:
	case len(dout) == 2 && c == restIn*l.channels():
		block = restIn // flatten
	case c == l.channels() && restOut == restIn && restIn == 1:
		block = 1 // unit dims added or dropped
	}
	if block == 0 || n.OpType == "Flatten" && n.AttrInt("axis", 1) != 1 {
		pinAll("read by " + what + " (reshapes the channel axis)")
		return
	}
	if n.OpType == "Reshape" && passes.ConstTensor(n.Input(1)) == nil {
		pinAll("read by " + what + " (non-constant shape)")
		return
	}
	st.track(out, &layout{axis: 1, block: block, segs: append([]seg(nil), l.segs...)})
	if n.OpType == "Reshape" {
		st.addRec(rec{kind: recReshape, node: n, axis: 1, by: out})
	}
}

// export builds the Group values from the state (again after a Remove).
func (st *state) export() {
	byRoot := map[int]*Group{}
	old := map[int]*Group{}
	for _, g := range st.groups {
		old[g.root] = g
	}
	st.groups = st.groups[:0]
	for i := range st.els {
		if st.find(i) != i || st.els[i].dead {
			continue
		}
		g := old[i]
		if g == nil {
			g = &Group{st: st, root: i}
		}
		e := st.els[i]
		g.ID, g.Channels, g.Pinned, g.Blocks = len(st.groups), e.channels, e.pinned, max(e.blocks, 1)
		g.Producers, g.Consumers = nil, nil
		byRoot[i] = g
		st.groups = append(st.groups, g)
		seen := map[[3]any]bool{}
		for _, r := range e.recs {
			if r.kind == recGroupedIn {
				// Its weight's axis 1 holds one group's channels: it
				// shrinks as the group does (for FLOPs estimates).
				if w := passes.ConstTensor(r.node.Input(1)); w != nil && len(w.Dims) > 1 {
					g.Consumers = append(g.Consumers, Port{Node: r.node, Input: 1, Axis: 1, Stride: 1, Count: int(w.Dims[1])})
				}
				continue
			}
			if r.kind != recSlice {
				continue
			}
			key := [3]any{r.node, r.input, r.axis}
			if seen[key] {
				continue
			}
			seen[key] = true
			l := st.vals[r.by]
			off := 0
			for _, s := range l.segs {
				if s.el >= 0 && st.find(s.el) == i {
					p := Port{Node: r.node, Input: r.input, Axis: r.axis, Offset: off, Stride: l.block, First: s.start, Count: s.count}
					if r.producer {
						g.Producers = append(g.Producers, p)
					} else {
						g.Consumers = append(g.Consumers, p)
					}
				}
				off += s.count
			}
		}
	}
	sort.SliceStable(st.groups, func(a, b int) bool { return st.groups[a].root < st.groups[b].root })
	for i, g := range st.groups {
		g.ID = i
	}
}
