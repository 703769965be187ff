package interp

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// ONNX Runtime's contrib ops: the com.microsoft domain that its graph
// optimizer (level "extended" and above), its quantizer and its
// transformer tools write into models users ship, and the few ops it
// registers in the default domain below their standard opset. Each kernel
// follows ONNX Runtime's CPU kernel (docs/ContribOperators.md and
// onnxruntime/contrib_ops/cpu) and is checked against it node by node
// (checkORT in ort_node_test.go). The fused ops run the standard ops'
// kernels they fuse, so they share those kernels' speed and bits.

// msDomain is ONNX Runtime's contrib op domain.
const msDomain = "com.microsoft"

func init() {
	// needInputs: a malformed node may leave a required input out.
	Register(msDomain, "FusedConv", 1, needInputs(2, fusedConvBuilder))
	Register(msDomain, "FusedGemm", 1, needInputs(2, fusedGemmBuilder))
	Register(msDomain, "FusedMatMul", 1, needInputs(2, fusedMatMulBuilder))
	Register(msDomain, "Gelu", 1, needInputs(1, buildGelu)) // no approximate attribute: erf
	Register(msDomain, "FastGelu", 1, needInputs(1, rowBiasActivation(geluTanhVec)))
	Register(msDomain, "BiasGelu", 1, needInputs(2, rowBiasActivation(simd.Gelu)))
	Register(msDomain, "QuickGelu", 1, needInputs(1, quickGeluBuilder))
	Register(msDomain, "SkipLayerNormalization", 1, needInputs(3, skipNormBuilder(false)))
	Register(msDomain, "SkipSimplifiedLayerNormalization", 1, needInputs(3, skipNormBuilder(true)))
	// ONNX Runtime registers these two in the default domain from opset 1:
	// its optimizer writes them into models of any opset.
	Register("", "LayerNormalization", 1, layerNormBuilder)
	Register("", "SimplifiedLayerNormalization", 1, needInputs(2, simplifiedLayerNormBuilder))
}

// standardKernel builds the kernel of a standard op that computes part of
// a contrib node: a node of its own with nin inputs and the given
// attributes, outside any graph.
func standardKernel(b *Build, op string, opset int64, nin int, attrs ...*onnx.Attribute) (Kernel, error) {
	build, _, ok := Lookup("", op, opset)
	if !ok {
		return nil, fmt.Errorf("no kernel for %s at opset %d", op, opset)
	}
	g := &onnx.Graph{}
	ins := make([]*onnx.Value, nin)
	for i := range ins {
		ins[i] = g.AddInput(fmt.Sprint("x", i), nil)
	}
	n := g.NewNode(op, "", b.Node.Name, ins, "y")
	n.Attrs = attrs
	return build(&Build{Node: n, Opset: opset, c: b.c})
}

// FusedActivation is the standard op that the activation attribute of
// ONNX Runtime's fused ops names, with its parameters (activation_params
// order) as attributes of the op at opset (Clip's bounds are attributes
// at opset 6); op is "" for none. passes/unfuse writes the same op.
func FusedActivation(act string, params []float32) (op string, opset int64, attrs []*onnx.Attribute, err error) {
	param := func(i int, def float32) float32 {
		if i < len(params) {
			return params[i]
		}
		return def
	}
	switch act {
	case "":
		return "", 0, nil, nil
	case "Relu", "Sigmoid", "Tanh":
		return act, 13, nil, nil
	case "LeakyRelu":
		return act, 16, []*onnx.Attribute{onnx.FloatAttr("alpha", param(0, 0.01))}, nil
	case "HardSigmoid":
		return act, 6, []*onnx.Attribute{onnx.FloatAttr("alpha", param(0, 0.2)), onnx.FloatAttr("beta", param(1, 0.5))}, nil
	case "Clip":
		lo, hi := param(0, -math.MaxFloat32), param(1, math.MaxFloat32)
		return act, 6, []*onnx.Attribute{onnx.FloatAttr("min", lo), onnx.FloatAttr("max", hi)}, nil
	}
	return "", 0, nil, fmt.Errorf("activation %q is not one of Relu, Sigmoid, Tanh, LeakyRelu, HardSigmoid, Clip", act)
}

// activationKernel is the kernel of FusedActivation's op (nil: none).
func activationKernel(b *Build, act string, params []float32) (Kernel, error) {
	op, opset, attrs, err := FusedActivation(act, params)
	if op == "" || err != nil {
		return nil, err
	}
	return standardKernel(b, op, opset, 1, attrs...)
}

// then runs k, then act on k's first output (act nil: k alone).
func then(k, act Kernel) Kernel {
	if act == nil {
		return k
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		out, err := k(ctx, in)
		if err != nil {
			return nil, err
		}
		return act(ctx, out[:1])
	}
}

// fusedConvBuilder: Conv (its own attributes), plus the optional fourth
// input Z added, then the activation: act(conv(X, W) + B + Z). Relu and
// Clip without Z run in the convolution's epilogue, as Conv → Relu does.
func fusedConvBuilder(b *Build) (Kernel, error) {
	act := b.String("activation", "")
	params := b.Floats("activation_params", nil)
	conv, err := convKernel(b, nil)
	if err != nil {
		return nil, err
	}
	a, err := activationKernel(b, act, params)
	if err != nil {
		return nil, err
	}
	if !b.HasInput(3) {
		plain := then(conv, a)
		var epi *convEpilogue
		switch {
		case act == "Relu":
			epi = &convEpilogue{clip: true, hi: float32(math.Inf(1))}
		case act == "Clip" && len(params) == 2:
			epi = &convEpilogue{clip: true, lo: params[0], hi: params[1]}
		default:
			return plain, nil
		}
		fused, err := convKernel(b, epi)
		if err != nil {
			return nil, err
		}
		// The epilogue applies to float32 outputs only (convKernel drops
		// it for other types, whose fused steps run their own kernels).
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			if in[0].DType == onnx.Float {
				return fused(ctx, in)
			}
			return plain(ctx, in)
		}, nil
	}
	add, err := standardKernel(b, "Add", 14, 2)
	if err != nil {
		return nil, err
	}
	return then(func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		y, err := conv(ctx, in[:3])
		if err != nil {
			return nil, err
		}
		z := in[3]
		if z == nil || !slices.Equal(z.Shape, y[0].Shape) {
			return nil, fmt.Errorf("input Z must have the output's shape %v", y[0].Shape)
		}
		return add(ctx, []*Tensor{y[0], z})
	}, a), nil
}

// fusedGemmBuilder: Gemm (its own attributes), then the activation named
// by activation with activation_alpha, activation_beta.
func fusedGemmBuilder(b *Build) (Kernel, error) {
	build, _, _ := Lookup("", "Gemm", 13)
	gemm, err := build(b)
	if err != nil {
		return nil, err
	}
	act := b.String("activation", "")
	var params []float32
	if b.Has("activation_alpha") {
		params = append(params, b.Float("activation_alpha", 0))
		if b.Has("activation_beta") {
			params = append(params, b.Float("activation_beta", 0))
		}
	}
	a, err := activationKernel(b, act, params)
	if err != nil {
		return nil, err
	}
	return then(gemm, a), nil
}

// fusedMatMulBuilder: alpha·op(A)·op(B), where op transposes the last two
// axes (transA, transB) and, with transBatchA/B, first moves the leading
// axis behind the other batch axes (ONNX Runtime's MatMulTransposeFusion
// folds a Transpose of that form into the product).
func fusedMatMulBuilder(b *Build) (Kernel, error) {
	alpha := b.Float("alpha", 1)
	transA, transB := b.Int("transA", 0) != 0, b.Int("transB", 0) != 0
	batchA, batchB := b.Int("transBatchA", 0) != 0, b.Int("transBatchB", 0) != 0
	if !transA && !transB && !batchA && !batchB {
		build, _, _ := Lookup("", "MatMul", 13)
		mm, err := build(b)
		if err != nil || alpha == 1 {
			return mm, err
		}
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			out, err := mm(ctx, in)
			if err != nil {
				return nil, err
			}
			return scaled(ctx, out[0], alpha)
		}, nil
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		a, err := fusedOperand(ctx, in[0], transA, batchA)
		if err != nil {
			return nil, fmt.Errorf("input A: %w", err)
		}
		bt, err := fusedOperand(ctx, in[1], transB, batchB)
		if err != nil {
			return nil, fmt.Errorf("input B: %w", err)
		}
		out, err := matMul(ctx, a, bt, nil, nil)
		if err != nil {
			return nil, err
		}
		if alpha == 1 {
			return []*Tensor{out}, nil
		}
		return scaled(ctx, out, alpha)
	}, nil
}

// fusedOperand applies FusedMatMul's transposes to one operand.
func fusedOperand(ctx *Ctx, t *Tensor, trans, batch bool) (*Tensor, error) {
	perm := FusedMatMulPerm(t.Rank(), trans, batch)
	if perm == nil {
		return t, nil
	}
	if !isFloat(t.DType) {
		return nil, fmt.Errorf("type %s is not supported (want a float type)", t.DType)
	}
	return transposeAs(ctx, t, t.Shape, perm), nil
}

// FusedMatMulPerm is the permutation FusedMatMul applies to an operand of
// rank r (nil: none; exported for passes/unfuse, which writes it out): with batch, axes (0, 1, …, r−2, r−1) → (1, …, r−2,
// 0, r−1), so that the leading axis becomes the matrix's row axis; with
// trans, the last two swap afterwards. A 1-D operand is not transposed
// (as numpy's matmul).
func FusedMatMulPerm(r int, trans, batch bool) []int {
	if r < 2 || !trans && !(batch && r > 2) {
		return nil
	}
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	if batch && r > 2 {
		copy(perm, append(perm[1:r-1:r-1], 0, r-1))
	}
	if trans {
		perm[r-2], perm[r-1] = perm[r-1], perm[r-2]
	}
	return perm
}

// scaled returns alpha·t for a float tensor t.
func scaled(ctx *Ctx, t *Tensor, alpha float32) ([]*Tensor, error) {
	x, err := floatIn(t)
	if err != nil {
		return nil, err
	}
	y := newFloats(ctx, t.Shape...)
	simd.Scale(y, x, alpha)
	out, err := floatOut(t.DType, t.Shape, y)
	return []*Tensor{out}, err
}

// rowBiasActivation builds FastGelu and BiasGelu: f(X + bias), bias (the
// optional second input) one value per element of X's last axis.
func rowBiasActivation(f func(dst, x []float32)) Builder {
	return func(b *Build) (Kernel, error) {
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			x, err := floatIn(in[0])
			if err != nil {
				return nil, fmt.Errorf("input X: %w", err)
			}
			y := newFloats(ctx, in[0].Shape...)
			var bias *Tensor
			if len(in) > 1 {
				bias = in[1]
			}
			if err := addRowBias(y, x, in[0].Shape, bias); err != nil {
				return nil, err
			}
			f(y, y)
			out, err := floatOut(in[0].DType, in[0].Shape, y)
			return []*Tensor{out}, err
		}, nil
	}
}

// addRowBias sets y = x + bias, bias (nil: none, y = x) one value per
// element of the last axis of shape.
func addRowBias(y, x []float32, shape []int, bias *Tensor) error {
	if bias == nil {
		copy(y, x)
		return nil
	}
	bv, err := floatIn(bias)
	if err != nil {
		return fmt.Errorf("bias: %w", err)
	}
	if len(shape) == 0 || bias.Rank() != 1 || len(bv) != shape[len(shape)-1] {
		return fmt.Errorf("bias %v must be 1-D with the input's last dimension %v", bias.Shape, shape)
	}
	n := len(bv)
	for o := 0; o < len(x); o += n {
		simd.Add(y[o:o+n], x[o:o+n], bv)
	}
	return nil
}

// geluTanhVec is GELU's tanh form, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))),
// in float32 vectors a block at a time (dst may be x).
func geluTanhVec(dst, x []float32) {
	const c = 0.7978845608028654 // √(2/π)
	var buf [1024]float32
	for i := 0; i < len(x); i += len(buf) {
		n := min(len(buf), len(x)-i)
		xs, u := x[i:i+n], buf[:n]
		simd.Mul(u, xs, xs)
		simd.ScaleShift(u, u, 0.044715*c, c) // c·(1 + 0.044715·x²)
		simd.Mul(u, u, xs)
		simd.Tanh(u, u)
		simd.ScaleShift(u, u, 0.5, 0.5)
		simd.Mul(dst[i:i+n], xs, u)
	}
}

// quickGeluBuilder: x·sigmoid(alpha·x).
func quickGeluBuilder(b *Build) (Kernel, error) {
	alpha := b.Float("alpha", 1.702)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x, err := floatIn(in[0])
		if err != nil {
			return nil, fmt.Errorf("input X: %w", err)
		}
		y := newFloats(ctx, in[0].Shape...)
		var buf [1024]float32
		for i := 0; i < len(x); i += len(buf) {
			n := min(len(buf), len(x)-i)
			g := buf[:n]
			simd.Scale(g, x[i:i+n], alpha)
			simd.Sigmoid(g, g)
			simd.Mul(y[i:i+n], x[i:i+n], g)
		}
		out, err := floatOut(in[0].DType, in[0].Shape, y)
		return []*Tensor{out}, err
	}, nil
}

// skipNormBuilder: SkipLayerNormalization (input, skip, gamma, beta, bias)
// and its RMS form SkipSimplifiedLayerNormalization (input, skip, gamma,
// bias): s = input + skip + bias, normalized over the last axis, scaled by
// gamma and shifted by beta. Outputs: the result, the mean and 1/σ of each
// row (shape (…, 1)), and s. skip may lack input's leading axes (one
// residual for every batch entry), as ONNX Runtime's kernel allows.
func skipNormBuilder(rms bool) Builder {
	return func(b *Build) (Kernel, error) {
		eps := float64(b.Float("epsilon", 1e-12))
		betaAt, biasAt := 3, 4
		if rms {
			betaAt, biasAt = -1, 3
		}
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			if len(in) < 3 || in[1] == nil || in[2] == nil {
				return nil, fmt.Errorf("inputs input, skip and gamma are required")
			}
			t := in[0]
			if t.Rank() < 2 {
				return nil, fmt.Errorf("input %v must have rank 2 or 3", t.Shape)
			}
			x, err := floatIn(t)
			if err != nil {
				return nil, fmt.Errorf("input: %w", err)
			}
			hidden := t.Shape[t.Rank()-1]
			rows := len(x) / max(hidden, 1)
			skip, err := floatIn(in[1])
			if err != nil || len(skip) == 0 || len(x)%len(skip) != 0 || in[1].Rank() == 0 || in[1].Shape[in[1].Rank()-1] != hidden {
				return nil, fmt.Errorf("skip %v does not fit input %v", in[1].Shape, t.Shape)
			}
			params := make([][]float32, 3) // gamma, beta, bias
			for j, at := range []int{2, betaAt, biasAt} {
				if at < 0 || optIn(in, at) == nil {
					continue
				}
				p := in[at]
				if params[j], err = floatIn(p); err != nil || len(params[j]) != hidden {
					return nil, fmt.Errorf("input %d %v must hold the hidden size %d", at, p.Shape, hidden)
				}
			}
			sum := newFloats(ctx, t.Shape...)
			for o := 0; o < len(x); o += len(skip) {
				simd.Add(sum[o:o+len(skip)], x[o:o+len(skip)], skip)
			}
			if params[2] != nil {
				for o := 0; o < len(x); o += hidden {
					simd.Add(sum[o:o+hidden], sum[o:o+hidden], params[2])
				}
			}
			y := newFloats(ctx, t.Shape...)
			var means, inv []float32
			if rms {
				inv = rmsRows(sum, y, rows, hidden, eps, params[0])
			} else {
				means, inv = normalizeRows(sum, y, rows, hidden, eps, params[0], params[1])
			}
			statShape := append(append([]int{}, t.Shape[:t.Rank()-1]...), 1)
			outs := make([]*Tensor, 4)
			if outs[0], err = floatOut(t.DType, t.Shape, y); err != nil {
				return nil, err
			}
			// ONNX Runtime writes the statistics as float32.
			if means != nil {
				outs[1] = FromSlice(onnx.Float, statShape, means)
			}
			outs[2] = FromSlice(onnx.Float, statShape, inv)
			outs[3], err = floatOut(t.DType, t.Shape, sum)
			return outs, err
		}, nil
	}
}

// simplifiedLayerNormBuilder: ONNX Runtime's RMS normalization (X, scale)
// over the axes from axis on; outputs Y and 1/rms per row.
func simplifiedLayerNormBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", -1)
	eps := float64(b.Float("epsilon", 1e-5))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		t := in[0]
		ax, err := normAxis(axis, t.Rank())
		if err != nil {
			return nil, err
		}
		x, err := floatIn(t)
		if err != nil {
			return nil, fmt.Errorf("input X: %w", err)
		}
		outer, inner := prod(t.Shape[:ax]), prod(t.Shape[ax:])
		if len(in) < 2 || in[1] == nil {
			return nil, fmt.Errorf("input scale is required")
		}
		scale, err := floatIn(in[1])
		if err != nil || len(scale) != inner {
			return nil, fmt.Errorf("scale %v must hold the %d normalized elements", in[1].Shape, inner)
		}
		y := newFloats(ctx, t.Shape...)
		inv := rmsRows(x, y, outer, inner, eps, scale)
		out, err := floatOut(t.DType, t.Shape, y)
		if err != nil {
			return nil, err
		}
		statShape := append([]int{}, t.Shape...)
		for i := ax; i < len(statShape); i++ {
			statShape[i] = 1
		}
		return []*Tensor{out, FromSlice(onnx.Float, statShape, inv)}, nil
	}, nil
}
