package convert

import (
	"fmt"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// The experimental ops of opsets 1 … 9 went at opset 10. Most have a
// standard form, which these adapters write in their place (with ONNX
// Runtime's defaults, which the interpreter follows): Tiny YOLOv2 and other
// model-zoo files of opset 7 and 8 begin with an ImageScaler.
func init() {
	adapters["Scale"] = experimental(func(b *chain) error {
		return b.mul(b.n.AttrFloat("scale", 1))
	})
	adapters["Affine"] = experimental(func(b *chain) error {
		if err := b.mul(b.n.AttrFloat("alpha", 1)); err != nil {
			return err
		}
		return b.add(b.n.AttrFloat("beta", 0))
	})
	adapters["ScaledTanh"] = experimental(func(b *chain) error {
		if err := b.mul(b.n.AttrFloat("beta", 1)); err != nil {
			return err
		}
		b.op("Tanh")
		return b.mul(b.n.AttrFloat("alpha", 1))
	})
	adapters["ParametricSoftplus"] = experimental(func(b *chain) error {
		if err := b.mul(b.n.AttrFloat("beta", 1)); err != nil {
			return err
		}
		b.op("Softplus")
		return b.mul(b.n.AttrFloat("alpha", 1))
	})
	adapters["ImageScaler"] = experimental(imageScaler)
	adapters["Crop"] = experimental(crop)
	adapters["DynamicSlice"] = rename(10, "Slice")
	adapters["MeanVarianceNormalization"] = meanVarianceNorm
}

// meanVarianceNorm: the experimental MVN of opsets 1–8 chose its axes with
// across_channels and could skip the variance (normalize_variance=0); from
// 9 the axes are explicit and the variance always divides. Without it the
// node becomes x − ReduceMean(x) over the same axes.
func meanVarianceNorm(u *upgrade, n *onnx.Node) (func(), error) {
	if !u.crosses(9) || (n.Attr("across_channels") == nil && n.Attr("normalize_variance") == nil) {
		return nil, nil
	}
	axes := interp.MVNAxes(n)
	if n.AttrInt("normalize_variance", 1) == 1 {
		return func() {
			n.RemoveAttr("across_channels")
			n.RemoveAttr("normalize_variance")
			n.SetAttr(onnx.IntsAttr("axes", axes))
		}, nil
	}
	return func() {
		g, x := n.Graph, n.Input(0)
		mean := newNode(g, n, "ReduceMean", x)
		if u.to >= 18 {
			mean.SetInput(1, u.constant(n, "axes", ints(axes)))
		} else {
			mean.SetAttr(onnx.IntsAttr("axes", axes))
		}
		standIn(n, newNode(g, n, "Sub", x, mean.Output(0)).Output(0))
	}, nil
}

// chain plans the standard ops that stand in for an experimental node n:
// each step reads the previous one's output. Steps are recorded while
// planning (so that a missing type refuses before any edit) and built by
// the edit.
type chain struct {
	u     *upgrade
	n     *onnx.Node
	dt    onnx.DataType
	steps []func(x *onnx.Value) *onnx.Value
}

// experimental adapts an op removed at opset 10 by the chain plan writes.
func experimental(plan func(b *chain) error) adapter {
	return func(u *upgrade, n *onnx.Node) (func(), error) {
		if !u.crosses(10) {
			return nil, nil
		}
		b := &chain{u: u, n: n, dt: passes.ElemType(n.Input(0))}
		if err := plan(b); err != nil {
			return nil, fmt.Errorf("%s has no opset-10 form here: %w", n.OpType, err)
		}
		if len(b.steps) == 0 { // an identity (scale 1, no bias)
			b.op("Identity")
		}
		return func() {
			x := n.Input(0)
			for _, s := range b.steps {
				x = s(x)
			}
			standIn(n, x)
		}, nil
	}
}

// op applies a one-input op.
func (b *chain) op(name string) {
	b.steps = append(b.steps, func(x *onnx.Value) *onnx.Value {
		return newNode(b.n.Graph, b.n, name, x).Output(0)
	})
}

// binary applies op with a constant second operand.
func (b *chain) binary(op, what string, t *onnx.Tensor) {
	b.steps = append(b.steps, func(x *onnx.Value) *onnx.Value {
		return newNode(b.n.Graph, b.n, op, x, b.u.constant(b.n, what, t)).Output(0)
	})
}

// mul multiplies by f; a factor of 1 is no step.
func (b *chain) mul(f float32) error { return b.scalar("Mul", "scale", f, f == 1) }

// add adds f; 0 is no step.
func (b *chain) add(f float32) error { return b.scalar("Add", "bias", f, f == 0) }

// scalar applies op with the scalar f of the input's type, unless it is
// the op's identity.
func (b *chain) scalar(op, what string, f float32, identity bool) error {
	if identity {
		return nil
	}
	t, err := scalar(b.dt, float64(f))
	if err != nil {
		return err
	}
	b.binary(op, what, t)
	return nil
}

// imageScaler: y = scale·x + bias[c], the bias along axis 1.
func imageScaler(b *chain) error {
	if err := b.mul(b.n.AttrFloat("scale", 1)); err != nil {
		return err
	}
	bias := b.n.AttrFloats("bias", nil)
	if len(bias) == 0 {
		return nil
	}
	r := rankOf(b.n.Input(0))
	if r < 2 {
		return fmt.Errorf("a per-channel bias, and the input's rank is not known")
	}
	if b.dt != onnx.Float {
		return fmt.Errorf("a per-channel bias for element type %s", b.dt)
	}
	dims := []int64{int64(len(bias))}
	for range r - 2 {
		dims = append(dims, 1)
	}
	b.binary("Add", "bias", onnx.NewFloatTensor("", dims, bias))
	return nil
}

// crop: a Slice of axes 2 and 3 of an [N,C,H,W] input. The window's end
// counts from the image's end (a negative Slice end) unless scale gives
// its size.
func crop(b *chain) error {
	border, scale := b.n.AttrInts("border", nil), b.n.AttrInts("scale", nil)
	if len(border) < 4 {
		return fmt.Errorf("border needs 4 values (left, top, right, bottom), has %d", len(border))
	}
	left, top := border[0], border[1]
	end := func(size, from, borderEnd int64) int64 {
		if len(scale) >= 2 {
			return from + size
		}
		if borderEnd == 0 {
			return 1<<63 - 1
		}
		return -borderEnd
	}
	var hs, ws int64
	if len(scale) >= 2 {
		hs, ws = scale[0], scale[1]
	}
	starts, ends := []int64{top, left}, []int64{end(hs, top, border[3]), end(ws, left, border[2])}
	b.steps = append(b.steps, func(x *onnx.Value) *onnx.Value {
		c := func(what string, v []int64) *onnx.Value { return b.u.constant(b.n, what, ints(v)) }
		return newNode(b.n.Graph, b.n, "Slice", x, c("starts", starts), c("ends", ends), c("axes", []int64{2, 3})).Output(0)
	})
	return nil
}
