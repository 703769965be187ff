//go:build !purego

package simd

// requant8Kernel is the active level's requant8 kernel.
func requant8Kernel(signed bool) func(dst []byte, acc []float32, m, b, lo, hi, s, z, qlo, qhi float32) {
	wide := ks.name == "avx512"
	switch {
	case ks == goKernels:
		return requant8Go
	case signed && wide:
		return requant8I8AVX512
	case signed:
		return requant8I8AVX
	case wide:
		return requant8U8AVX512
	}
	return requant8U8AVX
}

// addQ8Kernel is the active level's addQ8 kernel.
func addQ8Kernel(signed bool) func(dst, a, b []byte, za, sa, zb, sb, s, z, qlo, qhi float32) {
	switch {
	case ks == goKernels:
		return addQ8Go(signed)
	case signed:
		return addQ8I8AVX
	}
	return addQ8U8AVX
}

// i32Requant8Kernel is the active level's i32Requant8 kernel.
func i32Requant8Kernel(signed bool) func(dst []byte, src []int32, t int32, m, b, lo, hi, s, z, qlo, qhi float32) {
	wide := ks.name == "avx512"
	switch {
	case ks == goKernels:
		return i32Requant8Go
	case signed && wide:
		return i32Requant8I8AVX512
	case signed:
		return i32Requant8I8AVX
	case wide:
		return i32Requant8U8AVX512
	}
	return i32Requant8U8AVX
}
