// Package conformance holds what ONNX's backend-test runner compares by, for
// the interpreter's conformance harness and the CLI's count over the same cases.
package conformance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// ReadDatum reads a backend-test .pb file of the declared type.
func ReadDatum(path string, ty *onnx.Type) (*interp.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := onnx.DecodeDatum(b, ty)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return interp.FromDatum(d)
}

// Compare checks got against want by the ONNX backend runner's rule: same kind,
// type and shape; strings equal; numbers within atol + rtol·|want|, NaN
// matching NaN and infinities matching exactly (testutil.Mismatch).
func Compare(got, want *interp.Tensor, rtol, atol float64) error {
	if got == nil {
		return errors.New("no value")
	}
	if got.Kind != want.Kind {
		return fmt.Errorf("got %s, want %s", got, want)
	}
	if got.Kind != interp.KindTensor {
		if len(got.Elems) != len(want.Elems) {
			return fmt.Errorf("got %d elements, want %d", len(got.Elems), len(want.Elems))
		}
		for i := range got.Elems {
			if err := Compare(got.Elems[i], want.Elems[i], rtol, atol); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
		return nil
	}
	if got.DType != want.DType || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		return fmt.Errorf("got %s, want %s", got, want)
	}
	switch w := want.Data.(type) {
	case []string:
		g := got.Data.([]string)
		for i := range w {
			if g[i] != w[i] {
				return fmt.Errorf("element %d: got %q, want %q", i, g[i], w[i])
			}
		}
		return nil
	case []bool:
		g := got.Data.([]bool)
		for i := range w {
			if g[i] != w[i] {
				return fmt.Errorf("element %d: got %v, want %v", i, g[i], w[i])
			}
		}
		return nil
	}
	gv, err1 := Floats(got)
	wv, err2 := Floats(want)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("cannot compare %s: %v %v", want.DType, err1, err2)
	}
	if msg := testutil.Mismatch(gv, wv, atol, rtol, -1); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// Floats widens numeric data for comparison; float16/bfloat16 are decoded,
// other 8-bit float formats are compared by bit pattern.
func Floats(t *interp.Tensor) ([]float64, error) {
	switch d := t.Data.(type) {
	case []float32:
		return conv(d), nil
	case []float64:
		return d, nil
	case []int64:
		return conv(d), nil
	case []int32:
		return conv(d), nil
	case []int16:
		return conv(d), nil
	case []int8:
		return conv(d), nil
	case []uint8:
		return conv(d), nil
	case []uint32:
		return conv(d), nil
	case []uint64:
		return conv(d), nil
	case []uint16:
		switch t.DType {
		case onnx.Float16, onnx.BFloat16:
			f, err := interp.AsFloat32(t)
			return conv(f), err
		}
		return conv(d), nil
	case []complex64:
		out := make([]float64, 0, 2*len(d))
		for _, c := range d {
			out = append(out, float64(real(c)), float64(imag(c)))
		}
		return out, nil
	case []complex128:
		out := make([]float64, 0, 2*len(d))
		for _, c := range d {
			out = append(out, real(c), imag(c))
		}
		return out, nil
	}
	return nil, fmt.Errorf("storage %T", t.Data)
}

func conv[T int64 | int32 | int16 | int8 | uint8 | uint32 | uint64 | uint16 | float32](d []T) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

// RunSet feeds a backend-test set's input_N.pb files (in graph-input order,
// up to the first one missing) to a session of m and returns its outputs.
func RunSet(m *onnx.Model, set string) ([]*interp.Tensor, error) {
	sess, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		return nil, err
	}
	feeds := map[string]*interp.Tensor{}
	for i, v := range sess.Inputs() {
		p := filepath.Join(set, fmt.Sprintf("input_%d.pb", i))
		if _, err := os.Stat(p); err != nil {
			break
		}
		t, err := ReadDatum(p, v.Type)
		if err != nil {
			return nil, err
		}
		feeds[v.Name] = t
	}
	return sess.Run(feeds)
}
