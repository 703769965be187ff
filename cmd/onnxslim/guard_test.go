package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
)

// TestLossyGuard: a lossy pipeline with no bound of the user's is refused
// when its outputs' cosine with the original falls below 0.9 (binary
// weights on resnet18: about 0.64), with a message that says why and what to
// try and nothing written (the save that ran beside the check leaves no
// file); --force writes it; an explicit bound decides
// instead of the guard.
func TestLossyGuard(t *testing.T) {
	in := filepath.Join(testdata.Models(t), "resnet18_op13", "model.onnx")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	spec := "default,quantize(mode=binary)"
	code, stdout, stderr := runCLI(t, in, "-o", out, "--passes", spec)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{"far from the original", "below the floor", "calib=", "--force", "nothing was written"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("message lacks %q: %s", want, stderr)
		}
	}
	if strings.Contains(stdout, "OK") {
		t.Errorf("OK printed for a refused result: %s", stdout)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("the refused result was written")
	}
	// The save ran beside the check: nothing of it is left either.
	if es, err := os.ReadDir(dir); err != nil || len(es) != 0 {
		t.Fatalf("the folder holds %d files after the refusal (%v)", len(es), err)
	}
	if code, _, stderr := runCLI(t, in, "-o", out, "--passes", spec, "--force", "-q"); code != 0 {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if code, _, stderr := runCLI(t, in, "-o", out, "--passes", spec, "--min-cosine", "0.5", "-q"); code != 0 {
		t.Fatalf("--min-cosine 0.5 (an explicit bound the result meets): exit %d: %s", code, stderr)
	}
}
