package simd

import (
	"math"
	"sync"
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

// BlockQuantI4Rows quantizes one block of rows×cols values x (row-major,
// cols even) to int4 with a scale a column, as blocked int4 quantization
// does: s[j] = float32(float64(m)/7) for m the max of |x[·][j]| (Go's max:
// a NaN wins), 1 where that is 0, and the byte (r·cols+j)/2 of dst holds
// columns j and j+1 of row r, clamp(roundeven(float64(x)/float64(s)), -8,
// 7) each (as BlockQuantI4), in its low and high nibble. dst must hold
// rows·cols/2 bytes and s cols scales. Rows are read in order (twice),
// which on a wide block streams where a walk down the columns would not.
func BlockQuantI4Rows(dst []byte, s, x []float32, rows, cols int) {
	if rows < 0 || cols < 0 || cols%2 != 0 || len(x) < rows*cols || len(s) < cols || len(dst) < rows*cols/2 {
		panic("simd: BlockQuantI4Rows: bad sizes")
	}
	s = s[:cols]
	BlockScalesI4(s, x, rows, cols)
	inv := reciprocals.Get().(*[]float64)
	defer reciprocals.Put(inv)
	if cap(*inv) < cols {
		*inv = make([]float64, cols)
	}
	rs := (*inv)[:cols]
	for j, v := range s {
		rs[j] = 1 / float64(v)
	}
	tail := cols &^ 7
	for r := range rows {
		row, out := x[r*cols:(r+1)*cols], dst[r*cols/2:(r+1)*cols/2]
		ks.quantPackI4(out, row, s, rs)
		quantPackI4Go(out[tail/2:], row[tail:], s[tail:])
	}
}

// BlockScalesI4 is BlockQuantI4Rows's scales alone (any cols): s[j] =
// float32(float64(m)/7) for m the max of |x[·][j]| over the rows×cols
// values x, 1 where that is 0.
func BlockScalesI4(s, x []float32, rows, cols int) {
	if rows < 0 || cols < 0 || len(x) < rows*cols || len(s) < cols {
		panic("simd: BlockScalesI4: bad sizes")
	}
	s = s[:cols]
	clear(s)
	for r := range rows {
		MaxAbs(s, s, x[r*cols:(r+1)*cols])
	}
	for j, a := range s {
		if s[j] = float32(float64(a) / 7); s[j] == 0 {
			s[j] = 1
		}
	}
}

// reciprocals holds BlockQuantI4Rows's buffers of 1/s.
var reciprocals = sync.Pool{New: func() any { return new([]float64) }}

// quantPackI4Go is the row step's Go twin (every element; an even count):
// dst[i/2] holds clamp(roundeven(float64(x[i])/float64(s[i])), -8, 7) for
// i and i+1 in its low and high nibble.
func quantPackI4Go(dst []byte, x, s []float32) {
	q := func(v, s float32) byte {
		q := math.RoundToEven(float64(v) / float64(s))
		return byte(int8(min(max(q, -8), 7))) & 0xF
	}
	for i := 0; i+1 < len(x); i += 2 {
		dst[i/2] = q(x[i], s[i]) | q(x[i+1], s[i+1])<<4
	}
}

// quantPackI4Blocks runs the Go twin on whole blocks of eight only, as the
// assembly twin does (the Go level's kernel; r is the assembly's).
func quantPackI4Blocks(dst []byte, x, s []float32, _ []float64) {
	n := len(x) &^ 7
	quantPackI4Go(dst, x[:n], s)
}
