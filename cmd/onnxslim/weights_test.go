package main

import (
	"math/rand/v2"

	"github.com/onnxslim/onnxslim/onnx"
)

// normalWeight adds to g a float32 initializer of the given shape holding
// N(0, std²) values drawn from r: the weights of the tests' hand-built
// models.
func normalWeight(g *onnx.Graph, r *rand.Rand, std float64, name string, dims ...int64) *onnx.Value {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * std)
	}
	return g.AddInitializer(name, onnx.NewFloatTensor(name, dims, v))
}
