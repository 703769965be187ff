package quantize

import (
	"math"
	"math/rand/v2"
	"testing"
)

// quantBlockedRef is quantBlocked written element by element, as the ONNX
// block quantization is defined: the reference for the fast version.
func quantBlockedRef(w []float32, dims []int64, axis, block int) ([]int8, []float32) {
	dim, inner := axisLayout(dims, axis)
	sdim := (dim + block - 1) / block
	idx := func(i int) int {
		o, c, in := i/(dim*inner), (i/inner)%dim, i%inner
		return (o*sdim+c/block)*inner + in
	}
	amax := make([]float64, len(w)/dim*sdim+inner)
	for i, v := range w {
		amax[idx(i)] = max(amax[idx(i)], math.Abs(float64(v)))
	}
	scales := make([]float32, len(w)/(dim*inner)*sdim*inner)
	for k := range scales {
		scales[k] = float32(amax[k] / 7)
		if scales[k] == 0 {
			scales[k] = 1
		}
	}
	q := make([]int8, len(w))
	for i, v := range w {
		q[i] = int8(min(max(math.RoundToEven(float64(v)/float64(scales[idx(i)])), -8), 7))
	}
	return q, scales
}

// TestQuantBlocked: the parallel int4 quantizer gives the reference's
// integers and scales on shapes with partial blocks, on every axis, with
// zeros, ties and a NaN (which must not poison other blocks).
func TestQuantBlocked(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		dims        []int64
		axis, block int
	}{
		{[]int64{64, 48}, 0, 32},
		{[]int64{70, 3}, 0, 32},
		{[]int64{5, 100}, 1, 16},
		{[]int64{8, 33, 3, 3}, 1, 32},
		{[]int64{2, 3, 129}, 2, 64},
		{[]int64{1 << 10, 300}, 0, 128},
	} {
		n := 1
		for _, d := range tc.dims {
			n *= int(d)
		}
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
			if i%17 == 0 {
				w[i] = 0
			}
		}
		w[n/2] = float32(math.NaN())
		wantQ, wantS := quantBlockedRef(w, tc.dims, tc.axis, tc.block)
		gotQ, gotS, _ := quantBlocked(w, tc.dims, tc.axis, tc.block)
		if len(gotS) != len(wantS) || len(gotQ) != len(wantQ) {
			t.Fatalf("%v axis %d: %d scales %d values, want %d %d", tc.dims, tc.axis, len(gotS), len(gotQ), len(wantS), len(wantQ))
		}
		for k := range wantS {
			if math.Float32bits(gotS[k]) != math.Float32bits(wantS[k]) {
				t.Fatalf("%v axis %d: scale %d = %v, want %v", tc.dims, tc.axis, k, gotS[k], wantS[k])
			}
		}
		for i := range wantQ {
			if gotQ[i] != wantQ[i] {
				t.Fatalf("%v axis %d: element %d = %d, want %d", tc.dims, tc.axis, i, gotQ[i], wantQ[i])
			}
		}
	}
}
