package dataset

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio/npy"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// npyArray is an open .npy file read lazily along axis 0, so data folders
// with many samples are streamed instead of held in memory.
type npyArray struct {
	path   string
	f      *os.File
	dtype  onnx.DataType
	order  binary.ByteOrder
	shape  []int
	offset int64 // where the data starts
}

var npyTypes = map[string]onnx.DataType{
	"f4": onnx.Float, "f8": onnx.Double, "f2": onnx.Float16, "i8": onnx.Int64, "i4": onnx.Int32,
	"i2": onnx.Int16, "i1": onnx.Int8, "u8": onnx.Uint64, "u4": onnx.Uint32, "u2": onnx.Uint16,
	"u1": onnx.Uint8, "b1": onnx.Bool,
}

// openNpy reads the header of a .npy file. The header is parsed by npyio; the
// data offset follows from the header length field of the format.
func openNpy(path string) (*npyArray, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := npy.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a .npy file: %w", path, err)
	}
	h := r.Header
	if h.Descr.Fortran {
		f.Close()
		return nil, fmt.Errorf("%s: Fortran-order arrays are not supported", path)
	}
	descr := strings.Trim(h.Descr.Type, `'"`) // npyio keeps the quotes of some headers
	if len(descr) != 3 {
		f.Close()
		return nil, fmt.Errorf("%s: unsupported dtype %q", path, descr)
	}
	dt, ok := npyTypes[descr[1:]]
	if !ok {
		f.Close()
		return nil, fmt.Errorf("%s: unsupported dtype %q", path, descr)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if descr[0] == '>' {
		order = binary.BigEndian
	}
	// magic (6) + version (2) + header length (2 bytes in v1, 4 in v2/v3).
	var pre [12]byte
	if _, err := f.ReadAt(pre[:], 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	off := int64(10) + int64(binary.LittleEndian.Uint16(pre[8:]))
	if h.Major >= 2 {
		off = 12 + int64(binary.LittleEndian.Uint32(pre[8:]))
	}
	a := &npyArray{path: path, f: f, dtype: dt, order: order, shape: h.Descr.Shape, offset: off}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if want := off + int64(numElements(a.shape))*elemSize(dt); st.Size() < want {
		f.Close()
		return nil, fmt.Errorf("%s: file is %d bytes, its header promises %d", path, st.Size(), want)
	}
	return a, nil
}

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func elemSize(dt onnx.DataType) int64 { return int64(dt.BitSize() / 8) }

func (a *npyArray) Close() error { return a.f.Close() }

// whole reads the whole array.
func (a *npyArray) whole() (*interp.Tensor, error) {
	if len(a.shape) == 0 {
		return a.rows(0, 1)
	}
	return a.rows(0, a.shape[0])
}

// rows reads rows [from, from+count) along axis 0 as a tensor.
func (a *npyArray) rows(from, count int) (*interp.Tensor, error) {
	shape := append([]int{}, a.shape...)
	if len(shape) == 0 {
		shape = []int{}
		count = 1
	} else {
		shape[0] = count
	}
	rowElems := 1
	for _, d := range a.shape[min(1, len(a.shape)):] {
		rowElems *= d
	}
	n := count * rowElems
	es := elemSize(a.dtype)
	buf := make([]byte, int64(n)*es)
	if _, err := a.f.ReadAt(buf, a.offset+int64(from*rowElems)*es); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", a.path, err)
	}
	t := interp.Make(a.dtype, shape...)
	o := a.order
	switch d := t.Data.(type) {
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(o.Uint32(buf[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(o.Uint64(buf[8*i:]))
		}
	case []int64:
		for i := range d {
			d[i] = int64(o.Uint64(buf[8*i:]))
		}
	case []uint64:
		for i := range d {
			d[i] = o.Uint64(buf[8*i:])
		}
	case []int32:
		for i := range d {
			d[i] = int32(o.Uint32(buf[4*i:]))
		}
	case []uint32:
		for i := range d {
			d[i] = o.Uint32(buf[4*i:])
		}
	case []int16:
		for i := range d {
			d[i] = int16(o.Uint16(buf[2*i:]))
		}
	case []uint16:
		for i := range d {
			d[i] = o.Uint16(buf[2*i:])
		}
	case []int8:
		for i := range d {
			d[i] = int8(buf[i])
		}
	case []uint8:
		copy(d, buf)
	case []bool:
		for i := range d {
			d[i] = buf[i] != 0
		}
	}
	return t, nil
}

// WriteNpy writes a tensor as a little-endian version-1.0 .npy file. npyio
// writes only 1-D slices or 2-D matrices, so the (simple) header is written here.
func WriteNpy(path string, t *interp.Tensor) error {
	code := ""
	for c, dt := range npyTypes {
		if dt == t.DType {
			code = c
		}
	}
	if code == "" || t.Kind != interp.KindTensor {
		return fmt.Errorf("%s: cannot write %s as .npy", path, t)
	}
	ot, err := interp.ToONNX("", t)
	if err != nil {
		return err
	}
	endian := "<"
	if code[1] == '1' {
		endian = "|"
	}
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := "(" + strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	shape += ")"
	hdr := fmt.Sprintf("{'descr': '%s%s', 'fortran_order': False, 'shape': %s, }", endian, code, shape)
	// Pad with spaces so that magic+version+length+header+newline is a multiple of 64.
	pad := 64 - (10+len(hdr)+1)%64
	hdr += strings.Repeat(" ", pad%64) + "\n"
	buf := make([]byte, 0, 10+len(hdr)+len(ot.Raw))
	buf = append(buf, "\x93NUMPY\x01\x00"...)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(hdr)))
	buf = append(buf, hdr...)
	buf = append(buf, ot.Raw...)
	return os.WriteFile(path, buf, 0o644)
}

// Int64Tensor wraps int64 values as a 1-D tensor (for labels.npy).
func Int64Tensor(v []int64) *interp.Tensor {
	return interp.FromSlice(onnx.Int64, []int{len(v)}, v)
}
