package quantize_test

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
	"github.com/onnxslim/onnxslim/passes/quantize"
)

// outlierMLP is x[1,16] → MatMul → Relu → MatMul → y[1,4] where one hidden
// unit is 1000 times larger than the others and not read (a zero row, exact
// in int8): one uint8 scale for the hidden activation rounds the other units
// to zero, so quantizing it ruins the output, while the input quantizes well.
func outlierMLP(t *testing.T) (m *onnx.Model, hidden string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 16)))
	matrix := func(name string, rows, cols int, scale func(r, c int) float64) *onnx.Value {
		w := make([]float32, rows*cols)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				w[r*cols+c] = float32(rng.NormFloat64() / 4 * scale(r, c))
			}
		}
		return b.G.AddInitializer(name, onnx.NewFloatTensor(name, []int64{int64(rows), int64(cols)}, w))
	}
	w1 := matrix("w1", 16, 16, func(_, c int) float64 { return map[bool]float64{true: 1000, false: 1}[c == 0] })
	w2 := matrix("w2", 16, 4, func(r, _ int) float64 { return map[bool]float64{true: 0, false: 1}[r == 0] })
	h := b.Op("Relu", nil, b.Op("MatMul", nil, x, w1))
	y := b.Op("MatMul", nil, h, w2)
	return b.Output(y, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4))), h.Name
}

// quantizeWith runs spec on a copy of m and returns the model, the log and
// the pass's report.
func quantizeWith(t *testing.T, m *onnx.Model, spec string) (*onnx.Model, string, *quantize.Report) {
	t.Helper()
	return quantizeCfg(t, m, spec, passes.Config{})
}

// quantizeCfg is quantizeWith under a pipeline configuration.
func quantizeCfg(t *testing.T, m *onnx.Model, spec string, cfg passes.Config) (*onnx.Model, string, *quantize.Report) {
	t.Helper()
	m = m.Clone()
	p, err := passes.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	var rep *quantize.Report
	ctx := passes.WithDetails(context.Background(), func(pass string, d any) {
		if r, ok := d.(*quantize.Report); ok {
			rep = r
		}
	})
	var log bytes.Buffer
	cfg.Log = &log
	if _, err := p.Run(ctx, m, cfg); err != nil {
		t.Fatalf("%s: %v\n%s", spec, err, log.String())
	}
	t.Logf("%s:\n%s", spec, indent(log.String()))
	return m, log.String(), rep
}

// quantizedTensors are the tensors QuantizeLinear reads.
func quantizedTensors(m *onnx.Model) map[string]bool {
	q := map[string]bool{}
	for _, n := range m.Graph.Nodes {
		if n.OpType == "QuantizeLinear" {
			q[n.Input(0).Name] = true
		}
	}
	return q
}

// checkCosine is the output's cosine of a against b on a few new inputs.
func checkCosine(t *testing.T, a, b *onnx.Model) float64 {
	t.Helper()
	var ra, rb [][]float32
	for i := 0; i < 8; i++ {
		x := interp.Make(onnx.Float, 1, 16)
		for j := range x.Floats() {
			x.Floats()[j] = float32(math.Sin(float64(i*16+j) * 1.3)) // in [-1, 1], like calibration
		}
		ra = append(ra, passtest.Eval(t, a, x))
		rb = append(rb, passtest.Eval(t, b, x))
	}
	cos, _ := cosine(ra, rb)
	if math.IsNaN(cos) { // an all-zero output
		return 0
	}
	return cos
}

func TestFallback(t *testing.T) {
	m, hidden := outlierMLP(t)

	t.Run("target met after fallback", func(t *testing.T) {
		plain, _, rep0 := quantizeWith(t, m, "quantize(samples=16,report=4)")
		if rep0.Fallback != nil {
			t.Errorf("fallback reported without min_cosine: %+v", rep0.Fallback)
		}
		q, log, rep := quantizeWith(t, m, "quantize(samples=16,report=4,min_cosine=0.999)")
		fb := rep.Fallback
		if fb == nil {
			t.Fatal("no fallback in the report")
		}
		if !(fb.Before <= 0.99) || !fb.Reached || !(fb.After >= 0.999) || fb.Warning != "" {
			t.Errorf("cosine %.5f → %.5f, reached %v, warning %q: want < 0.99 → ≥ 0.999, reached", fb.Before, fb.After, fb.Reached, fb.Warning)
		}
		if len(fb.Float) != 1 || fb.Float[0].Tensor != hidden || fb.Quantized != 2 {
			t.Errorf("left in float %+v of %d activations, want only %s of 2", fb.Float, fb.Quantized, hidden)
		}
		if len(fb.Steps) == 0 || fb.Steps[len(fb.Steps)-1].Cosine != fb.After {
			t.Errorf("steps %+v do not end at %.5f", fb.Steps, fb.After)
		}
		if !strings.Contains(log, "min_cosine 0.999: outputs' cosine") || strings.Contains(log, "warning: min_cosine") {
			t.Errorf("log lacks the summary or warns:\n%s", log)
		}
		// The model itself: the hidden activation is float again, the input
		// is still quantized, the weights are still int8.
		qt := quantizedTensors(q)
		if qt[hidden] || !qt["x"] {
			t.Errorf("quantized tensors %v: want x only", qt)
		}
		for _, n := range q.Graph.Nodes {
			if n.OpType == "MatMul" && (n.Input(1).Producer() == nil || n.Input(1).Producer().OpType != "DequantizeLinear") {
				t.Errorf("%s: weight not int8 through DequantizeLinear", n.Name)
			}
		}
		// The per-layer report describes the model written.
		if out := rep.Outputs[0].Cosine; !(out >= 0.999) {
			t.Errorf("report's output cosine %.5f after fallback < 0.999", out)
		}
		before, after := checkCosine(t, m, plain), checkCosine(t, m, q)
		t.Logf("outputs' cosine on other inputs: %.5f without fallback, %.5f with", before, after)
		if !(after >= 0.999 && after > before) {
			t.Errorf("cosine on other inputs %.5f → %.5f: want ≥ 0.999", before, after)
		}
	})

	t.Run("target not reachable", func(t *testing.T) {
		// The weights stay int8: a cosine of 1 cannot be reached. The pass
		// still succeeds, says so, and reports what it did.
		q, log, rep := quantizeWith(t, m, "quantize(samples=16,report=0,min_cosine=1,max_fallback=1)")
		fb := rep.Fallback
		if fb == nil {
			t.Fatal("no fallback in the report (report=0 must not hide it)")
		}
		if fb.Reached || fb.Warning == "" || !strings.Contains(log, "warning: min_cosine 1 not reached") {
			t.Errorf("reached %v, warning %q; log:\n%s", fb.Reached, fb.Warning, log)
		}
		if len(fb.Float) != 1 || !(fb.After > fb.Before) {
			t.Errorf("left in float %+v (max_fallback=1), cosine %.5f → %.5f: want one, improving", fb.Float, fb.Before, fb.After)
		}
		if !strings.Contains(fb.Warning, "max_fallback=1") {
			t.Errorf("warning %q does not name the cap", fb.Warning)
		}
		if len(quantizedTensors(q)) != 1 {
			t.Errorf("quantized tensors %v: want one left", quantizedTensors(q))
		}
		// Without a cap it stops when no activation helps any more.
		_, _, rep = quantizeWith(t, m, "quantize(samples=16,report=0,min_cosine=1,max_fallback=0)")
		if fb := rep.Fallback; fb.Reached || fb.Warning == "" || len(fb.Float) == 0 {
			t.Errorf("no cap: %+v: want a warning, not reached, something in float", fb)
		}
	})

	t.Run("target already met", func(t *testing.T) {
		q, _, rep := quantizeWith(t, m, "quantize(samples=16,report=0,min_cosine=0.1)")
		if fb := rep.Fallback; fb == nil || !fb.Reached || len(fb.Float) != 0 || fb.After != fb.Before {
			t.Errorf("fallback %+v: want reached with nothing in float", rep.Fallback)
		}
		if len(quantizedTensors(q)) != 2 {
			t.Errorf("quantized tensors %v: want both", quantizedTensors(q))
		}
	})

	t.Run("options", func(t *testing.T) {
		for _, spec := range []string{"quantize(min_cosine=1.5)", "quantize(min_cosine=-0.1)", "quantize(max_fallback=-1)"} {
			p, err := passes.Parse(spec)
			if err == nil {
				_, err = p.Run(context.Background(), m.Clone(), passes.Config{})
			}
			if err == nil {
				t.Errorf("%s: no error", spec)
			}
		}
		// Weight-only modes have no activations to leave in float.
		_, log, _ := quantizeWith(t, m, "quantize(mode=int8-weights,report=0,min_cosine=0.9)")
		if !strings.Contains(log, "min_cosine applies to mode=int8") {
			t.Errorf("mode=int8-weights with min_cosine: no note in the log:\n%s", log)
		}
	})
}

// TestCalibrationOrigin: without calib= the pass calibrates on the CLI's
// --inputs (Config.Inputs), calib= wins over it, and with neither it uses
// seeded random inputs; the report and the log say which.
func TestCalibrationOrigin(t *testing.T) {
	m, _ := outlierMLP(t)
	write := func(n int, scale float32) string {
		dir := t.TempDir()
		x := interp.Make(onnx.Float, n, 16)
		for i := range x.Floats() {
			x.Floats()[i] = scale * float32(math.Sin(float64(i)))
		}
		if err := dataset.WriteNpy(filepath.Join(dir, "x.npy"), x); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	inputs, calibDir := write(3, 50), write(2, 0.5)
	// inputScale is the scale of the graph input's QuantizeLinear.
	inputScale := func(q *onnx.Model) float32 {
		for _, n := range q.Graph.Nodes {
			if n.OpType == "QuantizeLinear" && n.Input(0).Name == "x" {
				f, err := passes.ConstTensor(n.Input(1)).AsFloat32()
				if err != nil {
					t.Fatal(err)
				}
				return f[0]
			}
		}
		t.Fatal("input x not quantized")
		return 0
	}
	scales := map[string]float32{}
	for _, tc := range []struct {
		name, spec, inputs, origin string
	}{
		{"random", "quantize(report=2)", "", "64 seeded random samples"},
		{"--inputs", "quantize(report=2)", inputs, "--inputs " + inputs + " (3 samples)"},
		{"calib= over --inputs", "quantize(report=2,calib=" + calibDir + ")", inputs, "calib=" + calibDir + " (2 samples)"},
	} {
		q, log, rep := quantizeCfg(t, m, tc.spec, passes.Config{Inputs: tc.inputs})
		if rep == nil || rep.Calibration != tc.origin || !strings.Contains(log, "calibrated 2 activations on "+tc.origin) {
			t.Errorf("%s: report %+v, log:\n%s\nwant calibration %q", tc.name, rep, log, tc.origin)
		}
		scales[tc.name] = inputScale(q)
	}
	// The data really is used: inputs 100 times larger, a larger scale.
	if !(scales["--inputs"] > 10*scales["random"] && scales["calib= over --inputs"] < scales["--inputs"]/10) {
		t.Errorf("input scales %v: not calibrated on the data given", scales)
	}
}
