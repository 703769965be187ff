package quantize

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"
	"unsafe"

	"github.com/onnxslim/onnxslim/onnx"
)

// lazyInt4Min is the float32 weight size from which mode=int4 leaves the
// packed weight and its block scales as lazy payloads (both then at least
// onnx.SpillMin for blocks of up to 32): the save reads the float32 weight
// once and writes int4 and scales, instead of the pass writing them to the
// spill file and the save copying them from there. A variable for tests.
var lazyInt4Min int64 = 32 * onnx.SpillMin

// int4SegElems is the number of elements int4Job.run quantizes at a time
// (a variable for tests).
var int4SegElems = 8 << 20

// int4Job is the blocked int4 quantization of one weight, made as the
// save streams it: the packed weight's payload computes the scales along
// the way and keeps them for the scale tensor's payload, written next;
// asked in another order, either one reads the weight again. The bytes
// are quantBlocked's and int4Tensor's.
type int4Job struct {
	src         *onnx.Tensor
	dims        []int64
	axis, block int
	outer, dim  int
	inner, sdim int
	mu          sync.Mutex
	scales      []byte // kept by the weight's payload for the scales' one
}

func newInt4Job(src *onnx.Tensor, dims []int64, axis, block int) *int4Job {
	dim, inner := axisLayout(dims, axis)
	j := &int4Job{src: src, dims: dims, axis: axis, block: block, dim: dim, inner: inner, sdim: (dim + block - 1) / block}
	if n := src.NumElements(); dim*inner > 0 {
		j.outer = int(n) / (dim * inner)
	}
	return j
}

func (j *int4Job) scaleDims() []int64 {
	sdims := append([]int64(nil), j.dims...)
	sdims[j.axis] = int64(j.sdim)
	return sdims
}

// run reads the weight and calls f with each run of whole blocks along
// the axis within one outer index (rows r0… of slab o), quantized: q and
// its scales, in the order of the tensors' elements.
func (j *int4Job) run(f func(q []int8, scales []float32) error) error {
	rowElems := j.inner
	// Up to int4SegElems elements a segment, at least one block of rows.
	rowsPer := max(j.block, int4SegElems/max(1, rowElems)/j.block*j.block)
	stage := make([]float32, 0, rowsPer*rowElems)
	row := 0 // row (along axis) of stage[0] within its slab
	flush := func(final bool) error {
		for len(stage) > 0 {
			rows := min(j.dim-row, rowsPer)
			if len(stage) < rows*rowElems {
				if !final {
					return nil
				}
				return fmt.Errorf("int4: weight ends inside a block")
			}
			seg := stage[:rows*rowElems]
			q, s, _ := quantBlocked(seg, []int64{int64(rows), int64(rowElems)}, 0, j.block)
			if err := f(q, s); err != nil {
				return err
			}
			stage = stage[:copy(stage, stage[len(seg):])]
			if row += rows; row == j.dim {
				row = 0
			}
		}
		return nil
	}
	err := onnx.ReadChunks(j.src, 4, func(b []byte) error {
		x := onnx.Float32View(b)
		for len(x) > 0 {
			k := copy(stage[len(stage):cap(stage)], x)
			stage, x = stage[:len(stage)+k], x[k:]
			if err := flush(false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush(true)
}

// weightPayload is the packed int4 weight.
type int4WeightPayload struct{ j *int4Job }

func (p int4WeightPayload) Len() int64 { return (p.j.src.NumElements() + 1) / 2 }

func (p int4WeightPayload) WriteTo(w io.Writer) (int64, error) {
	j := p.j
	var total int64
	var scales []byte
	keep := int64(j.outer*j.sdim*j.inner)*4 <= 64<<20
	var out []byte
	var odd []int8 // an element left over from the previous run (odd count)
	err := j.run(func(q []int8, s []float32) error {
		if keep {
			scales = append(scales, float32Bytes(s)...)
		}
		if len(odd) > 0 {
			q = append(odd, q...) // rare: an odd number of elements per run
			odd = nil
		}
		if len(q)%2 == 1 {
			odd = []int8{q[len(q)-1]}
			q = q[:len(q)-1]
		}
		if cap(out) < len(q)/2 {
			out = make([]byte, len(q)/2)
		}
		out = out[:len(q)/2]
		eachChunk(len(out), func(b0, b1 int) { packInt4(out[b0:b1], q[2*b0:2*b1]) })
		n, err := w.Write(out)
		total += int64(n)
		return err
	})
	if err == nil && len(odd) > 0 {
		var last [1]byte
		packInt4(last[:], odd)
		n, werr := w.Write(last[:])
		total, err = total+int64(n), werr
	}
	if err == nil && keep {
		j.mu.Lock()
		j.scales = scales
		j.mu.Unlock()
	}
	return total, err
}

// int4ScalePayload is the weight's block scales (float32).
type int4ScalePayload struct{ j *int4Job }

func (p int4ScalePayload) Len() int64 { return int64(p.j.outer*p.j.sdim*p.j.inner) * 4 }

func (p int4ScalePayload) WriteTo(w io.Writer) (int64, error) {
	j := p.j
	j.mu.Lock()
	kept := j.scales
	j.scales = nil
	j.mu.Unlock()
	if kept != nil {
		n, err := w.Write(kept)
		return int64(n), err
	}
	var total int64
	err := j.run(func(_ []int8, s []float32) error {
		n, err := w.Write(float32Bytes(s))
		total += int64(n)
		return err
	})
	return total, err
}

// float32Bytes is s's little-endian bytes.
func float32Bytes(s []float32) []byte {
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 4*len(s))
	}
	b := make([]byte, 4*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}
