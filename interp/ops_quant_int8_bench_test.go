package interp

import (
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// BenchmarkConvIntegerI8 is one 64→64 3×3 ConvInteger on a 56×56 uint8
// input (tools/convint's layer), one thread.
func BenchmarkConvIntegerI8(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	xs, ws := []int{1, 64, 56, 56}, []int{64, 64, 3, 3}
	xv, wv := make([]uint8, prod(xs)), make([]uint8, prod(ws))
	for i := range xv {
		xv[i] = uint8(r.IntN(256))
	}
	for i := range wv {
		wv[i] = uint8(100 + r.IntN(56))
	}
	x, w := FromSlice(onnx.Uint8, xs, xv), FromSlice(onnx.Uint8, ws, wv)
	zp := FromSlice(onnx.Uint8, nil, []uint8{128})
	wa := windowAttrs{kernel: []int64{3, 3}, strides: []int64{1, 1}, pads: []int64{1, 1, 1, 1}, dilations: []int64{1, 1}}
	ctx := testCtx()
	wc := &prepacked{}
	for b.Loop() {
		if _, _, err := quantConv(ctx, wa, 1, x, zp, w, zp, wc); err != nil {
			b.Fatal(err)
		}
	}
}
