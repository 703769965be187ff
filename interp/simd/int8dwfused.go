package simd

import (
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"
)

// The fused int8 depthwise convolution (DepthwiseQ8Requant): bytes in,
// bytes out, one kernel call for a block of channels. Each channel is laid
// out once as a plane of bytes bordered with the input's zero point (so
// that padding adds nothing to Σ (x − zx)·w), and the kernel computes
// Σ x·w − zx·Σw over consecutive outputs of a row as one vector (stride 2:
// the even bytes of 16-bit words), then requantizes while the sums are in
// registers. The sums of integers stay below 2^24 (DepthwiseQ8Exact), so
// they are exact in float32 in any order, and the epilogue is Requant8's:
// the same bytes as DepthwiseQ8 followed by Requant8U8/I8, without the
// per-channel conversions, copies and calls that cost more than the
// arithmetic on small planes (960×7×7).

// dwQ8Geom is a fused depthwise convolution's plane layout.
type dwQ8Geom struct {
	pw, ph, psz int     // plane row and column counts, bytes a plane
	offs        []int32 // each tap's offset into a plane
}

func newDWQ8Geom(p *ConvParams) dwQ8Geom {
	var g dwQ8Geom
	g.pw = max(p.PadL+p.W, (p.OutW-1)*p.StrideW+(p.KW-1)*p.DilW+1)
	g.ph = max(p.PadT+p.H, (p.OutH-1)*p.StrideH+(p.KH-1)*p.DilH+1)
	g.psz = g.pw * g.ph
	for i := 0; i < p.KH; i++ {
		for j := 0; j < p.KW; j++ {
			g.offs = append(g.offs, int32(i*p.DilH*g.pw+j*p.DilW))
		}
	}
	return g
}

// dwQ8Slack is what the kernels may read past a plane's last tap: the
// VNNI kernel's 64 bytes a kernel row from a block's start.
const dwQ8Slack = 128

// dwQ8Chunk is the bytes of planes one kernel call reads.
const dwQ8Chunk = 32 << 10

var dwQ8Pool = sync.Pool{New: func() any { return new([]byte) }}

// DepthwiseQ8Fits reports whether DepthwiseQ8Requant takes p: stride 1 or
// 2 along the rows (any kernel, dilation, padding and vertical stride).
func DepthwiseQ8Fits(p ConvParams) bool {
	return p.StrideW == 1 || p.StrideW == 2
}

// DepthwiseQ8Requant is DepthwiseQ8 followed by Requant8U8 (Requant8I8
// when signed) of each channel, bit for bit: dst (C×OutH×OutW bytes) gets
// quantize(clip(acc·mult[c] + bias[c], lo, hi), s, z) of the exact sums
// acc = Σ (x − zx)·w of the filters f (made for p's C, KH and KW); zx is
// an integer in the input type's range. It panics unless
// DepthwiseQ8Fits(p). Channels are spread over up to threads goroutines.
// On AVX-512 VNNI with VBMI, uint8 input with filters that fit int8 runs
// four taps a VPDPBUSD (dwQ8VNNI); the bytes are the same.
func DepthwiseQ8Requant(dst, x []byte, signed bool, zx float32, f *DepthwiseQ8Filters, mult, bias []float32, lo, hi, s, z float32, p ConvParams, threads int) {
	p.check("DepthwiseQ8Requant")
	if !DepthwiseQ8Fits(p) {
		panic(fmt.Sprintf("simd: DepthwiseQ8Requant: stride %d along rows", p.StrideW))
	}
	if p.C == 0 || p.OutH == 0 || p.OutW == 0 {
		return
	}
	isz, osz, taps := p.H*p.W, p.OutH*p.OutW, p.KH*p.KW
	needBytes("DepthwiseQ8Requant", p.C*isz, len(x))
	needBytes("DepthwiseQ8Requant", p.C*osz, len(dst))
	if f.c != p.C || f.kh != p.KH || f.kw != p.KW {
		panic(fmt.Sprintf("simd: DepthwiseQ8Requant: filters for %d×%d×%d, convolution %d×%d×%d", f.c, f.kh, f.kw, p.C, p.KH, p.KW))
	}
	w, wsum := f.w, f.sum
	need("DepthwiseQ8Requant", p.C, mult)
	need("DepthwiseQ8Requant", p.C, bias)
	g := newDWQ8Geom(&p)
	qlo, qhi := float32(0), float32(255)
	pad := byte(int32(zx))
	if signed {
		qlo, qhi = -128, 127
		pad = byte(int8(int32(zx)))
	}
	kern := dwQ8Kernel(p.StrideW, signed)
	// The VNNI kernel: its index table and the corrections as int32.
	vnni := ks.dwQ8VNNI
	var idx []byte
	var corr []int32
	if vnni != nil && !signed && f.i8 != nil && 15*p.StrideW+(p.KW-1)*p.DilW <= 63 {
		idx = make([]byte, 64*f.groups)
		for g := 0; g < f.groups; g++ {
			for l := 0; l < 16; l++ {
				for b := 0; b < 4; b++ {
					if j := 4*g + b; j < p.KW {
						idx[64*g+4*l+b] = byte(l*p.StrideW + j*p.DilW)
					}
				}
			}
		}
		corr = make([]int32, p.C)
		for c, v := range wsum {
			corr[c] = int32(zx) * int32(v)
		}
	}
	dwQ8Blocks(x, pad, &p, &g, threads, func(b0, b1 int, planes []byte) {
		if idx != nil {
			vnni(dst[b0*osz:b1*osz], &planes[0], &idx[0], &f.i8[b0*p.KH*f.groups], mult[b0:b1], bias[b0:b1], corr[b0:b1], b1-b0, p.OutH, p.OutW, p.KH, f.groups, p.StrideH*g.pw, p.DilH*g.pw, 16*p.StrideW, g.psz, lo, hi, s, z, qlo, qhi)
			return
		}
		kern(dst[b0*osz:b1*osz], &planes[0], g.offs, w[b0*taps:b1*taps], mult[b0:b1], bias[b0:b1], wsum[b0:b1], b1-b0, p.OutH, p.OutW, p.StrideH*g.pw, g.psz, zx, lo, hi, s, z, qlo, qhi)
	})
}

// dwQ8Blocks lays the channels of x out as g's planes bordered with pad, a
// block of channels at a time, and calls run with each block [b0, b1) and
// its planes; blocks are spread over up to threads goroutines.
func dwQ8Blocks(x []byte, pad byte, p *ConvParams, g *dwQ8Geom, threads int, run func(b0, b1 int, planes []byte)) {
	isz := p.H * p.W
	nch := max(1, min(p.C, dwQ8Chunk/g.psz))
	work := func(c0, c1 int) {
		bp := dwQ8Pool.Get().(*[]byte)
		defer dwQ8Pool.Put(bp)
		n := min(nch, c1-c0)*g.psz + dwQ8Slack
		if cap(*bp) < n {
			*bp = make([]byte, n)
		}
		planes := (*bp)[:n]
		// The border: written once, the rectangles below never touch it.
		planes[0] = pad
		for f := 1; f < len(planes); f *= 2 {
			copy(planes[f:], planes[:f])
		}
		rows := planeRowsKernel()
		for b0 := c0; b0 < c1; b0 += nch {
			b1 := min(c1, b0+nch)
			var xp *byte // nil for an empty input plane (only padding is read)
			if isz > 0 {
				xp = &x[b0*isz]
			}
			rows(&planes[p.PadT*g.pw+p.PadL], xp, b1-b0, p.H, p.W, g.pw, g.psz)
			run(b0, b1, planes)
		}
	}
	if threads < 2 || p.C*p.OutH*p.OutW*p.KH*p.KW < parallelMinTaps || p.C < 2 {
		work(0, p.C)
		return
	}
	ParallelRuns(p.C, threads, work)
}

// DepthwiseQDQ is the float path of a QDQ depthwise convolution in one
// pass, bytes to bytes and bit for bit: DequantizeU8/I8 of x (C×H×W,
// signed: int8 bits) with zero point zx and scale sx, DepthwiseConv2D with
// the float filters w (C×KH×KW) and bias (MLAS's summation order, as every
// depthwise kernel sums), Clip to [lo, hi] (±Inf for none), then
// QuantizeU8/I8 (signed) with scale s and zero point z into dst
// (C×OutH×OutW). It panics unless DepthwiseQ8Fits(p); zx is an integer in
// the input type's range. Channels are spread over up to threads
// goroutines.
func DepthwiseQDQ(dst, x []byte, signed bool, zx, sx float32, w, bias []float32, lo, hi, s, z float32, p ConvParams, threads int) {
	p.check("DepthwiseQDQ")
	if !DepthwiseQ8Fits(p) {
		panic(fmt.Sprintf("simd: DepthwiseQDQ: stride %d along rows", p.StrideW))
	}
	if p.C == 0 || p.OutH == 0 || p.OutW == 0 {
		return
	}
	isz, osz, taps := p.H*p.W, p.OutH*p.OutW, p.KH*p.KW
	needBytes("DepthwiseQDQ", p.C*isz, len(x))
	needBytes("DepthwiseQDQ", p.C*osz, len(dst))
	need("DepthwiseQDQ", p.C*taps, w)
	need("DepthwiseQDQ", p.C, bias)
	g := newDWQ8Geom(&p)
	qlo, qhi := float32(0), float32(255)
	pad := byte(int32(zx))
	if signed {
		qlo, qhi = -128, 127
		pad = byte(int8(int32(zx)))
	}
	kern := dwQ8FKernel(p.StrideW, signed)
	dwQ8Blocks(x, pad, &p, &g, threads, func(b0, b1 int, planes []byte) {
		kern(dst[b0*osz:b1*osz], &planes[0], g.offs, w[b0*taps:b1*taps], bias[b0:b1], b1-b0, p.OutH, p.OutW, p.StrideH*g.pw, g.psz, zx, sx, lo, hi, s, z, qlo, qhi)
	})
}

// dwQ8FGo returns the twin of the dwQ8F kernels: DepthwiseQDQ's steps for
// chans channels of planes (psz bytes apart, w taps floats apart).
func dwQ8FGo(stride int, signed bool) func(dst []byte, x *byte, offs []int32, w, bias []float32, chans, outH, outW, rowStep, psz int, zx, sx, lo, hi, s, z, qlo, qhi float32) {
	return func(dst []byte, x *byte, offs []int32, w, bias []float32, chans, outH, outW, rowStep, psz int, zx, sx, lo, hi, s, z, qlo, qhi float32) {
		taps := len(offs)
		dst = dst[:chans*outH*outW]
		for c := 0; c < chans; c++ {
			wc := w[c*taps : (c+1)*taps]
			for oh := 0; oh < outH; oh++ {
				for ow := 0; ow < outW; ow++ {
					base := c*psz + oh*rowStep + ow*stride
					xv := func(t int) float32 {
						v := *(*byte)(unsafe.Add(unsafe.Pointer(x), base+int(offs[t])))
						f := float32(v)
						if signed {
							f = float32(int8(v))
						}
						return float32((f - zx) * sx)
					}
					prod := func(t int) float32 { return float32(xv(t) * wc[t]) }
					acc := float32(0)
					t := 0
					for ; t+4 <= taps; t += 4 {
						acc = prod(t) + prod(t+1) + prod(t+2) + prod(t+3) + acc
					}
					if taps-t >= 2 {
						acc = prod(t) + prod(t+1) + acc
						t += 2
					}
					if t < taps {
						acc = prod(t) + acc
					}
					y := acc + bias[c]
					if !(y > lo) {
						y = lo
					}
					if !(y < hi) {
						y = hi
					}
					dst[(c*outH+oh)*outW+ow] = byte(int32(quantize8One(y, s, z, qlo, qhi)))
				}
			}
		}
	}
}

// DepthwiseQ8Filters are a depthwise convolution's integer-valued filters
// laid out for DepthwiseQ8Requant once.
type DepthwiseQ8Filters struct {
	w, sum    []float32 // C×KH×KW filters, their sum per channel
	c, kh, kw int
	groups    int     // groups of four taps a kernel row
	i8        []int32 // per channel KH×groups dwords of four int8 taps (0 past KW); nil unless all fit int8
}

// NewDepthwiseQ8Filters lays out w (c×kh×kw integer values, the weights
// minus their zero point; the caller checks DepthwiseQ8Exact).
func NewDepthwiseQ8Filters(w []float32, c, kh, kw int) *DepthwiseQ8Filters {
	need("NewDepthwiseQ8Filters", c*kh*kw, w)
	f := &DepthwiseQ8Filters{w: w[:c*kh*kw], sum: make([]float32, c), c: c, kh: kh, kw: kw, groups: (kw + 3) / 4}
	fits := true
	for i, v := range f.w {
		f.sum[i/max(1, kh*kw)] += v
		fits = fits && v >= -128 && v <= 127
	}
	if fits {
		f.i8 = make([]int32, c*kh*f.groups)
		for ch := 0; ch < c; ch++ {
			for i := 0; i < kh; i++ {
				for j := 0; j < kw; j++ {
					b := uint32(uint8(int8(f.w[(ch*kh+i)*kw+j]))) << (8 * (j % 4))
					f.i8[(ch*kh+i)*f.groups+j/4] |= int32(b)
				}
			}
		}
	}
	return f
}

// planeRowsGo is the twin of the planeRows kernels: dst[c·psz + r·pw + i]
// = x[(c·rows + r)·w + i] for c < chans, r < rows, i < w.
func planeRowsGo(dst, x *byte, chans, rows, w, pw, psz int) {
	for c := 0; c < chans; c++ {
		for r := 0; r < rows; r++ {
			d := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(dst), c*psz+r*pw)), w)
			copy(d, unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(x), (c*rows+r)*w)), w))
		}
	}
}

// dwQ8Go returns the twin of the dwQ8 kernels: for each of chans channels
// (planes psz bytes apart, w taps floats apart), dst = requant(Σ_t
// w[t]·x[oh·rowStep + ow·stride + offs[t]] − zx·wsum) with mult and bias.
func dwQ8Go(stride int, signed bool) func(dst []byte, x *byte, offs []int32, w, mult, bias, wsum []float32, chans, outH, outW, rowStep, psz int, zx, lo, hi, s, z, qlo, qhi float32) {
	return func(dst []byte, x *byte, offs []int32, w, mult, bias, wsum []float32, chans, outH, outW, rowStep, psz int, zx, lo, hi, s, z, qlo, qhi float32) {
		taps := len(offs)
		dst = dst[:chans*outH*outW]
		for c := 0; c < chans; c++ {
			m, b, corr := mult[c], bias[c], zx*wsum[c]
			wc := w[c*taps : (c+1)*taps]
			for oh := 0; oh < outH; oh++ {
				for ow := 0; ow < outW; ow++ {
					base := c*psz + oh*rowStep + ow*stride
					var acc int32
					for t, o := range offs {
						v := *(*byte)(unsafe.Add(unsafe.Pointer(x), base+int(o)))
						xv := int32(v)
						if signed {
							xv = int32(int8(v))
						}
						acc += xv * int32(wc[t])
					}
					y := float32(float32(acc)-corr) * m
					y += b
					if !(y > lo) {
						y = lo
					}
					if !(y < hi) {
						y = hi
					}
					dst[(c*outH+oh)*outW+ow] = byte(int32(quantize8One(y, s, z, qlo, qhi)))
				}
			}
		}
	}
}

// EvenBytes sets dst[i] = src[2i] (src holds at least 2·len(dst)−1 bytes):
// the stride-2 rows of the int8 convolutions' im2col, 32 a step on the
// vector levels.
func EvenBytes(dst, src []byte) {
	n := len(dst)
	if n > 0 && len(src) < 2*n-1 {
		panic(fmt.Sprintf("simd: EvenBytes of %d bytes from %d", n, len(src)))
	}
	done := 0
	if k := evenBytesKernel(); k != nil {
		// Whole blocks whose 64 source bytes src holds.
		done = min(n, len(src)/2) &^ 31
		k(dst[:done], src[:2*done])
	}
	evenBytesGo(dst[done:], src[2*done:])
}

// evenBytesGo is the twin of the evenBytes kernels, for any length: eight
// a step from two 64-bit words where src has them.
func evenBytesGo(dst, src []byte) {
	n := len(dst)
	i := 0
	for ; i+8 <= n && 2*i+16 <= len(src); i += 8 {
		lo := binary.LittleEndian.Uint64(src[2*i:])
		hi := binary.LittleEndian.Uint64(src[2*i+8:])
		binary.LittleEndian.PutUint32(dst[i:], evens4(lo))
		binary.LittleEndian.PutUint32(dst[i+4:], evens4(hi))
	}
	for ; i < n; i++ {
		dst[i] = src[2*i]
	}
}

// evens4 packs bytes 0, 2, 4 and 6 of x.
func evens4(x uint64) uint32 {
	x &= 0x00FF00FF00FF00FF
	x = (x | x>>8) & 0x0000FFFF0000FFFF
	return uint32(x | x>>16)
}
