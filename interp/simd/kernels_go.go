package simd

import (
	"math"
	"unsafe"
)

// Pure-Go twins of the assembly kernels. They follow the same algorithms
// (same polynomials and clamps) so the two agree to a few ulps.

// gemmGo returns the mrr×16 micro-kernel: c (+)= a·b, a being k steps of mrr
// floats and b k steps of 16 floats.
func gemmGo(mrr int) func(k int, a, b, c *float32, ldc int, acc bool) {
	return func(k int, a, b, c *float32, ldc int, acc bool) {
		var t [mr][nr]float32
		if k > 0 {
			as := unsafe.Slice(a, k*mrr)
			bs := unsafe.Slice(b, k*nr)
			for p := 0; p < k; p++ {
				br := (*[nr]float32)(bs[p*nr:])
				ap := as[p*mrr : p*mrr+mrr]
				for i, av := range ap {
					ti := &t[i]
					for j := range ti {
						ti[j] += av * br[j]
					}
				}
			}
		}
		cs := unsafe.Slice(c, (mrr-1)*ldc+nr)
		for i := 0; i < mrr; i++ {
			row := (*[nr]float32)(cs[i*ldc:])
			if acc {
				for j := range row {
					row[j] += t[i][j]
				}
			} else {
				*row = t[i]
			}
		}
	}
}

// addOuter adds the outer product of a step of A (ap, one float a row)
// and a 32-float step of B to the twins' tile t, row by row: the
// product-then-add of gemmGo, so the twins give its bits.
func addOuter(t *[mr][2 * nr]float32, ap []float32, br *[2 * nr]float32) {
	for i, av := range ap {
		ti := &t[i]
		for j := range ti {
			ti[j] += av * br[j]
		}
	}
}

// gemmTapsGo is the mrr×32 twin of the implicit-GEMM kernels: step p of B
// is 16 floats at b and 16 at b+bstride, each taps[p] bytes on, each
// product added in step order from +0 as gemmGo adds them (the same bits).
func gemmTapsGo(mrr int) func(k int, a, b *float32, bstride int, taps *int32, c *float32, ldc int, acc bool) {
	return func(k int, a, b *float32, bstride int, taps *int32, c *float32, ldc int, acc bool) {
		var t [mr][2 * nr]float32
		if k > 0 {
			as := unsafe.Slice(a, k*mrr)
			ts := unsafe.Slice(taps, k)
			var br [2 * nr]float32
			for p := 0; p < k; p++ {
				h0 := unsafe.Add(unsafe.Pointer(b), ts[p])
				h1 := unsafe.Add(h0, 4*bstride)
				*(*[nr]float32)(br[:nr]) = *(*[nr]float32)(h0)
				*(*[nr]float32)(br[nr:]) = *(*[nr]float32)(h1)
				addOuter(&t, as[p*mrr:p*mrr+mrr], &br)
			}
		}
		storeTile(&t, mrr, c, ldc, acc)
	}
}

// gemmSegsGo is the mrr×32 twin of the run-reading implicit-GEMM
// kernels with runs runs a half: lane t of half h of step p of B is the
// float at b + segs[runs·h+r] + taps[p] + 4t for the last run r whose
// masks[runs·h+r] has bit t (else 0), each product added in step order
// from +0 as gemmGo adds them.
func gemmSegsGo(mrr, runs int) segsKernel {
	return func(k int, a, b *float32, segs *[2 * maxRuns]int32, masks *[2 * maxRuns]uint16, taps *int32, c *float32, ldc int, acc bool) {
		var t [mr][2 * nr]float32
		if k > 0 {
			as := unsafe.Slice(a, k*mrr)
			ts := unsafe.Slice(taps, k)
			// Each lane's byte offset from b (before the tap), where a run
			// covers it.
			var lane [2 * nr]int
			var on [2 * nr]bool
			for j := range lane {
				h, l := j/nr, j%nr
				for r := runs * h; r < runs*(h+1); r++ {
					if masks[r]>>l&1 != 0 {
						lane[j], on[j] = int(segs[r])+4*l, true
					}
				}
			}
			var br [2 * nr]float32
			for p := 0; p < k; p++ {
				for j, o := range lane {
					br[j] = 0
					if on[j] {
						br[j] = *(*float32)(unsafe.Add(unsafe.Pointer(b), o+int(ts[p])))
					}
				}
				addOuter(&t, as[p*mrr:p*mrr+mrr], &br)
			}
		}
		storeTile(&t, mrr, c, ldc, acc)
	}
}

// gemmRowsGo is the mrr×32 twin of the in-place kernels: B is 32 columns
// of a row-major matrix, k steps ldb floats apart, each product added in
// step order from +0 as gemmGo adds them (the same bits).
func gemmRowsGo(mrr int) func(k int, a, b *float32, ldb int, c *float32, ldc int, acc bool) {
	return func(k int, a, b *float32, ldb int, c *float32, ldc int, acc bool) {
		var t [mr][2 * nr]float32
		if k > 0 {
			as := unsafe.Slice(a, k*mrr)
			bs := unsafe.Slice(b, (k-1)*ldb+2*nr)
			for p := 0; p < k; p++ {
				br := (*[2 * nr]float32)(bs[p*ldb:])
				addOuter(&t, as[p*mrr:p*mrr+mrr], br)
			}
		}
		storeTile(&t, mrr, c, ldc, acc)
	}
}

// gemmColsGo is gemmCol's twin for every panel count: out[8p + i] =
// Σ_s a[p·astride + 6s + i]·b[16s], the products added in step order from
// +0 as gemmGo adds them.
func gemmColsGo() (ks [colPanels + 1]func(k int, a *float32, astride int, b *float32, out *float32)) {
	for np := 1; np <= colPanels; np++ {
		ks[np] = func(k int, a *float32, astride int, b *float32, out *float32) {
			as := unsafe.Slice(a, (np-1)*astride+mr*k)
			bs := unsafe.Slice(b, nr*(k-1)+1)
			o := unsafe.Slice(out, 8*np)
			for p := 0; p < np; p++ {
				var t [mr]float32
				ap := as[p*astride:]
				for s := 0; s < k; s++ {
					bv := bs[s*nr]
					for i := range t {
						t[i] += ap[s*mr+i] * bv
					}
				}
				copy(o[8*p:8*p+mr], t[:])
			}
		}
	}
	return ks
}

func packRowGo(dst, src []float32, panels, stride, _ int) {
	src = src[:panels*nr]
	for j := 0; j < panels; j++ {
		*(*[nr]float32)(dst[j*stride:]) = *(*[nr]float32)(src[j*nr:])
	}
}

// packA6Go packs six rows of a (row stride lda) as 6-row panel steps, 16
// columns a block: dst[96b + 6p + i] = a[i·lda + 16b + p].
func packA6Go(dst, a []float32, lda, blocks int) {
	packA6Rows(dst, a, lda, 16*blocks, 1)
}

// packA6Rows writes the first cols steps of a 6-row panel, alpha·a; one
// step (six floats) at a time: sequential writes from six row streams
// (writing one row at a time strides the stores).
func packA6Rows(dst, a []float32, lda, cols int, alpha float32) {
	if cols <= 0 {
		return
	}
	x0 := a[:cols]
	x1, x2, x3, x4, x5 := a[lda:lda+cols], a[2*lda:2*lda+cols], a[3*lda:3*lda+cols], a[4*lda:4*lda+cols], a[5*lda:5*lda+cols]
	// Element by element: a composite literal goes through the stack, and
	// its 16-byte reload of four 4-byte stores stalls store forwarding.
	dd := dst[:cols*mr]
	if alpha == 1 {
		for p := range x0 {
			o := (*[mr]float32)(dd[p*mr:])
			o[0], o[1], o[2], o[3], o[4], o[5] = x0[p], x1[p], x2[p], x3[p], x4[p], x5[p]
		}
		return
	}
	for p := range x0 {
		o := (*[mr]float32)(dd[p*mr:])
		o[0], o[1], o[2], o[3], o[4], o[5] = alpha*x0[p], alpha*x1[p], alpha*x2[p], alpha*x3[p], alpha*x4[p], alpha*x5[p]
	}
}

// gatherRowsGo writes 16 floats per row r: dst[16r+t] = *(base + rows[r]
// + idx[t]), offsets in bytes; the caller guarantees they are in range.
func gatherRowsGo(dst []float32, base *float32, rows []int32, idx *[16]int32) {
	dst = dst[:len(rows)*nr]
	for r, off := range rows {
		src := unsafe.Add(unsafe.Pointer(base), off)
		d := (*[nr]float32)(dst[r*nr:])
		for t := range d {
			d[t] = *(*float32)(unsafe.Add(src, idx[t]))
		}
	}
}

// segRowsGo is segRowsAVX512's twin: 16 floats per row r, dst[16r+t] =
// *(base + rows[r] + segs[s] + 4t) for the s whose masks[s] has bit t, 0
// where none has it (offsets in bytes; the caller guarantees the range of
// the lanes read).
func segRowsGo(dst []float32, base *float32, rows []int32, segs *[4]int32, masks *[4]uint16) {
	dst = dst[:len(rows)*nr]
	for r, off := range rows {
		d := (*[nr]float32)(dst[r*nr:])
		*d = [nr]float32{}
		for s, m := range masks {
			src := unsafe.Add(unsafe.Pointer(base), int(off)+int(segs[s]))
			for t := range d {
				if m&(1<<t) != 0 {
					d[t] = *(*float32)(unsafe.Add(src, 4*t))
				}
			}
		}
	}
}

// copyRowsGo writes 16 floats per row r: dst[16r:16r+16] from base +
// rows[r] (bytes); the caller guarantees the range.
func copyRowsGo(dst []float32, base *float32, rows []int32) {
	dst = dst[:len(rows)*nr]
	for r, off := range rows {
		*(*[nr]float32)(dst[r*nr:]) = *(*[nr]float32)(unsafe.Add(unsafe.Pointer(base), off))
	}
}

// maxAbsGo is dst[i] = max(a[i], |b[i]|) with Go's max: a NaN on either
// side gives a NaN, b's when both are.
func maxAbsGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = max(a[i], math.Float32frombits(math.Float32bits(b[i])&^(1<<31)))
	}
}

// maxSkipNaNGo is dst[i] = a[i] if a[i] > b[i], else b[i]: a NaN in a
// keeps b.
func maxSkipNaNGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		if a[i] > b[i] {
			dst[i] = a[i]
		} else {
			dst[i] = b[i]
		}
	}
}

func divGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] / b[i]
	}
}

func divScalarGo(dst, x []float32, c float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = x[i] / c
	}
}

func scalarDivGo(dst, x []float32, c float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = c / x[i]
	}
}

func addGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func subGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] - b[i]
	}
}

func mulGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

func axpyGo(y, x []float32, alpha float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += alpha * x[i]
	}
}

// axpy8Go is axpyGo by each of eight rows of x in turn (axpy8AVX's twin).
func axpy8Go(y []float32, x *float32, ldx int, s *[8]float32) {
	rows := unsafe.Slice(x, 7*ldx+len(y))
	for r, a := range s {
		axpyGo(y, rows[r*ldx:], a)
	}
}

func scaleShiftGo(dst, x []float32, s, t float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = x[i]*s + t
	}
}

// biasClipGo keeps NaN, as the assembly does.
func biasClipGo(dst, x []float32, bias, lo, hi float32) {
	x = x[:len(dst)]
	for i := range dst {
		v := x[i] + bias
		if v < lo {
			v = lo
		}
		if v > hi {
			v = hi
		}
		dst[i] = v
	}
}

// scaleShiftClipRowsOf makes a level's scShClipRows from its row kernel:
// one call a row.
func scaleShiftClipRowsOf(f func(dst, x []float32, s, t, lo, hi float32)) func(y *float32, ldy, rows, n int, s *float32, sstep int, t *float32, lo, hi float32) {
	return func(y *float32, ldy, rows, n int, s *float32, sstep int, t *float32, lo, hi float32) {
		for j := range rows {
			row := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(y), 4*j*ldy)), n)
			sj := *(*float32)(unsafe.Add(unsafe.Pointer(s), 4*j*sstep))
			tj := *(*float32)(unsafe.Add(unsafe.Pointer(t), 4*j))
			f(row, row, sj, tj, lo, hi)
		}
	}
}

// scaleShiftRowsOf makes a level's scShRows from its ScaleShift kernel.
func scaleShiftRowsOf(f func(dst, x []float32, s, t float32)) func(y *float32, ldy, rows, n int, s *float32, sstep int, t *float32) {
	return func(y *float32, ldy, rows, n int, s *float32, sstep int, t *float32) {
		scaleShiftClipRowsOf(func(dst, x []float32, s, t, _, _ float32) { f(dst, x, s, t) })(y, ldy, rows, n, s, sstep, t, 0, 0)
	}
}

// scaleShiftClipGo is scaleShiftGo then biasClipGo with bias 0, as the
// assembly twin fuses them.
func scaleShiftClipGo(dst, x []float32, s, t, lo, hi float32) {
	scaleShiftGo(dst, x, s, t)
	biasClipGo(dst, dst, 0, lo, hi)
}

// Constants shared with internal/asmgen.
const (
	expLo   = -104.0 // exp rounds to 0 below
	expHi   = 88.8   // and to +Inf above
	ln2Hi   = 0.693359375
	ln2Lo   = -2.12194440e-4
	expP0   = 1.9875691500e-4
	expP1   = 1.3981999507e-3
	expP2   = 8.3334519073e-3
	expP3   = 4.1665795894e-2
	expP4   = 1.6666665459e-1
	expP5   = 5.0000001201e-1
	tanhMax = 7.90531110763549805
	tanhSat = 9 // tanh rounds to ±1 from here
	erfMax  = 4
	erfSat  = 3.92 // erf rounds to ±1 from here
)

var (
	tanhA = [...]float32{4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05, 5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16}
	tanhB = [...]float32{4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06}
	erfA  = [...]float32{-1.60960333262415e-02, -2.95459980854025e-03, -7.34990630326855e-04, -5.69250639462346e-05, -2.10102402082508e-06, 2.77068142495902e-08, -2.72614225801306e-10}
	erfB  = [...]float32{-1.42647390514189e-02, -7.37332916720468e-03, -1.68282697438203e-03, -2.13374055278905e-04, -1.45660718464996e-05}
)

func clampNaN(x, lo, hi float32) float32 {
	if x > hi {
		x = hi
	}
	if x < lo {
		x = lo
	}
	return x
}

// expf: x = n·ln2 + r, |r| ≤ ln2/2; e^r by Cephes' expf polynomial; 2^n as
// two exponent-field factors so that n in [-150, 128] gives subnormals and
// +Inf without special cases.
func expf(x float32) float32 {
	x = clampNaN(x, expLo, expHi)
	n := float32(math.RoundToEven(float64(x * float32(math.Log2E))))
	r := x - n*ln2Hi
	r -= n * ln2Lo
	y := float32(expP0)
	y = y*r + expP1
	y = y*r + expP2
	y = y*r + expP3
	y = y*r + expP4
	y = y*r + expP5
	y = y*(r*r) + r
	y++
	if n != n {
		return x
	}
	ni := int32(n)
	h := ni >> 1
	l := ni - h
	y *= math.Float32frombits(uint32(h+127) << 23)
	y *= math.Float32frombits(uint32(l+127) << 23)
	return y
}

func sigmoidf(x float32) float32 { return 1 / (1 + expf(-x)) }

// Cephes' sinf and cosf polynomials and π/2 in three parts, as the
// assembly generator has them.
var (
	sinP = [...]float32{-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1}
	cosP = [...]float32{2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2}
)

const (
	pio2dp1 = 1.5703125
	pio2dp2 = 4.837512969970703125e-4
	pio2dp3 = 7.54978995489188216e-8
)

// fma32 is a·b + c rounded once, as VFMADD.
func fma32(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }

// sinCosf is sin x (cos x with cos set) for |x| ≤ sinCosMax: j =
// round(x·2/π), r = x − j·π/2 in three parts, and quadrant j (+1 for cos)
// picks the sine or cosine polynomial and the sign.
func sinCosf(x float32, cos bool) float32 {
	j := float32(math.RoundToEven(float64(x * float32(2/math.Pi))))
	r := fma32(-j, pio2dp1, x)
	r = fma32(-j, pio2dp2, r)
	r = fma32(-j, pio2dp3, r)
	z := r * r
	sp := fma32(fma32(sinP[0], z, sinP[1]), z, sinP[2])
	sp = fma32(z*sp, r, r)
	cp := fma32(fma32(cosP[0], z, cosP[1]), z, cosP[2])
	cp = fma32(-0.5, z, (z*z)*cp) + 1
	q := int32(j)
	if cos {
		q++
	}
	res := sp
	if q&1 != 0 {
		res = cp
	}
	if q&2 != 0 {
		res = -res
	}
	return res
}

// logP is Cephes' logf polynomial, highest power first (the assembly
// generator has the same table).
var logP = [...]float32{7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1}

// logf is Cephes' logf: x = m·2^e with m in [√½, √2), log m = f − f²/2 +
// f³·P(f) for f = m − 1, plus e·ln2 in two parts; a subnormal x is scaled
// by 2^23 first. x < 0 and NaN give NaN, ±0 −Inf, +Inf +Inf.
func logf(x float32) float32 {
	switch {
	case x == float32(math.Inf(1)):
		return x
	case x == 0:
		return float32(math.Inf(-1))
	case !(x >= 0):
		return math.Float32frombits(0x7fc00000)
	}
	var adj float32
	if x < 0x1p-126 {
		x *= 0x1p23
		adj = 23
	}
	b := math.Float32bits(x)
	e := float32(int32(b>>23)-126) - adj
	m := math.Float32frombits(b&0x007fffff | 0x3f000000)
	if m < 0.707106781186547524 {
		m += m
		e--
	}
	m--
	z := m * m
	y := logP[0]
	for _, p := range logP[1:] {
		y = y*m + p
	}
	y = y * m * z
	y += e * ln2Lo
	y -= 0.5 * z
	y += m
	y += e * ln2Hi
	return y
}

// oddRational is x·P(x²)/Q(x²) with x clamped to ±lim, and ±1 where
// |x| ≥ sat (the function rounds to ±1 there; the clamped rational is a few
// ulps short).
func oddRational(x, lim, sat float32, a, b []float32) float32 {
	if x >= sat {
		return 1
	}
	if x <= -sat {
		return -1
	}
	x = clampNaN(x, -lim, lim)
	x2 := x * x
	p := a[len(a)-1]
	for i := len(a) - 2; i >= 0; i-- {
		p = p*x2 + a[i]
	}
	p *= x
	q := b[len(b)-1]
	for i := len(b) - 2; i >= 0; i-- {
		q = q*x2 + b[i]
	}
	return p / q
}

// tanhf is Eigen's rational approximation, x·P(x²)/Q(x²) on ±7.905.
func tanhf(x float32) float32 { return oddRational(x, tanhMax, tanhSat, tanhA[:], tanhB[:]) }

// erff is Eigen's rational approximation, x·P(x²)/Q(x²) on ±4.
func erff(x float32) float32 { return oddRational(x, erfMax, erfSat, erfA[:], erfB[:]) }

func geluf(x float32) float32 {
	return 0.5 * x * (1 + erff(x*float32(1/math.Sqrt2)))
}

func mapGo(dst, x []float32, f func(float32) float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = f(x[i])
	}
}

func expSliceGo(dst, x []float32) { mapGo(dst, x, expf) }
func logSliceGo(dst, x []float32) { mapGo(dst, x, logf) }
func sinSliceGo(dst, x []float32) {
	mapGo(dst, x, func(v float32) float32 { return sinCosf(v, false) })
}
func cosSliceGo(dst, x []float32)     { mapGo(dst, x, func(v float32) float32 { return sinCosf(v, true) }) }
func sigmoidSliceGo(dst, x []float32) { mapGo(dst, x, sigmoidf) }
func tanhSliceGo(dst, x []float32)    { mapGo(dst, x, tanhf) }
func erfSliceGo(dst, x []float32)     { mapGo(dst, x, erff) }
func geluSliceGo(dst, x []float32)    { mapGo(dst, x, geluf) }

// sumGo adds in eight lanes like the assembly, which keeps long sums
// accurate and the twins close.
func sumGo(x []float32) float32 {
	var l [8]float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		for j := range l {
			l[j] += x[i+j]
		}
	}
	for j := 0; i < len(x); i, j = i+1, j+1 {
		l[j] += x[i]
	}
	var s float32
	for _, v := range l {
		s += v
	}
	return s
}

func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var l [8]float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		for j := range l {
			l[j] += a[i+j] * b[i+j]
		}
	}
	for j := 0; i < len(a); i, j = i+1, j+1 {
		l[j] += a[i] * b[i]
	}
	var s float32
	for _, v := range l {
		s += v
	}
	return s
}

func maxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

func minMaxGo(x []float32) (lo, hi float32) {
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

func expSubSumGo(dst, x []float32, m float32) float32 {
	x = x[:len(dst)]
	var l [8]float32
	for i := range dst {
		e := expf(x[i] - m)
		dst[i] = e
		l[i&7] += e
	}
	var s float32
	for _, v := range l {
		s += v
	}
	return s
}

func sumSqDevGo(x []float32, mean float32) float32 {
	var l [8]float32
	for i, v := range x {
		d := v - mean
		l[i&7] += d * d
	}
	var s float32
	for _, v := range l {
		s += v
	}
	return s
}

func normAffineGo(dst, x, gamma, beta []float32, mean, rstd float32) {
	x, gamma, beta = x[:len(dst)], gamma[:len(dst)], beta[:len(dst)]
	for i := range dst {
		dst[i] = (x[i]-mean)*rstd*gamma[i] + beta[i]
	}
}

// dwRow3s1Go and dwRow3s2Go handle len(dst) rounded down to 8, like the
// assembly; callers finish the tail.
// dw9 sums nine depthwise taps x_k·w_k in ONNX Runtime's order (see
// dwKernel in internal/asmgen): products rounded on their own, four at a
// time, each group added to the running total, the total started at +0,
// and the bias last. The conversions keep the compiler from fusing a
// product into an addition.
func dw9(x *[9]float32, w []float32, bias float32) float32 {
	w = w[:9]
	acc := float32(x[0]*w[0]) + float32(x[1]*w[1]) + float32(x[2]*w[2]) + float32(x[3]*w[3]) + 0
	acc = float32(x[4]*w[4]) + float32(x[5]*w[5]) + float32(x[6]*w[6]) + float32(x[7]*w[7]) + acc
	acc = float32(x[8]*w[8]) + acc
	return acc + bias
}

func dwRow3s1Go(dst, r0, r1, r2, w []float32, bias float32) {
	n := len(dst) &^ 7
	r0, r1, r2 = r0[:n+2], r1[:n+2], r2[:n+2]
	for j := 0; j < n; j++ {
		x := [9]float32{r0[j], r0[j+1], r0[j+2], r1[j], r1[j+1], r1[j+2], r2[j], r2[j+1], r2[j+2]}
		dst[j] = dw9(&x, w, bias)
	}
}

func dwRow3s2Go(dst, r0, r1, r2, w []float32, bias float32) {
	n := len(dst) &^ 7
	if n == 0 {
		return
	}
	r0, r1, r2 = r0[:2*n+2], r1[:2*n+2], r2[:2*n+2]
	for j := 0; j < n; j++ {
		i := 2 * j
		x := [9]float32{r0[i], r0[i+1], r0[i+2], r1[i], r1[i+1], r1[i+2], r2[i], r2[i+1], r2[i+2]}
		dst[j] = dw9(&x, w, bias)
	}
}

// dwPlaneGo makes the whole-channel twin of a depthwise row kernel with
// stride s: rows output rows of ow8 columns, dstStride apart, reading input
// rows pw apart.
func dwPlaneGo(row func(dst, r0, r1, r2, w []float32, bias float32), s int) func(dst, src, w []float32, bias float32, rows, ow8, dstStride, pw int) {
	return func(dst, src, w []float32, bias float32, rows, ow8, dstStride, pw int) {
		for i := 0; i < rows; i++ {
			r := s * i * pw
			row(dst[i*dstStride:i*dstStride+ow8], src[r:], src[r+pw:], src[r+2*pw:], w, bias)
		}
	}
}

// quantize8One is one element of QuantizeLinear to 8 bits: round half to
// even of x/s, plus z, clamped to [lo, hi] in float32; NaN gives 0 (what
// Go's float-to-integer conversion of NaN gives on amd64).
func quantize8One(x, s, z, lo, hi float32) float32 {
	r := float32(math.RoundToEven(float64(x/s))) + z
	if r != r {
		return 0
	}
	return min(max(r, lo), hi)
}

// quantize8Go stores quantize8One's results as bytes (two's complement for
// int8) for whole blocks of eight, as the assembly twin.
func quantize8Go(dst []byte, x []float32, s, z, lo, hi float32) {
	n := len(dst) &^ 7
	x = x[:n]
	for i, v := range x {
		dst[i] = byte(int32(quantize8One(v, s, z, lo, hi)))
	}
}

func dequantizeU8Go(dst []float32, x []byte, z, s float32) {
	n := len(dst) &^ 7
	x = x[:n]
	for i, v := range x {
		dst[i] = (float32(v) - z) * s
	}
}

func dequantizeI8Go(dst []float32, x []byte, z, s float32) {
	n := len(dst) &^ 7
	x = x[:n]
	for i, v := range x {
		dst[i] = (float32(int8(v)) - z) * s
	}
}

func widenI4Go(dst []float32, x []byte) {
	for i := range len(dst) &^ 15 {
		dst[i] = float32(nibble(x, i, true))
	}
}

func widenU4Go(dst []float32, x []byte) {
	for i := range len(dst) &^ 15 {
		dst[i] = float32(nibble(x, i, false))
	}
}

// nibble is the 4-bit value i of x, low nibble first, sign-extended when
// signed.
func nibble(x []byte, i int, signed bool) int8 {
	v := x[i/2] >> (4 * (i % 2)) & 15
	if signed {
		return int8(v<<4) >> 4
	}
	return int8(v)
}

// dwTapsGo is the twin of the general depthwise kernel: dst[j] = bias +
// Σ_t w[t]·base[offs[t]+j] for j < len(dst) rounded down to 8, in dwPoint's
// order (unfused products, four taps a group, then a pair, then one).
func dwTapsGo(dst []float32, base *float32, offs []int32, w []float32, bias float32) {
	n := len(dst) &^ 7
	taps := len(offs)
	w = w[:taps]
	x := func(t, j int) float32 {
		return *(*float32)(unsafe.Add(unsafe.Pointer(base), 4*(int(offs[t])+j)))
	}
	for j := 0; j < n; j++ {
		acc := float32(0)
		t := 0
		for ; t+4 <= taps; t += 4 {
			acc = float32(x(t, j)*w[t]) + float32(x(t+1, j)*w[t+1]) + float32(x(t+2, j)*w[t+2]) + float32(x(t+3, j)*w[t+3]) + acc
		}
		if taps-t >= 2 {
			acc = float32(x(t, j)*w[t]) + float32(x(t+1, j)*w[t+1]) + acc
			t += 2
		}
		if t < taps {
			acc = float32(x(t, j)*w[t]) + acc
		}
		dst[j] = acc + bias
	}
}

func preluGo(dst, x, s []float32) {
	x, s = x[:len(dst)], s[:len(dst)]
	for i, v := range x {
		if v < 0 {
			v *= s[i]
		}
		dst[i] = v
	}
}

func leakyGo(dst, x []float32, s float32) {
	x = x[:len(dst)]
	for i, v := range x {
		if v < 0 {
			v *= s
		}
		dst[i] = v
	}
}

// sumTapsGo is the twin of the pooling window sum: dst[j] = Σ_t
// base[offs[t]+j], one tap at a time from +0, for j < len(dst) rounded
// down to 8.
func sumTapsGo(dst []float32, base *float32, offs []int32) {
	n := len(dst) &^ 7
	for j := 0; j < n; j++ {
		var acc float32
		for _, o := range offs {
			acc += *(*float32)(unsafe.Add(unsafe.Pointer(base), 4*(int(o)+j)))
		}
		dst[j] = acc
	}
}

// deinterleaveGo is ks.deint: ev[i] = src[2i], od[i] = src[2i+1] for i <
// len(od).
func deinterleaveGo(ev, od, src []float32) {
	n := len(od)
	ev, src = ev[:n], src[:2*n]
	for i := range n {
		ev[i], od[i] = src[2*i], src[2*i+1]
	}
}

// padRowsGo is ks.padRows: rows rows of qw floats at dst, each lo zeros,
// w floats of src (rows ldx floats apart), then zeros to qw.
func padRowsGo(dst, src *float32, rows, w, ldx, lo, qw int) {
	if rows <= 0 {
		return
	}
	d, s := unsafe.Slice(dst, rows*qw), unsafe.Slice(src, (rows-1)*ldx+w)
	for r := range rows {
		row := d[r*qw : (r+1)*qw]
		zeroFew(row[:lo])
		copy(row[lo:lo+w], s[r*ldx:r*ldx+w])
		zeroFew(row[lo+w:])
	}
}

func evensGo(dst, src []float32) {
	n := len(dst) &^ 7
	src = src[:2*n]
	for i := 0; i < n; i++ {
		dst[i] = src[2*i]
	}
}

// storeTile writes (or, with acc, adds) the first mrr rows of the twins'
// mrr×32 tile t to C.
func storeTile(t *[mr][2 * nr]float32, mrr int, c *float32, ldc int, acc bool) {
	cs := unsafe.Slice(c, (mrr-1)*ldc+2*nr)
	for i := 0; i < mrr; i++ {
		row := (*[2 * nr]float32)(cs[i*ldc:])
		if acc {
			for j := range row {
				row[j] += t[i][j]
			}
		} else {
			*row = t[i]
		}
	}
}

// sqrtGo is ks.sqrt: float64's correctly rounded square root of a float32
// rounds to float32's (53 ≥ 2·24 + 2 bits).
func sqrtGo(dst, x []float32) {
	for i, v := range x[:len(dst)] {
		dst[i] = float32(math.Sqrt(float64(v)))
	}
}

// absGo is ks.abs: the sign bit cleared.
func absGo(dst, x []float32) {
	for i, v := range x[:len(dst)] {
		dst[i] = math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
	}
}

// roundGo, floorGo and ceilGo round through float64, where every float32
// is exact: the rounding instructions' results.
func roundGo(dst, x []float32) {
	mapGo(dst, x, func(v float32) float32 { return float32(math.RoundToEven(float64(v))) })
}

func floorGo(dst, x []float32) {
	mapGo(dst, x, func(v float32) float32 { return float32(math.Floor(float64(v))) })
}

func ceilGo(dst, x []float32) {
	mapGo(dst, x, func(v float32) float32 { return float32(math.Ceil(float64(v))) })
}
