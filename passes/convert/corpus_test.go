package convert_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/conformance"
	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	_ "github.com/onnxslim/onnxslim/passes/all" // quantize
	"github.com/onnxslim/onnxslim/passes/convert"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// TestConvertConformance converts every case of ONNX's node suite below
// opset 21 to the next opset and to 21, and runs the original and the
// converted model on the case's inputs: every conversion the pass accepts
// must give the same outputs. The log counts converted and refused cases.
func TestConvertConformance(t *testing.T) {
	root := filepath.Join(testdata.Conformance(t), "node")
	dirs, _ := filepath.Glob(filepath.Join(root, "*"))
	if len(dirs) == 0 {
		t.Fatalf("no cases under %s", root)
	}
	var converted, refused, current, unrunnable, random, failed int
	reasons := map[string]int{}
	for _, dir := range dirs {
		m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
		if err != nil {
			continue // cases that do not load are the conformance harness's business
		}
		have := m.Opset("")
		if have >= convert.Newest || have == 0 {
			current++
			continue
		}
		set := filepath.Join(dir, "test_data_set_0")
		want, err := conformance.RunSet(m, set)
		if err != nil {
			unrunnable++
			continue
		}
		if again, err := conformance.RunSet(m, set); err != nil || same(again, want) != nil {
			random++ // sampling ops: two runs differ already
			continue
		}
		targets := []int64{max(have+1, convert.Oldest), convert.Newest}
		if targets[0] == targets[1] {
			targets = targets[1:]
		}
		for _, to := range targets {
			c := m.Clone()
			if _, err := convert.Upgrade(c, to); err != nil {
				refused++
				reasons[reason(err)]++
				continue
			}
			converted++
			got, err := roundTrip(c, set)
			if err == nil {
				err = same(got, want)
			}
			if err != nil {
				failed++
				t.Errorf("%s: opset %d → %d: %v", filepath.Base(dir), have, to, err)
			}
		}
	}
	t.Logf("node cases: %d conversions accepted (outputs identical in %d), %d refused, %d cases already at opset %d, %d not run by the interpreter, %d sampling",
		converted, converted-failed, refused, current, convert.Newest, unrunnable, random)
	var keys []string
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("  refused %3d× %s", reasons[k], k)
	}
	if converted == 0 {
		t.Fatal("no case converted")
	}
}

// roundTrip encodes and decodes the converted model (what a user gets in
// the file) and runs it on a backend-test set.
func roundTrip(m *onnx.Model, set string) ([]*interp.Tensor, error) {
	data, err := onnx.Encode(m)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	d, err := onnx.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return conformance.RunSet(d, set)
}

// reason strips the node name off a refusal, to count refusals by kind.
func reason(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": cannot convert opset"); i >= 0 {
		s = s[i+2:]
		if j := strings.Index(s, ": "); j >= 0 {
			s = s[j+2:]
		}
	}
	if len(s) > 110 {
		s = s[:110] + "…"
	}
	return s
}

func same(got, want []*interp.Tensor) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d outputs, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] == nil || want[i] == nil {
			if got[i] != want[i] {
				return fmt.Errorf("output %d: one side is missing", i)
			}
			continue
		}
		if err := conformance.Compare(got[i], want[i], 1e-6, 1e-7); err != nil {
			return fmt.Errorf("output %d: %v", i, err)
		}
	}
	return nil
}

// TestConvertRealModels converts the opset-9 models of the real-models
// corpus to 13 and 21: the interpreter gives the same outputs on seeded
// inputs, ONNX Runtime runs the converted file to the outputs it gives the
// original, and quantize(mode=int8), which needs opset 13, works on each.
func TestConvertRealModels(t *testing.T) {
	dir := testdata.RealModels(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.onnx"))
	var old []string
	for _, f := range files {
		m, err := onnx.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if m.Opset("") < 13 {
			old = append(old, f)
		}
	}
	if len(old) == 0 {
		t.Fatalf("no model below opset 13 in %s", dir)
	}
	for _, f := range old {
		name := strings.TrimSuffix(filepath.Base(f), ".onnx")
		t.Run(name, func(t *testing.T) {
			orig, err := onnx.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			var inputs []*onnx.Value // an IR-4 weight listed as an input keeps its default
			for _, v := range orig.Graph.Inputs {
				if v.Const == nil {
					inputs = append(inputs, v)
				}
			}
			feeds, err := dataset.Random(inputs, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := passtest.EvalAll(t, orig, feeds)
			for _, to := range []int64{13, convert.Newest} {
				m := orig.Clone()
				n, err := convert.Upgrade(m, to)
				if err != nil {
					t.Fatalf("opset %d → %d: %v", orig.Opset(""), to, err)
				}
				if err := same(passtest.EvalAll(t, m, feeds), want); err != nil {
					t.Errorf("opset %d → %d (%d rewrites): %v", orig.Opset(""), to, n, err)
				}
				t.Logf("opset %d → %d: %d nodes rewritten, IR %d → %d, outputs identical", orig.Opset(""), to, n, orig.IRVersion, m.IRVersion)
				if to == convert.Newest && ort.Available() {
					checkORT(t, orig, m, feeds)
				}
			}
			q := orig.Clone()
			p, err := passes.Parse("quantize(mode=int8)")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Run(context.Background(), q, passes.Config{}); err != nil {
				t.Fatalf("quantize(mode=int8): %v", err)
			}
			if q.Opset("") < 13 {
				t.Errorf("quantized model at opset %d: per-channel int8 needs 13", q.Opset(""))
			}
			cos := cosine(passtest.EvalAll(t, q, feeds), want)
			t.Logf("quantize(mode=int8): opset %d, smallest output cosine %.5f on a seeded input", q.Opset(""), cos)
			if !(cos > 0.98) { // measured ≥ 0.993 on every model
				t.Errorf("quantize(mode=int8): output cosine %.5f with the float model", cos)
			}
		})
	}
}

// checkORT runs both files in ONNX Runtime (optimizations off) on the
// same inputs.
func checkORT(t *testing.T, orig, conv *onnx.Model, feeds map[string]*interp.Tensor) {
	t.Helper()
	dir := t.TempDir()
	var names []string
	var ts []*interp.Tensor
	for _, v := range orig.Graph.Inputs {
		if x, ok := feeds[v.Name]; ok {
			names, ts = append(names, v.Name), append(ts, x)
		}
	}
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := dataset.WritePB(in, "input", names, ts); err != nil {
		t.Fatal(err)
	}
	paths := []string{filepath.Join(dir, "orig.onnx"), filepath.Join(dir, "conv.onnx")}
	for i, m := range []*onnx.Model{orig, conv} {
		if err := onnx.Save(m, paths[i], onnx.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a := ort.Run(t, paths[0], in, "--optimize", "disabled")
	b := ort.Run(t, paths[1], in, "--optimize", "disabled")
	if len(a) != len(b) {
		t.Fatalf("ORT: %d outputs, converted %d", len(a), len(b))
	}
	for i := range a {
		x, err1 := a[i].AsFloat32()
		y, err2 := b[i].AsFloat32()
		if err1 != nil || err2 != nil {
			t.Fatalf("ORT output %d: %v %v", i, err1, err2)
		}
		if len(x) != len(y) {
			t.Fatalf("ORT output %d: %d elements, converted %d", i, len(x), len(y))
		}
		for j := range x {
			if d := math.Abs(float64(x[j] - y[j])); !(d <= 1e-5+1e-5*math.Abs(float64(x[j]))) {
				t.Fatalf("ORT output %d[%d]: original %g, converted %g", i, j, x[j], y[j])
			}
		}
	}
	t.Logf("ONNX Runtime runs the opset-%d file to the original's outputs (%d outputs)", conv.Opset(""), len(a))
}

// cosine is the smallest cosine similarity over the outputs.
func cosine(got, want []*interp.Tensor) float64 {
	worst := 1.0
	for i := range want {
		a, err1 := interp.AsFloat32(got[i])
		b, err2 := interp.AsFloat32(want[i])
		if err1 != nil || err2 != nil || len(a) != len(b) {
			return math.NaN()
		}
		var ab, aa, bb float64
		for j := range a {
			ab += float64(a[j]) * float64(b[j])
			aa += float64(a[j]) * float64(a[j])
			bb += float64(b[j]) * float64(b[j])
		}
		c := 1.0
		if aa > 0 || bb > 0 {
			c = ab / math.Sqrt(aa*bb)
		}
		worst = math.Min(worst, c)
	}
	return worst
}
