package quantize

import (
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// TestFakeQuant: the float32 ops fakeQuant puts in place of a Q/DQ pair give
// the interpreter's QuantizeLinear→DequantizeLinear bit for bit, ties
// (half steps, rounded to even) and values beyond the range included.
func TestFakeQuant(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scale float32
		zp    *onnx.Tensor
	}{
		{"uint8", 0.0173, zeroPoint(uint8Type, nil, 37)},
		{"int8", 0.25, zeroPoint(int8Type, nil, 0)},
		{"no zero point", 0.5, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 4096
			b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(n)))
			s := b.Scalar(tc.scale)
			ins := []*onnx.Value{x, s}
			if tc.zp != nil {
				ins = append(ins, passes.AddConst(b.M, b.G, "zp", tc.zp))
			}
			q := b.Op("QuantizeLinear", nil, ins...)
			y := b.Op("DequantizeLinear", nil, append([]*onnx.Value{q}, ins[1:]...)...)
			m := b.Output(b.Op("Relu", nil, y), onnx.TensorType(onnx.Float, onnx.ShapeOf(n)))
			in := interp.Make(onnx.Float, n)
			for i := range in.Floats() {
				// Exact half steps around and beyond the range, and others.
				v := float32(i-n/2) * tc.scale / 2 * 1.5
				if i%3 == 0 {
					v = float32(math.Sin(float64(i))) * 300 * tc.scale
				}
				in.Floats()[i] = v
			}
			want := passtest.Eval(t, m, in)
			fq := m.Clone()
			if err := fakeQuant(fq); err != nil {
				t.Fatal(err)
			}
			if ops := passtest.Ops(fq); ops["QuantizeLinear"]+ops["DequantizeLinear"] != 0 {
				t.Fatalf("Q/DQ left: %v", ops)
			}
			got := passtest.Eval(t, fq, in)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("x=%v: fake %v, Q/DQ %v", in.Floats()[i], got[i], want[i])
				}
			}
		})
	}
}
