//go:build linux

// Command copybench copies a file (cold: dropped from the page cache
// first) the ways onnxslim could write a data file back, and prints wall
// time, throughput and CPU seconds of each, to choose between them on a
// given disk:
//
//	pipe:    direct reads into buffers, direct writes, rq reads and q writes in flight
//	mmap:    copies from a mapping into buffers (MADV_WILLNEED ahead), direct writes (onnxslim's path)
//	cfr:     copy_file_range through the page cache, not synced
//	cfrsync: copy_file_range, then fdatasync (the same durability as direct writes)
//
// go run ./tools/big/copybench -src FILE -dst FILE2 -mode pipe -q 4 -rq 2
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func aligned(n int) []byte {
	b := make([]byte, n+4096)
	a := uintptr(unsafe.Pointer(&b[0]))
	s := int((4096 - a%4096) % 4096)
	return b[s : s+n]
}

func evict(path string) {
	f, _ := os.Open(path)
	unix.Fdatasync(int(f.Fd()))
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	f.Close()
}

func main() {
	mode := flag.String("mode", "pipe", "pipe|mmap|cfr|cfrsync")
	src := flag.String("src", "", "file to copy")
	dst := flag.String("dst", "", "copy to write (removed afterwards)")
	bs := flag.Int("bs", 8<<20, "bytes per read and write")
	q := flag.Int("q", 1, "writes in flight")
	rq := flag.Int("rq", 1, "reads in flight")
	flag.Parse()
	if *src == "" || *dst == "" || *bs <= 0 || *bs%4096 != 0 || *q < 1 || *rq < 1 {
		fail(fmt.Errorf("need -src and -dst, -bs a multiple of 4096, -q and -rq ≥ 1"))
	}
	evict(*src)
	in, err := os.Open(*src)
	if err != nil {
		fail(err)
	}
	st, err := in.Stat()
	if err != nil {
		fail(err)
	}
	size := st.Size()
	out, err := os.OpenFile(*dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0644)
	if err != nil {
		fail(err)
	}
	t0 := time.Now()
	switch *mode {
	case "cfr":
		var off int64
		for off < size {
			n, err := unix.CopyFileRange(int(in.Fd()), nil, int(out.Fd()), nil, 1<<30, 0)
			if err != nil {
				fail(err)
			}
			if n == 0 {
				break
			}
			off += int64(n)
		}
	case "cfrsync":
		var off int64
		for off < size {
			n, err := unix.CopyFileRange(int(in.Fd()), nil, int(out.Fd()), nil, 1<<30, 0)
			if err != nil {
				fail(err)
			}
			if n == 0 {
				break
			}
			off += int64(n)
		}
		unix.Fdatasync(int(out.Fd()))
	case "pipe", "mmap":
		// reader(s): direct reads of blocks into buffers (pipe), or copy from mmap (mmap)
		unix.Fadvise(int(in.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
		var m []byte
		if *mode == "mmap" {
			m, _ = unix.Mmap(int(in.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
		} else {
			fl, _ := unix.FcntlInt(in.Fd(), unix.F_GETFL, 0)
			unix.FcntlInt(in.Fd(), unix.F_SETFL, fl|unix.O_DIRECT)
		}
		fl, _ := unix.FcntlInt(out.Fd(), unix.F_GETFL, 0)
		unix.FcntlInt(out.Fd(), unix.F_SETFL, fl|unix.O_DIRECT)
		nb := (size + int64(*bs) - 1) / int64(*bs)
		type blk struct {
			i int64
			b []byte
			n int
		}
		free := make(chan []byte, *q+*rq+2)
		for i := 0; i < *q+*rq+1; i++ {
			free <- aligned(*bs)
		}
		// ordered read jobs with rq readers
		jobs := make(chan int64)
		go func() {
			for i := int64(0); i < nb; i++ {
				jobs <- i
			}
			close(jobs)
		}()
		wjobs := make(chan blk, *q+*rq+2)
		var rwg sync.WaitGroup
		for r := 0; r < *rq; r++ {
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				for i := range jobs {
					b := <-free
					off := i * int64(*bs)
					n := int(min(int64(*bs), size-off))
					if m != nil {
						if i+2 < nb {
							o2 := (i + 2) * int64(*bs)
							unix.Madvise(m[o2:min(o2+int64(*bs), size)], unix.MADV_WILLNEED)
						}
						copy(b, m[off:off+int64(n)])
					} else {
						rn := (n + 4095) &^ 4095
						if _, err := in.ReadAt(b[:rn], off); err != nil && n == rn {
							fail(err)
						}
					}
					wjobs <- blk{i, b, n}
				}
			}()
		}
		go func() { rwg.Wait(); close(wjobs) }()
		var wwg sync.WaitGroup
		for w := 0; w < *q; w++ {
			wwg.Add(1)
			go func() {
				defer wwg.Done()
				for j := range wjobs {
					n := (j.n + 4095) &^ 4095
					if _, err := out.WriteAt(j.b[:n], j.i*int64(*bs)); err != nil {
						fail(err)
					}
					free <- j.b
				}
			}()
		}
		wwg.Wait()
		out.Truncate(size)
	}
	el := time.Since(t0)
	var ru unix.Rusage
	unix.Getrusage(0, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("%s bs=%d q=%d rq=%d: %.2f s, %.0f MB/s, CPU %.2f s, load %s\n", *mode, *bs, *q, *rq, el.Seconds(), float64(size)/el.Seconds()/1e6, cpu.Seconds(), loadavg())
	out.Close()
	os.Remove(*dst)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "copybench:", err)
	os.Exit(1)
}

func loadavg() string { b, _ := os.ReadFile("/proc/loadavg"); return string(b[:4]) }
