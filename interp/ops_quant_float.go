package interp

import (
	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// Integer convolutions and matrix products through the float32 kernels.
//
// A float32 sum of integer products is exact while every partial sum stays
// below 2^24 in magnitude, and FMA adds exactly then too. So ConvInteger,
// QLinearConv and MatMulInteger run on the float32 GEMM and convolution
// kernels in blocks of K (input channels × kernel taps, or the inner
// dimension) small enough that K·max|a|·max|b| < 2^24 — at least 258 for
// any 8-bit operands, far more for typical data — and add the blocks' exact
// results in int32. The result is the ops' integer result exactly, at
// float speed.

// exactK is the largest number of products of integers bounded by maxA and
// maxB whose float32 sum is exact.
func exactK(maxA, maxB int32) int {
	p := int64(maxA) * int64(maxB)
	if p == 0 {
		return 1 << 30
	}
	return int((1 << 24) / p)
}

// widened is an 8-bit tensor minus its zero point(s), as float32 (exact),
// and the largest magnitude in it.
type widened struct {
	v    []float32
	maxv int32
}

// widenFloat is widenInt32 straight to float32 (into f when it is long
// enough, else a new slice), with the largest magnitude.
func widenFloat(t, zp *Tensor, axis int, f []float32) (widened, error) {
	if zp == nil || zp.Len() == 1 {
		// One zero point: straight from the bytes.
		var z int32
		if zp != nil {
			switch d := zp.Data.(type) {
			case []uint8:
				z = int32(d[0])
			case []int8:
				z = int32(d[0])
			}
		}
		switch d := t.Data.(type) {
		case []uint8:
			return widenBytes(d, z, f), nil
		case []int8:
			return widenBytes(d, z, f), nil
		}
	}
	iv, err := widenInt32(t, zp, axis)
	if err != nil {
		return widened{}, err
	}
	if len(f) < len(iv) {
		f = make([]float32, len(iv))
	}
	f = f[:len(iv)]
	var m int32
	for i, x := range iv {
		f[i] = float32(x)
		if x < 0 {
			x = -x
		}
		m = max(m, x)
	}
	return widened{f, m}, nil
}

func toInt32(f []float32) []int32 {
	v := make([]int32, len(f))
	for i, x := range f {
		v[i] = int32(x)
	}
	return v
}

// convIntFloat is convInt32's result (x: N×C×spatial, w: M×C/group×kernel,
// both already minus their zero points) computed by convF32 in blocks of
// input channels, into acc. ok is false where blocking cannot help (a
// grouped conv whose per-group depth exceeds one exact block): the caller
// then runs the direct integer loop.
func convIntFloat(ctx *Ctx, x widened, xs []int, w widened, ws []int, wa windowAttrs, group int) (acc []int32, shape []int, ok bool, err error) {
	kvol := prod(ws[2:])
	cb := exactK(x.maxv, w.maxv) / kvol // input channels per exact block
	cg := ws[1]
	if cb < 1 || (group > 1 && cg > cb) {
		return nil, nil, false, nil
	}
	a := convAttrs{w: wa, group: group}
	if cg <= cb {
		shape, y, err := convF32(ctx, a, xs, ws, nil, x.v, w.v, nil)
		if err != nil {
			return nil, nil, true, err
		}
		acc = ctx.newRaw(onnx.Int32, len(y)).Data.([]int32)
		for i, v := range y {
			acc[i] = int32(v)
		}
		return acc, shape, true, nil
	}
	// group == 1 and C > cb: channel blocks [c0, c1) of x and of w.
	n, c, m := xs[0], xs[1], ws[0]
	isz := prod(xs[2:])
	xb := newFloats(ctx, n*cb*isz)
	wb := newFloats(ctx, m*cb*kvol)
	for c0 := 0; c0 < c; c0 += cb {
		c1 := min(c, c0+cb)
		for b := 0; b < n; b++ {
			copy(xb[b*(c1-c0)*isz:], x.v[(b*c+c0)*isz:(b*c+c1)*isz])
		}
		for j := 0; j < m; j++ {
			copy(wb[j*(c1-c0)*kvol:], w.v[(j*c+c0)*kvol:(j*c+c1)*kvol])
		}
		xsb := append([]int{n, c1 - c0}, xs[2:]...)
		wsb := append([]int{m, c1 - c0}, ws[2:]...)
		s, y, err := convF32(ctx, a, xsb, wsb, nil, xb[:n*(c1-c0)*isz], wb[:m*(c1-c0)*kvol], nil)
		if err != nil {
			return nil, nil, true, err
		}
		if acc == nil {
			acc, shape = ctx.New(onnx.Int32, len(y)).Data.([]int32), s
		}
		for i, v := range y {
			acc[i] += int32(v)
		}
	}
	return acc, shape, true, nil
}

// matmulIntFloat is MatMulInteger's product (a, b already minus their zero
// points, laid out as the plan says) through the float32 SGEMM, in blocks
// of the inner dimension whose sums are exact, added into c.
func matmulIntFloat(ctx *Ctx, p *matmulPlan, a, b widened, c []int32) {
	kb := max(1, exactK(a.maxv, b.maxv))
	m, n, k := p.m, p.n, p.k
	tmp := newFloats(ctx, m*n)
	for bi := 0; bi < p.batchLen; bi++ {
		C := c[bi*m*n : (bi+1)*m*n]
		for k0 := 0; k0 < k; k0 += kb {
			kc := min(kb, k-k0)
			simd.Sgemm(false, false, m, n, kc, 1, a.v[p.aOff[bi]+k0:], k, b.v[p.bOff[bi]+k0*n:], n, 0, tmp, n, ctx.Threads())
			for i, v := range tmp {
				C[i] += int32(v)
			}
		}
	}
}

func widenBytes[T uint8 | int8](d []T, z int32, f []float32) widened {
	if len(f) < len(d) {
		f = make([]float32, len(d))
	}
	f = f[:len(d)]
	lo, hi := int32(255), int32(-255)
	for i, b := range d {
		x := int32(b) - z
		f[i] = float32(x)
		lo, hi = min(lo, x), max(hi, x)
	}
	return widened{f, max(hi, -lo, 0)}
}
