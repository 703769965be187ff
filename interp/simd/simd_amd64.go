//go:build amd64 && !purego

package simd

import "golang.org/x/sys/cpu"

// asmKernels is nil on CPUs without AVX2 and FMA (cpu also checks that the
// OS saves YMM state).
var asmKernels = func() *kernelSet {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	return &kernelSet{
		name:       "avx2",
		gemm:       [mr + 1]func(int, *float32, *float32, *float32, int, bool){nil, gemm1x16AVX, gemm2x16AVX, gemm3x16AVX, gemm4x16AVX, gemm5x16AVX, gemm6x16AVX},
		packRow:    packRowAVX,
		gatherRows: gatherRowsAVX,
		copyRows:   copyRowsAVX,
		quantU8:    quantizeU8AVX,
		quantI8:    quantizeI8AVX,
		dequantU8:  dequantizeU8AVX,
		dequantI8:  dequantizeI8AVX,
		maxSkipNaN: maxSkipNaNAVX,
		add:        addAVX,
		sub:        subAVX,
		mul:        mulAVX,
		div:        divAVX,
		divScalar:  divScalarAVX,
		scalarDiv:  scalarDivAVX,
		axpy:       axpyAVX,
		scaleShift: scaleShiftAVX,
		biasClip:   biasClipAVX,
		scShClip:   scaleShiftClipAVX,
		exp:        expAVX,
		sigmoid:    sigmoidAVX,
		tanh:       tanhAVX,
		erf:        erfAVX,
		gelu:       geluAVX,
		sum:        sumAVX,
		dot:        dotAVX,
		max:        maxAVX,
		expSubSum:  expSubSumAVX,
		sumSqDev:   sumSqDevAVX,
		normAffine: normAffineAVX,
		dw3s1:      dwRow3s1AVX,
		dw3s2:      dwRow3s2AVX,
		dwPlane3s1: dwPlane3s1AVX,
		dwPlane3s2: dwPlane3s2AVX,
	}
}()

// fmaPeak runs n rounds of 12 independent FMAs; false if there is no
// assembly to run.
func fmaPeak(n int) bool {
	if asmKernels == nil {
		return false
	}
	fmaPeakAVX(n)
	return true
}
