//go:build !unix

package main

import (
	"fmt"
	"os"
)

// main: the benchmark reads rusage and page-fault counts, which only Unix
// systems give.
func main() {
	fmt.Fprintln(os.Stderr, "bench: needs a Unix system")
	os.Exit(1)
}
