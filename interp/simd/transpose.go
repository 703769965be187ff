package simd

import "fmt"

// Transpose sets dst[j·ld + i] = src[i·ls + j] for i < rows, j < cols: a
// rows×cols matrix whose rows are ls floats apart into its transpose
// with rows ld floats apart, bits unchanged (any 4-byte words may pass
// as float32). Whole 8×8 tiles go through registers, the ragged edges
// through Go.
func Transpose(dst []float32, ld int, src []float32, ls int, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	if ls < cols || ld < rows {
		panic(fmt.Sprintf("simd: Transpose: strides %d and %d for a %d×%d matrix", ls, ld, rows, cols))
	}
	need("Transpose", (rows-1)*ls+cols, src)
	need("Transpose", (cols-1)*ld+rows, dst)
	r8, c8 := rows&^7, cols&^7
	if r8 > 0 && c8 > 0 {
		ks.transpose8(dst, ld, src, ls, r8, c8)
	}
	transposeGo(dst, ld, src, ls, 0, rows, c8, cols) // the right edge
	transposeGo(dst, ld, src, ls, r8, rows, 0, c8)   // the bottom edge
}

// transposeGo transposes rows [i0, i1) and columns [j0, j1) one float at
// a time.
func transposeGo(dst []float32, ld int, src []float32, ls int, i0, i1, j0, j1 int) {
	for i := i0; i < i1; i++ {
		row := src[i*ls+j0 : i*ls+j1]
		for j, v := range row {
			dst[(j0+j)*ld+i] = v
		}
	}
}

// transpose8Go is ks.transpose8: Transpose of whole 8×8 tiles (rows and
// cols multiples of 8), a tile at a time as the kernels go.
func transpose8Go(dst []float32, ld int, src []float32, ls int, rows, cols int) {
	for i := 0; i < rows; i += 8 {
		for j := 0; j < cols; j += 8 {
			transposeGo(dst, ld, src, ls, i, i+8, j, j+8)
		}
	}
}
