//go:build unix

package simd

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time. The machine is shared, so
// benchmarks also rate work per CPU-second, which other processes' load
// does not dilute.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
