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
