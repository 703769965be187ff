package simd

import "math"

// MaxPool2D writes the window maxima of 2-D max pooling: y[c] (OutH×OutW)
// is, at each output, the largest tap of x[c]'s window (C planes of H×W),
// NaN taps and the padding skipped, −Inf for a window with no other tap.
// Any window, stride, dilation and padding; the bottom and right padding is
// whatever the output size implies (ceil mode included).
//
// It is separable and works on many planes per call, a chunk of them at a
// time. The column maxima over each window's rows are read straight from
// x into rows padded with −Inf columns, a plane's output rows with the
// same taps in one maxRows call (the rows at the top and bottom, whose
// windows reach into the padding, take fewer taps); the maxima along the
// rows are then whole-buffer vector maxima, one per column tap (or one
// maxRows call for them), before the output rows are picked out, a plane
// a call. Per-row kernel calls cost more than the maxima on small planes
// (YOLO's 5×5 stride-1 pools on 20×20: 6× ONNX Runtime's time, and the
// padded copy and per-row calls left its 9×9 pools on 13×13 at 0.43 ms
// where these calls take 0.2 ms; BenchmarkMaxPool).
//
// The result is that of taking each column's maximum over the window's
// rows (from −Inf, the first of equal taps kept) and then the maximum of
// those along the row (from the first column, the first of equal kept),
// which decides which of +0 and −0 a tie returns.
func MaxPool2D(y, x []float32, p ConvParams, threads int) {
	p.check("MaxPool2D")
	if p.C == 0 || p.OutH == 0 || p.OutW == 0 {
		return
	}
	need("MaxPool2D", p.C*p.H*p.W, x)
	need("MaxPool2D", p.C*p.OutH*p.OutW, y)
	g := newMaxPoolGeom(&p)
	chunks := (p.C + g.planes - 1) / g.planes
	run := func(k0, k1 int) {
		for k := k0; k < k1; k++ {
			c0, c1 := k*g.planes, min(p.C, (k+1)*g.planes)
			maxPoolChunk(y, x, &p, &g, c0, c1)
		}
	}
	if threads < 2 || chunks < 2 || p.C*p.OutH*p.OutW*p.KH*p.KW < parallelMinTaps {
		run(0, chunks)
		return
	}
	ParallelRuns(chunks, threads, run)
}

// maxPoolGeom is the layout of MaxPool2D's buffers.
type maxPoolGeom struct {
	wp     int // columns of a row, the padding's included
	planes int // planes a chunk
}

// maxPoolChunkFloats is the size of a chunk's column maxima: they, the
// row maxima and the chunk's input stay in a Zen 5 or Skylake-SP core's
// 1 MiB L2.
const maxPoolChunkFloats = 32 << 10

func newMaxPoolGeom(p *ConvParams) maxPoolGeom {
	wp := max(p.PadL+p.W, (p.OutW-1)*p.StrideW+(p.KW-1)*p.DilW+1)
	if p.StrideW == 2 {
		wp += wp % 2 // every row starts on an even column of the buffer
	}
	return maxPoolGeom{wp: wp, planes: max(1, maxPoolChunkFloats/(p.OutH*wp))}
}

func maxPoolChunk(y, x []float32, p *ConvParams, g *maxPoolGeom, c0, c1 int) {
	ws := wsPool.get()
	defer wsPool.put(ws)
	wp, n := g.wp, c1-c0
	// vm: per plane OutH rows of wp columns (the input's at PadL), planes
	// vstride apart, output row oh at oh·vrow; xp the same size, scratch.
	vstride, vrow := p.OutH*wp, wp
	size := n * vstride
	buf := aligned(&ws.a, 2*size)
	xp, vm := buf[:size], buf[size:2*size]
	// Column maxima straight from x: vm row oh is the running maximum,
	// from −Inf, of the window's rows of output row oh that lie in the
	// input (maxRows with acc), the padding columns −Inf. Taking x where it
	// is greater skips NaN taps and keeps the first of equal ones, and −Inf
	// is what a padding row or a NaN tap would leave: the maxima of the
	// padded, NaN-as-−Inf planes.
	fill(vm, float32(math.Inf(-1)))
	for c := 0; c < n; c++ {
		src := x[(c0+c)*p.H*p.W:]
		for oh := 0; oh < p.OutH; {
			kh0, kh1 := p.rowTaps(oh)
			oh1 := oh + 1 // the rows with the same taps: one call
			for oh1 < p.OutH {
				if a, b := p.rowTaps(oh1); a != kh0 || b != kh1 {
					break
				}
				oh1++
			}
			if kh1 > kh0 {
				first := oh*p.StrideH - p.PadT + kh0*p.DilH
				maxRows(vm[c*vstride+oh*vrow+p.PadL:], src[first*p.W:], p.W, oh1-oh, vrow, p.StrideH*p.W, kh1-kh0, p.DilH*p.W, true)
			}
			oh = oh1
		}
	}
	// Row maxima in xp, over the whole buffer at once: hm[i] is the maximum
	// of the KW taps starting at column i of vm, from the first. vm holds
	// no NaN.
	hm := xp
	rowLen := (p.OutW-1)*p.StrideW + 1 // columns of a row's window starts
	if p.StrideW == 2 {
		// The even and odd columns apart (wp is even, so they are the same
		// in every row), then the maxima at even starts only: tap kw of
		// start 2j reads column 2j + kw·DilW.
		half := n * vstride / 2
		ev, od := xp[:half], xp[half:2*half]
		Evens(ev, vm[:2*half])
		Evens(od, vm[1:2*half])
		hm = vm
		span := (n-1)*vstride/2 + (p.OutH-1)*vrow/2 + p.OutW
		for kw := 0; kw < p.KW; kw++ {
			c := kw * p.DilW
			src := ev[c/2:]
			if c%2 == 1 {
				src = od[c/2:]
			}
			if kw == 0 {
				copy(hm[:span], src[:span])
			} else {
				ks.maxSkipNaN(hm[:span], src[:span], hm[:span])
			}
		}
		vstride, vrow, rowLen = vstride/2, vrow/2, p.OutW
	} else {
		span := (n-1)*vstride + (p.OutH-1)*vrow + rowLen
		maxRows(hm, vm, span, 1, 0, 0, p.KW, p.DilW, false)
	}
	for c := 0; c < n; c++ {
		yc := y[(c0+c)*p.OutH*p.OutW : (c0+c+1)*p.OutH*p.OutW]
		if rowLen == p.OutW {
			maxRows(yc, hm[c*vstride:], p.OutW, p.OutH, p.OutW, vrow, 1, 0, false) // a copy
			continue
		}
		for oh := 0; oh < p.OutH; oh++ {
			src := hm[c*vstride+oh*vrow : c*vstride+oh*vrow+rowLen]
			dst := yc[oh*p.OutW : (oh+1)*p.OutW]
			for ow := range dst {
				dst[ow] = src[ow*p.StrideW]
			}
		}
	}
}

// rowTaps returns the taps [kh0, kh1) of output row oh's window whose
// input rows lie in the input.
func (p *ConvParams) rowTaps(oh int) (kh0, kh1 int) {
	top := oh*p.StrideH - p.PadT // input row of tap 0
	if top < 0 {
		kh0 = (-top + p.DilH - 1) / p.DilH
	}
	if top < p.H {
		kh1 = min(p.KH, (p.H-top+p.DilH-1)/p.DilH)
	}
	return kh0, kh1
}

// maxRows sets, for i < rows, dst[i·dstStride : +n] to the running
// maximum of taps rows of src from src[i·srcStride:], tapStride apart: x
// taken where it is greater than the maximum so far (maxSkipNaN's order:
// the first of equal taps kept), from the first tap, or, with acc, from
// dst's own value over every tap. One taps copies (acc: maxSkipNaN(dst,
// src, dst)). Strides in floats.
func maxRows(dst, src []float32, n, rows, dstStride, srcStride, taps, tapStride int, acc bool) {
	if n <= 0 || rows <= 0 || taps <= 0 {
		return
	}
	_ = dst[(rows-1)*dstStride+n-1]
	_ = src[(rows-1)*srcStride+(taps-1)*tapStride+n-1]
	if ks.maxRows != nil {
		ks.maxRows(&dst[0], &src[0], n, rows, dstStride, srcStride, taps, tapStride, acc)
		return
	}
	for i := 0; i < rows; i++ {
		d, s := dst[i*dstStride:i*dstStride+n], src[i*srcStride:]
		t := 0
		if !acc {
			copy(d, s[:n])
			t = 1
		}
		for ; t < taps; t++ {
			ks.maxSkipNaN(d, s[t*tapStride:t*tapStride+n], d)
		}
	}
}

// fill sets every element of x to v: a few stores, or doubling copies
// (memmove) where a store loop would run element by element.
func fill(x []float32, v float32) {
	if len(x) <= 8 {
		for i := 0; i < len(x); i++ { // not the range idiom, which may call memclr
			x[i] = v
		}
		return
	}
	for i := 0; i < 8; i++ {
		x[i] = v
	}
	for n := 8; n < len(x); n *= 2 {
		copy(x[n:], x[:n])
	}
}
