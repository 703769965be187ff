package quantize

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sync"
	"unsafe"

	"github.com/onnxslim/onnxslim/onnx"
)

// lazyInt4Min is the float32 weight size from which mode=int4 leaves the
// packed weight and its block scales as lazy payloads, when the scales
// come to onnx.LazyMin or more (so that the weight's payload hands them
// over): the save reads the float32 weight once and writes int4 and
// scales, instead of the pass writing them to the spill file and the save
// copying them from there. A variable for tests.
var lazyInt4Min int64 = 32 * onnx.LazyMin

// int4SegElems is the number of elements int4Job.run quantizes at a time:
// a piece of onnx.ReadChunks, so that a weight read from memory or the
// page cache (pieces of exactly that size) is quantized where it lies
// rather than copied into a buffer first (a variable for tests).
var int4SegElems = onnx.ChunkBytes / 4

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
	// scalesAsked: the scales' payload ran before the weight's did (a
	// reader other than the save), so the weight's keeps nothing.
	scalesAsked bool
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
	return j.segments(func(seg []float32) error {
		q, s, _ := quantBlocked(seg, []int64{int64(len(seg) / j.inner), int64(j.inner)}, 0, j.block)
		return f(q, s)
	})
}

// runPacked is run for a weight whose rows along the axis have an even
// number of elements: each run quantized and packed two to a byte in one
// step (simd.BlockQuantI4Rows), the same bytes as run's q packed. f must
// not keep packed or scales after it returns.
func (j *int4Job) runPacked(f func(packed []byte, scales []float32) error) error {
	b := segBufs.Get().(*segBuf)
	defer segBufs.Put(b)
	return j.segments(func(seg []float32) error {
		rows := len(seg) / j.inner
		b.packed = slices.Grow(b.packed[:0], len(seg)/2)[:len(seg)/2]
		b.scales = j.segScales(b.scales, rows)
		packBlockedInt4Into(b.packed, b.scales, seg, []int64{int64(rows), int64(j.inner)}, 0, j.block)
		return f(b.packed, b.scales)
	})
}

// segBuf is a segment's packed values and scales: reused from one payload
// to the next (a large model's verification makes every weight's payload
// in each run, and zeroing fresh buffers cost more than packing them).
type segBuf struct {
	packed []byte
	scales []float32
}

var segBufs = sync.Pool{New: func() any { return new(segBuf) }}

// segScales is buf resized for the scales of a segment of rows.
func (j *int4Job) segScales(buf []float32, rows int) []float32 {
	n := (rows + j.block - 1) / j.block * j.inner
	return slices.Grow(buf[:0], n)[:n]
}

// segments reads the weight and calls f with each run of whole blocks
// along the axis within one outer index, up to int4SegElems elements.
func (j *int4Job) segments(f func(seg []float32) error) error {
	rowElems := j.inner
	if rowElems == 0 || j.dim == 0 {
		return nil // no elements
	}
	// Up to int4SegElems elements a segment, at least one block of rows.
	rowsPer := max(j.block, int4SegElems/rowElems/j.block*j.block)
	row := 0 // the next segment's first row (along axis) within its slab
	emit := func(seg []float32) error {
		if err := f(seg); err != nil {
			return err
		}
		if row += len(seg) / rowElems; row == j.dim {
			row = 0
		}
		return nil
	}
	// A segment within one piece is quantized where it lies; one that
	// spans pieces is gathered in stage first.
	var stage []float32
	err := onnx.ReadChunks(j.src, 4, func(b []byte) error {
		x := onnx.Float32View(b)
		for len(x) > 0 {
			n := min(j.dim-row, rowsPer) * rowElems
			if len(stage) == 0 && len(x) >= n {
				if err := emit(x[:n]); err != nil {
					return err
				}
				x = x[n:]
				continue
			}
			if stage == nil {
				stage = make([]float32, 0, rowsPer*rowElems)
			}
			k := copy(stage[len(stage):n], x)
			stage, x = stage[:len(stage)+k], x[k:]
			if len(stage) == n {
				if err := emit(stage); err != nil {
					return err
				}
				stage = stage[:0]
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(stage) > 0 {
		return fmt.Errorf("int4: weight ends inside a block")
	}
	return nil
}

// weightPayload is the packed int4 weight.
type int4WeightPayload struct{ j *int4Job }

func (p int4WeightPayload) Len() int64 { return (p.j.src.NumElements() + 1) / 2 }

// Costly: worth making once for the save and the verification together
// (onnx.Model.ShareLazy).
func (int4WeightPayload) Costly() bool { return true }

func (p int4WeightPayload) WriteTo(w io.Writer) (int64, error) {
	j := p.j
	var total int64
	var scales []byte
	j.mu.Lock()
	keep := !j.scalesAsked && (int4ScalePayload{j}).Len() <= 64<<20
	j.mu.Unlock()
	if keep {
		scales = getKeepBuf(int((int4ScalePayload{j}).Len()))[:0]
	}
	if j.inner%2 == 0 {
		// Every run packs into whole bytes: quantized and packed in one.
		err := j.runPacked(func(packed []byte, s []float32) error {
			if keep {
				scales = append(scales, float32Bytes(s)...)
			}
			n, err := w.Write(packed)
			total += int64(n)
			return err
		})
		if err == nil && keep {
			j.keepScales(scales)
		}
		return total, err
	}
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
		j.keepScales(scales)
	}
	return total, err
}

// keepBufs holds the buffers the weight's payload keeps scales in for
// the scales' one, by capacity (a power of two), for reuse: filling fresh
// pages costs more than computing what goes in them.
var keepBufs [bits.UintSize]sync.Pool

// getKeepBuf returns a buffer of n bytes.
func getKeepBuf(n int) []byte {
	c := bits.Len(uint(max(n, 1) - 1))
	if b, ok := keepBufs[c].Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, 1<<c)
}

// putKeepBuf gives back a buffer of getKeepBuf.
func putKeepBuf(b []byte) {
	if c := bits.Len(uint(max(cap(b), 1) - 1)); cap(b) == 1<<c {
		keepBufs[c].Put(&b)
	}
}

// keepScales hands the scales to the scale tensor's payload.
func (j *int4Job) keepScales(scales []byte) {
	j.mu.Lock()
	j.scales = scales
	j.mu.Unlock()
}

// int4ScalePayload is the weight's block scales (float32).
type int4ScalePayload struct{ j *int4Job }

func (p int4ScalePayload) Len() int64 { return int64(p.j.outer*p.j.sdim*p.j.inner) * 4 }

// Costly: as the weight's (the scales alone read all of the weight).
func (int4ScalePayload) Costly() bool { return true }

func (p int4ScalePayload) WriteTo(w io.Writer) (int64, error) {
	j := p.j
	j.mu.Lock()
	kept := j.scales
	j.scales, j.scalesAsked = nil, kept == nil
	j.mu.Unlock()
	if kept != nil {
		n, err := w.Write(kept)
		putKeepBuf(kept)
		return int64(n), err
	}
	// Not handed over (asked first, or again): the scales alone.
	var total int64
	b := segBufs.Get().(*segBuf)
	defer segBufs.Put(b)
	err := j.segments(func(seg []float32) error {
		rows := len(seg) / j.inner
		b.scales = j.segScales(b.scales, rows)
		blockScalesInt4Into(b.scales, seg, []int64{int64(rows), int64(j.inner)}, 0, j.block)
		n, err := w.Write(float32Bytes(b.scales))
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
