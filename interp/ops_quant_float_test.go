package interp

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIntegerViaFloatExact checks that the integer convolution and matrix
// product through the float32 kernels equal the direct int32 loops exactly,
// with extreme 8-bit values and depths that need several exact blocks.
func TestIntegerViaFloatExact(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	ints := func(n int, lo, hi int32) []int32 {
		v := make([]int32, n)
		for i := range v {
			v[i] = lo + r.Int32N(hi-lo+1)
			if r.IntN(8) == 0 { // plenty of extremes: the bound must hold for them
				v[i] = []int32{lo, hi}[r.IntN(2)]
			}
		}
		return v
	}
	ctx := testCtx()
	for _, tc := range []struct {
		n, c, m, hw, k, stride, pad, group int
		lo, hi                             int32 // range of x and w after zero points
	}{
		{1, 3, 8, 9, 3, 1, 1, 1, -255, 255},     // one block
		{2, 64, 16, 7, 3, 2, 1, 1, -255, 255},   // 576 deep: three blocks of 28 channels
		{1, 300, 4, 5, 1, 1, 0, 1, -128, 127},   // 1×1, 300 deep
		{1, 16, 16, 10, 3, 1, 1, 16, -255, 255}, // depthwise
		{1, 8, 8, 6, 3, 1, 0, 2, -200, 200},     // grouped
	} {
		t.Run(fmt.Sprintf("conv_c%d_k%d_g%d", tc.c, tc.k, tc.group), func(t *testing.T) {
			xs := []int{tc.n, tc.c, tc.hw, tc.hw}
			ws := []int{tc.m, tc.c / tc.group, tc.k, tc.k}
			x, w := ints(prod(xs), tc.lo, tc.hi), ints(prod(ws), tc.lo, tc.hi)
			wa := windowAttrs{kernel: []int64{int64(tc.k), int64(tc.k)}, strides: []int64{int64(tc.stride), int64(tc.stride)},
				pads: []int64{int64(tc.pad), int64(tc.pad), int64(tc.pad), int64(tc.pad)}, dilations: []int64{1, 1}}
			g, err := wa.geometry(xs[2:], ws[2:])
			if err != nil {
				t.Fatal(err)
			}
			want, wshape, err := convInt32(x, xs, w, ws, g, tc.group)
			if err != nil {
				t.Fatal(err)
			}
			got, gshape, ok, err := convIntFloat(ctx, asWidened(x), xs, asWidened(w), ws, wa, tc.group)
			if err != nil || !ok {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			if !slices.Equal(gshape, wshape) || !slices.Equal(got, want) {
				t.Fatalf("float path differs from the integer loop (shapes %v, %v)", gshape, wshape)
			}
		})
	}
	for _, tc := range []struct{ as, bs []int }{
		{[]int{5, 40}, []int{40, 7}},
		{[]int{3, 33, 700}, []int{700, 19}}, // three exact blocks
		{[]int{2, 1, 300}, []int{2, 300, 17}},
	} {
		t.Run(fmt.Sprintf("matmul_%v_%v", tc.as, tc.bs), func(t *testing.T) {
			p, err := planMatMul(tc.as, tc.bs)
			if err != nil {
				t.Fatal(err)
			}
			a, b := ints(prod(tc.as), -255, 255), ints(prod(tc.bs), -255, 255)
			want, got := make([]int32, prod(p.out)), make([]int32, prod(p.out))
			matmulGeneric(p, a, b, want)
			matmulIntFloat(ctx, p, asWidened(a), asWidened(b), got)
			if !slices.Equal(got, want) {
				t.Fatal("float path differs from the integer loop")
			}
		})
	}
}

func asWidened(v []int32) widened {
	f := make([]float32, len(v))
	var m int32
	for i, x := range v {
		f[i] = float32(x)
		m = max(m, x, -x)
	}
	return widened{f, m}
}
