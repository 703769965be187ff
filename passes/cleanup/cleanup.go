// Package cleanup removes what a model does not need: dead nodes, unused
// initializers, identities and no-op ops, duplicated constants and common
// subexpressions; it merges chains of Transpose/Reshape/Squeeze-Unsqueeze,
// turns Constant nodes into initializers and inlines If nodes whose
// condition is constant. Every rewrite is exact.
package cleanup

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

func init() {
	passes.Register(&passes.Pass{
		Name:     "cleanup",
		Doc:      "remove dead code, identities and no-op ops; merge transposes/reshapes; dedupe constants and common subexpressions",
		Requires: []*passes.Analysis{passes.Shapes},
		Run:      run,
	})
}

// rewrites run in this order; one can enable another (a merged Transpose may
// become a no-op), so run repeats them until nothing changes.
var rewrites = []func(*passes.Context, *onnx.Model, *onnx.Graph) int{
	constantsToInitializers, inlineConstantIf, removeIdentities, mergeTransposes,
	transposeThroughGather, mergeReshapes, cancelSqueezeUnsqueeze, removeNoOps,
	dedupeInitializers, cse, removeDead,
}

// run applies the rewrites over every graph, innermost graphs included.
func run(c *passes.Context, m *onnx.Model) (int, error) {
	total := 0
	for round := 0; round < 8; round++ {
		changed := 0
		for _, r := range rewrites {
			for _, g := range m.Graphs() {
				changed += r(c, m, g)
			}
		}
		total += changed
		if changed == 0 {
			break
		}
	}
	return total, nil
}

// constantsToInitializers turns Constant nodes into initializers: smaller
// graphs for every consumer, and folding sees them directly.
func constantsToInitializers(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	n := 0
	for _, node := range slices.Clone(g.Nodes) {
		out := node.Output(0)
		if len(node.Outputs()) != 1 || onnx.ConstantValue(node) == nil || out == nil || out.IsGraphOutput() || !c.Allow() {
			continue
		}
		if passes.ConstantToInitializer(m, out) != out {
			n++
		}
	}
	return n
}

// inlineConstantIf replaces an If whose condition is a constant by the branch taken.
func inlineConstantIf(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	n := 0
	for _, node := range slices.Clone(g.Nodes) {
		if node.OpType != "If" || node.Domain != "" {
			continue
		}
		cond := passes.ConstTensor(node.Input(0))
		if cond == nil || cond.NumElements() != 1 {
			continue
		}
		raw, err := cond.Data()
		if err != nil || len(raw) == 0 {
			continue
		}
		branch := "else_branch"
		if raw[0] != 0 {
			branch = "then_branch"
		}
		a := node.Attr(branch)
		if a == nil || a.Graph == nil || !outputsReplaceable(node, a.Graph) || !c.Allow() {
			continue
		}
		if err := g.InlineSubgraph(node, a.Graph); err != nil {
			c.Logf("could not inline %s: %v", onnx.NodePlace(node), err)
			continue
		}
		n++
	}
	return n
}

// outputsReplaceable checks that each If output that is a graph output can
// take the branch's value's place.
func outputsReplaceable(n *onnx.Node, branch *onnx.Graph) bool {
	for i, out := range n.Outputs() {
		if out == nil || !out.IsGraphOutput() {
			continue
		}
		if i >= len(branch.Outputs) {
			return false
		}
		b := branch.Outputs[i]
		if b.Producer() == nil || b.Producer().Graph != branch || b.IsGraphOutput() && slices.Contains(n.Graph.Outputs, b) {
			return false
		}
	}
	return true
}

// removeIdentities drops Identity and inference-mode Dropout.
func removeIdentities(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	n := 0
	for _, node := range slices.Clone(g.Nodes) {
		if node.Domain != "" || len(node.Inputs()) == 0 || node.Input(0) == nil {
			continue
		}
		switch node.OpType {
		case "Identity":
			if node.Input(0).Type != nil && node.Input(0).Type.Kind != onnx.TypeTensor {
				continue
			}
		case "Dropout":
			if !inferenceDropout(node) {
				continue
			}
		default:
			continue
		}
		if bypass(c, node) {
			n++
		}
	}
	return n
}

func inferenceDropout(n *onnx.Node) bool {
	if n.AttrInt("is_test", 1) == 0 && n.Graph != nil && len(n.Inputs()) == 1 {
		// Opset < 7 Dropout trained unless is_test; at inference nobody runs it so.
		return true
	}
	if tm := n.Input(2); tm != nil && !constZero(tm) && !constZero(n.Input(1)) {
		// Training mode drops nothing at a ratio of 0 (torchvision's
		// Swin exports its attention dropout so).
		return false
	}
	for i, o := range n.Outputs() {
		if i > 0 && passes.IsUsed(o) {
			return false // the mask is read
		}
	}
	return true
}

// constZero reports whether v is a constant of zeros, every byte zero
// (false, 0.0, 0: -0.0 is conservatively not), and false for nil or a
// value computed at run time.
func constZero(v *onnx.Value) bool {
	t := passes.ConstTensor(v)
	if t == nil || t.NumElements() == 0 {
		return false
	}
	raw, err := t.Data()
	return err == nil && len(raw) > 0 && !slices.ContainsFunc(raw, func(b byte) bool { return b != 0 })
}

// bypass makes readers of node's first output read its first input, then
// removes the node. It refuses where the model's interface would change.
func bypass(c *passes.Context, node *onnx.Node) bool { return bypassTo(c, node, node.Input(0)) }

// bypassTo makes the readers of node's output read in (one of its inputs,
// which holds the same value) and removes node.
func bypassTo(c *passes.Context, node *onnx.Node, in *onnx.Value) bool {
	out := node.Output(0)
	if out == nil || in == nil {
		return false
	}
	for i, o := range node.Outputs() {
		if i > 0 && passes.IsUsed(o) {
			return false
		}
	}
	if out.IsGraphOutput() && (in.Producer() == nil || in.Graph() != out.Graph() || in.IsGraphOutput()) {
		return false
	}
	if out.Type != nil && in.Type != nil && out.Type.Kind == onnx.TypeTensor && in.Type.Kind == onnx.TypeTensor &&
		out.Type.Elem != in.Type.Elem && out.Type.Elem != onnx.Undefined && in.Type.Elem != onnx.Undefined {
		return false
	}
	if !c.Allow() {
		return false
	}
	if !passes.Replace(out, in) {
		return false
	}
	node.Graph.RemoveNodes(node)
	return true
}

// removeNoOps bypasses ops that provably return their input unchanged.
func removeNoOps(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	n := 0
	for _, node := range slices.Clone(g.Nodes) {
		if node.Domain != "" || node.Input(0) == nil || node.Output(0) == nil {
			continue
		}
		if isNoOp(node) && bypass(c, node) {
			n++
		} else if x := neutralOperand(node); x != nil && bypassTo(c, node, x) {
			n++
		}
	}
	return n
}

// neutralOperand returns x for x+0, 0+x, x-0, x·1, 1·x, x/1 and x^1 where
// the constant cannot broadcast x to a larger shape (ONNX Runtime's basic
// level removes them too), else nil. x+0 turns -0 into +0: equal values.
func neutralOperand(n *onnx.Node) *onnx.Value {
	var neutral float64
	sides := []int{1}
	switch n.OpType {
	case "Add":
		sides = []int{1, 0}
	case "Sub":
	case "Mul":
		neutral, sides = 1, []int{1, 0}
	case "Div", "Pow":
		neutral = 1
	default:
		return nil
	}
	if len(n.Inputs()) != 2 {
		return nil
	}
	for _, k := range sides {
		x, kv := n.Input(1-k), n.Input(k)
		t := passes.ConstTensor(kv)
		if x == nil || t == nil || t.DataType != passes.ElemType(x) || !keepsShape(t.Dims, x) {
			continue
		}
		vals, ok := exactValues(t)
		if !ok || len(vals) == 0 {
			continue
		}
		all := true
		for _, v := range vals {
			all = all && v == neutral
		}
		if all {
			return x
		}
	}
	return nil
}

// exactValues widens a numeric constant to float64 without rounding.
func exactValues(t *onnx.Tensor) ([]float64, bool) {
	x, err := interp.FromONNX(t)
	if err != nil {
		return nil, false
	}
	switch d := x.Data.(type) {
	case []float64:
		return d, true
	case []int64:
		return widen(d), true
	case []int32:
		return widen(d), true
	case []float32, []uint16: // float16 and bfloat16 widen exactly
		f, err := interp.AsFloat32(x)
		if err != nil {
			return nil, false
		}
		return widen(f), true
	}
	return nil, false
}

func widen[T float32 | int64 | int32](d []T) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

// keepsShape reports whether a constant of shape dims broadcast against x
// leaves x's shape as it is: every dim is 1 and x's rank is at least its.
func keepsShape(dims []int64, x *onnx.Value) bool {
	for _, d := range dims {
		if d != 1 {
			return false
		}
	}
	if len(dims) == 0 {
		return true
	}
	return x.Type != nil && x.Type.Kind == onnx.TypeTensor && x.Type.HasShape() && len(x.Type.Shape) >= len(dims)
}

func isNoOp(n *onnx.Node) bool {
	in, out := n.Input(0), n.Output(0)
	inShape, inOK := passes.StaticShape(in)
	outShape, outOK := passes.StaticShape(out)
	sameShape := inOK && outOK && slices.Equal(inShape, outShape)
	switch n.OpType {
	case "Transpose":
		perm := n.AttrInts("perm", nil)
		if perm == nil {
			return inOK && len(inShape) <= 1
		}
		for i, p := range perm {
			if int(p) != i {
				return false
			}
		}
		return true
	case "Reshape", "Expand", "Flatten", "Squeeze", "Unsqueeze", "Tile":
		return sameShape && len(n.Outputs()) == 1
	case "Slice":
		// A Slice that keeps the shape may still reverse an axis (step −1:
		// PyTorch's exports reverse pads so), which is no no-op.
		return sameShape && unitSteps(n, inShape)
	case "Resize":
		// Same size samples every input point where it is, except when
		// cropping to a region of interest first.
		return sameShape && n.AttrString("coordinate_transformation_mode", "") != "tf_crop_and_resize"
	case "Cast":
		to := onnx.DataType(n.AttrInt("to", 0))
		return to != onnx.Undefined && passes.ElemType(in) == to
	case "CastLike":
		et := passes.ElemType(in)
		return et != onnx.Undefined && et == passes.ElemType(n.Input(1))
	case "Pad":
		return sameShape && padsAreZero(n)
	case "Concat", "Sum", "Max", "Min", "Mean":
		return len(n.Inputs()) == 1
	case "Split":
		return len(n.Outputs()) == 1 && sameShape
	}
	return false
}

// unitSteps reports whether every step of a Slice is 1 or on an axis of
// length 1 (opset 10 on; earlier Slices have no steps).
func unitSteps(n *onnx.Node, shape []int64) bool {
	if len(n.Inputs()) < 5 || n.Input(4) == nil {
		return true
	}
	steps := passes.ConstInts(n.Input(4))
	if steps == nil {
		return false
	}
	axes := make([]int64, len(steps))
	for i := range axes {
		axes[i] = int64(i)
	}
	if len(n.Inputs()) >= 4 && n.Input(3) != nil {
		if axes = passes.ConstInts(n.Input(3)); len(axes) != len(steps) {
			return false
		}
	}
	for i, step := range steps {
		a := axes[i]
		if a < 0 {
			a += int64(len(shape))
		}
		if a < 0 || a >= int64(len(shape)) {
			return false
		}
		if step != 1 && shape[a] > 1 {
			return false
		}
	}
	return true
}

func padsAreZero(n *onnx.Node) bool {
	var pads []int64
	if a := n.Attr("pads"); a != nil {
		pads = a.Ints
	} else if pads = passes.ConstInts(n.Input(1)); pads == nil {
		return false
	}
	for _, p := range pads {
		if p != 0 {
			return false
		}
	}
	return true
}

// mergeTransposes folds Transpose(Transpose(x, p1), p2) into one Transpose.
func mergeTransposes(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	return passes.EachOp(g, []string{"Transpose"}, func(node *onnx.Node) bool {
		prev := node.Input(0).Producer()
		if prev == nil || prev.OpType != "Transpose" || prev.Domain != "" || prev.Graph != g {
			return false
		}
		p1, p2 := prev.AttrInts("perm", nil), node.AttrInts("perm", nil)
		if p1 == nil || p2 == nil || len(p1) != len(p2) || !c.Allow() {
			return false
		}
		perm := make([]int64, len(p2))
		for i, p := range p2 {
			perm[i] = p1[p]
		}
		node.SetInput(0, prev.Input(0))
		node.SetAttr(onnx.IntsAttr("perm", perm))
		if !passes.IsUsed(prev.Output(0)) {
			g.RemoveNodes(prev)
		}
		return true
	})
}

// transposeThroughGather rewrites Gather(Transpose(x, perm), i, axis) with a
// scalar index i as Transpose(Gather(x, i, perm[axis]), perm'), where perm'
// is perm without the gathered axis; when perm' is the identity (as after
// picking one time step of an RNN's output) the Transpose disappears.
func transposeThroughGather(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	return passes.EachOp(g, []string{"Gather"}, func(gather *onnx.Node) bool {
		tr := gather.Input(0).Producer()
		if tr == nil || tr.Graph != g || tr.OpType != "Transpose" || tr.Domain != "" || gather.Input(0).NumUses() != 1 || gather.Input(0).IsGraphOutput() {
			return false
		}
		idx := passes.ConstTensor(gather.Input(1))
		perm := tr.AttrInts("perm", nil)
		if idx == nil || len(idx.Dims) != 0 || perm == nil {
			return false
		}
		axis := gather.AttrInt("axis", 0)
		if axis < 0 {
			axis += int64(len(perm))
		}
		if axis < 0 || axis >= int64(len(perm)) {
			return false
		}
		removed := perm[axis]
		var rest []int64
		for i, p := range perm {
			if int64(i) == axis {
				continue
			}
			if p > removed {
				p--
			}
			rest = append(rest, p)
		}
		identity := true
		for i, p := range rest {
			if p != int64(i) {
				identity = false
			}
		}
		if !identity || !c.Allow() {
			return false // a remaining Transpose would not save a node
		}
		gather.SetInput(0, tr.Input(0))
		gather.SetAttr(onnx.IntAttr("axis", removed))
		g.RemoveNodes(tr)
		return true
	})
}

// mergeReshapes drops a Reshape that only feeds another Reshape whose target
// is fully given (no 0 entries, which would copy from the input), or a
// Flatten whose split point it can find in the Reshape's input.
func mergeReshapes(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	return passes.EachOp(g, []string{"Reshape", "Flatten"}, func(node *onnx.Node) bool {
		prev := node.Input(0).Producer()
		if prev == nil || prev.Graph != g || prev.Domain != "" || (prev.OpType != "Reshape" && prev.OpType != "Flatten" && prev.OpType != "Squeeze" && prev.OpType != "Unsqueeze") {
			return false
		}
		if node.OpType == "Reshape" {
			target := passes.ConstTensor(node.Input(1))
			if target == nil {
				return false
			}
			dims, err := target.AsInt64()
			if err != nil || slices.Contains(dims, 0) {
				return false
			}
		}
		axis := int64(-1)
		if node.OpType == "Flatten" {
			var ok bool
			if axis, ok = flattenAxisBefore(node, prev); !ok {
				return false
			}
		}
		if !c.Allow() {
			return false
		}
		if axis >= 0 {
			node.SetAttr(onnx.IntAttr("axis", axis))
		}
		node.SetInput(0, prev.Input(0))
		if !passes.IsUsed(prev.Output(0)) {
			g.RemoveNodes(prev)
		}
		return true
	})
}

// flattenAxisBefore gives the axis at which Flatten, read on the input of
// the reshape before it, splits the elements as it does now: Flatten keeps
// the product of the dims before its axis, which a reshape may regroup
// (x [2,3,4] → [6,4] → Flatten axis 1 is [6,4], Flatten of x at 1 is
// [2,12]) or whose rank it may change past the axis.
func flattenAxisBefore(flatten, reshape *onnx.Node) (int64, bool) {
	in, inOK := passes.StaticShape(reshape.Input(0))
	out, outOK := passes.StaticShape(reshape.Output(0))
	if !inOK || !outOK {
		return 0, false
	}
	axis := flatten.AttrInt("axis", 1)
	if axis < 0 {
		axis += int64(len(out))
	}
	if axis < 0 || axis > int64(len(out)) {
		return 0, false
	}
	lead := func(dims []int64, k int) int64 {
		p := int64(1)
		for _, d := range dims[:k] {
			p *= d
		}
		return p
	}
	want := lead(out, int(axis))
	for k := 0; k <= len(in); k++ {
		if lead(in, k) == want {
			return int64(k), true
		}
	}
	return 0, false
}

// cancelSqueezeUnsqueeze removes Unsqueeze(Squeeze(x, a), a) and
// Squeeze(Unsqueeze(x, a), a), which give back x.
func cancelSqueezeUnsqueeze(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	return passes.EachOp(g, []string{"Squeeze", "Unsqueeze"}, func(node *onnx.Node) bool {
		prev := node.Input(0).Producer()
		if prev == nil || prev.Graph != g || prev.Domain != "" || prev.OpType == node.OpType ||
			(prev.OpType != "Squeeze" && prev.OpType != "Unsqueeze") {
			return false
		}
		a1, ok1 := axesOf(prev)
		a2, ok2 := axesOf(node)
		if !ok1 || !ok2 || !slices.Equal(a1, a2) {
			return false
		}
		x := prev.Input(0)
		out := node.Output(0)
		if out.IsGraphOutput() && (x.Producer() == nil || x.Graph() != g || x.IsGraphOutput()) {
			return false
		}
		if !c.Allow() || !passes.Replace(out, x) {
			return false
		}
		g.RemoveNodes(node)
		if !passes.IsUsed(prev.Output(0)) {
			g.RemoveNodes(prev)
		}
		return true
	})
}

// axesOf returns the (non-negative, sorted) axes of a Squeeze/Unsqueeze when known.
func axesOf(n *onnx.Node) ([]int64, bool) {
	var axes []int64
	if a := n.Attr("axes"); a != nil {
		axes = slices.Clone(a.Ints)
	} else if axes = passes.ConstInts(n.Input(1)); axes == nil {
		return nil, false
	}
	for _, a := range axes {
		if a < 0 {
			return nil, false // needs the rank; leave it
		}
	}
	slices.Sort(axes)
	return axes, true
}

// dedupeInitializers makes readers of identical constants share one.
// Candidates are bucketed by type and shape, so payloads are compared only
// between tensors that could be equal.
func dedupeInitializers(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	n := 0
	buckets := map[string][]*onnx.Value{}
	for _, v := range slices.Clone(g.Initializers) {
		if passes.ConstTensor(v) == nil || v.IsGraphOutput() {
			continue
		}
		key := fmt.Sprintf("%d|%v", v.Const.DataType, v.Const.Dims)
		var twin *onnx.Value
		for _, u := range buckets[key] {
			if sameTensor(u.Const, v.Const) {
				twin = u
				break
			}
		}
		if twin == nil {
			buckets[key] = append(buckets[key], v)
			continue
		}
		if !c.Allow() {
			continue
		}
		onnx.ReplaceAllUsesWith(v, twin)
		g.RemoveInitializer(v)
		n++
	}
	return n
}

// sameTensor compares two tensors of equal type and shape by payload.
func sameTensor(a, b *onnx.Tensor) bool {
	if a.DataType == onnx.String {
		return slices.EqualFunc(a.Strings, b.Strings, bytes.Equal)
	}
	x, err1 := a.Data()
	y, err2 := b.Data()
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// tensorKey identifies a tensor's content, for comparing attribute tensors.
func tensorKey(t *onnx.Tensor) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d|%v|", t.DataType, t.Dims)
	if t.DataType == onnx.String {
		for _, s := range t.Strings {
			fmt.Fprintf(h, "%d:%s|", len(s), s)
		}
	} else if raw, err := t.Data(); err == nil {
		h.Write(raw)
	} else {
		fmt.Fprintf(h, "%p", t) // unreadable: equal only to itself
	}
	return string(h.Sum(nil))
}

// cse merges nodes that compute the same op on the same inputs with the same
// attributes. Nodes with subgraphs or random outputs are left alone.
func cse(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	n := 0
	seen := map[string]*onnx.Node{}
	if err := g.TopoSort(); err != nil {
		return 0
	}
	for _, node := range slices.Clone(g.Nodes) {
		if len(node.Subgraphs()) > 0 || strings.HasPrefix(node.OpType, "Random") || node.OpType == "Multinomial" ||
			(node.OpType == "Dropout" && !inferenceDropout(node)) || len(node.Outputs()) == 0 {
			continue
		}
		key := nodeKey(node)
		first, dup := seen[key]
		if !dup {
			seen[key] = node
			continue
		}
		ok := len(first.Outputs()) == len(node.Outputs())
		for i, o := range node.Outputs() {
			if o != nil && (first.Output(i) == nil || o.IsGraphOutput()) {
				ok = false
			}
		}
		if !ok || !c.Allow() {
			continue
		}
		for i, o := range node.Outputs() {
			if o != nil {
				onnx.ReplaceAllUsesWith(o, first.Output(i))
			}
		}
		g.RemoveNodes(node)
		n++
	}
	return n
}

func nodeKey(n *onnx.Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|", n.Domain, n.OpType, n.Overload)
	for _, v := range n.Inputs() {
		fmt.Fprintf(&b, "%p,", v)
	}
	b.WriteString("|")
	for _, a := range n.Attrs {
		fmt.Fprintf(&b, "%s:%d:%v:%d:%q:%v:%v:%q;", a.Name, a.Type, a.Float, a.Int, a.String, a.Floats, a.Ints, a.Strings)
		if a.Tensor != nil {
			b.WriteString(tensorKey(a.Tensor))
		}
		if a.Graph != nil || len(a.Graphs) > 0 || len(a.Tensors) > 0 {
			fmt.Fprintf(&b, "%p", a) // never equal: compared by identity
		}
	}
	fmt.Fprintf(&b, "|%d", len(n.Outputs()))
	return b.String()
}

// removeDead deletes nodes none of whose outputs is read, and initializers
// nothing reads. Graph inputs stay: they are the model's interface.
func removeDead(c *passes.Context, m *onnx.Model, g *onnx.Graph) int {
	n := 0
	for changed := true; changed; {
		changed = false
		for i := len(g.Nodes) - 1; i >= 0; i-- {
			node := g.Nodes[i]
			live := false
			for _, o := range node.Outputs() {
				if passes.IsUsed(o) {
					live = true
				}
			}
			if live || !c.Allow() {
				continue
			}
			g.RemoveNodes(node)
			n++
			changed = true
		}
	}
	for _, v := range slices.Clone(g.Initializers) {
		if passes.IsUsed(v) {
			continue
		}
		if v.IsGraphInput() && m.IRVersion >= 4 {
			continue // an input with a default value: part of the interface
		}
		if !c.Allow() {
			continue
		}
		g.RemoveInitializer(v)
		n++
	}
	return n
}
