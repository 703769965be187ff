#!/usr/bin/env bash
# Regenerates the Go protobuf code from ONNX's own schema (run by `make generate`).
# Pinned: protoc 3.21.12 (Debian protobuf-compiler), protoc-gen-go v1.36.12.
# onnx-data.proto3 imports "onnx/onnx-ml.proto3", so the schema is laid out under onnx/ first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
spec=${ONNX_SPEC:-${ONNXSLIM_TESTDATA:-$here/../../../../shared}/onnx-conformance/spec}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/onnx"
cp "$spec/onnx-ml.proto3" "$spec/onnx-data.proto3" "$tmp/onnx/"
pkg=github.com/onnxslim/onnxslim/onnx/internal/onnxpb
protoc --proto_path="$tmp" --go_out="$tmp" \
  --go_opt=Monnx/onnx-ml.proto3=$pkg --go_opt=Monnx/onnx-data.proto3=$pkg \
  --go_opt=paths=source_relative \
  onnx/onnx-ml.proto3 onnx/onnx-data.proto3
find "$tmp" -name "*.pb.go" -exec cp {} "$here/" \;
