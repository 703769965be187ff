package convert

import (
	"fmt"
	"math"
	"strings"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// Opsets 1 to 6 predate numpy broadcasting and the attribute clean-up of
// opset 7; ONNX Runtime runs no model below 7. legacyAdapters
// carry such a model to opset 7 (or to a target below it): broadcast and
// axis attributes give way to explicit trailing axes, attributes that became
// inputs or changed type move, and attributes that went (consumed_inputs,
// is_test, output_sequence) are dropped where dropping keeps the meaning.
// The adapters of the 7 … 21 table then run on the result.
var legacyAdapters = map[string]adapter{
	"Add": legacyBroadcast, "Sub": legacyBroadcast, "Mul": legacyBroadcast, "Div": legacyBroadcast,
	"Pow": legacyBroadcast, "And": legacyBroadcast, "Or": legacyBroadcast, "Xor": legacyBroadcast,
	"Equal": legacyBroadcast, "Greater": legacyBroadcast, "Less": legacyBroadcast,
	"Gemm":               dropAttrs(7, "broadcast"),
	"BatchNormalization": legacyBatchNorm,
	"Dropout":            dropAttrs(7, "is_test"),
	"LSTM":               dropAttrs(7, "output_sequence"),
	"GRU":                dropAttrs(7, "output_sequence"),
	"RNN":                dropAttrs(7, "output_sequence"),
	"Concat":             legacyConcat,
	"Reshape":            attrToInput(5, "shape", 1),
	"Pad":                legacyPad,
	"Split":              legacySplit,
	"LpPool":             legacyLpP,
	"GlobalLpPool":       legacyLpP,
	"Cast":               legacyCast,
	"Upsample":           legacyUpsample,
	"Tile":               legacyTile,
	"Selu":               legacySelu,
	"PRelu":              legacyPRelu,
}

// legacyAdapter is the opset 1 … 6 adapter of n: its op's entry, after
// consumed_inputs (an in-place hint of opsets 1 … 5) is dropped.
func legacyAdapter(u *upgrade, n *onnx.Node) (func(), error) {
	var edits []func()
	if n.Attr("consumed_inputs") != nil && (u.crosses(6) || n.OpType == "Reshape" && u.crosses(5)) {
		edits = append(edits, func() { n.RemoveAttr("consumed_inputs") })
	}
	if adapt := legacyAdapters[n.OpType]; adapt != nil {
		e, err := adapt(u, n)
		if err != nil {
			return nil, err
		}
		if e != nil {
			edits = append(edits, e)
		}
	}
	if len(edits) == 0 {
		return nil, nil
	}
	return func() {
		for _, e := range edits {
			e()
		}
	}, nil
}

// dropAttrs removes attributes that went at version since and whose only
// value left the meaning as it is now.
func dropAttrs(since int64, attrs ...string) adapter {
	return func(u *upgrade, n *onnx.Node) (func(), error) {
		if !u.crosses(since) {
			return nil, nil
		}
		var present []string
		for _, a := range attrs {
			if n.Attr(a) != nil {
				present = append(present, a)
			}
		}
		if len(present) == 0 {
			return nil, nil
		}
		return func() {
			for _, a := range present {
				n.RemoveAttr(a)
			}
		}, nil
	}
}

// legacyBroadcast: before 7 a binary op broadcast only with broadcast=1,
// and then B's shape matched A's from axis on (default: its last axes).
// From 7 both broadcast as numpy does, aligning trailing axes: B gains
// trailing ones where axis placed it before A's end.
func legacyBroadcast(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(7) || (n.Attr("broadcast") == nil && n.Attr("axis") == nil) {
		return nil, nil
	}
	pad := 0
	if n.AttrInt("broadcast", 0) != 0 && n.Attr("axis") != nil {
		ra, rb := rankOf(n.Input(0)), rankOf(n.Input(1))
		if ra < 0 || rb < 0 {
			return nil, fmt.Errorf("broadcast with axis needs the ranks of both inputs, and they are not known")
		}
		axis := n.AttrInt("axis", 0)
		if axis < 0 {
			axis += ra
		}
		if axis < 0 || axis+rb > ra {
			return nil, fmt.Errorf("axis %d does not place a rank-%d B inside a rank-%d A", n.AttrInt("axis", 0), rb, ra)
		}
		pad = int(ra - axis - rb)
	}
	return func() {
		n.RemoveAttr("broadcast")
		n.RemoveAttr("axis")
		if pad > 0 {
			padInput(u, n, 1, pad)
		}
	}, nil
}

// padInput appends pad axes of size 1 to n's input i: a reshaped copy of
// a constant (the original goes when nothing else reads it), or an
// Unsqueeze (with the axes attribute of opsets before 13) in front of n.
func padInput(u *upgrade, n *onnx.Node, i, pad int) {
	v := n.Input(i)
	if t := passes.ConstTensor(v); t != nil && v.Producer() == nil {
		c := t.Clone()
		c.Name = ""
		for range pad {
			c.Dims = append(c.Dims, 1)
		}
		n.SetInput(i, u.constant(n, "expanded", c))
		if !passes.IsUsed(v) {
			v.Graph().RemoveInitializer(v)
		}
		return
	}
	r := int(rankOf(v))
	axes := make([]int64, pad)
	for k := range axes {
		axes[k] = int64(r + k)
	}
	un := newNode(n.Graph, n, "Unsqueeze", v)
	un.SetAttr(onnx.IntsAttr("axes", axes))
	n.SetInput(i, un.Output(0))
}

// legacyBatchNorm: is_test went at 7, when BatchNormalization became an
// inference op. The interpreter (and every inference runtime) normalises
// with the stored statistics either way; a node whose training outputs are
// read has no inference form.
func legacyBatchNorm(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(7) || n.Attr("is_test") == nil {
		return nil, nil
	}
	if n.AttrInt("is_test", 0) == 0 {
		for i, v := range n.Outputs()[1:] {
			if passes.IsUsed(v) {
				return nil, fmt.Errorf("is_test=0 and its training output %d (%s) is read: training-mode batch normalization has no form from opset 7", i+1, v.Name)
			}
		}
	} else if len(n.Outputs()) > 1 {
		// From 7, listing a statistics output alone means training mode.
		for i, v := range n.Outputs()[1:] {
			if passes.IsUsed(v) {
				return nil, fmt.Errorf("is_test=1 and its statistics output %d (%s) is read", i+1, v.Name)
			}
		}
		return func() { n.RemoveAttr("is_test"); keepOutputs(n, 1) }, nil
	}
	return func() { n.RemoveAttr("is_test") }, nil
}

// legacyConcat: axis became required at 4; before, it defaulted to 1.
func legacyConcat(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(4) || n.Attr("axis") != nil {
		return nil, nil
	}
	return func() { n.SetAttr(onnx.IntAttr("axis", 1)) }, nil
}

// legacyPad: paddings was renamed pads at 2 (the same layout: every axis's
// begin, then every axis's end).
func legacyPad(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(2) || n.Attr("paddings") == nil {
		return nil, nil
	}
	return func() {
		n.SetAttr(onnx.IntsAttr("pads", n.AttrInts("paddings", nil)))
		n.RemoveAttr("paddings")
	}, nil
}

// legacySplit: Split-1 could take its sizes as a second input; from 2 they
// are an attribute (an input again from 13), so a constant one moves.
func legacySplit(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(2) || n.Input(1) == nil {
		return nil, nil
	}
	sizes := passes.ConstInts(n.Input(1))
	if sizes == nil {
		return nil, fmt.Errorf("split sizes computed at run time: from opset 2 they are an attribute")
	}
	return func() {
		n.SetAttr(onnx.IntsAttr("split", sizes))
		n.SetInputs(n.Input(0))
	}, nil
}

// legacyLpP: p was a float before 2 and is an integer since.
func legacyLpP(u *upgrade, n *onnx.Node) (func(), error) {
	a := n.Attr("p")
	if !u.crosses(2) || a == nil || a.Type != onnx.AttrFloat {
		return nil, nil
	}
	if a.Float != float32(math.Trunc(float64(a.Float))) {
		return nil, fmt.Errorf("p=%g: from opset 2 p is an integer", a.Float)
	}
	return func() { n.SetAttr(onnx.IntAttr("p", int64(a.Float))) }, nil
}

// legacyCast: Cast-1 named the type as a string; from 6 it is the
// TensorProto data type number.
func legacyCast(u *upgrade, n *onnx.Node) (func(), error) {
	a := n.Attr("to")
	if !u.crosses(6) || a == nil || a.Type != onnx.AttrString {
		return nil, nil
	}
	dt, ok := onnx.ParseDataType(strings.ToLower(string(a.String)))
	if !ok {
		return nil, fmt.Errorf("unknown type name %q", a.String)
	}
	return func() { n.SetAttr(onnx.IntAttr("to", int64(dt))) }, nil
}

// legacyUpsample: Upsample-1 scaled an [N,C,H,W] input by height_scale and
// width_scale, in modes nearest or bilinear; Upsample-7 takes a scale per
// axis and calls bilinear linear.
func legacyUpsample(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(7) || n.Attr("scales") != nil {
		return nil, nil
	}
	if r := rankOf(n.Input(0)); r != 4 && r != -1 {
		return nil, fmt.Errorf("Upsample-1 scales an [N,C,H,W] input; this one has rank %d", r)
	}
	scales := interp.Upsample1Scales(n)
	return func() {
		n.SetAttr(onnx.FloatsAttr("scales", scales))
		n.RemoveAttr("height_scale")
		n.RemoveAttr("width_scale")
		if n.AttrString("mode", "nearest") == "bilinear" {
			n.SetAttr(onnx.StringAttr("mode", "linear"))
		}
	}, nil
}

// legacyTile: Tile-1 repeated its input tiles times along axis (two scalar
// inputs); from 6 one repeats input holds a count per axis.
func legacyTile(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(6) || n.Input(2) == nil {
		return nil, nil
	}
	tiles, axis, r := passes.ConstInts(n.Input(1)), passes.ConstInts(n.Input(2)), rankOf(n.Input(0))
	if len(tiles) != 1 || len(axis) != 1 || r < 0 {
		return nil, fmt.Errorf("Tile-1 converts only with constant tiles and axis and an input of known rank")
	}
	reps, err := interp.Tile1Repeats(r, tiles[0], axis[0])
	if err != nil {
		return nil, err
	}
	return func() { n.SetInputs(n.Input(0), u.constant(n, "repeats", ints(reps))) }, nil
}

// legacySelu: Selu-6 gave alpha and gamma more digits; a Selu-1 that relied
// on the defaults keeps its own.
func legacySelu(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(6) || (n.Attr("alpha") != nil && n.Attr("gamma") != nil) {
		return nil, nil
	}
	return func() {
		if n.Attr("alpha") == nil {
			n.SetAttr(onnx.FloatAttr("alpha", interp.Selu1Alpha))
		}
		if n.Attr("gamma") == nil {
			n.SetAttr(onnx.FloatAttr("gamma", interp.Selu1Gamma))
		}
	}, nil
}

// legacyPRelu: before 7 a 1-D slope with one value per channel (axis 1)
// applied along the channels; from 7 it broadcasts numpy-style, against the
// last axis, so it gains trailing ones.
func legacyPRelu(u *upgrade, n *onnx.Node) (func(), error) {
	xr := rankOf(n.Input(0))
	if !u.crosses(7) || rankOf(n.Input(1)) != 1 || xr == 0 || xr == 1 || xr == 2 {
		return nil, nil // no per-channel slope, or the channels are already last
	}
	slope, ok1 := passes.StaticShape(n.Input(1))
	if ok1 && slope[0] == 1 {
		return nil, nil
	}
	c, ok2 := dimOf(n.Input(0), 1)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("a 1-D slope is per channel before opset 7 when it matches the channel count, and the shapes are not known")
	}
	if c != slope[0] {
		return nil, nil // not per channel: numpy broadcasting as before
	}
	return func() { padInput(u, n, 1, int(xr-2)) }, nil
}

// dimOf is axis i of v's shape when it is a known number.
func dimOf(v *onnx.Value, i int) (int64, bool) {
	if rankOf(v) <= int64(i) {
		return 0, false
	}
	d := v.Type.Shape[i]
	return d.Value, d.IsStatic()
}
