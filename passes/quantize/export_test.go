package quantize

// FoldConstDQ lets the tests evaluate quantized models without
// dequantizing constant weights on every run.
var FoldConstDQ = foldConstDQ
