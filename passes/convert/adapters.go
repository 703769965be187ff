package convert

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// An adapter looks at one node and returns the edit that carries it to the
// target opset (nil: nothing to do), or why it cannot. Edits run only once
// every node has been planned, so a refusal leaves the model as it was.
type adapter func(u *upgrade, n *onnx.Node) (func(), error)

// adapters hold the ops whose meaning or signature changed between opsets 7
// and 21 (after ONNX's Changelog and version converter). Every other
// version bump of an ai.onnx op only adds types or attributes whose
// defaults keep the old meaning.
var adapters = map[string]adapter{
	"Clip":               clip,
	"Pad":                pad,
	"Slice":              slice,
	"TopK":               topK,
	"Upsample":           upsample,
	"Resize":             resize,
	"Scatter":            rename(11, "ScatterElements"),
	"Split":              split,
	"Squeeze":            attrToInput(13, "axes", 1),
	"Unsqueeze":          attrToInput(13, "axes", 1),
	"ReduceSum":          attrToInput(13, "axes", 1),
	"ReduceMean":         attrToInput(18, "axes", 1),
	"ReduceMax":          attrToInput(18, "axes", 1),
	"ReduceMin":          attrToInput(18, "axes", 1),
	"ReduceProd":         attrToInput(18, "axes", 1),
	"ReduceL1":           attrToInput(18, "axes", 1),
	"ReduceL2":           attrToInput(18, "axes", 1),
	"ReduceLogSum":       attrToInput(18, "axes", 1),
	"ReduceLogSumExp":    attrToInput(18, "axes", 1),
	"ReduceSumSquare":    attrToInput(18, "axes", 1),
	"Softmax":            softmax,
	"LogSoftmax":         softmax,
	"Hardmax":            softmax,
	"BatchNormalization": batchNorm,
	"Dropout":            dropout,
	"Scan":               scan,
	"RoiAlign":           roiAlign,
	"GridSample":         gridSample,
	"DFT":                dft,
	"GroupNormalization": groupNorm,
}

// attrToInput moves an ints attribute to an int64 input at version since.
func attrToInput(since int64, attr string, index int) adapter {
	return func(u *upgrade, n *onnx.Node) (func(), error) {
		if !u.crosses(since) || n.Attr(attr) == nil {
			return nil, nil
		}
		if n.Input(index) != nil {
			return nil, fmt.Errorf("has both a %s attribute and input %d", attr, index)
		}
		return func() {
			n.SetInput(index, u.constant(n, attr, ints(n.AttrInts(attr, nil))))
			n.RemoveAttr(attr)
		}, nil
	}
}

// rename is an op replaced by another of the same meaning.
func rename(since int64, to string) adapter {
	return func(u *upgrade, n *onnx.Node) (func(), error) {
		if !u.crosses(since) {
			return nil, nil
		}
		return func() { n.OpType = to }, nil
	}
}

// clip: min and max became inputs of the input's type at 11.
func clip(u *upgrade, n *onnx.Node) (func(), error) {
	lo, hi := n.Attr("min"), n.Attr("max")
	if !u.crosses(11) || (lo == nil && hi == nil) {
		return nil, nil
	}
	dt := passes.ElemType(n.Input(0))
	var tlo, thi *onnx.Tensor
	var err error
	if lo != nil {
		if tlo, err = scalar(dt, float64(lo.Float)); err != nil {
			return nil, fmt.Errorf("min: %w", err)
		}
	}
	if hi != nil {
		if thi, err = scalar(dt, float64(hi.Float)); err != nil {
			return nil, fmt.Errorf("max: %w", err)
		}
	}
	return func() {
		// An absent bound stays an omitted input: no clamp on that side.
		if tlo != nil {
			n.SetInput(1, u.constant(n, "min", tlo))
		}
		if thi != nil {
			n.SetInput(2, u.constant(n, "max", thi))
		}
		n.RemoveAttr("min")
		n.RemoveAttr("max")
	}, nil
}

// pad: pads and the constant value became inputs at 11.
func pad(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(11) || n.Attr("pads") == nil {
		return nil, nil
	}
	pads := n.AttrInts("pads", nil)
	var tv *onnx.Tensor
	if v := n.AttrFloat("value", 0); v != 0 && n.AttrString("mode", "constant") == "constant" {
		var err error
		if tv, err = scalar(passes.ElemType(n.Input(0)), float64(v)); err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
	}
	return func() {
		n.SetInput(1, u.constant(n, "pads", ints(pads)))
		if tv != nil {
			n.SetInput(2, u.constant(n, "value", tv))
		}
		n.RemoveAttr("pads")
		n.RemoveAttr("value")
	}, nil
}

// slice: starts, ends and axes became inputs at 10.
func slice(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(10) || n.Attr("starts") == nil {
		return nil, nil
	}
	if n.Attr("ends") == nil {
		return nil, fmt.Errorf("has starts but no ends")
	}
	return func() {
		n.SetInput(1, u.constant(n, "starts", ints(n.AttrInts("starts", nil))))
		n.SetInput(2, u.constant(n, "ends", ints(n.AttrInts("ends", nil))))
		if n.Attr("axes") != nil {
			n.SetInput(3, u.constant(n, "axes", ints(n.AttrInts("axes", nil))))
		}
		for _, a := range []string{"starts", "ends", "axes"} {
			n.RemoveAttr(a)
		}
	}, nil
}

// topK: k became an input at 10.
func topK(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(10) || n.Attr("k") == nil {
		return nil, nil
	}
	return func() {
		n.SetInput(1, u.constant(n, "k", ints([]int64{n.AttrInt("k", 0)})))
		n.RemoveAttr("k")
	}, nil
}

// split: the split sizes became an input at 13; at 18 an equal split must
// say how many outputs it has.
func split(u *upgrade, n *onnx.Node) (func(), error) {
	move, err := attrToInput(13, "split", 1)(u, n)
	if err != nil {
		return nil, err
	}
	count := u.crosses(18) && n.Attr("split") == nil && n.Input(1) == nil && n.Attr("num_outputs") == nil
	if move == nil && !count {
		return nil, nil
	}
	return func() {
		if move != nil {
			move()
		}
		if count {
			n.SetAttr(onnx.IntAttr("num_outputs", int64(len(n.Outputs()))))
		}
	}, nil
}

// softmax: before 13, Softmax, LogSoftmax and Hardmax flattened the input to
// 2-D at axis and normalised each row; from 13 they work along axis alone.
// The same where axis is the last; otherwise the node becomes Flatten →
// op(axis=-1) → Reshape back to the input's shape.
func softmax(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(13) {
		return nil, nil
	}
	axis := n.AttrInt("axis", 1)
	rank := rankOf(n.Input(0))
	if axis < 0 && rank >= 0 {
		axis += rank
	}
	if rank >= 0 && axis == rank-1 {
		return func() { n.SetAttr(onnx.IntAttr("axis", -1)) }, nil
	}
	return func() {
		g, x := n.Graph, n.Input(0)
		shape := newNode(g, n, "Shape", x)
		flat := newNode(g, n, "Flatten", x)
		flat.SetAttr(onnx.IntAttr("axis", axis))
		op := newNode(g, n, n.OpType, flat.Output(0))
		op.SetAttr(onnx.IntAttr("axis", -1))
		back := newNode(g, n, "Reshape", op.Output(0), shape.Output(0))
		if x.Type != nil {
			back.Output(0).Type = x.Type.Clone()
		}
		passes.Replace(n.Output(0), back.Output(0))
		g.RemoveNodes(n)
		op.Name = n.Name
	}, nil
}

// batchNorm: spatial went at 9 (only spatial=1 survives); from 14 the
// statistics outputs exist only in training mode.
func batchNorm(u *upgrade, n *onnx.Node) (func(), error) {
	spatial := u.crosses(9) && n.Attr("spatial") != nil
	if spatial && n.AttrInt("spatial", 1) != 1 {
		return perElementBatchNorm(u, n)
	}
	extra := u.crosses(14) && len(n.Outputs()) > 1
	// Listing the statistics outputs made a training-mode node before 14
	// (it normalises with its batch's statistics): from 14 training_mode
	// says so, and the running statistics stay its outputs 1 and 2; the
	// saved mean and inverse deviation (3, 4) have no form.
	training := extra && interp.BatchNormTraining(n, u.from)
	keep := 1
	if training {
		keep = 3
	}
	if extra {
		for i, v := range n.Outputs()[keep:] {
			if passes.IsUsed(v) {
				return nil, fmt.Errorf("output %d (%s, a training statistic) is read: from opset 14 BatchNormalization has no such output", keep+i, v.Name)
			}
		}
	}
	if !spatial && !extra {
		return nil, nil
	}
	return func() {
		n.RemoveAttr("spatial")
		if training {
			n.SetAttr(onnx.IntAttr("training_mode", 1))
		}
		if extra && len(n.Outputs()) > keep {
			keepOutputs(n, keep)
		}
	}, nil
}

// perElementBatchNorm converts a BatchNormalization with spatial=0, whose
// statistics are per element of a sample (shape C×D1×…) rather than per
// channel: with one value per channel it is the spatial form; otherwise its
// constant parameters make it x·K + S, with K and S of that shape, as the
// interpreter computes it.
func perElementBatchNorm(u *upgrade, n *onnx.Node) (func(), error) {
	var p [4][]float32
	for i := range p {
		if p[i] = constFloats(n.Input(i + 1)); p[i] == nil {
			return nil, fmt.Errorf("spatial=0 (statistics per element, not per channel) converts only with constant scale, bias, mean and var")
		}
	}
	c, ok := dimOf(n.Input(0), 1)
	if ok && int64(len(p[0])) == c {
		return func() { n.RemoveAttr("spatial") }, nil // one value per channel: the same
	}
	for _, v := range p[1:] {
		if len(v) != len(p[0]) {
			return nil, fmt.Errorf("scale, bias, mean and var differ in size")
		}
	}
	if len(n.Outputs()) > 1 {
		for _, v := range n.Outputs()[1:] {
			if passes.IsUsed(v) {
				return nil, fmt.Errorf("spatial=0 and its training output %s is read", v.Name)
			}
		}
	}
	// K and S take the shape of a sample (C×D1×…), which broadcasts along
	// the batch whatever shape the parameters were stored in.
	xs, ok := passes.StaticShape(n.Input(0))
	if !ok || passes.ElemType(n.Input(0)) != onnx.Float {
		return nil, fmt.Errorf("spatial=0 converts only for a float32 input of known shape")
	}
	dims := xs[1:]
	if size := int64(len(p[0])); size != prod64(dims) {
		return nil, fmt.Errorf("spatial=0 with %d parameters for a sample of shape %v", size, dims)
	}
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	k, sh := make([]float32, len(p[0])), make([]float32, len(p[0]))
	for i := range k {
		k[i] = float32(float64(p[0][i]) / math.Sqrt(float64(p[3][i])+eps))
		sh[i] = p[1][i] - p[2][i]*k[i]
	}
	return func() {
		g := n.Graph
		mul := newNode(g, n, "Mul", n.Input(0), u.constant(n, "scale", onnx.NewFloatTensor("", dims, k)))
		add := newNode(g, n, "Add", mul.Output(0), u.constant(n, "shift", onnx.NewFloatTensor("", dims, sh)))
		standIn(n, add.Output(0))
	}, nil
}

// dropout: the mask became bool at 10; ratio became an input at 12.
func dropout(u *upgrade, n *onnx.Node) (func(), error) {
	mask := u.crosses(10) && len(n.Outputs()) > 1 && n.Output(1) != nil
	if mask && passes.IsUsed(n.Output(1)) {
		return nil, fmt.Errorf("its mask output is read and changed type (float to bool) at opset 10")
	}
	ratio := u.crosses(12) && n.Attr("ratio") != nil
	if !mask && !ratio {
		return nil, nil
	}
	return func() {
		if ratio {
			t := onnx.NewFloatTensor("", nil, []float32{n.AttrFloat("ratio", 0.5)})
			n.SetInput(1, u.constant(n, "ratio", t))
			n.RemoveAttr("ratio")
		}
		if mask {
			keepOutputs(n, 1)
		}
	}, nil
}

// scan: opset 8's Scan (batch axis, sequence_lens input) is another op.
func scan(u *upgrade, n *onnx.Node) (func(), error) {
	if u.crosses(9) {
		return nil, fmt.Errorf("Scan-8 (a batch axis and sequence_lens) has no converted form here")
	}
	return nil, nil
}

// roiAlign: coordinate_transformation_mode came at 16 with a new default.
func roiAlign(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(16) || n.Attr("coordinate_transformation_mode") != nil {
		return nil, nil
	}
	return func() { n.SetAttr(onnx.StringAttr("coordinate_transformation_mode", "output_half_pixel")) }, nil
}

// gridSample: modes were renamed at 20.
func gridSample(u *upgrade, n *onnx.Node) (func(), error) {
	to := map[string]string{"bilinear": "linear", "bicubic": "cubic"}[n.AttrString("mode", "bilinear")]
	if !u.crosses(20) || to == "" {
		return nil, nil
	}
	return func() { n.SetAttr(onnx.StringAttr("mode", to)) }, nil
}

// dft: axis became an input at 20, whose default is -2, not 1.
func dft(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(20) {
		return nil, nil
	}
	axis := n.AttrInt("axis", 1)
	return func() {
		n.SetInput(2, u.constant(n, "axis", onnx.NewInt64Tensor("", nil, []int64{axis})))
		n.RemoveAttr("axis")
	}, nil
}

// groupNorm: scale and bias were per group before 21 and are per channel
// from 21: each group's value is repeated for its C/G channels.
func groupNorm(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(21) {
		return nil, nil
	}
	groups := n.AttrInt("num_groups", 0)
	if groups <= 0 {
		return nil, fmt.Errorf("num_groups %d", groups)
	}
	return func() {
		g := n.Graph
		c := newNode(g, n, "Shape", n.Input(0))
		c.SetAttr(onnx.IntAttr("start", 1))
		c.SetAttr(onnx.IntAttr("end", 2))
		per := newNode(g, n, "Div", c.Output(0), u.constant(n, "groups", ints([]int64{groups})))
		wide := newNode(g, n, "Concat", u.constant(n, "one", ints([]int64{1})), per.Output(0))
		wide.SetAttr(onnx.IntAttr("axis", 0))
		column, flat := u.constant(n, "column", ints([]int64{-1, 1})), u.constant(n, "flat", ints([]int64{-1}))
		for i := 1; i <= 2; i++ {
			r := newNode(g, n, "Reshape", n.Input(i), column)
			e := newNode(g, n, "Expand", r.Output(0), wide.Output(0))
			f := newNode(g, n, "Reshape", e.Output(0), flat)
			n.SetInput(i, f.Output(0))
		}
	}, nil
}

// upsample: scales became an input at 9; at 10 Upsample gave way to Resize.
func upsample(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(9) && !u.crosses(10) {
		return nil, nil
	}
	mode := n.AttrString("mode", "nearest")
	if mode == "bilinear" {
		mode = "linear"
	}
	var scales []float32
	scalesV := n.Input(1)
	if u.from < 9 {
		if scales = n.AttrFloats("scales", nil); scales == nil {
			return nil, fmt.Errorf("no scales")
		}
		scalesV = nil
	} else if scalesV == nil {
		return nil, fmt.Errorf("no scales input")
	} else {
		scales = constFloats(scalesV)
	}
	var nearest string
	if u.to >= 11 {
		var err error
		if nearest, err = nearestMode(mode, scales); err != nil {
			return nil, err
		}
	}
	return func() {
		if scalesV == nil {
			scalesV = u.constant(n, "scales", onnx.NewFloatTensor("", []int64{int64(len(scales))}, scales))
		}
		if u.to < 10 {
			n.SetInput(1, scalesV)
			n.RemoveAttr("scales")
			return
		}
		n.OpType = "Resize"
		n.Attrs = []*onnx.Attribute{onnx.StringAttr("mode", mode)}
		n.SetInputs(n.Input(0), scalesV)
		if u.to >= 11 {
			resize11(u, n, nearest)
		}
	}, nil
}

// resize: Resize-10 worked like Upsample (asymmetric coordinates; nearest
// rounds down when enlarging, up when shrinking); 11 added roi and made
// both explicit. tf_half_pixel_for_nn went at 13.
func resize(u *upgrade, n *onnx.Node) (func(), error) {
	if u.from < 11 && u.crosses(11) {
		var nearest string
		if n.AttrString("mode", "nearest") == "nearest" {
			if n.Input(1) == nil {
				return nil, fmt.Errorf("no scales input")
			}
			var err error
			if nearest, err = nearestMode("nearest", constFloats(n.Input(1))); err != nil {
				return nil, err
			}
		}
		return func() { resize11(u, n, nearest) }, nil
	}
	if u.crosses(13) && n.AttrString("coordinate_transformation_mode", "") == "tf_half_pixel_for_nn" {
		return nil, fmt.Errorf("coordinate_transformation_mode tf_half_pixel_for_nn was removed at opset 13")
	}
	return nil, nil
}

// resize11 turns a Resize-10 (X, scales) into its opset-11 form.
func resize11(u *upgrade, n *onnx.Node, nearest string) {
	var roi *onnx.Value
	if u.to < 13 { // roi is a required input at 11 and 12; empty is "none"
		roi = u.constant(n, "roi", onnx.NewFloatTensor("", []int64{0}, nil))
	}
	n.SetInputs(n.Input(0), roi, n.Input(1))
	n.SetAttr(onnx.StringAttr("coordinate_transformation_mode", "asymmetric"))
	if nearest != "" {
		n.SetAttr(onnx.StringAttr("nearest_mode", nearest))
	}
}

// nearestMode is the opset-11 nearest_mode that rounds as Resize-10 and
// Upsample did for these scales: down when enlarging, up when shrinking.
// "" for modes other than nearest.
func nearestMode(mode string, scales []float32) (string, error) {
	if mode != "nearest" {
		return "", nil
	}
	if scales == nil {
		return "", fmt.Errorf("nearest resizing with scales known only at run time: it rounds down when enlarging and up when shrinking, which one nearest_mode of opset 11 expresses only when the scales are known")
	}
	up, down := false, false
	for _, s := range scales {
		up = up || s > 1
		down = down || s < 1
	}
	switch {
	case up && down:
		return "", fmt.Errorf("nearest resizing that enlarges some axes and shrinks others (scales %v) rounds both ways, which no single nearest_mode of opset 11 does", scales)
	case down:
		return "ceil", nil
	}
	return "floor", nil
}

// keepOutputs replaces n by a copy with only its first k outputs.
func keepOutputs(n *onnx.Node, k int) {
	g := n.Graph
	names := make([]string, k)
	for i := range names {
		names[i] = g.FreshName(n.Output(i).Name)
	}
	c := g.NewNode(n.OpType, n.Domain, n.Name, n.Inputs(), names...)
	c.Attrs, c.DocString, c.Metadata = n.Attrs, n.DocString, n.Metadata
	g.InsertBefore(n, c)
	for i := 0; i < k; i++ {
		c.Output(i).Type = n.Output(i).Type
		passes.Replace(n.Output(i), c.Output(i))
	}
	g.RemoveNodes(n)
}

// standIn makes out, the last of the nodes written in n's place, stand in
// for n's output (its type and n's name with it), and removes n.
func standIn(n *onnx.Node, out *onnx.Value) {
	if t := n.Output(0).Type; t != nil {
		out.Type = t.Clone()
	}
	out.Producer().Name = n.Name
	passes.Replace(n.Output(0), out)
	n.Graph.RemoveNodes(n)
}

// newNode places a one-output node before ref.
func newNode(g *onnx.Graph, ref *onnx.Node, op string, inputs ...*onnx.Value) *onnx.Node {
	base := ref.Name
	if base == "" {
		base = ref.OpType
	}
	name := g.FreshName(base + "_" + op)
	n := g.NewNode(op, "", name, inputs, name)
	g.InsertBefore(ref, n)
	return n
}

// rankOf is a value's rank, or -1 when unknown.
func rankOf(v *onnx.Value) int64 {
	if v == nil || v.Type == nil || v.Type.Kind != onnx.TypeTensor || !v.Type.HasShape() {
		return -1
	}
	return int64(len(v.Type.Shape))
}

// constFloats reads a constant float tensor, or nil.
func constFloats(v *onnx.Value) []float32 {
	t := passes.ConstTensor(v)
	if t == nil {
		return nil
	}
	it, err := interp.FromONNX(t)
	if err != nil {
		return nil
	}
	f, err := interp.AsFloat32(it)
	if err != nil {
		return nil
	}
	return f
}

// scalar is a scalar tensor of a floating-point type holding f.
func scalar(dt onnx.DataType, f float64) (*onnx.Tensor, error) {
	switch dt {
	case onnx.Float:
		return onnx.NewFloatTensor("", nil, []float32{float32(f)}), nil
	case onnx.Double:
		return onnx.NewTensor("", dt, nil, binary.LittleEndian.AppendUint64(nil, math.Float64bits(f))), nil
	case onnx.Float16:
		return onnx.NewTensor("", dt, nil, binary.LittleEndian.AppendUint16(nil, interp.Float32ToFloat16(float32(f)))), nil
	case onnx.Undefined:
		return nil, fmt.Errorf("the input's element type is unknown")
	}
	return nil, fmt.Errorf("element type %s", dt)
}

func prod64(d []int64) int64 {
	p := int64(1)
	for _, v := range d {
		p *= v
	}
	return p
}
