package simd

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// float16Edges are the float32 values where a float16 conversion can go
// wrong: signed zeros, NaNs with and without payload (quiet, signalling,
// negative), infinities, the saturation boundary, float16's subnormal and
// normal limits, rounding ties and float32 subnormals.
func float16Edges() []float32 {
	bits := []uint32{
		0x00000000, 0x80000000, // ±0
		0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FBFFFFF, 0x7FFFFFFF, 0x7F802000, 0xFFE00000, // NaNs
		0x7F800000, 0xFF800000, // ±Inf
		0x7F7FFFFF, 0xFF7FFFFF, // ±MaxFloat32
		0x00000001, 0x80000001, 0x007FFFFF, 0x00400000, 0x00800000, // float32 subnormals, smallest normal
	}
	var out []float32
	for _, b := range bits {
		out = append(out, math.Float32frombits(b))
	}
	for _, v := range []float64{
		65504, 65505, 65519, 65519.996, 65520, 65536, 1e5, 1e38, // saturation
		0x1p-24, 0x1p-25, 0x1p-25 + 0x1p-40, 0x1p-26, 3 * 0x1p-26, 3 * 0x1p-25, 5 * 0x1p-25, // subnormal ties
		0x1p-14, 0x1p-14 - 0x1p-25, 0x1p-14 - 0x1p-24, 0x1p-15, 0x1p-14 + 0x1p-24, // normal limit
		1, 1 + 0x1p-11, 1 + 3*0x1p-11, 1 + 0x1p-11 + 0x1p-23, 2047, 2049, 4095, 4097, 2 - 0x1p-11, // ties
		0.1, 1.0 / 3, math.Pi, 65503.99, 32768.5, 4096.1,
	} {
		out = append(out, float32(v), float32(-v))
	}
	return out
}

// float16Oracle rounds x to float16 by searching the ordered float16 values
// (round to nearest, ties to the even bit pattern); finite values beyond
// ±65504 saturate. An independent check of the bit-twiddling twin.
func float16Oracle(x float32) uint16 {
	if x != x {
		return uint16(math.Float32bits(x)>>16)&0x8000 | 0x7E00
	}
	sign := uint16(math.Float32bits(x)>>16) & 0x8000
	a := math.Abs(float64(x))
	if math.IsInf(a, 0) {
		return sign | 0x7C00
	}
	if a >= 65504 {
		return sign | 0x7BFF
	}
	val := func(h uint16) float64 { // finite, positive
		e, m := int(h>>10), float64(h&0x3FF)
		if e == 0 {
			return m * 0x1p-24
		}
		return (1 + m/1024) * math.Ldexp(1, e-15)
	}
	h := uint16(sort.Search(0x7BFF, func(i int) bool { return val(uint16(i+1)) > a }))
	lo, hi := a-val(h), val(h+1)-a
	if hi < lo || (hi == lo && h&1 == 1) {
		h++
	}
	return sign | h
}

func TestFloat16Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 17))
	x := float16Edges()
	for range 1 << 16 { // random bit patterns: every exponent, NaN payloads
		x = append(x, math.Float32frombits(r.Uint32()))
	}
	for range 1 << 14 { // near float16's range and its subnormals
		x = append(x, float32(r.NormFloat64()*math.Ldexp(1, r.IntN(44)-28)))
	}
	for i, v := range x {
		want := float16Oracle(v)
		var got [1]uint16
		float16SatGo(got[:], []float32{v})
		if got[0] != want {
			t.Fatalf("x[%d] = %g (%#08x): Go twin %#04x, oracle %#04x", i, v, math.Float32bits(v), got[0], want)
		}
	}
	for _, n := range append(lengths, len(x)) {
		in := x[:min(n, len(x))]
		if n > len(x) {
			continue
		}
		var outs [][]uint16
		var counts []int
		for _, k := range twins() {
			with(k, func() {
				d := make([]uint16, len(in)+1)
				d[len(in)] = 0xABCD
				counts = append(counts, Float16Sat(d[:len(in)], in))
				if d[len(in)] != 0xABCD {
					t.Fatalf("%s n=%d: wrote past dst", k.name, n)
				}
				outs = append(outs, d[:len(in)])
			})
		}
		for k := 1; k < len(outs); k++ {
			if counts[k] != counts[0] {
				t.Fatalf("n=%d: %s saturated %d, go %d", n, twins()[k].name, counts[k], counts[0])
			}
			for i := range outs[0] {
				if outs[k][i] != outs[0][i] {
					t.Fatalf("n=%d: x[%d] = %g (%#08x): %s %#04x, go %#04x", n, i, in[i], math.Float32bits(in[i]), twins()[k].name, outs[k][i], outs[0][i])
				}
			}
		}
	}
	if len(twins()) < 2 {
		t.Log("only the Go twin on this machine")
	}
}

func TestFloat16SatCounts(t *testing.T) {
	x := []float32{65504, 65505, -70000, float32(math.Inf(1)), float32(math.NaN()), 1e38, 0, -65519, 65520, 1, 2, 3}
	d := make([]uint16, len(x))
	if n := Float16Sat(d, x); n != 5 {
		t.Fatalf("saturated %d, want 5 (65505, -70000, 1e38, -65519, 65520)", n)
	}
	want := []uint16{0x7BFF, 0x7BFF, 0xFBFF, 0x7C00, 0x7E00, 0x7BFF, 0, 0xFBFF, 0x7BFF, 0x3C00, 0x4000, 0x4200}
	for i := range want {
		if d[i] != want[i] {
			t.Errorf("x[%d] = %g: %#04x, want %#04x", i, x[i], d[i], want[i])
		}
	}
}

func TestBlockQuantI4Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	edges := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		0.5, 1.5, 2.5, -0.5, -2.5, 7.5, -8.5, 6.5, 100, -100, math.SmallestNonzeroFloat32, math.MaxFloat32}
	n := 4099
	x, s := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 3)
		s[i] = float32(math.Abs(r.NormFloat64())/7) + 1e-3
		switch {
		case i < len(edges)*len(edges): // every edge over every edge scale
			x[i], s[i] = edges[i/len(edges)], edges[i%len(edges)]
		case i%7 == 0: // exact ties: x = (k + 0.5)·s
			x[i] = (float32(r.IntN(20)-10) + 0.5) * s[i]
		case i%11 == 0:
			x[i], s[i] = math.Float32frombits(r.Uint32()), math.Float32frombits(r.Uint32())
		}
	}
	want := make([]int8, n)
	blockQuantI4Go(want, x, s)
	for _, m := range append(lengths, n) {
		for _, k := range twins() {
			with(k, func() {
				d := make([]int8, m+1)
				d[m] = 99
				BlockQuantI4(d[:m], x[:m], s[:m])
				if d[m] != 99 {
					t.Fatalf("%s n=%d: wrote past dst", k.name, m)
				}
				for i := range m {
					if d[i] != want[i] {
						t.Fatalf("%s n=%d: x=%g s=%g → %d, Go twin %d", k.name, m, x[i], s[i], d[i], want[i])
					}
				}
			})
		}
	}
}

// TestMaxAbsTwins: MaxAbs at every level gives the Go twin's bits: NaN
// payloads on either side (b's when both are NaN), ±0, infinities,
// subnormals, every length around the vector widths.
func TestMaxAbsTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	edges := []float32{0, float32(math.Copysign(0, -1)), math.Float32frombits(0x7FC00001), math.Float32frombits(0xFFC00002),
		math.Float32frombits(0x7F800003), float32(math.Inf(1)), float32(math.Inf(-1)), 1, -1, 2.5, -2.5,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32}
	n := 4099
	a, b := make([]float32, n), make([]float32, n)
	for i := range a {
		a[i], b[i] = float32(math.Abs(r.NormFloat64())), float32(r.NormFloat64())
		switch {
		case i < len(edges)*len(edges): // every edge against every edge
			a[i], b[i] = edges[i/len(edges)], edges[i%len(edges)]
		case i%7 == 0: // equal magnitudes
			a[i] = float32(math.Abs(float64(b[i])))
		case i%11 == 0:
			a[i], b[i] = math.Float32frombits(r.Uint32()), math.Float32frombits(r.Uint32())
		}
	}
	want := make([]float32, n)
	maxAbsGo(want, a, b)
	nan := 0
	for i := range want {
		if want[i] != want[i] {
			nan++
		}
	}
	if nan == 0 {
		t.Fatal("no NaN among the Go twin's results: the NaN cases are not exercised")
	}
	for _, m := range append(lengths, n) {
		for _, k := range twins() {
			with(k, func() {
				d := make([]float32, m+1)
				d[m] = 99
				MaxAbs(d[:m], a[:m], b[:m])
				if d[m] != 99 {
					t.Fatalf("%s n=%d: wrote past dst", k.name, m)
				}
				for i := range m {
					if math.Float32bits(d[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s n=%d: max(%#x, |%#x|) = %#x, Go twin %#x", k.name, m,
							math.Float32bits(a[i]), math.Float32bits(b[i]), math.Float32bits(d[i]), math.Float32bits(want[i]))
					}
				}
			})
		}
	}
	// In place, as int4's scales use it (dst is a).
	for _, k := range twins() {
		with(k, func() {
			d := append([]float32(nil), a...)
			MaxAbs(d, d, b)
			for i := range d {
				if math.Float32bits(d[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s in place: element %d differs from the Go twin", k.name, i)
				}
			}
		})
	}
}

// TestFloat16sTwins checks Float16s against Float16 element by element and
// FromFloat16s against an independent decoding of every float16 bit
// pattern, at every level, with the tails and lengths of the twin tests.
func TestFloat16sTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 19))
	x := float16Edges()
	for range 1 << 14 {
		x = append(x, math.Float32frombits(r.Uint32()), float32(r.NormFloat64()*math.Ldexp(1, r.IntN(44)-28)))
	}
	h := make([]uint16, 1<<16)
	for i := range h {
		h[i] = uint16(i)
	}
	decode := func(b uint16) uint32 { // float64 arithmetic, then float32 bits
		sign := uint32(b>>15) << 31
		e, m := int(b>>10&0x1F), uint32(b&0x3FF)
		switch {
		case e == 0x1F && m != 0:
			return sign | 0x7FC00000 | m<<13
		case e == 0x1F:
			return sign | 0x7F800000
		case e == 0:
			return sign | math.Float32bits(float32(float64(m)*0x1p-24))
		}
		return sign | math.Float32bits(float32((1+float64(m)/1024)*math.Ldexp(1, e-15)))
	}
	for _, k := range twins() {
		with(k, func() {
			for _, n := range append(lengths, len(x)) {
				in := x[:min(n, len(x))]
				d := make([]uint16, len(in)+1)
				d[len(in)] = 0xABCD
				Float16s(d[:len(in)], in)
				if d[len(in)] != 0xABCD {
					t.Fatalf("%s n=%d: Float16s wrote past dst", k.name, n)
				}
				for i, v := range in {
					if d[i] != Float16(v) {
						t.Fatalf("%s: Float16s(%g = %#08x) = %#04x, Float16 %#04x", k.name, v, math.Float32bits(v), d[i], Float16(v))
					}
				}
			}
			for _, n := range append(lengths, len(h)) {
				in := h[:min(n, len(h))]
				f := make([]float32, len(in)+1)
				f[len(in)] = 7
				FromFloat16s(f[:len(in)], in)
				if f[len(in)] != 7 {
					t.Fatalf("%s n=%d: FromFloat16s wrote past dst", k.name, n)
				}
				for i, b := range in {
					if got := math.Float32bits(f[i]); got != decode(b) || math.Float32bits(FromFloat16(b)) != decode(b) {
						t.Fatalf("%s: float16 %#04x → %#08x (FromFloat16 %#08x), want %#08x", k.name, b, got, math.Float32bits(FromFloat16(b)), decode(b))
					}
				}
			}
		})
	}
}

// TestBlockQuantI4RowsTwins: BlockQuantI4Rows at every level gives what
// MaxAbs, the scale's rule and BlockQuantI4 give, packed two to a byte:
// blocks of 1 to 33 rows, column counts around the vector width, exact
// ties (x = (k+½)·s), NaN and infinite values and random bit patterns
// (NaN scales, huge and subnormal ones), all-zero columns.
func TestBlockQuantI4RowsTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	edges := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32, 1e-40}
	for _, rows := range []int{1, 2, 7, 32, 33} {
		for _, cols := range []int{2, 6, 8, 10, 16, 24, 30, 64, 130} {
			x := make([]float32, rows*cols)
			for i := range x {
				j := i % cols
				switch {
				case j%5 == 1: // ties: the column's max 7·0.19140625 makes s 0.19140625, and x·(1/s) misses most ties
					x[i] = (float32(r.IntN(15)-7) + 0.5) * 0.19140625
					if i/cols == 0 {
						x[i] = -7 * 0.19140625
					}
				case j%5 == 2 && r.IntN(3) == 0:
					x[i] = edges[r.IntN(len(edges))]
				case j%5 == 3 && r.IntN(4) == 0:
					x[i] = math.Float32frombits(r.Uint32())
				case j%5 == 4 && cols > 8:
					x[i] = 0 // a column of zeros: scale 1
				default:
					x[i] = float32(r.NormFloat64())
				}
			}
			// The reference: the scales from MaxAbs, then BlockQuantI4.
			wantS := make([]float32, cols)
			for k := range rows {
				maxAbsGo(wantS, wantS, x[k*cols:(k+1)*cols])
			}
			for j, a := range wantS {
				if wantS[j] = float32(float64(a) / 7); wantS[j] == 0 {
					wantS[j] = 1
				}
			}
			q := make([]int8, rows*cols)
			for k := range rows {
				blockQuantI4Go(q[k*cols:(k+1)*cols], x[k*cols:(k+1)*cols], wantS)
			}
			want := make([]byte, rows*cols/2)
			for i := range want {
				want[i] = byte(q[2*i])&0xF | byte(q[2*i+1])<<4
			}
			for _, k := range twins() {
				with(k, func() {
					d, s := make([]byte, len(want)+1), make([]float32, cols+1)
					d[len(want)], s[cols] = 99, 99
					BlockQuantI4Rows(d[:len(want)], s[:cols], x, rows, cols)
					if d[len(want)] != 99 || s[cols] != 99 {
						t.Fatalf("%s %d×%d: wrote past dst or s", k.name, rows, cols)
					}
					for j := range cols {
						if math.Float32bits(s[j]) != math.Float32bits(wantS[j]) {
							t.Fatalf("%s %d×%d: scale %d %#x, want %#x", k.name, rows, cols, j, math.Float32bits(s[j]), math.Float32bits(wantS[j]))
						}
					}
					for i := range want {
						if d[i] != want[i] {
							t.Fatalf("%s %d×%d: byte %d (x %g, %g; s %g, %g) = %#02x, want %#02x", k.name, rows, cols, i,
								x[2*i], x[2*i+1], wantS[2*i%cols], wantS[(2*i+1)%cols], d[i], want[i])
						}
					}
				})
			}
		}
	}
}
