package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/biggen"
	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// bigBytes is the generated model's weight size: ONNXSLIM_BIG_BYTES, or
// 2.5 GiB (over protobuf's 2 GiB limit).
func bigBytes(t *testing.T) int64 {
	if s := os.Getenv("ONNXSLIM_BIG_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("ONNXSLIM_BIG_BYTES=%q: %v", s, err)
		}
		return n
	}
	return 5 << 29
}

// TestBigModel: a generated decoder-only transformer over 2 GiB, its
// weights in external data, goes through the default pipeline (written
// with external data automatically, with a note) and then
// quantize(mode=int4); each output loads in ONNX Runtime and computes what
// the interpreter computes on a short input. Slow (it moves gigabytes):
// run by `make big-ci`, skipped unless ONNXSLIM_BIG=1.
func TestBigModel(t *testing.T) {
	if os.Getenv("ONNXSLIM_BIG") != "1" {
		t.Skip("writes and optimizes a 2.5 GiB model: set ONNXSLIM_BIG=1 (make big-ci)")
	}
	generatedModelFlow(t, biggen.ForBytes(bigBytes(t)))
}

// TestGeneratedModel is TestBigModel's flow on a small generated model
// (external data, 2 layers of width 64), fast enough for every run.
func TestGeneratedModel(t *testing.T) {
	generatedModelFlow(t, biggen.Config{Layers: 2, Width: 64, Heads: 4, FFN: 256, Vocab: 100, Seq: 5, Seed: 3})
}

func generatedModelFlow(t *testing.T, cfg biggen.Config) {
	ort.Require(t)
	dir := t.TempDir()
	step := func(what string, start time.Time) { t.Logf("%-34s %6.1fs", what, time.Since(start).Seconds()) }

	start := time.Now()
	in, dataBytes, err := biggen.Write(dir, "big.onnx", cfg)
	if err != nil {
		t.Fatal(err)
	}
	step(fmt.Sprintf("generate %d layers, %.2f GiB", cfg.Layers, float64(dataBytes)/(1<<30)), start)

	start = time.Now()
	slim := filepath.Join(dir, "slim.onnx")
	code, stdout, stderr := runCLI(t, in, "-o", slim)
	if code != 0 {
		t.Fatalf("default pipeline: exit %d: %s", code, stderr)
	}
	step("default pipeline + verification", start)
	if dataBytes > onnx.MaxProtoSize && !strings.Contains(stderr, "note: the model is") {
		t.Errorf("no note about the automatic external data:\n%s\n%s", stdout, stderr)
	}

	start = time.Now()
	q := filepath.Join(dir, "int4.onnx")
	if code, _, stderr := runCLI(t, slim, "-o", q, "--passes", "quantize(mode=int4,report=0)"); code != 0 {
		t.Fatalf("quantize(mode=int4): exit %d: %s", code, stderr)
	}
	step("quantize(mode=int4)", start)
	// inspect names the data files and what of the model they hold.
	code, stdout, stderr = runCLI(t, "inspect", in)
	if code != 0 || !strings.Contains(stdout, "external data") || !strings.Contains(stdout, fmt.Sprintf("%d tensors", 4+10*cfg.Layers)) {
		t.Errorf("inspect %s: exit %d, want the external data file and its %d tensors:\n%s%s", in, code, 4+10*cfg.Layers, stdout, stderr)
	}

	inputs := filepath.Join(dir, "inputs")
	ids := interp.Make(onnx.Int64, 1, cfg.Seq)
	for i := range ids.Data.([]int64) {
		ids.Data.([]int64)[i] = int64((i*7919 + 13) % cfg.Vocab)
	}
	if err := dataset.WritePB(inputs, "input", []string{"input_ids"}, []*interp.Tensor{ids}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{slim, q} {
		start = time.Now()
		want := interpRun(t, path, ids)
		// With its graph optimizations off ONNX Runtime runs each op as
		// written (int4 DequantizeLinear, then MatMul): the same numbers up
		// to summation order. With them on it fuses DequantizeLinear+MatMul
		// into MatMulNBits, which may round the activations: reported, and
		// held to a looser bound.
		for _, level := range []struct {
			name     string
			relMax   float64
			minCos   float64
			ortFlags []string
		}{{"disabled", 1e-4, 0.999999, []string{"--optimize", "disabled"}}, {"all", 2e-2, 0.999, nil}} {
			got := ort.Run(t, path, inputs, level.ortFlags...)
			if len(got) != 1 {
				t.Fatalf("%s: ONNX Runtime gave %d outputs", path, len(got))
			}
			g, err := got[0].AsFloat32()
			if err != nil {
				t.Fatal(err)
			}
			rel, cos := agreement(t, g, want)
			t.Logf("%s, ORT optimizations %s: max|Δ|/max|y| %.2g, cosine %.7f", filepath.Base(path), level.name, rel, cos)
			if !(rel <= level.relMax && cos >= level.minCos) { // NaN fails
				t.Errorf("%s, ORT optimizations %s: max|Δ|/max|y| %.2g (bound %g), cosine %.7f (bound %g) against the interpreter",
					filepath.Base(path), level.name, rel, level.relMax, cos, level.minCos)
			}
		}
		step(filepath.Base(path)+": interpreter and ORT runs", start)
	}
}

// agreement is max|got−want|/max|want| and the cosine of the two.
func agreement(t *testing.T, got, want []float32) (rel, cos float64) {
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	var scale, worst, ab, aa, bb float64
	for i := range want {
		a, b := float64(want[i]), float64(got[i])
		scale = math.Max(scale, math.Abs(a))
		d := math.Abs(a - b)
		if math.IsNaN(d) {
			return math.NaN(), math.NaN()
		}
		worst = math.Max(worst, d)
		ab, aa, bb = ab+a*b, aa+a*a, bb+b*b
	}
	return worst / scale, ab / math.Sqrt(aa*bb)
}

// interpRun runs the model at path in the interpreter on input_ids.
func interpRun(t *testing.T, path string, ids *interp.Tensor) []float32 {
	t.Helper()
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(map[string]*interp.Tensor{"input_ids": ids})
	if err != nil {
		t.Fatal(err)
	}
	y, err := interp.AsFloat32(out[0])
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// TestLargeModelVerification: the verification of a large model (weights
// held once, quantized and float16 ones decoded in each run) says so and
// measures what the usual path measures, for the default pipeline and
// each weight quantization. interp.LargeModel is lowered so that a small
// generated model takes that path.
func TestLargeModelVerification(t *testing.T) {
	dir := t.TempDir()
	// MLP weights of 512 Ki elements: quantized ones are decoded per run.
	in, _, err := biggen.Write(dir, "m.onnx", biggen.Config{Layers: 1, Width: 512, Heads: 4, FFN: 1024, Vocab: 100, Seq: 5, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	relL2 := func(jsonPath string) float64 {
		b, err := os.ReadFile(jsonPath)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Verify struct {
				Outputs []struct {
					RelL2 float64 `json:"rel_l2"`
				} `json:"outputs"`
			} `json:"verify"`
		}
		if err := json.Unmarshal(b, &r); err != nil || len(r.Verify.Outputs) != 1 {
			t.Fatalf("%s: %v, %d outputs", jsonPath, err, len(r.Verify.Outputs))
		}
		return r.Verify.Outputs[0].RelL2
	}
	for _, passes := range []string{"default", "quantize(mode=int4,report=0)", "quantize(mode=fp16,report=0)", "quantize(mode=int8-weights,report=0)"} {
		var got [2]float64
		for i, large := range []bool{false, true} {
			restore := interp.LargeModel
			if large {
				interp.LargeModel = 64 << 10
			}
			js := filepath.Join(dir, fmt.Sprintf("r%d.json", i))
			code, _, stderr := runCLI(t, in, "-o", filepath.Join(dir, "out.onnx"), "--passes", passes, "--json", js)
			interp.LargeModel = restore
			if code != 0 {
				t.Fatalf("%s (large %v): exit %d: %s", passes, large, code, stderr)
			}
			if note := strings.Contains(stderr, "its runs hold them once"); note != large {
				t.Errorf("%s (large %v): note about the large model's verification: %v\n%s", passes, large, note, stderr)
			}
			got[i] = relL2(js)
		}
		// The same comparison up to float32 summation order (which moves
		// some of a float16 model's roundings by one step: 0.6% here).
		if d := math.Abs(got[0] - got[1]); !(d <= 1e-6+2e-2*got[0]) {
			t.Errorf("%s: rel L2 %g on the usual path, %g on the large model's", passes, got[0], got[1])
		}
	}
	// run holds a large model's weights once too (it prepacked a copy of
	// all of them: 8 GiB more memory on make big's model).
	for _, large := range []bool{false, true} {
		restore := interp.LargeModel
		if large {
			interp.LargeModel = 64 << 10
		}
		code, _, stderr := runCLI(t, "run", in, "--out", filepath.Join(dir, fmt.Sprintf("run%v", large)))
		interp.LargeModel = restore
		if code != 0 {
			t.Fatalf("run (large %v): exit %d: %s", large, code, stderr)
		}
		if note := strings.Contains(stderr, "its runs hold them once"); note != large {
			t.Errorf("run (large %v): note about the large model's runs: %v\n%s", large, note, stderr)
		}
	}
}
