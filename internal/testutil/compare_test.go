package testutil

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func TestMismatch(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name      string
		got, want []float32
		bad       bool
	}{
		{"equal", []float32{1, 2}, []float32{1, 2}, false},
		{"within", []float32{1.00001, 2}, []float32{1, 2}, false},
		{"NaN got", []float32{nan, 2}, []float32{1, 2}, true},
		{"NaN want", []float32{1, 2}, []float32{nan, 2}, true},
		{"NaN both", []float32{nan, 2}, []float32{nan, 2}, false},
		{"Inf got", []float32{inf, 2}, []float32{1, 2}, true},
		{"Inf sign", []float32{-inf}, []float32{inf}, true},
		{"length", []float32{1}, []float32{1, 2}, true},
		{"far", []float32{1.1, 2}, []float32{1, 2}, true},
	} {
		if got := Mismatch(tc.got, tc.want, 1e-4, 1e-4, 1e-5) != ""; got != tc.bad {
			t.Errorf("%s: mismatch %v, want %v", tc.name, got, tc.bad)
		}
	}
	// A NaN bound must fail, not pass.
	if Mismatch([]float32{1}, []float32{1}, math.NaN(), 0, -1) == "" {
		t.Error("a NaN tolerance passed")
	}
}

func TestMismatchTensor(t *testing.T) {
	nan := float32(math.NaN())
	f := func(dims []int64, v ...float32) *onnx.Tensor { return onnx.NewFloatTensor("x", dims, v) }
	d := func(v ...float64) *onnx.Tensor {
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
		}
		return &onnx.Tensor{Name: "d", DataType: onnx.Double, Dims: []int64{int64(len(v))}, Raw: b}
	}
	i64 := func(v ...int64) *onnx.Tensor { return onnx.NewInt64Tensor("i", []int64{int64(len(v))}, v) }
	for _, tc := range []struct {
		name      string
		got, want *onnx.Tensor
		bad       bool
	}{
		{"equal", f([]int64{2}, 1, 2), f([]int64{2}, 1, 2), false},
		{"NaN got", f([]int64{2}, nan, 2), f([]int64{2}, 1, 2), true},
		{"NaN want", f([]int64{2}, 1, 2), f([]int64{2}, 1, nan), true},
		{"shape", f([]int64{1, 2}, 1, 2), f([]int64{2}, 1, 2), true},
		{"dtype", i64(1, 2), f([]int64{2}, 1, 2), true},
		{"double NaN", d(math.NaN()), d(1), true},
		{"double equal", d(1, 2), d(1, 2), false},
		{"ints differ", i64(1, 3), i64(1, 2), true},
		{"nil", nil, f(nil, 1), true},
	} {
		if got := MismatchTensor(tc.got, tc.want, 1e-4, 1e-4, 1e-5) != ""; got != tc.bad {
			t.Errorf("%s: mismatch %v, want %v", tc.name, got, tc.bad)
		}
	}
}

// TestBoundsFailOnNaN: a cosine or error computed from a NaN output fails
// both bounds instead of slipping past a < or > test.
func TestBoundsFailOnNaN(t *testing.T) {
	cos, rel := Cosine([]float32{1, float32(math.NaN())}, []float32{1, 2})
	for what, x := range map[string]float64{"cosine": cos, "relL2": rel} {
		if failed, _ := Fails(t, func(tb testing.TB) { AtLeast(tb, what, x, 0.99) }); !failed {
			t.Errorf("AtLeast passed %s %v", what, x)
		}
		if failed, _ := Fails(t, func(tb testing.TB) { AtMost(tb, what, x, 0.01) }); !failed {
			t.Errorf("AtMost passed %s %v", what, x)
		}
	}
	if c, _ := Cosine([]float32{1}, []float32{1, 2}); !math.IsNaN(c) {
		t.Errorf("cosine of different lengths %v, want NaN", c)
	}
	if c, r := Cosine([]float32{1, 2}, []float32{1, 2}); !AtLeast(t, "cosine", c, 1-1e-12) || !AtMost(t, "relL2", r, 0) {
		t.Errorf("equal vectors: cosine %v relL2 %v", c, r)
	}
}
