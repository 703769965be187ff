package simd

import (
	"fmt"
	"sync"
	"unsafe"
)

// Channel-lane depthwise convolution: on planes whose output rows are
// shorter than a vector (7×7, 14×14, a global depthwise conv), the row
// kernels fill a register with a few outputs and pay a plane set-up per
// channel. Here L channels share each vector instead (16 on AVX-512, 8 on
// AVX2), as in ONNX Runtime's NCHWc kernels: a block of L channels is laid
// out once channel-minor (position-major, L floats a position) in a
// zero-bordered plane, each output is then L channels' sums over the taps,
// and the
// outputs are transposed back into the channels' planes. Per output and
// channel the arithmetic is dwTaps' (four taps a group from +0, unfused
// products, the same operand order), so the bits are those of the row
// kernels and of dwPoint.

// dwChanMaxOutW3x3 is the widest output row of a stride-1 3×3 convolution
// that takes the channel-lane path: the direct row kernels are as fast from
// about 56 columns (`go test -bench Depthwise ./interp/simd`, the "rows"
// variants).
const dwChanMaxOutW3x3 = 32

// dwChanMaxPlane bounds the padded plane of one block, in positions (L
// floats each: 256 KiB at 16), so that it stays in L2: on a
// 142×142 plane (1.3 MiB) the row kernels were 1.3–1.7× faster.
const dwChanMaxPlane = 4096

// dwChanOff turns the channel-lane path off (benchmarks compare the paths).
var dwChanOff bool

// dwChanPlane returns the channel-lane layout's padded plane: rows and
// columns of positions that the outputs read.
func dwChanPlane(p *ConvParams) (hp, wp int) {
	hp = (p.OutH-1)*p.StrideH + (p.KH-1)*p.DilH + 1
	wp = (p.OutW-1)*p.StrideW + (p.KW-1)*p.DilW + 1
	return
}

// useDwChan reports whether DepthwiseConv2D takes the channel-lane path.
func useDwChan(p *ConvParams) bool {
	if dwChanOff || ks.dwcOut == nil || p.C < 2 {
		return false
	}
	if dwDirect3x3(p) && p.StrideW == 1 && p.OutW > dwChanMaxOutW3x3 {
		return false
	}
	// The in-place kernels (dwdirect.go) are as fast or faster where
	// output rows fill at least 80% of their 16-lane blocks (28 and 32
	// columns, 16 at stride 2; 20 was 15% slower: fp_detect's 128×15×20
	// nodes in `onnxslim run --profile-json`; `go test -bench Depthwise
	// ./interp/simd`: 3x3s1_32, 3x3s1_28, 3x3s2_140 against their /rows
	// variants). At stride 1 and 16 columns the two paths were as fast
	// (fp_landmark's 64×16² nodes, 3x3s1_16).
	if dwDirect3x3(p) && dwDirectKernel(p) != nil && (p.OutW > dwDirectLanes || p.StrideW == 2 && p.OutW == dwDirectLanes) {
		if blocks := (p.OutW + dwDirectLanes - 1) / dwDirectLanes; 5*p.OutW >= 4*dwDirectLanes*blocks {
			return false
		}
	}
	hp, wp := dwChanPlane(p)
	return hp*wp <= dwChanMaxPlane
}

// dwChan computes channels [c0, c1) of DepthwiseConv2D in blocks of L,
// calling done, when not nil, after about dwDoneFloats outputs.
func dwChan(y, x, w, bias []float32, p *ConvParams, ws *workspace, c0, c1 int, done func(c0, c1 int)) {
	L := ks.dwcLanes
	hp, wp := dwChanPlane(p)
	isz, osz, taps := p.H*p.W, p.OutH*p.OutW, p.KH*p.KW
	sink := hp * wp * L // where inputs that no output reads are written
	buf := aligned(&ws.a, sink+L)
	plane := buf[:sink+L]
	pl := dwChanPlanFor(p, L)
	// The border stays zero for every block: dwcIn writes every other
	// slot the outputs read.
	for _, o := range pl.border {
		// Whole-array stores: a memclr call a slot, or a loop of single
		// floats, cost more than clearing the whole plane.
		if L == 16 {
			*(*[16]float32)(plane[o:]) = [16]float32{}
		} else {
			clear(plane[o : int(o)+L])
		}
	}
	wb := aligned(&ws.b, taps*L+L)
	wt, bv := wb[:taps*L], wb[taps*L:]
	inOffs, outOffs, tapOffs, wOffs := pl.inOffs, pl.outOffs, pl.tapOffs, pl.wOffs
	first := c0
	for c := c0; c < c1; c += L {
		nch := min(L, c1-c)
		if len(x) < (c+nch)*isz || len(y) < (c+nch)*osz || len(w) < (c+nch)*taps {
			panic(fmt.Sprintf("simd: depthwise: channels %d..%d overrun x (%d), y (%d) or w (%d)", c, c+nch, len(x), len(y), len(w)))
		}
		ks.dwcIn(&wt[0], &w[c*taps], taps, nch, wOffs)
		clear(bv)
		if bias != nil {
			copy(bv, bias[c:c+nch])
		}
		ks.dwcIn(&plane[0], &x[c*isz], isz, nch, inOffs)
		ks.dwcOut(&y[c*osz], osz, nch, &plane[0], outOffs, tapOffs, &wt[0], &bv[0])
		if done != nil && ((c+nch-first)*osz >= dwDoneFloats || c+nch == c1) {
			done(first, c+nch)
			first = c + nch
		}
	}
}

// dwChanPlan is what dwChan lays out by the geometry alone, in floats:
// each input position's slot (or the sink), each output's window origin,
// each tap's offset from it, each filter tap's slot, and the padding slots
// that the outputs read and dwcIn never writes (zeroed once a call, not
// the whole plane).
type dwChanPlan struct {
	inOffs, outOffs, tapOffs, wOffs, border []int32
}

// dwChanPlans caches the plans of the geometries seen (a model has a few;
// the cache starts over past dwChanPlansMax, so that varying shapes do not
// grow it): working the offsets out cost a tenth of a 64×16² convolution.
var dwChanPlans struct {
	sync.Mutex
	m map[ConvParams]*dwChanPlan
}

const dwChanPlansMax = 256

// dwChanPlanFor returns the plan of p's geometry for L lanes.
func dwChanPlanFor(p *ConvParams, L int) *dwChanPlan {
	key := *p
	key.C = L // the offsets depend on the lanes, not on the channels
	dwChanPlans.Lock()
	defer dwChanPlans.Unlock()
	if pl := dwChanPlans.m[key]; pl != nil {
		return pl
	}
	if dwChanPlans.m == nil || len(dwChanPlans.m) >= dwChanPlansMax {
		dwChanPlans.m = map[ConvParams]*dwChanPlan{}
	}
	pl := newDwChanPlan(p, L)
	dwChanPlans.m[key] = pl
	return pl
}

// newDwChanPlan works out a dwChanPlan.
func newDwChanPlan(p *ConvParams, L int) *dwChanPlan {
	hp, wp := dwChanPlane(p)
	isz, osz, taps := p.H*p.W, p.OutH*p.OutW, p.KH*p.KW
	sink := hp * wp * L
	pl := &dwChanPlan{inOffs: make([]int32, isz), outOffs: make([]int32, osz), tapOffs: make([]int32, taps), wOffs: make([]int32, taps)}
	// The filters go through the same transposing kernel (taps as
	// positions, wOffs[t] = L·t): a Go loop over them cost more than the
	// convolution on 4² planes.
	for t := range pl.wOffs {
		pl.wOffs[t] = int32(L * t)
	}
	for h := 0; h < p.H; h++ {
		for c := 0; c < p.W; c++ {
			r, q := h+p.PadT, c+p.PadL
			o := sink
			if r >= 0 && r < hp && q >= 0 && q < wp {
				o = (r*wp + q) * L
			}
			pl.inOffs[h*p.W+c] = int32(o)
		}
	}
	for r := 0; r < hp; r++ {
		for q := 0; q < wp; q++ {
			if r < p.PadT || r >= p.PadT+p.H || q < p.PadL || q >= p.PadL+p.W {
				pl.border = append(pl.border, int32((r*wp+q)*L))
			}
		}
	}
	for oh := 0; oh < p.OutH; oh++ {
		for ow := 0; ow < p.OutW; ow++ {
			pl.outOffs[oh*p.OutW+ow] = int32((oh*p.StrideH*wp + ow*p.StrideW) * L)
		}
	}
	for i := 0; i < p.KH; i++ {
		for j := 0; j < p.KW; j++ {
			pl.tapOffs[i*p.KW+j] = int32((i*p.DilH*wp + j*p.DilW) * L)
		}
	}
	return pl
}

// dwcInGo makes the twin of the lanes-channel dwcIn kernels:
// dst[offs[p]+c] = x[c·xStride+p] for c < nch, 0 for nch ≤ c < lanes.
func dwcInGo(lanes int) func(dst, x *float32, xStride, nch int, offs []int32) {
	return func(dst, x *float32, xStride, nch int, offs []int32) {
		for p, o := range offs {
			d := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(dst), 4*int(o))), lanes)
			for c := range d {
				v := float32(0)
				if c < nch {
					v = *(*float32)(unsafe.Add(unsafe.Pointer(x), 4*(c*xStride+p)))
				}
				d[c] = v
			}
		}
	}
}

// dwcOutGo makes the twin of the lanes-channel dwcOut kernels:
// y[c·yStride+o] = bias[c] + Σ_t w[lanes·t+c]·src[outOffs[o]+tapOffs[t]+c]
// for c < nch, in dwTapsGo's order.
func dwcOutGo(lanes int) func(y *float32, yStride, nch int, src *float32, outOffs, tapOffs []int32, w, bias *float32) {
	return func(y *float32, yStride, nch int, src *float32, outOffs, tapOffs []int32, w, bias *float32) {
		taps := len(tapOffs)
		ws := unsafe.Slice(w, lanes*taps)
		bs := unsafe.Slice(bias, lanes)
		for o, ob := range outOffs {
			for c := 0; c < nch; c++ {
				x := func(t int) float32 {
					return *(*float32)(unsafe.Add(unsafe.Pointer(src), 4*(int(ob)+int(tapOffs[t])+c)))
				}
				wt := func(t int) float32 { return ws[lanes*t+c] }
				acc := float32(0)
				t := 0
				for ; t+4 <= taps; t += 4 {
					acc = float32(x(t)*wt(t)) + float32(x(t+1)*wt(t+1)) + float32(x(t+2)*wt(t+2)) + float32(x(t+3)*wt(t+3)) + acc
				}
				if taps-t >= 2 {
					acc = float32(x(t)*wt(t)) + float32(x(t+1)*wt(t+1)) + acc
					t += 2
				}
				if t < taps {
					acc = float32(x(t)*wt(t)) + acc
				}
				*(*float32)(unsafe.Add(unsafe.Pointer(y), 4*(c*yStride+o))) = acc + bs[c]
			}
		}
	}
}
