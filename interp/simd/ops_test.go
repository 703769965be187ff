package simd

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
)

// Lengths that exercise the unrolled loop, the single-vector loop and every
// masked tail.
var lengths = []int{0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 1031}

// compareTwins runs f against each kernel set and checks that the assembly
// twin matches the Go twin within tol (relative) + absTol, NaN only NaN.
func compareTwins(t *testing.T, name string, tol, absTol float64, f func() []float32) {
	t.Helper()
	var outs [][]float32
	for _, k := range twins() {
		with(k, func() { outs = append(outs, append([]float32(nil), f()...)) })
	}
	for i := 1; i < len(outs); i++ {
		if msg := testutil.Mismatch(outs[i], outs[0], absTol, tol, -1); msg != "" {
			t.Fatalf("%s: asm vs go (rtol %g, atol %g): %s", name, tol, absTol, msg)
		}
	}
}

func TestElementwiseTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	inf := float32(math.Inf(1))
	for _, n := range lengths {
		a, b := randSlice(r, n+3), randSlice(r, n+3)
		for i := range a {
			a[i] *= 4
		}
		if n > 4 {
			a[n-1], a[0] = float32(math.NaN()), float32(math.Copysign(0, -1))
		}
		dst := func() []float32 {
			d := make([]float32, n+2)
			for i := range d {
				d[i] = 42 // sentinel past n must survive
			}
			return d
		}
		check := func(name string, tol float64, f func(d []float32)) {
			absTol := 1e-30
			switch name {
			case "LayerNorm", "LayerNormNil", "LogSoftmax", "Axpy", "ScaleShift", "ScaleShiftClip", "ScaleShiftClipExact", "Gelu":
				absTol = 1e-5 // outputs near zero come from cancellation (and FMA vs not)
			}
			compareTwins(t, name, tol, absTol, func() []float32 {
				d := dst()
				f(d[:n])
				if d[n] != 42 || d[n+1] != 42 {
					t.Fatalf("%s n=%d: wrote past dst", name, n)
				}
				return d
			})
		}
		check("Add", 0, func(d []float32) { Add(d, a, b) })
		check("Sub", 0, func(d []float32) { Sub(d, a, b) })
		check("Mul", 0, func(d []float32) { Mul(d, a, b) })
		check("Div", 0, func(d []float32) { Div(d, a, b) })
		check("DivScalar", 0, func(d []float32) { DivScalar(d, a, 0.37) })
		check("ScalarDiv", 0, func(d []float32) { ScalarDiv(d, b, -2.5) })
		check("QuantizeU8", 0, func(d []float32) {
			q := make([]uint8, len(d))
			QuantizeU8(q, a, 0.05, 17)
			for i, v := range q {
				d[i] = float32(v)
			}
		})
		check("QuantizeI8", 0, func(d []float32) {
			q := make([]int8, len(d))
			QuantizeI8(q, a, 0.03, -3)
			for i, v := range q {
				d[i] = float32(v)
			}
		})
		check("DequantizeU8", 0, func(d []float32) {
			q := make([]uint8, len(d))
			for i := range q {
				q[i] = uint8(i * 37)
			}
			DequantizeU8(d, q, 13, 0.021)
		})
		check("DequantizeI8", 0, func(d []float32) {
			q := make([]int8, len(d))
			for i := range q {
				q[i] = int8(i * 37)
			}
			DequantizeI8(d, q, -5, 0.021)
		})
		check("MaxSkipNaN", 0, func(d []float32) { MaxSkipNaN(d, a, b) })
		check("Axpy", 1e-6, func(d []float32) { copy(d, b); Axpy(d, a, 0.3) })
		check("ScaleShift", 1e-6, func(d []float32) { ScaleShift(d, a, 1.7, -0.25) })
		check("Relu", 0, func(d []float32) { Relu(d, a) })
		check("PRelu", 0, func(d []float32) { PRelu(d, a, b) })
		check("Leaky", 0, func(d []float32) { Leaky(d, a, 0.1) })
		check("BiasRelu", 0, func(d []float32) { BiasRelu(d, a, 0.5) })
		check("Clip", 0, func(d []float32) { Clip(d, a, 0, 6) })
		check("ScaleShiftClip", 1e-6, func(d []float32) { ScaleShiftClip(d, a, 1.7, -0.25, 0, 6) })
		check("ScaleShiftClipExact", 1e-6, func(d []float32) {
			ScaleShiftClip(d, a, 1.7, -0.25, -1, 6)
			dd := make([]float32, len(d))
			ScaleShift(dd, a, 1.7, -0.25)
			Clip(dd, dd, -1, 6)
			for i := range d {
				if math.Float32bits(d[i]) != math.Float32bits(dd[i]) {
					t.Fatalf("ScaleShiftClip[%d] = %v, ScaleShift then Clip %v", i, d[i], dd[i])
				}
			}
		})
		check("AddScalar", 0, func(d []float32) { AddScalar(d, a, -inf) })
		check("Exp", 4e-7, func(d []float32) { Exp(d, a) })
		check("Sigmoid", 4e-7, func(d []float32) { Sigmoid(d, a) })
		check("Tanh", 4e-7, func(d []float32) { Tanh(d, a) })
		check("Erf", 4e-7, func(d []float32) { Erf(d, a) })
		check("Gelu", 1e-6, func(d []float32) { Gelu(d, a) })
		check("InPlace", 4e-7, func(d []float32) { copy(d, a); Exp(d, d) })
		clean := b[:n]
		check("Sum", 1e-5, func(d []float32) {
			if n > 0 {
				d[0] = Sum(clean)
			}
		})
		check("Dot", 1e-4, func(d []float32) {
			if n > 0 {
				d[0] = Dot(clean, b[1:n+1])
			}
		})
		check("Max", 0, func(d []float32) {
			if n > 0 {
				d[0] = Max(clean)
			}
		})
		check("Softmax", 1e-6, func(d []float32) { Softmax(d, b) })
		check("LogSoftmax", 1e-5, func(d []float32) { LogSoftmax(d, b) })
		check("LayerNorm", 1e-5, func(d []float32) { LayerNorm(d, b, a[3:], b[1:], 1e-5) })
		check("LayerNormNil", 1e-5, func(d []float32) { LayerNorm(d, b, nil, nil, 1e-5) })
	}
}

// TestReductionsExact checks sums, maxima, softmax and layer norm against
// float64 references.
func TestReductionsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, k := range twins() {
		with(k, func() {
			for _, n := range lengths[1:] {
				x := randSlice(r, n)
				var s, m float64 = 0, math.Inf(-1)
				for _, v := range x {
					s += float64(v)
					m = math.Max(m, float64(v))
				}
				if got := Sum(x); !testutil.Close(float64(got), s, 1e-5*float64(n), 0) {
					t.Errorf("%s Sum n=%d: %v want %v", k.name, n, got, s)
				}
				if got := Max(x); float64(got) != m {
					t.Errorf("%s Max n=%d: %v want %v", k.name, n, got, m)
				}
				lo := math.Inf(1)
				for _, v := range x {
					lo = math.Min(lo, float64(v))
				}
				if gl, gh := MinMax(x); float64(gl) != lo || float64(gh) != m {
					t.Errorf("%s MinMax n=%d: %v, %v want %v, %v", k.name, n, gl, gh, lo, m)
				}
				y := randSlice(r, n)
				var d, dmag float64
				for i := range x {
					d += float64(x[i]) * float64(y[i])
					dmag += math.Abs(float64(x[i]) * float64(y[i]))
				}
				if got := Dot(x, y); !testutil.Close(float64(got), d, 1e-6*dmag+1e-7, 0) {
					t.Errorf("%s Dot n=%d: %v want %v", k.name, n, got, d)
				}
				sm := make([]float32, n)
				Softmax(sm, x)
				var z float64
				for _, v := range x {
					z += math.Exp(float64(v) - m)
				}
				for i, v := range x {
					want := math.Exp(float64(v)-m) / z
					if !testutil.Close(float64(sm[i]), want, 1e-12, 1e-6) {
						t.Fatalf("%s Softmax n=%d [%d]: %v want %v", k.name, n, i, sm[i], want)
					}
				}
				ls := make([]float32, n)
				copy(ls, x)
				LogSoftmax(ls, ls)
				for i, v := range x {
					want := float64(v) - m - math.Log(z)
					if !testutil.Close(float64(ls[i]), want, 1e-5, 1e-5) {
						t.Fatalf("%s LogSoftmax n=%d [%d]: %v want %v", k.name, n, i, ls[i], want)
					}
				}
				ln := make([]float32, n)
				mean, _ := LayerNorm(ln, x, nil, nil, 1e-5)
				var v2 float64
				for _, v := range x {
					v2 += (float64(v) - s/float64(n)) * (float64(v) - s/float64(n))
				}
				rs := 1 / math.Sqrt(v2/float64(n)+1e-5)
				if !testutil.Close(float64(mean), s/float64(n), 1e-6, 0) {
					t.Fatalf("%s LayerNorm mean: %v want %v", k.name, mean, s/float64(n))
				}
				for i, v := range x {
					want := (float64(v) - s/float64(n)) * rs
					if !testutil.Close(float64(ln[i]), want, 2e-5, 2e-5) {
						t.Fatalf("%s LayerNorm n=%d [%d]: %v want %v", k.name, n, i, ln[i], want)
					}
				}
			}
		})
	}
	if lo, hi := MinMax(nil); Max(nil) != float32(math.Inf(-1)) || Sum(nil) != 0 || lo != float32(math.Inf(1)) || hi != float32(math.Inf(-1)) {
		t.Error("empty reductions")
	}
}

// maxErr sweeps f over [lo, hi] (n points plus their float32 neighbours)
// against the float64 reference and returns the largest relative error
// (where |ref| ≥ relFloor) and the largest absolute error.
func maxErr(f func(dst, x []float32), ref func(float64) float64, lo, hi float64, relFloor float64) (rel, abs float64, worst float32) {
	const n = 1 << 20
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*float64(i)/(n-1))
	}
	y := make([]float32, n)
	f(y, x)
	for i, v := range x {
		want := ref(float64(v))
		d := math.Abs(float64(y[i]) - want)
		if math.IsNaN(d) && !math.IsNaN(want) {
			// A NaN output is an infinite error, not one that > skips.
			return math.Inf(1), math.Inf(1), v
		}
		if d > abs {
			abs = d
		}
		if math.Abs(want) >= relFloor {
			if r := d / math.Abs(want); r > rel {
				rel, worst = r, v
			}
		}
	}
	return rel, abs, worst
}

// TestActivationError measures the polynomial approximations against
// float64 math and holds them to the bounds in the doc comments.
func TestActivationError(t *testing.T) {
	gelu := func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	cases := []struct {
		name           string
		f              func(dst, x []float32)
		ref            func(float64) float64
		lo, hi         float64
		relFloor       float64
		maxRel, maxAbs float64
	}{
		{"Exp", Exp, math.Exp, -87, 88.7, 0, 1.2e-7, math.Inf(1)},
		{"ExpSubnormal", Exp, math.Exp, -103, -87, 0x1p-126, 1.2e-7, 1.5e-45},
		{"Sigmoid", Sigmoid, sig, -80, 80, 0, 2e-7, 1e-7},
		{"Tanh", Tanh, math.Tanh, -12, 12, 0, 4e-7, 4e-7},
		{"TanhSmall", Tanh, math.Tanh, -1e-3, 1e-3, 0, 3e-7, 1e-9},
		{"Erf", Erf, math.Erf, -6, 6, 0, 5e-7, 5e-7},
		{"ErfSmall", Erf, math.Erf, -1e-3, 1e-3, 0, 3e-7, 1e-9},
		{"Gelu", Gelu, gelu, -12, 12, math.Inf(1), 0, 2e-6},
		{"GeluRel", Gelu, gelu, -2, 12, 0.01, 5e-6, 2e-6},
	}
	for _, k := range twins() {
		with(k, func() {
			for _, c := range cases {
				rel, abs, worst := maxErr(c.f, c.ref, c.lo, c.hi, c.relFloor)
				t.Logf("%-4s %-12s [%g, %g]: max rel %.3g (at %g), max abs %.3g", k.name, c.name, c.lo, c.hi, rel, worst, abs)
				if rel > c.maxRel || abs > c.maxAbs {
					t.Errorf("%s %s: rel %.3g (bound %.3g), abs %.3g (bound %.3g)", k.name, c.name, rel, c.maxRel, abs, c.maxAbs)
				}
			}
			// Special values.
			in := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0, 89, -104, 9, -9}
			out := make([]float32, len(in))
			Exp(out, in)
			if !math.IsInf(float64(out[0]), 1) || out[1] != 0 || out[2] == out[2] || out[3] != 1 || !math.IsInf(float64(out[4]), 1) || out[5] != 0 {
				t.Errorf("%s Exp specials: %v", k.name, out)
			}
			Tanh(out, in)
			if out[0] != 1 || out[1] != -1 || out[2] == out[2] || out[3] != 0 || out[6] != 1 || out[7] != -1 {
				t.Errorf("%s Tanh specials: %v", k.name, out)
			}
			Erf(out, in)
			if out[0] != 1 || out[1] != -1 || out[2] == out[2] || out[3] != 0 || out[6] != 1 || out[7] != -1 {
				t.Errorf("%s Erf specials: %v", k.name, out)
			}
			Sigmoid(out, in)
			if out[0] != 1 || out[1] != 0 || out[2] == out[2] || out[3] != 0.5 {
				t.Errorf("%s Sigmoid specials: %v", k.name, out)
			}
		})
	}
}

// TestPReluSpecials: NaN and -0 pass through PRelu unchanged at every level.
func TestPReluSpecials(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	x := []float32{float32(math.NaN()), negZero, -2, 3, float32(math.Inf(-1)), -1, 1, 0, -4}
	s := []float32{2, 2, 0.5, 0.5, 0, 3, 3, 3, 0.25}
	for _, k := range twins() {
		with(k, func() {
			d := make([]float32, len(x))
			PRelu(d, x, s)
			want := []float32{float32(math.NaN()), negZero, -1, 3, float32(math.NaN()), -3, 1, 0, -1}
			for i := range d {
				if math.Float32bits(d[i]) != math.Float32bits(want[i]) && !(d[i] != d[i] && want[i] != want[i]) {
					t.Fatalf("%s: PRelu(%v, %v) = %v, want %v", k.name, x[i], s[i], d[i], want[i])
				}
			}
		})
	}
}

// TestEvens checks Evens at every level against the definition for
// lengths around the kernel's blocks of eight, src exactly 2n−1 floats
// long (the kernel must not read past it).
func TestEvens(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	for _, k := range twins() {
		with(k, func() {
			for n := 1; n <= 41; n++ {
				src := randSlice(r, 2*n-1)
				dst := randSlice(r, n)
				Evens(dst, src)
				for i := range dst {
					if math.Float32bits(dst[i]) != math.Float32bits(src[2*i]) {
						t.Fatalf("%s n=%d: dst[%d] = %v, want %v", k.name, n, i, dst[i], src[2*i])
					}
				}
			}
		})
	}
}
