package onnx

import (
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setDirect turns direct I/O (O_DIRECT) on or off for f.
func setDirect(f *os.File, on bool) error {
	fd := f.Fd()
	flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		flags |= unix.O_DIRECT
	} else {
		flags &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(fd, unix.F_SETFL, flags)
	return err
}

// openDirect opens f's file anew (through /proc/self/fd) for direct reads,
// so that f itself keeps its flags.
func openDirect(f *os.File) (*os.File, error) {
	return os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_RDONLY|unix.O_DIRECT, 0)
}

// resident reports whether every whole page of the mapped bytes b is in
// memory (mincore): reading them through the mapping then costs a copy,
// not a disk read.
func resident(b []byte) bool {
	skip := int((uintptr(pageSize) - addrOf(b)%uintptr(pageSize)) % uintptr(pageSize))
	if skip >= len(b) {
		return true
	}
	b = b[skip:]
	vec := make([]byte, len(b)/int(pageSize))
	whole := b[:len(b)&^(int(pageSize)-1)]
	if len(whole) == 0 {
		return true
	}
	// x/sys/unix has no Mincore wrapper.
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(whole))), uintptr(len(whole)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		return false
	}
	for _, v := range vec {
		if v&1 == 0 {
			return false
		}
	}
	return true
}

// allocBuffer maps n bytes of anonymous memory (page-aligned, outside the
// Go heap).
func allocBuffer(n int) ([]byte, error) {
	return unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
}

func freeBuffer(b []byte) { _ = unix.Munmap(b) }
