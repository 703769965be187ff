package onnx

import (
	"os"
	"sync"
)

// SpillMin is the payload size from which Spill moves a tensor to disk.
const SpillMin = 1 << 20

var spill struct {
	sync.Mutex
	f   *os.File
	off int64
	err error
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
	if _, err := spill.f.WriteAt(t.Raw, off); err != nil {
		return
	}
	view, err := mapRange(spill.f, off, int64(len(t.Raw)))
	if err != nil {
		return
	}
	spill.off = off + int64(len(t.Raw))
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
