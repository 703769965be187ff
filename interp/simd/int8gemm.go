package simd

import (
	"fmt"
	"sync"
	"unsafe"
)

// Integer GEMM: C (int32) = A (int8, M×K, packed once) · B (uint8, K×N).
//
// The micro-kernel computes an i8mr×i8nr tile over K in steps of four: A's
// panel holds, per step, the four int8 values of each of its i8mr rows; B's
// panel holds, per step, the four uint8 values of each of its i8nr columns.
// That is the operand layout of VPDPBUSD (AVX-512 VNNI: four u8·s8 products
// added into each int32 lane, no intermediate saturation); the AVX2 kernel
// widens both to 16 bits and uses VPMADDWD, which cannot saturate either.
// Sums wrap modulo 2^32 at every level alike, so all levels give identical
// results (the exact integer result whenever it fits in int32, which it
// does for K < 33025).
//
// Other operand types reduce to u8·s8 by offsets the caller folds into its
// zero points: an int8 B is B+128 as uint8 (xor 0x80), a uint8 A is A-128
// as int8. RowSum (of A) and the column sums of B that GemmU8I8 can return
// give the zero-point corrections:
//
//	Σ(a-za)(b-zb) = Σab - zb·Σa - za·Σb + K·za·zb.
const (
	i8mr = 8
	i8nr = 32
)

// PackedI8 is an int8 left operand packed into i8mr-row panels.
type PackedI8 struct {
	M, K int
	k4   int    // K rounded up to a multiple of 4, over 4
	data []int8 // panels of k4 steps × i8mr rows × 4
	// RowSum is Σ_k a[i][k] of each row.
	RowSum []int32
}

// PackI8 packs the m×k int8 matrix a (row stride lda). at(i, k) reads
// element (i, k) when a is nil (for operands that need an offset or a
// transpose on the way in).
func PackI8(m, k int, a []int8, lda int, at func(i, k int) int8) *PackedI8 {
	if a != nil && m > 0 && k > 0 && len(a) < (m-1)*lda+k {
		panic(fmt.Sprintf("simd: PackI8 of %d×%d needs %d values, got %d", m, k, (m-1)*lda+k, len(a)))
	}
	k4 := (k + 3) / 4
	panels := (m + i8mr - 1) / i8mr
	p := &PackedI8{M: m, K: k, k4: k4, data: make([]int8, panels*k4*i8mr*4), RowSum: make([]int32, m)}
	for i := 0; i < m; i++ {
		pan := p.data[(i/i8mr)*k4*i8mr*4:]
		r := i % i8mr
		var s int32
		for q := 0; q < k; q++ {
			var v int8
			if a != nil {
				v = a[i*lda+q]
			} else {
				v = at(i, q)
			}
			pan[(q/4)*i8mr*4+r*4+q%4] = v
			s += int32(v)
		}
		p.RowSum[i] = s
	}
	return p
}

var i8Scratch = sync.Pool{New: func() any { return new(i8Work) }}

// i8Work is one worker's packed B panel and edge tile (and the matrix-vector
// product's expanded column and rows).
type i8Work struct {
	b    []uint8
	tile [i8mr * i8nr]int32
	rows []int32
}

// gemvU8I8 is GemmU8I8 of one column (n = 1) on the gemvU8I8 kernel: the
// column's steps of four bytes, each repeated for the 8 rows of a panel,
// in pairs of steps (gemvU8I8VNNI's layout), then 8 rows a panel.
func gemvU8I8(pa *PackedI8, b []uint8, ldb int, c []int32, ldc int, colSum []int32) {
	m, k, k4 := pa.M, pa.K, pa.k4
	w := i8Scratch.Get().(*i8Work)
	defer i8Scratch.Put(w)
	pairs := (k4 + 1) / 2
	if cap(w.b) < 64*pairs {
		w.b = make([]uint8, 64*pairs)
	}
	x2 := w.b[:64*pairs]
	clear(x2)
	var sum int32
	for q := 0; q < k; q++ {
		v := b[q*ldb]
		sum += int32(v)
		step := q / 4
		base := (step/2)*64 + (step%2)*32 + q%4
		for r := 0; r < i8mr; r++ {
			x2[base+4*r] = v
		}
	}
	if colSum != nil {
		colSum[0] = sum
	}
	panels := (m + i8mr - 1) / i8mr
	if cap(w.rows) < panels*i8mr {
		w.rows = make([]int32, panels*i8mr)
	}
	rows := w.rows[:panels*i8mr]
	ks.gemvU8I8(k4, &pa.data[0], &x2[0], panels, &rows[0])
	for i := 0; i < m; i++ {
		c[i*ldc] = rows[i]
	}
}

// GemmU8I8 sets c[i*ldc+j] = Σ_k a[i][k]·b[k*ldb+j] for the packed A and
// the k×n uint8 matrix b, with int32 sums that wrap. colSum, when not nil,
// receives Σ_k b[k][j] for each of the n columns. Work is split over
// threads by column panels.
func GemmU8I8(pa *PackedI8, n int, b []uint8, ldb int, c []int32, ldc int, colSum []int32, threads int) {
	m, k := pa.M, pa.K
	if m == 0 || n == 0 {
		return
	}
	if k > 0 && len(b) < (k-1)*ldb+n || len(c) < (m-1)*ldc+n || colSum != nil && len(colSum) < n {
		panic(fmt.Sprintf("simd: GemmU8I8 %d×%d×%d: b has %d, c %d values", m, n, k, len(b), len(c)))
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
		if colSum != nil {
			clear(colSum[:n])
		}
		return
	}
	if n == 1 && ks.gemvU8I8 != nil {
		gemvU8I8(pa, b, ldb, c, ldc, colSum)
		return
	}
	panels := (n + i8nr - 1) / i8nr
	// Several column panels a task keep the per-task overhead small.
	per := max(1, min(8, panels/(4*max(1, threads))))
	tasks := (panels + per - 1) / per
	Parallel(tasks, threads, func(t int) {
		w := i8Scratch.Get().(*i8Work)
		defer i8Scratch.Put(w)
		if cap(w.b) < pa.k4*i8nr*4 {
			w.b = make([]uint8, pa.k4*i8nr*4)
		}
		bp := w.b[:pa.k4*i8nr*4]
		for pj := t * per; pj < min(panels, (t+1)*per); pj++ {
			j0 := pj * i8nr
			cols := min(i8nr, n-j0)
			packU8Panel(bp, b, ldb, k, j0, cols, colSum)
			gemmI8Panel(pa, bp, c, ldc, j0, cols, w)
		}
	})
}

// gemmI8Panel runs every row panel of pa against one packed column panel.
func gemmI8Panel(pa *PackedI8, bp []uint8, c []int32, ldc, j0, cols int, w *i8Work) {
	kern := ks.gemmU8I8
	stride := pa.k4 * i8mr * 4
	for i0 := 0; i0 < pa.M; i0 += i8mr {
		rows := min(i8mr, pa.M-i0)
		a := &pa.data[(i0/i8mr)*stride]
		if rows == i8mr && cols == i8nr {
			kern(pa.k4, a, &bp[0], &c[i0*ldc+j0], ldc)
			continue
		}
		kern(pa.k4, a, &bp[0], &w.tile[0], i8nr)
		for i := 0; i < rows; i++ {
			copy(c[(i0+i)*ldc+j0:(i0+i)*ldc+j0+cols], w.tile[i*i8nr:i*i8nr+cols])
		}
	}
}

// packU8Panel lays columns [j0, j0+cols) of b out as k4 steps of i8nr
// columns × 4 rows, zero past k and past cols, and adds the column sums.
func packU8Panel(dst []uint8, b []uint8, ldb, k, j0, cols int, colSum []int32) {
	q0 := 0
	if cols == i8nr && k >= 4 {
		// Full steps of a full panel: the kernel set's interleave.
		q0 = k / 4 * 4
		_ = b[(q0-1)*ldb+j0+i8nr-1]
		ks.packU8x4(&dst[0], &b[j0], ldb, k/4)
	}
	d32 := unsafe.Slice((*uint32)(unsafe.Pointer(&dst[0])), len(dst)/4)
	for q := q0; q < k; q += 4 {
		out := d32[(q/4)*i8nr : (q/4)*i8nr+i8nr]
		var rows [4][]uint8
		for t := range rows {
			if q+t < k {
				rows[t] = b[(q+t)*ldb+j0 : (q+t)*ldb+j0+cols]
			}
		}
		switch {
		case q+4 <= k:
			r0, r1, r2, r3 := rows[0], rows[1][:len(rows[0])], rows[2][:len(rows[0])], rows[3][:len(rows[0])]
			for j := range r0 {
				out[j] = uint32(r0[j]) | uint32(r1[j])<<8 | uint32(r2[j])<<16 | uint32(r3[j])<<24
			}
		default:
			for j := 0; j < cols; j++ {
				var v uint32
				for t := 0; q+t < k; t++ {
					v |= uint32(rows[t][j]) << (8 * t)
				}
				out[j] = v
			}
		}
		clear(out[cols:])
	}
	if colSum != nil && k > 0 {
		// From the packed panel, zero past k and cols.
		var sums [i8nr]int32
		ks.colSumsU8((k+3)/4, &dst[0], &sums[0])
		copy(colSum[j0:j0+cols], sums[:cols])
	} else if colSum != nil {
		clear(colSum[j0 : j0+cols])
	}
}

// colSumsU8Go is the pure-Go twin of colSumsU8AVX2.
func colSumsU8Go(k4 int, b *uint8, sums *int32) {
	p := unsafe.Slice(b, k4*i8nr*4)
	s := unsafe.Slice(sums, i8nr)
	clear(s)
	for q := 0; q < k4; q++ {
		for j := range s {
			o := q*i8nr*4 + 4*j
			s[j] += int32(p[o]) + int32(p[o+1]) + int32(p[o+2]) + int32(p[o+3])
		}
	}
}

// packU8x4Go is the pure-Go twin of packU8x4AVX: k4 steps of four
// i8nr-byte rows (ldb apart) interleaved into i8nr columns × 4 bytes.
func packU8x4Go(dst, src *uint8, ldb, k4 int) {
	d := unsafe.Slice(dst, k4*i8nr*4)
	s := unsafe.Slice(src, (4*k4-1)*ldb+i8nr)
	for q := 0; q < k4; q++ {
		r := s[4*q*ldb:]
		out := d[q*i8nr*4 : (q+1)*i8nr*4]
		for j := 0; j < i8nr; j++ {
			out[4*j], out[4*j+1], out[4*j+2], out[4*j+3] = r[j], r[ldb+j], r[2*ldb+j], r[3*ldb+j]
		}
	}
}

// gemmU8I8Go is the pure-Go micro-kernel: the i8mr×i8nr tile of k4 steps,
// stored to c (row stride ldc).
func gemmU8I8Go(k4 int, a *int8, b *uint8, c *int32, ldc int) {
	var t [i8mr][i8nr]int32
	as := unsafe.Slice(a, k4*i8mr*4)
	bs := unsafe.Slice(b, k4*i8nr*4)
	for p := 0; p < k4; p++ {
		ap := as[p*i8mr*4 : (p+1)*i8mr*4]
		bp := bs[p*i8nr*4 : (p+1)*i8nr*4]
		for i := 0; i < i8mr; i++ {
			a0, a1, a2, a3 := int32(ap[4*i]), int32(ap[4*i+1]), int32(ap[4*i+2]), int32(ap[4*i+3])
			ti := &t[i]
			for j := range ti {
				bj := bp[4*j : 4*j+4]
				ti[j] += a0*int32(bj[0]) + a1*int32(bj[1]) + a2*int32(bj[2]) + a3*int32(bj[3])
			}
		}
	}
	cs := unsafe.Slice(c, (i8mr-1)*ldc+i8nr)
	for i := 0; i < i8mr; i++ {
		*(*[i8nr]int32)(cs[i*ldc:]) = t[i]
	}
}

// Int32ScaleShiftClip sets dst[i] = min(max(float32(src[i]+t)·s + b, lo),
// hi), the product and the sum each rounded to float32 (no fused
// multiply-add), identically at every level: integer accumulators back to
// float with a per-row scale and shift.
func Int32ScaleShiftClip(dst []float32, src []int32, t int32, s, b, lo, hi float32) {
	n := len(dst)
	if len(src) < n {
		panic(fmt.Sprintf("simd: Int32ScaleShiftClip of %d values from %d", n, len(src)))
	}
	n8 := n / 8 * 8
	if n8 > 0 {
		ks.i32ScaleShiftClip(&dst[0], &src[0], n8, t, s, b, lo, hi)
	}
	if n8 < n {
		i32ScaleShiftClipGo(&dst[n8], &src[n8], n-n8, t, s, b, lo, hi)
	}
}

func i32ScaleShiftClipGo(dst *float32, src *int32, n int, t int32, s, b, lo, hi float32) {
	d, x := unsafe.Slice(dst, n), unsafe.Slice(src, n)
	for i, v := range x {
		y := float32(float32(v+t)*s) + b
		// As VMAXPS/VMINPS: the bound unless y is above (below) it.
		if !(y > lo) {
			y = lo
		}
		if !(y < hi) {
			y = hi
		}
		d[i] = y
	}
}

// I8Level names the integer GEMM kernel in use (e.g. "avx512-vnni").
func I8Level() string { return ks.i8name }
