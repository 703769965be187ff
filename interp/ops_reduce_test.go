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
