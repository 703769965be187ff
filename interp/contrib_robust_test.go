package interp

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestContribOpsRejectBadInputs feeds random inputs (random ranks, shapes,
// types, absent optional ones) to every com.microsoft kernel: they may
// fail, but with an error, never a panic (one in a worker goroutine would
// end the test binary).
func TestContribOpsRejectBadInputs(t *testing.T) {
	attrs := map[string][]*onnx.Attribute{
		"MatMulNBits":         {onnx.IntAttr("K", 4), onnx.IntAttr("N", 3), onnx.IntAttr("bits", 4), onnx.IntAttr("block_size", 16)},
		"MultiHeadAttention":  {onnx.IntAttr("num_heads", 2)},
		"Attention":           {onnx.IntAttr("num_heads", 2)},
		"GroupQueryAttention": {onnx.IntAttr("num_heads", 2), onnx.IntAttr("kv_num_heads", 1)},
		"RotaryEmbedding":     {onnx.IntAttr("num_heads", 2)},
		"FusedConv":           {onnx.StringAttr("activation", "Relu")},
		"FusedGemm":           {onnx.StringAttr("activation", "LeakyRelu")},
		"FusedMatMul":         {onnx.IntAttr("transBatchA", 1), onnx.IntAttr("transB", 1)},
	}
	var ops []string
	for k := range Registered() {
		if op, ok := strings.CutPrefix(k, msDomain+"::"); ok {
			ops = append(ops, op)
		}
	}
	sort.Strings(ops)
	if len(ops) < 26 {
		t.Fatalf("%d com.microsoft ops registered: %v", len(ops), ops)
	}
	r := rand.New(rand.NewPCG(17, 18))
	for _, op := range ops {
		for range 200 {
			in := make([]*Tensor, 1+r.IntN(10))
			for i := range in {
				if r.IntN(6) > 0 {
					in[i] = randomTensor(r)
				}
			}
			_, err := runKernel(op, msDomain, 1, attrs[op], 1+r.IntN(4), in...)
			if err != nil && strings.Contains(err.Error(), "internal error") {
				t.Errorf("%s: %v", op, err)
				break
			}
		}
	}
}

// TestFusedConvFloat16Activation: a float16 FusedConv applies its
// activation too (the convolution's epilogue, which carries Relu and Clip
// for float32, does not run for other types).
func TestFusedConvFloat16Activation(t *testing.T) {
	x := Make(onnx.Float16, 1, 2, 3, 3)
	w := Make(onnx.Float16, 2, 2, 1, 1)
	for i, v := range []float32{1, -2, 3, -4, 5, -6, 7, -8, 9, -1, 2, -3, 4, -5, 6, -7, 8, -9} {
		Data[uint16](x)[i] = Float32ToFloat16(v)
	}
	for i, v := range []float32{1, 0, 0, -1} {
		Data[uint16](w)[i] = Float32ToFloat16(v)
	}
	for _, c := range []struct {
		act    string
		params []float32
		lo, hi float32
	}{{"Relu", nil, 0, 100}, {"Clip", []float32{-2, 3}, -2, 3}} {
		attrs := []*onnx.Attribute{onnx.StringAttr("activation", c.act)}
		if c.params != nil {
			attrs = append(attrs, onnx.FloatsAttr("activation_params", c.params))
		}
		out, err := runKernel("FusedConv", msDomain, 1, attrs, 1, x, w)
		if err != nil {
			t.Fatal(err)
		}
		y, err := AsFloat32(out[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range y {
			if v < c.lo || v > c.hi {
				t.Fatalf("%s: output %v outside [%v, %v]: the activation was skipped", c.act, y, c.lo, c.hi)
			}
		}
	}
}
