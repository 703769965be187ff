package onnx

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// Payload makes a tensor's raw bytes (raw_data) when they are needed, so
// that a pass can leave a converted tensor as a recipe over its source
// (quantize(mode=fp16): float16 of a mapped float32 weight) and the save
// computes and writes it in one go: no copy in memory, no spill file. A
// payload must give the same bytes every time.
type Payload interface {
	// Len is the payload's size in bytes.
	Len() int64
	// WriteTo writes the bytes to w, in order, in pieces of its choosing.
	WriteTo(w io.Writer) (int64, error)
}

// lazy is a tensor's Payload, its bytes once something other than the save
// asked for them, and the placeholder the save's protobuf carries.
type lazy struct {
	p    Payload
	mu   sync.Mutex
	raw  []byte
	err  error
	hole []byte // address space only: its address names the payload

	// ShareLazy's state: the bytes kept for one consumer and who has
	// read the payload.
	share   *sharing
	memo    []byte
	memoFor consumer
	read    consumer
}

// NewLazyTensor returns a tensor whose raw bytes p makes on demand: a save
// streams them from p to the output; Data (and everything that reads
// values through it) makes them once and keeps them (in the spill file
// when large, see Spill).
func NewLazyTensor(name string, dt DataType, dims []int64, p Payload) *Tensor {
	return &Tensor{Name: name, DataType: dt, Dims: append([]int64{}, dims...), lazy: &lazy{p: p}}
}

// IsLazy reports whether t's bytes are made on demand and not made yet.
func (t *Tensor) IsLazy() bool {
	if t.Raw != nil || t.lazy == nil {
		return false
	}
	t.lazy.mu.Lock()
	defer t.lazy.mu.Unlock()
	return t.lazy.raw == nil
}

// bytes makes the payload (once) and returns it.
func (l *lazy) bytes() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.makeLocked()
}

func (l *lazy) makeLocked() ([]byte, error) {
	if l.raw != nil || l.err != nil {
		return l.raw, l.err
	}
	var b bytes.Buffer
	b.Grow(int(l.p.Len()))
	n, err := l.p.WriteTo(&b)
	if err == nil && n != l.p.Len() {
		err = fmt.Errorf("payload wrote %d bytes, expected %d", n, l.p.Len())
	}
	if err != nil {
		l.err = err
		return nil, err
	}
	t := &Tensor{Raw: b.Bytes()}
	if t.Raw == nil {
		t.Raw = []byte{}
	}
	Spill(t)
	l.raw = t.Raw
	return l.raw, nil
}

// LazyMin is the payload size from which a lazy tensor not made yet is
// made as the save writes it; a smaller one is made before the save writes
// anything. (A payload that another one hands data to, as int4's weight
// hands its scales, must be at least this large to get that data.)
const LazyMin = 64 << 10

// protoBytes is what the save's protobuf carries as raw_data: the bytes
// when made, else a placeholder of the same length that the stream writer
// recognizes (lazyOf) and fills from the payload. Where no placeholder can
// be made, or the payload is under LazyMin, the bytes are made here.
func (l *lazy) protoBytes() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.raw != nil || l.err != nil {
		return l.raw, l.err
	}
	if l.hole == nil && l.p.Len() >= LazyMin {
		if h, err := reserve(int(l.p.Len())); err == nil {
			l.hole = h
			lazies.Lock()
			lazies.m[addrOf(h)] = l
			lazies.Unlock()
		}
	}
	if l.hole != nil {
		return l.hole, nil
	}
	return l.makeLocked()
}

// lazies maps placeholders (by address) to their payloads.
var lazies = struct {
	sync.Mutex
	m map[uintptr]*lazy
}{m: map[uintptr]*lazy{}}

// lazyOf returns the payload whose placeholder b is, or nil.
func lazyOf(b []byte) *lazy {
	if len(b) < LazyMin {
		return nil
	}
	lazies.Lock()
	defer lazies.Unlock()
	l := lazies.m[addrOf(b)]
	if l != nil && len(l.hole) != len(b) {
		return nil
	}
	return l
}

// writeTo writes the payload to w: its bytes when made, else from the
// payload directly (the save path: computed as written, never kept).
func (l *lazy) writeTo(w io.Writer) error {
	l.mu.Lock()
	raw, err := l.raw, l.err
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if raw != nil {
		_, err := w.Write(raw)
		return err
	}
	memo, s := l.takeMemo(bySave)
	if memo != nil {
		_, err := w.Write(memo)
		s.put(memo)
		return err
	}
	// Keep a copy for the reader when it has yet to come (ShareLazy).
	buf, s := l.bufferFor(byReader)
	if buf != nil {
		w = &tee{w: w, buf: buf}
	}
	n, err := l.p.WriteTo(w)
	if err == nil && n != l.p.Len() {
		err = fmt.Errorf("payload wrote %d bytes, expected %d", n, l.p.Len())
	}
	switch {
	case buf == nil:
	case err != nil:
		s.put(buf)
	default:
		l.keep(s, buf, byReader)
	}
	return err
}

// current is what tensorToProto puts in raw_data: the bytes when made,
// else the placeholder (see prepareLazy), else the bytes made now.
func (l *lazy) current() []byte {
	l.mu.Lock()
	raw, hole := l.raw, l.hole
	l.mu.Unlock()
	if raw != nil {
		return raw
	}
	if hole != nil {
		return hole
	}
	raw, _ = l.bytes() // an error shows as a size mismatch where it is checked
	return raw
}

// prepareLazy gives every lazy tensor of m its placeholder (or its bytes)
// before a streamed save.
func (m *Model) prepareLazy() error {
	return m.Tensors(func(place string, t *Tensor) error {
		if t.Raw == nil && t.lazy != nil {
			if _, err := t.lazy.protoBytes(); err != nil {
				return fmt.Errorf("%s: tensor %q: %w", place, t.Name, err)
			}
		}
		return nil
	})
}

// makeLazy makes the bytes of every lazy tensor of m (before a whole
// marshal, which reads raw_data itself).
func (m *Model) makeLazy() error {
	return m.Tensors(func(place string, t *Tensor) error {
		if t.Raw == nil && t.lazy != nil {
			if _, err := t.lazy.bytes(); err != nil {
				return fmt.Errorf("%s: tensor %q: %w", place, t.Name, err)
			}
		}
		return nil
	})
}

// ReadInto returns t's bytes without keeping a lazy payload's: the bytes t
// holds (not copied) or has made, else the payload made into dst, which
// must hold ByteSize bytes. It is for a reader that uses them once and
// drops them — the interpreter decoding a large model's weights in each
// run — where Data would keep them (spilled) for the tensor's lifetime.
func (t *Tensor) ReadInto(dst []byte) ([]byte, error) {
	if t.Raw != nil || t.lazy == nil {
		return t.Data()
	}
	l := t.lazy
	l.mu.Lock()
	raw, err := l.raw, l.err
	l.mu.Unlock()
	if raw != nil || err != nil {
		return raw, err
	}
	if int64(len(dst)) != l.p.Len() {
		return nil, fmt.Errorf("tensor %q: %d bytes to read a %d-byte payload into", t.Name, len(dst), l.p.Len())
	}
	if memo, s := l.takeMemo(byReader); memo != nil {
		copy(dst, memo)
		s.put(memo)
		return dst, nil
	}
	w := &fixedWriter{b: dst}
	if _, err := l.p.WriteTo(w); err != nil {
		return nil, err
	}
	if w.n != len(dst) {
		return nil, fmt.Errorf("tensor %q: payload wrote %d bytes, expected %d", t.Name, w.n, len(dst))
	}
	// Keep a copy for the save when it has yet to come (ShareLazy).
	if buf, s := l.bufferFor(bySave); buf != nil {
		copy(buf, dst)
		l.keep(s, buf, bySave)
	}
	return dst, nil
}

// fixedWriter writes into a buffer of fixed size.
type fixedWriter struct {
	b []byte
	n int
}

func (w *fixedWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.b)-w.n {
		return 0, fmt.Errorf("payload longer than its %d bytes", len(w.b))
	}
	w.n += copy(w.b[w.n:], p)
	return len(p), nil
}
