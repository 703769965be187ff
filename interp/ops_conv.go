package interp

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// windowWalk visits, for one kernel offset kidx, the output positions of
// output rows [r0, r1) (a row: the positions along the last spatial
// dimension) in row-major order, one row at a time. For each it calls fn(o,
// base, ok) where o is the flat output index of the row's start and base
// the flat input offset of its outer dimensions (ok is false when an outer
// dimension falls in the padding). The caller handles the last dimension
// itself.
func windowWalk(g *spatialGeom, kidx []int, r0, r1 int, fn func(o, base int, ok bool)) {
	nd := len(g.in)
	last := g.out[nd-1]
	oidx := make([]int, nd)
	unflatten(r0, g.out[:nd-1], oidx[:nd-1])
	for r := r0; r < r1; r++ {
		base, ok := 0, true
		for d := 0; d < nd-1; d++ {
			i := oidx[d]*g.strides[d] - g.padB[d] + kidx[d]*g.dilations[d]
			if i < 0 || i >= g.in[d] {
				ok = false
			}
			base = base*g.in[d] + i
		}
		fn(r*last, base*g.in[nd-1], ok)
		for d := nd - 2; d >= 0; d-- {
			oidx[d]++
			if oidx[d] < g.out[d] {
				break
			}
			oidx[d] = 0
		}
	}
}

func unflatten(k int, dims []int, idx []int) {
	for d := len(dims) - 1; d >= 0; d-- {
		idx[d] = k % dims[d]
		k /= dims[d]
	}
}

// im2col lays out the windows of x (channels × spatial) for output rows
// [r0, r1) (see windowWalk) as a matrix of (channels·kernel) rows and one
// column per output position of those rows.
func im2col(x []float32, channels int, g *spatialGeom, r0, r1 int, col []float32) {
	last := g.out[len(g.out)-1]
	s := g.strides[len(g.strides)-1]
	cols := (r1 - r0) * last
	eachTapRow(g, x, channels, r0, r1, func(xc []float32, row, off, lo, hi int, bases []int) {
		dst := col[row*cols:][:cols]
		for r, base := range bases {
			seg := dst[r*last : (r+1)*last]
			if base < 0 {
				clear(seg)
				continue
			}
			for j := 0; j < lo; j++ {
				seg[j] = 0
			}
			for j := hi; j < last; j++ {
				seg[j] = 0
			}
			if s == 1 {
				copy(seg[lo:hi], xc[base+lo+off:base+hi+off])
				continue
			}
			for j := lo; j < hi; j++ {
				seg[j] = xc[base+j*s+off]
			}
		}
	})
}

// col2im is the adjoint of im2col: it adds each column entry back into the
// input position it was read from (used by ConvTranspose).
func col2im(col []float32, channels int, g *spatialGeom, x []float32) {
	last, osz := g.out[len(g.out)-1], prod(g.out)
	s := g.strides[len(g.strides)-1]
	eachTapRow(g, x, channels, 0, osz/max(last, 1), func(xc []float32, row, off, lo, hi int, bases []int) {
		src := col[row*osz:][:osz]
		for r, base := range bases {
			if base < 0 || lo == hi {
				continue
			}
			seg := src[r*last : (r+1)*last]
			if s == 1 {
				dst := xc[base+lo+off : base+hi+off]
				simd.Add(dst, dst, seg[lo:hi])
				continue
			}
			for j := lo; j < hi; j++ {
				xc[base+j*s+off] += seg[j]
			}
		}
	})
}

// col2imPhased is col2im for a last-axis stride s whose taps overlap
// (kernel wider than s), overwriting x: each row of x is summed in
// scratch ph (as large as x) as s phases of contiguous columns — phase p
// holds columns p, p+s, … — so that every tap's add is contiguous, then
// the phases are interleaved into x, one strided write per output
// instead of one per tap. Each output's sum runs in col2im's order.
func col2imPhased(col []float32, channels int, g *spatialGeom, x, ph []float32) {
	nd := len(g.in)
	w, s := g.in[nd-1], g.strides[nd-1]
	last, osz := g.out[nd-1], prod(g.out)
	starts := make([]int, s+1) // phase p of a row: [starts[p], starts[p+1])
	for p := range s {
		starts[p+1] = starts[p] + (w-p+s-1)/s
	}
	ph = ph[:len(x)]
	clear(ph)
	eachTapRow(g, ph, channels, 0, osz/max(last, 1), func(pc []float32, row, off, lo, hi int, bases []int) {
		src := col[row*osz:][:osz]
		p := off - floorDiv(off, s)*s
		// column j·s + off is phase p's column j + (off − p)/s.
		at := starts[p] + (off-p)/s
		for r, base := range bases {
			if base < 0 || lo == hi {
				continue
			}
			dst := pc[base+at+lo : base+at+hi]
			simd.Add(dst, dst, src[r*last+lo:r*last+hi])
		}
	})
	for r := 0; r < len(x); r += w {
		xr, pr := x[r:r+w], ph[r:r+w]
		for p := range s {
			for q, v := range pr[starts[p]:starts[p+1]] {
				xr[q*s+p] = v
			}
		}
	}
}

// eachTapRow visits the rows of the window matrix of output rows [r0, r1),
// one per (channel, kernel tap), in order: fn gets the channel's slice of
// x, the matrix row, the last-axis tap's input offset off (position j of
// an output row reads input j·stride + off), the positions [lo, hi) that
// read inside the input, and where each output row's window row starts in
// the channel (-1 in the padding).
func eachTapRow(g *spatialGeom, x []float32, channels, r0, r1 int, fn func(xc []float32, row, off, lo, hi int, bases []int)) {
	nd := len(g.in)
	last, inLast, isz := g.out[nd-1], g.in[nd-1], prod(g.in)
	kw, kouter := g.kernel[nd-1], prod(g.kernel[:nd-1])
	s, p, dil := g.strides[nd-1], g.padB[nd-1], g.dilations[nd-1]
	rows := r1 - r0
	bases := windowRowBases(g, r0, r1)
	for c := 0; c < channels; c++ {
		xc := x[c*isz : (c+1)*isz]
		for ko := 0; ko < kouter; ko++ {
			for k := 0; k < kw; k++ {
				off := k*dil - p
				lo, hi := tapSpan(off, s, inLast, last)
				fn(xc, (c*kouter+ko)*kw+k, off, lo, hi, bases[ko*rows:(ko+1)*rows])
			}
		}
	}
}

// windowRowBases returns, for output rows [r0, r1) and each outer kernel
// offset ko (all axes but the last), where each row's window row starts
// in a channel of the input, or -1 in the padding: bases[ko·(r1-r0) + r].
// The same for every channel and last-axis tap.
func windowRowBases(g *spatialGeom, r0, r1 int) []int {
	nd := len(g.in)
	last, rows := g.out[nd-1], r1-r0
	kouter := prod(g.kernel[:nd-1])
	bases := make([]int, kouter*rows)
	kidx := make([]int, nd)
	for ko := 0; ko < kouter; ko++ {
		unflatten(ko, g.kernel[:nd-1], kidx[:nd-1])
		windowWalk(g, kidx, r0, r1, func(o, base int, ok bool) {
			if !ok {
				base = -1
			}
			bases[ko*rows+o/last-r0] = base
		})
	}
	return bases
}

// tapSpan is the positions j of an output row whose last-axis tap reads
// input j·s + off inside a row of n inputs: [lo, hi) of the row's last.
func tapSpan(off, s, n, last int) (lo, hi int) {
	lo = min(last, max(0, (-off+s-1)/s))
	return lo, max(lo, min(last, (n-off+s-1)/s))
}

type convAttrs struct {
	w     windowAttrs
	group int
	// wpack keeps the packed filters when the weights are an initializer.
	wpack *prepacked
	// epi, when set, is the fused BatchNormalization/Add/activation applied
	// to each output channel row after its bias (fuse.go).
	epi *convEpilogue
	// res is one run's residual (the fused Add's other input), on the
	// per-run copy of the attributes.
	res *Tensor
	// geom keeps the last geometry resolved, for the next run's same shapes.
	geom *geomCache
}

// geomCache holds a kernel's last window geometry: a model's shapes are the
// same run after run, and resolving them allocated on every call.
type geomCache struct{ last atomic.Pointer[geomEntry] }

type geomEntry struct {
	in, kernel []int
	g          *spatialGeom
}

// geometry is w.geometry(in, kernel) through the cache c (nil: none). The
// geometry returned is shared: callers must not change it.
func (c *geomCache) geometry(w windowAttrs, in, kernel []int) (*spatialGeom, error) {
	if c != nil {
		if e := c.last.Load(); e != nil && slices.Equal(e.in, in) && slices.Equal(e.kernel, kernel) {
			return e.g, nil
		}
	}
	g, err := w.geometry(in, kernel)
	if err != nil || c == nil {
		return g, err
	}
	g.in = slices.Clone(in)
	c.last.Store(&geomEntry{in: g.in, kernel: slices.Clone(kernel), g: g})
	return g, nil
}

// convF32 computes a convolution in float32; w is M×(C/group)×kernel.
func convF32(ctx *Ctx, a convAttrs, xs, ws []int, wt *Tensor, x, w, bias []float32) (*Tensor, error) {
	if len(xs) < 3 || len(ws) != len(xs) {
		return nil, fmt.Errorf("input and weights need equal rank ≥ 3, got %v and %v", xs, ws)
	}
	n, c, m := xs[0], xs[1], ws[0]
	grp := a.group
	if grp <= 0 || c%grp != 0 || m%grp != 0 || ws[1]*grp != c {
		return nil, fmt.Errorf("channels %d and weights %v do not match group %d", c, ws, grp)
	}
	g, err := a.geom.geometry(a.w, xs[2:], ws[2:])
	if err != nil {
		return nil, err
	}
	for i, k := range g.kernel {
		if k != ws[2+i] {
			return nil, fmt.Errorf("kernel_shape %v differs from the weights %v", g.kernel, ws)
		}
	}
	if bias != nil && len(bias) != m {
		return nil, fmt.Errorf("bias has %d elements, want %d", len(bias), m)
	}
	var shape [8]int // on the stack for up to 6 spatial dims
	ot := ctx.newRaw(onnx.Float, append(append(shape[:0], n, m), g.out...)...)
	out := ot.Floats() // every path overwrites it
	g = as2D(g)        // a 1-D convolution as a 2-D one over a single row
	epi := a.epi
	if epi != nil && epi.add != nil {
		// A fused Add: the residual joins the epilogue where it has the
		// output's shape; else the Add and the clip run after (addAfter).
		e := *epi
		if residualFits(a.res, ot.Shape) {
			e.res = a.res.Floats()
		} else {
			e.add, e.clip = nil, false
		}
		epi = &e
	}
	if len(g.in) == 2 {
		var pa []*simd.PackedA
		if a.wpack != nil && !(c == grp && m == grp) {
			pa = a.wpack.get(wt, func() any { return packFilters(w, grp, m/grp, ws[1]*prod(ws[2:])) }).([]*simd.PackedA)
		}
		conv2D(ctx, g, n, c, m, grp, x, w, bias, pa, epi, out)
		return ot, nil
	}
	// Three or more spatial dimensions: im2col and GEMM by chunks of output
	// rows, so that the window matrix (C·kernel rows) stays near cache
	// size instead of growing with the volume (43 MB for a 3×3×3 conv of
	// 32 channels on 16×28×28).
	cg, mg := c/grp, m/grp
	kvol, osz, isz := prod(g.kernel), prod(g.out), prod(g.in)
	kdim := cg * kvol
	direct := kvol == 1 && osz == isz
	for i := range g.in {
		direct = direct && g.strides[i] == 1 && g.padB[i] == 0
	}
	last := g.out[len(g.out)-1]
	rows := osz / max(last, 1)
	chunkRows := max(1, im2colChunkFloats/max(kdim*last, 1))
	var col []float32
	if !direct {
		col = ctx.scratch(kdim * min(rows, chunkRows) * last)
	}
	for b := 0; b < n; b++ {
		for gi := 0; gi < grp; gi++ {
			xg := x[(b*c+gi*cg)*isz : (b*c+(gi+1)*cg)*isz]
			dst := out[(b*m+gi*mg)*osz : (b*m+(gi+1)*mg)*osz]
			wg := w[gi*mg*kdim:]
			if direct {
				sgemm(ctx.Threads(), false, false, mg, osz, kdim, 1, wg, kdim, xg, osz, 0, dst, osz)
				continue
			}
			for r0 := 0; r0 < rows; r0 += chunkRows {
				r1 := min(rows, r0+chunkRows)
				q0, nc := r0*last, (r1-r0)*last
				im2col(xg, cg, g, r0, r1, col)
				sgemm(ctx.Threads(), false, false, mg, nc, kdim, 1, wg, kdim, col, nc, 0, dst[q0:], osz)
			}
		}
		finishChannels(out[b*m*osz:(b+1)*m*osz], m, osz, bias, epi.batch(b, m*osz))
	}
	return ot, nil
}

// im2colChunkFloats is the size of the window matrix of one chunk of
// output rows in convF32's N-D path (1 MiB: Zen 5's L2).
const im2colChunkFloats = 256 << 10

// addChannelBias adds bias[j] to row j (of length osz) of y; nil adds nothing.
func addChannelBias(y, bias []float32, osz int) {
	simd.ScaleShiftRows(y, osz, len(bias), osz, one[:], 0, bias) // AddScalar a row
}

// packFilters packs each group's mg×kdim filter matrix as a GEMM left operand.
func packFilters(w []float32, grp, mg, kdim int) []*simd.PackedA {
	pa := make([]*simd.PackedA, grp)
	for gi := range pa {
		pa[gi] = simd.PackA(false, mg, kdim, 1, w[gi*mg*kdim:(gi+1)*mg*kdim], kdim)
	}
	return pa
}

// conv2D is the 2-D convolution through the simd kernels: a depthwise
// kernel when every group is one channel in and out, a plain GEMM for 1×1
// stride-1 unpadded convs, else im2col straight into the packed GEMM layout.
// pa, when not nil, holds the filters packed by packFilters; epi, when not
// nil, is applied to each output channel row after its bias.
func conv2D(ctx *Ctx, g *spatialGeom, n, c, m, grp int, x, w, bias []float32, pa []*simd.PackedA, epi *convEpilogue, out []float32) {
	cg, mg := c/grp, m/grp
	p := simd.ConvParams{C: cg, H: g.in[0], W: g.in[1], KH: g.kernel[0], KW: g.kernel[1],
		StrideH: g.strides[0], StrideW: g.strides[1], PadT: g.padB[0], PadL: g.padB[1],
		DilH: g.dilations[0], DilW: g.dilations[1], OutH: g.out[0], OutW: g.out[1]}
	isz, osz, kdim := p.H*p.W, p.N(), p.K()
	th := ctx.Threads()
	if cg == 1 && mg == 1 {
		p.C = c
		for b := 0; b < n; b++ {
			y := out[b*m*osz : (b+1)*m*osz]
			var done func(int, int)
			if eb := epi.batch(b, m*osz); eb != nil {
				done = func(j0, j1 int) { finishColumns(y[j0*osz:], osz, j0, j1, 0, osz, nil, eb) }
			}
			simd.DepthwiseConv2D(y, x[b*c*isz:(b+1)*c*isz], w, bias, p, th, done)
		}
		return
	}
	direct := p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadT == 0 && p.PadL == 0 && osz == isz
	if !direct && pa != nil {
		// Packed filters: im2col and GEMM in cache-sized column chunks; a
		// strided or padded 1×1 conv gathers its input columns chunk by
		// chunk instead of laying the whole input out for im2col.
		conv := simd.ConvPacked
		if p.KH == 1 && p.KW == 1 {
			conv = simd.ConvPointwise
		}
		for b := 0; b < n; b++ {
			eb := epi.batch(b, m*osz)
			for gi := 0; gi < grp; gi++ {
				xg := x[(b*c+gi*cg)*isz : (b*c+(gi+1)*cg)*isz]
				y := out[(b*m+gi*mg)*osz : (b*m+(gi+1)*mg)*osz]
				var done func(r0, r1, q0, q1 int)
				if bias != nil || eb != nil {
					done = func(r0, r1, q0, q1 int) {
						finishColumns(y[r0*osz:], osz, gi*mg+r0, gi*mg+r1, q0, q1, bias, eb)
					}
				}
				conv(y, pa[gi], xg, p, th, done)
			}
		}
		return
	}
	var col []float32
	if !direct {
		col = ctx.scratch(simd.PackedBSize(kdim, osz))
	}
	chunked := direct && pa != nil && (bias != nil || epi != nil)
	kc := simd.ConvKBlock(osz, kdim) // ONNX Runtime's K blocks, so the sums round alike
	for b := 0; b < n; b++ {
		eb := epi.batch(b, m*osz)
		for gi := 0; gi < grp; gi++ {
			xg := x[(b*c+gi*cg)*isz : (b*c+(gi+1)*cg)*isz]
			wg := w[gi*mg*kdim : (gi+1)*mg*kdim]
			dst := out[(b*m+gi*mg)*osz : (b*m+(gi+1)*mg)*osz]
			switch {
			case chunked:
				// Column chunks whose input and output stay in cache, each
				// finished right after its GEMM; with several threads, each
				// takes a run of chunks (epilogue included), or, with fewer
				// chunks than threads, each GEMM is split.
				nc := max(4*16, (96<<10)/(mg+kdim)/16*16)
				chunks := (osz + nc - 1) / nc
				gemmThreads, cth := 1, th
				if mg*osz*kdim <= simd.ParallelMin {
					cth = 1 // too little to hand half of it to a helper
				}
				if chunks < cth {
					gemmThreads = cth
				}
				parallelRanges(chunks, cth/gemmThreads, func(c0, c1 int) {
					for ch := c0; ch < c1; ch++ {
						q0, q1 := ch*nc, min(osz, (ch+1)*nc)
						simd.SgemmPackedAEach(pa[gi], false, q1-q0, xg[q0:], osz, nil, 0, dst[q0:], osz, kc, gemmThreads, func(r0, r1, j0, j1 int) {
							finishColumns(dst[r0*osz:], osz, gi*mg+r0, gi*mg+r1, q0+j0, q0+j1, bias, eb)
						})
					}
				})
			case direct && pa != nil:
				simd.SgemmPackedA(pa[gi], false, osz, xg, osz, nil, 0, dst, osz, kc, th)
			case direct:
				simd.Sgemm(false, false, mg, osz, kdim, 1, wg, kdim, xg, osz, 0, dst, osz, th)
			case pa != nil:
				simd.Im2colPacked(col, xg, p)
				simd.SgemmPackedA(pa[gi], false, osz, nil, 0, col, 0, dst, osz, kc, th)
			default:
				simd.Im2colPacked(col, xg, p)
				simd.SgemmPacked(false, mg, osz, kdim, 1, wg, kdim, col, 0, dst, osz, th)
			}
		}
		if !chunked {
			finishChannels(out[b*m*osz:(b+1)*m*osz], m, osz, bias, eb)
		}
	}
}

func convBuilder(b *Build) (Kernel, error) { return convKernel(b, nil) }

// convKernel is the Conv kernel; epi (nil: none) is fused into its float32
// output (fuse.go).
// convertedOnce returns constant t as float32, converted on the first call
// and kept in p.
func convertedOnce(p *prepacked, t *Tensor) ([]float32, error) {
	v := p.get(t, func() any {
		f, _ := AsFloat32(t)
		return f
	}).([]float32)
	if len(v) != t.Len() { // not converted: say why
		return AsFloat32(t)
	}
	return v, nil
}

func convKernel(b *Build, epi *convEpilogue) (Kernel, error) {
	a := convAttrs{w: readWindowAttrs(b), group: int(b.Int("group", 1)), epi: epi, geom: &geomCache{}}
	// wf keeps constant float16 (or float64) weights converted to float32:
	// a float16 model converted its weights again every run (168 MB a run
	// for IS-Net, on fresh pages).
	var wf *prepacked
	if constInput(b, 1) && b.Prepack() {
		a.wpack = &prepacked{}
		wf = &prepacked{}
	}
	a.w.ceil = false
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if !isFloat(in[0].DType) {
			return nil, fmt.Errorf("type %s is not supported (want a float type)", in[0].DType)
		}
		x, err := ctx.float32Of(in[0])
		if err != nil {
			return nil, err
		}
		w, err := ctx.constFloats(wf, in[1])
		if err != nil {
			return nil, err
		}
		var bias []float32
		if len(in) > 2 && in[2] != nil {
			if bias, err = floatIn(in[2]); err != nil {
				return nil, err
			}
		}
		ca := a
		if len(in) > 3 {
			ca.res = in[3] // a fused Add's residual
		}
		if in[0].DType != onnx.Float {
			ca.epi = nil // the fused steps run their own kernels (passFloat)
		} else if epi != nil && epi.k != nil && (len(in[1].Shape) == 0 || len(epi.k) != in[1].Shape[0]) {
			return nil, fmt.Errorf("fused BatchNormalization has %d channels, the weights %v", len(epi.k), in[1].Shape)
		}
		t, err := convF32(ctx, ca, in[0].Shape, in[1].Shape, in[1], x, w, bias)
		if err != nil {
			return nil, err
		}
		if e := ca.epi; e != nil && e.add != nil && !residualFits(ca.res, t.Shape) {
			return addAfter(ctx, e, t, ca.res)
		}
		return []*Tensor{ctx.roundFloat32(in[0].DType, t)}, nil
	}, nil
}

// residualFits reports whether a fused Add's residual r joins the
// convolution's epilogue: a float32 tensor of the output's shape.
func residualFits(r *Tensor, shape []int) bool {
	return r != nil && r.Kind == KindTensor && r.DType == onnx.Float && slices.Equal(r.Shape, shape)
}

// addAfter runs a fused Add that broadcasts (or whose residual is not
// float32) on the finished convolution t, in the Add's operand order, with
// the Add's own kernel, then the fused clip: the unfused steps' results.
func addAfter(ctx *Ctx, e *convEpilogue, t, r *Tensor) ([]*Tensor, error) {
	if r == nil {
		return nil, fmt.Errorf("fused Add: no residual input")
	}
	ops := []*Tensor{t, r}
	if e.addAt == 1 {
		ops = []*Tensor{r, t}
	}
	out, err := e.add(ctx, ops)
	if err != nil || !e.clip {
		return out, err
	}
	if y := out[0]; y.Kind == KindTensor && y.DType == onnx.Float {
		f := y.Floats()
		simd.Clip(f, f, e.lo, e.hi)
	}
	return out, nil
}

// convTransposeGeom resolves ConvTranspose's output size and pads; the
// returned geometry describes the forward conv from output back to input.
func convTransposeGeom(b *convTransAttrs, in, kernel []int) (*spatialGeom, error) {
	nd := len(in)
	g := &spatialGeom{kernel: kernel, strides: make([]int, nd), dilations: make([]int, nd),
		padB: make([]int, nd), padE: make([]int, nd), out: append([]int{}, in...), in: make([]int, nd)}
	get := func(v []int64, i, def int, name string) (int, error) {
		if v == nil {
			return def, nil
		}
		if len(v) < nd {
			return 0, fmt.Errorf("%s %v does not match %d spatial dims", name, v, nd)
		}
		return int(v[i]), nil
	}
	for i := range nd {
		var err error
		if g.strides[i], err = get(b.w.strides, i, 1, "strides"); err != nil {
			return nil, err
		}
		if g.dilations[i], err = get(b.w.dilations, i, 1, "dilations"); err != nil {
			return nil, err
		}
		op, err := get(b.outPad, i, 0, "output_padding")
		if err != nil {
			return nil, err
		}
		if g.strides[i] <= 0 || g.dilations[i] <= 0 {
			return nil, fmt.Errorf("strides and dilations must be positive")
		}
		ext := (kernel[i]-1)*g.dilations[i] + 1
		full := g.strides[i]*(in[i]-1) + op + ext
		switch {
		case b.outShape != nil:
			os := b.outShape
			if len(os) > nd {
				os = os[len(os)-nd:]
			}
			if len(os) != nd {
				return nil, fmt.Errorf("output_shape %v does not match %d spatial dims", b.outShape, nd)
			}
			g.in[i] = int(os[i])
			total := full - g.in[i]
			if b.w.autoPad == "SAME_UPPER" {
				g.padB[i] = floorDiv(total, 2)
			} else {
				g.padB[i] = total - floorDiv(total, 2)
			}
			g.padE[i] = total - g.padB[i]
		case b.w.autoPad == "SAME_UPPER" || b.w.autoPad == "SAME_LOWER":
			g.in[i] = in[i] * g.strides[i]
			total := full - g.in[i]
			if b.w.autoPad == "SAME_UPPER" {
				g.padB[i] = floorDiv(total, 2)
			} else {
				g.padB[i] = total - floorDiv(total, 2)
			}
			g.padE[i] = total - g.padB[i]
		default:
			if b.w.pads != nil && b.w.autoPad != "VALID" {
				if len(b.w.pads) != 2*nd {
					return nil, fmt.Errorf("pads %v does not match %d spatial dims", b.w.pads, nd)
				}
				g.padB[i], g.padE[i] = int(b.w.pads[i]), int(b.w.pads[i+nd])
			}
			g.in[i] = full - g.padB[i] - g.padE[i]
		}
		if g.in[i] <= 0 {
			return nil, fmt.Errorf("output size %d is not positive", g.in[i])
		}
	}
	return g, nil
}

type convTransAttrs struct {
	w                windowAttrs
	group            int
	outPad, outShape []int64
}

func convTransposeBuilder(b *Build) (Kernel, error) {
	a := &convTransAttrs{w: readWindowAttrs(b), group: int(b.Int("group", 1)),
		outPad: b.Ints("output_padding", nil), outShape: b.Ints("output_shape", nil)}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x, err := floatIn(in[0])
		if err != nil {
			return nil, err
		}
		w, err := floatIn(in[1])
		if err != nil {
			return nil, err
		}
		xs, ws := in[0].Shape, in[1].Shape
		if len(xs) < 3 || len(ws) != len(xs) {
			return nil, fmt.Errorf("input and weights need equal rank ≥ 3, got %v and %v", xs, ws)
		}
		n, c := xs[0], xs[1]
		grp := a.group
		if grp <= 0 || c%grp != 0 || ws[0] != c {
			return nil, fmt.Errorf("channels %d and weights %v do not match group %d", c, ws, grp)
		}
		mg := ws[1]
		m := mg * grp
		kernel := ws[2:]
		if a.w.kernel != nil {
			for i, k := range a.w.kernel {
				if i >= len(kernel) || int(k) != kernel[i] {
					return nil, fmt.Errorf("kernel_shape %v differs from the weights %v", a.w.kernel, ws)
				}
			}
		}
		g, err := convTransposeGeom(a, xs[2:], kernel)
		if err != nil {
			return nil, err
		}
		var bias []float32
		if len(in) > 2 && in[2] != nil {
			if bias, err = floatIn(in[2]); err != nil {
				return nil, err
			}
			if len(bias) != m {
				return nil, fmt.Errorf("bias has %d elements, want %d", len(bias), m)
			}
		}
		outShape := append([]int{n, m}, g.in...)
		out := newFloats(ctx, outShape...)
		cg := c / grp
		kvol, isz, osz := prod(kernel), prod(xs[2:]), prod(g.in)
		col := ctx.scratch(mg * kvol * isz)
		nd := len(kernel)
		phased := g.strides[nd-1] > 1 && kernel[nd-1] > g.strides[nd-1]
		var phases []float32
		if phased {
			phases = ctx.scratch(mg * osz)
		}
		for bi := 0; bi < n; bi++ {
			for gi := 0; gi < grp; gi++ {
				xg := x[(bi*c+gi*cg)*isz:]
				wg := w[gi*cg*mg*kvol:]
				// col = W_gᵀ (mg·kvol × cg) · X_g (cg × isz)
				sgemm(ctx.Threads(), true, false, mg*kvol, isz, cg, 1, wg, mg*kvol, xg, isz, 0, col, isz)
				og := out[(bi*m+gi*mg)*osz : (bi*m+(gi+1)*mg)*osz]
				// Channels apart on each thread: their outputs are disjoint.
				parallelRanges(mg, ctx.Threads(), func(c0, c1 int) {
					cc, oc := col[c0*kvol*isz:c1*kvol*isz], og[c0*osz:c1*osz]
					if phased {
						col2imPhased(cc, c1-c0, g, oc, phases[c0*osz:c1*osz])
					} else {
						col2im(cc, c1-c0, g, oc)
					}
				})
			}
			addChannelBias(out[bi*m*osz:(bi+1)*m*osz], bias, osz)
		}
		t, err := floatOut(in[0].DType, outShape, out)
		return []*Tensor{t}, err
	}, nil
}

func init() {
	Register("", "Conv", 1, needInputs(2, convBuilder))
	Register("", "Conv", 11, needInputs(2, convBuilder))
	Register("", "Conv", 22, needInputs(2, convBuilder))
	Register("", "ConvTranspose", 1, convTransposeBuilder)
	Register("", "ConvTranspose", 11, convTransposeBuilder)
	Register("", "ConvTranspose", 22, convTransposeBuilder)
}

// floorDiv divides rounding toward negative infinity (padding may be negative
// when output_shape asks for more than the input covers).
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// parallelRanges splits [0, n) into contiguous ranges and runs f on each,
// claimed by up to threads goroutines through simd.ParallelRuns (a panic is
// raised again on the caller, where the session recovers it).
func parallelRanges(n, threads int, f func(i0, i1 int)) {
	simd.ParallelRuns(n, threads, f)
}
