//go:build !linux

package interp_test

import "time"

// cpuTime is not read on this system: the limits fall back to the wall clock.
func cpuTime() (time.Duration, bool) { return 0, false }
