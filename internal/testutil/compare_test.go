package testutil

import (
	"math"
	"testing"
)

func TestMismatch(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name      string
		got, want []float32
		bad       bool
	}{
		{"equal", []float32{1, 2}, []float32{1, 2}, false},
		{"within", []float32{1.00001, 2}, []float32{1, 2}, false},
		{"NaN got", []float32{nan, 2}, []float32{1, 2}, true},
		{"NaN want", []float32{1, 2}, []float32{nan, 2}, true},
		{"NaN both", []float32{nan, 2}, []float32{nan, 2}, false},
		{"Inf got", []float32{inf, 2}, []float32{1, 2}, true},
		{"Inf sign", []float32{-inf}, []float32{inf}, true},
		{"length", []float32{1}, []float32{1, 2}, true},
		{"far", []float32{1.1, 2}, []float32{1, 2}, true},
	} {
		if got := Mismatch(tc.got, tc.want, 1e-4, 1e-4, 1e-5) != ""; got != tc.bad {
			t.Errorf("%s: mismatch %v, want %v", tc.name, got, tc.bad)
		}
	}
	// A NaN bound must fail, not pass.
	if Mismatch([]float32{1}, []float32{1}, math.NaN(), 0, -1) == "" {
		t.Error("a NaN tolerance passed")
	}
}
