package interp

import (
	"fmt"
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func testCtx() *Ctx { return &Ctx{opts: &Options{MaxMemory: DefaultMaxMemory, Threads: 1}} }

func TestCastToString(t *testing.T) {
	ctx := testCtx()
	cases := []struct {
		in   *Tensor
		want []string
	}{
		{FromSlice(onnx.Float, []int{7}, []float32{0.47892547, 1e-7, 1e6, 1e16, float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1))}),
			[]string{"0.47892547", "1e-07", "1000000.0", "1e+16", "nan", "-inf", "-0.0"}},
		{FromSlice(onnx.Double, []int{3}, []float64{3.14, 0.1, 1.5e-5}), []string{"3.14", "0.1", "1.5e-05"}},
		{FromSlice(onnx.Float16, []int{2}, []uint16{Float32ToFloat16(0.1), Float32ToFloat16(1000)}), []string{"0.1", "1000.0"}},
		{FromSlice(onnx.Int8, []int{2}, []int8{-128, 7}), []string{"-128", "7"}},
		{FromSlice(onnx.Bool, []int{2}, []bool{true, false}), []string{"True", "False"}},
	}
	for _, c := range cases {
		out, err := CastTensor(ctx, c.in, onnx.String, DefaultCastOptions)
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Data.([]string); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s to string: got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCastFromString(t *testing.T) {
	ctx := testCtx()
	in := FromSlice(onnx.String, []int{7}, []string{"3.14", "1e-5", "1E8", "+INF", "-inf", "NaN", "100"})
	out, err := CastTensor(ctx, in, onnx.Float, DefaultCastOptions)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{3.14, 1e-5, 1e8, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 100}
	for i, g := range out.Floats() {
		if g != want[i] && !(math.IsNaN(float64(g)) && math.IsNaN(float64(want[i]))) {
			t.Errorf("element %d: got %v, want %v", i, g, want[i])
		}
	}
	ints, err := CastTensor(ctx, FromSlice(onnx.String, []int{3}, []string{"9223372036854775807", "-5", "100.5"}), onnx.Int64, DefaultCastOptions)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ints.Data); got != "[9223372036854775807 -5 100]" {
		t.Errorf("string to int64: got %s", got)
	}
	if _, err := CastTensor(ctx, FromSlice(onnx.String, []int{1}, []string{"hello"}), onnx.Float, DefaultCastOptions); err == nil {
		t.Error("casting \"hello\" to float should fail")
	}
}

func TestCastNumeric(t *testing.T) {
	ctx := testCtx()
	cases := []struct {
		in   *Tensor
		to   onnx.DataType
		want string
	}{
		{FromSlice(onnx.Int16, []int{3}, []int16{200, -1, 300}), onnx.Int8, "[-56 -1 44]"},
		{FromSlice(onnx.Int16, []int{2}, []int16{-1, 256}), onnx.Uint8, "[255 0]"},
		{FromSlice(onnx.Float, []int{4}, []float32{-9, 8, 15, 2.7}), onnx.Int4, "[7 -8 -1 2]"},
		{FromSlice(onnx.Float, []int{3}, []float32{-3, -1, 5}), onnx.Uint2, "[1 3 1]"},
		{FromSlice(onnx.Float, []int{3}, []float32{-2.9, 0, float32(math.NaN())}), onnx.Bool, "[true false true]"},
		{FromSlice(onnx.Bool, []int{2}, []bool{true, false}), onnx.Float, "[1 0]"},
		{FromSlice(onnx.Int64, []int{1}, []int64{1<<53 + 1}), onnx.Float, "[9.007199e+15]"},
		{FromSlice(onnx.Uint64, []int{1}, []uint64{math.MaxUint64}), onnx.Int32, "[-1]"},
		{FromSlice(onnx.Double, []int{2}, []float64{-1.5, 1e300}), onnx.Float, "[-1.5 +Inf]"},
	}
	for _, c := range cases {
		out, err := CastTensor(ctx, c.in, c.to, DefaultCastOptions)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(out.Data); got != c.want {
			t.Errorf("%s to %s: got %s, want %s", c.in, c.to, got, c.want)
		}
	}
}
