//go:build !amd64 || purego

package simd

func requant8Kernel(bool) func(dst []byte, acc []float32, m, b, lo, hi, s, z, qlo, qhi float32) {
	return requant8Go
}
