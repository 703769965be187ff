package interp

import (
	"github.com/onnxslim/onnxslim/interp/simd"
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

func maxAbs32(v []int32) int32 {
	var m int32
	for _, x := range v {
		if x < 0 {
			x = -x
		}
		m = max(m, x)
	}
	return m
}

func toFloat32(v []int32) []float32 {
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return f
}

// convIntFloat is convInt32's result (x: N×C×spatial, w: M×C/group×kernel,
// both already minus their zero points) computed by convF32 in blocks of
// input channels. ok is false where blocking cannot help (a grouped conv
// whose per-group depth exceeds one exact block): the caller then runs the
// direct integer loop.
func convIntFloat(ctx *Ctx, xv []int32, xs []int, wv []int32, ws []int, wa windowAttrs, group int) (acc []int32, shape []int, ok bool, err error) {
	kvol := prod(ws[2:])
	cb := exactK(maxAbs32(xv), maxAbs32(wv)) / kvol // input channels per exact block
	cg := ws[1]
	if cb < 1 || (group > 1 && cg > cb) {
		return nil, nil, false, nil
	}
	a := convAttrs{w: wa, group: group}
	if cg <= cb {
		shape, y, err := convF32(ctx, a, xs, ws, nil, toFloat32(xv), toFloat32(wv), nil)
		if err != nil {
			return nil, nil, true, err
		}
		acc = make([]int32, len(y))
		for i, v := range y {
			acc[i] = int32(v)
		}
		return acc, shape, true, nil
	}
	// group == 1 and C > cb: channel blocks [c0, c1) of x and of w.
	n, c, m := xs[0], xs[1], ws[0]
	isz := prod(xs[2:])
	for c0 := 0; c0 < c; c0 += cb {
		c1 := min(c, c0+cb)
		xb := make([]float32, n*(c1-c0)*isz)
		for b := 0; b < n; b++ {
			src := xv[(b*c+c0)*isz : (b*c+c1)*isz]
			dst := xb[b*(c1-c0)*isz:]
			for i, v := range src {
				dst[i] = float32(v)
			}
		}
		wb := make([]float32, m*(c1-c0)*kvol)
		for j := 0; j < m; j++ {
			src := wv[(j*c+c0)*kvol : (j*c+c1)*kvol]
			dst := wb[j*(c1-c0)*kvol:]
			for i, v := range src {
				dst[i] = float32(v)
			}
		}
		xsb := append([]int{n, c1 - c0}, xs[2:]...)
		wsb := append([]int{m, c1 - c0}, ws[2:]...)
		s, y, err := convF32(ctx, a, xsb, wsb, nil, xb, wb, nil)
		if err != nil {
			return nil, nil, true, err
		}
		if acc == nil {
			acc, shape = make([]int32, len(y)), s
		}
		for i, v := range y {
			acc[i] += int32(v)
		}
	}
	return acc, shape, true, nil
}

// matmulIntFloat is MatMulInteger's product (a, b already minus their zero
// points, laid out as the plan says) through the float32 SGEMM, in blocks
// of the inner dimension whose sums are exact.
func matmulIntFloat(ctx *Ctx, p *matmulPlan, a, b, c []int32) {
	kb := max(1, exactK(maxAbs32(a), maxAbs32(b)))
	af, bf := toFloat32(a), toFloat32(b)
	m, n, k := p.m, p.n, p.k
	tmp := make([]float32, m*n)
	for bi := 0; bi < p.batchLen; bi++ {
		C := c[bi*m*n : (bi+1)*m*n]
		for k0 := 0; k0 < k; k0 += kb {
			kc := min(kb, k-k0)
			simd.Sgemm(false, false, m, n, kc, 1, af[p.aOff[bi]+k0:], k, bf[p.bOff[bi]+k0*n:], n, 0, tmp, n, ctx.Threads())
			for i, v := range tmp {
				C[i] += int32(v)
			}
		}
	}
}
