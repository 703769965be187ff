package simd

import "math"

// MaxPool2D writes the window maxima of 2-D max pooling: y[c] (OutH×OutW)
// is, at each output, the largest tap of x[c]'s window (C planes of H×W),
// NaN taps and the padding skipped, −Inf for a window with no other tap.
// Any window, stride, dilation and padding; the bottom and right padding is
// whatever the output size implies (ceil mode included).
//
// It is separable and works on many planes per call. Planes are copied,
// a chunk at a time, into a buffer padded with −Inf rows and columns, in
// which every window lies inside its plane; the column maxima over the
// window's rows are then whole-buffer vector maxima, one per row tap (at
// stride 1; one per output row and tap otherwise), and the maxima along
// the rows one per column tap, before each output row is picked from them.
// Per-row kernel calls cost more than the maxima on small planes (YOLO's
// 5×5 stride-1 pools on 20×20: 6× ONNX Runtime's time), and a whole-chunk
// call costs the same on large ones.
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

// maxPoolGeom is the padded layout of MaxPool2D's buffers.
type maxPoolGeom struct {
	hp, wp int // padded plane: rows and columns
	planes int // planes a chunk
}

// maxPoolChunkFloats is the size of a chunk's padded planes: three buffers
// of it (input, column maxima, row maxima) stay in a Zen 5 or Skylake-SP
// core's 1 MiB L2.
const maxPoolChunkFloats = 32 << 10

func newMaxPoolGeom(p *ConvParams) maxPoolGeom {
	hp := max(p.PadT+p.H, (p.OutH-1)*p.StrideH+(p.KH-1)*p.DilH+1)
	wp := max(p.PadL+p.W, (p.OutW-1)*p.StrideW+(p.KW-1)*p.DilW+1)
	if p.StrideW == 2 {
		wp += wp % 2 // every row starts on an even column of the buffer
	}
	return maxPoolGeom{hp: hp, wp: wp, planes: max(1, maxPoolChunkFloats/(hp*wp))}
}

func maxPoolChunk(y, x []float32, p *ConvParams, g *maxPoolGeom, c0, c1 int) {
	ws := wsPool.get()
	defer wsPool.put(ws)
	hp, wp, n := g.hp, g.wp, c1-c0
	size := n * hp * wp
	buf := aligned(&ws.a, 2*size+p.W)
	xp, vm, infs := buf[:size], buf[size:2*size], buf[2*size:]
	inf := float32(math.Inf(-1))
	fill(infs, inf)
	// The padded planes, NaN read as −Inf (maxSkipNaN against −Inf): every
	// maximum below then starts from its first tap, as the column maxima
	// from −Inf that skip NaN taps would.
	for c := 0; c < n; c++ {
		plane := xp[c*hp*wp : (c+1)*hp*wp]
		fill(plane[:p.PadT*wp], inf)
		src := x[(c0+c)*p.H*p.W:]
		for h := 0; h < p.H; h++ {
			row := plane[(p.PadT+h)*wp : (p.PadT+h+1)*wp]
			fill(row[:p.PadL], inf)
			ks.maxSkipNaN(row[p.PadL:p.PadL+p.W], src[h*p.W:(h+1)*p.W], infs)
			fill(row[p.PadL+p.W:], inf)
		}
		fill(plane[(p.PadT+p.H)*wp:], inf)
	}
	// Column maxima: vm row oh of plane c is the maximum of the window's
	// rows of output row oh, the first of equal taps kept. vm's layout:
	// planes vstride apart, output row oh at oh·vrow.
	vstride, vrow := p.OutH*wp, wp
	rowTaps := func(dst []float32, o, step int) { // max of KH rows from xp[o:], step apart
		copy(dst, xp[o:o+len(dst)])
		for kh := 1; kh < p.KH; kh++ {
			t := xp[o+kh*step : o+kh*step+len(dst)]
			ks.maxSkipNaN(dst, t, dst)
		}
	}
	if p.StrideH == 1 {
		// Each row tap shifts the whole buffer by whole rows: one call a
		// tap, vm keeping xp's plane stride. Rows past OutH of a plane read
		// the next plane and are not used.
		vstride = hp * wp
		rowTaps(vm[:size-(p.KH-1)*p.DilH*wp], 0, p.DilH*wp)
	} else {
		for c := 0; c < n; c++ {
			for oh := 0; oh < p.OutH; oh++ {
				rowTaps(vm[c*vstride+oh*wp:c*vstride+(oh+1)*wp], c*hp*wp+oh*p.StrideH*wp, p.DilH*wp)
			}
		}
	}
	// Row maxima in place of the padded input (no longer needed), over the
	// whole buffer at once: hm[i] is the maximum of the KW taps starting at
	// column i of vm, from the first. vm holds no NaN.
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
		copy(hm[:span], vm[:span])
		for kw := 1; kw < p.KW; kw++ {
			o := kw * p.DilW
			ks.maxSkipNaN(hm[:span], vm[o:o+span], hm[:span])
		}
	}
	for c := 0; c < n; c++ {
		yc := y[(c0+c)*p.OutH*p.OutW : (c0+c+1)*p.OutH*p.OutW]
		for oh := 0; oh < p.OutH; oh++ {
			src := hm[c*vstride+oh*vrow : c*vstride+oh*vrow+rowLen]
			dst := yc[oh*p.OutW : (oh+1)*p.OutW]
			if len(src) == len(dst) {
				copy(dst, src)
				continue
			}
			for ow := range dst {
				dst[ow] = src[ow*p.StrideW]
			}
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
