package chandep

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// Remove deletes the channels of group g that are not in keep (sorted,
// unique, non-empty, each < g.Channels) for real: producers' weight rows and
// biases, BatchNormalization parameters, consumers' weight input channels,
// depthwise convs' group count, Split sizes, Reshape constants after
// Flatten→Gemm; value shapes follow. Changed constants are new tensors
// (payloads may be shared with clones). Every change is computed and checked
// before the first edit: on error the model is unchanged.
func Remove(m *onnx.Model, g *Group, keep []int) error {
	if g == nil || g.st == nil {
		return fmt.Errorf("chandep: group not from Analyze")
	}
	st := g.st
	if st.m != m {
		return fmt.Errorf("chandep: group %d was analysed on another model", g.ID)
	}
	if st.find(g.root) != g.root {
		return fmt.Errorf("chandep: group %d is stale (analyse again)", g.ID)
	}
	e := st.els[g.root]
	if e.pinned != "" {
		return fmt.Errorf("chandep: group %d is pinned: %s", g.ID, e.pinned)
	}
	if len(keep) == 0 {
		return fmt.Errorf("chandep: group %d: keep is empty (a layer cannot lose every channel)", g.ID)
	}
	for i, k := range keep {
		if k < 0 || k >= e.channels {
			return fmt.Errorf("chandep: group %d: channel %d out of range [0,%d)", g.ID, k, e.channels)
		}
		if i > 0 && keep[i-1] >= k {
			return fmt.Errorf("chandep: group %d: keep must be sorted and unique (%d after %d)", g.ID, k, keep[i-1])
		}
	}
	if e.blocks > 1 {
		// A grouped conv's groups keep as many channels each.
		w, counts := e.channels/e.blocks, make([]int, e.blocks)
		for _, k := range keep {
			counts[k/w]++
		}
		for b, n := range counts {
			if n != counts[0] {
				return fmt.Errorf("chandep: group %d: keep has %d channels in block %d and %d in block 0: its grouped conv needs as many in each of its %d groups", g.ID, n, b, counts[0], e.blocks)
			}
		}
	}
	root := g.root
	in := func(s seg) bool { return s.el >= 0 && st.find(s.el) == root }
	keptIn := func(lo, hi int) []int { // kept group channels in [lo,hi)
		a, _ := slices.BinarySearch(keep, lo)
		b, _ := slices.BinarySearch(keep, hi)
		return keep[a:b]
	}
	// positions returns the kept channel positions of a layout (in channels,
	// not blocks) and the new channel count.
	positions := func(l *layout) []int {
		var pos []int
		off := 0
		for _, s := range l.segs {
			if in(s) {
				for _, k := range keptIn(s.start, s.start+s.count) {
					pos = append(pos, off+k-s.start)
				}
			} else {
				for c := 0; c < s.count; c++ {
					pos = append(pos, off+c)
				}
			}
			off += s.count
		}
		return pos
	}
	newLayout := func(l *layout) *layout {
		nl := &layout{axis: l.axis, block: l.block}
		for _, s := range l.segs {
			if in(s) {
				a, _ := slices.BinarySearch(keep, s.start)
				s = seg{s.el, a, len(keptIn(s.start, s.start+s.count))}
			}
			nl.segs = append(nl.segs, s)
		}
		return nl
	}

	// Plan.
	type inputEdit struct {
		node  *onnx.Node
		input int
		t     *onnx.Tensor
	}
	var edits []inputEdit
	planIndex := map[[2]any]int{} // (node, input) → index in edits
	done := map[[4]any]bool{}     // (kind, node, input, axis) planned
	type attrEdit struct {
		node *onnx.Node
		a    *onnx.Attribute
	}
	var attrs []attrEdit
	var removeAttrs []attrEdit
	newLayouts := map[*onnx.Value]*layout{}
	for _, v := range st.order {
		l := st.vals[v]
		if slices.ContainsFunc(l.segs, in) {
			nl := newLayout(l)
			for _, s := range nl.segs {
				if s.count == 0 {
					return fmt.Errorf("chandep: group %d: keep leaves %s with no channels", g.ID, v.Name)
				}
			}
			newLayouts[v] = nl
		}
	}
	// planned returns input `input` of node as the edits so far leave it
	// (a weight can be indexed on two axes by one group: a conv inside a
	// residual block); replace plans its new value.
	planned := func(node *onnx.Node, input int) *onnx.Tensor {
		if i, ok := planIndex[[2]any{node, input}]; ok {
			return edits[i].t
		}
		return passes.ConstTensor(node.Input(input))
	}
	replace := func(node *onnx.Node, input int, t *onnx.Tensor) {
		if i, ok := planIndex[[2]any{node, input}]; ok {
			edits[i].t = t
			return
		}
		planIndex[[2]any{node, input}] = len(edits)
		edits = append(edits, inputEdit{node, input, t})
	}
	// setEntry sets entry axis of the integer constant input `input` of
	// node (a shape, sizes, Slice bounds) to v, in its own type; keep, if
	// set, says whether the old entry is rewritten.
	setEntry := func(node *onnx.Node, input, axis, v int, keep func(old int64) bool) error {
		t := planned(node, input)
		if t == nil {
			return fmt.Errorf("chandep: %s input %d is no longer constant", node.Name, input)
		}
		vs, err := t.AsInt64()
		if err != nil || axis >= len(vs) {
			return fmt.Errorf("chandep: %s: unreadable input %d: %v", node.Name, input, err)
		}
		if keep != nil && !keep(vs[axis]) {
			return nil
		}
		vs[axis] = int64(v)
		replace(node, input, intTensor(t.DataType, vs))
		return nil
	}
	for _, r := range e.recs {
		l := st.vals[r.by]
		key := [4]any{r.kind, r.node, r.input, r.axis}
		if done[key] {
			continue // recorded by more than one element before a union
		}
		done[key] = true
		switch r.kind {
		case recSlice:
			t := planned(r.node, r.input)
			if t == nil {
				return fmt.Errorf("chandep: %s input %d is no longer constant", r.node.Name, r.input)
			}
			nt, err := sliceTensor(t, r.axis, positions(l), l.block, l.channels())
			if err != nil {
				return fmt.Errorf("chandep: group %d: %s (%s) input %d: %w", g.ID, r.node.Name, r.node.OpType, r.input, err)
			}
			replace(r.node, r.input, nt)
		case recGroupedIn:
			t := planned(r.node, 1)
			group := int(r.node.AttrInt("group", 1))
			cin := l.channels()
			if t == nil || len(t.Dims) < 2 || group < 1 || cin%group != 0 || int(t.Dims[1])*group != cin {
				return fmt.Errorf("chandep: %s: grouped weight does not match its %d input channels", r.node.Name, cin)
			}
			kept := make([][]int, group)
			for _, p := range positions(l) {
				kept[p/(cin/group)] = append(kept[p/(cin/group)], p%(cin/group))
			}
			nt, err := sliceGroupedIn(t, kept)
			if err != nil {
				return fmt.Errorf("chandep: group %d: %s (%s): %w", g.ID, r.node.Name, r.node.OpType, err)
			}
			replace(r.node, 1, nt)
		case recGroup:
			attrs = append(attrs, attrEdit{r.node, onnx.IntAttr("group", int64(newLayouts[r.by].channels()))})
		case recSplit:
			var sizes []int64
			for _, o := range r.node.Outputs() {
				ol := newLayouts[o]
				if ol == nil {
					ol = st.vals[o]
				}
				sizes = append(sizes, int64(ol.channels()))
			}
			if st.m.Opset("") < 13 {
				attrs = append(attrs, attrEdit{r.node, onnx.IntsAttr("split", sizes)})
			} else {
				edits = append(edits, inputEdit{r.node, 1, onnx.NewInt64Tensor("", []int64{int64(len(sizes))}, sizes)})
				if r.node.Attr("num_outputs") != nil {
					removeAttrs = append(removeAttrs, attrEdit{r.node, onnx.IntAttr("num_outputs", 0)})
				}
			}
		case recShape:
			if err := setEntry(r.node, 0, r.axis, newLayouts[r.by].channels(), nil); err != nil {
				return err
			}
		case recSizes:
			if err := setEntry(r.node, r.input, r.axis, newLayouts[r.by].channels(), nil); err != nil {
				return err
			}
		case recBounds:
			channels := func(v *onnx.Value) int {
				if nl := newLayouts[v]; nl != nil {
					return nl.channels()
				}
				return st.vals[v].channels()
			}
			start := channels(r.before)
			end := start + channels(r.node.Output(0))
			if r.node.Attr("starts") != nil {
				for _, e := range []struct {
					name string
					v    int
				}{{"starts", start}, {"ends", end}} {
					vs := slices.Clone(r.node.AttrInts(e.name, nil))
					vs[r.axis] = int64(e.v)
					attrs = append(attrs, attrEdit{r.node, onnx.IntsAttr(e.name, vs)})
				}
				continue
			}
			for i, v := range []int{start, end} {
				if err := setEntry(r.node, i+1, r.axis, v, nil); err != nil {
					return err
				}
			}
		case recReshape:
			// 0 copies the input's dim, -1 is inferred: those stay.
			positive := func(old int64) bool { return old > 0 }
			if err := setEntry(r.node, 1, r.axis, newLayouts[r.by].channels()*l.block, positive); err != nil {
				return err
			}
		}
	}
	type shapeEdit struct {
		v *onnx.Value
		t *onnx.Type
	}
	var shapes []shapeEdit
	for v, nl := range newLayouts {
		if passes.ConstTensor(v) != nil {
			continue // a constant: replaced by its sliced copy
		}
		if v.Type == nil || !v.Type.HasShape() || nl.axis >= len(v.Type.Shape) {
			return fmt.Errorf("chandep: %s has no shape", v.Name)
		}
		t := v.Type.Clone()
		t.Shape = slices.Clone(v.Type.Shape)
		t.SetShape(t.Shape)
		t.Shape[nl.axis] = onnx.D(int64(nl.channels() * nl.block))
		shapes = append(shapes, shapeEdit{v, t})
	}

	// Apply.
	for _, ed := range edits {
		old := ed.node.Input(ed.input)
		name := ed.node.Name + "_pruned"
		if old != nil {
			name = old.Name + "_pruned"
		}
		nv := passes.AddConst(m, ed.node.Graph, name, ed.t)
		if ed.input >= len(ed.node.Inputs()) {
			ins := append(slices.Clone(ed.node.Inputs()), make([]*onnx.Value, ed.input+1-len(ed.node.Inputs()))...)
			ins[ed.input] = nv
			ed.node.SetInputs(ins...)
		} else {
			ed.node.SetInput(ed.input, nv)
		}
		if old != nil && old.Const != nil && !passes.IsUsed(old) && (!old.IsGraphInput() || old.Graph().Root().LegacyInitializerInputs) {
			old.Graph().RemoveInitializer(old)
		}
	}
	for _, a := range attrs {
		a.node.SetAttr(a.a)
	}
	for _, a := range removeAttrs {
		a.node.RemoveAttr(a.a.Name)
	}
	for _, s := range shapes {
		s.v.Type = s.t
	}
	for v, nl := range newLayouts {
		st.vals[v] = nl
	}
	e.channels = len(keep)
	st.export()
	return nil
}

// sliceGroupedIn keeps, in a grouped conv's weight [M, C/group, k…], the
// input channels kept[j] (positions within group j) of every output
// channel of group j; every group keeps as many.
func sliceGroupedIn(t *onnx.Tensor, kept [][]int) (*onnx.Tensor, error) {
	groups := len(kept)
	if groups == 0 || int(t.Dims[0])%groups != 0 {
		return nil, fmt.Errorf("%d groups for %d output channels", groups, t.Dims[0])
	}
	for _, k := range kept {
		if len(k) != len(kept[0]) || len(k) == 0 {
			return nil, fmt.Errorf("groups keep %d and %d input channels", len(k), len(kept[0]))
		}
	}
	data, inner, err := wholeBytes(t)
	if err != nil {
		return nil, err
	}
	for _, d := range t.Dims[2:] {
		inner *= int(d)
	}
	rows, win := int(t.Dims[0]), int(t.Dims[1])
	if len(data) != rows*win*inner {
		return nil, fmt.Errorf("payload has %d bytes, dims %v say %d", len(data), t.Dims, rows*win*inner)
	}
	out := make([]byte, 0, rows*len(kept[0])*inner)
	for o := 0; o < rows; o++ {
		row := data[o*win*inner : (o+1)*win*inner]
		for _, p := range kept[o/(rows/groups)] {
			out = append(out, row[p*inner:(p+1)*inner]...)
		}
	}
	dims := slices.Clone(t.Dims)
	dims[1] = int64(len(kept[0]))
	return onnx.NewTensor("", t.DataType, dims, out), nil
}

// sliceTensor keeps, along axis, the blocks of `block` positions at the
// given channel positions (the axis must hold `channels`·block positions).
func sliceTensor(t *onnx.Tensor, axis int, pos []int, block, channels int) (*onnx.Tensor, error) {
	if axis < 0 || axis >= len(t.Dims) {
		return nil, fmt.Errorf("axis %d out of range for dims %v", axis, t.Dims)
	}
	if int(t.Dims[axis]) != channels*block {
		return nil, fmt.Errorf("axis %d has %d entries, want %d channels × %d", axis, t.Dims[axis], channels, block)
	}
	data, es, err := wholeBytes(t)
	if err != nil {
		return nil, err
	}
	outer := 1
	for _, d := range t.Dims[:axis] {
		outer *= int(d)
	}
	inner := es
	for _, d := range t.Dims[axis+1:] {
		inner *= int(d)
	}
	if len(data) != outer*int(t.Dims[axis])*inner {
		return nil, fmt.Errorf("payload has %d bytes, dims %v say %d", len(data), t.Dims, outer*int(t.Dims[axis])*inner)
	}
	n := len(pos) * block
	out := make([]byte, 0, outer*n*inner)
	rowBytes := int(t.Dims[axis]) * inner
	for o := 0; o < outer; o++ {
		row := data[o*rowBytes : (o+1)*rowBytes]
		for _, p := range pos {
			out = append(out, row[p*block*inner:(p+1)*block*inner]...)
		}
	}
	dims := slices.Clone(t.Dims)
	dims[axis] = int64(n)
	return onnx.NewTensor("", t.DataType, dims, out), nil
}

// wholeBytes returns t's payload and its element size, for slicing: types
// of whole bytes only.
func wholeBytes(t *onnx.Tensor) ([]byte, int, error) {
	bits := t.DataType.BitSize()
	if bits < 8 || bits%8 != 0 {
		return nil, 0, fmt.Errorf("cannot slice %s tensors", t.DataType)
	}
	data, err := t.Data()
	return data, bits / 8, err
}

// intTensor is vals as a 1-D tensor of the integer type dt (int32 or
// int64, as ONNX's shape-like inputs are).
func intTensor(dt onnx.DataType, vals []int64) *onnx.Tensor {
	if dt != onnx.Int32 {
		return onnx.NewInt64Tensor("", []int64{int64(len(vals))}, vals)
	}
	raw := make([]byte, 0, 4*len(vals))
	for _, x := range vals {
		raw = binary.LittleEndian.AppendUint32(raw, uint32(int32(x)))
	}
	return onnx.NewTensor("", onnx.Int32, []int64{int64(len(vals))}, raw)
}
