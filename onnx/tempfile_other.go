//go:build !linux

package onnx

import (
	"errors"
	"os"
)

func openAnonymous(string) (*os.File, error) { return nil, errors.ErrUnsupported }

func linkAnonymous(*os.File, string, string) (string, error) { return "", errors.ErrUnsupported }

func canLink(*os.File, string) bool { return false }
