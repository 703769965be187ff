//go:build amd64 && !purego

package simd

import "golang.org/x/sys/cpu"

// asmLevels are the assembly kernel sets this CPU can run, narrowest first.
var asmLevels = func() []*kernelSet {
	var out []*kernelSet
	for _, k := range []*kernelSet{avx2Kernels, avx512Kernels} {
		if k != nil {
			out = append(out, k)
		}
	}
	return out
}()

// asmKernels is the widest assembly level, nil without AVX2 and FMA.
var asmKernels = func() *kernelSet {
	if len(asmLevels) == 0 {
		return nil
	}
	return asmLevels[len(asmLevels)-1]
}()

// avx512Kernels is the AVX2 set with the kernels that have a zmm form
// (GEMM over two panels, the depthwise kernels, pooling, the FMA peak); nil
// unless the CPU (and OS, which cpu checks) has AVX-512 F, BW, DQ and VL.
var avx512Kernels = func() *kernelSet {
	x := cpu.X86
	if avx2Kernels == nil || !x.HasAVX512F || !x.HasAVX512BW || !x.HasAVX512DQ || !x.HasAVX512VL {
		return nil
	}
	k := *avx2Kernels
	k.name = "avx512"
	k.gemm2 = [mr + 1]func(int, *float32, *float32, int, *float32, int, bool){nil, gemm1x32AVX512, gemm2x32AVX512, gemm3x32AVX512, gemm4x32AVX512, gemm5x32AVX512, gemm6x32AVX512}
	k.dwTaps = dwTapsAVX512
	k.scShClipRows, k.scShRows = scaleShiftClipRowsAVX512, scaleShiftRowsAVX512
	k.tanh, k.erf, k.gelu = tanhAVX512, erfAVX512, geluAVX512
	k.exp, k.sigmoid, k.log = expAVX512, sigmoidAVX512, logAVX512
	k.sin, k.cos = sinAVX512, cosAVX512
	k.round, k.floor, k.ceil = roundAVX512, floorAVX512, ceilAVX512
	k.sqrt, k.abs = sqrtAVX512, absAVX512
	k.sumTaps = sumTapsAVX512
	k.deint = deinterleaveAVX512
	k.padRows = padRowsAVX512
	k.add, k.sub, k.mul, k.div = addAVX512, subAVX512, mulAVX512, divAVX512
	k.axpy8 = axpy8AVX512
	k.maxSkipNaN = maxSkipNaNAVX512
	k.biasClip = biasClipAVX512
	k.avg2x2, k.max2x2 = avg2x2AVX512, max2x2AVX512
	k.dw3s1, k.dw3s2 = dwRow3s1AVX512, dwRow3s2AVX512
	k.dwPlane3s1, k.dwPlane3s2 = dwPlane3s1AVX512, dwPlane3s2AVX512
	k.dwDirect3s1, k.dwDirect3s2 = dwDirect3s1AVX512, dwDirect3s2AVX512
	k.dwcIn, k.dwcOut, k.dwcLanes = dwcInAVX512, dwcOutAVX512, 16
	k.gemm12 = gemm12x32AVX512
	k.rowPanels = true
	k.gemm12x16 = gemm12x16AVX512
	k.gemmRows = [mr + 1]func(int, *float32, *float32, int, *float32, int, bool){nil, gemm1x32RowsAVX512, gemm2x32RowsAVX512, gemm3x32RowsAVX512, gemm4x32RowsAVX512, gemm5x32RowsAVX512, gemm6x32RowsAVX512}
	k.gemm12Rows = gemm12x32RowsAVX512
	k.gemmTaps = [mr + 1]func(int, *float32, *float32, int, *int32, *float32, int, bool){nil, gemm1x32TapsAVX512, gemm2x32TapsAVX512, gemm3x32TapsAVX512, gemm4x32TapsAVX512, gemm5x32TapsAVX512, gemm6x32TapsAVX512}
	k.gemm12Taps = gemm12x32TapsAVX512
	k.gemmSegs[2] = [mr + 1]segsKernel{nil, gemm1x32SegsAVX512, gemm2x32SegsAVX512, gemm3x32SegsAVX512, gemm4x32SegsAVX512, gemm5x32SegsAVX512, gemm6x32SegsAVX512}
	k.gemmSegs[3] = [mr + 1]segsKernel{nil, gemm1x32Segs3AVX512, gemm2x32Segs3AVX512, gemm3x32Segs3AVX512, gemm4x32Segs3AVX512, gemm5x32Segs3AVX512, gemm6x32Segs3AVX512}
	k.gemm12Segs = [maxRuns + 1]segs12Kernel{2: gemm12x32SegsAVX512, 3: gemm12x32Segs3AVX512}
	k.gemmTail[2], k.gemmTailRows[2], k.gemmTailTaps[2] = gemm8x32AVX512, gemm8x32RowsAVX512, gemm8x32TapsAVX512
	k.gemmTailSegs[2] = [maxRuns + 1]segs12Kernel{2: gemm8x32SegsAVX512, 3: gemm8x32Segs3AVX512}
	k.gemmTail[4], k.gemmTailRows[4], k.gemmTailTaps[4] = gemm10x32AVX512, gemm10x32RowsAVX512, gemm10x32TapsAVX512
	k.gemmTailSegs[4] = [maxRuns + 1]segs12Kernel{2: gemm10x32SegsAVX512, 3: gemm10x32Segs3AVX512}
	k.packA6 = packA6AVX512
	k.segRows = segRowsAVX512
	k.maxRows = maxRowsAVX512
	k.quantU8, k.quantI8 = quantizeU8AVX512, quantizeI8AVX512
	k.quantPackI4 = quantPackI4Of512
	k.peak, k.peakFlops = fmaPeakAVX512, 384
	if x.HasAVX512VNNI {
		k.gemmU8I8, k.i8name = gemmU8I8VNNI, "avx512-vnni"
		k.gemvU8I8 = gemvU8I8VNNI
		if x.HasAVX512VBMI {
			k.dwQ8VNNI = dwQ8VNNI
		}
	}
	return &k
}()

// avx2Kernels is nil on CPUs without AVX2 and FMA (cpu also checks that the
// OS saves YMM state).
var avx2Kernels = func() *kernelSet {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	f16Sat := float16SatBlocks
	f16s, fromF16s := float16sBlocks, fromFloat16sBlocks
	if cpu.X86.HasF16C {
		f16s, fromF16s = float16sAVX, fromFloat16sAVX
	}
	if cpu.X86.HasF16C && cpu.X86.HasPOPCNT {
		f16Sat = float16SatAVX
	}
	return &kernelSet{
		name:              "avx2",
		gemm:              [mr + 1]func(int, *float32, *float32, *float32, int, bool){nil, gemm1x16AVX, gemm2x16AVX, gemm3x16AVX, gemm4x16AVX, gemm5x16AVX, gemm6x16AVX},
		packRow:           packRowAVX,
		gemmCol:           [colPanels + 1]func(int, *float32, int, *float32, *float32){nil, gemmCol1AVX, gemmCol2AVX, gemmCol3AVX, gemmCol4AVX, gemmCol5AVX, gemmCol6AVX, gemmCol7AVX, gemmCol8AVX},
		packA6:            packA6Go,
		gatherRows:        gatherRowsAVX,
		copyRows:          copyRowsAVX,
		quantU8:           quantizeU8AVX,
		quantI8:           quantizeI8AVX,
		dequantU8:         dequantizeU8AVX,
		dequantI8:         dequantizeI8AVX,
		widenI4:           widenI4AVX,
		widenU4:           widenU4AVX,
		maxSkipNaN:        maxSkipNaNAVX,
		maxAbs:            maxAbsAVX,
		add:               addAVX,
		sub:               subAVX,
		mul:               mulAVX,
		div:               divAVX,
		divScalar:         divScalarAVX,
		scalarDiv:         scalarDivAVX,
		axpy:              axpyAVX,
		axpy8:             axpy8AVX,
		prelu:             preluAVX,
		leaky:             leakyAVX,
		scaleShift:        scaleShiftAVX,
		biasClip:          biasClipAVX,
		scShClip:          scaleShiftClipAVX,
		scShClipRows:      scaleShiftClipRowsOf(scaleShiftClipAVX),
		scShRows:          scaleShiftRowsOf(scaleShiftAVX),
		exp:               expAVX,
		log:               logAVX,
		sin:               sinAVX,
		round:             roundAVX,
		floor:             floorAVX,
		ceil:              ceilAVX,
		cos:               cosAVX,
		sqrt:              sqrtAVX,
		abs:               absAVX,
		sigmoid:           sigmoidAVX,
		tanh:              tanhAVX,
		erf:               erfAVX,
		gelu:              geluAVX,
		sum:               sumAVX,
		dot:               dotAVX,
		max:               maxAVX,
		minMax:            minMaxAVX,
		expSubSum:         expSubSumAVX,
		sumSqDev:          sumSqDevAVX,
		normAffine:        normAffineAVX,
		dw3s1:             dwRow3s1AVX,
		dw3s2:             dwRow3s2AVX,
		dwPlane3s1:        dwPlane3s1AVX,
		dwPlane3s2:        dwPlane3s2AVX,
		gemm2:             [mr + 1]func(int, *float32, *float32, int, *float32, int, bool){nil, gemm2Of(gemm1x16AVX), gemm2Of(gemm2x16AVX), gemm2Of(gemm3x16AVX), gemm2Of(gemm4x16AVX), gemm2Of(gemm5x16AVX), gemm2Of(gemm6x16AVX)},
		dwTaps:            dwTapsAVX,
		dwcIn:             dwcInAVX,
		dwcOut:            dwcOutAVX,
		dwcLanes:          8,
		sumTaps:           sumTapsAVX,
		evens:             evensAVX,
		deint:             deinterleaveAVX,
		transpose8:        transpose8AVX,
		padRows:           padRowsGo,
		f16Sat:            f16Sat,
		f16s:              f16s,
		fromF16s:          fromF16s,
		blockQuantI4:      blockQuantI4AVX,
		quantPackI4:       quantPackI4AVX,
		gemm12:            gemm12Of(gemm2Of(gemm6x16AVX)),
		gemm12x16:         gemm12x16Of(gemm6x16AVX),
		gemmRows:          [mr + 1]func(int, *float32, *float32, int, *float32, int, bool){nil, rowsPairOf(gemm1x16RowsAVX), rowsPairOf(gemm2x16RowsAVX), rowsPairOf(gemm3x16RowsAVX), rowsPairOf(gemm4x16RowsAVX), rowsPairOf(gemm5x16RowsAVX), rowsPairOf(gemm6x16RowsAVX)},
		gemm12Rows:        gemm12Of(rowsPairOf(gemm6x16RowsAVX)),
		peak:              fmaPeakAVX,
		peakFlops:         192,
		gemmU8I8:          gemmU8I8AVX2,
		packU8x4:          packU8x4AVX,
		colSumsU8:         colSumsU8AVX2,
		i32ScaleShiftClip: i32ScaleShiftClipAVX,
		i8name:            "avx2",
	}
}()

// deinterleaveAVX is ks.deint at the AVX2 level: evensAVX for each phase in
// blocks of eight (the odd one from src[1:], one block short when that
// would read past the pairs), the rest in Go.
func deinterleaveAVX(ev, od, src []float32) {
	n := len(od)
	if n == 0 {
		return
	}
	ev, src = ev[:n], src[:2*n]
	ne, no := n&^7, (n-1)&^7
	evensAVX(ev[:ne], src)
	evensAVX(od[:no], src[1:])
	for i := ne; i < n; i++ {
		ev[i] = src[2*i]
	}
	for i := no; i < n; i++ {
		od[i] = src[2*i+1]
	}
}

// quantPackI4Of512 is ks.quantPackI4 at the AVX-512 level: sixteen
// elements a step on zmm, then a last eight on ymm.
func quantPackI4Of512(dst []byte, x, s []float32, r []float64) {
	n := len(x) &^ 15
	quantPackI4AVX512(dst, x[:n], s, r)
	quantPackI4AVX(dst[n/2:], x[n:], s[n:], r[n:])
}
