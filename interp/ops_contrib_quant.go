package interp

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// ONNX Runtime's quantization contrib ops (com.microsoft), as its quantizer
// and int4 tools write them: MatMulNBits, MatMulIntegerToFloat,
// DynamicQuantizeMatMul, QGemm, its own QuantizeLinear and
// DequantizeLinear, and the QOperator-format QLinear* ops. Each follows
// ONNX Runtime's CPU kernel (onnxruntime/contrib_ops/cpu/quantization) and
// is checked against it node by node (contrib_quant_ort_test.go).

// nbitsAttrs are MatMulNBits' attributes and the layout of its packed B:
// N columns, each nBlocks blocks of blob bytes holding block values of
// bits bits, low bits first.
type nbitsAttrs struct {
	k, n, bits, block int
	nBlocks, blob     int
}

func readNBitsAttrs(b *Build) (nbitsAttrs, error) {
	a := nbitsAttrs{k: int(b.Int("K", 0)), n: int(b.Int("N", 0)), bits: int(b.Int("bits", 4)), block: int(b.Int("block_size", 0))}
	switch {
	case a.k <= 0 || a.n <= 0:
		return a, fmt.Errorf("attributes K=%d and N=%d must be positive", a.k, a.n)
	case a.bits != 2 && a.bits != 4 && a.bits != 8:
		return a, fmt.Errorf("bits=%d is not supported (want 2, 4 or 8)", a.bits)
	case a.block < 16 || a.block&(a.block-1) != 0:
		return a, fmt.Errorf("block_size=%d must be a power of 2 of at least 16", a.block)
	}
	a.nBlocks = (a.k + a.block - 1) / a.block
	a.blob = a.block * a.bits / 8
	return a, nil
}

// zpStride is the bytes of packed zero points per column.
func (a nbitsAttrs) zpStride() int { return (a.nBlocks*a.bits + 7) / 8 }

// zeroPointsNBits returns the zero point of every (column, block) as
// float32: from packed uint8 (bits per value, low bits first), from
// unpacked values of the scales' type, or 2^(bits-1) without them. packed
// tells the formula ONNX Runtime then uses (see dequantNBits).
func (a nbitsAttrs) zeroPoints(zp *Tensor) (z []float32, packed bool, err error) {
	z = make([]float32, a.n*a.nBlocks)
	if zp == nil {
		for i := range z {
			z[i] = float32(int(1) << (a.bits - 1))
		}
		return z, true, nil
	}
	if d, ok := zp.Data.([]uint8); ok && zp.DType == onnx.Uint8 {
		stride := a.zpStride()
		if len(d) != a.n*stride {
			return nil, false, fmt.Errorf("zero_points %s: want %d bytes (N=%d × %d)", zp, a.n*stride, a.n, stride)
		}
		mask := uint8(1)<<a.bits - 1
		if a.bits == 8 {
			mask = 0xff
		}
		for c := 0; c < a.n; c++ {
			for blk := 0; blk < a.nBlocks; blk++ {
				bit := blk * a.bits
				z[c*a.nBlocks+blk] = float32(d[c*stride+bit/8] >> (bit % 8) & mask)
			}
		}
		return z, true, nil
	}
	f, err := floatIn(zp)
	if err != nil {
		return nil, false, fmt.Errorf("zero_points %s: %w", zp, err)
	}
	if len(f) != len(z) {
		return nil, false, fmt.Errorf("zero_points %s: want %d values (N=%d × %d blocks)", zp, len(z), a.n, a.nBlocks)
	}
	copy(z, f)
	return z, false, nil
}

// dequantNBits unpacks B ([N, nBlocks, blob]) into the K×N float32 matrix
// (q - zp)·scale. gidx (nil: k/block) maps row k to the block whose scale
// and zero point it uses. With unpacked zero points or g_idx, ONNX Runtime
// dequantizes as q·scale + (-scale·zp), which rounds differently; so do we.
func (a nbitsAttrs) dequant(bq []uint8, scale, zp []float32, packedZP bool, gidx []int32) ([]float32, error) {
	out := make([]float32, a.k*a.n)
	mask := uint8(1)<<a.bits - 1
	if a.bits == 8 {
		mask = 0xff
	}
	split := gidx != nil || !packedZP
	for c := 0; c < a.n; c++ {
		col := bq[c*a.nBlocks*a.blob:]
		for k := 0; k < a.k; k++ {
			blk, kk := k/a.block, k%a.block
			g := blk
			if gidx != nil {
				g = int(gidx[k])
				if g < 0 || g >= a.nBlocks {
					return nil, fmt.Errorf("g_idx[%d]=%d is out of range [0, %d)", k, g, a.nBlocks)
				}
			}
			bit := kk * a.bits
			q := float32(col[blk*a.blob+bit/8] >> (bit % 8) & mask)
			s, z := scale[c*a.nBlocks+g], zp[c*a.nBlocks+g]
			if split {
				out[k*a.n+c] = q*s + (-s * z)
			} else {
				out[k*a.n+c] = (q - z) * s
			}
		}
	}
	return out, nil
}

// weights checks MatMulNBits' B, scales, zero points and g_idx and returns
// B dequantized (K×N).
func (a nbitsAttrs) weights(b, scales, zp, gidx *Tensor) ([]float32, error) {
	bq, ok := b.Data.([]uint8)
	if !ok || b.DType != onnx.Uint8 || len(bq) != a.n*a.nBlocks*a.blob {
		return nil, fmt.Errorf("B %s: want uint8 [%d %d %d] (N, K/block_size, block_size·bits/8)", b, a.n, a.nBlocks, a.blob)
	}
	s, err := floatIn(scales)
	if err != nil {
		return nil, fmt.Errorf("scales %s: %w", scales, err)
	}
	if len(s) != a.n*a.nBlocks {
		return nil, fmt.Errorf("scales %s: want %d values (N=%d × %d blocks)", scales, a.n*a.nBlocks, a.n, a.nBlocks)
	}
	if gidx != nil && zp != nil && zp.DType == onnx.Uint8 {
		// ONNX Runtime's g_idx kernel (Dequantize4BitsKernelReOrder)
		// reads packed zero points but then uses the default one, 8.
		zp = nil
	}
	z, packed, err := a.zeroPoints(zp)
	if err != nil {
		return nil, err
	}
	var g []int32
	if gidx != nil {
		if g, ok = gidx.Data.([]int32); !ok || len(g) != a.k {
			return nil, fmt.Errorf("g_idx %s: want int32 [%d]", gidx, a.k)
		}
	}
	return a.dequant(bq, s, z, packed, g)
}

// matMulNBitsBuilder is MatMulNBits: A (…×K) times B, 2-, 4- or 8-bit
// blockwise quantized along K, plus bias. B is dequantized to float32 and
// multiplied in float32 whatever accuracy_level says: at accuracy_level 4
// ONNX Runtime instead quantizes A to int8 block by block and multiplies
// integers, which differs from this by A's quantization error. Constant
// weights (as they always are in practice) are dequantized and packed once.
func matMulNBitsBuilder(b *Build) (Kernel, error) {
	a, err := readNBitsAttrs(b)
	if err != nil {
		return nil, err
	}
	var wpack *prepacked
	if b.Prepack() && constInput(b, 1) && constInput(b, 2) && (!b.HasInput(3) || constInput(b, 3)) && (!b.HasInput(4) || constInput(b, 4)) {
		wpack = &prepacked{}
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
			return nil, fmt.Errorf("MatMulNBits needs inputs A, B and scales")
		}
		x := in[0]
		zp, gidx, bias := optIn(in, 3), optIn(in, 4), optIn(in, 5)
		if x.Rank() == 0 || x.Shape[x.Rank()-1] != a.k {
			return nil, fmt.Errorf("A %s: last dimension must be K=%d", x, a.k)
		}
		av, err := ctx.float32Of(x)
		if err != nil {
			return nil, fmt.Errorf("A %s: %w", x, err)
		}
		var bv []float32
		if bias != nil {
			if bv, err = floatIn(bias); err != nil || len(bv) != a.n {
				return nil, fmt.Errorf("bias %s: want %d float values", bias, a.n)
			}
		}
		m := len(av) / a.k
		outShape := append(append([]int{}, x.Shape[:x.Rank()-1]...), a.n)
		ot := ctx.newRaw(onnx.Float, outShape...)
		c := ot.Floats()
		beta := fillBias(c, bv, m, a.n)
		if wpack != nil {
			v := wpack.get(in[1], func() any {
				w, err := a.weights(in[1], in[2], zp, gidx)
				if err != nil {
					return err
				}
				return packedB(false, a.k, a.n, w, a.n)
			})
			if err, ok := v.(error); ok {
				return nil, err
			}
			simd.SgemmPacked(false, m, a.n, a.k, 1, av, a.k, v.([]float32), beta, c, a.n, ctx.Threads())
		} else {
			w, err := a.weights(in[1], in[2], zp, gidx)
			if err != nil {
				return nil, err
			}
			sgemm(ctx.Threads(), false, false, m, a.n, a.k, 1, av, a.k, w, a.n, beta, c, a.n)
		}
		return []*Tensor{ctx.roundFloat32(x.DType, ot)}, nil
	}, nil
}

// fillBias writes bias (nil: none) into every row of the m×n c and
// returns the beta for a GEMM accumulating onto it.
func fillBias(c, bias []float32, m, n int) float32 {
	if bias == nil {
		return 0
	}
	for i := 0; i < m; i++ {
		copy(c[i*n:(i+1)*n], bias)
	}
	return 1
}

func init() {
	// needInputs: a malformed node may leave a required input out.
	Register(msDomain, "MatMulNBits", 1, needInputs(3, matMulNBitsBuilder))
	Register(msDomain, "MatMulIntegerToFloat", 1, needInputs(4, noAttrs(matMulIntegerToFloat)))
	Register(msDomain, "DynamicQuantizeMatMul", 1, needInputs(3, noAttrs(dynamicQuantizeMatMul)))
	Register(msDomain, "QGemm", 1, qgemmBuilder)
	// ONNX Runtime's own QuantizeLinear and DequantizeLinear share its
	// standard kernels (axis, per-tensor or per-axis parameters, 8-, 16-
	// and 4-bit integers), as ours do.
	Register(msDomain, "QuantizeLinear", 1, needInputs(2, contribQuantizeBuilder))
	Register(msDomain, "DequantizeLinear", 1, needInputs(2, dequantizeBuilder))
	Register(msDomain, "QLinearAdd", 1, noAttrs(qlinearBinary(false)))
	Register(msDomain, "QLinearMul", 1, noAttrs(qlinearBinary(true)))
	Register(msDomain, "QLinearSigmoid", 1, qlinearLookupBuilder)
	Register(msDomain, "QLinearLeakyRelu", 1, qlinearLookupBuilder)
	Register(msDomain, "QLinearGlobalAveragePool", 1, qlinearGlobalAvgPoolBuilder)
	Register(msDomain, "QLinearConcat", 1, qlinearConcatBuilder)
}

// scalarParam reads a one-element scale or zero point as float32 (def
// when t is nil).
func scalarParam(t *Tensor, what string, def float32) (float32, error) {
	if t == nil {
		return def, nil
	}
	v, err := numbersAsFloat64(t)
	if err != nil || len(v) != 1 {
		return 0, fmt.Errorf("%s %s must be a scalar or a one-element tensor", what, t)
	}
	return float32(v[0]), nil
}

// colParams reads B's scale or zero point (nil: def) for a product with
// B of shape bs: one value, or one per column of each of B's matrices
// (shape [..., 1, N]). It returns the values and whether they are per
// column.
func colParams(t *Tensor, bs []int, what string, def float32) ([]float32, bool, error) {
	if len(bs) == 0 {
		return nil, false, fmt.Errorf("B must have rank ≥ 1 for %s", what)
	}
	if t == nil {
		return []float32{def}, false, nil
	}
	w, err := numbersAsFloat64(t)
	if err != nil {
		return nil, false, fmt.Errorf("%s %s: %w", what, t, err)
	}
	v := make([]float32, len(w))
	for i, x := range w {
		v[i] = float32(x)
	}
	if len(v) == 1 {
		return v, false, nil
	}
	n := bs[len(bs)-1]
	if len(bs) < 2 || len(v) != numElements(bs)/max(bs[len(bs)-2], 1) || t.Shape[len(t.Shape)-1] != n {
		return nil, false, fmt.Errorf("%s %s fits neither one value nor one per column of B %v", what, t, bs)
	}
	return v, true, nil
}

// intMatMulToFloat is the product of the 8-bit a and b minus their zero
// points (a's one value, b's per column when bzp is) in int32, times
// mult (one, or per column of B's matrices as colParams reads it) plus
// bias: MatMulIntegerToFloat's and DynamicQuantizeMatMul's output,
// float32(acc)·mult + bias as ONNX Runtime's GEMM output processor.
func intMatMulToFloat(ctx *Ctx, a, azp, b *Tensor, bzp []float32, mult []float32, bias *Tensor) (*Tensor, error) {
	p, err := planMatMul(a.Shape, b.Shape)
	if err != nil {
		return nil, fmt.Errorf("A %s and B %s: %w", a, b, err)
	}
	m, n, k := p.m, p.n, p.k
	var bv []float32
	if bias != nil {
		if bv, err = floatIn(bias); err != nil || len(bv) != n {
			return nil, fmt.Errorf("bias %s: want %d float values", bias, n)
		}
	}
	acc := ctx.New(onnx.Int32, numElements(p.out)).Data.([]int32)
	if err := matmulI8(ctx, p, a, azp, b, nil, acc); err != nil {
		return nil, err
	}
	// B's zero points, possibly per matrix of a batched B, as
	// Σ(a-za)(b-zb) = Σ(a-za)b - zb·Σ(a-za).
	var rowSum []int32
	if len(bzp) > 1 || bzp[0] != 0 {
		if rowSum, err = rowSumsI8(a, azp, k); err != nil {
			return nil, err
		}
	}
	out := ctx.newRaw(onnx.Float, p.out...)
	y := out.Floats()
	for bi := 0; bi < p.batchLen; bi++ {
		po := 0 // this matrix's first parameter
		if k > 0 {
			po = p.bOff[bi] / k
		}
		rows := p.aOff[bi] / max(k, 1)
		for i := 0; i < m; i++ {
			o := (bi*m + i) * n
			for j := 0; j < n; j++ {
				v := acc[o+j]
				if rowSum != nil {
					z := bzp[0]
					if len(bzp) > 1 {
						z = bzp[po+j]
					}
					v -= int32(z) * rowSum[rows+i]
				}
				s := mult[0]
				if len(mult) > 1 {
					s = mult[po+j]
				}
				f := float32(v) * s
				if bv != nil {
					f += bv[j]
				}
				y[o+j] = f
			}
		}
	}
	return out, nil
}

// rowSumsI8 is Σ_k (a - za) for each k-long row of the 8-bit a.
func rowSumsI8(a, azp *Tensor, k int) ([]int32, error) {
	za, err := scalarParam(azp, "a_zero_point", 0)
	if err != nil {
		return nil, err
	}
	rows := a.Len() / max(k, 1)
	out := make([]int32, rows)
	switch d := a.Data.(type) {
	case []uint8:
		for r := range out {
			s := int32(0)
			for _, v := range d[r*k : (r+1)*k] {
				s += int32(v)
			}
			out[r] = s - int32(k)*int32(za)
		}
	case []int8:
		for r := range out {
			s := int32(0)
			for _, v := range d[r*k : (r+1)*k] {
				s += int32(v)
			}
			out[r] = s - int32(k)*int32(za)
		}
	default:
		return nil, fmt.Errorf("A %s: want int8 or uint8", a)
	}
	return out, nil
}

// multipliers is a_scale·b_scale per B parameter.
func multipliers(as float32, bs []float32) []float32 {
	m := make([]float32, len(bs))
	for i, s := range bs {
		m[i] = as * s
	}
	return m
}

// matMulIntegerToFloat is MatMulIntegerToFloat: A, B, a_scale, b_scale,
// a_zero_point, b_zero_point, bias.
func matMulIntegerToFloat(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 4 || in[0] == nil || in[1] == nil || in[2] == nil || in[3] == nil {
		return nil, fmt.Errorf("MatMulIntegerToFloat needs inputs A, B, a_scale and b_scale")
	}
	a, b := in[0], in[1]
	as, err := scalarParam(in[2], "a_scale", 1)
	if err != nil {
		return nil, err
	}
	if err := checkZeroPointType(optIn(in, 4), a, "a_zero_point"); err != nil {
		return nil, err
	}
	if _, err := scalarParam(optIn(in, 4), "a_zero_point", 0); err != nil {
		return nil, err
	}
	bs, _, err := colParams(in[3], b.Shape, "b_scale", 1)
	if err != nil {
		return nil, err
	}
	if err := checkZeroPointType(optIn(in, 5), b, "b_zero_point"); err != nil {
		return nil, err
	}
	bz, _, err := colParams(optIn(in, 5), b.Shape, "b_zero_point", 0)
	if err != nil {
		return nil, err
	}
	out, err := intMatMulToFloat(ctx, a, optIn(in, 4), b, bz, multipliers(as, bs), optIn(in, 6))
	return []*Tensor{out}, err
}

// checkZeroPointType reports a zero point whose type is not its input's.
func checkZeroPointType(zp, x *Tensor, what string) error {
	if zp != nil && zp.DType != x.DType {
		return fmt.Errorf("%s %s does not match the type of %s", what, zp, x)
	}
	return nil
}

// dynamicQuantizeMatMul is DynamicQuantizeMatMul: A (float32) quantized
// to uint8 over its whole range, then MatMulIntegerToFloat with B,
// b_scale, b_zero_point and bias.
func dynamicQuantizeMatMul(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return nil, fmt.Errorf("DynamicQuantizeMatMul needs inputs A, B and b_scale")
	}
	x, b := in[0], in[1]
	xv, ok := x.Data.([]float32)
	if !ok {
		return nil, fmt.Errorf("A %s: want float32", x)
	}
	bs, _, err := colParams(in[2], b.Shape, "b_scale", 1)
	if err != nil {
		return nil, err
	}
	if err := checkZeroPointType(optIn(in, 3), b, "b_zero_point"); err != nil {
		return nil, err
	}
	bz, _, err := colParams(optIn(in, 3), b.Shape, "b_zero_point", 0)
	if err != nil {
		return nil, err
	}
	scale, zp := dynamicQuantParams(xv)
	q := ctx.newRaw(onnx.Uint8, x.Shape...)
	simd.QuantizeU8(q.Data.([]uint8), xv, scale, zp)
	out, err := intMatMulToFloat(ctx, q, Scalar(onnx.Uint8, uint8(zp)), b, bz, multipliers(scale, bs), optIn(in, 4))
	return []*Tensor{out}, err
}

// dynamicQuantParams is ONNX Runtime's uint8 scale and zero point for x:
// its range widened to hold 0, scale 1 (not DynamicQuantizeLinear's 0)
// when that range is empty.
func dynamicQuantParams(x []float32) (scale, zp float32) {
	lo, hi := float32(0), float32(0)
	if len(x) > 0 {
		lo, hi = simd.MinMax(x)
	}
	lo, hi = min(lo, 0), max(hi, 0)
	scale = 1
	if hi != lo {
		scale = (hi - lo) / 255
	}
	z := min(max(-lo/scale, 0), 255)
	return scale, float32(math.RoundToEven(float64(z)))
}

// transposed8 returns the r×c 8-bit matrix t transposed (c×r).
func transposed8(t *Tensor, r, c int) *Tensor {
	out := Make(t.DType, c, r)
	switch d := t.Data.(type) {
	case []uint8:
		o := out.Data.([]uint8)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				o[j*r+i] = d[i*c+j]
			}
		}
	case []int8:
		o := out.Data.([]int8)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				o[j*r+i] = d[i*c+j]
			}
		}
	}
	return out
}

// qgemmBuilder is QGemm: alpha·(A-za)(B-zb) + C in int32 (transA and
// transB as Gemm's), scaled by a_scale·b_scale (per column of B, or one)
// to float, or requantized to y's scale and zero point when y_zero_point
// is given.
func qgemmBuilder(b *Build) (Kernel, error) {
	transA, transB := b.Int("transA", 0) != 0, b.Int("transB", 0) != 0
	alpha := b.Float("alpha", 1)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		for i := 0; i < 6; i++ {
			if optIn(in, i) == nil {
				return nil, fmt.Errorf("QGemm needs inputs A, a_scale, a_zero_point, B, b_scale and b_zero_point")
			}
		}
		a, bm := in[0], in[3]
		if a.Rank() != 2 || bm.Rank() != 2 {
			return nil, fmt.Errorf("A %s and B %s must be matrices", a, bm)
		}
		m, k := a.Shape[0], a.Shape[1]
		if transA {
			m, k = k, m
			a = transposed8(a, k, m)
		}
		k2, n := bm.Shape[0], bm.Shape[1]
		if transB {
			k2, n = n, k2
			bm = transposed8(bm, n, k2)
		}
		if k != k2 {
			return nil, fmt.Errorf("inner dimensions of A %s and B %s differ", in[0], in[3])
		}
		as, err := scalarParam(in[1], "a_scale", 1)
		if err != nil {
			return nil, err
		}
		if _, err := scalarParam(in[2], "a_zero_point", 0); err != nil {
			return nil, err
		}
		bs, _, err := colParams(in[4], []int{k, n}, "b_scale", 1)
		if err != nil {
			return nil, err
		}
		p, err := planMatMul([]int{m, k}, []int{k, n})
		if err != nil {
			return nil, err
		}
		acc := ctx.New(onnx.Int32, m, n)
		av := acc.Data.([]int32)
		if err := matmulI8(ctx, p, a, in[2], bm, in[5], av); err != nil {
			return nil, err
		}
		if c := optIn(in, 6); c != nil {
			if err := addBiasInt32(av, c, m, n); err != nil {
				return nil, err
			}
		}
		ys, yzp := optIn(in, 7), optIn(in, 8)
		// The output scale is alpha·a_scale·b_scale (/ y_scale), in float32.
		mult := make([]float32, len(bs))
		for i, s := range bs {
			mult[i] = alpha * as * s
		}
		if ys != nil {
			v, err := scalarParam(ys, "y_scale", 1)
			if err != nil {
				return nil, err
			}
			for i := range mult {
				mult[i] /= v
			}
		}
		if yzp == nil {
			out := ctx.newRaw(onnx.Float, m, n)
			y := out.Floats()
			for i, v := range av {
				y[i] = float32(v) * mult[min(i%n, len(mult)-1)]
			}
			return []*Tensor{out}, nil
		}
		out, err := requantizeF32(ctx, av, n, mult, yzp, []int{m, n})
		return []*Tensor{out}, err
	}, nil
}

// addBiasInt32 adds Gemm's C (int32; scalar, [N], [1 N], [M 1] or [M N])
// to the m×n acc.
func addBiasInt32(acc []int32, c *Tensor, m, n int) error {
	cv, ok := c.Data.([]int32)
	if !ok || !broadcastsTo(c.Shape, m, n) {
		return fmt.Errorf("C %s: want int32 broadcasting to [%d %d]", c, m, n)
	}
	cm, cn := 1, 1
	switch c.Rank() {
	case 1:
		cn = c.Shape[0]
	case 2:
		cm, cn = c.Shape[0], c.Shape[1]
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			acc[i*n+j] += cv[(i%cm)*cn+j%cn]
		}
	}
	return nil
}

// requantizeF32 is ONNX Runtime's requantization of int32 accumulators
// (MlasRequantizeOutput): float32(acc)·scale, clamped to the output
// range less the zero point, rounded half to even, plus the zero point;
// scale per column (of n) or one. The zero point's type is the output's.
func requantizeF32(ctx *Ctx, acc []int32, n int, scale []float32, zp *Tensor, shape []int) (*Tensor, error) {
	z, err := scalarParam(zp, "y_zero_point", 0)
	if err != nil {
		return nil, err
	}
	lo, hi, ok := quantRange(zp.DType)
	if !ok || (zp.DType != onnx.Uint8 && zp.DType != onnx.Int8) {
		return nil, fmt.Errorf("y_zero_point %s: want int8 or uint8", zp)
	}
	flo, fhi := float32(lo)-z, float32(hi)-z
	out := ctx.newRaw(zp.DType, shape...)
	q := func(i int, a int32) float32 {
		v := float32(a) * scale[min(i%n, len(scale)-1)]
		v = min(max(v, flo), fhi)
		return float32(math.RoundToEven(float64(v))) + z
	}
	switch d := out.Data.(type) {
	case []uint8:
		for i, a := range acc {
			d[i] = uint8(q(i, a))
		}
	case []int8:
		for i, a := range acc {
			d[i] = int8(q(i, a))
		}
	}
	return out, nil
}

// contribQuantizeBuilder is com.microsoft QuantizeLinear: the standard
// kernel, but float16 data and scales divided in float32 (ONNX Runtime
// widens them first), where the standard op divides in float16.
func contribQuantizeBuilder(b *Build) (Kernel, error) {
	k, err := quantizeBuilder(b)
	if err != nil {
		return nil, err
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 2 || in[0] == nil || in[1] == nil {
			return nil, fmt.Errorf("QuantizeLinear needs inputs x and y_scale")
		}
		if in[0].DType != onnx.Float16 && in[1].DType != onnx.Float16 {
			return k(ctx, in)
		}
		w := append([]*Tensor{}, in...)
		for i := range 2 {
			if w[i].DType == onnx.Float16 {
				f, err := AsFloat32(w[i])
				if err != nil {
					return nil, err
				}
				w[i] = FromSlice(onnx.Float, w[i].Shape, f)
			}
		}
		return k(ctx, w)
	}, nil
}

// int8Like are the 8-bit quantized element types.
type int8Like interface{ ~int8 | ~uint8 }

// qparams reads a QLinear op's scale and optional zero point (whose type
// must be x's) as float32 values.
func qparams(in []*Tensor, si, zi int, x *Tensor, what string) (scale, zp float32, err error) {
	if optIn(in, si) == nil {
		return 0, 0, fmt.Errorf("missing %s_scale", what)
	}
	if scale, err = scalarParam(in[si], what+"_scale", 1); err != nil {
		return
	}
	if err = checkZeroPointType(optIn(in, zi), x, what+"_zero_point"); err != nil {
		return
	}
	zp, err = scalarParam(optIn(in, zi), what+"_zero_point", 0)
	return
}

// qlinearBinary is QLinearAdd (mul false) or QLinearMul: inputs A,
// A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point;
// A and B broadcast. Both compute in float32 as ONNX Runtime's MLAS
// kernels: Add as the sum of A and B rescaled to C's scale, Mul as the
// product of the integers times A_scale·B_scale/C_scale.
func qlinearBinary(mul bool) Kernel {
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		a, b := optIn(in, 0), optIn(in, 3)
		if a == nil || b == nil {
			return nil, fmt.Errorf("inputs A and B are required")
		}
		if a.DType != b.DType || (a.DType != onnx.Uint8 && a.DType != onnx.Int8) {
			return nil, fmt.Errorf("A %s and B %s must both be int8 or uint8", a, b)
		}
		sa, za, err := qparams(in, 1, 2, a, "A")
		if err != nil {
			return nil, err
		}
		sb, zb, err := qparams(in, 4, 5, b, "B")
		if err != nil {
			return nil, err
		}
		sc, zc, err := qparams(in, 6, 7, a, "C")
		if err != nil {
			return nil, err
		}
		shape, err := BroadcastShape(a.Shape, b.Shape)
		if err != nil {
			return nil, fmt.Errorf("A %s and B %s: %w", a, b, err)
		}
		out := ctx.newRaw(a.DType, shape...)
		lo, hi, _ := quantRange(a.DType)
		p := binParams{ra: sa / sc, rb: sb / sc, rab: sa * sb / sc, za: za, zb: zb, zc: zc, lo: float32(lo), hi: float32(hi)}
		switch d := out.Data.(type) {
		case []uint8:
			qlinearBinaryRun(d, broadcastTo[uint8](ctx, a, shape), broadcastTo[uint8](ctx, b, shape), p, mul)
		case []int8:
			qlinearBinaryRun(d, broadcastTo[int8](ctx, a, shape), broadcastTo[int8](ctx, b, shape), p, mul)
		}
		return []*Tensor{out}, nil
	}
}

// broadcastTo is t's data expanded to shape (t's own where it has it).
func broadcastTo[T any](ctx *Ctx, t *Tensor, shape []int) []T {
	if slices.Equal(t.Shape, shape) {
		return t.Data.([]T)
	}
	return Broadcast[T](ctx, t, shape).Data.([]T)
}

// binParams are QLinearAdd/Mul's scale ratios, zero points and the output
// type's saturation range.
type binParams struct{ ra, rb, rab, za, zb, zc, lo, hi float32 }

// qlinearBinaryRun sets c = a ⊕ b requantized, a and b of c's length.
func qlinearBinaryRun[T int8Like](c, a, b []T, p binParams, mul bool) {
	// The constant part of the sum, as MLAS folds it.
	fixed := p.zc - (p.ra*p.za + p.rb*p.zb)
	for i := range c {
		var v float32
		if mul {
			v = (float32(a[i])-p.za)*(float32(b[i])-p.zb)*p.rab + p.zc
		} else {
			v = float32(a[i])*p.ra + float32(b[i])*p.rb + fixed
		}
		c[i] = T(roundClamp(v, p.lo, p.hi))
	}
}

// roundClamp saturates v to [lo, hi] and rounds it half to even.
func roundClamp(v, lo, hi float32) float32 {
	return float32(math.RoundToEven(float64(min(max(v, lo), hi))))
}

// qlinearLookupBuilder is QLinearSigmoid and QLinearLeakyRelu (alpha):
// X, X_scale, X_zero_point, Y_scale, Y_zero_point. As ONNX Runtime, it
// maps each of the 256 input values through a table: dequantized, the
// activation in float32, quantized.
func qlinearLookupBuilder(b *Build) (Kernel, error) {
	op, alpha := b.Node.OpType, b.Float("alpha", 0.01)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := optIn(in, 0)
		if x == nil || (x.DType != onnx.Uint8 && x.DType != onnx.Int8) {
			return nil, fmt.Errorf("X must be int8 or uint8")
		}
		sx, zx, err := qparams(in, 1, 2, x, "X")
		if err != nil {
			return nil, err
		}
		sy, zy, err := qparams(in, 3, 4, x, "Y")
		if err != nil {
			return nil, err
		}
		var f [256]float32
		for i := range f {
			q := float32(i)
			if x.DType == onnx.Int8 {
				q = float32(int8(uint8(i)))
			}
			f[i] = (q - zx) * sx
		}
		if op == "QLinearSigmoid" {
			for i, v := range f {
				f[i] = float32(1 / (1 + math.Exp(-float64(v))))
			}
		} else {
			for i, v := range f {
				if v < 0 {
					f[i] = v * alpha
				}
			}
		}
		out := ctx.newRaw(x.DType, x.Shape...)
		switch d := out.Data.(type) {
		case []uint8:
			var t [256]uint8
			for i, v := range f {
				t[i] = uint8(roundClamp(v/sy, -zy, 255-zy) + zy)
			}
			for i, v := range x.Data.([]uint8) {
				d[i] = t[v]
			}
		case []int8:
			var t [256]int8
			for i, v := range f {
				t[i] = int8(roundClamp(v/sy, -128-zy, 127-zy) + zy)
			}
			for i, v := range x.Data.([]int8) {
				d[i] = t[uint8(v)]
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

// qlinearGlobalAvgPoolBuilder is QLinearGlobalAveragePool: X, x_scale,
// x_zero_point, y_scale, y_zero_point; channels_last puts the channels
// last (N×spatial×C) instead of second. As MLAS, it sums each channel's
// image in int32, less x_zero_point·size, and requantizes by
// x_scale/(y_scale·size).
func qlinearGlobalAvgPoolBuilder(b *Build) (Kernel, error) {
	last := b.Int("channels_last", 0) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := optIn(in, 0)
		if x == nil || x.Rank() < 3 || (x.DType != onnx.Uint8 && x.DType != onnx.Int8) {
			return nil, fmt.Errorf("X must be int8 or uint8 of rank 3 or more")
		}
		sx, zx, err := qparams(in, 1, 2, x, "x")
		if err != nil {
			return nil, err
		}
		sy, _, err := qparams(in, 3, 4, x, "y")
		if err != nil {
			return nil, err
		}
		n, c, size := x.Shape[0], x.Shape[1], numElements(x.Shape[2:])
		oshape := append([]int{n, c}, ones(x.Rank()-2)...)
		if last {
			c, size = x.Shape[x.Rank()-1], numElements(x.Shape[1:x.Rank()-1])
			oshape = append(append([]int{n}, ones(x.Rank()-2)...), c)
		}
		acc := make([]int32, n*c)
		switch d := x.Data.(type) {
		case []uint8:
			channelSums(acc, d, n, c, size, last)
		case []int8:
			channelSums(acc, d, n, c, size, last)
		}
		bias := -int32(zx) * int32(size)
		for i := range acc {
			acc[i] += bias
		}
		zy := optIn(in, 4)
		if zy == nil {
			zy = Scalar(x.DType, uint8(0))
			if x.DType == onnx.Int8 {
				zy = Scalar(x.DType, int8(0))
			}
		}
		scale := sx / (sy * float32(size))
		out, err := requantizeF32(ctx, acc, 1, []float32{scale}, zy, oshape)
		return []*Tensor{out}, err
	}, nil
}

// ones is n ones.
func ones(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

// channelSums adds up each (batch, channel) image of x into acc: x is
// n×c×size, or n×size×c when last.
func channelSums[T int8Like](acc []int32, x []T, n, c, size int, last bool) {
	for b := 0; b < n; b++ {
		sums := acc[b*c : (b+1)*c]
		img := x[b*c*size : (b+1)*c*size]
		if last {
			for p := 0; p < size; p++ {
				for ch, v := range img[p*c : (p+1)*c] {
					sums[ch] += int32(v)
				}
			}
			continue
		}
		for ch := range sums {
			s := int32(0)
			for _, v := range img[ch*size : (ch+1)*size] {
				s += int32(v)
			}
			sums[ch] = s
		}
	}
}

// qlinearConcatBuilder is QLinearConcat: Y_scale, Y_zero_point, then
// (X, X_scale, X_zero_point) per input, concatenated along axis. An input
// with Y's scale and zero point is copied; any other requantized through
// a table, dequantized and quantized in float32 as ONNX Runtime does.
func qlinearConcatBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", 0)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 5 || (len(in)-2)%3 != 0 || in[2] == nil {
			return nil, fmt.Errorf("QLinearConcat needs Y_scale, Y_zero_point and triples of X, X_scale, X_zero_point, got %d inputs", len(in))
		}
		x0 := in[2]
		if x0.DType != onnx.Uint8 && x0.DType != onnx.Int8 {
			return nil, fmt.Errorf("input %s must be int8 or uint8", x0)
		}
		sy, zy, err := qparams(in, 0, 1, x0, "Y")
		if err != nil {
			return nil, err
		}
		a, err := normAxis(axis, x0.Rank())
		if err != nil {
			return nil, err
		}
		shape := append([]int{}, x0.Shape...)
		shape[a] = 0
		var xs []*Tensor
		for i := 2; i < len(in); i += 3 {
			x := in[i]
			if x == nil || x.DType != x0.DType || x.Rank() != x0.Rank() {
				return nil, fmt.Errorf("input %d (%s) must be of %s's type and rank", i, x, x0)
			}
			for d := range shape {
				if d != a && x.Shape[d] != x0.Shape[d] {
					return nil, fmt.Errorf("input %d (%s) does not fit %s on axis %d", i, x, x0, a)
				}
			}
			shape[a] += x.Shape[a]
			sx, zx, err := qparams(in, i+1, i+2, x, "X")
			if err != nil {
				return nil, err
			}
			if sx != sy || zx != zy {
				x = requantizeTable(x, sx, zx, sy, zy)
			}
			xs = append(xs, x)
		}
		out := ctx.newRaw(x0.DType, shape...)
		outer, inner := numElements(shape[:a]), numElements(shape[a+1:])
		switch d := out.Data.(type) {
		case []uint8:
			concatRuns(d, xs, outer, inner, a)
		case []int8:
			concatRuns(d, xs, outer, inner, a)
		}
		return []*Tensor{out}, nil
	}, nil
}

// requantizeTable maps the 8-bit x from (sx, zx) to (sy, zy):
// round((x - zx)·sx / sy) + zy, saturated.
func requantizeTable(x *Tensor, sx, zx, sy, zy float32) *Tensor {
	out := Make(x.DType, x.Shape...)
	switch d := x.Data.(type) {
	case []uint8:
		var t [256]uint8
		for i := range t {
			t[i] = uint8(roundClamp((float32(i)-zx)*sx/sy, -zy, 255-zy) + zy)
		}
		o := out.Data.([]uint8)
		for i, v := range d {
			o[i] = t[v]
		}
	case []int8:
		var t [256]int8
		for i := range t {
			t[i] = int8(roundClamp((float32(int8(uint8(i)))-zx)*sx/sy, -128-zy, 127-zy) + zy)
		}
		o := out.Data.([]int8)
		for i, v := range d {
			o[i] = t[uint8(v)]
		}
	}
	return out
}

// concatRuns writes the inputs' runs along axis a into dst.
func concatRuns[T int8Like](dst []T, xs []*Tensor, outer, inner, a int) {
	o := 0
	for i := 0; i < outer; i++ {
		for _, x := range xs {
			run := x.Shape[a] * inner
			copy(dst[o:o+run], x.Data.([]T)[i*run:(i+1)*run])
			o += run
		}
	}
}
