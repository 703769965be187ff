// Package ort runs models in ONNX Runtime (CPU), the reference backend of
// onnxslim's tests, through tools/ort/run.js and onnxruntime-node.
//
// `make test` installs it (npm ci in tools/ort). Tests that need it call Run
// or Require: without it they skip with a message saying how to install it,
// and under CI=true they fail, so CI never passes by skipping.
package ort

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/cpu"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Dir is the tools/ort folder of the repository.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	// internal/ort/ort.go → module root → tools/ort
	return filepath.Join(filepath.Dir(file), "..", "..", "tools", "ort")
}

// Available reports whether node and the installed onnxruntime-node package are present.
func Available() bool { return missing() == "" }

func missing() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not on PATH"
	}
	if _, err := os.Stat(filepath.Join(Dir(), "node_modules", "onnxruntime-node", "package.json")); err != nil {
		return "onnxruntime-node is not installed in " + Dir() + " (run `make ort` or `make test`)"
	}
	return ""
}

// U8S8Saturates reports whether ONNX Runtime's uint8×int8 integer kernels
// (QGemm, MatMulIntegerToFloat, DynamicQuantizeMatMul, and the QDQ
// fusions of an optimized session) saturate on this CPU: on x86 without
// VNNI (AVX2, AVX-512 without VNNI) they add u8·s8 products in pairs to
// 16 bits (vpmaddubsw), so a pair over 32767 clips. With int8 values in
// [-64, 64] no pair can (255·64·2 < 32768): quantize's reduce_range.
func U8S8Saturates() bool {
	return runtime.GOARCH == "amd64" && !cpu.X86.HasAVX512VNNI && !cpu.X86.HasAVXVNNI
}

// Require skips the test when ONNX Runtime is missing, or fails it under CI=true.
func Require(t testing.TB) {
	t.Helper()
	if why := missing(); why != "" {
		testdata.Missing(t, "ONNX Runtime is not available: "+why)
	}
}

// Run runs model on the input_N.pb files of inputsDir and returns the outputs
// in the model's output order. Extra arguments go to run.js (e.g.
// "--optimize", "basic", "--optimized-out", FILE).
func Run(t testing.TB, model, inputsDir string, args ...string) []*onnx.Tensor {
	t.Helper()
	Require(t)
	outs, err := RunErr(model, inputsDir, t.TempDir(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// RunErr is Run without a testing.TB: it writes the outputs into outDir.
func RunErr(model, inputsDir, outDir string, args ...string) ([]*onnx.Tensor, error) {
	if why := missing(); why != "" {
		return nil, fmt.Errorf("ONNX Runtime is not available: %s", why)
	}
	cmd := exec.Command("node", append([]string{filepath.Join(Dir(), "run.js"), model, inputsDir, outDir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("onnxruntime on %s: %w: %s", model, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var outs []*onnx.Tensor
	for i := 0; ; i++ {
		p := filepath.Join(outDir, fmt.Sprintf("output_%d.pb", i))
		data, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			break
		}
		if err != nil {
			return nil, err
		}
		tensor, err := onnx.DecodeTensor(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		outs = append(outs, tensor)
	}
	if len(outs) == 0 {
		return nil, fmt.Errorf("onnxruntime on %s wrote no outputs", model)
	}
	return outs, nil
}

// WriteInputs writes ts as input_0.pb, input_1.pb, … (the order of the
// session's inputs, names theirs) into a new folder under t's temp dir and
// returns it, for Run.
func WriteInputs(t testing.TB, names []string, ts []*interp.Tensor) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "in")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := dataset.WritePB(dir, "input", names, ts); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Optimized runs the model at path in ONNX Runtime with its graph
// optimizations at level (disabled, basic, extended, all) on seeded random
// inputs, and returns the model ORT saved, the feeds, their folder and
// ORT's outputs. The inputs are the session's (not the initializers an old
// model also lists as inputs); dims fixes symbolic dimensions.
func Optimized(t testing.TB, path, level string, seed uint64, dims map[string]int64) (opt *onnx.Model, feeds map[string]*interp.Tensor, inDir string, want []*onnx.Tensor) {
	t.Helper()
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if feeds, err = dataset.Random(s.Inputs(), seed, dims); err != nil {
		t.Fatal(err)
	}
	var names []string
	var ins []*interp.Tensor
	for _, v := range s.Inputs() {
		names, ins = append(names, v.Name), append(ins, feeds[v.Name])
	}
	inDir = WriteInputs(t, names, ins)
	optPath := filepath.Join(t.TempDir(), "opt.onnx")
	want = Run(t, path, inDir, "--optimize", level, "--optimized-out", optPath, "--threads", "1")
	if opt, err = onnx.Load(optPath); err != nil {
		t.Fatal(err)
	}
	return opt, feeds, inDir, want
}
