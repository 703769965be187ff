//go:build !linux

package main

import (
	"fmt"
	"os"
)

// main: the copies compared use Linux's direct I/O and copy_file_range.
func main() {
	fmt.Fprintln(os.Stderr, "copybench: needs Linux")
	os.Exit(1)
}
