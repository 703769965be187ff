package all_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// compareCase is a model with a folder of inputs in the backend-test layout.
type compareCase struct {
	name, model, inputs string
	// spec is the pipeline held to ORT's node count. The light/ models make
	// their weights with ConstantOfShape: ORT materializes them (alexnet's
	// file would grow from 4 KB to 244 MB), which the default fold budget
	// refuses by design, so they are held to it with an unlimited budget.
	spec string
}

// compareCases lists the real models (first data set) and the light/ models,
// whose input is made as the conformance README prescribes.
func compareCases(t *testing.T) []compareCase {
	var cases []compareCase
	for _, p := range must(filepath.Glob(filepath.Join(testdata.Models(t), "*", "model.onnx"))) {
		dir := filepath.Dir(p)
		cases = append(cases, compareCase{filepath.Base(dir), p, filepath.Join(dir, "test_data_set_0"), "default"})
	}
	if len(cases) == 0 {
		t.Fatalf("no */model.onnx in %s", testdata.Models(t))
	}
	if os.Getenv("ONNXSLIM_COMPARE_ALL") == "" {
		// Materializing the light/ models' weights writes ~1.4 GB and takes
		// minutes; `make compare` includes them.
		t.Log("light/ models left out: run `make compare` (ONNXSLIM_COMPARE_ALL=1) for the full table")
		return cases
	}
	tmp := t.TempDir()
	for _, p := range must(filepath.Glob(filepath.Join(testdata.Conformance(t), "light", "*.onnx"))) {
		name := strings.TrimSuffix(filepath.Base(p), ".onnx")
		m, err := onnx.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		var in *onnx.Value
		for _, v := range m.Graph.Inputs {
			if v.Const == nil { // IR 3 models list initializers among the inputs
				in = v
				break
			}
		}
		shape := make([]int, len(in.Type.Shape))
		for i, d := range in.Type.Shape {
			shape[i] = 1
			if d.IsStatic() {
				shape[i] = int(d.Value)
			}
		}
		x := interp.Make(onnx.Float, shape...)
		xs := x.Floats()
		for i := range xs {
			xs[i] = float32(float64(i) / float64(len(xs)))
		}
		dir := filepath.Join(tmp, name)
		os.MkdirAll(dir, 0o755)
		ot, _ := interp.ToONNX(in.Name, x)
		b, _ := onnx.EncodeTensor(ot)
		os.WriteFile(filepath.Join(dir, "input_0.pb"), b, 0o644)
		cases = append(cases, compareCase{name, p, dir, "fold(max_bytes=4GiB),default"})
	}
	return cases
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestCompareORT is the pipeline's acceptance table: for every model the
// default pipeline's output loads and runs in ONNX Runtime with the same
// outputs as the original, and has no more nodes than ORT's own basic
// offline optimization of the same model.
func TestCompareORT(t *testing.T) {
	ort.Require(t)
	tmp := t.TempDir()
	var rows []string
	for _, c := range compareCases(t) {
		m, err := onnx.Load(c.model)
		if err != nil {
			t.Fatal(err)
		}
		nodesIn := len(m.Graph.Nodes)
		bytesIn := fileSize(c.model)
		defaultNodes := -1
		if c.spec != "default" {
			d, err := onnx.Load(c.model)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := must(passes.Parse("default")).Run(context.Background(), d, passes.Config{}); err != nil {
				t.Fatal(err)
			}
			defaultNodes = len(d.Graph.Nodes)
		}
		p, err := passes.Parse(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Run(context.Background(), m, passes.Config{}); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		out := filepath.Join(tmp, c.name+".onnx")
		if err := onnx.Save(m, out, onnx.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		ortOpt := filepath.Join(tmp, c.name+".ort-basic.onnx")
		want, err := ort.RunErr(c.model, c.inputs, filepath.Join(tmp, c.name+"-ref"), "--optimize", "basic", "--optimized-out", ortOpt)
		if err != nil {
			t.Errorf("%s: ORT on the original: %v", c.name, err)
			continue
		}
		got, err := ort.RunErr(out, c.inputs, filepath.Join(tmp, c.name+"-out"), "--optimize", "disabled")
		if err != nil {
			t.Errorf("%s: ORT on onnxslim's output: %v", c.name, err)
			continue
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d outputs, want %d", c.name, len(got), len(want))
			continue
		}
		for i := range want {
			if msg := closeEnough(got[i], want[i]); msg != "" {
				t.Errorf("%s: output %d: %s", c.name, i, msg)
			}
		}
		om, err := onnx.Load(ortOpt)
		if err != nil {
			t.Fatal(err)
		}
		ortNodes := len(om.Graph.Nodes)
		if len(m.Graph.Nodes) > ortNodes {
			t.Errorf("%s: %d nodes after the default pipeline, ORT basic leaves %d", c.name, len(m.Graph.Nodes), ortNodes)
		}
		note := ""
		if defaultNodes >= 0 {
			note = fmt.Sprintf(" (%s; plain default: %d nodes)", c.spec, defaultNodes)
		}
		rows = append(rows, fmt.Sprintf("| %s | %d | %d%s | %d | %d | %d |", c.name, nodesIn, len(m.Graph.Nodes), note, ortNodes, bytesIn, fileSize(out)))
	}
	t.Logf("\n| model | nodes in | nodes out | ORT basic nodes | bytes in | bytes out |\n|---|---|---|---|---|---|\n%s", strings.Join(rows, "\n"))
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return st.Size()
}

// closeEnough compares two ORT outputs with the default lossless tolerance.
func closeEnough(got, want *onnx.Tensor) string {
	return testutil.MismatchTensor(got, want, 1e-4, 1e-4, 1e-5)
}

// BenchmarkPipelineVsORT times onnxslim's default pipeline (decode, passes,
// encode, write) and ONNX Runtime's session creation with basic optimization
// writing its optimized model, interleaved in one run, and reports medians.
func BenchmarkPipelineVsORT(b *testing.B) {
	ort.Require(b)
	for _, name := range []string{"resnet18_op13", "transformer_op14"} {
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(testdata.Models(b), name, "model.onnx")
			p, err := passes.Parse("default")
			if err != nil {
				b.Fatal(err)
			}
			out := filepath.Join(b.TempDir(), "out.onnx")
			var ours, theirs []float64
			for b.Loop() {
				start := time.Now()
				m, err := onnx.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Run(context.Background(), m, passes.Config{}); err != nil {
					b.Fatal(err)
				}
				if err := onnx.Save(m, out, onnx.SaveOptions{}); err != nil {
					b.Fatal(err)
				}
				ours = append(ours, float64(time.Since(start).Microseconds())/1000)
				ms, err := ortOptimizeMS(path)
				if err != nil {
					b.Fatal(err)
				}
				theirs = append(theirs, ms)
			}
			mo, mt := median(ours), median(theirs)
			b.ReportMetric(mo, "onnxslim-ms")
			b.ReportMetric(mt, "ort-basic-ms")
			b.ReportMetric(mo/mt, "ratio")
		})
	}
}

// ortOptimizeMS times one ORT session creation (inside node, so process
// start-up is not counted) with basic optimization writing the model.
func ortOptimizeMS(model string) (float64, error) {
	out := filepath.Join(os.TempDir(), "onnxslim-ort-basic.onnx")
	cmd := exec.Command("node", filepath.Join(ort.Dir(), "optbench.js"), model, "1", "basic", out)
	b, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("optbench: %w", err)
	}
	var res struct{ MS []float64 }
	if err := json.Unmarshal(b, &res); err != nil || len(res.MS) == 0 {
		return 0, fmt.Errorf("optbench: bad output %q", b)
	}
	return res.MS[0], nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
