package interp

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// FromONNX converts a constant tensor to a runtime tensor. Float32 payloads
// stored as raw_data are aliased, not copied (the result is read-only).
func FromONNX(t *onnx.Tensor) (*Tensor, error) {
	shape, err := dimsOf(t)
	if err != nil {
		return nil, err
	}
	n := numElements(shape)
	out := &Tensor{DType: t.DataType, Shape: shape}
	if t.DataType == onnx.String {
		if len(t.Strings) != n {
			return nil, fmt.Errorf("tensor %q: %d strings for %d elements", t.Name, len(t.Strings), n)
		}
		s := make([]string, n)
		for i, b := range t.Strings {
			s[i] = string(b)
		}
		out.Data = s
		return out, nil
	}
	raw, err := t.Data()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		out.Data, err = makeData(t.DataType, 0)
		return out, err
	}
	if int64(len(raw)) != t.DataType.RawSize(int64(n)) {
		return nil, fmt.Errorf("tensor %q: %d bytes of data for %d elements of %s", t.Name, len(raw), n, t.DataType)
	}
	out.Data, err = decodeRaw(t.DataType, raw, n)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return out, nil
}

// dimsOf returns t's dims as a shape, each checked.
func dimsOf(t *onnx.Tensor) ([]int, error) {
	shape := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		if d < 0 || d > math.MaxInt32*64 {
			return nil, fmt.Errorf("tensor %q: bad dimension %d", t.Name, d)
		}
		shape[i] = int(d)
	}
	return shape, nil
}

// runBytes is t's bytes for one run: those it holds (a view), or a lazy
// payload made into a buffer of the run rather than kept.
func runBytes(ctx *Ctx, t *onnx.Tensor) ([]byte, error) {
	var dst []byte
	if t.IsLazy() {
		dst = bytesOf(ctx.newRaw(onnx.Uint8, int(t.ByteSize())))
	}
	return t.ReadInto(dst)
}

// loadConst is FromONNX for a run that uses t once (a large model's weight
// under Options.NoPrepack): a lazy payload is made into a buffer of the
// run rather than kept, bytes the interpreter reads as they are stored are
// viewed, and 4-bit ones are unpacked into a buffer of the run. Nothing
// writes to the result: kernels reuse only buffers of the run, and a view
// is none.
func loadConst(ctx *Ctx, t *onnx.Tensor) (*Tensor, error) {
	raw, err := runBytes(ctx, t)
	if err != nil {
		return nil, err
	}
	shape, err := dimsOf(t)
	if err != nil {
		return nil, err
	}
	n := numElements(shape)
	if int64(len(raw)) != t.DataType.RawSize(int64(n)) {
		return nil, fmt.Errorf("%d bytes of data for %d elements of %s", len(raw), n, t.DataType)
	}
	out := &Tensor{DType: t.DataType, Shape: shape}
	var ok bool
	switch t.DataType {
	case onnx.Float:
		out.Data, ok = view[float32](raw, n)
	case onnx.Float16, onnx.BFloat16, onnx.Uint16:
		out.Data, ok = view[uint16](raw, n)
	case onnx.Int8:
		out.Data, ok = view[int8](raw, n)
	case onnx.Uint8:
		out.Data, ok = raw[:n], true
	case onnx.Int4, onnx.Uint4:
		u := ctx.newRaw(t.DataType, shape...)
		unpack4Threads(ctx, bytesOf(u), raw, t.DataType == onnx.Int4)
		return u, nil
	}
	if !ok {
		out.Data, err = decodeRaw(t.DataType, raw, n)
	}
	return out, err
}

// unpack4Threads is unpack4 in runs of whole 16-value steps, on every
// thread for a large weight.
func unpack4Threads(ctx *Ctx, dst, raw []byte, signed bool) {
	steps := len(dst) / 16
	threads := ctx.Threads()
	if len(dst) < parallelMin {
		threads = 1
	}
	simd.ParallelRuns(steps, threads, func(s0, s1 int) {
		hi := 16 * s1
		if s1 == steps {
			hi = len(dst)
		}
		unpack4(dst[16*s0:hi], raw[8*s0:], signed)
	})
}

// unpack4 widens packed 4-bit values (low nibble first) to a byte each,
// sign-extended when signed: sixteen values a step, eight to a 64-bit
// word (four bytes spread to one a 16-bit lane, the two nibbles of each
// lane to its two bytes), the rest one at a time.
func unpack4(dst, raw []byte, signed bool) {
	n := len(dst) &^ 15
	src := raw[:n/2]
	for i := 0; i+8 <= len(src); i += 8 {
		w := binary.LittleEndian.Uint64(src[i:])
		out := dst[2*i : 2*i+16]
		binary.LittleEndian.PutUint64(out, spread4(uint32(w), signed))
		binary.LittleEndian.PutUint64(out[8:], spread4(uint32(w>>32), signed))
	}
	unpack4Scalar(dst[n:], raw[n/2:], signed)
}

// spread4 is the eight 4-bit values of w (low nibble first) a byte each.
func spread4(w uint32, signed bool) uint64 {
	const lo, sign = 0x000F000F000F000F, 0x0808080808080808
	t := uint64(w)
	t = (t | t<<16) & 0x0000FFFF0000FFFF
	t = (t | t<<8) & 0x00FF00FF00FF00FF
	v := t&lo | (t>>4&lo)<<8
	if signed {
		v |= (v & sign >> 3) * 0xF0 // bit 3 set: the high four bits too
	}
	return v
}

// unpack4Scalar is unpack4 one value at a time.
func unpack4Scalar(dst, raw []byte, signed bool) {
	sh := byte(4) // shifted up and back: sign-extends or zero-extends
	for i := 0; i+1 < len(dst); i += 2 {
		b := raw[i/2]
		if signed {
			dst[i], dst[i+1] = byte(int8(b<<sh)>>sh), byte(int8(b)>>sh)
		} else {
			dst[i], dst[i+1] = b&0xF, b>>sh
		}
	}
	if len(dst)%2 == 1 {
		b := raw[len(dst)/2]
		if signed {
			dst[len(dst)-1] = byte(int8(b<<sh) >> sh)
		} else {
			dst[len(dst)-1] = b & 0xF
		}
	}
}

// decodesToView reports whether FromONNX(t) is a view of t's bytes rather
// than a copy: float32 and int64 raw data, aligned. (Strings, which have no
// bytes to view, count as views: they are decoded once.)
func decodesToView(t *onnx.Tensor) bool {
	if t.DataType == onnx.String {
		return true
	}
	size := map[onnx.DataType]uintptr{onnx.Float: 4, onnx.Int64: 8}[t.DataType]
	return size > 0 && len(t.Raw) > 0 && uintptr(unsafe.Pointer(&t.Raw[0]))%size == 0
}

// view reinterprets raw little-endian bytes as []T when aligned (no copy).
func view[T any](raw []byte, n int) ([]T, bool) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if len(raw) < n*size || uintptr(unsafe.Pointer(&raw[0]))%uintptr(unsafe.Alignof(zero)) != 0 {
		return nil, false
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&raw[0])), n), true
}

func decodeRaw(dt onnx.DataType, raw []byte, n int) (any, error) {
	le := binary.LittleEndian
	switch dt {
	case onnx.Float:
		if v, ok := view[float32](raw, n); ok {
			return v, nil
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out, nil
	case onnx.Double:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return out, nil
	case onnx.Int64:
		if v, ok := view[int64](raw, n); ok {
			return v, nil
		}
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
		return out, nil
	case onnx.Uint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(raw[8*i:])
		}
		return out, nil
	case onnx.Int32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(raw[4*i:]))
		}
		return out, nil
	case onnx.Uint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(raw[4*i:])
		}
		return out, nil
	case onnx.Int16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(raw[2*i:]))
		}
		return out, nil
	case onnx.Uint16, onnx.Float16, onnx.BFloat16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(raw[2*i:])
		}
		return out, nil
	case onnx.Int8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(raw[i])
		}
		return out, nil
	case onnx.Uint8, onnx.Float8E4M3FN, onnx.Float8E4M3FNUZ, onnx.Float8E5M2, onnx.Float8E5M2FNUZ, onnx.Float8E8M0:
		return append([]uint8(nil), raw[:n]...), nil
	case onnx.Bool:
		out := make([]bool, n)
		for i := range out {
			out[i] = raw[i] != 0
		}
		return out, nil
	case onnx.Uint4, onnx.Float4E2M1:
		out := make([]uint8, n)
		for i := range out {
			out[i] = (raw[i/2] >> (4 * uint(i%2))) & 0xF
		}
		return out, nil
	case onnx.Int4:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8((raw[i/2]>>(4*uint(i%2)))<<4) >> 4
		}
		return out, nil
	case onnx.Uint2:
		out := make([]uint8, n)
		for i := range out {
			out[i] = (raw[i/4] >> (2 * uint(i%4))) & 0x3
		}
		return out, nil
	case onnx.Int2:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8((raw[i/4]>>(2*uint(i%4)))<<6) >> 6
		}
		return out, nil
	case onnx.Complex64:
		out := make([]complex64, n)
		for i := range out {
			out[i] = complex(math.Float32frombits(le.Uint32(raw[8*i:])), math.Float32frombits(le.Uint32(raw[8*i+4:])))
		}
		return out, nil
	case onnx.Complex128:
		out := make([]complex128, n)
		for i := range out {
			out[i] = complex(math.Float64frombits(le.Uint64(raw[16*i:])), math.Float64frombits(le.Uint64(raw[16*i+8:])))
		}
		return out, nil
	}
	return nil, fmt.Errorf("data type %s is not supported", dt)
}

// ToONNX converts a runtime tensor to a constant tensor with raw_data.
func ToONNX(name string, t *Tensor) (*onnx.Tensor, error) {
	if t.Kind != KindTensor {
		return nil, fmt.Errorf("value %q is a %s, not a tensor", name, t)
	}
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	if s, ok := t.Data.([]string); ok {
		bs := make([][]byte, len(s))
		for i, x := range s {
			bs[i] = []byte(x)
		}
		return &onnx.Tensor{Name: name, DataType: onnx.String, Dims: dims, Strings: bs}, nil
	}
	n := t.Len()
	raw := make([]byte, t.DType.RawSize(int64(n)))
	le := binary.LittleEndian
	switch d := t.Data.(type) {
	case []float32:
		for i, v := range d[:n] {
			le.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	case []float64:
		for i, v := range d[:n] {
			le.PutUint64(raw[8*i:], math.Float64bits(v))
		}
	case []int64:
		for i, v := range d[:n] {
			le.PutUint64(raw[8*i:], uint64(v))
		}
	case []uint64:
		for i, v := range d[:n] {
			le.PutUint64(raw[8*i:], v)
		}
	case []int32:
		for i, v := range d[:n] {
			le.PutUint32(raw[4*i:], uint32(v))
		}
	case []uint32:
		for i, v := range d[:n] {
			le.PutUint32(raw[4*i:], v)
		}
	case []int16:
		for i, v := range d[:n] {
			le.PutUint16(raw[2*i:], uint16(v))
		}
	case []uint16:
		for i, v := range d[:n] {
			le.PutUint16(raw[2*i:], v)
		}
	case []bool:
		for i, v := range d[:n] {
			if v {
				raw[i] = 1
			}
		}
	case []complex64:
		for i, v := range d[:n] {
			le.PutUint32(raw[8*i:], math.Float32bits(real(v)))
			le.PutUint32(raw[8*i+4:], math.Float32bits(imag(v)))
		}
	case []complex128:
		for i, v := range d[:n] {
			le.PutUint64(raw[16*i:], math.Float64bits(real(v)))
			le.PutUint64(raw[16*i+8:], math.Float64bits(imag(v)))
		}
	case []int8:
		packSmall(raw, t.DType, n, func(i int) uint8 { return uint8(d[i]) })
	case []uint8:
		packSmall(raw, t.DType, n, func(i int) uint8 { return d[i] })
	default:
		return nil, fmt.Errorf("value %q: storage %T is not supported", name, t.Data)
	}
	return &onnx.Tensor{Name: name, DataType: t.DType, Dims: dims, Raw: raw}, nil
}

// packSmall writes 8-bit elements one per byte, and 4- and 2-bit ones packed LSB first.
func packSmall(raw []byte, dt onnx.DataType, n int, at func(int) uint8) {
	switch dt.BitSize() {
	case 4:
		for i := 0; i < n; i++ {
			raw[i/2] |= (at(i) & 0xF) << (4 * uint(i%2))
		}
	case 2:
		for i := 0; i < n; i++ {
			raw[i/4] |= (at(i) & 0x3) << (2 * uint(i%4))
		}
	default:
		for i := 0; i < n; i++ {
			raw[i] = at(i)
		}
	}
}

// Float16ToFloat32 converts IEEE half-precision bits to float32.
func Float16ToFloat32(h uint16) float32 { return simd.FromFloat16(h) }

// Float32ToFloat16 rounds a float32 to half precision (round to nearest
// even; NaN becomes sign|0x7E00). simd.Float16Sat converts slices.
func Float32ToFloat16(f float32) uint16 { return simd.Float16(f) }

// BFloat16ToFloat32 converts bfloat16 bits to float32.
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBFloat16 rounds a float32 to bfloat16 (round to nearest even).
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7FFFFFFF > 0x7F800000 {
		return uint16(b>>16) | 0x40 // quiet NaN
	}
	return uint16((b + 0x7FFF + (b>>16)&1) >> 16)
}

// AsFloat32 returns the elements of a float tensor (float32, float16, bfloat16,
// float64) as float32; float32 data is returned without copying.
func AsFloat32(t *Tensor) ([]float32, error) {
	switch d := t.Data.(type) {
	case []float32:
		return d, nil
	case []float64:
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = float32(v)
		}
		return out, nil
	case []uint16:
		out := make([]float32, len(d))
		switch t.DType {
		case onnx.Float16:
			simd.FromFloat16s(out, d)
		case onnx.BFloat16:
			for i, v := range d {
				out[i] = BFloat16ToFloat32(v)
			}
		default:
			return nil, fmt.Errorf("%s is not a float type", t.DType)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s is not a float type", t.DType)
}

// FromFloat32 builds a tensor of float type dt from float32 values, rounding
// to float16/bfloat16 as ONNX does when the computation was done in float32.
func FromFloat32(dt onnx.DataType, shape []int, v []float32) (*Tensor, error) {
	switch dt {
	case onnx.Float:
		return FromSlice(dt, shape, v), nil
	case onnx.Double, onnx.Float16, onnx.BFloat16:
		d, err := makeData(dt, len(v))
		if err != nil {
			return nil, err
		}
		storeFloat32(dt, d, v)
		return &Tensor{DType: dt, Shape: append([]int{}, shape...), Data: d}, nil
	}
	return nil, fmt.Errorf("%s is not a float type", dt)
}

// storeFloat32 rounds v into d, the storage of float type dt (float64,
// float16 or bfloat16 bits, or float32).
func storeFloat32(dt onnx.DataType, d any, v []float32) {
	switch d := d.(type) {
	case []float32:
		copy(d, v)
	case []float64:
		for i, x := range v {
			d[i] = float64(x)
		}
	case []uint16:
		if dt == onnx.Float16 {
			simd.Float16s(d, v)
			return
		}
		for i, x := range v {
			d[i] = Float32ToBFloat16(x)
		}
	}
}
