package all_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// BenchmarkDefaultPipeline times what `onnxslim IN -o OUT` does minus
// verification: decode, the default pipeline, encode. `make compare` runs
// ONNX Runtime's basic offline optimization of the same models beside it.
func BenchmarkDefaultPipeline(b *testing.B) {
	for _, name := range []string{"resnet18_op13", "transformer_op14", "mobilenet_v2_op13"} {
		b.Run(name, func(b *testing.B) {
			data, err := os.ReadFile(filepath.Join(testdata.Models(b), name, "model.onnx"))
			if err != nil {
				b.Fatal(err)
			}
			p, err := passes.Parse("default")
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				m, err := onnx.Decode(data)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Run(context.Background(), m, passes.Config{}); err != nil {
					b.Fatal(err)
				}
				if _, err := onnx.Encode(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
