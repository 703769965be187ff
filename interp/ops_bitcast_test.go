package interp

import (
	"fmt"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func TestBitCast(t *testing.T) {
	to := func(dt onnx.DataType) []*onnx.Attribute { return []*onnx.Attribute{onnx.IntAttr("to", int64(dt))} }
	for _, c := range []struct {
		name string
		in   *Tensor
		to   onnx.DataType
		want string
	}{
		{"float32 to int32", FromSlice(onnx.Float, []int{2}, []float32{1, -2}), onnx.Int32, "[1065353216 -1073741824]"},
		{"int32 to float32", FromSlice(onnx.Int32, []int{1}, []int32{1065353216}), onnx.Float, "[1]"},
		{"uint4 to int4 sign-extends", FromSlice(onnx.Uint4, []int{2}, []uint8{15, 7}), onnx.Int4, "[-1 7]"},
		{"int8 to uint8", FromSlice(onnx.Int8, []int{1}, []int8{-1}), onnx.Uint8, "[255]"},
		{"bool to uint8", FromSlice(onnx.Bool, []int{2}, []bool{true, false}), onnx.Uint8, "[1 0]"},
		{"float16 to uint16", FromSlice(onnx.Float16, []int{1}, []uint16{0x3c00}), onnx.Uint16, "[15360]"},
		{"complex64 to int64", FromSlice(onnx.Complex64, []int{1}, []complex64{complex(1, 0)}), onnx.Int64, "[1065353216]"},
	} {
		out, err := runKernel("BitCast", "", 26, to(c.to), 1, c.in)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := fmt.Sprint(out[0].Data); got != c.want || out[0].DType != c.to {
			t.Errorf("%s: got %s %s, want %s", c.name, out[0].DType, got, c.want)
		}
	}
	if _, err := runKernel("BitCast", "", 26, to(onnx.Int64), 1, FromSlice(onnx.Float, []int{1}, []float32{1})); err == nil {
		t.Error("different widths: want an error")
	}
	if _, err := runKernel("BitCast", "", 26, to(onnx.String), 1, FromSlice(onnx.Float, []int{1}, []float32{1})); err == nil {
		t.Error("to string: want an error")
	}
}
