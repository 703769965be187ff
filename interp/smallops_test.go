package interp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func randFloats(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * 3)
	}
	return v
}

// TestArithRepeatingOperand checks arithF32's tiled path for an operand
// that broadcasts over leading dimensions (short periods, either side,
// more elements than one tile, NaN and Inf included) against Binary's
// element-by-element definition, bit for bit.
func TestArithRepeatingOperand(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct{ a, b []int }{
		{[]int{1, 4420, 2}, []int{2}},
		{[]int{1, 4420, 2}, []int{1, 1, 2}},
		{[]int{700, 3}, []int{3}},
		{[]int{3}, []int{5, 3}},
		{[]int{2, 3, 5}, []int{3, 5}},
		{[]int{5, 1}, []int{5, 1}},
		{[]int{1, 7}, []int{9, 1, 7}},
		{[]int{6, 4, 4}, []int{4, 1}}, // not repeating: the row path
	}
	ops := map[byte]func(x, y float32) float32{
		'+': func(x, y float32) float32 { return x + y },
		'-': func(x, y float32) float32 { return x - y },
		'*': func(x, y float32) float32 { return x * y },
		'/': func(x, y float32) float32 { return x / y },
	}
	for _, c := range cases {
		for op, f := range ops {
			a := FromSlice(onnx.Float, c.a, randFloats(r, numElements(c.a)))
			b := FromSlice(onnx.Float, c.b, randFloats(r, numElements(c.b)))
			a.Floats()[0] = float32(math.NaN())
			b.Floats()[len(b.Floats())-1] = float32(math.Inf(-1))
			want, err := Binary(testCtx(), onnx.Float, a, b, f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := arithF32(testCtx(), op, a, b)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%v %c %v", c.a, op, c.b)
			if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
				t.Fatalf("%s: shape %v, want %v", name, got.Shape, want.Shape)
			}
			for i, w := range want.Floats() {
				if g := got.Floats()[i]; math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
					t.Fatalf("%s: element %d is %v, want %v", name, i, g, w)
				}
			}
		}
	}
}

// TestSoftmaxShortAndStrided checks softmaxRows on short rows and strided
// vectors (the passes across rows) against the float64 definition.
func TestSoftmaxShortAndStrided(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range [][3]int{{4420, 2, 1}, {300, 1, 1}, {700, 3, 1}, {5, 15, 1}, {2, 40, 1}, {3, 5, 7}, {1, 2, 300}, {2, 21, 9}} {
		outer, dim, inner := c[0], c[1], c[2]
		x := randFloats(r, outer*dim*inner)
		x[0] = 80 // exp would overflow without the max shift
		for _, kind := range []softmaxKind{softmax, logSoftmax} {
			y := make([]float32, len(x))
			softmaxRows(kind, x, y, outer, dim, inner)
			for o := 0; o < outer; o++ {
				for in := 0; in < inner; in++ {
					at := func(k int) int { return (o*dim+k)*inner + in }
					m := math.Inf(-1)
					for k := 0; k < dim; k++ {
						m = max(m, float64(x[at(k)]))
					}
					var s float64
					for k := 0; k < dim; k++ {
						s += math.Exp(float64(x[at(k)]) - m)
					}
					for k := 0; k < dim; k++ {
						want := math.Exp(float64(x[at(k)])-m) / s
						tol := 2e-6*want + 1e-7
						if kind == logSoftmax {
							want = float64(x[at(k)]) - m - math.Log(s)
							tol = 2e-6 * max(1, math.Abs(want))
						}
						if g := float64(y[at(k)]); !(math.Abs(g-want) <= tol) {
							t.Fatalf("kind %d %v: element %d is %v, want %v", kind, c, at(k), g, want)
						}
					}
				}
			}
		}
	}
}

// TestStridedCopyShortRows checks stridedCopy (short rows, broadcast
// reads, negative steps, ranks 1 to 4) against index-by-index copying.
func TestStridedCopyShortRows(t *testing.T) {
	cases := []struct {
		shape []int
		sOff  int
		sSt   []int
	}{
		{[]int{4420, 2}, 0, []int{4, 1}},
		{[]int{4420, 2}, 2, []int{4, 1}},
		{[]int{3, 5, 2}, 1, []int{10, 2, -1}},
		{[]int{7}, 6, []int{-1}},
		{[]int{2, 3, 4, 3}, 0, []int{36, 1, 9, 3}}, // a transpose
		{[]int{5, 3}, 0, []int{1, 0}},              // broadcast along rows
		{[]int{2, 12, 9}, 0, []int{108, 9, 1}},
		{[]int{}, 3, []int{}},
	}
	for _, c := range cases {
		src := make([]int64, 4420*4)
		for i := range src {
			src[i] = int64(i)
		}
		n := numElements(c.shape)
		dst := make([]int64, n)
		stridedCopy(dst, src, c.shape, 0, contiguousStrides(c.shape), c.sOff, c.sSt)
		idx := make([]int, len(c.shape))
		for i := 0; i < n; i++ {
			o := c.sOff
			for d, v := range idx {
				o += v * c.sSt[d]
			}
			if dst[i] != src[o] {
				t.Fatalf("%v strides %v: element %d is %d, want %d", c.shape, c.sSt, i, dst[i], src[o])
			}
			for d := len(idx) - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < c.shape[d] {
					break
				}
				idx[d] = 0
			}
		}
	}
}

// TestReduceMiddleAxes checks ReduceSum/ReduceMean of float32 over a run of
// axes with kept axes after it (the vector row path) against the float64
// definition, NaN and Inf included, and that other axis sets keep working.
func TestReduceMiddleAxes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		shape []int
		axes  []int64
	}{
		{[]int{1, 128, 256}, []int64{1}},
		{[]int{3, 5, 7, 9}, []int64{1, 2}},
		{[]int{4, 33, 17}, []int64{-2}},
		{[]int{6, 2, 8}, []int64{0, 1}},
		{[]int{2, 3, 4, 5}, []int64{1, 3}}, // not one run: the general path
		{[]int{9, 4}, []int64{1}},          // trailing: the row path
	}
	for _, c := range cases {
		for _, op := range []string{"ReduceSum", "ReduceMean"} {
			for _, keep := range []bool{false, true} {
				v := randFloats(r, numElements(c.shape))
				v[len(v)/2] = float32(math.NaN())
				v[1] = float32(math.Inf(1))
				x := FromSlice(onnx.Float, c.shape, v)
				got, err := reduce(testCtx(), op, x, c.axes, keep, false)
				if err != nil {
					t.Fatal(err)
				}
				p, err := planReduce(c.shape, c.axes, keep)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]float64, p.outLen)
				p.each(c.shape, func(i, o int) { want[o] += float64(v[i]) })
				name := fmt.Sprintf("%s %v axes %v keepdims %v", op, c.shape, c.axes, keep)
				if fmt.Sprint(got.Shape) != fmt.Sprint(p.outShape) {
					t.Fatalf("%s: shape %v, want %v", name, got.Shape, p.outShape)
				}
				for o, w := range want {
					if op == "ReduceMean" {
						w /= float64(p.count)
					}
					g := float64(got.Floats()[o])
					if math.IsNaN(w) || math.IsInf(w, 0) {
						if !(math.IsNaN(w) && math.IsNaN(g)) && g != w {
							t.Fatalf("%s: out[%d] = %v, want %v", name, o, g, w)
						}
						continue
					}
					if d := math.Abs(g - w); !(d <= 1e-5*(1+math.Abs(w))*float64(p.count)) {
						t.Fatalf("%s: out[%d] = %v, want %v", name, o, g, w)
					}
				}
			}
		}
	}
}

// TestBroadcastCoalesced checks forEachRow's walk, whose dimensions
// coalesce (size-1 ones dropped, runs an operand reads as one merged),
// against index arithmetic per element: Broadcast of random shapes with
// 1s anywhere, and arithF32 on a per-channel and a middle-axis operand.
func TestBroadcastCoalesced(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 300; trial++ {
		rank := 1 + r.IntN(5)
		out := make([]int, rank)
		in := make([]int, rank)
		for d := range out {
			out[d] = 1 + r.IntN(4)
			in[d] = out[d]
			if r.IntN(2) == 0 {
				in[d] = 1
			}
		}
		in = in[r.IntN(rank):] // a shorter rank, right-aligned
		x := FromSlice(onnx.Float, in, randFloats(r, numElements(in)))
		got := Broadcast[float32](testCtx(), x, out).Floats()
		st := broadcastStrides(in, out)
		idx := make([]int, rank)
		for o := range got {
			unflatten(o, out, idx)
			off := 0
			for d, i := range idx {
				off += i * st[d]
			}
			if got[o] != x.Floats()[off] {
				t.Fatalf("%v to %v: element %d is %v, want %v", in, out, o, got[o], x.Floats()[off])
			}
		}
	}
	for _, c := range []struct{ a, b []int }{{[]int{1, 6, 5, 7}, []int{1, 6, 1, 1}}, {[]int{4, 6, 5}, []int{6, 1}}, {[]int{3, 1, 5}, []int{3, 4, 1}}} {
		a := FromSlice(onnx.Float, c.a, randFloats(r, numElements(c.a)))
		b := FromSlice(onnx.Float, c.b, randFloats(r, numElements(c.b)))
		got, err := arithF32(testCtx(), '*', a, b)
		if err != nil {
			t.Fatal(err)
		}
		sa, sb := broadcastStrides(c.a, got.Shape), broadcastStrides(c.b, got.Shape)
		idx := make([]int, len(got.Shape))
		for o, g := range got.Floats() {
			unflatten(o, got.Shape, idx)
			ia, ib := 0, 0
			for d, i := range idx {
				ia, ib = ia+i*sa[d], ib+i*sb[d]
			}
			if w := a.Floats()[ia] * b.Floats()[ib]; g != w {
				t.Fatalf("%v * %v: element %d is %v, want %v", c.a, c.b, o, g, w)
			}
		}
	}
}
