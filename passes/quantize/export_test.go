package quantize

// FoldConstDQ lets the tests evaluate quantized models without
// dequantizing constant weights on every run.
var FoldConstDQ = foldConstDQ

// SetLazyFP16Min sets the size from which mode=fp16 converts at save time
// and returns the previous one.
func SetLazyFP16Min(n int64) int64 {
	old := lazyFP16Min
	lazyFP16Min = n
	return old
}

// SetLazyInt4Min sets the size from which mode=int4 quantizes at save time
// and returns the previous one.
func SetLazyInt4Min(n int64) int64 {
	old := lazyInt4Min
	lazyInt4Min = n
	return old
}
