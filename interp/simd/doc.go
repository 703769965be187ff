// Package simd holds the interpreter's float32 compute kernels: a packed,
// cache-blocked SGEMM with a 6×16 register-blocked FMA micro-kernel, im2col
// into the packed GEMM layout, a direct depthwise convolution, elementwise
// ops, polynomial activations, reductions, softmax and layer norm.
//
// Each kernel has two twins: AVX2+FMA assembly (simd_amd64.s, generated with
// avo) and pure Go. The assembly twins are chosen once at init when the CPU
// has AVX2 and FMA (golang.org/x/sys/cpu); ONNXSLIM_NOSIMD=1 in the
// environment, the purego build tag or a non-amd64 GOARCH selects the Go
// twins. Accelerated reports which set is active.
//
// The assembly and its Go declarations (simd_amd64_stubs.go) are generated
// by the avo program in internal/asmgen, a separate module so that this
// module does not depend on avo. To regenerate, run `go generate` in this
// directory, or from the repository root:
//
//	cd interp/simd/internal/asmgen && go run . -out ../../simd_amd64.s -stubs ../../simd_amd64_stubs.go -pkg simd
//
// Benchmarks (bench_test.go) report GFLOP/s against the single-core FMA
// peak measured by the same binary; threads are a sub-benchmark parameter
// because `go test -cpu 1,2` runs every -cpu value at the larger GOMAXPROCS
// with b.Loop (golang/go#49980):
//
//	go test -run '^$' -bench 'FMAPeak|Sgemm|Conv3x3' ./interp/simd
//
// On a shared machine, best-GFLOP/s (fastest single iteration) and
// GFLOP/cpu-s (per CPU-second) show what an idle core does.
//
// Operands that repeat across calls can be packed once: PackA for a left
// operand (filters, weights), PackB for a right one; ConvPacked runs a
// convolution group with packed filters in cache-sized im2col chunks. Products
// of one or two rows skip packing altogether.
//
// Summation order is part of the contract: a convolution sums each output
// in ONNX Runtime's MLAS order (K blocks of ConvKBlock, one FMA chain per
// block, blocks added to C; depthwise taps as MLAS's M=1 kernel adds them),
// so float32 convolutions are bit-identical to ORT's CPU provider, which is
// what keeps quantized models from drifting apart between the two.
//
// Work is split over threads by Parallel, whose helper goroutines outlive a
// call and spin briefly for the next one (up to 100 µs inside an Awake
// span, which the interpreter opens for each model run): a network runs
// one parallel region per layer, and waking a sleeping thread for each
// costs more than a small layer's work. Work is cut into more pieces than
// threads, claimed one at a time, so a helper that starts late only takes
// fewer of them.
//
// Integer products (int8gemm.go) run on a u8·s8 → int32 GEMM: an 8×32
// micro-kernel on AVX-512 VNNI (VPDPBUSD), on AVX2 through 16-bit VPMADDWD
// (VPMADDUBSW's saturating pair sums would not be exact), and in pure Go;
// sums wrap modulo 2^32 at every level alike. I8Level names the kernel in
// use. ConvInteger, QLinearConv, MatMulInteger, QLinearMatMul and the
// interpreter's QDQ fusion (its default path) use it. That fusion's depthwise convolutions
// run bytes to bytes on DepthwiseQ8Requant (int8dwfused.go): zero-point
// bordered byte planes, consecutive outputs of a row as one vector, the
// requantization in registers; four taps a VPDPBUSD (after a VPERMB) on
// AVX-512 VNNI with VBMI, exact float sums elsewhere.
//
// All slices are row-major float32. Functions panic on inconsistent sizes
// rather than reading past a slice.
package simd

//go:generate sh -c "cd internal/asmgen && go run . -out ../../simd_amd64.s -stubs ../../simd_amd64_stubs.go -pkg simd"
