package onnx

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// ChunkBytes is the size of the pieces ReadChunks hands out (a whole
// payload in memory or in the page cache: pieces of exactly this size but
// for the last).
const ChunkBytes = 8 << 20

// ReadChunks calls f with t's raw bytes in order, in pieces of at most
// 8 MiB whose lengths are multiples of unit (a power of two up to 4096)
// but for the last. A payload that is a view of a mapped data file and not
// in the page cache is read from the file with direct I/O into one buffer
// (no page cache: about a tenth of the CPU of a cold read through the
// mapping); others are handed out as slices of their bytes. f must not
// keep a piece after it returns. This is how a lazy Payload reads its
// source at save time.
func ReadChunks(t *Tensor, unit int, f func(b []byte) error) error {
	if unit <= 0 || unit > directAlign || unit&(unit-1) != 0 {
		return fmt.Errorf("ReadChunks: unit %d is not a power of two up to %d", unit, directAlign)
	}
	raw, err := t.Data()
	if err != nil {
		return err
	}
	if done, err := readChunksDirect(raw, unit, f); done || err != nil {
		return err
	}
	for len(raw) > 0 {
		k := min(len(raw), ChunkBytes)
		if err := f(raw[:k]); err != nil {
			return err
		}
		raw = raw[k:]
	}
	return nil
}

// chunkBufs holds readChunksDirect's block-aligned buffers between calls.
var chunkBufs = sync.Pool{New: func() any { b := alignedBuf(ChunkBytes)[:ChunkBytes]; return &b }}

// directChunks counts the payloads readChunksDirect read, for tests.
var directChunks atomic.Int64

// readChunksDirect is ReadChunks's direct path; done is false when it
// does not apply (or the file cannot be read that way) and nothing was
// handed out. Pieces are multiples of directAlign but for the first (from
// the payload's offset to its block's end), so every unit boundary falls
// on a piece boundary when the offset is a multiple of unit; otherwise
// the mapping's path is taken.
func readChunksDirect(raw []byte, unit int, f func(b []byte) error) (done bool, err error) {
	if len(raw) < SpillMin || resident(raw) {
		return false, nil
	}
	file, off, ok := fileOf(raw)
	if !ok {
		return false, nil
	}
	head := int(off % directAlign)
	if head%unit != 0 {
		return false, nil
	}
	df, err := openDirect(file)
	if err != nil || df == nil {
		return false, nil
	}
	defer df.Close()
	directChunks.Add(1)
	// A goroutine reads the next piece into the other buffer while f
	// works on this one.
	type piece struct {
		buf    []byte
		lo, hi int // the payload's bytes in buf; hi == 0: the read fell short
	}
	free, ready, stop := make(chan []byte, 2), make(chan piece, 2), make(chan struct{})
	for range 2 {
		free <- *chunkBufs.Get().(*[]byte)
	}
	defer func() { // after the reader has ended
		for range 2 {
			b := <-free
			chunkBufs.Put(&b)
		}
	}()
	go func() {
		defer close(ready)
		pos, skip, sent := off-int64(head), head, 0
		for sent < len(raw) {
			var buf []byte
			select {
			case <-stop:
				return
			case buf = <-free:
			}
			want := min(ChunkBytes, skip+len(raw)-sent)
			n := (want + directAlign - 1) &^ (directAlign - 1)
			if got, _ := df.ReadAt(buf[:n], pos); got < want {
				free <- buf
				ready <- piece{} // short or failed: the mapping gives the rest (or the fault)
				return
			}
			ready <- piece{buf, skip, want}
			sent += want - skip
			pos += int64(n)
			skip = 0
		}
	}()
	drain := func() { // the reader ends (before df is closed), its buffers back
		for p := range ready {
			if p.buf != nil {
				free <- p.buf
			}
		}
	}
	sent := 0
	for p := range ready {
		if p.hi == 0 {
			break
		}
		err := f(p.buf[p.lo:p.hi])
		sent += p.hi - p.lo
		free <- p.buf
		if err != nil {
			close(stop)
			drain()
			return true, err
		}
	}
	drain()
	for sent < len(raw) {
		k := min(len(raw)-sent, ChunkBytes)
		if err := f(raw[sent : sent+k]); err != nil {
			return true, err
		}
		sent += k
	}
	return true, nil
}
