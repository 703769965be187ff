//go:build !purego

package simd

// requant8Kernel is the active level's requant8 kernel (the AVX2 one also
// serves the AVX-512 level).
func requant8Kernel(signed bool) func(dst []byte, acc []float32, m, b, lo, hi, s, z, qlo, qhi float32) {
	switch {
	case ks == goKernels:
		return requant8Go
	case signed:
		return requant8I8AVX
	}
	return requant8U8AVX
}
