//go:build !linux

package main

import "time"

// threadCPU falls back to the wall clock where the thread clock is not wired.
func threadCPU() time.Duration { return time.Duration(time.Now().UnixNano()) }

// procCPU is not wired here: settling falls back to the fixed pause.
func procCPU(pid int) (time.Duration, bool) { return 0, false }
