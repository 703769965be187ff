package interp

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// Quantization ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
// QLinearMatMul, QLinearConv and ConvInteger.

// quantRange is the saturation range of an integer quantized type.
func quantRange(dt onnx.DataType) (lo, hi float64, ok bool) {
	switch dt {
	case onnx.Int8:
		return -128, 127, true
	case onnx.Uint8:
		return 0, 255, true
	case onnx.Int16:
		return -32768, 32767, true
	case onnx.Uint16:
		return 0, 65535, true
	case onnx.Int32:
		return math.MinInt32, math.MaxInt32, true
	case onnx.Int4:
		return -8, 7, true
	case onnx.Uint4:
		return 0, 15, true
	case onnx.Int2:
		return -2, 1, true
	case onnx.Uint2:
		return 0, 3, true
	}
	return 0, 0, false
}

// paramIndex maps an element of a tensor of shape xs to the element of a
// scale/zero-point tensor of shape ss: per-tensor, per-axis or blocked.
func paramIndex(xs, ss []int, axis int64, block int64) (func(i int) int, error) {
	n := numElements(ss)
	if n == 1 {
		return func(int) int { return 0 }, nil
	}
	a, err := normAxis(axis, len(xs))
	if err != nil {
		return nil, err
	}
	dim, inner := xs[a], numElements(xs[a+1:])
	if block <= 0 {
		if len(ss) != 1 || ss[0] != dim {
			return nil, fmt.Errorf("scale shape %v does not fit axis %d of %v", ss, a, xs)
		}
		return func(i int) int { return (i / inner) % dim }, nil
	}
	if len(ss) != len(xs) {
		return nil, fmt.Errorf("blocked scale shape %v does not match the rank of %v", ss, xs)
	}
	for i := range xs {
		if i != a && ss[i] != xs[i] {
			return nil, fmt.Errorf("blocked scale shape %v does not fit %v on axis %d", ss, xs, a)
		}
	}
	sdim := ss[a]
	if int64(sdim) != (int64(dim)+block-1)/block {
		return nil, fmt.Errorf("blocked scale shape %v does not fit %v with block size %d", ss, xs, block)
	}
	return func(i int) int {
		o, c, in := i/(dim*inner), (i/inner)%dim, i%inner
		return (o*sdim+c/int(block))*inner + in
	}, nil
}

// roundAs rounds a float32 to the precision of a float type (for
// computations ONNX does in float16 or bfloat16).
func roundAs(dt onnx.DataType, v float32) float32 {
	switch dt {
	case onnx.Float16:
		return Float16ToFloat32(Float32ToFloat16(v))
	case onnx.BFloat16:
		return BFloat16ToFloat32(Float32ToBFloat16(v))
	}
	return v
}

func dequantizeBuilder(b *Build) (Kernel, error) {
	axis, block := b.Int("axis", 1), b.Int("block_size", 0)
	outType := onnx.DataType(b.Int("output_dtype", 0))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x, scale := in[0], in[1]
		var zp *Tensor
		if len(in) > 2 {
			zp = in[2]
		}
		if out, ok, err := dequantizeFast(ctx, x, scale, zp, axis, block, outType); ok || err != nil {
			return []*Tensor{out}, err
		}
		if out, ok := dequantizeBlocked(ctx, x, scale, zp, axis, block, outType); ok {
			return []*Tensor{out}, nil
		}
		if zp != nil && zp.DType != x.DType {
			return nil, fmt.Errorf("zero point %s does not match input %s", zp, x)
		}
		xv, sv, zv, pi, err := quantOperands(x, scale, zp, axis, block)
		if err != nil {
			return nil, err
		}
		dt := outType
		if dt == onnx.Undefined {
			dt = scale.DType
		}
		y := make([]float64, len(xv))
		for i, v := range xv {
			p := pi(i)
			y[i] = float64((float32(v) - float32(zv[p])) * float32(sv[p]))
		}
		out, err := tensorFromFloat64s(ctx, dt, x.Shape, y)
		return []*Tensor{out}, err
	}, nil
}

// quantOperands reads the general path's operands as float64: data, scales,
// zero points (zeros when absent) and the map from an element to its
// scale and zero point.
func quantOperands(x, scale, zp *Tensor, axis, block int64) (xv, sv, zv []float64, pi func(int) int, err error) {
	if xv, err = numbersAsFloat64(x); err != nil {
		return
	}
	if sv, err = numbersAsFloat64(scale); err != nil {
		return
	}
	zv = make([]float64, len(sv))
	if zp != nil {
		if zv, err = numbersAsFloat64(zp); err != nil {
			return
		}
		if len(zv) != len(sv) {
			err = fmt.Errorf("zero point %s and scale %s differ in shape", zp, scale)
			return
		}
	}
	pi, err = paramIndex(x.Shape, scale.Shape, axis, block)
	return
}

// quantizeValue rounds v (already divided by the scale) half to even, adds
// the zero point and saturates to dt; float8 types are cast instead.
func quantizeValue(dt onnx.DataType, v, zp float64) float64 {
	if IsFloat8(dt) {
		return float64(v + zp)
	}
	lo, hi, _ := quantRange(dt)
	r := math.RoundToEven(v) + zp
	return min(max(r, lo), hi)
}

// storeQuantized writes quantized values to a new tensor of type dt.
func storeQuantized(ctx *Ctx, dt onnx.DataType, shape []int, q []float64, saturate bool) (*Tensor, error) {
	if IsFloat8(dt) {
		out := ctx.New(dt, shape...)
		d := out.Data.([]uint8)
		for i, v := range q {
			d[i] = Float64ToFloat8(dt, float64(float32(v)), saturate)
		}
		return out, nil
	}
	return tensorFromFloat64s(ctx, dt, shape, q)
}

func quantizeBuilder(b *Build) (Kernel, error) {
	axis, block := b.Int("axis", 1), b.Int("block_size", 0)
	outType := onnx.DataType(b.Int("output_dtype", 0))
	saturate := b.Int("saturate", 1) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x, scale := in[0], in[1]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		var zp *Tensor
		if len(in) > 2 {
			zp = in[2]
		}
		dt := onnx.Uint8
		switch {
		case zp != nil:
			dt = zp.DType
			if outType != onnx.Undefined && outType != dt {
				return nil, fmt.Errorf("output_dtype %s differs from the zero point's type %s", outType, dt)
			}
		case outType != onnx.Undefined:
			dt = outType
		}
		if _, _, ok := quantRange(dt); !ok && !IsFloat8(dt) {
			return nil, fmt.Errorf("cannot quantize to %s", dt)
		}
		if out, ok, err := quantizeFast(ctx, x, scale, zp, dt, axis, block); ok || err != nil {
			return []*Tensor{out}, err
		}
		xv, sv, zv, pi, err := quantOperands(x, scale, zp, axis, block)
		if err != nil {
			return nil, err
		}
		q := make([]float64, len(xv))
		for i, v := range xv {
			p := pi(i)
			// The division happens in the scale's precision (float32 or narrower).
			d := roundAs(scale.DType, float32(v)/float32(sv[p]))
			q[i] = quantizeValue(dt, float64(d), zv[p])
		}
		out, err := storeQuantized(ctx, dt, x.Shape, q, saturate)
		return []*Tensor{out}, err
	}, nil
}

// The common cases of QuantizeLinear and DequantizeLinear — float32 data
// and scales, 8-bit (or, dequantizing, int32) integers, per-tensor or
// per-axis parameters — run through the simd kernels, run by run, without
// the general path's float64 buffers and per-element index function, with
// the same results (TestQuantizeFast).

// axisParams returns the number of parameters along the quantization axis
// (1: per tensor) and the run of consecutive elements sharing one, or ok
// false when the parameters are neither (blocked, or mis-shaped: the
// general path reports it).
func axisParams(xs, ss []int, axis, block int64) (dim, inner int, ok bool) {
	if numElements(ss) == 1 {
		return 1, max(1, numElements(xs)), true
	}
	a, err := normAxis(axis, len(xs))
	if err != nil || block > 0 || len(ss) != 1 || ss[0] != xs[a] {
		return 0, 0, false
	}
	return xs[a], max(1, numElements(xs[a+1:])), true
}

// eachParam calls f for each run x[i0:i1] sharing parameter p.
func eachParam(n, dim, inner int, f func(i0, i1, p int)) {
	for i, p := 0, 0; i < n; i, p = i+inner, p+1 {
		if p == dim {
			p = 0
		}
		f(i, min(n, i+inner), p)
	}
}

func quantizeFast(ctx *Ctx, x, scale, zp *Tensor, dt onnx.DataType, axis, block int64) (*Tensor, bool, error) {
	if x.DType != onnx.Float || scale.DType != onnx.Float || (dt != onnx.Uint8 && dt != onnx.Int8) || (zp != nil && zp.Len() != scale.Len()) {
		return nil, false, nil
	}
	dim, inner, ok := axisParams(x.Shape, scale.Shape, axis, block)
	if !ok {
		return nil, false, nil
	}
	out := ctx.newRaw(dt, x.Shape...)
	xv, sv := x.Floats(), scale.Floats()
	switch d := out.Data.(type) {
	case []uint8:
		z := zeroPoints[uint8](zp)
		eachParam(len(xv), dim, inner, func(i0, i1, p int) {
			simd.QuantizeU8(d[i0:i1], xv[i0:i1], sv[p], zeroAt(z, p))
		})
	case []int8:
		z := zeroPoints[int8](zp)
		eachParam(len(xv), dim, inner, func(i0, i1, p int) {
			simd.QuantizeI8(d[i0:i1], xv[i0:i1], sv[p], zeroAt(z, p))
		})
	}
	return out, true, nil
}

// zeroAt is zero point p as a float32, 0 without zero points.
func zeroAt[T int8 | uint8 | int32](zp []T, p int) float32 {
	if zp == nil {
		return 0
	}
	return float32(zp[p])
}

func dequantizeFast(ctx *Ctx, x, scale, zp *Tensor, axis, block int64, outType onnx.DataType) (*Tensor, bool, error) {
	if scale.DType != onnx.Float || (outType != onnx.Undefined && outType != onnx.Float) || (zp != nil && (zp.DType != x.DType || zp.Len() != scale.Len())) {
		return nil, false, nil
	}
	dim, inner, ok := axisParams(x.Shape, scale.Shape, axis, block)
	if !ok {
		return nil, false, nil
	}
	if inner == 1 && dim > 1 && x.Len() > dim {
		// Per channel along the last axis (MatMul weights): rows with a
		// scale per element, which is one block of all the rows.
		rows := x.Len() / dim
		as2D := func(t *Tensor, r int) *Tensor {
			if t == nil {
				return nil
			}
			return t.Reshaped([]int{r, dim})
		}
		if out, ok := dequantizeBlocked(ctx, as2D(x, rows), as2D(scale, 1), as2D(zp, 1), 0, int64(rows), outType); ok {
			return out.Reshaped(x.Shape), true, nil
		}
	}
	var out *Tensor
	switch xv := x.Data.(type) {
	case []uint8:
		if IsFloat8(x.DType) {
			return nil, false, nil
		}
		out = ctx.newRaw(onnx.Float, x.Shape...)
		y, s, z := out.Floats(), scale.Floats(), zeroPoints[uint8](zp)
		eachParam(len(xv), dim, inner, func(i0, i1, p int) {
			simd.DequantizeU8(y[i0:i1], xv[i0:i1], zeroAt(z, p), s[p])
		})
	case []int8:
		out = ctx.newRaw(onnx.Float, x.Shape...)
		y, s, z := out.Floats(), scale.Floats(), zeroPoints[int8](zp)
		eachParam(len(xv), dim, inner, func(i0, i1, p int) {
			simd.DequantizeI8(y[i0:i1], xv[i0:i1], zeroAt(z, p), s[p])
		})
	case []int32:
		out = ctx.newRaw(onnx.Float, x.Shape...)
		dequantizeRuns(out.Floats(), xv, scale.Floats(), zeroPoints[int32](zp), dim, inner)
	default:
		return nil, false, nil
	}
	return out, true, nil
}

// dequantizeBlocked is dequantizeFast for blocked quantization (int4
// weights, opset 21) of 8-bit or 4-bit data with float32 scales: the
// general path's (x − z)·s in float32, the same bits. Along the last axis
// a run of block elements shares a scale; along another, each row of the
// inner dimensions has its own row of scales (and zero points).
func dequantizeBlocked(ctx *Ctx, x, scale, zp *Tensor, axis, block int64, outType onnx.DataType) (*Tensor, bool) {
	xs, ss := x.Shape, scale.Shape
	a, err := normAxis(axis, len(xs))
	if err != nil || block <= 0 || scale.DType != onnx.Float || (outType != onnx.Undefined && outType != onnx.Float) ||
		len(ss) != len(xs) || zp != nil && (zp.DType != x.DType || !slices.Equal(zp.Shape, ss)) || IsFloat8(x.DType) {
		return nil, false
	}
	bs := int(block)
	for i := range xs {
		if i != a && ss[i] != xs[i] || i == a && ss[i] != (xs[i]+bs-1)/bs {
			return nil, false
		}
	}
	// deq sets y = (x[i0:i1] − z)·s; zeros widens zero points i0:i1 to y.
	var deq func(y []float32, i0, i1 int, z, s float32)
	var zeros func(y []float32, i0, i1 int)
	switch xv := x.Data.(type) {
	case []int8:
		deq = func(y []float32, i0, i1 int, z, s float32) { simd.DequantizeI8(y, xv[i0:i1], z, s) }
		if zp != nil {
			zv := zp.Data.([]int8)
			zeros = func(y []float32, i0, i1 int) { simd.DequantizeI8(y, zv[i0:i1], 0, 1) }
		}
	case []uint8:
		deq = func(y []float32, i0, i1 int, z, s float32) { simd.DequantizeU8(y, xv[i0:i1], z, s) }
		if zp != nil {
			zv := zp.Data.([]uint8)
			zeros = func(y []float32, i0, i1 int) { simd.DequantizeU8(y, zv[i0:i1], 0, 1) }
		}
	default:
		return nil, false
	}
	out := ctx.newRaw(onnx.Float, xs...)
	y, s := out.Floats(), scale.Floats()
	outer, d, inner, nb := numElements(xs[:a]), xs[a], numElements(xs[a+1:]), ss[a]
	if inner == 1 {
		var z []float32
		if zeros != nil {
			z = make([]float32, 1)
		}
		for o := range outer {
			for b := range nb {
				i0, i1, p := o*d+b*bs, o*d+min(d, (b+1)*bs), o*nb+b
				zb := float32(0)
				if zeros != nil {
					zeros(z[:1], p, p+1)
					zb = z[0]
				}
				deq(y[i0:i1], i0, i1, zb, s[p])
			}
		}
		return out, true
	}
	// Rows along the axis, on every thread for a large weight (each row's
	// values are the same whichever thread computes them).
	threads := ctx.Threads()
	if len(y) < parallelMin {
		threads = 1
	}
	simd.ParallelRuns(outer*d, threads, func(r0, r1 int) {
		var z []float32
		if zeros != nil {
			z = make([]float32, inner)
		}
		for row := r0; row < r1; row++ {
			o, i := row/d, row%d
			r, p := row*inner, (o*nb+i/bs)*inner
			yr := y[r : r+inner]
			deq(yr, r, r+inner, 0, 1) // exact: small integers
			if zeros != nil {
				zeros(z, p, p+inner)
				simd.Sub(yr, yr, z)
			}
			simd.Mul(yr, yr, s[p:p+inner])
		}
	})
	return out, true
}

// parallelMin is the element count from which the per-run decoding of a
// weight (unpacking, blocked dequantization) runs on every thread: a large
// model's weights, decoded in each of its verification's runs.
const parallelMin = 1 << 20

func zeroPoints[T int8 | uint8 | int32](zp *Tensor) []T {
	if zp == nil {
		return nil
	}
	return zp.Data.([]T)
}

// dequantizeRuns is y = (x - zp)·s per run in float32, as the general path
// (int32 biases; 8-bit data goes through the simd kernels).
func dequantizeRuns(y []float32, x []int32, s []float32, zp []int32, dim, inner int) {
	eachParam(len(x), dim, inner, func(i0, i1, p int) {
		sc, z := s[p], zeroAt(zp, p)
		for i, v := range x[i0:i1] {
			y[i0+i] = (float32(v) - z) * sc
		}
	})
}

func dynamicQuantizeLinear(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	x, err := AsFloat32(in[0])
	if err != nil || in[0].DType != onnx.Float {
		return nil, fmt.Errorf("DynamicQuantizeLinear needs a float input, got %s", in[0])
	}
	// The range always holds 0 (so that zero padding stays exact).
	lo, hi := simd.MinMax(x)
	lo, hi = min(lo, 0), max(hi, 0)
	scale := (hi - lo) / 255
	zp := float32(0)
	if scale != 0 {
		zp = float32(min(max(math.RoundToEven(float64(-lo/scale)), 0), 255))
	}
	var y *Tensor
	if scale == 0 {
		y = ctx.New(onnx.Uint8, in[0].Shape...)
	} else {
		y = ctx.newRaw(onnx.Uint8, in[0].Shape...)
		// QuantizeLinear's kernel: round half to even of x/scale, + zp, saturated.
		simd.QuantizeU8(y.Data.([]uint8), x, scale, zp)
	}
	return []*Tensor{y, Scalar(onnx.Float, scale), Scalar(onnx.Uint8, uint8(zp))}, nil
}

// scales reads a scale tensor as float32 values.
func scales(t *Tensor) ([]float32, error) {
	if t == nil {
		return nil, fmt.Errorf("missing scale")
	}
	f, err := AsFloat32(t)
	if err != nil {
		return nil, fmt.Errorf("scale: %w", err)
	}
	return f, nil
}

// requantize turns int32 accumulators into dt with y = round(acc*m) + zp,
// where the multiplier m is picked per element by mi.
func requantize(ctx *Ctx, dt onnx.DataType, shape []int, acc []int32, mult []float32, mi func(i int) int, yzp *Tensor) (*Tensor, error) {
	zp := []float64{0}
	if yzp != nil {
		var err error
		if zp, err = numbersAsFloat64(yzp); err != nil {
			return nil, err
		}
		if len(zp) != 1 {
			return nil, fmt.Errorf("output zero point must be a scalar, got %s", yzp)
		}
	}
	lo, hi, ok := quantRange(dt)
	if !ok {
		return nil, fmt.Errorf("output type %s is not supported", dt)
	}
	// q8 is output element i: round half to even of acc·m, + zp, saturated.
	q8 := func(i int, a int32) float64 {
		return min(max(math.RoundToEven(float64(a)*float64(mult[mi(i)]))+zp[0], lo), hi)
	}
	switch dt {
	case onnx.Uint8, onnx.Int8:
		// Straight into the 8-bit output.
		out := ctx.newRaw(dt, shape...)
		switch d := out.Data.(type) {
		case []uint8:
			for i, a := range acc {
				d[i] = uint8(q8(i, a))
			}
		case []int8:
			for i, a := range acc {
				d[i] = int8(q8(i, a))
			}
		}
		return out, nil
	}
	q := make([]float64, len(acc))
	for i, a := range acc {
		q[i] = q8(i, a)
	}
	return tensorFromFloat64s(ctx, dt, shape, q)
}

func qlinearMatMul(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	for i := 0; i < 8; i++ {
		if i >= len(in) || in[i] == nil {
			return nil, fmt.Errorf("QLinearMatMul needs 8 inputs")
		}
	}
	a, b := in[0], in[3]
	p, err := planMatMul(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	acc := ctx.New(onnx.Int32, numElements(p.out)).Data.([]int32)
	if err := matmulI8(ctx, p, a, in[2], b, in[5], acc); err != nil {
		return nil, err
	}
	as, err := scales(in[1])
	if err != nil {
		return nil, err
	}
	bs, err := scales(in[4])
	if err != nil {
		return nil, err
	}
	ys, err := scales(in[6])
	if err != nil {
		return nil, err
	}
	if len(ys) != 1 {
		return nil, fmt.Errorf("y_scale must be a scalar, got %s", in[6])
	}
	if len(as) != 1 && len(as) != p.m || len(bs) != 1 && len(bs) != p.n {
		return nil, fmt.Errorf("scales %s and %s fit neither per-tensor nor per-row/column", in[1], in[4])
	}
	// The multiplier a_scale*b_scale/y_scale is formed in the scales' precision.
	dt := in[1].DType
	mult := make([]float32, len(as)*len(bs))
	for i, x := range as {
		for j, y := range bs {
			mult[i*len(bs)+j] = roundAs(dt, roundAs(dt, x*y)/ys[0])
		}
	}
	m, n := p.m, p.n
	mi := func(i int) int {
		r, c := 0, 0
		if len(as) > 1 {
			r = (i / n) % m
		}
		if len(bs) > 1 {
			c = i % n
		}
		return r*len(bs) + c
	}
	out, err := requantize(ctx, in[7].DType, p.out, acc, mult, mi, in[7])
	return []*Tensor{out}, err
}

// quantConv is the integer convolution of x and w minus their zero points
// (on the int8 GEMM: ops_quant_int8.go). wc, when not nil, keeps the packed
// weights of a constant w across runs.
func quantConv(ctx *Ctx, wa windowAttrs, group int, x, xzp, w, wzp *Tensor, wc *prepacked) ([]int32, []int, error) {
	if x.Rank() < 3 || w.Rank() != x.Rank() {
		return nil, nil, fmt.Errorf("convolution needs N×C×spatial input and matching weights, got %s and %s", x, w)
	}
	if xzp != nil && xzp.Len() != 1 {
		return nil, nil, fmt.Errorf("x_zero_point must be a scalar, got %s", xzp)
	}
	return convI8(ctx, wa, group, x, xzp, w, wzp, wc, nil)
}

func convIntegerBuilder(b *Build) (Kernel, error) {
	wa, group := readWindowAttrs(b), int(b.Int("group", 1))
	var wc *prepacked
	if constInput(b, 1) && (b.Node.Input(3) == nil || constInput(b, 3)) {
		wc = &prepacked{}
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		var xzp, wzp *Tensor
		if len(in) > 2 {
			xzp = in[2]
		}
		if len(in) > 3 {
			wzp = in[3]
		}
		acc, shape, err := quantConv(ctx, wa, group, in[0], xzp, in[1], wzp, wc)
		if err != nil {
			return nil, err
		}
		return []*Tensor{{DType: onnx.Int32, Shape: shape, Data: acc}}, nil
	}, nil
}

func qlinearConvBuilder(b *Build) (Kernel, error) {
	wa, group := readWindowAttrs(b), int(b.Int("group", 1))
	var wc *prepacked
	if constInput(b, 3) && constInput(b, 5) {
		wc = &prepacked{}
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		for i := 0; i < 8; i++ {
			if i >= len(in) || in[i] == nil {
				return nil, fmt.Errorf("QLinearConv needs at least 8 inputs")
			}
		}
		acc, shape, err := quantConv(ctx, wa, group, in[0], in[2], in[3], in[5], wc)
		if err != nil {
			return nil, err
		}
		m, outSize := shape[1], numElements(shape[2:])
		if len(in) > 8 && in[8] != nil {
			bias, ok := in[8].Data.([]int32)
			if !ok || len(bias) != m {
				return nil, fmt.Errorf("bias must be int32 of %d elements, got %s", m, in[8])
			}
			for i := range acc {
				acc[i] += bias[(i/outSize)%m]
			}
		}
		xs, err := scales(in[1])
		if err != nil {
			return nil, err
		}
		ws, err := scales(in[4])
		if err != nil {
			return nil, err
		}
		ys, err := scales(in[6])
		if err != nil {
			return nil, err
		}
		if len(xs) != 1 || len(ys) != 1 || (len(ws) != 1 && len(ws) != m) {
			return nil, fmt.Errorf("scales %s, %s, %s do not fit %d output channels", in[1], in[4], in[6], m)
		}
		mult := make([]float32, len(ws))
		for i, s := range ws {
			mult[i] = xs[0] * s / ys[0]
		}
		mi := func(i int) int {
			if len(mult) == 1 {
				return 0
			}
			return (i / outSize) % m
		}
		out, err := requantize(ctx, in[7].DType, shape, acc, mult, mi, in[7])
		return []*Tensor{out}, err
	}, nil
}

func init() {
	regVersions("QuantizeLinear", quantizeBuilder, 10, 13, 19, 21, 23, 24, 25)
	regVersions("DequantizeLinear", needInputs(2, dequantizeBuilder), 10, 13, 19, 21, 23, 24, 25)
	regVersions("DynamicQuantizeLinear", noAttrs(dynamicQuantizeLinear), 11)
	regVersions("QLinearMatMul", noAttrs(qlinearMatMul), 10, 21)
	regVersions("QLinearConv", qlinearConvBuilder, 10)
	regVersions("ConvInteger", convIntegerBuilder, 10)
}
