package onnx

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKilledSaveLeavesNothing: a process killed (SIGKILL) in the middle of
// saving a model with external data leaves no file in the output folder —
// neither the model, nor the data file, nor a temporary — and an earlier
// model at that path is left as it was.
func TestKilledSaveLeavesNothing(t *testing.T) {
	if dir := os.Getenv("ONNXSLIM_KILL_HELPER"); dir != "" {
		killHelper(t, dir)
		return
	}
	for _, previous := range []bool{false, true} {
		dir := t.TempDir()
		if previous {
			if err := os.WriteFile(filepath.Join(dir, "out.onnx"), []byte("old model"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledSaveLeavesNothing$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ONNXSLIM_KILL_HELPER="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		mid := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "mid-save") {
					mid <- true
					return
				}
			}
			mid <- false
		}()
		select {
		case ok := <-mid:
			if !ok {
				cmd.Wait()
				t.Fatal("the helper ended without reaching the middle of the save")
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatal("the helper did not reach the middle of the save in 60 s")
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		want := ""
		if previous {
			want = "out.onnx"
			if b, _ := os.ReadFile(filepath.Join(dir, "out.onnx")); string(b) != "old model" {
				t.Errorf("the earlier out.onnx was changed: %q", b)
			}
		}
		if strings.Join(names, ",") != want {
			t.Errorf("after kill -9 mid-save (earlier model: %v): folder holds %v, want [%s]", previous, names, want)
		}
	}
}

// killHelper saves a model with 8 MiB of external data into dir and stops
// in the middle, saying so, to be killed.
func killHelper(t *testing.T, dir string) {
	g := &Graph{Name: "g"}
	m := &Model{IRVersion: 8, Opsets: []OpsetID{{Version: 17}}, Graph: g}
	x := g.AddInput("x", TensorType(Float, ShapeOf(1<<21)))
	w := g.AddInitializer("w", NewTensor("w", Float, []int64{1 << 21}, make([]byte, 8<<20)))
	n := g.NewNode("Add", "", "add", []*Value{x, w}, "y")
	g.Append(n)
	g.Outputs = append(g.Outputs, n.Output(0))
	testHookMidSave = func() {
		os.Stdout.WriteString("mid-save\n")
		time.Sleep(time.Minute)
	}
	if err := Save(m, filepath.Join(dir, "out.onnx"), SaveOptions{ExternalData: true}); err != nil {
		t.Fatal(err)
	}
}
