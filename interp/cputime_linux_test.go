//go:build linux

package interp_test

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuTime is the process's CPU time (all threads); ok is false where the
// clock cannot be read.
func cpuTime() (time.Duration, bool) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts) != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
