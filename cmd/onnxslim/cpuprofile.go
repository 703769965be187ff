package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
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

// startTrace writes an execution trace of the whole process to the file
// named by ONNXSLIM_TRACE, for developers: where goroutines wait (disk
// reads, writes, channels) as well as what runs, e.g.
// `go tool trace -pprof=syscall FILE > s.pprof`. Not part of the CLI
// contract.
func startTrace() func() {
	path := os.Getenv("ONNXSLIM_TRACE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		if err = trace.Start(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "onnxslim: ONNXSLIM_TRACE:", err)
		return func() {}
	}
	return func() {
		trace.Stop()
		f.Close()
	}
}

// writeHeapProfile writes the heap profile (allocations over the whole run,
// `go tool pprof -sample_index=alloc_space`) to the file named by
// ONNXSLIM_MEMPROFILE, for developers; nothing when it is unset.
func writeHeapProfile() {
	path := os.Getenv("ONNXSLIM_MEMPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "onnxslim: ONNXSLIM_MEMPROFILE:", err)
	}
}
