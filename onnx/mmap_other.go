//go:build !unix

package onnx

import (
	"io"
	"os"
)

// mapFile reads the whole file: systems other than Unix get no mapping.
func mapFile(f *os.File, size int64) ([]byte, error) {
	b := make([]byte, size)
	_, err := io.ReadFull(io.NewSectionReader(f, 0, size), b)
	return b, err
}
