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

// dwQ8Kernels are the fused depthwise kernels of the AVX2 and AVX-512
// levels: stride 1 uint8, int8, stride 2 uint8, int8.
var dwQ8Kernels = [2][4]func(dst []byte, x *byte, offs []int32, w, mult, bias, wsum []float32, chans, outH, outW, rowStep, psz int, zx, lo, hi, s, z, qlo, qhi float32){
	{dwQ8S1U8AVX, dwQ8S1I8AVX, dwQ8S2U8AVX, dwQ8S2I8AVX},
	{dwQ8S1U8AVX512, dwQ8S1I8AVX512, dwQ8S2U8AVX512, dwQ8S2I8AVX512},
}

// dwQ8Kernel is the active level's fused int8 depthwise kernel.
func dwQ8Kernel(stride int, signed bool) func(dst []byte, x *byte, offs []int32, w, mult, bias, wsum []float32, chans, outH, outW, rowStep, psz int, zx, lo, hi, s, z, qlo, qhi float32) {
	if ks == goKernels {
		return dwQ8Go(stride, signed)
	}
	i := 0
	if signed {
		i = 1
	}
	if stride == 2 {
		i += 2
	}
	if ks.name == "avx512" {
		return dwQ8Kernels[1][i]
	}
	return dwQ8Kernels[0][i]
}

// planeRowsKernel is the active level's planeRows kernel.
func planeRowsKernel() func(dst, x *byte, chans, rows, w, pw, psz int) {
	switch ks.name {
	case "avx512":
		return planeRowsAVX512
	case "go":
		return planeRowsGo
	}
	return planeRowsAVX
}

// evenBytesKernel is the active level's evenBytes kernel, nil for pure Go.
func evenBytesKernel() func(dst, src []byte) {
	switch ks.name {
	case "avx512":
		return evenBytesAVX512
	case "go":
		return nil
	}
	return evenBytesAVX
}

// dwQ8FKernels are the float-path depthwise kernels of the AVX2 and
// AVX-512 levels: stride 1 uint8, int8, stride 2 uint8, int8.
var dwQ8FKernels = [2][4]func(dst []byte, x *byte, offs []int32, w, bias []float32, chans, outH, outW, rowStep, psz int, zx, sx, lo, hi, s, z, qlo, qhi float32){
	{dwQ8S1U8FAVX, dwQ8S1I8FAVX, dwQ8S2U8FAVX, dwQ8S2I8FAVX},
	{dwQ8S1U8FAVX512, dwQ8S1I8FAVX512, dwQ8S2U8FAVX512, dwQ8S2I8FAVX512},
}

// dwQ8FKernel is the active level's float-path depthwise kernel.
func dwQ8FKernel(stride int, signed bool) func(dst []byte, x *byte, offs []int32, w, bias []float32, chans, outH, outW, rowStep, psz int, zx, sx, lo, hi, s, z, qlo, qhi float32) {
	if ks == goKernels {
		return dwQ8FGo(stride, signed)
	}
	i := 0
	if signed {
		i = 1
	}
	if stride == 2 {
		i += 2
	}
	if ks.name == "avx512" {
		return dwQ8FKernels[1][i]
	}
	return dwQ8FKernels[0][i]
}

// i32Requant8RowsKernel is the block epilogue's kernel: AVX-512 only (the
// other levels loop over their row kernels).
func i32Requant8RowsKernel() func(dst []byte, ldd int, src []int32, rows, cols int, t []int32, m, b []float32, lo, hi, s, z, qlo, qhi float32) {
	if ks.name == "avx512" {
		return i32Requant8RowsAVX512
	}
	return nil
}
