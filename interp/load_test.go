package interp

import (
	"bytes"
	"io"
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
