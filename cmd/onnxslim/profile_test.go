package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunProfile checks `run --profile`: every node of the MNIST CNN timed
// once per run, the per-op totals naming each op type, the Conv rows with a
// GFLOP/s figure, and --profile-json a Chrome trace with one complete event
// per node whose durations are positive and sum to no more than the run.
func TestRunProfile(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "trace.json")
	code, stdout, stderr := runCLI(t, "run", mnistCNN(t), "--profile", "--profile-json", trace, "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"top nodes:", "per op type:", "Conv", "kernels: "} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("profile lacks %q:\n%s", want, stdout)
		}
	}
	var convRate bool
	for _, line := range strings.Split(stdout, "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[0] == "Conv" && f[4] != "-" {
			convRate = true
		}
	}
	if !convRate {
		t.Fatalf("no GFLOP/s for Conv in:\n%s", stdout)
	}
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	var events []struct {
		Name, Ph string
		Ts, Dur  float64
		Args     map[string]any
	}
	if err := json.Unmarshal(b, &events); err != nil {
		t.Fatalf("trace is not a JSON array of events: %v", err)
	}
	if len(events) != 14 { // the CNN's 16 nodes less its 2 Constants, which the session holds as values
		t.Fatalf("%d trace events, want one per computed node (14)", len(events))
	}
	for _, e := range events {
		if e.Ph != "X" || !(e.Dur > 0) || e.Ts < 0 || e.Args["op_name"] == nil {
			t.Fatalf("bad event %+v", e)
		}
	}
}
