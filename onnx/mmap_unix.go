//go:build unix

package onnx

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps a whole file into memory. The mapping is private and
// writable: reading costs page cache, not process memory, and a kernel that
// writes into a weight by mistake gets its own copy of that page (copy on
// write) instead of a crash or a change to the file. It is never unmapped:
// tensors (and their clones) may view it for the life of the process.
//
// golang.org/x/sys/unix rather than a package such as mmap-go: it is
// already a dependency (through x/term), kept by the Go team, and onnxslim
// needs nothing beyond Mmap on Unix; other systems read the file instead
// (mmap_other.go).
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size == 0 {
		return []byte{}, nil
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// mapsFiles: mapFile maps (rather than reads) files here.
const mapsFiles = true

// pageSize aligns mapped ranges of the spill file.
var pageSize = int64(os.Getpagesize())

// mapRange maps length bytes of f from off (a multiple of pageSize),
// privately as mapFile does.
func mapRange(f *os.File, off, length int64) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), off, int(length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	return b[:length:length], nil
}

// Prefetch asks the kernel to start reading a tensor's payload from its
// mapped file now (madvise MADV_WILLNEED), so that a pass about to go
// through tensor after tensor can read the next one from disk while it
// computes on this one: on a cold cache reading then overlaps computing.
// It does nothing for small or heap payloads and never waits for the disk.
func Prefetch(t *Tensor) {
	if t == nil || len(t.Raw) < SpillMin {
		return
	}
	prefetchBytes(t.Raw)
}

// prefetchBytes asks the kernel to read the mapped pages of b (madvise
// MADV_WILLNEED) without waiting for them.
func prefetchBytes(b []byte) {
	// madvise wants a page-aligned start: skip to the first whole page.
	skip := int((uintptr(pageSize) - addrOf(b)%uintptr(pageSize)) % uintptr(pageSize))
	if skip >= len(b) {
		return
	}
	_ = unix.Madvise(b[skip:], unix.MADV_WILLNEED) // advice only: heap memory or an error changes nothing
}

// reserve returns n bytes of address space that hold no memory and may
// not be touched (PROT_NONE): a lazy payload's placeholder, whose length
// the encoder sizes the protobuf by and whose address names the payload.
func reserve(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		return nil, err
	}
	return b[:n:n], nil
}

// keptFilesMax is how many mapped files stay open beside their mappings: a
// quarter of the descriptors the process may open (Go raises that limit to
// the hard one at start), leaving the rest to the save and everything else.
func keptFilesMax() int {
	var r unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &r) != nil {
		return 256
	}
	return int(min(r.Cur/4, 1<<20))
}
