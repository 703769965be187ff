package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onnxslim/onnxslim/onnx"
)

// longLoopModel writes a model whose Loop runs trips times (x + 1 each time).
func longLoopModel(t *testing.T, trips int64) string {
	t.Helper()
	g := &onnx.Graph{Name: "main"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(1)))
	m := g.AddInitializer("M", onnx.NewInt64Tensor("M", nil, []int64{trips}))
	body := &onnx.Graph{Name: "body"}
	body.AddInput("iter", onnx.TensorType(onnx.Int64, onnx.Shape{}))
	cin := body.AddInput("cond_in", onnx.TensorType(onnx.Bool, onnx.Shape{}))
	xin := body.AddInput("x_in", onnx.TensorType(onnx.Float, onnx.ShapeOf(1)))
	one := body.AddInitializer("one", onnx.NewFloatTensor("one", []int64{1}, []float32{1}))
	c := body.NewNode("Identity", "", "cond", []*onnx.Value{cin}, "cond_out")
	body.Append(c)
	add := body.NewNode("Add", "", "add", []*onnx.Value{xin, one}, "x_out")
	body.Append(add)
	c.Output(0).Type = onnx.TensorType(onnx.Bool, onnx.Shape{})
	add.Output(0).Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(1))
	body.Outputs = []*onnx.Value{c.Output(0), add.Output(0)}
	loop := g.NewNode("Loop", "", "loop", []*onnx.Value{m, nil, x}, "y")
	loop.Attrs = []*onnx.Attribute{{Name: "body", Type: onnx.AttrGraph, Graph: body}}
	g.Append(loop)
	loop.Output(0).Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(1))
	g.Outputs = []*onnx.Value{loop.Output(0)}
	path := filepath.Join(t.TempDir(), "loop.onnx")
	if err := onnx.Save(&onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}, path, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLongLoopEnds: a Loop with 10^12 trips ends the main job (verification)
// and run at their deadline, exit 1, with a message saying what to do.
func TestLongLoopEnds(t *testing.T) {
	in := longLoopModel(t, 1e12)
	out := filepath.Join(t.TempDir(), "out.onnx")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"main job", []string{in, "-o", out, "--verify-timeout", "2s"}, []string{"did not finish within 2s", "--verify-timeout", "--no-verify", "Loop"}},
		{"run", []string{"run", in, "--timeout", "2s"}, []string{"did not finish within 2s", "--timeout", "Loop"}},
		{"verify", []string{"verify", in, in, "--verify-timeout", "2s"}, []string{"did not finish within 2s", "--verify-timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, _, stderr := runCLI(t, tc.args...)
			t.Logf("exit %d: %s", code, stderr)
			if took := time.Since(start); took > 60*time.Second {
				t.Errorf("took %s", took)
			}
			if code != exitFailure {
				t.Fatalf("exit %d, want 1: %s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("message lacks %q: %s", w, stderr)
				}
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("an output file was written")
			}
		})
	}
	// A short loop still runs to the end.
	if code, stdout, stderr := runCLI(t, "run", longLoopModel(t, 1000), "--timeout", "20s"); code != 0 || !strings.Contains(stdout, "y: float32[1]") {
		t.Errorf("a 1000-trip loop: exit %d: %s %s", code, stdout, stderr)
	}
}

// TestInterruptExits130 sends SIGINT to the built binary during a long
// verification: it must exit 130 within a second and leave no output.
func TestInterruptExits130(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "onnxslim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	in := longLoopModel(t, 1e12)
	for _, args := range [][]string{{in, "-o", filepath.Join(dir, "out.onnx")}, {"run", in, "--out", filepath.Join(dir, "outdir")}} {
		cmd := exec.Command(bin, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // into the loop
		sent := time.Now()
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		took := time.Since(sent)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
			t.Errorf("%v: want exit 130, got %v (%s)", args, err, stderr.String())
		}
		if took > time.Second {
			t.Errorf("%v: exited %s after SIGINT", args, took)
		}
		if !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("%v: stderr %q does not say interrupted", args, stderr.String())
		}
		for _, p := range []string{"out.onnx", "outdir"} {
			if _, err := os.Stat(filepath.Join(dir, p)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%v: %s exists after the interrupt", args, p)
			}
		}
	}
}
