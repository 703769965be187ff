package interp

import (
	"fmt"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// matmulPlan is numpy matmul's shape logic: 1-D operands are promoted to
// matrices, batch dimensions broadcast.
type matmulPlan struct {
	m, n, k  int
	out      []int
	aOff     []int // per output batch: offset of the A matrix
	bOff     []int
	batchLen int
}

func planMatMul(as, bs []int) (*matmulPlan, error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("operands must have rank ≥ 1, got %v and %v", as, bs)
	}
	a, b := as, bs
	if len(a) == 1 {
		a = []int{1, a[0]}
	}
	if len(b) == 1 {
		b = []int{b[0], 1}
	}
	p := &matmulPlan{m: a[len(a)-2], k: a[len(a)-1], n: b[len(b)-1]}
	if b[len(b)-2] != p.k {
		return nil, fmt.Errorf("inner dimensions differ: %v × %v", as, bs)
	}
	batch, err := BroadcastShape(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return nil, err
	}
	nb := prod(batch)
	p.batchLen = nb
	p.aOff = make([]int, nb)
	p.bOff = make([]int, nb)
	sa := broadcastStrides(a[:len(a)-2], batch)
	sb := broadcastStrides(b[:len(b)-2], batch)
	idx := make([]int, len(batch))
	for i := 0; i < nb; i++ {
		oa, ob := 0, 0
		for d := range batch {
			oa += idx[d] * sa[d]
			ob += idx[d] * sb[d]
		}
		p.aOff[i] = oa * p.m * p.k
		p.bOff[i] = ob * p.k * p.n
		for d := len(batch) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	p.out = append([]int{}, batch...)
	if len(as) > 1 {
		p.out = append(p.out, p.m)
	}
	if len(bs) > 1 {
		p.out = append(p.out, p.n)
	}
	return p, nil
}

// foldable reports whether every batch uses the same B and consecutive A
// matrices, so the batch can run as one GEMM.
func (p *matmulPlan) foldable() bool {
	for i := range p.aOff {
		if p.bOff[i] != 0 || p.aOff[i] != i*p.m*p.k {
			return false
		}
	}
	return true
}

// matmulGeneric is the plain triple loop for non-float32 types.
func matmulGeneric[T number](p *matmulPlan, a, b, c []T) {
	m, n, k := p.m, p.n, p.k
	for bi := 0; bi < p.batchLen; bi++ {
		A, B, C := a[p.aOff[bi]:], b[p.bOff[bi]:], c[bi*m*n:]
		for i := 0; i < m; i++ {
			row := C[i*n : i*n+n]
			for q := 0; q < k; q++ {
				av := A[i*k+q]
				br := B[q*n : q*n+n]
				for j := range row {
					row[j] += av * br[j]
				}
			}
		}
	}
}

// matmulF32 multiplies float32 operands; bpack, when not nil, caches the
// packed form of a constant B (y holds B's tensor, its key).
func matmulF32(ctx *Ctx, p *matmulPlan, a, b []float32, y *Tensor, bpack *prepacked) []float32 {
	c := ctx.newRaw(onnx.Float, p.out...).Floats() // beta 0 overwrites every element
	m, n, k := p.m, p.n, p.k
	if p.foldable() {
		// One shared B: stack all A matrices into a single tall product.
		if bpack != nil && m*p.batchLen > 1 {
			bp := bpack.get(y, func() any { return packedB(false, k, n, b, n) }).([]float32)
			simd.SgemmPacked(false, m*p.batchLen, n, k, 1, a, k, bp, 0, c, n, ctx.Threads())
			return c
		}
		if bpack == nil && ctx.opts.NoPrepack && m*p.batchLen <= simd.FewRows {
			// A large model's weight read in place: a few rows (a short
			// sequence) go through it once instead of packing it first.
			simd.SgemmFewRows(false, false, m*p.batchLen, n, k, 1, a, k, b, n, 0, c, n, ctx.Threads())
			return c
		}
		sgemm(ctx.Threads(), false, false, m*p.batchLen, n, k, 1, a, k, b, n, 0, c, n)
		return c
	}
	for bi := 0; bi < p.batchLen; bi++ {
		sgemm(ctx.Threads(), false, false, m, n, k, 1, a[p.aOff[bi]:], k, b[p.bOff[bi]:], n, 0, c[bi*m*n:], n)
	}
	return c
}

// widenTiles gives simd.SgemmRowsTiles the tiles of b, a float16 matrix,
// widened to float32 (exactly).
func widenTiles(b *Tensor) func(dst []float32, p0, p1, j0, j1 int) {
	bv, n := b.Data.([]uint16), b.Shape[1]
	return func(dst []float32, p0, p1, j0, j1 int) {
		w := j1 - j0
		for p := p0; p < p1; p++ {
			simd.FromFloat16s(dst[(p-p0)*w:(p-p0+1)*w], bv[p*n+j0:p*n+j1])
		}
	}
}

// packedB returns op(B) in simd's packed layout.
func packedB(transB bool, k, n int, b []float32, ldb int) []float32 {
	bp := make([]float32, simd.PackedBSize(k, n))
	simd.PackB(transB, k, n, b, ldb, bp)
	return bp
}

// constFloats returns t as float32: t's own slice for float32; constant
// weights of another float type (bconv set) converted once and kept; else
// converted in a buffer of this step (float32Of): a large model's float16
// weight, decoded in each run, would otherwise cost a fresh allocation
// (zeroed, new pages) per run.
func (c *Ctx) constFloats(bconv *prepacked, t *Tensor) ([]float32, error) {
	if bconv != nil && t.DType != onnx.Float && isFloat(t.DType) {
		return convertedOnce(bconv, t)
	}
	if err := floatInput(t); err != nil {
		return nil, err
	}
	return c.float32Of(t)
}

// matMul multiplies x and y; bpack and bconv (nil unless y is constant)
// keep y packed and converted to float32 across runs.
func matMul(ctx *Ctx, x, y *Tensor, bpack, bconv *prepacked) (*Tensor, error) {
	if x.DType != y.DType {
		return nil, fmt.Errorf("input types %s and %s differ", x.DType, y.DType)
	}
	p, err := planMatMul(x.Shape, y.Shape)
	if err != nil {
		return nil, err
	}
	switch x.DType {
	case onnx.Float, onnx.Float16, onnx.BFloat16:
		a, err := ctx.float32Of(x)
		if err != nil {
			return nil, err
		}
		if y.DType == onnx.Float16 && bconv == nil && ctx.opts.NoPrepack && y.Rank() == 2 && p.m*p.batchLen <= simd.FewRows {
			// A large model's float16 weight, decoded in each run: widened
			// a tile at a time rather than into a float32 copy (matmulF32's
			// SgemmFewRows, the same bits).
			c := ctx.newRaw(onnx.Float, p.out...).Floats()
			simd.SgemmRowsTiles(p.m*p.batchLen, p.n, p.k, a, p.k, widenTiles(y), c, p.n, ctx.Threads())
			return ctx.roundFloat32(x.DType, FromSlice(onnx.Float, p.out, c)), nil
		}
		b, err := ctx.constFloats(bconv, y)
		if err != nil {
			return nil, err
		}
		c := matmulF32(ctx, p, a, b, y, bpack)
		if x.DType == onnx.Float16 {
			return ctx.roundFloat32(x.DType, FromSlice(onnx.Float, p.out, c)), nil
		}
		return floatOut(x.DType, p.out, c)
	}
	out := ctx.New(x.DType, p.out...)
	switch c := out.Data.(type) {
	case []float64:
		matmulGeneric(p, x.Data.([]float64), y.Data.([]float64), c)
	case []int64:
		matmulGeneric(p, x.Data.([]int64), y.Data.([]int64), c)
	case []int32:
		matmulGeneric(p, x.Data.([]int32), y.Data.([]int32), c)
	case []uint64:
		matmulGeneric(p, x.Data.([]uint64), y.Data.([]uint64), c)
	case []uint32:
		matmulGeneric(p, x.Data.([]uint32), y.Data.([]uint32), c)
	default:
		return nil, fmt.Errorf("type %s is not supported", x.DType)
	}
	return out, nil
}

// widenInt32 converts 8-bit integer data to int32 minus a zero point that is
// a scalar or varies along axis (size len(zp)) of a tensor with the given shape.
func widenInt32(t *Tensor, zp *Tensor, axis int) ([]int32, error) {
	n := t.Len()
	out := make([]int32, n)
	var get func(i int) int32
	switch d := t.Data.(type) {
	case []uint8:
		get = func(i int) int32 { return int32(d[i]) }
	case []int8:
		get = func(i int) int32 { return int32(d[i]) }
	default:
		return nil, fmt.Errorf("type %s is not supported (want int8 or uint8)", t.DType)
	}
	var zps []int32
	if zp != nil {
		switch d := zp.Data.(type) {
		case []uint8:
			for _, v := range d {
				zps = append(zps, int32(v))
			}
		case []int8:
			for _, v := range d {
				zps = append(zps, int32(v))
			}
		default:
			return nil, fmt.Errorf("zero point type %s is not supported", zp.DType)
		}
	}
	inner := 1
	dim := 1
	if axis >= 0 && axis < len(t.Shape) {
		dim = t.Shape[axis]
		inner = prod(t.Shape[axis+1:])
	}
	for i := range out {
		v := get(i)
		switch {
		case len(zps) == 1:
			v -= zps[0]
		case len(zps) > 1:
			if len(zps) != dim {
				return nil, fmt.Errorf("zero point of %d elements does not match dimension %d", len(zps), dim)
			}
			v -= zps[(i/inner)%dim]
		}
		out[i] = v
	}
	return out, nil
}

func init() {
	mm := func(b *Build) (Kernel, error) {
		var bpack, bconv *prepacked
		if constInput(b, 1) && b.Prepack() {
			bpack, bconv = &prepacked{}, &prepacked{}
		}
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			out, err := matMul(ctx, in[0], in[1], bpack, bconv)
			return []*Tensor{out}, err
		}, nil
	}
	for _, v := range []int64{1, 9, 13} {
		Register("", "MatMul", v, mm)
	}

	Register("", "MatMulInteger", 10, func(b *Build) (Kernel, error) {
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			x, y := in[0], in[1]
			p, err := planMatMul(x.Shape, y.Shape)
			if err != nil {
				return nil, err
			}
			var azp, bzp *Tensor
			if len(in) > 2 {
				azp = in[2]
			}
			if len(in) > 3 {
				bzp = in[3]
			}
			// A's zero point is per row (axis -2), B's per column (axis -1).
			out := ctx.New(onnx.Int32, p.out...)
			if err := matmulI8(ctx, p, x, azp, y, bzp, out.Data.([]int32)); err != nil {
				return nil, err
			}
			return []*Tensor{out}, nil
		}, nil
	})

	gemm := func(b *Build) (Kernel, error) {
		transA := b.Int("transA", 0) != 0
		transB := b.Int("transB", 0) != 0
		alpha := b.Float("alpha", 1)
		beta := b.Float("beta", 1)
		var bpack, bconv *prepacked
		if constInput(b, 1) && b.Prepack() {
			bpack, bconv = &prepacked{}, &prepacked{}
		}
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			x, y := in[0], in[1]
			var c *Tensor
			if len(in) > 2 {
				c = in[2]
			}
			if len(x.Shape) != 2 || len(y.Shape) != 2 {
				return nil, fmt.Errorf("inputs A and B must be 2-D, got %v and %v", x.Shape, y.Shape)
			}
			m, k := x.Shape[0], x.Shape[1]
			if transA {
				m, k = k, m
			}
			k2, n := y.Shape[0], y.Shape[1]
			if transB {
				k2, n = n, k2
			}
			if k != k2 {
				return nil, fmt.Errorf("inner dimensions differ: %v × %v", x.Shape, y.Shape)
			}
			if c != nil && !broadcastsTo(c.Shape, m, n) {
				return nil, fmt.Errorf("input C %v does not broadcast to [%d %d]", c.Shape, m, n)
			}
			switch x.DType {
			case onnx.Float, onnx.Float16, onnx.BFloat16, onnx.Double:
				a, err := ctx.float32Of(x)
				if err != nil {
					return nil, err
				}
				bv, err := ctx.constFloats(bconv, y)
				if err != nil {
					return nil, err
				}
				ot := ctx.newRaw(onnx.Float, m, n) // beta 0 overwrites it
				out := ot.Floats()
				bt := float32(0)
				if c != nil && beta != 0 {
					cv, err := floatIn(c)
					if err != nil {
						return nil, err
					}
					fillBroadcast(out, cv, c.Shape, m, n)
					bt = beta
				}
				lda, ldb := x.Shape[1], y.Shape[1]
				if bpack != nil && m > 1 {
					bp := bpack.get(y, func() any { return packedB(transB, k, n, bv, ldb) }).([]float32)
					simd.SgemmPacked(transA, m, n, k, alpha, a, lda, bp, bt, out, n, ctx.Threads())
				} else {
					sgemm(ctx.Threads(), transA, transB, m, n, k, alpha, a, lda, bv, ldb, bt, out, n)
				}
				if x.DType == onnx.Float || x.DType == onnx.Float16 {
					return []*Tensor{ctx.roundFloat32(x.DType, ot)}, nil
				}
				t, err := floatOut(x.DType, []int{m, n}, out)
				return []*Tensor{t}, err
			}
			return gemmInt(ctx, x, y, c, transA, transB, alpha, beta, m, n, k)
		}, nil
	}
	for _, v := range []int64{1, 6, 7, 9, 11, 13} {
		Register("", "Gemm", v, needInputs(2, gemm))
	}
}

// gemmInt handles Gemm over integer types through int64 arithmetic.
func gemmInt(ctx *Ctx, x, y, c *Tensor, transA, transB bool, alpha, beta float32, m, n, k int) ([]*Tensor, error) {
	get := func(t *Tensor) (func(int) int64, error) {
		switch d := t.Data.(type) {
		case []int64:
			return func(i int) int64 { return d[i] }, nil
		case []int32:
			return func(i int) int64 { return int64(d[i]) }, nil
		case []uint64:
			return func(i int) int64 { return int64(d[i]) }, nil
		case []uint32:
			return func(i int) int64 { return int64(d[i]) }, nil
		}
		return nil, fmt.Errorf("type %s is not supported", t.DType)
	}
	ga, err := get(x)
	if err != nil {
		return nil, err
	}
	gb, err := get(y)
	if err != nil {
		return nil, err
	}
	out := ctx.New(x.DType, m, n)
	lda, ldb := x.Shape[1], y.Shape[1]
	var cs []int
	var gc func(int) int64
	if c != nil {
		if gc, err = get(c); err != nil {
			return nil, err
		}
		cs = broadcastStrides(c.Shape, []int{m, n})
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int64
			for q := 0; q < k; q++ {
				ai, bi := i*lda+q, q*ldb+j
				if transA {
					ai = q*lda + i
				}
				if transB {
					bi = j*ldb + q
				}
				s += ga(ai) * gb(bi)
			}
			v := int64(alpha) * s
			if c != nil {
				v += int64(beta) * gc(i*cs[0]+j*cs[1])
			}
			switch d := out.Data.(type) {
			case []int64:
				d[i*n+j] = v
			case []int32:
				d[i*n+j] = int32(v)
			case []uint64:
				d[i*n+j] = uint64(v)
			case []uint32:
				d[i*n+j] = uint32(v)
			}
		}
	}
	return []*Tensor{out}, nil
}

// broadcastsTo reports whether Gemm's C (rank ≤ 2) broadcasts to m×n: each
// dimension, aligned from the right, 1 or equal.
func broadcastsTo(shape []int, m, n int) bool {
	switch len(shape) {
	case 0:
		return true
	case 1:
		return shape[0] == 1 || shape[0] == n
	case 2:
		return (shape[0] == 1 || shape[0] == m) && (shape[1] == 1 || shape[1] == n)
	}
	return false
}

// fillBroadcast writes C (a broadcastsTo shape) broadcast to m×n into out,
// without the tensors that Broadcast makes.
func fillBroadcast(out, cv []float32, shape []int, m, n int) {
	cm, cn := 1, 1
	switch len(shape) {
	case 1:
		cn = shape[0]
	case 2:
		cm, cn = shape[0], shape[1]
	}
	for i := 0; i < m; i++ {
		row, src := out[i*n:(i+1)*n], cv[i%cm*cn:]
		if cn == n {
			copy(row, src[:n])
			continue
		}
		for j := range row {
			row[j] = src[0]
		}
	}
}
