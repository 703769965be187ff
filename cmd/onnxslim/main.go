// Command onnxslim makes ONNX models smaller and faster and checks that the
// result still computes the same. README.md summarises the command-line contract.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// interruptGrace is how long an interrupted command may take to stop by
// itself (the interpreter checks between nodes) before the process exits.
const interruptGrace = 500 * time.Millisecond

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan int, 1)
	stopProfile, stopTrace := startCPUProfile(), startTrace()
	go func() { done <- run(ctx, os.Args, os.Stdout, os.Stderr) }()
	select {
	case code := <-done:
		stop()
		stopProfile()
		stopTrace()
		writeHeapProfile()
		os.Exit(code)
	case <-ctx.Done():
	}
	// Outputs are written to a temporary file and renamed, so stopping now
	// leaves no partial output; a command that stops in time cleans up.
	select {
	case code := <-done:
		os.Exit(code)
	case <-time.After(interruptGrace):
		fmt.Fprintln(os.Stderr, "onnxslim: interrupted")
		os.Exit(exitInterrupted)
	}
}
