package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of the whole process to the file
// named by ONNXSLIM_CPUPROFILE, for developers (read it with
// `go tool pprof -top onnxslim FILE`). Not part of the CLI contract. The
// returned function stops the profile; it does nothing when the variable
// is unset.
func startCPUProfile() func() {
	path := os.Getenv("ONNXSLIM_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "onnxslim: ONNXSLIM_CPUPROFILE:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "onnxslim: ONNXSLIM_CPUPROFILE:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
