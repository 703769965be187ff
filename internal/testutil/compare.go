// Package testutil holds the numeric comparison every test uses, so that no
// test can pass on NaN: a NaN or an infinity on one side only, a length,
// shape or type difference, an unreadable tensor, or an error bound computed
// from NaN is a mismatch.
package testutil

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// Mismatch describes how got differs from want beyond the element bound
// |got−want| ≤ atol + rtol·|want| or a relative L2 error above relL2 (< 0:
// not checked); "" when they agree. NaN matches only NaN and an infinity
// only the same infinity.
func Mismatch[T float32 | float64](got, want []T, atol, rtol, relL2 float64) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d elements, want %d", len(got), len(want))
	}
	var num, den float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		switch {
		case math.IsNaN(g) || math.IsNaN(w):
			if math.IsNaN(g) != math.IsNaN(w) {
				return fmt.Sprintf("element %d: %v, want %v", i, got[i], want[i])
			}
			continue
		case math.IsInf(g, 0) || math.IsInf(w, 0):
			if g != w {
				return fmt.Sprintf("element %d: %v, want %v", i, got[i], want[i])
			}
			continue
		}
		d := g - w
		num += d * d
		den += w * w
		// Written so that a NaN bound fails too.
		if !(math.Abs(d) <= atol+rtol*math.Abs(w)) {
			return fmt.Sprintf("element %d: %v, want %v", i, got[i], want[i])
		}
	}
	if relL2 >= 0 && den > 0 {
		if e := math.Sqrt(num / den); !(e <= relL2) {
			return fmt.Sprintf("relative L2 error %g > %g", e, relL2)
		}
	}
	return ""
}

// MismatchTensor is Mismatch for two tensors: the element types and shapes
// must be equal, float and double elements are held to the bounds, and
// every other type (integers, bool, float16, strings) must be equal.
func MismatchTensor(got, want *onnx.Tensor, atol, rtol, relL2 float64) string {
	if got == nil || want == nil {
		return fmt.Sprintf("tensor %v, want %v", got, want)
	}
	if got.DataType != want.DataType || !slices.Equal(got.Dims, want.Dims) {
		return fmt.Sprintf("%s%v, want %s%v", got.DataType, got.Dims, want.DataType, want.Dims)
	}
	if want.DataType == onnx.String {
		if !slices.EqualFunc(got.Strings, want.Strings, func(a, b []byte) bool { return string(a) == string(b) }) {
			return fmt.Sprintf("strings %q, want %q", got.Strings, want.Strings)
		}
		return ""
	}
	gb, err := got.Data()
	if err != nil {
		return "got: " + err.Error()
	}
	wb, err := want.Data()
	if err != nil {
		return "want: " + err.Error()
	}
	switch want.DataType {
	case onnx.Float:
		return Mismatch(onnx.Float32View(gb), onnx.Float32View(wb), atol, rtol, relL2)
	case onnx.Double:
		return Mismatch(float64s(gb), float64s(wb), atol, rtol, relL2)
	}
	if string(gb) != string(wb) {
		return fmt.Sprintf("%s data differs", want.DataType)
	}
	return ""
}

func float64s(b []byte) []float64 {
	out := make([]float64, len(b)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out
}

// Cosine is the cosine similarity of a and b and the relative L2 error of
// a against b, over all elements; NaN when either holds a NaN or they
// differ in length, so that a bound checked with AtLeast or AtMost fails.
func Cosine[T float32 | float64](a, b []T) (cos, relL2 float64) {
	if len(a) != len(b) {
		return math.NaN(), math.NaN()
	}
	var aa, bb, ab, dd float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		aa, bb, ab, dd = aa+x*x, bb+y*y, ab+x*y, dd+(x-y)*(x-y)
	}
	return ab / math.Sqrt(aa*bb), math.Sqrt(dd / bb)
}

// AtLeast fails t unless x ≥ bound (a NaN x fails).
func AtLeast(t testing.TB, what string, x, bound float64) bool {
	t.Helper()
	if !(x >= bound) {
		t.Errorf("%s %.6g, want ≥ %g", what, x, bound)
		return false
	}
	return true
}

// AtMost fails t unless x ≤ bound (a NaN x fails).
func AtMost(t testing.TB, what string, x, bound float64) bool {
	t.Helper()
	if !(x <= bound) {
		t.Errorf("%s %.6g, want ≤ %g", what, x, bound)
		return false
	}
	return true
}

// Close reports whether the scalar got is within atol + rtol·|want| of
// want (Mismatch for one element: NaN only matches NaN).
func Close(got, want, atol, rtol float64) bool {
	return Mismatch([]float64{got}, []float64{want}, atol, rtol, -1) == ""
}
