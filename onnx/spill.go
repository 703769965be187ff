package onnx

import (
	"os"
	"sync"
)

// SpillMin is the payload size from which Spill moves a tensor to disk.
const SpillMin = 1 << 20

var spill struct {
	sync.Mutex
	f    *os.File
	off  int64
	err  error
	tail []byte // an aligned block for the end of a direct write
}

// Spill moves a new tensor's raw payload of SpillMin bytes or more out of
// the Go heap into a nameless temporary file (in os.TempDir) mapped back
// in its place, so that a pass which makes tensor after tensor (quantize
// on a model larger than memory) keeps only the tensor in hand in memory:
// the file's pages are page cache, written back and dropped as the kernel
// needs. The values are unchanged. Smaller tensors, typed payloads, and
// systems without mappings are left as they are; so is a tensor when the
// temporary file cannot be written (it then simply stays in memory).
func Spill(t *Tensor) {
	if t == nil || len(t.Raw) < SpillMin {
		return
	}
	spill.Lock()
	defer spill.Unlock()
	if spill.err != nil {
		return
	}
	if spill.f == nil {
		if spill.f, spill.err = openSpillFile(); spill.err != nil {
			return
		}
	}
	off := (spill.off + pageSize - 1) / pageSize * pageSize
	if err := spillWrite(t.Raw, off); err != nil {
		return
	}
	view, err := mapRange(spill.f, off, int64(len(t.Raw)))
	if err != nil {
		return
	}
	spill.off = off + int64(len(t.Raw))
	registerMapping(mappedFile{data: view, f: spill.f, off: off}) // Save reads it back with direct I/O
	t.Raw = view
}

// openSpillFile opens the spill file: nameless where the system allows, else
// named and removed at once.
func openSpillFile() (*os.File, error) {
	dir := os.TempDir()
	if f, err := openAnonymous(dir); err == nil {
		return f, nil
	}
	f, err := os.CreateTemp(dir, "onnxslim-spill-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

// spillWrite writes b at off (a multiple of pageSize) in the spill file:
// with direct I/O where it can, so that gigabytes of spilled tensors cost
// neither a copy into the page cache nor the dirty-page throttling of a
// writer that outruns the disk (the pages are written back anyway: the
// file is larger than the cache lets dirty data stay); the last partial
// block goes through a zero-padded block of its own. b's start must be
// aligned for that (large Go allocations are); otherwise, or where direct
// I/O is refused, the write is cached.
func spillWrite(b []byte, off int64) error {
	head := len(b) &^ (directAlign - 1)
	if addrOf(b)%directAlign == 0 && off%directAlign == 0 && setDirect(spill.f, true) == nil {
		err := directWriteAt(b[:head], off)
		if err == nil && head < len(b) {
			if spill.tail == nil {
				spill.tail = alignedBuf(directAlign)
			}
			tail := spill.tail[:directAlign]
			clear(tail[copy(tail, b[head:]):])
			err = directWriteAt(tail, off+int64(head))
		}
		_ = setDirect(spill.f, false)
		if err == nil {
			return nil
		}
	}
	_, err := spill.f.WriteAt(b, off)
	return err
}

func directWriteAt(b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	_, err := spill.f.WriteAt(b, off)
	return err
}
