//go:build !linux

package onnx

import (
	"errors"
	"os"
)

// setDirect: direct I/O is used on Linux only.
func setDirect(*os.File, bool) error { return errors.ErrUnsupported }

// openDirect: direct reads are used on Linux only.
func openDirect(*os.File) (*os.File, error) { return nil, errors.ErrUnsupported }

// resident is not asked where there are no direct reads.
func resident([]byte) bool { return true }

// allocBuffer is not needed where there are no direct reads.
func allocBuffer(int) ([]byte, error) { return nil, errors.ErrUnsupported }

func freeBuffer([]byte) {}
