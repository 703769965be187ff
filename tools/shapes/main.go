// Command shapes writes internal/opshapes' one-operator models into DIR for
// `make bench-shapes`, which times each in the interpreter and in ONNX
// Runtime (tools/bench feeds seeded random inputs).
//
//	go run ./tools/shapes DIR
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/onnxslim/onnxslim/internal/opshapes"
	"github.com/onnxslim/onnxslim/onnx"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./tools/shapes DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fatal(err)
	}
	for _, m := range opshapes.Models() {
		if err := onnx.Save(m.Model, filepath.Join(dir, m.Name+".onnx"), onnx.SaveOptions{}); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "shapes:", err)
	os.Exit(1)
}
