package quantize

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
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
// zeros, ties and a NaN (which must not poison other blocks); where the
// rows after the axis are even, packBlockedInt4 gives them packed.
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
		{[]int64{8, 33, 2, 3}, 1, 32},
		{[]int64{3, 70, 10}, 1, 16},
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
		// Infinities, subnormals and exact ties (block maxima of ±7 make
		// scale 1, so k + 0.5 sits on a rounding tie).
		w[n/3], w[n/5] = float32(math.Inf(1)), float32(math.Inf(-1))
		w[n/7], w[n/11] = math.SmallestNonzeroFloat32, -1e-40
		if tc.axis == 0 && tc.block == 32 {
			for i := 0; i < 32*int(tc.dims[1]) && i < n/4; i++ {
				w[i] = float32(i%15-7) + 0.5
				if i%16 == 0 {
					w[i] = 7
				}
			}
		}
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
		if _, inner := axisLayout(tc.dims, tc.axis); inner%2 == 0 {
			packed, s, sdims := packBlockedInt4(w, tc.dims, tc.axis, tc.block)
			_, _, wantDims := quantBlocked(w, tc.dims, tc.axis, tc.block)
			if !bytes.Equal(packed.Raw, int4Tensor(tc.dims, wantQ).Raw) || !slices.Equal(sdims, wantDims) ||
				!bytes.Equal(float32Tensor(sdims, s).Raw, float32Tensor(sdims, wantS).Raw) {
				t.Errorf("%v axis %d: packBlockedInt4 differs from the reference packed", tc.dims, tc.axis)
			}
		}
	}
}

// TestFloat16TensorMatchesScalar: the chunked, vectorised float16 weights
// are bit for bit the element-by-element conversion (clamp to ±65504, then
// interp.Float32ToFloat16), on random values and on NaN, ±Inf, ±0, float32
// subnormals, float16 subnormal ties and the clamping boundary.
func TestFloat16TensorMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	edges := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), math.Float32frombits(0xFFC01234), math.Float32frombits(0x7F800001),
		float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32,
		65504, 65505, -65519, 65520, 1e6, 0x1p-24, 0x1p-25, -0x1p-25, 3 * 0x1p-25, 0x1p-14, 1 + 0x1p-11, 1 + 3*0x1p-11}
	for _, n := range []int{0, 1, 7, 9, len(edges), 1<<16 + 13, 1<<18 + 5} {
		x := make([]float32, n)
		for i := range x {
			switch {
			case i < len(edges):
				x[i] = edges[i]
			case i%5 == 0:
				x[i] = math.Float32frombits(rng.Uint32())
			default:
				x[i] = float32(rng.NormFloat64() * math.Ldexp(1, rng.IntN(40)-24))
			}
		}
		got, gotClamped := float16Tensor([]int64{int64(n)}, x)
		clamped := 0
		for i, v := range x {
			if a := float32(math.Abs(float64(v))); a > fp16Max && a <= math.MaxFloat32 {
				v = float32(math.Copysign(fp16Max, float64(v)))
				clamped++
			}
			h := interp.Float32ToFloat16(v)
			if g := uint16(got.Raw[2*i]) | uint16(got.Raw[2*i+1])<<8; g != h {
				t.Fatalf("n=%d: x[%d] = %g (%#08x) → %#04x, want %#04x", n, i, x[i], math.Float32bits(x[i]), g, h)
			}
		}
		if gotClamped != clamped {
			t.Fatalf("n=%d: %d clamped, want %d", n, gotClamped, clamped)
		}
	}
}

// TestPackInt4: packInt4 (eight elements a word) gives the bytes of the
// element-by-element packing for every length around the word, odd
// lengths included, and every nibble value.
func TestPackInt4(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for n := 0; n <= 70; n++ {
		q := make([]int8, n)
		for i := range q {
			q[i] = int8(r.IntN(16) - 8)
		}
		want := make([]byte, (n+1)/2)
		for b := range want {
			want[b] = byte(q[2*b]) & 0xF
			if 2*b+1 < n {
				want[b] |= (byte(q[2*b+1]) & 0xF) << 4
			}
		}
		got := make([]byte, len(want)+1)
		got[len(want)] = 0xAA
		packInt4(got[:len(want)], q)
		if got[len(want)] != 0xAA {
			t.Fatalf("n=%d: wrote past dst", n)
		}
		for b := range want {
			if got[b] != want[b] {
				t.Fatalf("n=%d: byte %d = %#02x, want %#02x (q %v)", n, b, got[b], want[b], q)
			}
		}
	}
}
