package verify

import (
	"math"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

func TestAccumulatorTypes(t *testing.T) {
	tol := DefaultTolerance()
	f16 := func(v ...float32) *interp.Tensor {
		d := make([]uint16, len(v))
		for i, x := range v {
			d[i] = interp.Float32ToFloat16(x)
		}
		return interp.FromSlice(onnx.Float16, []int{len(v)}, d)
	}
	tests := []struct {
		name       string
		a, b       *interp.Tensor
		ok, exact  bool
		worst      []int
		mismatches int64
	}{
		{"float32 equal", interp.FromSlice(onnx.Float, []int{2, 2}, []float32{1, 2, 3, 4}), interp.FromSlice(onnx.Float, []int{2, 2}, []float32{1, 2, 3, 4}), true, false, []int{0, 0}, 0},
		{"float32 off", interp.FromSlice(onnx.Float, []int{2, 2}, []float32{1, 2, 3, 4}), interp.FromSlice(onnx.Float, []int{2, 2}, []float32{1, 2, 3.5, 4}), false, false, []int{1, 0}, 1},
		{"float64 tiny", interp.FromSlice(onnx.Double, []int{3}, []float64{1, 2, 3}), interp.FromSlice(onnx.Double, []int{3}, []float64{1, 2, 3 + 1e-9}), true, false, []int{2}, 0},
		{"float16", f16(1, 2, 3), f16(1, 2, 4), false, false, []int{2}, 1},
		{"int64 exact", interp.FromSlice(onnx.Int64, []int{3}, []int64{1, 2, 3}), interp.FromSlice(onnx.Int64, []int{3}, []int64{1, 2, 3}), true, true, []int{0}, 0},
		{"int64 off by one", interp.FromSlice(onnx.Int64, []int{1, 3}, []int64{1, 2, 3}), interp.FromSlice(onnx.Int64, []int{1, 3}, []int64{1, 2, 4}), false, true, []int{0, 2}, 1},
		{"bool", interp.FromSlice(onnx.Bool, []int{2}, []bool{true, false}), interp.FromSlice(onnx.Bool, []int{2}, []bool{true, true}), false, true, []int{1}, 1},
		{"string", interp.FromSlice(onnx.String, []int{2}, []string{"a", "b"}), interp.FromSlice(onnx.String, []int{2}, []string{"a", "c"}), false, true, []int{1}, 1},
		{"nan both", interp.FromSlice(onnx.Float, []int{2}, []float32{float32(math.NaN()), 1}), interp.FromSlice(onnx.Float, []int{2}, []float32{float32(math.NaN()), 1}), true, false, nil, 0},
		{"nan new", interp.FromSlice(onnx.Float, []int{2}, []float32{0, 1}), interp.FromSlice(onnx.Float, []int{2}, []float32{float32(math.NaN()), 1}), false, false, []int{0}, 1},
		{"shape", interp.FromSlice(onnx.Float, []int{2}, []float32{0, 1}), interp.FromSlice(onnx.Float, []int{1, 2}, []float32{0, 1}), false, false, nil, 0},
		{"dtype", interp.FromSlice(onnx.Float, []int{1}, []float32{1}), interp.FromSlice(onnx.Double, []int{1}, []float64{1}), false, false, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newAcc("y", tol)
			if err := c.add(0, tc.a, tc.b); err != nil {
				t.Fatal(err)
			}
			r := c.report()
			if got := r.failure(tol) == ""; got != tc.ok {
				t.Errorf("ok = %v (%q), want %v", got, r.failure(tol), tc.ok)
			}
			if r.Problem == "" {
				if r.Exact != tc.exact || r.Mismatches != tc.mismatches {
					t.Errorf("exact %v mismatches %d, want %v %d", r.Exact, r.Mismatches, tc.exact, tc.mismatches)
				}
				if tc.worst != nil && !slices.Equal(r.WorstIndex, tc.worst) {
					t.Errorf("worst index %v, want %v", r.WorstIndex, tc.worst)
				}
			}
		})
	}
}

func TestTop1Agreement(t *testing.T) {
	c := newAcc("y", DefaultTolerance())
	a := interp.FromSlice(onnx.Float, []int{2, 3}, []float32{1, 5, 2, 9, 1, 0})
	b := interp.FromSlice(onnx.Float, []int{2, 3}, []float32{1, 5, 2, 0, 1, 9})
	if err := c.add(0, a, b); err != nil {
		t.Fatal(err)
	}
	r := c.report()
	if r.Top1Agreement == nil || *r.Top1Agreement != 0.5 {
		t.Fatalf("top-1 agreement %v, want 0.5", r.Top1Agreement)
	}
	if cos := float64(r.Cosine); cos <= 0 || cos >= 1 {
		t.Errorf("cosine %v", cos)
	}
}

// TestAccumulatorMaps: maps (ZipMap's outputs) match key by key in any
// order, values within the tolerance; a missing key, another key type or a
// different size is a problem, never a pass or a crash.
func TestAccumulatorMaps(t *testing.T) {
	tol := DefaultTolerance()
	m := func(keys []int64, vals ...float32) *interp.Tensor {
		return interp.NewMap(interp.FromSlice(onnx.Int64, []int{len(keys)}, keys), interp.FromSlice(onnx.Float, []int{len(vals)}, vals))
	}
	sm := func(keys []string, vals ...float32) *interp.Tensor {
		return interp.NewMap(interp.FromSlice(onnx.String, []int{len(keys)}, keys), interp.FromSlice(onnx.Float, []int{len(vals)}, vals))
	}
	seq := func(e ...*interp.Tensor) *interp.Tensor {
		return &interp.Tensor{Kind: interp.KindSequence, DType: onnx.Float, Elems: e}
	}
	tests := []struct {
		name       string
		a, b       *interp.Tensor
		ok         bool
		mismatches int64
		problem    bool
	}{
		{"equal", m([]int64{0, 1, 2}, .1, .2, .7), m([]int64{0, 1, 2}, .1, .2, .7), true, 0, false},
		{"reordered keys", m([]int64{0, 1, 2}, .1, .2, .7), m([]int64{2, 0, 1}, .7, .1, .2), true, 0, false},
		{"within tolerance", sm([]string{"a", "b"}, .5, .5), sm([]string{"a", "b"}, .5, .5+1e-6), true, 0, false},
		{"value off", m([]int64{0, 1}, .4, .6), m([]int64{0, 1}, .6, .4), false, 2, false},
		{"reordered value off", m([]int64{0, 1}, .4, .6), m([]int64{1, 0}, .4, .6), false, 2, false},
		{"missing key", m([]int64{0, 1}, .4, .6), m([]int64{0, 2}, .4, .6), false, 0, true},
		{"repeated key", m([]int64{0, 1}, .4, .6), m([]int64{0, 0}, .4, .6), false, 0, true},
		{"more keys", m([]int64{0, 1}, .4, .6), m([]int64{0, 1, 2}, .4, .6, 0), false, 0, true},
		{"key type", m([]int64{0, 1}, .4, .6), sm([]string{"0", "1"}, .4, .6), false, 0, true},
		{"map vs tensor", m([]int64{0}, 1), interp.FromSlice(onnx.Float, []int{1}, []float32{1}), false, 0, true},
		{"malformed", m([]int64{0}, 1), &interp.Tensor{Kind: interp.KindMap, DType: onnx.Float}, false, 0, true},
		{"sequence of maps", seq(m([]int64{0, 1}, .3, .7), m([]int64{0, 1}, .9, .1)), seq(m([]int64{1, 0}, .7, .3), m([]int64{0, 1}, .9, .1)), true, 0, false},
		{"sequence of maps, one off", seq(m([]int64{0, 1}, .3, .7), m([]int64{0, 1}, .9, .1)), seq(m([]int64{0, 1}, .3, .7), m([]int64{0, 1}, .1, .9)), false, 2, false},
		{"sequence lengths", seq(m([]int64{0}, 1), m([]int64{0}, 1)), seq(m([]int64{0}, 1)), false, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newAcc("y", tol)
			if err := c.add(0, tc.a, tc.b); err != nil {
				t.Fatal(err)
			}
			r := c.report()
			if got := r.failure(tol) == ""; got != tc.ok {
				t.Errorf("ok = %v (%q), want %v", got, r.failure(tol), tc.ok)
			}
			if (r.Problem != "") != tc.problem {
				t.Errorf("problem %q, want one: %v", r.Problem, tc.problem)
			}
			if r.Mismatches != tc.mismatches {
				t.Errorf("mismatches %d, want %d", r.Mismatches, tc.mismatches)
			}
		})
	}
}
