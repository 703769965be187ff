package interp

import (
	"fmt"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// Integer convolutions and matrix products on the int8 GEMM (simd.GemmU8I8:
// int8 rows × uint8 columns → int32, VNNI where the CPU has it).
//
// Every 8-bit operand type is brought to that pair by an offset folded into
// its zero point: uint8 weights (rows) become w-128 as int8, int8
// activations (columns) become x+128 as uint8. The product of the operands
// minus their zero points is then
//
//	Σ(a-za)(b-zb) = Σab - zb·Σa - za·Σb + K·za·zb
//
// with the row sums kept in the packed operand and the column sums taken
// while packing. All of it wraps modulo 2^32 like the ops' int32 result,
// so it is that result exactly.

// zeroPointsInt32 reads a zero point tensor (nil: 0) as n values, one per
// row or channel, or broadcast from one; shift is added to each.
func zeroPointsInt32(zp *Tensor, n int, shift int32, what string) ([]int32, error) {
	out := make([]int32, n)
	var v []int32
	if zp != nil {
		switch d := zp.Data.(type) {
		case []uint8:
			for _, x := range d {
				v = append(v, int32(x))
			}
		case []int8:
			for _, x := range d {
				v = append(v, int32(x))
			}
		default:
			return nil, fmt.Errorf("%s type %s is not supported (want int8 or uint8)", what, zp.DType)
		}
	}
	switch len(v) {
	case 0, 1, n:
	default:
		return nil, fmt.Errorf("%s of %d elements fits neither one value nor %d", what, len(v), n)
	}
	for i := range out {
		switch len(v) {
		case 1:
			out[i] = v[0]
		case n:
			out[i] = v[i]
		}
		out[i] += shift
	}
	return out, nil
}

// asInt8Rows returns an 8-bit tensor's data as int8 and the shift applied
// (uint8 values minus 128).
func asInt8Rows(t *Tensor) ([]int8, int32, error) {
	switch d := t.Data.(type) {
	case []int8:
		return d, 0, nil
	case []uint8:
		out := make([]int8, len(d))
		for i, v := range d {
			out[i] = int8(v ^ 0x80)
		}
		return out, -128, nil
	}
	return nil, 0, fmt.Errorf("type %s is not supported (want int8 or uint8)", t.DType)
}

// asUint8Cols returns an 8-bit tensor's data as uint8 (int8 values plus
// 128, into buf when it is long enough) and the shift applied.
func asUint8Cols(t *Tensor, buf []uint8) ([]uint8, int32, error) {
	switch d := t.Data.(type) {
	case []uint8:
		return d, 0, nil
	case []int8:
		if len(buf) < len(d) {
			buf = make([]uint8, len(d))
		}
		buf = buf[:len(d)]
		for i, v := range d {
			buf[i] = uint8(v) ^ 0x80
		}
		return buf, 128, nil
	}
	return nil, 0, fmt.Errorf("type %s is not supported (want int8 or uint8)", t.DType)
}

// i8ConvWeights are a convolution's weights packed for GemmU8I8, one pack
// a group, with the zero point of each output channel in the packed
// (int8) representation.
type i8ConvWeights struct {
	packs []*simd.PackedI8
	zw    []int32
	anyZW bool
}

func packConvWeightsI8(w, wzp *Tensor, group int) (*i8ConvWeights, error) {
	m := w.Shape[0]
	if group <= 0 || m%group != 0 {
		return nil, fmt.Errorf("group %d does not divide %d output channels", group, m)
	}
	wv, shift, err := asInt8Rows(w)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	zw, err := zeroPointsInt32(wzp, m, shift, "w_zero_point")
	if err != nil {
		return nil, err
	}
	k := prod(w.Shape[1:])
	mg := m / group
	p := &i8ConvWeights{zw: zw}
	for g := 0; g < group; g++ {
		p.packs = append(p.packs, simd.PackI8(mg, k, wv[g*mg*k:(g+1)*mg*k], k, nil))
	}
	for _, z := range zw {
		p.anyZW = p.anyZW || z != 0
	}
	return p, nil
}

// convI8 is quantConv on the integer GEMM: x N×C×spatial, w M×C/group×kernel,
// both 8-bit, x_zero_point a scalar; wc keeps the packed weights of a
// constant w. blockDone, when not nil, receives the result instead (acc is
// then nil): columns [j0, j0+w) of the rows output rows from r0 (batch·M +
// channel), row after row in chunk (w values each), once they are
// computed, and per row a constant t[i] that the values still lack (the
// zero-point correction, when it is one number a row, is left to the
// caller's pass over them).
// i8ColChunk is the size in bytes of the im2col chunks of the integer
// convolutions: a fraction of L2, beside the packed filters (a variable
// so that tests can cut every convolution into many chunks).
var i8ColChunk = 256 << 10

func convI8(ctx *Ctx, wa windowAttrs, group int, x, xzp, w, wzp *Tensor, wc *prepacked, blockDone func(r0, rows, j0, w int, chunk, t []int32)) ([]int32, []int, error) {
	n, c, m := x.Shape[0], x.Shape[1], w.Shape[0]
	if group <= 0 || c%group != 0 || m%group != 0 || w.Shape[1]*group != c {
		return nil, nil, fmt.Errorf("group %d does not fit input %v and weights %v", group, x.Shape, w.Shape)
	}
	g, err := wa.geometry(x.Shape[2:], w.Shape[2:])
	if err != nil {
		return nil, nil, err
	}
	build := func() any {
		p, err := packConvWeightsI8(w, wzp, group)
		if err != nil {
			return err
		}
		return p
	}
	var pv any
	if wc != nil {
		pv = wc.get(w, build)
	} else {
		pv = build()
	}
	if err, bad := pv.(error); bad {
		return nil, nil, err
	}
	pw := pv.(*i8ConvWeights)
	xb, xshift, err := asUint8Cols(x, ctx.newRaw(onnx.Uint8, x.Len()).Data.([]uint8))
	if err != nil {
		return nil, nil, fmt.Errorf("input: %w", err)
	}
	zxs, err := zeroPointsInt32(xzp, 1, xshift, "x_zero_point")
	if err != nil {
		return nil, nil, err
	}
	zx := zxs[0]
	cg, mg := c/group, m/group
	kvol, isz, osz := prod(g.kernel), prod(x.Shape[2:]), prod(g.out)
	k := cg * kvol
	direct := kvol == 1 && all1(g.strides) && isz == osz && allZero(g.padB)
	// im2col goes in chunks of whole output lines of about i8ColChunk
	// bytes, each multiplied while in cache: the whole of it (k·osz bytes,
	// 151 MB for 64 channels 3×3 on 512²) went through memory twice.
	ow := max(1, g.out[len(g.out)-1])
	lines := osz / ow
	perChunk := max(1, min(lines, i8ColChunk/max(1, k*ow)))
	chunks := (lines + perChunk - 1) / perChunk
	threads := ctx.Threads()
	// Chunks go to the threads (each multiplying its own on one) where
	// there are enough; otherwise each product is split over them.
	byChunk := !direct && threads > 1 && chunks >= 2*threads && blockDone == nil
	var col []uint8
	var cols chan []uint8 // byChunk: one im2col buffer per goroutine at work
	switch {
	case byChunk:
		all := ctx.newRaw(onnx.Uint8, threads*k*perChunk*ow).Data.([]uint8)
		cols = make(chan []uint8, threads)
		for i := range threads {
			cols <- all[i*k*perChunk*ow : (i+1)*k*perChunk*ow]
		}
	case !direct:
		col = ctx.newRaw(onnx.Uint8, k*perChunk*ow).Data.([]uint8)
	}
	var colSum []int32
	if pw.anyZW {
		colSum = ctx.newRaw(onnx.Int32, osz).Data.([]int32)
	}
	var acc []int32
	if blockDone == nil {
		acc = ctx.newRaw(onnx.Int32, n*m*osz).Data.([]int32)
	}
	// With blockDone, columns go in chunks whose mg×nc accumulators stay in
	// cache until blockDone has read them.
	nc := osz
	var chunk, ts, zeros []int32
	if blockDone != nil {
		nc = min(osz, max(64, (1<<16)/max(mg, 1)/32*32))
		chunk = ctx.newRaw(onnx.Int32, mg*nc).Data.([]int32)
		ts = make([]int32, mg)
		zeros = make([]int32, mg)
	}
	for b := 0; b < n; b++ {
		for gi := 0; gi < group; gi++ {
			src := xb[(b*c+gi*cg)*isz : (b*c+gi*cg+cg)*isz]
			pk := pw.packs[gi]
			zw := pw.zw[gi*mg : (gi+1)*mg]
			var out []int32
			if blockDone == nil {
				out = acc[(b*m+gi*mg)*osz : (b*m+gi*mg+mg)*osz]
			}
			// product multiplies the im2col columns [q0, q1) in cols (row
			// stride q1−q0) on gemmThreads.
			product := func(cols []uint8, q0, q1, gemmThreads int) {
				if blockDone == nil {
					var cs []int32
					if colSum != nil {
						cs = colSum[q0:q1]
					}
					simd.GemmU8I8(pk, q1-q0, cols, q1-q0, out[q0:], osz, cs, gemmThreads)
					return
				}
				if colSum == nil {
					for i := range ts {
						ts[i] = int32(k)*zw[i]*zx - zx*pk.RowSum[i]
					}
				}
				for j0 := q0; j0 < q1; j0 += nc {
					w := min(nc, q1-j0)
					var cs []int32
					if colSum != nil {
						cs = colSum[j0 : j0+w]
					}
					simd.GemmU8I8(pk, w, cols[j0-q0:], q1-q0, chunk, w, cs, gemmThreads)
					t := ts
					if cs != nil {
						zeroPointFix(chunk[:mg*w], w, k, pk.RowSum, zw, cs, zxs)
						t = zeros
					}
					blockDone(b*m+gi*mg, mg, j0, w, chunk[:mg*w], t)
				}
			}
			switch {
			case direct:
				product(src, 0, osz, threads)
			case byChunk:
				simd.ParallelRuns(chunks, threads, func(c0, c1 int) {
					buf := <-cols
					defer func() { cols <- buf }()
					for ch := c0; ch < c1; ch++ {
						l0, l1 := ch*perChunk, min(lines, (ch+1)*perChunk)
						im2colU8(buf, src, cg, x.Shape[2:], g, uint8(zx), l0, l1)
						product(buf, l0*ow, l1*ow, 1)
					}
				})
			default:
				for ch := 0; ch < chunks; ch++ {
					l0, l1 := ch*perChunk, min(lines, (ch+1)*perChunk)
					im2colU8(col, src, cg, x.Shape[2:], g, uint8(zx), l0, l1)
					product(col, l0*ow, l1*ow, threads)
				}
			}
			if blockDone == nil {
				zeroPointFix(out, osz, k, pk.RowSum, zw, colSum, zxs)
			}
		}
	}
	return acc, append([]int{n, m}, g.out...), nil
}

// zeroPointFix turns the rows×n products Σab in c into Σ(a-za)(b-zb):
// rowSum and za per row, colSum (nil when every za is 0), zb per column or
// one for all.
func zeroPointFix(c []int32, n, k int, rowSum, za, colSum, zb []int32) {
	for i, rs := range rowSum {
		row := c[i*n : (i+1)*n]
		z := za[i]
		if len(zb) == 1 {
			t := int32(k)*z*zb[0] - zb[0]*rs
			if colSum == nil {
				if t != 0 {
					for j := range row {
						row[j] += t
					}
				}
				continue
			}
			for j, s := range colSum[:len(row)] {
				row[j] += t - z*s
			}
			continue
		}
		for j := range row {
			b := zb[j]
			v := row[j] - b*rs + int32(k)*z*b
			if colSum != nil {
				v -= z * colSum[j]
			}
			row[j] = v
		}
	}
}

func all1(v []int) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

func allZero(v []int) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// im2colU8 lays the windows of cg channels of src (spatial shape in) out
// as rows (channel, kernel position) × output positions, pad where a window
// reads padding: the positions of output lines [o0, o1) (a line runs along
// the last spatial axis), so that dst's rows are (o1−o0)·ow long.
func im2colU8(dst, src []uint8, cg int, in []int, g *spatialGeom, pad uint8, o0, o1 int) {
	nsp := len(in)
	kvol, isz := prod(g.kernel), prod(in)
	last := nsp - 1
	ow, iw := g.out[last], in[last]
	sw, dw, pw := g.strides[last], g.dilations[last], g.padB[last]
	osz := (o1 - o0) * ow
	istr := contiguousStrides(in)
	kpos, opos := make([]int, nsp), make([]int, nsp)
	for ci := 0; ci < cg; ci++ {
		plane := src[ci*isz : (ci+1)*isz]
		for kk := 0; kk < kvol; kk++ {
			rem := kk
			for d := last; d >= 0; d-- {
				kpos[d] = rem % g.kernel[d]
				rem /= g.kernel[d]
			}
			row := dst[(ci*kvol+kk)*osz : (ci*kvol+kk+1)*osz]
			// Output columns whose tap lands inside the row: p = o·sw - pw + kw·dw in [0, iw).
			off := kpos[last]*dw - pw
			lo, hi := tapSpan(off, sw, iw, ow)
			for o := o0; o < o1; o++ {
				rem := o
				for d := last - 1; d >= 0; d-- {
					opos[d] = rem % g.out[d]
					rem /= g.out[d]
				}
				base, ok := 0, true
				for d := 0; d < last; d++ {
					p := opos[d]*g.strides[d] - g.padB[d] + kpos[d]*g.dilations[d]
					if p < 0 || p >= in[d] {
						ok = false
						break
					}
					base += p * istr[d]
				}
				seg := row[(o-o0)*ow : (o-o0+1)*ow]
				if !ok {
					fill(seg, pad)
					continue
				}
				fill(seg[:lo], pad)
				fill(seg[hi:], pad)
				if hi == lo {
					continue // the tap reads only padding (dilation wider than the row)
				}
				r := plane[base:]
				if sw == 1 {
					copy(seg[lo:hi], r[lo+off:hi+off])
					continue
				}
				if sw == 2 && hi > lo {
					simd.EvenBytes(seg[lo:hi], r[lo*2+off:(hi-1)*2+off+1])
					continue
				}
				for j := lo; j < hi; j++ {
					seg[j] = r[j*sw+off]
				}
			}
		}
	}
}

func fill(s []uint8, v uint8) {
	for i := range s {
		s[i] = v
	}
}

// matmulI8 is MatMulInteger's product on the integer GEMM, into c (laid out
// as the plan says): a's zero point per row (or one), b's per column.
func matmulI8(ctx *Ctx, p *matmulPlan, a, azp, b, bzp *Tensor, c []int32) error {
	m, n, k := p.m, p.n, p.k
	av, ashift, err := asInt8Rows(a)
	if err != nil {
		return fmt.Errorf("A: %w", err)
	}
	bv, bshift, err := asUint8Cols(b, ctx.newRaw(onnx.Uint8, b.Len()).Data.([]uint8))
	if err != nil {
		return fmt.Errorf("B: %w", err)
	}
	za, err := zeroPointsInt32(azp, m, ashift, "a_zero_point")
	if err != nil {
		return err
	}
	zb, err := zeroPointsInt32(bzp, n, bshift, "b_zero_point")
	if err != nil {
		return err
	}
	var colSum []int32
	for _, z := range za {
		if z != 0 {
			colSum = ctx.newRaw(onnx.Int32, n).Data.([]int32)
			break
		}
	}
	for bi := 0; bi < p.batchLen; bi++ {
		pa := simd.PackI8(m, k, av[p.aOff[bi]:], k, nil)
		C := c[bi*m*n : (bi+1)*m*n]
		simd.GemmU8I8(pa, n, bv[p.bOff[bi]:], n, C, n, colSum, ctx.Threads())
		zeroPointFix(C, n, k, pa.RowSum, za, colSum, zb)
	}
	return nil
}
