//go:build !unix

package onnx

import (
	"errors"
	"io"
	"os"
)

// mapFile reads the whole file: systems other than Unix get no mapping.
func mapFile(f *os.File, size int64) ([]byte, error) {
	b := make([]byte, size)
	_, err := io.ReadFull(io.NewSectionReader(f, 0, size), b)
	return b, err
}

// mapsFiles: mapFile maps (rather than reads) files here.
const mapsFiles = false

var pageSize = int64(os.Getpagesize())

// mapRange is not available: Spill leaves tensors in memory.
func mapRange(*os.File, int64, int64) ([]byte, error) { return nil, errors.ErrUnsupported }

// Prefetch does nothing where files are read rather than mapped.
func Prefetch(*Tensor) {}

func prefetchBytes([]byte) {}

// reserve is not available: lazy payloads are made before a save.
func reserve(int) ([]byte, error) { return nil, errors.ErrUnsupported }

// keptFilesMax: files are read, not mapped, so none is kept open.
func keptFilesMax() int { return 0 }
