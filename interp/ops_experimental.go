package interp

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// The experimental ops of ai.onnx opsets 1–9, removed at opset 10. Caffe2
// and early converters wrote them (ImageScaler heads Tiny YOLOv2 and other
// model-zoo files); ONNX Runtime still runs them as ONNX Runtime defines
// them, which these kernels follow, defaults included.

// experimental wraps a builder so that it refuses a model at opset 10 or
// later, where the op no longer exists.
func experimental(op string, b Builder) Builder {
	return func(bld *Build) (Kernel, error) {
		if bld.Opset >= 10 {
			return nil, fmt.Errorf("%s was removed from ai.onnx at opset 10 (this model imports opset %d)", op, bld.Opset)
		}
		return b(bld)
	}
}

func init() {
	unary := func(op string, mk func(b *Build) func(float64) float64) {
		Register("", op, 1, experimental(op, ewActivation(func(b *Build) ewUnary { return ewUnary{f: mk(b)} })))
	}
	unary("Scale", func(b *Build) func(float64) float64 {
		s := float64(b.Float("scale", 1))
		return func(x float64) float64 { return s * x }
	})
	unary("Affine", func(b *Build) func(float64) float64 {
		alpha, beta := float64(b.Float("alpha", 1)), float64(b.Float("beta", 0))
		return func(x float64) float64 { return alpha*x + beta }
	})
	unary("ScaledTanh", func(b *Build) func(float64) float64 {
		alpha, beta := float64(b.Float("alpha", 1)), float64(b.Float("beta", 1))
		return func(x float64) float64 { return alpha * math.Tanh(beta*x) }
	})
	unary("ParametricSoftplus", func(b *Build) func(float64) float64 {
		alpha, beta := float64(b.Float("alpha", 1)), float64(b.Float("beta", 1))
		return func(x float64) float64 { return alpha * ewSoftplus(beta*x) }
	})
	Register("", "ImageScaler", 1, experimental("ImageScaler", imageScalerBuilder))
	Register("", "Crop", 1, experimental("Crop", cropBuilder))
	// DynamicSlice is Slice with its starts, ends and axes as inputs, as
	// Slice took them from opset 10.
	Register("", "DynamicSlice", 1, experimental("DynamicSlice", func(b *Build) (Kernel, error) {
		b10 := *b
		b10.Opset = 10
		return sliceBuilder(&b10)
	}))

	regShapes(shapeSameAsInput, "Scale", "Affine", "ScaledTanh", "ParametricSoftplus", "ImageScaler")
	regShapes(shapeSlice, "DynamicSlice")
	regShapes(shapeCrop, "Crop")
}

// imageScalerBuilder: y[n,c,…] = scale·x[n,c,…] + bias[c].
func imageScalerBuilder(b *Build) (Kernel, error) {
	scale := b.Float("scale", 1)
	bias := b.Floats("bias", nil)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		if x.Rank() < 2 {
			return nil, fmt.Errorf("ImageScaler: input %v has no channel axis", x.Shape)
		}
		c := x.Shape[1]
		if len(bias) != 0 && len(bias) != c {
			return nil, fmt.Errorf("ImageScaler: %d biases for %d channels", len(bias), c)
		}
		xs, err := AsFloat32(x)
		if err != nil {
			return nil, fmt.Errorf("ImageScaler: %w", err)
		}
		inner := 1
		for _, d := range x.Shape[2:] {
			inner *= d
		}
		out := make([]float32, len(xs))
		for i := range out {
			v := scale * xs[i]
			if len(bias) != 0 {
				v += bias[(i/inner)%c]
			}
			out[i] = v
		}
		y, err := FromFloat32(x.DType, x.Shape, out)
		return []*Tensor{y}, err
	}, nil
}

// cropWindow is the part of an [N,C,H,W] input that Crop keeps: rows
// top…bottom-1 and columns left…right-1. border is (left, top, right,
// bottom); scale, when given, is the kept (height, width) from the top-left
// border.
func cropWindow(border, scale []int64, h, w int64) (top, bottom, left, right int64, err error) {
	if len(border) < 4 {
		return 0, 0, 0, 0, fmt.Errorf("Crop: border needs 4 values (left, top, right, bottom), has %d", len(border))
	}
	left, top = border[0], border[1]
	right, bottom = w-border[2], h-border[3]
	if len(scale) >= 2 {
		bottom, right = top+scale[0], left+scale[1]
	}
	if top < 0 || left < 0 || bottom > h || right > w || top > bottom || left > right {
		return 0, 0, 0, 0, fmt.Errorf("Crop: border %v (scale %v) does not fit a %d×%d image", border, scale, h, w)
	}
	return top, bottom, left, right, nil
}

func cropBuilder(b *Build) (Kernel, error) {
	border, scale := b.Ints("border", nil), b.Ints("scale", nil)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		if x.Rank() != 4 {
			return nil, fmt.Errorf("Crop: input %v is not [N,C,H,W]", x.Shape)
		}
		top, bottom, left, right, err := cropWindow(border, scale, int64(x.Shape[2]), int64(x.Shape[3]))
		if err != nil {
			return nil, err
		}
		out, err := sliceTensor(ctx, x, []int64{top, left}, []int64{bottom, right}, []int64{2, 3}, nil)
		return []*Tensor{out}, err
	}, nil
}

func shapeCrop(c *ShapeCtx) error {
	s, ok := c.Shape(0)
	if !ok || len(s) != 4 {
		c.Set(0, c.Elem(0), nil)
		return nil
	}
	out := append(onnx.Shape{}, s...)
	h, w := s[2], s[3]
	if h.IsStatic() && w.IsStatic() {
		top, bottom, left, right, err := cropWindow(c.Node.AttrInts("border", nil), c.Node.AttrInts("scale", nil), h.Value, w.Value)
		if err != nil {
			return c.Errorf("%v", err)
		}
		out[2], out[3] = onnx.D(bottom-top), onnx.D(right-left)
	} else {
		out[2], out[3] = onnx.Dim{}, onnx.Dim{}
	}
	c.Set(0, c.Elem(0), out)
	return nil
}
