// Package testutil holds the numeric comparison every test uses, so that no
// test can pass on NaN: a NaN or an infinity on one side only, a length
// difference, or an error bound computed from NaN is a mismatch.
package testutil

import (
	"fmt"
	"math"
)

// Mismatch describes how got differs from want beyond the element bound
// |got−want| ≤ atol + rtol·|want| or a relative L2 error above relL2 (< 0:
// not checked); "" when they agree. NaN matches only NaN and an infinity
// only the same infinity.
func Mismatch(got, want []float32, atol, rtol, relL2 float64) string {
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
