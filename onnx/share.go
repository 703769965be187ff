package onnx

import (
	"io"
	"sync"
)

// ShareLazy lets the save and one reader (ReadInto: the interpreter
// verifying m while it is saved) make each of m's costly lazy payloads
// (CostlyPayload) once between them instead of once each: whichever of
// the two comes to a payload first keeps a copy of its bytes for the
// other, which takes it and drops it. The copies held at any time come to
// at most budget bytes; a payload that does not fit is made again by the
// second, as without sharing. A quantized weight is then read from its
// source and quantized once, not twice (from disk twice, when the model is
// larger than the page cache). stop ends the sharing and drops the copies
// not taken.
func (m *Model) ShareLazy(budget int64) (stop func()) {
	s := &sharing{budget: budget}
	var ls []*lazy
	_ = m.Tensors(func(_ string, t *Tensor) error {
		if c, ok := t.lazyPayload().(CostlyPayload); ok && c.Costly() {
			t.lazy.mu.Lock()
			t.lazy.share = s
			t.lazy.mu.Unlock()
			ls = append(ls, t.lazy)
		}
		return nil
	})
	return func() {
		for _, l := range ls {
			l.mu.Lock()
			l.share, l.memo = nil, nil
			l.mu.Unlock()
		}
	}
}

// A CostlyPayload tells ShareLazy whether its bytes cost much more to
// make than to copy, as int4's do (quantized from eight times their size
// of float32); float16's cost about a copy, and sharing them would only
// add copies and hold memory.
type CostlyPayload interface {
	Payload
	Costly() bool
}

// lazyPayload is t's payload when its bytes are made on demand, else nil.
func (t *Tensor) lazyPayload() Payload {
	if t.lazy == nil {
		return nil
	}
	return t.lazy.p
}

// sharing is what ShareLazy's payloads share: the bytes held for the
// other consumer and buffers to hold them in, reused so that the copies
// do not cost fresh pages.
type sharing struct {
	mu     sync.Mutex
	budget int64
	held   int64    // bytes of memos and free buffers
	free   [][]byte // buffers no memo holds
}

// consumer is who reads a shared payload.
type consumer uint8

const (
	bySave consumer = 1 << iota
	byReader
)

// get returns a buffer of n bytes within the budget, or nil.
func (s *sharing) get(n int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, b := range s.free {
		if cap(b) >= n {
			s.free = append(s.free[:i], s.free[i+1:]...)
			return b[:n]
		}
	}
	// Drop smaller free buffers until a new one fits.
	for len(s.free) > 0 && s.held+int64(n) > s.budget {
		s.held -= int64(cap(s.free[0]))
		s.free = s.free[1:]
	}
	if s.held+int64(n) > s.budget {
		return nil
	}
	s.held += int64(n)
	return make([]byte, n)
}

// put gives a memo's buffer back for reuse.
func (s *sharing) put(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free = append(s.free, b)
}

// takeMemo returns the bytes kept for c, which then owns them until it
// gives them back (sharing.put), or nil. It marks c as having read the
// payload.
func (l *lazy) takeMemo(c consumer) (memo []byte, s *sharing) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s = l.share
	if s == nil {
		return nil, nil
	}
	l.read |= c
	if l.memo != nil && l.memoFor == c {
		memo, l.memo = l.memo, nil
	}
	return memo, s
}

// bufferFor returns a buffer for the bytes c, the other consumer, has not
// read yet, or nil when sharing is off, c has read them or has them kept
// already (a reader that reads twice), or the budget is spent. The buffer
// becomes the memo with keep.
func (l *lazy) bufferFor(c consumer) (buf []byte, s *sharing) {
	l.mu.Lock()
	s, read, kept := l.share, l.read, l.memo != nil
	l.mu.Unlock()
	if s == nil || read&c != 0 || kept {
		return nil, nil
	}
	return s.get(int(l.p.Len())), s
}

// keep makes b, the payload's bytes in a buffer from s, the memo for c,
// unless c has come meanwhile or the sharing stopped.
func (l *lazy) keep(s *sharing, b []byte, c consumer) {
	l.mu.Lock()
	ok := l.share == s && l.read&c == 0 && l.memo == nil
	if ok {
		l.memo, l.memoFor = b, c
	}
	l.mu.Unlock()
	if !ok {
		s.put(b)
	}
}

// tee writes to w and copies what it writes into buf.
type tee struct {
	w   io.Writer
	buf []byte
	n   int
}

func (t *tee) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if t.n+n <= len(t.buf) {
		copy(t.buf[t.n:], p[:n])
	}
	t.n += n
	return n, err
}
