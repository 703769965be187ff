package onnx

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// dataBufBytes is the size of each of dataWriter's two buffers.
const dataBufBytes = 8 << 20

// directAlign is the alignment of direct writes: buffer addresses, offsets
// and lengths (a page, a multiple of every block size in use).
const directAlign = 4096

// dataWriter writes an external data file sequentially through two buffers:
// the caller copies payloads into one (reading a mapped input from disk on
// a cold cache) while a goroutine writes the other, so reading and writing
// overlap. Where the system allows, the file is written with direct I/O
// (O_DIRECT): the data goes from the buffer to the disk without a copy in
// the page cache, which on a model of many GiB costs less CPU than the
// cached writes (page allocation, dirty-page throttling, writeback) and no
// more disk time. A file system that refuses direct writes gets cached
// ones. Memory: the two buffers, whatever the file's size.
type dataWriter struct {
	f     *os.File
	buf   []byte      // being filled
	spare chan []byte // buffers written and free again
	full  chan []byte // buffers to write, in order
	done  chan error  // the writer goroutine's first error, when it ends
	n     int64       // bytes accepted

	mu  sync.Mutex
	err error // the writer goroutine's first error, seen early by Write

	// The writer goroutine's own state.
	direct bool
	off    int64
	padded bool // the last direct write went past n (Close truncates)
}

func newDataWriter(f *os.File) *dataWriter {
	w := &dataWriter{f: f, spare: make(chan []byte, 2), full: make(chan []byte, 2), done: make(chan error, 1)}
	w.direct = setDirect(f, true) == nil
	for range 2 {
		w.spare <- alignedBuf(dataBufBytes)
	}
	w.buf = <-w.spare
	go w.loop()
	return w
}

// alignedBuf returns an empty slice of capacity n starting at a multiple of
// directAlign.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	skip := int(directAlign-addrOf(b)%directAlign) % directAlign
	return b[skip : skip : skip+n]
}

// Write copies p into the buffers; it fails early once the writer
// goroutine has failed.
func (w *dataWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if err := w.failed(); err != nil {
			return total - len(p), err
		}
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf, p = w.buf[:len(w.buf)+k], p[k:]
		w.n += int64(k)
		if len(w.buf) == cap(w.buf) {
			w.full <- w.buf
			w.buf = (<-w.spare)[:0]
		}
	}
	return total, nil
}

func (w *dataWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close writes what is buffered, waits for the writer goroutine and
// returns its error. The file stays open.
func (w *dataWriter) Close() error {
	if len(w.buf) > 0 {
		w.full <- w.buf
	}
	w.buf = nil
	close(w.full)
	err := <-w.done
	if err == nil && w.padded {
		err = w.f.Truncate(w.n)
	}
	if w.direct {
		_ = setDirect(w.f, false) // later writers of f (none yet) expect cached I/O
	}
	return err
}

// loop writes full buffers in order, then reports the first error.
func (w *dataWriter) loop() {
	var err error
	for b := range w.full {
		if err == nil {
			if err = w.write(b); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			}
		}
		w.spare <- b[:0]
	}
	w.done <- err
}

// write writes b at the writer's offset: directly where it can (a short
// last buffer padded with zeros to directAlign, cut off again by Close),
// else through the page cache.
func (w *dataWriter) write(b []byte) error {
	if w.direct {
		n := len(b)
		if pad := (directAlign - n%directAlign) % directAlign; pad > 0 {
			b = b[:n+pad]
			clear(b[n:])
			w.padded = true
		}
		_, err := w.f.WriteAt(b, w.off)
		if err == nil {
			w.off += int64(n)
			return nil
		}
		if !errors.Is(err, syscall.EINVAL) {
			return err
		}
		// Direct I/O refused here: write this buffer and the rest cached.
		w.direct, w.padded, b = false, false, b[:n]
		if err := setDirect(w.f, false); err != nil {
			return err
		}
	}
	_, err := w.f.WriteAt(b, w.off)
	w.off += int64(len(b))
	return err
}

// addrOf is the address of b's first element.
func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
