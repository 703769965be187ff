package simd

import (
	"fmt"
	"sync"
	"unsafe"
)

// The int8 depthwise convolution (QDQ and QLinearConv models) runs on the
// float depthwise kernels with integer-valued operands: x − zero point
// (within ±255) and w − zero point (within ±255). While every partial sum
// stays within 2^24 (DepthwiseQ8Exact), float32 holds it exactly, so the
// float kernels give the int32 accumulation's result bit for bit, in any
// summation order and at every level, without an int8 kernel per level.

// DepthwiseQ8Exact reports whether taps products of |x − zx| ≤ 255 and
// |w| ≤ maxW sum exactly in float32.
func DepthwiseQ8Exact(taps int, maxW float32) bool {
	return float64(taps)*255*float64(maxW) <= 1<<24
}

// q8work holds one goroutine's channel of DepthwiseQ8: the input as floats
// and the sums.
type q8work struct{ x, acc []float32 }

var q8Pool = sync.Pool{New: func() any { return new(q8work) }}

// DepthwiseQ8 computes a depthwise convolution of 8-bit x (C planes of
// H×W; signed: int8 bits) with zero point zx and integer-valued filters w
// (C×KH×KW, the weights minus their zero point; the caller checks
// DepthwiseQ8Exact for KH·KW taps and max |w|: sums past 2^24 round). For each channel c, done(c, acc) receives
// its OutH·OutW exact sums Σ (x − zx)·w, padding contributing zero, on the
// goroutine that computed them (acc is reused after done returns).
// Channels are spread over up to threads goroutines.
func DepthwiseQ8(x []byte, signed bool, zx float32, w []float32, p ConvParams, threads int, done func(c int, acc []float32)) {
	p.check("DepthwiseQ8")
	if p.C == 0 || p.OutH == 0 || p.OutW == 0 {
		return
	}
	needBytes("DepthwiseQ8", p.C*p.H*p.W, len(x))
	need("DepthwiseQ8", p.C*p.KH*p.KW, w)
	padded := dwDirect3x3(&p)
	isz, osz, taps := p.H*p.W, p.OutH*p.OutW, p.KH*p.KW
	run := func(c0, c1 int) {
		ws := wsPool.get()
		defer wsPool.put(ws)
		qw := q8Pool.Get().(*q8work)
		defer q8Pool.Put(qw)
		if cap(qw.x) < isz {
			qw.x = make([]float32, isz)
		}
		if cap(qw.acc) < osz {
			qw.acc = make([]float32, osz)
		}
		xf, acc := qw.x[:isz], qw.acc[:osz]
		var offs []int32
		if !padded {
			offs = dwOffsets(&ws.rows, &p)
		}
		for c := c0; c < c1; c++ {
			xc := x[c*isz : (c+1)*isz]
			wc := w[c*taps : (c+1)*taps]
			if padded && p.W >= 16 {
				// Wide rows: x − zx straight into the padded plane.
				plane, tmp, pw := dwPaddedPlane(&p, ws, c == c0)
				if n := min(p.W, pw-p.PadL); n > 0 {
					for r := max(0, p.PadT); r < min(len(plane)/pw, p.PadT+p.H); r++ {
						ih := r - p.PadT
						dequantQ8(plane[r*pw+p.PadL:r*pw+p.PadL+n], xc[ih*p.W:ih*p.W+n], signed, zx)
					}
				}
				dwPaddedRows(acc, plane, tmp, wc, 0, &p, pw)
				done(c, acc)
				continue
			}
			// Narrow rows: one conversion of the channel, then the float
			// kernel's own layout step.
			dequantQ8(xf, xc, signed, zx)
			if padded {
				dwPadded(acc, xf, wc, 0, &p, ws, c == c0)
			} else {
				dwGeneral(acc, xf, wc, 0, &p, ws, offs)
			}
			done(c, acc)
		}
	}
	if threads < 2 || p.C*osz*taps < parallelMinTaps || p.C < 2 {
		run(0, p.C)
		return
	}
	ParallelRuns(p.C, threads, run)
}

// dequantQ8 sets dst[i] = x[i] − zx, x uint8 or (signed) int8 bits.
func dequantQ8(dst []float32, x []byte, signed bool, zx float32) {
	if signed {
		DequantizeI8(dst, unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(x))), len(x)), zx, 1)
		return
	}
	DequantizeU8(dst, x, zx, 1)
}

// dwDirect3x3 reports whether the direct 3×3 kernels (stride 1 or 2 both
// ways, no dilation) apply; other depthwise convolutions run dwGeneral.
func dwDirect3x3(p *ConvParams) bool {
	s := p.StrideW
	return p.KH == 3 && p.KW == 3 && p.DilH == 1 && p.DilW == 1 && p.StrideH == s && (s == 1 || s == 2)
}

// Requant8U8 is the epilogue of an integer convolution whose exact sums
// acc are floats: dst[i] = QuantizeU8 of min(max(float32(acc[i]·m) + b,
// lo), hi) with scale s and zero point z, the product and the sum rounded
// separately as Int32ScaleShiftClip rounds them.
func Requant8U8(dst []uint8, acc []float32, m, b, lo, hi, s, z float32) {
	need("Requant8U8", len(dst), acc)
	requant8(dst, acc, m, b, lo, hi, s, z, 0, 255)
}

// Requant8I8 is Requant8U8 to int8: clamped to [-128, 127].
func Requant8I8(dst []int8, acc []float32, m, b, lo, hi, s, z float32) {
	need("Requant8I8", len(dst), acc)
	requant8(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst)), acc, m, b, lo, hi, s, z, -128, 127)
}

func requant8(dst []byte, acc []float32, m, b, lo, hi, s, z, qlo, qhi float32) {
	if ks.name == "avx512" {
		// The zmm kernels take the tail under a mask.
		requant8Kernel(qlo < 0)(dst, acc[:len(dst)], m, b, lo, hi, s, z, qlo, qhi)
		return
	}
	n8 := len(dst) &^ 7
	if n8 > 0 {
		requant8Kernel(qlo < 0)(dst[:n8], acc[:n8], m, b, lo, hi, s, z, qlo, qhi)
	}
	requant8Go(dst[n8:], acc[n8:len(dst)], m, b, lo, hi, s, z, qlo, qhi)
}

// requant8Go is the twin of the requant8 kernels, for any length.
func requant8Go(dst []byte, acc []float32, m, b, lo, hi, s, z, qlo, qhi float32) {
	acc = acc[:len(dst)]
	for i, v := range acc {
		y := float32(v*m) + b
		// As VMAXPS/VMINPS: the bound unless y is above (below) it.
		if !(y > lo) {
			y = lo
		}
		if !(y < hi) {
			y = hi
		}
		dst[i] = byte(int32(quantize8One(y, s, z, qlo, qhi)))
	}
}

// AddQ8 is the QDQ residual Add in one pass: dst[i] = QuantizeLinear of
// DequantizeLinear(a[i]) + DequantizeLinear(b[i]), each step rounded as
// those ops round it (the same bits as DequantizeU8/I8, Add, QuantizeU8/I8),
// with a, b and dst all uint8 or all int8 (signed: int8 bits).
func AddQ8(dst, a, b []byte, signed bool, za, sa, zb, sb, s, z float32) {
	needBytes("AddQ8", len(dst), len(a))
	needBytes("AddQ8", len(dst), len(b))
	qlo, qhi := float32(0), float32(255)
	if signed {
		qlo, qhi = -128, 127
	}
	n8 := len(dst) &^ 7
	if n8 > 0 {
		addQ8Kernel(signed)(dst[:n8], a[:n8], b[:n8], za, sa, zb, sb, s, z, qlo, qhi)
	}
	addQ8Go(signed)(dst[n8:], a[n8:len(dst)], b[n8:len(dst)], za, sa, zb, sb, s, z, qlo, qhi)
}

// addQ8Go returns the twin of the addQ8 kernels, for any length.
func addQ8Go(signed bool) func(dst, a, b []byte, za, sa, zb, sb, s, z, qlo, qhi float32) {
	return func(dst, a, b []byte, za, sa, zb, sb, s, z, qlo, qhi float32) {
		a, b = a[:len(dst)], b[:len(dst)]
		for i := range dst {
			fa, fb := float32(a[i]), float32(b[i])
			if signed {
				fa, fb = float32(int8(a[i])), float32(int8(b[i]))
			}
			y := float32((fa-za)*sa) + float32((fb-zb)*sb)
			dst[i] = byte(int32(quantize8One(y, s, z, qlo, qhi)))
		}
	}
}

// Int32Requant8U8 is Int32ScaleShiftClip then QuantizeU8 in one pass:
// dst[i] = QuantizeU8 of min(max(float32(src[i]+t)·m + b, lo), hi) with
// scale s and zero point z, the same bits as the two calls.
func Int32Requant8U8(dst []uint8, src []int32, t int32, m, b, lo, hi, s, z float32) {
	i32Requant8(dst, src, t, m, b, lo, hi, s, z, 0, 255)
}

// Int32Requant8I8 is Int32Requant8U8 to int8: clamped to [-128, 127].
func Int32Requant8I8(dst []int8, src []int32, t int32, m, b, lo, hi, s, z float32) {
	i32Requant8(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst)), src, t, m, b, lo, hi, s, z, -128, 127)
}

func i32Requant8(dst []byte, src []int32, t int32, m, b, lo, hi, s, z, qlo, qhi float32) {
	if len(src) < len(dst) {
		panic(fmt.Sprintf("simd: Int32Requant8 of %d values from %d", len(dst), len(src)))
	}
	if ks.name == "avx512" {
		// The zmm kernels take the tail under a mask.
		i32Requant8Kernel(qlo < 0)(dst, src[:len(dst)], t, m, b, lo, hi, s, z, qlo, qhi)
		return
	}
	n8 := len(dst) &^ 7
	if n8 > 0 {
		i32Requant8Kernel(qlo < 0)(dst[:n8], src[:n8], t, m, b, lo, hi, s, z, qlo, qhi)
	}
	i32Requant8Go(dst[n8:], src[n8:len(dst)], t, m, b, lo, hi, s, z, qlo, qhi)
}

// i32Requant8Go is the twin of the i32Requant8 kernels, for any length.
func i32Requant8Go(dst []byte, src []int32, t int32, m, b, lo, hi, s, z, qlo, qhi float32) {
	src = src[:len(dst)]
	for i, v := range src {
		y := float32(float32(v+t)*m) + b
		if !(y > lo) {
			y = lo
		}
		if !(y < hi) {
			y = hi
		}
		dst[i] = byte(int32(quantize8One(y, s, z, qlo, qhi)))
	}
}

// Int32Requant8Rows is Int32Requant8U8 (Int32Requant8I8 when signed) of a
// block of rows in one call, the same bits: row i of src (cols values,
// rows back to back) with t[i], m[i] and b[i] into dst[i·ldd:i·ldd+cols].
func Int32Requant8Rows(dst []byte, ldd int, src []int32, rows, cols int, t []int32, m, b []float32, lo, hi, s, z float32, signed bool) {
	if rows == 0 || cols == 0 {
		return
	}
	if ldd < cols || len(dst) < (rows-1)*ldd+cols || len(src) < rows*cols || len(t) < rows || len(m) < rows || len(b) < rows {
		panic(fmt.Sprintf("simd: Int32Requant8Rows %d×%d (ldd %d): dst %d, src %d, t %d, m %d, b %d", rows, cols, ldd, len(dst), len(src), len(t), len(m), len(b)))
	}
	qlo, qhi := float32(0), float32(255)
	if signed {
		qlo, qhi = -128, 127
	}
	if k := i32Requant8RowsKernel(); k != nil {
		k(dst, ldd, src, rows, cols, t, m, b, lo, hi, s, z, qlo, qhi)
		return
	}
	for i := 0; i < rows; i++ {
		i32Requant8(dst[i*ldd:i*ldd+cols], src[i*cols:(i+1)*cols], t[i], m[i], b[i], lo, hi, s, z, qlo, qhi)
	}
}
