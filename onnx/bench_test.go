package onnx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
)

// benchModel is resnet18 (47 MB, almost all of it initializer payload).
func benchModel(b *testing.B) []byte {
	data, err := os.ReadFile(filepath.Join(testdata.Models(b), "resnet18_op13", "model.onnx"))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkDecode measures Decode (parse, build the IR, check the graphs).
// Targets: ≥ 1 GB/s and allocations ≤ 1.2× the file size.
func BenchmarkDecode(b *testing.B) {
	data := benchModel(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode measures Encode of the decoded model.
func BenchmarkEncode(b *testing.B) {
	data := benchModel(b)
	m, err := Decode(data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}
