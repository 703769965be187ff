package simd

import (
	"math"
	"unsafe"
)

// BlockQuantI4 is int4 block quantization's step for one row of values and
// their scales: dst[i] = clamp(roundeven(x[i]/s[i]), -8, 7), the quotient
// taken in float64 (exact for the rounding) and a NaN quotient giving what
// Go's int8(NaN) gives on this machine. x and s must be as long as dst.
func BlockQuantI4(dst []int8, x, s []float32) {
	if len(x) != len(dst) || len(s) != len(dst) {
		panic("simd: BlockQuantI4: dst, x and s differ in length")
	}
	ks.blockQuantI4(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst)), x, s)
	tail := len(dst) &^ 7
	blockQuantI4Go(dst[tail:], x[tail:], s[tail:])
}

// blockQuantI4Go is BlockQuantI4's Go twin (every element).
func blockQuantI4Go(dst []int8, x, s []float32) {
	s = s[:len(dst)]
	for i, v := range x[:len(dst)] {
		q := math.RoundToEven(float64(v) / float64(s[i]))
		dst[i] = int8(min(max(q, -8), 7))
	}
}

// blockQuantI4Blocks runs the Go twin on whole blocks of eight only, as the
// assembly twin does (the Go level's kernel).
func blockQuantI4Blocks(dst []byte, x, s []float32) {
	n := len(dst) &^ 7
	blockQuantI4Go(unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(dst))), n), x, s)
}
