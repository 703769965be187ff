package simd

import (
	"fmt"
	"math"
	"unsafe"
)

// ConvParams describes a 2-D convolution over one NCHW image (one group):
// C input channels of H×W, a KH×KW kernel, strides, leading pads (the
// trailing ones follow from OutH/OutW), dilations and the output size.
type ConvParams struct {
	C, H, W          int
	KH, KW           int
	StrideH, StrideW int
	PadT, PadL       int
	DilH, DilW       int
	OutH, OutW       int
}

// K is the GEMM depth of the convolution: C·KH·KW.
func (p ConvParams) K() int { return p.C * p.KH * p.KW }

// N is the GEMM width: OutH·OutW output positions.
func (p ConvParams) N() int { return p.OutH * p.OutW }

func (p ConvParams) check(op string) {
	if p.C < 0 || p.H < 0 || p.W < 0 || p.KH < 1 || p.KW < 1 || p.StrideH < 1 || p.StrideW < 1 ||
		p.DilH < 1 || p.DilW < 1 || p.OutH < 0 || p.OutW < 0 || p.PadT < 0 || p.PadL < 0 {
		panic(fmt.Sprintf("simd: %s: bad parameters %+v", op, p))
	}
}

// Im2colPacked writes the im2col matrix of x (C×H×W) straight into the
// PackB layout of a K×N matrix (K = C·KH·KW rows ordered (c, kh, kw), N =
// OutH·OutW columns), so that a convolution is
//
//	SgemmPacked(false, M, p.N(), p.K(), 1, w, p.K(), dst, 0, y, p.N(), threads)
//
// with w the M×K filter and y the M×N output. Padding reads as zero. dst
// must hold PackedBSize(p.K(), p.N()) floats. The writes run sequentially
// through dst, one 16-column panel at a time.
func Im2colPacked(dst, x []float32, p ConvParams) {
	p.check("Im2colPacked")
	K, N := p.K(), p.N()
	if K == 0 || N == 0 {
		return
	}
	if len(dst) < PackedBSize(K, N) {
		panic(fmt.Sprintf("simd: Im2colPacked: dst has %d floats, want %d", len(dst), PackedBSize(K, N)))
	}
	need("Im2colPacked", p.C*p.H*p.W, x)
	ws := wsPool.get()
	defer wsPool.put(ws)
	l := newColLayout(&p)
	planes, taps := l.layOut(ws, x, 0, l.ph)
	im2colPanels(dst, planes, &l, taps, ws, 0, N)
}

// colLayout is the copy of the input im2col reads: per channel, the
// StrideW phase planes of the zero-bordered input (as phasePlanes writes
// them: ph rows of qw floats; column q of phase r is padded column
// q·StrideW + r). Output (oh, ow) of tap (c, i, j) then reads
//
//	planes[tap(c, i, j) + oh·StrideH·qw + ow]
//
// so the 16 outputs of a panel that lie in one output row read 16
// consecutive floats whatever the stride and dilation (a copy, not a
// gather), and no read needs a bounds test.
type colLayout struct {
	p       *ConvParams
	qw, ph  int
	channel int // floats per channel: StrideW·ph·qw
}

func newColLayout(p *ConvParams) colLayout {
	// Phase columns up to the last output's last tap: no rounding up to
	// dwTaps' blocks of 8, which im2col does not write.
	qw := p.OutW + (p.KW-1)*p.DilW/p.StrideW
	ph := (p.OutH-1)*p.StrideH + (p.KH-1)*p.DilH + 1
	return colLayout{p: p, qw: qw, ph: ph, channel: p.StrideW * ph * qw}
}

func (l *colLayout) floats() int { return l.p.C * l.channel }

// fill lays the C channels of x out in planes.
func (l *colLayout) fill(planes, x []float32) { l.fillRows(planes, x, 0, l.ph) }

// fillRows lays rows [row0, row1) of every channel's phase planes out:
// each thread of convByColumns the rows its columns (output rows) read.
func (l *colLayout) fillRows(planes, x []float32, row0, row1 int) {
	p := l.p
	for c := 0; c < p.C; c++ {
		phasePlaneRows(planes[c*l.channel:(c+1)*l.channel], x[c*p.H*p.W:(c+1)*p.H*p.W], p, l.qw, l.ph, row0, row1)
	}
}

// layOut lays rows [row0, row1) of the planes out in ws.b and returns them
// with their tap table (im2colTaps) in ws.rows.
func (l *colLayout) layOut(ws *workspace, x []float32, row0, row1 int) (planes []float32, taps []int32) {
	planes = aligned(&ws.b, l.floats())
	l.fillRows(planes, x, row0, row1)
	return planes, im2colTaps(&ws.rows, planes, l)
}

// tap is the offset in the planes of tap (c, i, j) at output (0, 0).
func (l *colLayout) tap(c, i, j int) int {
	p := l.p
	r, q := j*p.DilW%p.StrideW, j*p.DilW/p.StrideW
	return c*l.channel + r*l.ph*l.qw + i*p.DilH*l.qw + q
}

// pos is the offset of output q (row-major over OutH×OutW) from its taps.
func (l *colLayout) pos(q int) int {
	return q/l.p.OutW*l.p.StrideH*l.qw + q%l.p.OutW
}

// im2colTaps returns the byte offset in the planes of each im2col row's
// tap (c, kh, kw), reusing buf, after checking that every read
// im2colPanels makes from planes is in range and that the offsets fit the
// 32-bit gather indices; nil when they do not.
func im2colTaps(buf *[]int32, planes []float32, l *colLayout) []int32 {
	p := l.p
	lastTap := 0
	for j := 0; j < p.KW; j++ {
		lastTap = max(lastTap, l.tap(p.C-1, p.KH-1, j))
	}
	lastOff := l.pos(p.N() - 1)
	if lastTap+lastOff >= len(planes) {
		panic(fmt.Sprintf("simd: im2col: planes of %d floats, taps reach %d", len(planes), lastTap+lastOff))
	}
	if 4*(lastTap+lastOff) > math.MaxInt32 {
		return nil
	}
	if cap(*buf) < p.K() {
		*buf = make([]int32, p.K())
	}
	// Channel 0's taps, then each channel's are those plus its planes'
	// offset: tap's divisions once per tap, not once per row (at K = 2304
	// and 20 columns they were a sixth of the convolution).
	rows := (*buf)[:p.K()]
	kk := p.KH * p.KW
	for i := 0; i < p.KH; i++ {
		for j := 0; j < p.KW; j++ {
			rows[i*p.KW+j] = int32(l.tap(0, i, j) * 4)
		}
	}
	for c, step := 1, int32(4*l.channel); c < p.C; c++ {
		prev, cur := rows[(c-1)*kk:c*kk], rows[c*kk:(c+1)*kk]
		for t := range cur {
			cur[t] = prev[t] + step
		}
	}
	*buf = rows
	return rows
}

// im2colPanels writes the packed im2col panels of columns [q0, q1) (q0 a
// multiple of 16) to dst, from planes filled by l, with taps from
// im2colTaps (nil: offsets too large for the gather kernel) and ws's
// offset tables as scratch.
func im2colPanels(dst, planes []float32, l *colLayout, taps []int32, ws *workspace, q0, q1 int) {
	p := l.p
	K := p.K()
	base := unsafe.SliceData(planes)
	var pos [nr]int
	for q := q0; q < q1; q += nr {
		nq := min(nr, q1-q)
		panel := dst[(q-q0)*K : (q-q0)*K+nr*K]
		if nq == nr && q%p.OutW+nr <= p.OutW {
			// The common case: each row of the panel is 16 consecutive
			// floats of one plane.
			off := l.pos(q)
			if taps != nil {
				ks.copyRows(panel, &planes[off], taps)
			} else {
				row := 0
				for c := 0; c < p.C; c++ {
					for i := 0; i < p.KH; i++ {
						for j := 0; j < p.KW; j++ {
							v := *(*[nr]float32)(planes[l.tap(c, i, j)+off:]) // through a local: a direct copy calls memmove
							*(*[nr]float32)(panel[row*nr:]) = v
							row++
						}
					}
				}
			}
			continue
		}
		// Otherwise the panel's positions span output rows. Where the rows
		// are at least segMinW wide, the panel's outputs are at most four
		// runs of consecutive floats: one masked load each.
		if taps != nil && ks.segRows != nil && p.OutW >= segMinW {
			ws.segs, ws.masks = [4]int32{}, [4]uint16{}
			for t, s := 0, 0; t < nq; s++ {
				run := min(nq-t, p.OutW-(q+t)%p.OutW)
				ws.segs[s] = int32(4 * (l.pos(q+t) - t))
				ws.masks[s] = uint16((1<<run - 1) << t)
				t += run
			}
			ks.segRows(panel, base, taps, &ws.segs, &ws.masks)
			continue
		}
		// Else gather each panel row through a table of byte offsets.
		// Columns past q1 repeat the last position and are cleared after.
		idx := &ws.idx
		for t := 0; t < nr; t++ {
			pos[t] = l.pos(q + min(t, nq-1))
			idx[t] = int32(pos[t] * 4) // in range unless taps is nil
		}
		if taps != nil {
			ks.gatherRows(panel, base, taps, idx)
		} else {
			// Planes past 2 GiB: the same gather with full-width offsets.
			row := 0
			for c := 0; c < p.C; c++ {
				for i := 0; i < p.KH; i++ {
					for j := 0; j < p.KW; j++ {
						pl := planes[l.tap(c, i, j):]
						for t := range nr {
							panel[row*nr+t] = pl[pos[t]]
						}
						row++
					}
				}
			}
		}
		if nq < nr {
			for r := 0; r < K; r++ {
				clear(panel[r*nr+nq : (r+1)*nr])
			}
		}
	}
}

// segMinW is the narrowest output row for which 16 consecutive outputs
// span at most four rows (segRows' masked loads).
const segMinW = 5

// ConvChunkFloats is the im2col chunk ConvPacked aims for (floats) on
// one thread: 512 KiB, so that it stays in L2 (Zen 5: 1 MiB) and the GEMM
// reads what im2col has just written from cache instead of memory. Each
// chunk reads all the filters once: at 256 KiB, resnet's 28² layers (K =
// 1152) ran 32 columns a chunk, reading 590 KB of filters for every 32
// columns; 64 columns took their one-thread rate from 146–170 to 160–185
// GFLOP/s (onnxslim run --profile, three interleaved pairs, README).
// On several threads, chunks of half that (convParallelChunk).
const ConvChunkFloats = 128 << 10

// convParallelChunk is the chunk (floats) on several threads: with whole
// chunks ConvPacked went to convByRows for more shapes (fewer chunks than
// runsPerThread a thread), which ran resnet's 56→28 stride-2 layer 27%
// slower at two threads (BenchmarkConvPacked, interleaved).
const convParallelChunk = ConvChunkFloats / 2

// ConvPacked computes one group of a 2-D convolution, y (M×N, N =
// p.N()) = filters · im2col(x), with the filters packed by PackA(false, M,
// p.K(), 1, w, p.K()). It works in column chunks of about ConvChunkFloats
// floats of im2col, each written and multiplied while in cache, and spreads
// the work over up to threads goroutines (the input's layout and im2col
// included). done, when not nil, is called with each block of finished
// outputs, rows [r0, r1) × columns [q0, q1), once per output, as soon as
// the block is final, on the goroutine that computed it: the place for an
// epilogue while the block is in cache.
func ConvPacked(y []float32, pa *PackedA, x []float32, p ConvParams, threads int, done func(r0, r1, q0, q1 int)) {
	p.check("ConvPacked")
	K, N := p.K(), p.N()
	if pa.k != K {
		panic(fmt.Sprintf("simd: ConvPacked: filters have depth %d, the convolution %d", pa.k, K))
	}
	M := pa.m
	if M == 0 || N == 0 {
		return
	}
	need("ConvPacked", p.C*p.H*p.W, x)
	need("ConvPacked", (M-1)*N+N, y)
	if K == 0 {
		clear(y[:M*N])
		return
	}
	parallel := threads >= 2 && M*N*K > parallelMin
	kc := ConvKBlock(N, K) // ONNX Runtime's blocks: the same sums
	// Chunks of whole pairs of panels (an odd panel runs the slower
	// one-panel kernel: a third of the work at K = 1152 with three-panel
	// chunks), at least four panels so the filters are reused.
	chunk := ConvChunkFloats
	if parallel {
		chunk = convParallelChunk
	}
	nc := max(4*nr, chunk/K/(2*nr)*(2*nr))
	chunks := (N + nc - 1) / nc
	l := newColLayout(&p)
	switch {
	case parallel && chunks < runsPerThread*threads && M >= 4*mr*threads:
		// Few chunks (a deep, narrow conv: resnet's last stages have one
		// to four) would leave threads idle or uneven: share the filters
		// out instead, where each thread gets two row tiles or more.
		convByRows(y, pa, x, &l, kc, threads, done)
		return
	case parallel:
		convByColumns(y, pa, x, &l, kc, nc, threads, done)
		return
	}
	ws := wsPool.get()
	defer wsPool.put(ws)
	planes, taps := l.layOut(ws, x, 0, l.ph)
	for q0 := 0; q0 < N; q0 += nc {
		q1 := min(N, q0+nc)
		convChunk(y, pa, planes, &l, taps, ws, kc, q0, q1, 0, M)
		if done != nil {
			done(0, M, q0, q1)
		}
	}
}

// convByColumns is ConvPacked's product on several threads: each thread
// takes one contiguous range of columns (output rows), lays out the rows of
// the planes they read in its own planes, and computes them in chunks of
// nc columns with its own im2col copy, so that each thread writes only its
// own scratch (see convByRows).
func convByColumns(y []float32, pa *PackedA, x []float32, l *colLayout, kc, nc, threads int, done func(r0, r1, q0, q1 int)) {
	M, N := pa.m, l.p.N()
	p := l.p
	pairs := (N + 2*nr - 1) / (2 * nr)
	parts := min(threads, maxShares, pairs)
	ParallelThreads(parts, threads, func(th, b int) {
		q0, q1 := min(N, b*pairs/parts*2*nr), min(N, (b+1)*pairs/parts*2*nr)
		if q0 >= q1 {
			return
		}
		s := shareWorkspace(th)
		defer s.release()
		// The plane rows that output rows [q0/OutW, (q1-1)/OutW] read.
		r0 := q0 / p.OutW * p.StrideH
		r1 := min(l.ph, (q1-1)/p.OutW*p.StrideH+(p.KH-1)*p.DilH+1)
		planes, taps := l.layOut(s.ws, x, r0, r1)
		for c := q0; c < q1; c += nc {
			c1 := min(q1, c+nc)
			convChunk(y, pa, planes, l, taps, s.ws, kc, c, c1, 0, M)
			if done != nil {
				done(0, M, c, c1)
			}
		}
	})
}

// convByRows is ConvPacked's product for a convolution of few column
// chunks on several threads: each thread lays out all of the input in its
// own planes, then computes a block of filter rows (whole row tiles) over
// all columns, through the taps kernels where tapsChunk accepts the
// columns, else through its own im2col copy. Each thread writes only its
// own scratch (shareWorkspace): on CPUs whose cores share no cache (this
// project's 2-vCPU Zen 5 VM) a line the other core held last costs ~200 ns
// to write, and with planes and an im2col copy that both threads wrote and
// both read, resnet's 14×14 layers ran only 1.2× faster on two threads
// than on one (BenchmarkConvPacked; now 1.5×, README). The rows of a
// block are computed as on one thread (the same kernels' FMA chains): the
// split does not change the bits.
func convByRows(y []float32, pa *PackedA, x []float32, l *colLayout, kc, threads int, done func(r0, r1, q0, q1 int)) {
	M, N := pa.m, l.p.N()
	var bounds [maxShares + 1]int
	blocks := rowBlocks(M, min(threads, maxShares), bounds[:0])
	ParallelThreads(len(blocks)-1, threads, func(th, b int) {
		r0, r1 := blocks[b], blocks[b+1]
		s := shareWorkspace(th)
		defer s.release()
		planes, taps := l.layOut(s.ws, x, 0, l.ph)
		convChunk(y, pa, planes, l, taps, s.ws, kc, 0, N, r0, r1)
		if done != nil {
			done(r0, r1, 0, N)
		}
	})
}

// rowBlocks cuts rows [0, m) into up to n blocks of whole row tiles
// (tileRows), near-equal in rows, and appends their bounds to b.
func rowBlocks(m, n int, b []int) []int {
	b = append(b, 0)
	for ir := 0; ir < m; ir += tileRows(m, ir) {
		if ir > b[len(b)-1] && ir >= len(b)*m/n {
			b = append(b, ir)
		}
	}
	return append(b, m)
}

// DepthwiseConv2D computes a depthwise convolution (group = C, one filter
// per channel): y[c] = bias[c] + x[c] ⋆ w[c], x C×H×W, w C×KH×KW, y
// C×OutH×OutW, bias nil or C floats. 3×3 filters with stride 1 or 2 and no
// dilation run a direct vector kernel; any other kernel size, stride,
// dilation and padding the general vector kernel (dwGeneral). Channels
// are spread over up to threads goroutines. done, when not nil, is called
// with runs of channels [c0, c1) right after they are computed, on their
// goroutine, each channel once: runs of about dwDoneFloats outputs, so that
// an epilogue finds them in cache and small planes do not pay a call each.
func DepthwiseConv2D(y, x, w, bias []float32, p ConvParams, threads int, done func(c0, c1 int)) {
	p.check("DepthwiseConv2D")
	if p.C == 0 || p.OutH == 0 || p.OutW == 0 {
		return
	}
	need("DepthwiseConv2D", p.C*p.H*p.W, x)
	need("DepthwiseConv2D", p.C*p.KH*p.KW, w)
	need("DepthwiseConv2D", p.C*p.OutH*p.OutW, y)
	if bias != nil {
		need("DepthwiseConv2D", p.C, bias)
	}
	work := p.C * p.OutH * p.OutW * p.KH * p.KW
	serial := threads < 2 || work < parallelMinTaps || p.C < 2
	if useDwChan(&p) {
		// Blocks of a vector's channels, whole blocks to each goroutine.
		L := ks.dwcLanes
		if blocks := (p.C + L - 1) / L; serial || blocks < 2 {
			ws := wsPool.get()
			dwChan(y, x, w, bias, &p, ws, 0, p.C, done)
			wsPool.put(ws)
		} else {
			pp := p // the goroutines' copy: p stays on the stack (a heap object a call)
			ParallelRunsThreads(blocks, threads, func(th, b0, b1 int) {
				s := shareWorkspace(th)
				defer s.release()
				dwChan(y, x, w, bias, &pp, s.ws, b0*L, min(pp.C, b1*L), done)
			})
		}
		return
	}
	pp := p // dwRowChannels' plans keep it: a copy, so that p stays on the stack
	if serial {
		ws := wsPool.get()
		dwRowChannels(y, x, w, bias, &pp, ws, 0, p.C, done)
		wsPool.put(ws)
		return
	}
	ParallelRunsThreads(p.C, threads, func(th, c0, c1 int) {
		s := shareWorkspace(th)
		defer s.release()
		dwRowChannels(y, x, w, bias, &pp, s.ws, c0, c1, done)
	})
}

// dwRowChannels computes channels [c0, c1) of DepthwiseConv2D off the
// channel-lane path: the in-place 3×3 kernels, the padded-plane rows, the
// general kernel, or, with fewer outputs than a vector block, the scalar
// sums.
func dwRowChannels(y, x, w, bias []float32, p *ConvParams, ws *workspace, c0, c1 int, done func(c0, c1 int)) {
	padded := dwDirect3x3(p)
	var direct func(dst *float32, rows []*float32, blocks []int64, w []float32, bias float32, outRows, dstStride int)
	if padded {
		direct = dwDirectKernel(p)
	}
	isz, osz := p.H*p.W, p.OutH*p.OutW
	// Fewer outputs than a vector block (a global depthwise conv: a 7×7
	// kernel over a 7×7 map): the scalar sums, with no plane to lay out.
	small := osz < 8
	var offs []int32
	var plan dwPad
	var dd dwDirect
	var prods []float32
	switch {
	case small: // no plane
	case direct != nil:
		dd = newDwDirect(p, ws, direct)
	case padded:
		plan = newDwPad(p, ws)
	default:
		offs = dwOffsets(&ws.rows, p)
	}
	first := c0 // the first channel not yet passed to done
	for c := c0; c < c1; c++ {
		var b float32
		if bias != nil {
			b = bias[c]
		}
		switch {
		case small:
			dwScalar(y[c*osz:(c+1)*osz], x[c*isz:(c+1)*isz], w[c*p.KH*p.KW:(c+1)*p.KH*p.KW], b, p, &prods)
		case direct != nil:
			dd.run(y[c*osz:(c+1)*osz], x[c*isz:(c+1)*isz], w[c*9:(c+1)*9], b)
		case padded:
			// The writes past a row stay inside this channel's rows.
			plan.fill(x[c*isz : (c+1)*isz])
			plan.rows(y[c*osz:(c+1)*osz], w[c*9:(c+1)*9], b)
		default:
			dwGeneral(y[c*osz:(c+1)*osz], x[c*isz:(c+1)*isz], w[c*p.KH*p.KW:(c+1)*p.KH*p.KW], b, p, ws, offs)
		}
		if done != nil && ((c+1-first)*osz >= dwDoneFloats || c+1 == c1) {
			done(first, c+1)
			first = c + 1
		}
	}
}

// dwDoneFloats is about how many outputs DepthwiseConv2D computes before it
// calls done: 16 KiB, well inside L1.
const dwDoneFloats = 4096

// dwScalar computes one channel of any depthwise convolution output by
// output, in the vector kernels' order (dwTapsGo's: taps in groups of four
// from +0, padding taps as products of +0), so the same bits. prods is
// scratch for the window's products, grown as needed.
func dwScalar(y, x, w []float32, bias float32, p *ConvParams, prods *[]float32) {
	taps := p.KH * p.KW
	w = w[:taps]
	if cap(*prods) < taps {
		*prods = make([]float32, taps)
	}
	pr := (*prods)[:taps]
	for oh := 0; oh < p.OutH; oh++ {
		for ow := 0; ow < p.OutW; ow++ {
			t := 0
			for i := 0; i < p.KH; i++ {
				ih := oh*p.StrideH - p.PadT + i*p.DilH
				iw := ow*p.StrideW - p.PadL
				for j := 0; j < p.KW; j, iw, t = j+1, iw+p.DilW, t+1 {
					v := float32(0)
					if ih >= 0 && ih < p.H && iw >= 0 && iw < p.W {
						v = x[ih*p.W+iw]
					}
					pr[t] = float32(v * w[t])
				}
			}
			acc := float32(0)
			t = 0
			for ; t+4 <= taps; t += 4 {
				acc = pr[t] + pr[t+1] + pr[t+2] + pr[t+3] + acc
			}
			if taps-t >= 2 {
				acc = pr[t] + pr[t+1] + acc
				t += 2
			}
			if t < taps {
				acc = pr[t] + acc
			}
			y[oh*p.OutW+ow] = acc + bias
		}
	}
}

// dwPadded runs a 3×3 channel entirely through the vector row kernels: the
// input is copied once into a zero-bordered plane wide enough for whole
// 8-column blocks (no scalar edge columns), and output rows whose width is
// not a multiple of 8 go through a temporary row.
func dwPadded(y, x, w []float32, bias float32, p *ConvParams, ws *workspace, fresh bool) {
	plane, tmp, pw := dwPaddedPlane(p, ws, fresh)
	d := planDwPad(p, plane, tmp, pw)
	d.fill(x)
	d.rows(y, w, bias)
}

// dwPad is dwPadded's plan for one convolution, worked out once for all
// its channels (small planes spend more in per-channel set-up than in the
// kernels): the zero-bordered plane and temporary row, and what fill and
// rows need of the geometry.
type dwPad struct {
	p          *ConvParams
	plane, tmp []float32
	pw, ow8    int // plane width, output columns a row rounded up to 8
	r0, r1, n  int // plane rows the input fills, and its floats a row
	full       int // output rows written whole into y
	f          func(dst, r0, r1, r2, w []float32, bias float32)
	whole      func(dst, src, w []float32, bias float32, rows, ow8, dstStride, pw int)
}

// newDwPad clears the workspace's plane and plans a convolution on it.
func newDwPad(p *ConvParams, ws *workspace) dwPad {
	plane, tmp, pw := dwPaddedPlane(p, ws, true)
	return planDwPad(p, plane, tmp, pw)
}

func planDwPad(p *ConvParams, plane, tmp []float32, pw int) dwPad {
	s := p.StrideW
	d := dwPad{p: p, plane: plane, tmp: tmp, pw: pw, ow8: (p.OutW + 7) &^ 7,
		r0: max(0, p.PadT), r1: min(len(plane)/pw, p.PadT+p.H), n: min(p.W, pw-p.PadL),
		f: ks.dw3s1, whole: ks.dwPlane3s1}
	if s == 2 {
		d.f, d.whole = ks.dw3s2, ks.dwPlane3s2
	}
	// Whole blocks straight into y, one call for the rows whose blocks
	// end inside this channel: the columns past OutW land in the next
	// rows, which are written after. The rest go through tmp.
	if p.OutH*p.OutW >= d.ow8 {
		d.full = min(p.OutH, (p.OutH*p.OutW-d.ow8)/p.OutW+1)
	}
	if d.full > 0 && ((d.full-1)*s+2)*pw+s*d.ow8+2 > len(plane) {
		panic(fmt.Sprintf("simd: depthwise: %d rows of %d overrun the plane (%d)", d.full, d.ow8, len(plane)))
	}
	return d
}

// fill copies one channel x (H×W) into the plane's input rectangle; the
// border stays zero from newDwPad.
func (d *dwPad) fill(x []float32) {
	p, n := d.p, d.n
	if n <= 0 || d.r1 <= d.r0 {
		return
	}
	x = x[(d.r0-p.PadT)*p.W : (d.r1-1-p.PadT)*p.W+n]
	dst := d.plane[d.r0*d.pw+p.PadL : (d.r1-1)*d.pw+p.PadL+n]
	for i, o := 0, 0; o < len(dst); i, o = i+p.W, o+d.pw {
		copy(dst[o:o+n], x[i:i+n])
	}
}

// rows runs the 3×3 row kernels over the filled plane into y (one channel).
func (d *dwPad) rows(y, w []float32, bias float32) {
	p, s, pw := d.p, d.p.StrideW, d.pw
	if d.full > 0 {
		if (d.full-1)*p.OutW+d.ow8 > len(y) {
			panic(fmt.Sprintf("simd: depthwise: %d rows of %d overrun y (%d)", d.full, d.ow8, len(y)))
		}
		d.whole(y, d.plane, w, bias, d.full, d.ow8, p.OutW, pw)
	}
	for oh := d.full; oh < p.OutH; oh++ {
		r := oh * s * pw
		d.f(d.tmp, d.plane[r:r+pw], d.plane[r+pw:r+2*pw], d.plane[r+2*pw:r+3*pw], w, bias)
		copy(y[oh*p.OutW:(oh+1)*p.OutW], d.tmp)
	}
}

// dwPaddedPlane returns dwPadded's zero-bordered plane (whose input
// rectangle the caller fills: rows PadT.., columns PadL.. up to pw), a
// temporary row, and the plane's width. fresh clears the plane; otherwise
// its border is still zero from the previous channel.
func dwPaddedPlane(p *ConvParams, ws *workspace, fresh bool) (plane, tmp []float32, pw int) {
	s := p.StrideW
	ow8 := (p.OutW + 7) &^ 7
	pw = s*ow8 + 2         // plane width: what the kernels read for ow8 outputs
	ph := (p.OutH-1)*s + 3 // plane rows: those the outputs read
	buf := aligned(&ws.a, ph*pw+ow8)
	plane, tmp = buf[:ph*pw], buf[ph*pw:]
	if fresh {
		// Only the input's rectangle is written: the border stays zero
		// for every channel.
		clear(plane)
	}
	return plane, tmp, pw
}

// dwPaddedRows runs the 3×3 row kernels over a filled dwPaddedPlane.
func dwPaddedRows(y, plane, tmp, w []float32, bias float32, p *ConvParams, pw int) {
	d := planDwPad(p, plane, tmp, pw)
	d.rows(y, w, bias)
}

// dwGeometry is the layout dwGeneral reads: StrideW phase planes of the
// zero-bordered input, each ph rows of qw floats, where column q of phase r
// is padded column q·StrideW + r. Tap (i, j) of output (oh, ow) then reads
// phase (j·DilW) mod StrideW at row oh·StrideH + i·DilH, column
// ow + (j·DilW) div StrideW: consecutive outputs read consecutive floats,
// whatever the stride and dilation.
func dwGeometry(p *ConvParams) (ow8, qw, ph int) {
	ow8 = (p.OutW + 7) &^ 7
	qw = ow8 + (p.KW-1)*p.DilW/p.StrideW
	ph = (p.OutH-1)*p.StrideH + (p.KH-1)*p.DilH + 1
	return
}

// dwOffsets returns each tap's offset into the phase planes (the same for
// every channel of one convolution).
func dwOffsets(buf *[]int32, p *ConvParams) []int32 {
	_, qw, ph := dwGeometry(p)
	offs := (*buf)[:0]
	for i := 0; i < p.KH; i++ {
		for j := 0; j < p.KW; j++ {
			r, q := j*p.DilW%p.StrideW, j*p.DilW/p.StrideW
			offs = append(offs, int32(r*ph*qw+i*p.DilH*qw+q))
		}
	}
	*buf = offs
	return offs
}

// dwGeneral computes one channel of any depthwise convolution with the
// dwTaps kernel over the phase planes of dwGeometry, in ONNX Runtime's
// summation order (the same bits as its scalar definition, dwPoint in the
// tests). Output rows are written whole blocks of 8 at a time straight into
// y (the columns past OutW land in the next row, written after); the last
// rows go through a temporary row.
func dwGeneral(y, x, w []float32, bias float32, p *ConvParams, ws *workspace, offs []int32) {
	s := p.StrideW
	ow8, qw, ph := dwGeometry(p)
	size := ph * qw
	buf := aligned(&ws.a, s*size+ow8)
	planes, tmp := buf[:s*size], buf[s*size:]
	phasePlanes(planes, x, p, qw, ph)
	w = w[:len(offs)]
	for oh := 0; oh < p.OutH; oh++ {
		base := &planes[oh*p.StrideH*qw]
		if o := oh * p.OutW; o+ow8 <= len(y) {
			ks.dwTaps(y[o:o+ow8], base, offs, w, bias)
			continue
		}
		ks.dwTaps(tmp[:ow8], base, offs, w, bias)
		copy(y[oh*p.OutW:(oh+1)*p.OutW], tmp)
	}
}

// phasePlanes lays one channel x (H×W) out as dwGeometry's StrideW phase
// planes of the zero-bordered input, ph rows of qw floats each.
func phasePlanes(planes, x []float32, p *ConvParams, qw, ph int) {
	phasePlaneRows(planes, x, p, qw, ph, 0, ph)
}

// phasePlaneRows is phasePlanes for rows [row0, row1) of each phase.
func phasePlaneRows(planes, x []float32, p *ConvParams, qw, ph, row0, row1 int) {
	switch {
	case p.StrideW == 1 && padPlaneRows(planes, x, p, qw, row0, row1):
		return
	case p.StrideW == 2 && phasePairRows(planes, x, p, qw, ph, row0, row1):
		return
	}
	phaseRowsEach(planes, x, p, qw, ph, row0, row1)
}

// phaseRowsEach is phasePlaneRows one phase after the other.
func phaseRowsEach(planes, x []float32, p *ConvParams, qw, ph, row0, row1 int) {
	s := p.StrideW
	for r := 0; r < s; r++ {
		// Columns q of this phase whose input column c = q·s + r − PadL
		// lies in the row: the same for every row (no divisions per row).
		q0 := min(qw, max(0, (p.PadL-r+s-1)/s))
		q1 := q0
		if last := p.W - 1 - r + p.PadL; last >= 0 {
			q1 = max(q0, min(qw, last/s+1))
		}
		c0 := q0*s + r - p.PadL
		n2 := 0 // columns copied eight at a time by the stride-2 kernel
		if s == 2 {
			n2 = min(q1-q0, (p.W-c0)/2) &^ 7
		}
		pl := planes[r*ph*qw : (r+1)*ph*qw]
		for row := row0; row < row1; row++ {
			dst := pl[row*qw : (row+1)*qw]
			ih := row - p.PadT
			if ih < 0 || ih >= p.H {
				clear(dst)
				continue
			}
			src := x[ih*p.W : (ih+1)*p.W]
			if s == 1 {
				lo := min(p.PadL, qw)
				zeroFew(dst[:lo])
				n := copy(dst[lo:], src)
				zeroFew(dst[lo+n:])
				continue
			}
			zeroFew(dst[:q0])
			if n2 > 0 {
				ks.evens(dst[q0:q0+n2], src[c0:c0+2*n2])
			}
			c := c0 + s*n2
			for q := q0 + n2; q < q1; q++ {
				dst[q] = src[c]
				c += s
			}
			zeroFew(dst[q1:])
		}
	}
}

// padPlaneRows is phasePlaneRows at stride 1: the rows that read the input
// in one call of ks.padRows (zero borders and the copy, a row after
// another), instead of a memmove call and two border loops a row (rows of
// 7 to 56 floats, where those cost more than the copy). It reports false,
// having written nothing, for borders over 16 floats.
func padPlaneRows(pl, x []float32, p *ConvParams, qw, row0, row1 int) bool {
	lo := min(p.PadL, qw)
	w := min(p.W, qw-lo)
	if lo > 16 || qw-lo-w > 16 {
		return false
	}
	r0, r1 := max(row0, p.PadT), min(row1, p.PadT+p.H) // rows inside the input
	if r0 >= r1 || w == 0 {
		clear(pl[row0*qw : row1*qw])
		return true
	}
	clear(pl[row0*qw : r0*qw])
	clear(pl[r1*qw : row1*qw])
	dst := pl[r0*qw : r1*qw]
	src := x[(r0-p.PadT)*p.W : (r1-1-p.PadT)*p.W+w]
	ks.padRows(&dst[0], &src[0], r1-r0, w, p.W, lo, qw)
	return true
}

// phasePairRows is phasePlaneRows at stride 2: each input row goes to both
// phases' rows in one pass of ks.deint, its even columns to one phase and
// its odd columns to the other, instead of one pass a phase of eight
// floats at a time and a scalar rest (at 28 and 14 wide, the rest was a
// third of each row). It reports false, having written nothing, where a
// phase's first column is not the row's first even or odd one (a phase
// row narrower than its padding).
func phasePairRows(planes, x []float32, p *ConvParams, qw, ph, row0, row1 int) bool {
	var q0, q1 [2]int // each phase's columns that lie in the row
	e := -1           // the phase of the even columns
	for r := range 2 {
		q0[r] = min(qw, max(0, (p.PadL-r+1)/2))
		q1[r] = q0[r]
		if last := p.W - 1 - r + p.PadL; last >= 0 {
			q1[r] = max(q0[r], min(qw, last/2+1))
		}
		switch q0[r]*2 + r - p.PadL { // the first column read
		case 0:
			e = r
		case 1:
		default:
			return false
		}
	}
	if e < 0 {
		return false
	}
	o := 1 - e
	ne, no := q1[e]-q0[e], q1[o]-q0[o]
	n := min(ne, no) // pairs through the kernel; at most one float left
	pe, po := planes[e*ph*qw:(e+1)*ph*qw], planes[o*ph*qw:(o+1)*ph*qw]
	for row := row0; row < row1; row++ {
		de, do := pe[row*qw:(row+1)*qw], po[row*qw:(row+1)*qw]
		ih := row - p.PadT
		if ih < 0 || ih >= p.H {
			clear(de)
			clear(do)
			continue
		}
		src := x[ih*p.W : (ih+1)*p.W]
		zeroFew(de[:q0[e]])
		zeroFew(do[:q0[o]])
		ks.deint(de[q0[e]:q0[e]+n], do[q0[o]:q0[o]+n], src[:2*n])
		for i := n; i < ne; i++ {
			de[q0[e]+i] = src[2*i]
		}
		for i := n; i < no; i++ {
			do[q0[o]+i] = src[2*i+1]
		}
		zeroFew(de[q1[e]:])
		zeroFew(do[q1[o]:])
	}
	return true
}

// zeroFew zeroes x, a row's padding columns: usually one or two floats,
// where a call of clear's memclr cost more than the store (a third of
// phasePlanes' time on 64×64 planes, in a profile of fp_gender's convs).
func zeroFew(x []float32) {
	if len(x) > 8 {
		clear(x)
		return
	}
	for i := 0; i < len(x); i++ { // not the range-clear idiom, which calls memclr
		x[i] = 0
	}
}

// SumPool2D writes the window sums of 2-D pooling: y[c] (OutH×OutW) is, at
// each output, the sum of the window's taps of x[c] (C planes of H×W), the
// padding reading zero, the taps added one at a time in row-major order
// from +0 (the scalar pooling loop's order). Average pooling divides by the
// window's count afterwards. Any window, stride, dilation and padding;
// channels spread over up to threads goroutines.
func SumPool2D(y, x []float32, p ConvParams, threads int) {
	p.check("SumPool2D")
	if p.C == 0 || p.OutH == 0 || p.OutW == 0 {
		return
	}
	need("SumPool2D", p.C*p.H*p.W, x)
	need("SumPool2D", p.C*p.OutH*p.OutW, y)
	run := func(c0, c1 int) { sumPoolVector(y, x, &p, c0, c1) }
	if PoolInRegisters(&p) {
		run = func(c0, c1 int) { sumPoolScalar(y, x, &p, c0, c1) }
	}
	if threads < 2 || p.C < 2 || p.C*p.OutH*p.OutW*p.KH*p.KW < parallelMinTaps {
		run(0, p.C)
		return
	}
	ParallelRuns(p.C, threads, run)
}

// sumPoolVector is SumPool2D's vector path for channels [c0, c1): each
// channel laid out in phase planes, then each output row's window sums by
// sumTaps, eight windows a vector.
func sumPoolVector(y, x []float32, p *ConvParams, c0, c1 int) {
	ws := wsPool.get()
	defer wsPool.put(ws)
	offs := dwOffsets(&ws.rows, p)
	ow8, qw, ph := dwGeometry(p)
	size := ph * qw
	buf := aligned(&ws.a, p.StrideW*size+ow8)
	planes, tmp := buf[:p.StrideW*size], buf[p.StrideW*size:]
	for c := c0; c < c1; c++ {
		yc := y[c*p.OutH*p.OutW : (c+1)*p.OutH*p.OutW]
		phasePlanes(planes, x[c*p.H*p.W:(c+1)*p.H*p.W], p, qw, ph)
		for oh := 0; oh < p.OutH; oh++ {
			base := &planes[oh*p.StrideH*qw]
			if o := oh * p.OutW; o+ow8 <= len(yc) {
				ks.sumTaps(yc[o:o+ow8], base, offs)
				continue
			}
			ks.sumTaps(tmp[:ow8], base, offs)
			copy(yc[oh*p.OutW:(oh+1)*p.OutW], tmp)
		}
	}
}

// PoolInRegisters reports whether the pooling windows of p are better
// taken in registers, a few windows at a time, than by the vector kernels:
// windows inside the input, and few of them a row or far apart, where the
// vector kernels would leave most lanes of a row empty or first copy the
// input into StrideW phase planes (2–10× slower: BenchmarkSumPool2D).
// SumPool2D and the interpreter's max pooling both decide by it.
func PoolInRegisters(p *ConvParams) bool {
	return windowsInside(p) && (p.OutW < 8 || p.StrideW >= 3)
}

// windowsInside reports whether every window of p lies inside the input.
func windowsInside(p *ConvParams) bool {
	return p.PadT == 0 && p.PadL == 0 &&
		(p.OutH-1)*p.StrideH+(p.KH-1)*p.DilH < p.H && (p.OutW-1)*p.StrideW+(p.KW-1)*p.DilW < p.W
}

// sumPoolScalar sets y to the window sums of channels [c0, c1) for windows
// inside the input, each summed from +0 in row-major tap order, as
// sumTaps sums them (so the same bits), four windows of a row at a time in
// registers so the adds do not wait on each other.
func sumPoolScalar(y, x []float32, p *ConvParams, c0, c1 int) {
	isz, osz := p.H*p.W, p.OutH*p.OutW
	sw, dw := p.StrideW, p.DilW
	for c := c0; c < c1; c++ {
		xc, yc := x[c*isz:(c+1)*isz], y[c*osz:(c+1)*osz]
		for oh := 0; oh < p.OutH; oh++ {
			yr := yc[oh*p.OutW : (oh+1)*p.OutW]
			ow := 0
			for ; ow+4 <= p.OutW; ow += 4 {
				var a0, a1, a2, a3 float32
				for i := 0; i < p.KH; i++ {
					row := xc[(oh*p.StrideH+i*p.DilH)*p.W+ow*sw:]
					_ = row[3*sw+(p.KW-1)*dw]
					for j := 0; j < p.KW; j++ {
						o := j * dw
						a0 += row[o]
						a1 += row[o+sw]
						a2 += row[o+2*sw]
						a3 += row[o+3*sw]
					}
				}
				yr[ow], yr[ow+1], yr[ow+2], yr[ow+3] = a0, a1, a2, a3
			}
			for ; ow < p.OutW; ow++ {
				var a float32
				for i := 0; i < p.KH; i++ {
					row := xc[(oh*p.StrideH+i*p.DilH)*p.W+ow*sw:]
					for j := 0; j < p.KW; j++ {
						a += row[j*dw]
					}
				}
				yr[ow] = a
			}
		}
	}
}
