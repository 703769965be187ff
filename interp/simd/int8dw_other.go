//go:build !amd64 || purego

package simd

func requant8Kernel(bool) func(dst []byte, acc []float32, m, b, lo, hi, s, z, qlo, qhi float32) {
	return requant8Go
}

func addQ8Kernel(signed bool) func(dst, a, b []byte, za, sa, zb, sb, s, z, qlo, qhi float32) {
	return addQ8Go(signed)
}

func i32Requant8Kernel(bool) func(dst []byte, src []int32, t int32, m, b, lo, hi, s, z, qlo, qhi float32) {
	return i32Requant8Go
}

func dwQ8Kernel(stride int, signed bool) func(dst []byte, x *byte, offs []int32, w, mult, bias, wsum []float32, chans, outH, outW, rowStep, psz int, zx, lo, hi, s, z, qlo, qhi float32) {
	return dwQ8Go(stride, signed)
}

func planeRowsKernel() func(dst, x *byte, chans, rows, w, pw, psz int) { return planeRowsGo }

func evenBytesKernel() func(dst, src []byte) { return nil }

func dwQ8FKernel(stride int, signed bool) func(dst []byte, x *byte, offs []int32, w, bias []float32, chans, outH, outW, rowStep, psz int, zx, sx, lo, hi, s, z, qlo, qhi float32) {
	return dwQ8FGo(stride, signed)
}

func i32Requant8RowsKernel() func(dst []byte, ldd int, src []int32, rows, cols int, t []int32, m, b []float32, lo, hi, s, z, qlo, qhi float32) {
	return nil
}
