package simd

import "math"

// Avg2x2Row writes the means of the 2×2 stride-2 windows over two input
// rows: dst[i] = (((0 + r0[2i]) + r0[2i+1]) + r1[2i]) + r1[2i+1], divided
// by 4: the taps in row-major order from +0, as the scalar pooling loop adds
// them. r0 and r1 must hold 2·len(dst) floats.
func Avg2x2Row(dst, r0, r1 []float32) {
	need("Avg2x2Row", 2*len(dst), r0, r1)
	n := 0
	if ks.avg2x2 != nil {
		n = len(dst) &^ 15
		ks.avg2x2(dst[:n], r0, r1)
	}
	avg2x2Go(dst[n:], r0[2*n:], r1[2*n:])
}

// Max2x2Row writes the maxima of the 2×2 stride-2 windows over two input
// rows, visiting r0[2i], r0[2i+1], r1[2i], r1[2i+1] in that order from
// -Inf and taking a tap only when it is greater: NaN taps are skipped and
// the first of equal taps (+0 and -0) is kept. r0 and r1 must hold
// 2·len(dst) floats.
func Max2x2Row(dst, r0, r1 []float32) {
	need("Max2x2Row", 2*len(dst), r0, r1)
	n := 0
	if ks.max2x2 != nil {
		n = len(dst) &^ 15
		ks.max2x2(dst[:n], r0, r1)
	}
	max2x2Go(dst[n:], r0[2*n:], r1[2*n:])
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
