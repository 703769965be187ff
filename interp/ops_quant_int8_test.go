package interp

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestIntegerI8Exact checks the integer convolution and matrix product on
// the int8 GEMM against the direct int32 loops exactly: every pairing of
// uint8 and int8 operands, zero points absent, per tensor and per channel
// (row/column), extreme values, and convolution shapes off the kernel's
// tiles (1-D, strides, dilations, asymmetric pads, groups, depthwise).
func TestIntegerI8Exact(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	bytesOf := func(dt onnx.DataType, n int) *Tensor {
		if dt == onnx.Uint8 {
			v := make([]uint8, n)
			for i := range v {
				v[i] = uint8(r.IntN(256))
				if r.IntN(4) == 0 {
					v[i] = []uint8{0, 255}[r.IntN(2)]
				}
			}
			return FromSlice(dt, []int{n}, v)
		}
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(r.IntN(256) - 128)
			if r.IntN(4) == 0 {
				v[i] = []int8{-128, 127}[r.IntN(2)]
			}
		}
		return FromSlice(dt, []int{n}, v)
	}
	shaped := func(t *Tensor, shape []int) *Tensor { t.Shape = shape; return t }
	// zp: 0 none, 1 per tensor, 2 per channel of length n.
	zpOf := func(dt onnx.DataType, kind, n int) *Tensor {
		switch kind {
		case 1:
			return shaped(bytesOf(dt, 1), nil)
		case 2:
			return bytesOf(dt, n)
		}
		return nil
	}
	ctx := testCtx()
	types := []onnx.DataType{onnx.Uint8, onnx.Int8}
	for _, tc := range []struct {
		xs, ws              []int
		strides, pads, dils []int64
		group               int
	}{
		{[]int{1, 3, 9, 9}, []int{8, 3, 3, 3}, []int64{1, 1}, []int64{1, 1, 1, 1}, []int64{1, 1}, 1},
		{[]int{2, 64, 7, 7}, []int{16, 64, 3, 3}, []int64{2, 2}, []int64{1, 1, 1, 1}, []int64{1, 1}, 1},
		{[]int{1, 300, 5, 5}, []int{4, 300, 1, 1}, []int64{1, 1}, []int64{0, 0, 0, 0}, []int64{1, 1}, 1},
		{[]int{1, 16, 10, 10}, []int{16, 1, 3, 3}, []int64{1, 1}, []int64{1, 1, 1, 1}, []int64{1, 1}, 16},
		{[]int{1, 8, 6, 6}, []int{8, 4, 3, 3}, []int64{1, 1}, []int64{0, 0, 0, 0}, []int64{1, 1}, 2},
		{[]int{1, 5, 11, 7}, []int{9, 5, 3, 2}, []int64{2, 1}, []int64{0, 2, 1, 0}, []int64{2, 1}, 1},
		{[]int{2, 6, 20}, []int{10, 6, 5}, []int64{3}, []int64{2, 1}, []int64{2}, 1},
		{[]int{1, 4, 3, 4, 5}, []int{3, 4, 2, 2, 3}, []int64{1, 1, 2}, []int64{1, 0, 1, 0, 1, 1}, []int64{1, 1, 1}, 1},
		// DeepLab's ASPP on a small map: taps that read only padding.
		{[]int{1, 4, 8, 8}, []int{5, 4, 3, 3}, []int64{1, 1}, []int64{12, 12, 12, 12}, []int64{12, 12}, 1},
		{[]int{1, 3, 5, 6}, []int{2, 3, 3, 3}, []int64{2, 2}, []int64{9, 9, 9, 9}, []int64{9, 9}, 1},
	} {
		for _, xt := range types {
			for _, wt := range types {
				for zk := 0; zk < 3; zk++ {
					name := fmt.Sprintf("conv_%v_%v_x%v_w%v_zp%d", tc.xs, tc.ws, xt, wt, zk)
					x, w := shaped(bytesOf(xt, prod(tc.xs)), tc.xs), shaped(bytesOf(wt, prod(tc.ws)), tc.ws)
					xzp := zpOf(xt, min(zk, 1), 1)
					wzp := zpOf(wt, zk, tc.ws[0])
					wa := windowAttrs{kernel: ints64(tc.ws[2:]), strides: tc.strides, pads: tc.pads, dilations: tc.dils}
					g, err := wa.geometry(tc.xs[2:], tc.ws[2:])
					if err != nil {
						t.Fatal(err)
					}
					xv, err := widenInt32(x, xzp, -1)
					if err != nil {
						t.Fatal(err)
					}
					wv, err := widenInt32(w, wzp, 0)
					if err != nil {
						t.Fatal(err)
					}
					want, wshape, err := convInt32(xv, tc.xs, wv, tc.ws, g, tc.group)
					if err != nil {
						t.Fatal(err)
					}
					// Cached weights or not; im2col in one chunk, or a chunk
					// per output line on one thread and on two (chunks
					// spread over the threads).
					for v, chunkBytes := range []int{i8ColChunk, 1, 1} {
						ctx := testCtx()
						ctx.opts.Threads = 1 + v/2
						for _, cached := range []*prepacked{nil, {}} {
							func() {
								defer func(b int) { i8ColChunk = b }(i8ColChunk)
								i8ColChunk = chunkBytes
								got, gshape, err := quantConv(ctx, wa, tc.group, x, xzp, w, wzp, cached)
								if err != nil {
									t.Fatalf("%s: %v", name, err)
								}
								if !slices.Equal(gshape, wshape) || !slices.Equal(got, want) {
									t.Fatalf("%s (chunks of %d bytes, %d threads): int8 GEMM path differs from the int32 loop (shapes %v, %v)", name, chunkBytes, ctx.opts.Threads, gshape, wshape)
								}
							}()
						}
					}
				}
			}
		}
	}
	for _, tc := range []struct{ as, bs []int }{
		{[]int{5, 40}, []int{40, 7}},
		{[]int{3, 33, 700}, []int{700, 19}},
		{[]int{2, 1, 300}, []int{2, 300, 17}},
		{[]int{9, 3}, []int{3, 70}},
	} {
		for _, at := range types {
			for _, bt := range types {
				for zk := 0; zk < 3; zk++ {
					name := fmt.Sprintf("matmul_%v_%v_a%v_b%v_zp%d", tc.as, tc.bs, at, bt, zk)
					p, err := planMatMul(tc.as, tc.bs)
					if err != nil {
						t.Fatal(err)
					}
					a, b := shaped(bytesOf(at, prod(tc.as)), tc.as), shaped(bytesOf(bt, prod(tc.bs)), tc.bs)
					azp, bzp := zpOf(at, zk, p.m), zpOf(bt, zk, p.n)
					av, err := widenInt32(a, azp, len(tc.as)-2)
					if err != nil {
						t.Fatal(err)
					}
					bv, err := widenInt32(b, bzp, len(tc.bs)-1)
					if err != nil {
						t.Fatal(err)
					}
					want, got := make([]int32, prod(p.out)), make([]int32, prod(p.out))
					matmulGeneric(p, av, bv, want)
					if err := matmulI8(ctx, p, a, azp, b, bzp, got); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("%s: int8 GEMM path differs from the int32 loop", name)
					}
				}
			}
		}
	}
}

func ints64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// convInt32 is a direct N-d convolution of int32 data (x: N×C×spatial,
// w: M×C/group×kernel) into int32 accumulators N×M×out.
func convInt32(x []int32, xs []int, w []int32, ws []int, g *spatialGeom, group int) ([]int32, []int, error) {
	n, c, m := xs[0], xs[1], ws[0]
	if group <= 0 || c%group != 0 || m%group != 0 || ws[1]*group != c {
		return nil, nil, fmt.Errorf("group %d does not fit input %v and weights %v", group, xs, ws)
	}
	nsp := len(xs) - 2
	inSize, outSize, kSize := numElements(xs[2:]), numElements(g.out), numElements(g.kernel)
	// Offsets of each (output position, kernel position) pair in an input
	// channel, -1 where the window reads padding.
	tab := make([]int, outSize*kSize)
	ist := contiguousStrides(xs[2:])
	opos, kpos := make([]int, nsp), make([]int, nsp)
	for o := 0; o < outSize; o++ {
		rem := o
		for d := nsp - 1; d >= 0; d-- {
			opos[d] = rem % g.out[d]
			rem /= g.out[d]
		}
		for k := 0; k < kSize; k++ {
			rem := k
			for d := nsp - 1; d >= 0; d-- {
				kpos[d] = rem % g.kernel[d]
				rem /= g.kernel[d]
			}
			off := 0
			for d := 0; d < nsp; d++ {
				p := opos[d]*g.strides[d] - g.padB[d] + kpos[d]*g.dilations[d]
				if p < 0 || p >= xs[2+d] {
					off = -1
					break
				}
				off += p * ist[d]
			}
			tab[o*kSize+k] = off
		}
	}
	cg, mg := c/group, m/group
	out := make([]int32, n*m*outSize)
	for b := 0; b < n; b++ {
		for oc := 0; oc < m; oc++ {
			gi := oc / mg
			dst := out[(b*m+oc)*outSize : (b*m+oc+1)*outSize]
			for ci := 0; ci < cg; ci++ {
				src := x[(b*c+gi*cg+ci)*inSize:]
				wk := w[(oc*cg+ci)*kSize : (oc*cg+ci+1)*kSize]
				for o := range dst {
					row := tab[o*kSize : (o+1)*kSize]
					var s int32
					for k, off := range row {
						if off >= 0 {
							s += src[off] * wk[k]
						}
					}
					dst[o] += s
				}
			}
		}
	}
	return out, append([]int{n, m}, g.out...), nil
}
