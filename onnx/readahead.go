package onnx

import (
	"os"
	"sync"
)

// ReadAheadMax is the largest payload a ReadAhead reads into memory; larger
// ones are read through their mapping (the two buffers stay within the
// memory budget).
const ReadAheadMax = 128 << 20

// mappedFiles records the data files Load mapped, so that a payload that is
// a view of one can be read from its file instead of through the mapping.
var mappedFiles struct {
	sync.Mutex
	list []mappedFile
}

type mappedFile struct {
	data []byte
	f    *os.File // kept open as long as the mapping (for the life of the process)
	off  int64    // data's offset in f
	// external: f is a model's external data file, which Save may link
	// rather than copy (SaveOptions.LinkData).
	external bool
	// whole: data maps all of f, which registerFileMapping kept open;
	// st is f's identity.
	whole bool
	st    os.FileInfo
}

func registerMapping(m mappedFile) {
	mappedFiles.Lock()
	defer mappedFiles.Unlock()
	mappedFiles.list = append(mappedFiles.list, m)
}

// registerFileMapping registers data, the mapping of the whole file f, and
// decides what becomes of f: an open file of the same inode kept for an
// earlier mapping serves both (f is closed; the command loads a model
// twice), else f is kept while fewer than a quarter of the process's file
// descriptors are (a model exported one file per tensor has thousands), else
// it is closed and its payloads are read through the mapping alone.
func registerFileMapping(data []byte, f *os.File, external bool) {
	mappedFiles.Lock()
	defer mappedFiles.Unlock()
	m := mappedFile{data: data, f: f, external: external}
	st, err := f.Stat()
	kept := 0
	for _, o := range mappedFiles.list {
		if o.f == nil || !o.whole {
			continue
		}
		kept++
		if err == nil && m.f == f && os.SameFile(st, o.st) {
			m.f, m.st = o.f, o.st
		}
	}
	if m.f == f && (err != nil || kept >= keptFilesMax()) {
		m.f = nil
	}
	if m.f != f {
		f.Close()
	} else {
		m.st = st
	}
	m.whole = m.f != nil
	mappedFiles.list = append(mappedFiles.list, m)
}

// fileOf returns the file b is a view of and b's offset in it.
func fileOf(b []byte) (*os.File, int64, bool) {
	m, ok := mappingOf(b)
	if !ok || m.f == nil {
		return nil, 0, false
	}
	return m.f, m.off + int64(addrOf(b)-addrOf(m.data)), true
}

// externalFileOf is fileOf for a view of an external data file's mapping.
func externalFileOf(b []byte) (*os.File, int64, bool) {
	if m, ok := mappingOf(b); !ok || !m.external {
		return nil, 0, false
	}
	return fileOf(b)
}

// mappingOf returns the mapping b is a view of.
func mappingOf(b []byte) (mappedFile, bool) {
	if len(b) == 0 {
		return mappedFile{}, false
	}
	a := addrOf(b)
	mappedFiles.Lock()
	defer mappedFiles.Unlock()
	for _, m := range mappedFiles.list {
		base := addrOf(m.data)
		if a >= base && a+uintptr(len(b)) <= base+uintptr(len(m.data)) {
			return m, true
		}
	}
	return mappedFile{}, false
}

// ReadAhead reads the payloads of tensors that a pass goes through one after
// the other, each once (quantize on a model larger than memory), from their
// data files with direct I/O: the next payload is read while the pass works
// on this one, and neither goes through the page cache. On this VM a cold
// read through the cache (a mapping's page faults, or read(2)) costs 1–2 s
// of CPU per GiB, a direct read about a tenth of that, and the pass is
// mostly reading. A payload that is not a view of a mapped data file, is
// larger than ReadAheadMax, or whose pages are all in the page cache
// already, is left to its mapping as before (with MADV_WILLNEED ahead).
//
// Hold(i) points tensor i's Raw at an in-memory copy of the same bytes until
// the next Hold or Close, which point it back at the mapping (unless a pass
// replaced Raw meanwhile): the pass keeps nothing of the old payload beyond
// that, as a pass that reads a weight to replace it does. Memory: two
// buffers of the largest payload read, at most 2·ReadAheadMax.
//
// The bytes come from the file, as the mapping shows them while nothing
// writes into it: mapped payloads are read-only by contract (a stray
// write into the private mapping changes only that copy-on-write page,
// which the file, and so a direct read, does not see).
type ReadAhead struct {
	ts    []*Tensor
	next  int           // index of the payload being read ahead (-1: none)
	ready chan readDone // the read-ahead goroutine's result
	held  *Tensor       // the tensor whose Raw is a buffer
	view  []byte        // its mapped view, put back on release
	buf   readDone      // the buffer it views

	size int // every buffer's size: the largest payload read, and two blocks

	mu    sync.Mutex // the fields below: the read-ahead goroutine uses them too
	spare [][]byte   // whole buffers free for reuse
	all   [][]byte   // every buffer, unmapped by Close
	files map[*os.File]*os.File
}

type readDone struct {
	whole []byte // the buffer
	buf   []byte // the payload's bytes in it, nil when read through the mapping
	raw   []byte // the view they copy
}

// NewReadAhead prepares to read ts in order (nil entries are skipped).
func NewReadAhead(ts []*Tensor) *ReadAhead {
	r := &ReadAhead{ts: ts, next: -1, files: map[*os.File]*os.File{}}
	for _, t := range ts {
		if t != nil && len(t.Raw) <= ReadAheadMax {
			r.size = max(r.size, len(t.Raw)+2*directAlign)
		}
	}
	return r
}

// Hold makes ts[i]'s payload an in-memory copy (see ReadAhead) and starts
// reading the next tensor's (the next non-nil one after i). Indexes must
// grow.
func (r *ReadAhead) Hold(i int) {
	r.release()
	var d readDone
	if r.next == i {
		d = <-r.ready
	} else {
		if r.next >= 0 {
			r.recycle(<-r.ready)
		}
		if t := r.ts[i]; t != nil {
			d = r.read(t.Raw)
		}
	}
	r.next = -1
	if t := r.ts[i]; d.buf != nil && t != nil && sameSlice(t.Raw, d.raw) {
		r.held, r.view, r.buf = t, t.Raw, d
		t.Raw = d.buf
	} else {
		r.recycle(d)
	}
	j := i + 1
	for j < len(r.ts) && r.ts[j] == nil {
		j++
	}
	if j < len(r.ts) {
		r.next = j
		r.ready = make(chan readDone, 1)
		raw := r.ts[j].Raw // read here: the goroutine touches no tensor
		go func() { r.ready <- r.read(raw) }()
	}
}

// Close puts the held payload back and waits for the read ahead.
func (r *ReadAhead) Close() {
	r.release()
	if r.next >= 0 {
		r.recycle(<-r.ready)
		r.next = -1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.files {
		if f != nil {
			f.Close()
		}
	}
	r.files = nil
	r.spare = nil
	for _, b := range r.all {
		freeBuffer(b)
	}
	r.all = nil
}

func (r *ReadAhead) release() {
	if r.held == nil {
		return
	}
	if sameSlice(r.held.Raw, r.buf.buf) {
		r.held.Raw = r.view
	}
	r.recycle(r.buf)
	r.held, r.view, r.buf = nil, nil, readDone{}
}

func (r *ReadAhead) recycle(d readDone) {
	if d.whole != nil {
		r.mu.Lock()
		r.spare = append(r.spare, d.whole)
		r.mu.Unlock()
	}
}

// take returns a spare buffer (starting at a page), or a new one (nil when
// that fails): there are never more than two. They are mapped anonymous
// memory rather than Go heap, so that they do not raise the garbage
// collector's goal (the pass's own garbage would wait longer), and are
// unmapped by Close.
func (r *ReadAhead) take() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k := len(r.spare); k > 0 {
		b := r.spare[k-1]
		r.spare = r.spare[:k-1]
		return b
	}
	b, err := allocBuffer(r.size)
	if err != nil {
		return nil
	}
	r.all = append(r.all, b)
	return b
}

// direct returns f opened anew for direct reads, nil where that fails.
func (r *ReadAhead) direct(f *os.File) *os.File {
	r.mu.Lock()
	defer r.mu.Unlock()
	df, ok := r.files[f]
	if !ok {
		df, _ = openDirect(f)
		r.files[f] = df
	}
	return df
}

// read reads a payload into a buffer where it should (see ReadAhead), else
// asks the kernel to read its mapped pages. It runs on the read-ahead
// goroutine, or on the caller's when nothing was read ahead.
func (r *ReadAhead) read(raw []byte) readDone {
	if len(raw) < SpillMin {
		return readDone{}
	}
	f, off, ok := fileOf(raw)
	if !ok || len(raw) > ReadAheadMax || resident(raw) {
		prefetchBytes(raw)
		return readDone{}
	}
	df := r.direct(f)
	if df == nil {
		prefetchBytes(raw)
		return readDone{}
	}
	buf := r.take()
	if buf == nil {
		prefetchBytes(raw)
		return readDone{}
	}
	// The buffer starts where the file's block does, so its bytes line up
	// with the mapping's page offset as well (same alignment as the view).
	head := int(off % directAlign)
	start := off - int64(head)
	n := (head + len(raw) + directAlign - 1) &^ (directAlign - 1)
	got, err := df.ReadAt(buf[:n], start)
	if got < head+len(raw) {
		_ = err // short or failed: the mapping gives the bytes (or the error) as before
		r.recycle(readDone{whole: buf})
		prefetchBytes(raw)
		return readDone{}
	}
	return readDone{whole: buf, buf: buf[head : head+len(raw) : head+len(raw)], raw: raw}
}

// sameSlice reports whether a and b are the same bytes of memory.
func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || addrOf(a) == addrOf(b))
}
