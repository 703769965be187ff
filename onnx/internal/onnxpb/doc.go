// Package onnxpb holds the Go protobuf types generated from ONNX's own schema
// (onnx-ml.proto3 and onnx-data.proto3 of ONNX 1.23 dev: IR 13, opset 28).
// Only package onnx uses them; everything else works on the IR.
package onnxpb

//go:generate bash gen.sh
