package onnx

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
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

	ctx     context.Context       // nil, or the save's: its end stops the writes
	readers map[*os.File]*os.File // data files opened for direct reads
	bounce  []byte                // readBounced's buffer

	mu  sync.Mutex
	err error // the writer goroutine's first error, seen early by Write

	// The writer goroutine's own state.
	direct bool
	off    int64
	padded bool // the last direct write went past n (Close truncates)
}

func newDataWriter(ctx context.Context, f *os.File) *dataWriter {
	w := &dataWriter{f: f, ctx: ctx, spare: make(chan []byte, 2), full: make(chan []byte, 2), done: make(chan error, 1)}
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
		p = p[k:]
		w.advance(k)
	}
	return total, nil
}

// advance counts k more bytes in the buffer being filled and hands it to
// the writer goroutine when it is full.
func (w *dataWriter) advance(k int) {
	w.buf = w.buf[:len(w.buf)+k]
	w.n += int64(k)
	if len(w.buf) == cap(w.buf) {
		w.full <- w.buf
		w.buf = (<-w.spare)[:0]
	}
}

// WritePayload writes p as Write does. When p is a view of a mapped data
// or spill file whose pages are not in memory, the bytes are read from the
// file with direct I/O straight into the buffers instead of through the
// mapping: no page cache, about a tenth of the CPU time of a cold read
// through it. That needs p's offset in its file and its place in the
// output to be the same modulo a block (they are for large tensors: both
// files align them); a payload in memory, or at another offset, is copied.
func (w *dataWriter) WritePayload(p []byte) error {
	if l := lazyOf(p); l != nil {
		return l.writeTo(w) // computed as it is written
	}
	if w.readsDirect(p) {
		f, off, _ := fileOf(p)
		if df := w.directReader(f); df != nil {
			if (off-w.n)%directAlign == 0 {
				directReads.aligned.Add(1)
				return w.readFrom(df, off, p)
			}
			directReads.bounced.Add(1)
			return w.readBounced(df, off, p)
		}
	}
	_, err := w.Write(p)
	return err
}

// directReads counts WritePayload's direct reads, for tests.
var directReads struct{ aligned, bounced atomic.Int64 }

// bounceBytes is the size of the block-aligned buffer readBounced reads
// through.
const bounceBytes = 1 << 20

// readBounced is readFrom for a payload whose place in the output is not
// at its file offset modulo a block (an inline tensor in a model file): the
// blocks are read directly into a buffer of their own and copied from
// there.
func (w *dataWriter) readBounced(df *os.File, off int64, p []byte) error {
	if w.bounce == nil {
		w.bounce = alignedBuf(bounceBytes)[:bounceBytes]
	}
	start := off &^ (directAlign - 1)
	skip := int(off - start)
	for len(p) > 0 {
		n := min(len(w.bounce), (skip+len(p)+directAlign-1)&^(directAlign-1))
		want := min(n-skip, len(p))
		got, _ := df.ReadAt(w.bounce[:n], start)
		if got < skip+want {
			// As in readFrom: the mapping gives the bytes, or the fault.
			_, err := w.Write(p)
			return err
		}
		if _, err := w.Write(w.bounce[skip : skip+want]); err != nil {
			return err
		}
		p, start, skip = p[want:], start+int64(n), 0
	}
	return nil
}

// readsDirect reports whether WritePayload would read p with direct I/O
// (at an offset that suits): then asking the kernel to read it ahead
// through the page cache would only cost a second read.
func (w *dataWriter) readsDirect(p []byte) bool {
	if len(p) < SpillMin {
		return false
	}
	f, _, ok := fileOf(p)
	return ok && w.directReader(f) != nil && !resident(p)
}

// readFrom fills the buffers with p, the bytes of df at off: the whole
// blocks with direct reads into the buffers, the partial blocks at either
// end through the bounce buffer (not the mapping: a page fault there would
// make the kernel read megabytes around it through the page cache).
func (w *dataWriter) readFrom(df *os.File, off int64, p []byte) error {
	if head := min(len(p), int((directAlign-off%directAlign)%directAlign)); head > 0 {
		if err := w.readBounced(df, off, p[:head]); err != nil {
			return err
		}
		off, p = off+int64(head), p[head:]
	}
	for len(p) >= directAlign {
		if err := w.failed(); err != nil {
			return err
		}
		k := min(cap(w.buf)-len(w.buf), len(p)) &^ (directAlign - 1)
		got, err := df.ReadAt(w.buf[len(w.buf):len(w.buf)+k], off)
		if got < k {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			// The file changed under its mapping, or the read failed:
			// the mapping gives the bytes (or the fault) as before.
			_ = err
			_, err = w.Write(p)
			return err
		}
		w.advance(k)
		off, p = off+int64(k), p[k:]
	}
	return w.readBounced(df, off, p)
}

// directReader returns f opened anew for direct reads (nil where that
// fails), kept until Close.
func (w *dataWriter) directReader(f *os.File) *os.File {
	df, ok := w.readers[f]
	if !ok {
		df, _ = openDirect(f)
		if w.readers == nil {
			w.readers = map[*os.File]*os.File{}
		}
		w.readers[f] = df
	}
	return df
}

func (w *dataWriter) failed() error {
	if w.ctx != nil {
		if err := w.ctx.Err(); err != nil {
			return err
		}
	}
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
	for _, df := range w.readers {
		if df != nil {
			df.Close()
		}
	}
	w.readers = nil
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
