//go:build !amd64 || purego

package simd

// asmKernels: no assembly twins on this platform or with the purego tag.
var asmKernels *kernelSet

var asmLevels []*kernelSet
