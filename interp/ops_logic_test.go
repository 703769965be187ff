package interp

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestWhereBroadcast checks Where's branch-free paths (a mask over a fill
// value, a value under a mask, three full rows, the strided rest) for
// words of every size against a per-element reference, NaN payloads
// included.
func TestWhereBroadcast(t *testing.T) {
	shapes := []struct{ c, x, y []int }{
		{[]int{1, 1, 4, 37}, []int{1, 3, 4, 37}, []int{}}, // attention mask over a fill
		{[]int{2, 1, 37}, []int{}, []int{2, 5, 37}},       // a fill under a mask
		{[]int{3, 37}, []int{3, 37}, []int{3, 37}},        // all full
		{[]int{5, 1}, []int{1, 33}, []int{5, 33}},         // strided
		{[]int{4, 1, 9}, []int{4, 6, 1}, []int{1, 6, 9}},  // everything broadcast
		{[]int{0, 3}, []int{1, 3}, []int{1}},              // empty
	}
	rng := rand.New(rand.NewPCG(1, 2))
	nan := math.Float32frombits(0x7fc0_1234)
	for _, sh := range shapes {
		cv := make([]bool, numElements(sh.c))
		for i := range cv {
			cv[i] = rng.IntN(2) == 1
		}
		c := FromSlice(onnx.Bool, sh.c, cv)
		for _, dt := range []onnx.DataType{onnx.Float, onnx.Double, onnx.Int64, onnx.Int32, onnx.Float16, onnx.Int8, onnx.Bool, onnx.String} {
			x, y := randomWhereInput(rng, dt, sh.x, nan), randomWhereInput(rng, dt, sh.y, nan)
			got := runOp(t, "Where", 16, nil, c, x, y)
			out, err := BroadcastShape(sh.c, sh.x, sh.y)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Shape, out) {
				t.Fatalf("%v %s: shape %v, want %v", sh, dt, got.Shape, out)
			}
			idx := make([]int, len(out))
			for o := range numElements(out) {
				unflatten(o, out, idx)
				src, at := y, broadcastAt(idx, sh.y)
				if cv[broadcastAt(idx, sh.c)] {
					src, at = x, broadcastAt(idx, sh.x)
				}
				if g, w := elementBits(got, o), elementBits(src, at); g != w {
					t.Fatalf("%v %s: element %d is %v, want %v", sh, dt, o, g, w)
				}
			}
		}
	}
}

func randomWhereInput(rng *rand.Rand, dt onnx.DataType, shape []int, nan float32) *Tensor {
	n := numElements(shape)
	switch dt {
	case onnx.Float:
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32() - 0.5
			if i%7 == 3 {
				v[i] = nan
			}
		}
		return FromSlice(dt, shape, v)
	case onnx.Double:
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return FromSlice(dt, shape, v)
	case onnx.Int64:
		v := make([]int64, n)
		for i := range v {
			v[i] = rng.Int64()
		}
		return FromSlice(dt, shape, v)
	case onnx.Int32:
		v := make([]int32, n)
		for i := range v {
			v[i] = rng.Int32() - 1<<30
		}
		return FromSlice(dt, shape, v)
	case onnx.Float16:
		v := make([]uint16, n)
		for i := range v {
			v[i] = uint16(rng.Uint32())
		}
		return FromSlice(dt, shape, v)
	case onnx.Int8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(rng.Uint32())
		}
		return FromSlice(dt, shape, v)
	case onnx.Bool:
		v := make([]bool, n)
		for i := range v {
			v[i] = rng.IntN(2) == 0
		}
		return FromSlice(dt, shape, v)
	default:
		v := make([]string, n)
		for i := range v {
			v[i] = string(rune('a' + rng.IntN(26)))
		}
		return FromSlice(dt, shape, v)
	}
}

// broadcastAt is the flat index in a tensor of shape in of the element
// that output index idx reads (numpy broadcasting, shapes right-aligned).
func broadcastAt(idx, in []int) int {
	off, stride := 0, 1
	for d := len(in) - 1; d >= 0; d-- {
		if i := idx[len(idx)-len(in)+d]; in[d] != 1 {
			off += i * stride
		}
		stride *= in[d]
	}
	return off
}

// elementBits is element i of t as a comparable value: floats by their
// bits, so that NaN payloads count.
func elementBits(t *Tensor, i int) any {
	switch d := t.Data.(type) {
	case []float32:
		return math.Float32bits(d[i])
	case []float64:
		return math.Float64bits(d[i])
	case []int64:
		return d[i]
	case []int32:
		return d[i]
	case []uint16:
		return d[i]
	case []int8:
		return d[i]
	case []bool:
		return d[i]
	case []string:
		return d[i]
	}
	panic("elementBits: " + t.DType.String())
}

// TestCompareFlat checks the comparisons' same-shape and single-value
// loops, Not and Cast from bool against element-wise definitions: float32
// with NaN and ±0, int64, both operand orders.
func TestCompareFlat(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	n := 300
	f := make([]float32, n)
	g := make([]float32, n)
	for i := range f {
		f[i], g[i] = float32(rng.IntN(5)-2), float32(rng.IntN(5)-2)
	}
	f[3], g[4], f[5], g[5] = float32(math.NaN()), float32(math.NaN()), 0, float32(math.Copysign(0, -1))
	i64 := make([]int64, n)
	for i := range i64 {
		i64[i] = int64(rng.IntN(5) - 2)
	}
	ops := map[string]func(x, y float64) bool{
		"Equal": func(x, y float64) bool { return x == y }, "Less": func(x, y float64) bool { return x < y },
		"Greater": func(x, y float64) bool { return x > y }, "LessOrEqual": func(x, y float64) bool { return x <= y },
		"GreaterOrEqual": func(x, y float64) bool { return x >= y },
	}
	for op, want := range ops {
		cases := []struct{ a, b *Tensor }{
			{FromSlice(onnx.Float, []int{3, 100}, f), FromSlice(onnx.Float, []int{3, 100}, g)},
			{FromSlice(onnx.Float, []int{3, 100}, f), FromSlice(onnx.Float, []int{}, []float32{0})},
			{FromSlice(onnx.Float, []int{3, 100}, f), FromSlice(onnx.Float, []int{1}, []float32{float32(math.NaN())})},
			{FromSlice(onnx.Int64, []int{n}, i64), FromSlice(onnx.Int64, []int{1}, []int64{1})},
			{FromSlice(onnx.Float, []int{1}, []float32{1}), FromSlice(onnx.Float, []int{3, 100}, g)}, // the general path
		}
		for ci, c := range cases {
			got := runOp(t, op, 16, nil, c.a, c.b).Data.([]bool)
			av, _ := asFloat64s(c.a)
			bv, _ := asFloat64s(c.b)
			for i, z := range got {
				x, y := av[min(i, len(av)-1)], bv[min(i, len(bv)-1)]
				if z != want(x, y) {
					t.Fatalf("%s case %d [%d]: %v %v gives %v", op, ci, i, x, y, z)
				}
			}
		}
	}
	b := make([]bool, n)
	for i := range b {
		b[i] = rng.IntN(2) == 1
	}
	not := runOp(t, "Not", 1, nil, FromSlice(onnx.Bool, []int{n}, b)).Data.([]bool)
	cast := runOp(t, "Cast", 13, []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Float))}, FromSlice(onnx.Bool, []int{n}, b)).Floats()
	for i, v := range b {
		if not[i] == v || cast[i] != map[bool]float32{false: 0, true: 1}[v] {
			t.Fatalf("[%d] %v: Not %v, Cast %v", i, v, not[i], cast[i])
		}
	}
}
