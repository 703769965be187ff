package interp

import (
	"fmt"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// Helpers shared by the neural-network kernels (conv, pool, norm, reduce...).

// isFloat reports whether dt is computed through float32 by the NN kernels.
func isFloat(dt onnx.DataType) bool {
	switch dt {
	case onnx.Float, onnx.Double, onnx.Float16, onnx.BFloat16:
		return true
	}
	return false
}

// floatIn returns a float tensor's elements as float32 (no copy for float32);
// callers must not modify the result.
func floatIn(t *Tensor) ([]float32, error) {
	if err := floatInput(t); err != nil {
		return nil, err
	}
	return AsFloat32(t)
}

// floatInput checks that t is there and of a float type.
func floatInput(t *Tensor) error {
	if t == nil {
		return fmt.Errorf("missing input")
	}
	if !isFloat(t.DType) {
		return fmt.Errorf("type %s is not supported (want a float type)", t.DType)
	}
	return nil
}

// floatOut wraps float32 results as a tensor of float type dt.
func floatOut(dt onnx.DataType, shape []int, v []float32) (*Tensor, error) {
	return FromFloat32(dt, shape, v)
}

// float32Of returns t's values as float32: t's own slice for float32, else
// a converted copy in a buffer of this step (float16 through F16C).
func (c *Ctx) float32Of(t *Tensor) ([]float32, error) {
	if x, ok := t.Data.([]float32); ok {
		return x, nil
	}
	if h, ok := t.Data.([]uint16); ok && t.DType == onnx.Float16 {
		x := c.scratch(len(h))
		simd.FromFloat16s(x, h)
		return x, nil
	}
	return AsFloat32(t)
}

// roundFloat32 rounds float32 results r to the float type dt in a tensor
// of this run (r itself for float32).
func (c *Ctx) roundFloat32(dt onnx.DataType, r *Tensor) *Tensor {
	if dt == onnx.Float {
		return r
	}
	out := c.newRaw(dt, r.Shape...)
	storeFloat32(dt, out.Data, r.Floats())
	return out
}

// halfBlocks computes an elementwise float16 result in float32 blocks, as
// ONNX Runtime's CPU kernels do, and rounds it back: f maps a block of
// float32 values in place. The blocks stay in L1.
func (c *Ctx) halfBlocks(t *Tensor, f func(x []float32)) *Tensor {
	src := t.Data.([]uint16)
	out := c.reuseInput(t)
	dst := out.Data.([]uint16)
	buf := c.scratch(min(len(src), 4096))
	for i := 0; i < len(src); i += len(buf) {
		n := min(len(buf), len(src)-i)
		simd.FromFloat16s(buf[:n], src[i:i+n])
		f(buf[:n])
		simd.Float16s(dst[i:i+n], buf[:n])
	}
	return out
}

// newFloats allocates a float32 buffer through the memory-limit check.
func newFloats(ctx *Ctx, shape ...int) []float32 {
	return ctx.New(onnx.Float, shape...).Floats()
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis int64, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(rank) {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", axis, rank)
	}
	return int(a), nil
}

// intsOf reads an integer tensor (int64 or int32) as []int64.
func intsOf(t *Tensor) ([]int64, error) {
	switch d := t.Data.(type) {
	case []int64:
		return d, nil
	case []int32:
		out := make([]int64, len(d))
		for i, v := range d {
			out[i] = int64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected an integer tensor, got %s", t.DType)
}

// prod multiplies dims[i:j].
func prod(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// spatialGeom is the geometry of a sliding-window op (conv or pool) over the
// spatial dimensions: kernel, strides, dilations, begin/end pads, output size.
type spatialGeom struct {
	in, kernel, strides, dilations, padB, padE, out []int
}

// as2D is a 1-D window's geometry as a 2-D one of one row (audio and text
// models' convolutions and pooling over time), so that it takes the 2-D
// kernels, packed filters and summation order; others are returned as is.
func as2D(g *spatialGeom) *spatialGeom {
	if len(g.in) != 1 {
		return g
	}
	one := func(v []int, d int) []int { return []int{d, v[0]} }
	return &spatialGeom{in: one(g.in, 1), kernel: one(g.kernel, 1), strides: one(g.strides, 1),
		dilations: one(g.dilations, 1), padB: one(g.padB, 0), padE: one(g.padE, 0), out: one(g.out, 1)}
}

// windowAttrs holds the attributes that define a sliding window.
type windowAttrs struct {
	autoPad                          string
	kernel, strides, dilations, pads []int64
	ceil                             bool
}

func readWindowAttrs(b *Build) windowAttrs {
	return windowAttrs{
		autoPad:   b.String("auto_pad", "NOTSET"),
		kernel:    b.Ints("kernel_shape", nil),
		strides:   b.Ints("strides", nil),
		dilations: b.Ints("dilations", nil),
		pads:      b.Ints("pads", nil),
		ceil:      b.Int("ceil_mode", 0) != 0,
	}
}

// geometry resolves the window over the spatial input dims in; kernel is used
// when the attribute is absent (conv takes it from the weights).
func (w windowAttrs) geometry(in []int, kernel []int) (*spatialGeom, error) {
	n := len(in)
	// One backing array: a model's convolutions resolve their geometry on
	// every run, and per-run garbage costs page faults (see simd's wsPool).
	b := make([]int, 6*n)
	part := func(i int) []int { return b[i*n : (i+1)*n : (i+1)*n] }
	g := &spatialGeom{in: in, kernel: part(0), strides: part(1), dilations: part(2),
		padB: part(3), padE: part(4), out: part(5)}
	if w.kernel != nil {
		if len(w.kernel) != n {
			return nil, fmt.Errorf("kernel_shape %v does not match %d spatial dims", w.kernel, n)
		}
		for i, k := range w.kernel {
			g.kernel[i] = int(k)
		}
	} else if kernel != nil {
		copy(g.kernel, kernel)
	} else {
		return nil, fmt.Errorf("kernel_shape is required")
	}
	for i := range n {
		g.strides[i], g.dilations[i] = 1, 1
		if g.kernel[i] <= 0 {
			return nil, fmt.Errorf("bad kernel_shape %v", g.kernel)
		}
	}
	for _, p := range []struct {
		v   []int64
		dst []int
		nm  string
	}{{w.strides, g.strides, "strides"}, {w.dilations, g.dilations, "dilations"}} {
		if p.v == nil {
			continue
		}
		if len(p.v) != n {
			return nil, fmt.Errorf("%s %v does not match %d spatial dims", p.nm, p.v, n)
		}
		for i, v := range p.v {
			if v <= 0 {
				return nil, fmt.Errorf("%s must be positive, got %v", p.nm, p.v)
			}
			p.dst[i] = int(v)
		}
	}
	switch w.autoPad {
	case "NOTSET", "":
		if w.pads != nil {
			if len(w.pads) != 2*n {
				return nil, fmt.Errorf("pads %v does not match %d spatial dims", w.pads, n)
			}
			for i := range n {
				g.padB[i], g.padE[i] = int(w.pads[i]), int(w.pads[i+n])
				if g.padB[i] < 0 || g.padE[i] < 0 {
					return nil, fmt.Errorf("negative pads %v", w.pads)
				}
			}
		}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		for i := range n {
			out := (in[i] + g.strides[i] - 1) / g.strides[i]
			ext := (g.kernel[i]-1)*g.dilations[i] + 1
			total := max(0, (out-1)*g.strides[i]+ext-in[i])
			if w.autoPad == "SAME_UPPER" {
				g.padB[i] = total / 2
			} else {
				g.padB[i] = total - total/2
			}
			g.padE[i] = total - g.padB[i]
		}
	default:
		return nil, fmt.Errorf("unknown auto_pad %q", w.autoPad)
	}
	for i := range n {
		ext := (g.kernel[i]-1)*g.dilations[i] + 1
		span := in[i] + g.padB[i] + g.padE[i] - ext
		if span < 0 {
			return nil, fmt.Errorf("kernel %v with dilations %v does not fit the padded input %v", g.kernel, g.dilations, in)
		}
		if w.ceil {
			o := (span+g.strides[i]-1)/g.strides[i] + 1
			// The last window must start inside the input or left padding.
			if (o-1)*g.strides[i] >= in[i]+g.padB[i] {
				o--
			}
			g.out[i] = o
		} else {
			g.out[i] = span/g.strides[i] + 1
		}
		if (w.autoPad == "SAME_UPPER" || w.autoPad == "SAME_LOWER") && !w.ceil {
			g.out[i] = (in[i] + g.strides[i] - 1) / g.strides[i]
		}
	}
	return g, nil
}
