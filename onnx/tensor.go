package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// Tensor is a constant tensor (initializer, attribute value, test data).
//
// The payload is held as the file had it: Raw (raw_data, little-endian, sub-byte
// types packed), or one of the typed fields. Raw aliases the decoded buffer: it is
// never copied by decode or encode, so treat it as read-only and replace it to edit.
// Data() gives the payload as raw bytes whichever way it was stored.
type Tensor struct {
	Name      string
	DataType  DataType
	Dims      []int64
	DocString string
	Metadata  []StringPair

	Raw     []byte
	Floats  []float32 // float_data
	Int32s  []int32   // int32_data
	Int64s  []int64   // int64_data
	Doubles []float64 // double_data
	Uint64s []uint64  // uint64_data
	Strings [][]byte  // string_data

	// External describes data that lived outside the model file (location, offset,
	// length, checksum). After Load the bytes are in Raw and External is kept only
	// as a record; Save writes tensors inline unless asked for external data.
	External     []StringPair
	DataLocation int32
	Segment      *Segment

	lazy    *lazy // bytes made on demand (NewLazyTensor) while Raw is nil
	unknown []byte
}

// Segment is TensorProto.Segment (a chunk of a larger tensor).
type Segment struct{ Begin, End int64 }

// NumElements is the product of the dims (1 for a scalar).
func (t *Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// checkedElements multiplies dims, refusing negatives and overflow.
func checkedElements(dims []int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in %v", d, dims)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("dimensions %v overflow", dims)
		}
		n *= d
	}
	return n, nil
}

// ByteSize is the size of the payload in bytes (raw or typed, strings summed).
func (t *Tensor) ByteSize() int64 {
	if t.DataType == String {
		var n int64
		for _, s := range t.Strings {
			n += int64(len(s))
		}
		return n
	}
	if len(t.Raw) > 0 {
		return int64(len(t.Raw))
	}
	if t.Raw == nil && t.lazy != nil {
		return t.lazy.p.Len()
	}
	return t.DataType.RawSize(t.NumElements())
}

// Validate checks that the payload matches the dims and data type.
func (t *Tensor) Validate() error {
	if !t.DataType.Known() {
		return fmt.Errorf("unknown data type %d", int32(t.DataType))
	}
	n, err := checkedElements(t.Dims)
	if err != nil {
		return err
	}
	if t.DataType == String {
		if int64(len(t.Strings)) != n {
			return fmt.Errorf("has %d strings for dims %v (%d elements)", len(t.Strings), t.Dims, n)
		}
		return nil
	}
	// RawSize would overflow (and could then match an empty raw_data).
	if bits := int64(t.DataType.BitSize()); bits > 0 && n > math.MaxInt64/bits {
		return fmt.Errorf("dims %v of %s need more than 2^63 bits", t.Dims, t.DataType)
	}
	if t.DataLocation == externalLocation && t.Raw == nil {
		return nil // checked when the external data is loaded
	}
	want := t.DataType.RawSize(n)
	if t.Raw == nil && t.lazy != nil {
		if got := t.lazy.p.Len(); got != want {
			return fmt.Errorf("lazy payload has %d bytes, dims %v of %s need %d", got, t.Dims, t.DataType, want)
		}
		return nil
	}
	if t.Raw != nil || t.typedLen() == 0 {
		if n == 0 && len(t.Raw) == 0 {
			return nil
		}
		if int64(len(t.Raw)) != want {
			return fmt.Errorf("raw_data has %d bytes, dims %v of %s need %d", len(t.Raw), t.Dims, t.DataType, want)
		}
		return nil
	}
	got, per := t.typedLen(), t.elemsPerTypedItem()
	if int64(got)*per < n || int64(got) > (n+per-1)/per {
		return fmt.Errorf("typed data has %d items, dims %v of %s need %d", got, t.Dims, t.DataType, (n+per-1)/per)
	}
	return nil
}

func (t *Tensor) typedLen() int {
	return len(t.Floats) + len(t.Int32s) + len(t.Int64s) + len(t.Doubles) + len(t.Uint64s)
}

// elemsPerTypedItem: complex types use two items per element (returned as 1 with
// doubled counts handled by caller); sub-byte types pack 2 or 4 per int32.
func (t *Tensor) elemsPerTypedItem() int64 {
	switch t.DataType {
	case Int4, Uint4, Float4E2M1:
		return 2
	case Int2, Uint2:
		return 4
	case Complex64, Complex128:
		return 1 // two items per element; checked loosely
	}
	return 1
}

// Data returns the payload as little-endian raw bytes (sub-byte types packed),
// converting from the typed fields when the file used them. For Raw tensors it
// returns Raw itself (no copy). String tensors have no raw form: use Strings.
func (t *Tensor) Data() ([]byte, error) {
	if t.DataType == String {
		return nil, fmt.Errorf("tensor %q: string tensors have no raw form", t.Name)
	}
	if t.DataLocation == externalLocation && t.Raw == nil {
		return nil, fmt.Errorf("tensor %q: external data was not loaded (decode from a file with Load)", t.Name)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if t.Raw == nil && t.lazy != nil {
		b, err := t.lazy.bytes()
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		return b, nil
	}
	if t.Raw != nil || t.typedLen() == 0 {
		return t.Raw, nil
	}
	n := t.NumElements()
	out := make([]byte, t.DataType.RawSize(n))
	switch t.DataType {
	case Float, Complex64:
		for i, f := range t.Floats {
			if 4*i+4 <= len(out) {
				binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
			}
		}
	case Double, Complex128:
		for i, f := range t.Doubles {
			if 8*i+8 <= len(out) {
				binary.LittleEndian.PutUint64(out[8*i:], math.Float64bits(f))
			}
		}
	case Int64:
		for i, v := range t.Int64s {
			binary.LittleEndian.PutUint64(out[8*i:], uint64(v))
		}
	case Uint64:
		for i, v := range t.Uint64s {
			binary.LittleEndian.PutUint64(out[8*i:], v)
		}
	case Uint32:
		for i, v := range t.Uint64s {
			binary.LittleEndian.PutUint32(out[4*i:], uint32(v))
		}
	case Int32:
		for i, v := range t.Int32s {
			binary.LittleEndian.PutUint32(out[4*i:], uint32(v))
		}
	case Int16, Uint16, Float16, BFloat16:
		for i, v := range t.Int32s {
			binary.LittleEndian.PutUint16(out[2*i:], uint16(v))
		}
	case Int8, Uint8, Bool, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float8E8M0,
		Int4, Uint4, Float4E2M1, Int2, Uint2:
		// One item per byte: an element, or a packed pair/quad of sub-byte elements.
		for i, v := range t.Int32s {
			if i < len(out) {
				out[i] = byte(v)
			}
		}
	default:
		return nil, fmt.Errorf("tensor %q: typed data for %s is not supported", t.Name, t.DataType)
	}
	return out, nil
}

// NewTensor returns a tensor holding raw little-endian bytes.
func NewTensor(name string, dt DataType, dims []int64, raw []byte) *Tensor {
	if raw == nil {
		raw = []byte{}
	}
	return &Tensor{Name: name, DataType: dt, Dims: append([]int64{}, dims...), Raw: raw}
}

// NewFloatTensor returns a float32 tensor (data is copied).
func NewFloatTensor(name string, dims []int64, data []float32) *Tensor {
	raw := make([]byte, 4*len(data))
	if len(data) > 0 {
		// Go runs little-endian only on the platforms onnxslim builds for
		// (amd64, arm64): the bytes of a []float32 are its raw_data.
		copy(raw, unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data)))
	}
	return NewTensor(name, Float, dims, raw)
}

// NewInt64Tensor returns an int64 tensor.
func NewInt64Tensor(name string, dims []int64, data []int64) *Tensor {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return NewTensor(name, Int64, dims, raw)
}

// MakeFloatTensor returns a zeroed float32 tensor and its elements as a
// writable view of its raw_data, so a rewrite fills it without another copy.
func MakeFloatTensor(name string, dims []int64) (*Tensor, []float32) {
	n, err := checkedElements(dims)
	if err != nil {
		panic(err)
	}
	t := NewTensor(name, Float, dims, make([]byte, 4*n))
	return t, Float32View(t.Raw)
}

// Float32s returns a float32 tensor's elements without copying when it
// stores raw_data (the result must then not be modified).
func (t *Tensor) Float32s() ([]float32, error) {
	if t.DataType != Float {
		return nil, fmt.Errorf("tensor %q is %s, not float32", t.Name, t.DataType)
	}
	b, err := t.Data()
	if err != nil {
		return nil, err
	}
	return Float32View(b), nil
}

// AsFloat32 returns a float32 tensor's elements (copied).
func (t *Tensor) AsFloat32() ([]float32, error) {
	if t.DataType != Float {
		return nil, fmt.Errorf("tensor %q is %s, not float32", t.Name, t.DataType)
	}
	b, err := t.Data()
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(b)/4)
	copy(out, Float32View(b))
	return out, nil
}

// AsInt64 returns an integer tensor's elements widened to int64 (copied).
func (t *Tensor) AsInt64() ([]int64, error) {
	b, err := t.Data()
	if err != nil {
		return nil, err
	}
	n := t.NumElements()
	out := make([]int64, n)
	for i := range out {
		switch t.DataType {
		case Int64:
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		case Uint64:
			out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
		case Int32:
			out[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		case Uint32:
			out[i] = int64(binary.LittleEndian.Uint32(b[4*i:]))
		case Int16:
			out[i] = int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
		case Uint16:
			out[i] = int64(binary.LittleEndian.Uint16(b[2*i:]))
		case Int8:
			out[i] = int64(int8(b[i]))
		case Uint8, Bool:
			out[i] = int64(b[i])
		default:
			return nil, fmt.Errorf("tensor %q is %s, not an integer type", t.Name, t.DataType)
		}
	}
	return out, nil
}

// Float32View reinterprets little-endian raw bytes as float32 without copying
// when the buffer is suitably aligned (it is for buffers Go allocated), else copies.
func Float32View(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// Clone returns a copy whose payload slices are shared (payloads are read-only).
func (t *Tensor) Clone() *Tensor {
	c := *t
	c.Dims = append([]int64{}, t.Dims...)
	return &c
}
