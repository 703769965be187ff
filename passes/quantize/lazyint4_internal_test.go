package quantize

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestInt4JobMatchesEager: the streamed int4 quantization gives
// quantBlocked's scales and int4Tensor's packing on shapes with partial
// blocks, odd element counts, several slabs and segments that cut a slab
// (NaN, ±0 and huge values included), with the scales kept by the weight's
// payload or computed on their own.
func TestInt4JobMatchesEager(t *testing.T) {
	defer func(n int) { int4SegElems = n }(int4SegElems)
	int4SegElems = 200
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		dims        []int64
		axis, block int
	}{
		{[]int64{70, 3}, 0, 32},
		{[]int64{3, 77, 5}, 1, 32},
		{[]int64{2, 64, 7}, 1, 16},
		{[]int64{5, 9}, 1, 4},
		{[]int64{1, 33}, 1, 32},
		{[]int64{70, 4}, 0, 32}, // even rows: quantized and packed in one step
		{[]int64{3, 77, 6}, 1, 32},
		{[]int64{2, 64, 10}, 1, 16},
	} {
		n := int(onnx.NewTensor("", onnx.Float, tc.dims, nil).NumElements())
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		x[0], x[n/2], x[n-1] = float32(math.NaN()), float32(math.Copysign(0, -1)), 1e30
		qv, s, sdims := quantBlocked(x, tc.dims, tc.axis, tc.block)
		wantQ := int4Tensor(tc.dims, qv).Raw
		wantS := float32Tensor(sdims, s).Raw
		for _, order := range []string{"weight first", "scales first"} {
			j := newInt4Job(onnx.NewFloatTensor("", tc.dims, x), tc.dims, tc.axis, tc.block)
			var gotQ, gotS bytes.Buffer
			if order == "scales first" {
				if _, err := (int4ScalePayload{j}).WriteTo(&gotS); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := (int4WeightPayload{j}).WriteTo(&gotQ); err != nil {
				t.Fatal(err)
			}
			if order == "weight first" {
				if _, err := (int4ScalePayload{j}).WriteTo(&gotS); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(gotQ.Bytes(), wantQ) || int64(gotQ.Len()) != (int4WeightPayload{j}).Len() {
				t.Errorf("%v axis %d block %d, %s: packed weight differs", tc.dims, tc.axis, tc.block, order)
			}
			if !bytes.Equal(gotS.Bytes(), wantS) || int64(gotS.Len()) != (int4ScalePayload{j}).Len() {
				t.Errorf("%v axis %d block %d, %s: scales differ", tc.dims, tc.axis, tc.block, order)
			}
			if got := j.scaleDims(); !slices.Equal(got, sdims) {
				t.Errorf("scale dims %v, want %v", got, sdims)
			}
		}
	}
}

// TestInt4JobAcrossPieces: a weight larger than one of onnx.ReadChunks's
// pieces, in segments that do not divide a piece (some quantized where they
// lie, some gathered across two pieces), gives quantBlocked's bytes.
func TestInt4JobAcrossPieces(t *testing.T) {
	defer func(n int) { int4SegElems = n }(int4SegElems)
	rng := rand.New(rand.NewPCG(7, 8))
	dims := []int64{2100, 1024} // 8.2 MiB of float32: two pieces
	x := make([]float32, 2100*1024)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	x[onnx.ChunkBytes/4-1], x[onnx.ChunkBytes/4] = float32(math.NaN()), -3e30 // either side of the pieces' edge
	qv, s, sdims := quantBlocked(x, dims, 0, 32)
	wantQ, wantS := int4Tensor(dims, qv).Raw, float32Tensor(sdims, s).Raw
	for _, seg := range []int{onnx.ChunkBytes / 4, 300 * 1024} {
		int4SegElems = seg
		j := newInt4Job(onnx.NewFloatTensor("", dims, x), dims, 0, 32)
		var gotQ, gotS bytes.Buffer
		if _, err := (int4WeightPayload{j}).WriteTo(&gotQ); err != nil {
			t.Fatal(err)
		}
		if _, err := (int4ScalePayload{j}).WriteTo(&gotS); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gotQ.Bytes(), wantQ) || !bytes.Equal(gotS.Bytes(), wantS) {
			t.Errorf("segments of %d elements: the packed weight or scales differ from quantBlocked's", seg)
		}
	}
}

// BenchmarkInt4Weight: a 2048×8192 float32 weight in memory quantized to
// int4 in blocks of 32 along its first axis and packed, as the save
// streams it (bytes/s of the float32 weight): fused (BlockQuantI4Rows, the
// path of even rows) against quantBlocked then packInt4 (odd rows).
func BenchmarkInt4Weight(b *testing.B) {
	dims := []int64{2048, 8192}
	x := make([]float32, dims[0]*dims[1])
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	src := onnx.NewFloatTensor("", dims, x)
	b.Run("fused", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			j := newInt4Job(src, dims, 0, 32)
			if _, err := (int4WeightPayload{j}).WriteTo(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("two-step", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		var out []byte
		for b.Loop() {
			j := newInt4Job(src, dims, 0, 32)
			err := j.run(func(q []int8, _ []float32) error {
				out = slices.Grow(out[:0], len(q)/2)[:len(q)/2]
				eachChunk(len(out), func(b0, b1 int) { packInt4(out[b0:b1], q[2*b0:2*b1]) })
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
