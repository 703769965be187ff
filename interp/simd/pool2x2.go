package simd

import (
	"fmt"
	"math"
)

// Avg2x2Rows writes rows output rows of n means of 2×2 stride-2 windows:
// output row i at dst[i·dstStride:] from the input rows r0 = src[2i·srcW:]
// and r1 = src[(2i+1)·srcW:], dst[j] = (((0 + r0[2j]) + r0[2j+1]) +
// r1[2j]) + r1[2j+1], divided by 4: the taps in row-major order from +0,
// as the scalar pooling loop adds them. One call covers a whole tensor of
// unpadded planes of even height (srcW = W, dstStride = W/2).
func Avg2x2Rows(dst, src []float32, n, rows, srcW, dstStride int) {
	pool2x2Check("Avg2x2Rows", dst, src, n, rows, srcW, dstStride)
	if ks.avg2x2 != nil {
		ks.avg2x2(dst, src, n, rows, srcW, dstStride, pool2x2Tail(n))
		return
	}
	for i := 0; i < rows; i++ {
		r := src[2*i*srcW:]
		avg2x2Go(dst[i*dstStride:i*dstStride+n], r, r[srcW:])
	}
}

// Max2x2Rows is Avg2x2Rows for maxima: each output visits r0[2j],
// r0[2j+1], r1[2j], r1[2j+1] in that order from -Inf and takes a tap only
// when it is greater, so NaN taps are skipped and the first of equal taps
// (+0 and -0) is kept.
func Max2x2Rows(dst, src []float32, n, rows, srcW, dstStride int) {
	pool2x2Check("Max2x2Rows", dst, src, n, rows, srcW, dstStride)
	if ks.max2x2 != nil {
		ks.max2x2(dst, src, n, rows, srcW, dstStride, pool2x2Tail(n))
		return
	}
	for i := 0; i < rows; i++ {
		r := src[2*i*srcW:]
		max2x2Go(dst[i*dstStride:i*dstStride+n], r, r[srcW:])
	}
}

// pool2x2Check panics unless the rows fit in dst and src and the output
// rows do not overlap.
func pool2x2Check(op string, dst, src []float32, n, rows, srcW, dstStride int) {
	if n < 0 || rows < 0 || (rows > 1 && dstStride < n) || (rows > 0 && srcW < 2*n) {
		panic(fmt.Sprintf("simd: %s: %d rows of %d outputs with strides %d (input) and %d (output)", op, rows, n, srcW, dstStride))
	}
	if rows == 0 || n == 0 {
		return
	}
	need(op, (rows-1)*dstStride+n, dst)
	need(op, (2*rows-1)*srcW+2*n, src)
}

// pool2x2Tail is the kernels' masks for the last n mod 16 outputs of a
// row: their 2·(n mod 16) inputs over two vectors, then their stores.
func pool2x2Tail(n int) uint64 {
	t := uint64(n & 15)
	lo := uint64(1)<<min(2*t, 16) - 1
	hi := uint64(1)<<(max(2*t, 16)-16) - 1
	return lo | hi<<16 | (uint64(1)<<t-1)<<32
}

func avg2x2Go(dst, r0, r1 []float32) {
	r0, r1 = r0[:2*len(dst)], r1[:2*len(dst)]
	for i := range dst {
		s := 0 + r0[2*i]
		s += r0[2*i+1]
		s += r1[2*i]
		s += r1[2*i+1]
		dst[i] = s * 0.25
	}
}

func max2x2Go(dst, r0, r1 []float32) {
	r0, r1 = r0[:2*len(dst)], r1[:2*len(dst)]
	for i := range dst {
		v := float32(math.Inf(-1))
		for _, t := range [4]float32{r0[2*i], r0[2*i+1], r1[2*i], r1[2*i+1]} {
			if t > v {
				v = t
			}
		}
		dst[i] = v
	}
}
