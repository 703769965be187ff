package simd

import (
	"fmt"
	"math"
	"unsafe"
)

// Elementwise kernels write dst[i] for i < len(dst); inputs must be at least
// as long as dst and may be dst itself (in place), but must not otherwise
// overlap it.

func need(op string, n int, xs ...[]float32) {
	for _, x := range xs {
		if len(x) < n {
			panic(fmt.Sprintf("simd: %s: input has %d floats, want %d", op, len(x), n))
		}
	}
}

func needBytes(op string, n, have int) {
	if have < n {
		panic(fmt.Sprintf("simd: %s: input has %d elements, want %d", op, have, n))
	}
}

// Add sets dst[i] = a[i] + b[i].
func Add(dst, a, b []float32) { need("Add", len(dst), a, b); ks.add(dst, a, b) }

// Sub sets dst[i] = a[i] - b[i].
func Sub(dst, a, b []float32) { need("Sub", len(dst), a, b); ks.sub(dst, a, b) }

// Mul sets dst[i] = a[i] * b[i].
func Mul(dst, a, b []float32) { need("Mul", len(dst), a, b); ks.mul(dst, a, b) }

// Div sets dst[i] = a[i] / b[i].
func Div(dst, a, b []float32) { need("Div", len(dst), a, b); ks.div(dst, a, b) }

// DivScalar sets dst[i] = x[i] / c (a true division: x·(1/c) rounds
// differently).
func DivScalar(dst, x []float32, c float32) { need("DivScalar", len(dst), x); ks.divScalar(dst, x, c) }

// ScalarDiv sets dst[i] = c / x[i].
func ScalarDiv(dst, x []float32, c float32) { need("ScalarDiv", len(dst), x); ks.scalarDiv(dst, x, c) }

// Dot returns Σ a[i]·b[i] over len(a), b at least as long.
func Dot(a, b []float32) float32 { need("Dot", len(a), b); return ks.dot(a, b) }

// MaxSkipNaN is dst[i] = a[i] if a[i] > b[i], else b[i]: with b a running
// maximum free of NaN, NaNs in a are skipped, as max pooling skips them.
func MaxSkipNaN(dst, a, b []float32) {
	need("MaxSkipNaN", len(dst), a, b)
	ks.maxSkipNaN(dst, a, b)
}

// Evens sets dst[i] = src[2i]: a stride-2 row's sampled columns. src must
// hold 2·len(dst) − 1 floats.
func Evens(dst, src []float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	need("Evens", 2*n-1, src)
	b := n &^ 7 // whole blocks of 8 through the kernel, which reads 2b floats
	if 2*b > len(src) {
		b -= 8
	}
	if b > 0 {
		ks.evens(dst[:b], src[:2*b])
	}
	for i := b; i < n; i++ {
		dst[i] = src[2*i]
	}
}

// MaxAbs sets dst[i] = max(a[i], |b[i]|) as Go's max does (a NaN on either
// side gives a NaN, b's when both are): a running maximum of magnitudes
// (int4's block scales).
func MaxAbs(dst, a, b []float32) {
	need("MaxAbs", len(dst), a, b)
	ks.maxAbs(dst, a, b)
}

// Axpy sets y[i] += alpha·x[i].
func Axpy(y, x []float32, alpha float32) { need("Axpy", len(y), x); ks.axpy(y, x, alpha) }

// ScaleShift sets dst[i] = x[i]·s + t (one fused multiply-add in assembly).
func ScaleShift(dst, x []float32, s, t float32) {
	need("ScaleShift", len(dst), x)
	ks.scaleShift(dst, x, s, t)
}

// Scale sets dst[i] = x[i]·s.
func Scale(dst, x []float32, s float32) { ScaleShift(dst, x, s, 0) }

// AddScalar sets dst[i] = x[i] + s.
func AddScalar(dst, x []float32, s float32) {
	need("AddScalar", len(dst), x)
	ks.biasClip(dst, x, s, float32(math.Inf(-1)), float32(math.Inf(1)))
}

// BiasClip sets dst[i] = min(max(x[i]+bias, lo), hi): the conv/GEMM
// epilogue of bias plus Relu (lo 0, hi +Inf), Relu6 (0, 6) or Clip. NaN
// stays NaN; -0 stays -0.
func BiasClip(dst, x []float32, bias, lo, hi float32) {
	need("BiasClip", len(dst), x)
	ks.biasClip(dst, x, bias, lo, hi)
}

// BiasRelu sets dst[i] = max(x[i]+bias, 0).
func BiasRelu(dst, x []float32, bias float32) { BiasClip(dst, x, bias, 0, float32(math.Inf(1))) }

// ScaleShiftClip is ScaleShift(dst, x, s, t) then Clip(dst, dst, lo, hi)
// in one pass over memory, with the same results bit for bit.
func ScaleShiftClip(dst, x []float32, s, t, lo, hi float32) {
	need("ScaleShiftClip", len(dst), x)
	ks.scShClip(dst, x, s, t, lo, hi)
}

// ScaleShiftClipRows applies ScaleShiftClip in place to rows of a block:
// row j, y[j·ldy : j·ldy+n], with scale s[j·sstep] (sstep 0: s[0] for
// every row) and shift t[j] — a conv's per-channel epilogue (BN and Clip,
// or bias and Clip with s = 1) in one call, the same bits as a call a row.
func ScaleShiftClipRows(y []float32, ldy, rows, n int, s []float32, sstep int, t []float32, lo, hi float32) {
	if checkRows("ScaleShiftClipRows", y, ldy, rows, n, s, sstep, t) {
		ks.scShClipRows(&y[0], ldy, rows, n, &s[0], sstep, &t[0], lo, hi)
	}
}

// ScaleShiftRows is ScaleShiftClipRows without the clip: ScaleShift a row
// (BN without an activation), or AddScalar a row when s is 1 (x·1 + t is
// x + t exactly), with those bits.
func ScaleShiftRows(y []float32, ldy, rows, n int, s []float32, sstep int, t []float32) {
	if checkRows("ScaleShiftRows", y, ldy, rows, n, s, sstep, t) {
		ks.scShRows(&y[0], ldy, rows, n, &s[0], sstep, &t[0])
	}
}

// checkRows checks a block of rows and its per-row operands; false when
// the block is empty.
func checkRows(op string, y []float32, ldy, rows, n int, s []float32, sstep int, t []float32) bool {
	if rows <= 0 || n <= 0 {
		return false
	}
	if n > ldy && rows > 1 || sstep < 0 {
		panic(fmt.Sprintf("simd: %s: rows of %d floats %d apart, scale step %d", op, n, ldy, sstep))
	}
	need(op, (rows-1)*ldy+n, y)
	need(op, (rows-1)*sstep+1, s)
	need(op, rows, t)
	return true
}

// Relu sets dst[i] = max(x[i], 0).
func Relu(dst, x []float32) { BiasClip(dst, x, 0, 0, float32(math.Inf(1))) }

// Clip sets dst[i] = min(max(x[i], lo), hi); Relu6 is Clip(dst, x, 0, 6).
func Clip(dst, x []float32, lo, hi float32) { BiasClip(dst, x, 0, lo, hi) }

// Sqrt sets dst[i] = √x[i], correctly rounded (VSQRTPS; the Go twin
// rounds float64's correctly rounded root, the same float32), so every
// level gives the same bits.
func Sqrt(dst, x []float32) { need("Sqrt", len(dst), x); ks.sqrt(dst, x) }

// Abs sets dst[i] = |x[i]| by clearing the sign bit (NaN payloads kept).
func Abs(dst, x []float32) { need("Abs", len(dst), x); ks.abs(dst, x) }

// Exp sets dst[i] = e^x[i]: range reduction by ln 2 and Cephes' degree-7
// polynomial, 2^n applied in two steps. Measured max relative error 8.2e-8
// (under 1 ulp) over [-87, 88.7], also for subnormal results; x > 88.72
// gives +Inf, x < -103.97 gives 0, NaN stays NaN.
func Exp(dst, x []float32) { need("Exp", len(dst), x); ks.exp(dst, x) }

// Log sets dst[i] = log(x[i]) (Cephes' logf: a degree-8 polynomial of the
// mantissa plus the exponent times ln2 in two parts). Measured error at
// most 2 ulp (TestLogAccuracy); x < 0 and NaN give NaN, ±0 −Inf, +Inf
// +Inf, subnormals are exact to the same bound.
func Log(dst, x []float32) { need("Log", len(dst), x); ks.log(dst, x) }

// Round sets dst[i] to x[i] rounded to the nearest integer, halves to
// even (ONNX's Round); Floor and Ceil round down and up. Exact (the
// rounding instructions at every level; TestRoundingTwins); NaN stays NaN.
func Round(dst, x []float32) { need("Round", len(dst), x); ks.round(dst, x) }

// Floor: see Round.
func Floor(dst, x []float32) { need("Floor", len(dst), x); ks.floor(dst, x) }

// Ceil: see Round.
func Ceil(dst, x []float32) { need("Ceil", len(dst), x); ks.ceil(dst, x) }

// sinCosMax bounds the arguments the Sin and Cos kernels reduce: |j| < 2^14
// quadrants keeps j·π/2's first two parts exact.
const sinCosMax = 16384

// Sin sets dst[i] = sin(x[i]): Cephes' sinf/cosf polynomials after a
// three-part reduction by π/2, within 2 ulp or 1.2e-7 absolute
// (TestSinCosAccuracy). A block of 1024 holding a NaN, an infinity or an
// |x| > 16384 goes through math.Sin instead. dst may be x.
func Sin(dst, x []float32) { need("Sin", len(dst), x); sinCos(dst, x, ks.sin, math.Sin) }

// Cos is Sin's cosine.
func Cos(dst, x []float32) { need("Cos", len(dst), x); sinCos(dst, x, ks.cos, math.Cos) }

func sinCos(dst, x []float32, kern func(dst, x []float32), exact func(float64) float64) {
	for i := 0; i < len(dst); i += 1024 {
		n := min(1024, len(dst)-i)
		xs, d := x[i:i+n], dst[i:i+n]
		lo, hi := ks.minMax(xs)
		if s := ks.sum(xs); lo >= -sinCosMax && hi <= sinCosMax && s == s {
			kern(d, xs)
			continue
		}
		for j, v := range xs {
			d[j] = float32(exact(float64(v)))
		}
	}
}

// Sigmoid sets dst[i] = 1/(1+e^-x[i]) through Exp and a division; measured
// max relative error 1.5e-7, absolute 8.9e-8.
func Sigmoid(dst, x []float32) { need("Sigmoid", len(dst), x); ks.sigmoid(dst, x) }

// Tanh sets dst[i] = tanh(x[i]) by Eigen's odd rational approximation
// (degree 13/6) on ±7.9, exactly ±1 from |x| ≥ 9; measured max error 3.8e-7
// absolute and relative (2.4e-7 relative for |x| < 1e-3).
func Tanh(dst, x []float32) { need("Tanh", len(dst), x); ks.tanh(dst, x) }

// Erf sets dst[i] = erf(x[i]) by Eigen's odd rational approximation (degree
// 13/8) on ±4, exactly ±1 from |x| ≥ 3.92; measured max error 4.2e-7
// absolute and relative (2.5e-7 relative for |x| < 1e-3).
func Erf(dst, x []float32) { need("Erf", len(dst), x); ks.erf(dst, x) }

// Gelu sets dst[i] = x/2·(1+erf(x/√2)) (the exact, erf form) with Erf's
// approximation; measured max absolute error 1.4e-6 on [-12, 12], relative
// 4.4e-6 for x ≥ -2 (below, 1+erf cancels: the result is tiny and only its
// absolute error is small).
func Gelu(dst, x []float32) { need("Gelu", len(dst), x); ks.gelu(dst, x) }

// Sum returns Σx[i], accumulated in eight (assembly: 32) partial sums.
func Sum(x []float32) float32 { return ks.sum(x) }

// Max returns the largest x[i], -Inf for an empty x. With NaNs in x the
// result is unspecified.
func Max(x []float32) float32 { return ks.max(x) }

// MinMax returns the smallest and largest x[i] in one pass, +Inf and -Inf
// for an empty x. With NaNs in x the result is unspecified.
func MinMax(x []float32) (lo, hi float32) { return ks.minMax(x) }

// Softmax sets dst[i] = e^(x[i]-max x) / Σ e^(x[j]-max x); max relative
// error about 5e-7 per element. dst may be x.
func Softmax(dst, x []float32) {
	need("Softmax", len(dst), x)
	if len(dst) == 0 {
		return
	}
	x = x[:len(dst)]
	s := ks.expSubSum(dst, x, ks.max(x))
	ks.scaleShift(dst, dst, 1/s, 0)
}

// LogSoftmax sets dst[i] = x[i] - max x - log Σ e^(x[j]-max x). dst may be x.
func LogSoftmax(dst, x []float32) {
	need("LogSoftmax", len(dst), x)
	if len(dst) == 0 {
		return
	}
	x = x[:len(dst)]
	m := ks.max(x)
	// The exponentials go to dst only to be summed; x is read again after.
	var s float32
	if &dst[0] == &x[0] {
		ws := wsPool.get()
		tmp := aligned(&ws.b, min(len(x), 4096))
		for i := 0; i < len(x); i += len(tmp) {
			j := min(len(x), i+len(tmp))
			s += ks.expSubSum(tmp[:j-i], x[i:j], m)
		}
		wsPool.put(ws)
	} else {
		s = ks.expSubSum(dst, x, m)
	}
	ks.scaleShift(dst, x, 1, -m-float32(math.Log(float64(s))))
}

// LayerNorm sets dst[i] = (x[i]-mean)/sqrt(var+eps)·gamma[i] + beta[i] over
// the row x (population variance, two passes). gamma and beta may be nil
// (1 and 0). It returns the mean and 1/sqrt(var+eps), which the ONNX op
// also outputs. dst may be x.
func LayerNorm(dst, x, gamma, beta []float32, eps float32) (mean, rstd float32) {
	n := len(dst)
	need("LayerNorm", n, x)
	if n == 0 {
		return 0, 0
	}
	x = x[:n]
	mean = ks.sum(x) / float32(n)
	v := ks.sumSqDev(x, mean) / float32(n)
	rstd = float32(1 / math.Sqrt(float64(v+eps)))
	switch {
	case gamma != nil && beta != nil:
		need("LayerNorm", n, gamma, beta)
		ks.normAffine(dst, x, gamma, beta, mean, rstd)
	default:
		// (x-mean)·rstd in two steps: x·rstd - mean·rstd cancels badly.
		ks.scaleShift(dst, x, 1, -mean)
		ks.scaleShift(dst, dst, rstd, 0)
		if gamma != nil {
			need("LayerNorm", n, gamma)
			ks.mul(dst, dst, gamma)
		}
		if beta != nil {
			need("LayerNorm", n, beta)
			ks.add(dst, dst, beta)
		}
	}
	return mean, rstd
}

// Sigmoidf is one sigmoid by the Sigmoid kernels' method (same error
// bound), for loops that cannot batch their calls, such as recurrent cells.
func Sigmoidf(x float32) float32 { return sigmoidf(x) }

// Tanhf is one tanh by the Tanh kernels' method (same error bound).
func Tanhf(x float32) float32 { return tanhf(x) }

// QuantizeU8 is QuantizeLinear to uint8 of a run sharing one scale and zero
// point: dst[i] = clamp(round_half_even(x[i]/s) + z, 0, 255), NaN → 0.
func QuantizeU8(dst []uint8, x []float32, s, z float32) {
	need("QuantizeU8", len(dst), x)
	ks.quantU8(dst, x, s, z, 0, 255)
	for i := len(dst) &^ 7; i < len(dst); i++ {
		dst[i] = uint8(quantize8One(x[i], s, z, 0, 255))
	}
}

// QuantizeI8 is QuantizeU8 to int8: clamped to [-128, 127].
func QuantizeI8(dst []int8, x []float32, s, z float32) {
	need("QuantizeI8", len(dst), x)
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst))
	ks.quantI8(b, x, s, z, -128, 127)
	for i := len(dst) &^ 7; i < len(dst); i++ {
		dst[i] = int8(quantize8One(x[i], s, z, -128, 127))
	}
}

// DequantizeU8 is DequantizeLinear of uint8: dst[i] = (float32(x[i]) - z)·s.
func DequantizeU8(dst []float32, x []uint8, z, s float32) {
	needBytes("DequantizeU8", len(dst), len(x))
	ks.dequantU8(dst, x, z, s)
	for i := len(dst) &^ 7; i < len(dst); i++ {
		dst[i] = (float32(x[i]) - z) * s
	}
}

// DequantizeI8 is DequantizeU8 of int8.
func DequantizeI8(dst []float32, x []int8, z, s float32) {
	needBytes("DequantizeI8", len(dst), len(x))
	ks.dequantI8(dst, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), len(x)), z, s)
	for i := len(dst) &^ 7; i < len(dst); i++ {
		dst[i] = (float32(x[i]) - z) * s
	}
}

// Widen4 sets dst[i] to the 4-bit value first+i of x (low nibble first,
// signed or unsigned) as float32, exactly: packed int4 weights
// dequantized without unpacking them to bytes first.
func Widen4(dst []float32, x []byte, first int, signed bool) {
	if len(dst) == 0 {
		return
	}
	if need := (first + len(dst) + 1) / 2; first < 0 || len(x) < need {
		panic(fmt.Sprintf("simd: Widen4: %d bytes for values %d…%d", len(x), first, first+len(dst)-1))
	}
	if first%2 == 1 { // a high nibble first: on its own
		dst[0] = float32(nibble(x, first, signed))
		dst, first = dst[1:], first+1
	}
	x = x[first/2:]
	if signed {
		ks.widenI4(dst, x)
	} else {
		ks.widenU4(dst, x)
	}
	for i := len(dst) &^ 15; i < len(dst); i++ {
		dst[i] = float32(nibble(x, i, signed))
	}
}

// PRelu sets dst[i] = x[i]·s[i] where x[i] < 0, else x[i] (NaN and -0 pass
// through, as the comparison is false for them).
func PRelu(dst, x, s []float32) { need("PRelu", len(dst), x, s); ks.prelu(dst, x, s) }

// Leaky sets dst[i] = x[i]·s where x[i] < 0, else x[i]: PRelu with one
// slope, and LeakyRelu.
func Leaky(dst, x []float32, s float32) { need("Leaky", len(dst), x); ks.leaky(dst, x, s) }
