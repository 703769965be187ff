//go:build linux

package simd

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuTime is the process's CPU time (all threads, nanosecond clock). The
// machine is shared, so benchmarks also rate work per CPU-second, which
// other processes' share of the cores does not dilute.
func cpuTime() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
