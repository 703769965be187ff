package interp

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"

	"github.com/onnxslim/onnxslim/onnx"
)

type bytesPayload []byte

func (p bytesPayload) Len() int64                         { return int64(len(p)) }
func (p bytesPayload) WriteTo(w io.Writer) (int64, error) { return bytes.NewReader(p).WriteTo(w) }

// TestLoadConstMatchesFromONNX: the per-run decoding of a large model's
// weights gives what FromONNX gives, for every stored type (4-bit ones of
// odd length, float32 at an unaligned offset) and for a lazy payload,
// which it makes without keeping.
func TestLoadConstMatchesFromONNX(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	random := func(n int) []byte {
		b := make([]byte, n+1)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b[1:] // unaligned for every type wider than a byte
	}
	ctx := &Ctx{opts: &Options{MaxMemory: DefaultMaxMemory}}
	for _, dt := range []onnx.DataType{onnx.Float, onnx.Float16, onnx.BFloat16, onnx.Uint16, onnx.Int8, onnx.Uint8,
		onnx.Int4, onnx.Uint4, onnx.Int64, onnx.Int32, onnx.Double, onnx.Float8E4M3FN} {
		for _, n := range []int64{1, 7, 1000} {
			for _, lazy := range []bool{false, true} {
				raw := random(int(dt.RawSize(n)))
				var c *onnx.Tensor
				if lazy {
					c = onnx.NewLazyTensor("w", dt, []int64{n}, bytesPayload(raw))
				} else {
					c = onnx.NewTensor("w", dt, []int64{n}, raw)
				}
				got, err := loadConst(ctx, c)
				if err != nil {
					t.Fatalf("%s ×%d lazy %v: %v", dt, n, lazy, err)
				}
				if lazy && !c.IsLazy() {
					t.Errorf("%s ×%d: the lazy payload was kept", dt, n)
				}
				want, err := FromONNX(onnx.NewTensor("w", dt, []int64{n}, append([]byte(nil), raw...)))
				if err != nil {
					t.Fatal(err)
				}
				if got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) || reflect.TypeOf(got.Data) != reflect.TypeOf(want.Data) ||
					!bytes.Equal(sliceBytes(got.Data), sliceBytes(want.Data)) { // NaNs bit for bit
					t.Fatalf("%s ×%d lazy %v: %v %v, want %v %v", dt, n, lazy, got, got.Data, want, want.Data)
				}
			}
		}
	}
}

// sliceBytes is the memory of a slice.
func sliceBytes(x any) []byte {
	v := reflect.ValueOf(x)
	if v.Len() == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(v.UnsafePointer()), v.Len()*int(v.Type().Elem().Size()))
}

// TestWeightDecodingThreads: a large weight's per-run decoding — 4-bit
// unpacking and blocked dequantization, with and without zero points, of
// odd lengths — gives on two threads the bits it gives on one (and
// unpacking what FromONNX gives).
func TestWeightDecodingThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	ctx := func(threads int) *Ctx { return &Ctx{opts: &Options{MaxMemory: DefaultMaxMemory, Threads: threads}} }
	const rows, cols, block = 1030, 1027, 32 // over parallelMin elements
	for _, dt := range []onnx.DataType{onnx.Int4, onnx.Uint4} {
		raw := make([]byte, dt.RawSize(rows*cols))
		for i := range raw {
			raw[i] = byte(r.IntN(256))
		}
		c := onnx.NewTensor("w", dt, []int64{rows, cols}, raw)
		want, err := FromONNX(c)
		if err != nil {
			t.Fatal(err)
		}
		x, err := loadConst(ctx(2), c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sliceBytes(x.Data), sliceBytes(want.Data)) {
			t.Fatalf("%s: unpacked on two threads differs from FromONNX", dt)
		}
		nb := (rows + block - 1) / block
		s, z := Make(onnx.Float, nb, cols), Make(dt, nb, cols)
		for i := range s.Floats() {
			s.Floats()[i] = float32(r.ExpFloat64() / 100)
			bytesOf(z)[i] = byte(r.IntN(8))
		}
		s.Floats()[5] = float32(math.NaN())
		for _, zp := range []*Tensor{nil, z} {
			var outs [2][]byte
			for i, threads := range []int{1, 2} {
				y, ok := dequantizeBlocked(ctx(threads), x, s, zp, 0, block, onnx.Undefined)
				if !ok {
					t.Fatalf("%s: the blocked path did not apply", dt)
				}
				outs[i] = sliceBytes(y.Data)
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Errorf("%s (zero points %v): dequantized on two threads differs from one", dt, zp != nil)
			}
		}
	}
}
