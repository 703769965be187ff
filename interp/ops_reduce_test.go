package interp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestArgExtreme checks ArgMax and ArgMin along every axis of shapes whose
// inner run is one element, a few, and more than a chunk of columns, with
// ties and NaNs, against a scan of each run in order.
func TestArgExtreme(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, shape := range [][]int{{7, 300}, {3, 5, 300}, {2, 9, 1}, {1}, {4, 600, 3}} {
		n := numElements(shape)
		f := make([]float32, n)
		for i := range f {
			f[i] = float32(rng.IntN(5)) // ties
			if rng.IntN(9) == 0 {
				f[i] = float32(math.NaN())
			}
		}
		f[0] = float32(math.NaN()) // a run that starts with NaN keeps index 0
		i64 := make([]int64, n)
		for i := range i64 {
			i64[i] = int64(rng.IntN(4)) - 2
		}
		i64[n-1] = math.MinInt64
		f64 := make([]float64, n)
		for i, x := range f {
			f64[i] = float64(x)
		}
		inputs := []*Tensor{FromSlice(onnx.Float, shape, f), FromSlice(onnx.Int64, shape, i64), FromSlice(onnx.Double, shape, f64)}
		for _, x := range inputs {
			v, err := asFloat64s(x)
			if err != nil {
				t.Fatal(err)
			}
			for axis := range shape {
				for _, op := range []string{"ArgMax", "ArgMin"} {
					for _, last := range []int64{0, 1} {
						got := runOp(t, op, 13, []*onnx.Attribute{onnx.IntAttr("axis", int64(axis)), onnx.IntAttr("select_last_index", last)}, x).Data.([]int64)
						outer, dim, inner := prod(shape[:axis]), shape[axis], prod(shape[axis+1:])
						for o := range outer {
							for in := range inner {
								best, bi := v[o*dim*inner+in], 0
								for k := 1; k < dim; k++ {
									c := v[(o*dim+k)*inner+in]
									if (op == "ArgMax" && c > best) || (op == "ArgMin" && c < best) || (last == 1 && c == best) {
										best, bi = c, k
									}
								}
								if g := got[o*inner+in]; g != int64(bi) {
									t.Fatalf("%s %s%v axis %d last %d: run (%d, %d) gives %d, want %d", op, x.DType, shape, axis, last, o, in, g, bi)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestReduceExtremeF32 checks float32 ReduceMax and ReduceMin on the row
// path (trailing axes), the middle path and the general one against a
// float64 fold with Go's max and min over each output's elements: NaN
// anywhere wins, +0 beats −0 for max (−0 for min), infinities pass.
func TestReduceExtremeF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	shape := []int{4, 6, 10}
	n := numElements(shape)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	negZero := float32(math.Copysign(0, -1))
	// Row 0 (x[0:10]) all zeros of both signs, row 1 a NaN, row 2 all -0,
	// row 3 an infinity; the middle and leading cases see them too.
	for i := 0; i < 10; i++ {
		x[i] = 0
		if i%2 == 1 {
			x[i] = negZero
		}
		x[20+i] = negZero
	}
	x[13] = float32(math.NaN())
	x[34] = float32(math.Inf(1))
	x[35] = float32(math.Inf(-1))
	in := FromSlice(onnx.Float, shape, x)
	for _, axes := range [][]int64{{2}, {1, 2}, {1}, {0}, {0, 2}, {0, 1, 2}} {
		for _, op := range []string{"ReduceMax", "ReduceMin"} {
			got := runOp(t, op, 18, []*onnx.Attribute{onnx.IntAttr("keepdims", 1)}, in, FromSlice(onnx.Int64, []int{len(axes)}, axes)).Floats()
			reduced := make([]bool, 3)
			for _, a := range axes {
				reduced[a] = true
			}
			want := map[int]float64{}
			idx := make([]int, 3)
			for i := range n {
				unflatten(i, shape, idx)
				o := 0
				for d := range 3 {
					if !reduced[d] {
						o = o*shape[d] + idx[d] // keepdims: reduced axes are 1 long
					}
				}
				v := float64(x[i])
				w, seen := want[o]
				switch {
				case !seen:
					want[o] = v
				case op == "ReduceMax":
					want[o] = max(w, v)
				default:
					want[o] = min(w, v)
				}
			}
			for o, w := range want {
				if g := got[o]; math.Float32bits(g) != math.Float32bits(float32(w)) && !(g != g && w != w) {
					t.Fatalf("%s over %v: output %d = %v (%#x), want %v", op, axes, o, g, math.Float32bits(g), w)
				}
			}
		}
	}
}
