package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/onnxslim/onnxslim/internal/conformance"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/onnx"
)

// minCLINodeMatches is the in-process harness's floor (interp's
// minNodePassed): the CLI's data path must match as many node/ cases.
const minCLINodeMatches = 1789

// TestConformanceThroughCLI runs every case of onnx-conformance/node the way a
// user would: `onnxslim run model.onnx --inputs test_data_set_N --out DIR`
// (in-process, through run), then compares DIR's output_N.pb with the
// expected outputs by the backend runner's rule (internal/conformance, the
// harness's comparison). It counts the cases whose every set matches, holds
// the count to the harness's floor, and requires a match wherever the
// interpreter fed the .pb files directly matches. About 10 s.
func TestConformanceThroughCLI(t *testing.T) {
	root := filepath.Join(testdata.Conformance(t), "node")
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	for _, d := range dirs {
		if d.IsDir() {
			cases = append(cases, filepath.Join(root, d.Name()))
		}
	}
	var matched, direct atomic.Int64
	var mu sync.Mutex
	var lost []string
	work := make(chan string)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for dir := range work {
				cliErr := runCaseCLI(t, dir)
				if cliErr == nil {
					matched.Add(1)
				}
				if directErr := runCaseDirect(dir); directErr == nil {
					direct.Add(1)
					// A sampling case can match its expected output by
					// chance on one run and not on the other.
					if cliErr != nil && !samples(dir) {
						mu.Lock()
						lost = append(lost, fmt.Sprintf("%s: %v", filepath.Base(dir), cliErr))
						mu.Unlock()
					}
				}
			}
		}()
	}
	for _, c := range cases {
		work <- c
	}
	close(work)
	wg.Wait()
	t.Logf("node/ through the CLI's data path: %d of %d cases match their expected outputs", matched.Load(), len(cases))
	t.Logf("the interpreter fed directly matches %d of them", direct.Load())
	if matched.Load() < minCLINodeMatches {
		t.Errorf("%d cases match through the CLI, fewer than the in-process harness's %d", matched.Load(), minCLINodeMatches)
	}
	for _, l := range lost {
		t.Errorf("matches when fed directly, not through the CLI: %s", l)
	}
}

// runCaseCLI runs one case's sets through `onnxslim run` and compares.
func runCaseCLI(t *testing.T, dir string) error {
	model := filepath.Join(dir, "model.onnx")
	m, err := onnx.Load(model)
	if err != nil {
		return err
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return fmt.Errorf("no test_data_set_*")
	}
	for _, set := range sets {
		out := t.TempDir()
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"onnxslim", "run", model, "--inputs", set, "--out", out, "-q", "--timeout", "20s"}, &bytes.Buffer{}, &stderr)
		if code != exitOK {
			return fmt.Errorf("exit %d: %s", code, stderr.String())
		}
		if err := compareOutputs(m, set, out); err != nil {
			return err
		}
	}
	return nil
}

func compareOutputs(m *onnx.Model, set, out string) error {
	for i, v := range m.Graph.Outputs {
		name := fmt.Sprintf("output_%d.pb", i)
		want, err := conformance.ReadDatum(filepath.Join(set, name), v.Type)
		if err != nil {
			return err
		}
		got, err := conformance.ReadDatum(filepath.Join(out, name), v.Type)
		if err != nil {
			return err
		}
		if err := conformance.Compare(got, want, 1e-3, 1e-7); err != nil {
			return fmt.Errorf("output %d %q: %w", i, v.Name, err)
		}
	}
	return nil
}

// runCaseDirect is the harness's way: input_N.pb fed to the interpreter.
func runCaseDirect(dir string) error {
	m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return err
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	for _, set := range sets {
		got, err := conformance.RunSet(m, set)
		if err != nil {
			return err
		}
		for i, v := range m.Graph.Outputs {
			want, err := conformance.ReadDatum(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)), v.Type)
			if err != nil {
				return err
			}
			if err := conformance.Compare(got[i], want, 1e-3, 1e-7); err != nil {
				return err
			}
		}
	}
	return nil
}

// samples reports whether the case's model draws random numbers (its
// outputs differ from run to run unless seeded).
func samples(dir string) bool {
	m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return false
	}
	for _, g := range m.Graphs() {
		for _, n := range g.Nodes {
			switch n.OpType {
			case "Bernoulli", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial":
				return true
			}
		}
	}
	return false
}
