package quantize_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	_ "github.com/onnxslim/onnxslim/passes/all"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
	"github.com/onnxslim/onnxslim/passes/quantize"
)

// full runs the acceptance at the sizes (make quant-report);
// otherwise the big models run on a few samples so `make test` stays fast.
var full = os.Getenv("ONNXSLIM_QUANT_FULL") == "1"

// result is one quantized model and what the pass said.
type result struct {
	model  *onnx.Model
	bytes  int64 // encoded size
	float  int64 // size of the float model file
	log    string
	report *quantize.Report
}

func (r *result) ratio() float64 { return float64(r.bytes) / float64(r.float) }

// loadModel loads a shared model and the size of its file.
func loadModel(t testing.TB, name string) (*onnx.Model, int64) {
	t.Helper()
	path := filepath.Join(testdata.Models(t), name, "model.onnx")
	m, err := onnx.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return m, st.Size()
}

// slim runs a pipeline on a copy of m, as `onnxslim --passes SPEC` would.
func slim(t testing.TB, m *onnx.Model, floatBytes int64, spec string) *result {
	t.Helper()
	cp := m.Clone()
	p, err := passes.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	res := &result{float: floatBytes}
	ctx := passes.WithDetails(context.Background(), func(pass string, d any) {
		if r, ok := d.(*quantize.Report); ok && pass == "quantize" {
			res.report = r
		}
	})
	start := time.Now()
	if _, err := p.Run(ctx, cp, passes.Config{Log: &log}); err != nil {
		t.Fatalf("%s: %v\n%s", spec, err, log.String())
	}
	b, err := onnx.Encode(cp)
	if err != nil {
		t.Fatal(err)
	}
	res.model, res.bytes, res.log = cp, int64(len(b)), log.String()
	if testing.Verbose() {
		t.Logf("%s (%.1fs):\n%s", spec, time.Since(start).Seconds(), indent(log.String()))
	}
	return res
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// accuracy evaluates a classifier on a labelled folder, batches in parallel.
func accuracy(t testing.TB, m *onnx.Model, dir string) float64 {
	t.Helper()
	m, err := quantize.FoldConstDQ(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := interp.NewSession(m, interp.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := dataset.Open(dir, s.Inputs(), dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	type job struct {
		in     map[string]*interp.Tensor
		labels []int64
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var right, total int
	var firstErr error
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				outs, err := s.Run(j.in)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					scores := outs[0].Data.([]float32)
					k := len(scores) / len(j.labels)
					for i, l := range j.labels {
						best := 0
						for c := 1; c < k; c++ {
							if scores[i*k+c] > scores[i*k+best] {
								best = c
							}
						}
						if int64(best) == l {
							right++
						}
						total++
					}
				}
				mu.Unlock()
			}
		}()
	}
	var readErr error
	for {
		b, err := r.Next()
		if err != nil {
			if err != io.EOF {
				readErr = err // a broken folder fails the test, not a shorter count
			}
			break
		}
		jobs <- job{b.Inputs, b.Labels}
	}
	close(jobs)
	wg.Wait()
	if readErr != nil {
		t.Fatalf("%s: %v", dir, readErr)
	}
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	if total == 0 {
		t.Fatal("no labelled samples")
	}
	return float64(right) / float64(total)
}

// logits runs m on random inputs with seeds base+i and returns the outputs.
func logits(t testing.TB, m *onnx.Model, inputs []map[string]*interp.Tensor) [][]float32 {
	t.Helper()
	s, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float32
	for _, in := range inputs {
		o, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		x, err := interp.AsFloat32(o[0])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]float32(nil), x...))
	}
	return out
}

func randomInputs(t testing.TB, m *onnx.Model, n int, seed uint64) []map[string]*interp.Tensor {
	t.Helper()
	s, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ins []map[string]*interp.Tensor
	for i := 0; i < n; i++ {
		in, err := dataset.Random(s.Inputs(), seed+uint64(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
	}
	return ins
}

// cosine and relL2 of b against a over all samples (testutil.Cosine: NaN
// when either holds a NaN, so that every bound on them fails).
func cosine(a, b [][]float32) (cos, rel float64) {
	var fa, fb []float32
	for i := range a {
		fa, fb = append(fa, a[i]...), append(fb, b[i]...)
	}
	if len(a) != len(b) {
		fb = nil
	}
	return testutil.Cosine(fb, fa)
}

// TestMNISTInt8 is acceptance 1: int8 calibrated on the MNIST calibration
// folders, judged on the 2,000 held-out digits, with every method.
func TestMNISTInt8(t *testing.T) {
	root := testdata.Models(t)
	data := filepath.Join(root, "mnist-data")
	for _, tc := range []struct{ model, calib, eval string }{
		{"mnist_cnn_op13", "cnn-calib", "cnn-eval"},
		{"mnist_mlp_op13", "mlp-calib", "mlp-eval"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			m, size := loadModel(t, tc.model)
			eval := filepath.Join(data, tc.eval)
			base := accuracy(t, m, eval)
			t.Logf("%s float: accuracy %.4f, file %d bytes", tc.model, base, size)
			for _, method := range []string{"mse", "minmax", "percentile", "entropy"} {
				r := slim(t, m, size, fmt.Sprintf("default,quantize(mode=int8,method=%s,calib=%s)", method, filepath.Join(data, tc.calib)))
				acc := accuracy(t, r.model, eval)
				drop := (base - acc) * 100
				t.Logf("%s int8 %-10s: accuracy %.4f (drop %+.2f points), file %d bytes = %.1f%% of float", tc.model, method, acc, drop, r.bytes, 100*r.ratio())
				testutil.AtMost(t, method+": accuracy drop (points)", drop, 0.5)
				testutil.AtMost(t, method+": file / float", r.ratio(), 0.30)
				if r.report == nil || len(r.report.Layers) == 0 {
					t.Errorf("%s: no per-layer error report", method)
				}
			}
		})
	}
}

// prepared caches the big models after the default pipeline, which every
// quantization test of them starts from.
var prepared struct {
	sync.Mutex
	models map[string]*onnx.Model
	sizes  map[string]int64
}

func defaultPipeline(t testing.TB, name string) (*onnx.Model, int64) {
	t.Helper()
	prepared.Lock()
	defer prepared.Unlock()
	if m, ok := prepared.models[name]; ok {
		return m.Clone(), prepared.sizes[name]
	}
	m, size := loadModel(t, name)
	r := slim(t, m, size, "default")
	if prepared.models == nil {
		prepared.models, prepared.sizes = map[string]*onnx.Model{}, map[string]int64{}
	}
	prepared.models[name], prepared.sizes[name] = r.model, size
	return r.model.Clone(), size
}

// agreement is how close ONNX Runtime's output is to the interpreter's:
// the largest difference relative to max |y|, the cosine, and how many
// elements miss |Δ| ≤ 1e-3·|y| + 1e-6·max|y| (rtol 1e-3, a tiny atol for
// values near zero).
type agreement struct {
	maxRel, cosine float64
	beyondRtol     int
}

// within reports whether no element is beyond rtol and the largest
// difference is at most maxRel of the output scale (false on NaN).
func (a agreement) within(maxRel float64) bool { return a.beyondRtol == 0 && a.maxRel <= maxRel }

// requireORTAgrees holds ONNX Runtime with its optimizations off (Q/DQ
// run as written) to the interpreter: within maxRel of the output scale and
// rtol 1e-3 where the interpreter's kernels fuse x·s+t as ORT's do (FMA).
// The pure-Go kernels round it twice: a one-ulp difference before a
// QuantizeLinear flips a value near a rounding edge by one step and the
// flips add up through the layers (ONNXSLIM_SIMD=purego: resnet18 cosine
// 0.99994; mobilenet_v2, whose 52 requantizations flip more, 0.99910 — still
// 12× closer than int8 is to the float model, 0.989), so there only the
// cosine is held.
func requireORTAgrees(t *testing.T, what string, a agreement, maxRel float64) {
	t.Helper()
	if !simd.Accelerated() {
		testutil.AtLeast(t, what+": ORT vs pure-Go interpreter cosine", a.cosine, 0.998)
		return
	}
	if !a.within(maxRel) {
		t.Errorf("%s: ONNX Runtime (optimizations off) disagrees with the interpreter: %v (bound %g of the output scale, rtol 1e-3)", what, a, maxRel)
	}
}

func (a agreement) String() string {
	return fmt.Sprintf("max |Δ|/max|y| %.2g cosine %.6f, %d beyond rtol 1e-3", a.maxRel, a.cosine, a.beyondRtol)
}

// ortAgreement runs the quantized model in ONNX Runtime with its graph
// optimizations off (each Q/DQ op run as written) and with them on (int8
// kernels), and compares both with the interpreter on the same input.
func ortAgreement(t *testing.T, m *onnx.Model, in map[string]*interp.Tensor) (exact, fused agreement) {
	t.Helper()
	ort.Require(t)
	dir, path := passtest.SaveTemp(t, m)
	folded, err := quantize.FoldConstDQ(m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := interp.NewSession(folded, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var ts []*interp.Tensor
	for _, v := range s.Inputs() {
		names = append(names, v.Name)
		ts = append(ts, in[v.Name])
	}
	inDir := filepath.Join(dir, "in")
	if err := os.MkdirAll(inDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := dataset.WritePB(inDir, "input", names, ts); err != nil {
		t.Fatal(err)
	}
	outs, err := s.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	want, err := interp.AsFloat32(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	// The largest error relative to the output's scale (max |interp|).
	// With its optimizations off, one thread, ONNX Runtime computes each
	// float conv in the same order as the interpreter (TestConvMatchesORT in
	// interp), so the Q/DQ ops see the same values.
	compare := func(level string, args ...string) agreement {
		got, err := ort.RunErr(path, inDir, filepath.Join(dir, level), append([]string{"--optimize", level}, args...)...)
		if err != nil {
			t.Fatalf("ONNX Runtime (%s): %v", level, err)
		}
		g, err := got[0].AsFloat32()
		if err != nil {
			t.Fatal(err)
		}
		var scale, worst float64
		for i := range want {
			scale = max(scale, math.Abs(float64(want[i])))
		}
		beyond := 0
		for i := range want {
			d := math.Abs(float64(g[i] - want[i]))
			worst = max(worst, d/scale) // NaN stays NaN
			if !(d <= 1e-3*math.Abs(float64(want[i]))+1e-6*scale) {
				beyond++
			}
		}
		cos, _ := cosine([][]float32{want}, [][]float32{g})
		return agreement{worst, cos, beyond}
	}
	return compare("disabled", "--threads", "1"), compare("all")
}

// TestImageNetInt8 is acceptance 2: resnet18 and mobilenet_v2 int8 on
// random calibration inputs: logits' cosine with the float model, file size,
// and ONNX Runtime agreeing with the interpreter on the QDQ model. On
// mobilenet_v2, which the default meets with no margin, the accuracy-aware
// fallback (min_cosine) must give the margin; resnet18 must not trigger it.
func TestImageNetInt8(t *testing.T) {
	// fallbackTarget is min_cosine; the check inputs (not the calibration
	// samples it is measured on) must reach fallbackMin.
	const fallbackTarget, fallbackMin = 0.993, 0.992
	for _, tc := range []struct {
		model                 string
		calib, report, checks int  // default sizes; full: 64, 8, 8
		fbCalib               int  // calibration samples of the fallback run (full: 64); 0: none
		withTarget            bool // the default run carries min_cosine, which must change nothing
	}{
		// mobilenet_v2 runs at the README's sizes in make test too (37 s
		// on a quiet machine, against about 25 s at 8 and 4 samples): its
		// figures sit close to their bounds, so a smaller run would check
		// a lighter claim.
		{"mobilenet_v2_op13", 64, 8, 8, 64, false},
		{"resnet18_op13", 4, 1, 2, 0, true},
	} {
		t.Run(tc.model, func(t *testing.T) {
			calib, report, checks, fbCalib := tc.calib, tc.report, tc.checks, tc.fbCalib
			if full {
				calib, report, checks = 64, 8, 8
				if fbCalib > 0 {
					fbCalib = 64
				}
			}
			m, size := defaultPipeline(t, tc.model)
			ins := randomInputs(t, m, checks, 1000)
			ref := logits(t, m, ins)
			// run quantizes m, checks the file size and ONNX Runtime's
			// agreement, and returns the logits' cosine on the check inputs.
			run := func(spec string) (*result, float64) {
				r := slim(t, m, size, spec)
				folded, err := quantize.FoldConstDQ(r.model)
				if err != nil {
					t.Fatal(err)
				}
				cos, rel := cosine(ref, logits(t, folded, ins))
				t.Logf("%s %s: logits cosine %.5f rel_l2 %.4f on %d other inputs; file %d of %d bytes = %.1f%%",
					tc.model, spec, cos, rel, checks, r.bytes, r.float, 100*r.ratio())
				testutil.AtMost(t, spec+": file / float", r.ratio(), 0.27)
				// ONNX Runtime with its graph optimizations off runs the Q/DQ ops
				// as written, and its float convs round as the interpreter's
				// (TestConvMatchesORT): the outputs must agree within rtol 1e-3
				// (measured: max |Δ| 2.6e-7 of the output scale, from the final
				// Gemm's summation order). With optimizations on, ORT fuses Q/DQ
				// into int8 kernels (u8s8 products that saturate in 16 bits on
				// AVX2, and its own requantization), reported for information.
				exact, fused := ortAgreement(t, r.model, ins[0])
				t.Logf("%s int8: ONNX Runtime vs interp: optimizations off (Q/DQ as written) %v; on (int8 kernels) %v", tc.model, exact, fused)
				requireORTAgrees(t, "the QDQ model", exact, 1e-3)
				return r, cos
			}
			spec := fmt.Sprintf("quantize(mode=int8,samples=%d,report=%d", calib, report)
			if tc.withTarget {
				spec += fmt.Sprintf(",min_cosine=%g", fallbackTarget)
			}
			r, cos := run(spec + ")")
			// The acceptance bound is 0.99 (measured at 64 calibration
			// inputs and 8 checks: mobilenet_v2 0.99006, resnet18 0.99981;
			// resnet18 at 4 and 2: 0.99982). On random inputs mobilenet_v2
			// sits at the limit of per-tensor uint8 activations (float
			// weights and int8 activations alone: about 0.9905). The AVX2
			// and AVX-512 kernels give the same bits (the same FMA chains),
			// so the figure does not move with the CPU; a kernel that sums
			// in another order may move it by about ±0.001.
			testutil.AtLeast(t, tc.model+" logits cosine", cos, 0.99)
			if tc.withTarget {
				fb := r.report.Fallback
				if fb == nil || !fb.Reached || len(fb.Float) != 0 {
					t.Errorf("min_cosine=%g: the fallback changed a model that meets it: %+v", fallbackTarget, fb)
				}
			}
			if fbCalib == 0 {
				return
			}
			// The fallback: measured 0.99006 → 0.99405 on the check inputs
			// (0.98952 → 0.99352 on the calibration samples), 8 of 65
			// activations in float, file 26.7%.
			fr, fcos := run(fmt.Sprintf("quantize(mode=int8,samples=%d,report=%d,min_cosine=%g)", fbCalib, report, fallbackTarget))
			fb := fr.report.Fallback
			if fb == nil {
				t.Fatal("min_cosine: no fallback in the report")
			}
			t.Logf("fallback: calibration cosine %.5f → %.5f (target %g, reached %v), %d of %d activations in float, %.1fs: %+v",
				fb.Before, fb.After, fb.Target, fb.Reached, len(fb.Float), fb.Quantized, fb.Seconds, fb.Float)
			if len(fb.Float) == 0 || !(fb.After > fb.Before) {
				t.Errorf("fallback did nothing: %+v", fb)
			}
			if !(fcos > cos) {
				t.Errorf("fallback: cosine on the check inputs %.5f, not above the default's %.5f", fcos, cos)
			}
			testutil.AtLeast(t, "fallback: logits cosine", fcos, fallbackMin)
		})
	}
}

// TestORTSemantics checks that ONNX Runtime and the interpreter compute the
// same numbers on the MNIST QDQ models, int8 ort and tensorrt profiles: with
// the float convs rounding alike (TestConvMatchesORT), only the final
// layer's summation order differs, so the bound is tight; a QDQ semantics
// difference (rounding mode, saturation, zero point, axis) would be far
// larger.
func TestORTSemantics(t *testing.T) {
	data := filepath.Join(testdata.Models(t), "mnist-data")
	for _, tc := range []struct{ model, calib, target string }{
		{"mnist_cnn_op13", "cnn-calib", "ort"},
		{"mnist_cnn_op13", "cnn-calib", "tensorrt"},
		{"mnist_mlp_op13", "mlp-calib", "ort"},
		{"mnist_mlp_op13", "mlp-calib", "tensorrt"},
	} {
		t.Run(tc.model+"/"+tc.target, func(t *testing.T) {
			m, size := loadModel(t, tc.model)
			r := slim(t, m, size, fmt.Sprintf("default,quantize(target=%s,calib=%s,report=0)", tc.target, filepath.Join(data, tc.calib)))
			for i, in := range randomInputs(t, m, 3, 500) {
				exact, fused := ortAgreement(t, r.model, in)
				t.Logf("input %d: ONNX Runtime vs interp: optimizations off %v; on (int8 kernels) %v", i, exact, fused)
				requireORTAgrees(t, fmt.Sprintf("input %d", i), exact, 1e-5)
			}
		})
	}
}

// node helpers for the profile checks.
func producerOp(v *onnx.Value, op string) *onnx.Node {
	if v == nil {
		return nil
	}
	if p := v.Producer(); p != nil && p.OpType == op {
		return p
	}
	return nil
}

func constTensor(t *testing.T, v *onnx.Value) *onnx.Tensor {
	t.Helper()
	ct := passes.ConstTensor(v)
	if ct == nil {
		t.Fatalf("%v is not a constant", v)
	}
	return ct
}

func allZero(t *testing.T, ct *onnx.Tensor) bool {
	t.Helper()
	x, err := ct.AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

// checkTensorRT asserts TensorRT's explicit-quantization rules on a graph.
func checkTensorRT(t *testing.T, m *onnx.Model) {
	t.Helper()
	if m.Opset("") < 13 {
		t.Errorf("opset %d < 13", m.Opset(""))
	}
	var qdq, layers, residual int
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "QuantizeLinear", "DequantizeLinear":
			qdq++
			zp := n.Input(2)
			if zp == nil {
				t.Errorf("%s: no zero point (TensorRT wants it explicit and 0)", n.Name)
				continue
			}
			ct := constTensor(t, zp)
			if ct.DataType != onnx.Int8 || !allZero(t, ct) {
				t.Errorf("%s: zero point %s not int8 zeros", n.Name, ct.DataType)
			}
			if n.OpType == "QuantizeLinear" && n.Output(0).NumUses() != 1 {
				t.Errorf("%s: quantized value read %d times, want a dedicated pair", n.Name, n.Output(0).NumUses())
			}
			if n.OpType == "DequantizeLinear" && producerOp(n.Input(0), "QuantizeLinear") != nil && n.Output(0).NumUses() != 1 {
				t.Errorf("%s: dequantized activation read %d times, want one Q/DQ pair per consumer", n.Name, n.Output(0).NumUses())
			}
		case "Conv", "Gemm", "MatMul":
			dq := producerOp(n.Input(1), "DequantizeLinear")
			if dq == nil {
				t.Errorf("%s: weight not through DequantizeLinear", n.Name)
				continue
			}
			layers++
			w := constTensor(t, dq.Input(0))
			s := constTensor(t, dq.Input(1))
			axis := int(dq.AttrInt("axis", 1))
			if w.DataType != onnx.Int8 || len(s.Dims) != 1 || s.Dims[0] != w.Dims[axis] {
				t.Errorf("%s: weight %s scale %v axis %d: want int8 per output channel", n.Name, w.DataType, s.Dims, axis)
			}
			if n.OpType == "Conv" && axis != 0 {
				t.Errorf("%s: per-channel axis %d, want 0", n.Name, axis)
			}
			if producerOp(n.Input(0), "DequantizeLinear") == nil {
				t.Errorf("%s: activation input not through Q/DQ", n.Name)
			}
		case "Add":
			a, b := n.Input(0), n.Input(1)
			if passes.ConstTensor(a) != nil || passes.ConstTensor(b) != nil {
				continue
			}
			residual++
			if producerOp(a, "DequantizeLinear") == nil && producerOp(b, "DequantizeLinear") == nil {
				t.Errorf("%s: residual Add without Q/DQ on an input", n.Name)
			}
		}
	}
	t.Logf("tensorrt profile: %d Q/DQ nodes, %d quantized layers, %d residual adds checked", qdq, layers, residual)
	if qdq == 0 || layers == 0 {
		t.Error("nothing quantized")
	}
}

// checkORT asserts ONNX Runtime's QDQ conventions: one Q/DQ pair per
// tensor, int8 symmetric per-channel weights, int32 biases, uint8
// activations with zero points (symmetric=auto).
func checkORT(t *testing.T, m *onnx.Model) {
	t.Helper()
	qOf := map[*onnx.Value]int{}
	var biases int
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "QuantizeLinear":
			qOf[n.Input(0)]++
			if zp := constTensor(t, n.Input(2)); zp.DataType != onnx.Uint8 {
				t.Errorf("%s: activation type %s, want uint8", n.Name, zp.DataType)
			}
		case "Conv", "Gemm":
			dq := producerOp(n.Input(1), "DequantizeLinear")
			if dq == nil {
				t.Errorf("%s: weight not through DequantizeLinear", n.Name)
				continue
			}
			if w := constTensor(t, dq.Input(0)); w.DataType != onnx.Int8 || (dq.Input(2) != nil && !allZero(t, constTensor(t, dq.Input(2)))) {
				t.Errorf("%s: weight %s not symmetric int8", n.Name, w.DataType)
			}
			if b := producerOp(n.Input(2), "DequantizeLinear"); b != nil {
				if constTensor(t, b.Input(0)).DataType != onnx.Int32 {
					t.Errorf("%s: bias not int32", n.Name)
				}
				biases++
			}
		}
	}
	for v, k := range qOf {
		if k != 1 {
			t.Errorf("tensor %s quantized %d times, want once", v.Name, k)
		}
	}
	t.Logf("ort profile: %d quantized tensors, %d int32 biases", len(qOf), biases)
	if len(qOf) == 0 || biases == 0 {
		t.Error("nothing quantized")
	}
}

// TestProfiles is acceptance 3's profile test: the emitted graphs follow
// each target's rules, on the MNIST CNN and on resnet18 (residual adds).
func TestProfiles(t *testing.T) {
	data := filepath.Join(testdata.Models(t), "mnist-data", "cnn-calib")
	cnn, cnnSize := loadModel(t, "mnist_cnn_op13")
	for _, tc := range []struct {
		name, target string
		big          bool
	}{
		{"mnist_cnn_op13", "tensorrt", false},
		{"mnist_cnn_op13", "ort", false},
		{"resnet18_op13", "tensorrt", true},
		{"resnet18_op13", "ort", true},
	} {
		t.Run(tc.name+"/"+tc.target, func(t *testing.T) {
			var r *result
			if tc.big {
				m, size := defaultPipeline(t, tc.name)
				r = slim(t, m, size, fmt.Sprintf("quantize(target=%s,samples=2,report=0)", tc.target))
			} else {
				r = slim(t, cnn, cnnSize, fmt.Sprintf("default,quantize(target=%s,calib=%s,report=0)", tc.target, data))
			}
			if tc.target == "tensorrt" {
				checkTensorRT(t, r.model)
			} else {
				checkORT(t, r.model)
			}
		})
	}
}

// TestWeightModes is acceptance 3's sizes: int4, binary, fp16 and
// int8-weights on resnet18 (sizes, ONNX Runtime runs them, fidelity), and
// the same modes' accuracy on the MNIST CNN.
func TestWeightModes(t *testing.T) {
	checks := 1
	if full {
		checks = 4
	}
	m, size := defaultPipeline(t, "resnet18_op13")
	ins := randomInputs(t, m, checks, 2000)
	ref := logits(t, m, ins)
	for _, tc := range []struct {
		mode     string
		maxRatio float64
		minCos   float64 // 0: not bound (fp16 is bound by maxRelL2)
		maxRelL2 float64 // 0: not bound
	}{
		{"int8-weights", 0.27, 0.99, 0},
		{"int4", 0.20, 0.95, 0},   // measured 0.972 on one input
		{"binary", 0.20, 0.55, 0}, // measured 0.637: a 1-bit network is far from float; this guards against worse
		{"fp16", 0.52, 0, 1e-2},
	} {
		t.Run("resnet18/"+tc.mode, func(t *testing.T) {
			r := slim(t, m, size, fmt.Sprintf("quantize(mode=%s,report=%d)", tc.mode, checks))
			folded, err := quantize.FoldConstDQ(r.model)
			if err != nil {
				t.Fatal(err)
			}
			cos, rel := cosine(ref, logits(t, folded, ins))
			exact, fused := ortAgreement(t, r.model, ins[0])
			t.Logf("resnet18 %s: file %d bytes = %.1f%% of float; logits cosine %.5f rel_l2 %.4g (%d inputs); ORT vs interp: optimizations off %v, on %v; opset %d",
				tc.mode, r.bytes, 100*r.ratio(), cos, rel, checks, exact, fused, r.model.Opset(""))
			testutil.AtMost(t, "file / float", r.ratio(), tc.maxRatio)
			if tc.minCos > 0 {
				testutil.AtLeast(t, "cosine", cos, tc.minCos)
			}
			if tc.maxRelL2 > 0 {
				testutil.AtMost(t, "relative L2 error", rel, tc.maxRelL2)
			}
			if !(exact.maxRel <= 1e-2) {
				t.Errorf("ONNX Runtime disagrees with the interpreter: %v", exact)
			}
		})
	}
	root := testdata.Models(t)
	cnn, cnnSize := loadModel(t, "mnist_cnn_op13")
	eval := filepath.Join(root, "mnist-data", "cnn-eval")
	base := accuracy(t, cnn, eval)
	for _, tc := range []struct {
		mode    string
		maxDrop float64 // points
	}{
		{"int8-weights", 0.5}, {"int4", 2}, {"binary", 6}, {"fp16", 0.1}, // binary measured 4.75 points
	} {
		t.Run("mnist_cnn/"+tc.mode, func(t *testing.T) {
			r := slim(t, cnn, cnnSize, fmt.Sprintf("default,quantize(mode=%s,report=0)", tc.mode))
			acc := accuracy(t, r.model, eval)
			t.Logf("mnist_cnn %s: accuracy %.4f (float %.4f, drop %+.2f points), file %.1f%% of float", tc.mode, acc, base, 100*(base-acc), 100*r.ratio())
			testutil.AtMost(t, "accuracy drop (points)", 100*(base-acc), tc.maxDrop)
		})
	}
}

// peakHeap runs f while sampling the live heap and returns the peak above
// the heap before it started.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			var s runtime.MemStats
			runtime.ReadMemStats(&s)
			peak = max(peak, s.HeapAlloc)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	if peak < base {
		return 0
	}
	return peak - base
}

// activationBytes is what one sample's activations take (every node
// output, float32), the unit that unbounded calibration would multiply.
func activationBytes(t testing.TB, m *onnx.Model) int64 {
	t.Helper()
	cp := m.Clone()
	if _, err := interp.InferShapes(cp, interp.ShapeOptions{}); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, node := range cp.Graph.Nodes {
		for _, v := range node.Outputs() {
			if shape, ok := passes.StaticShape(v); ok {
				e := int64(4)
				for _, d := range shape {
					e *= d
				}
				n += e
			}
		}
	}
	return n
}

// TestCalibrationMemory is acceptance 4: calibrating on the 2,000 digits
// of cnn-eval takes about the heap of calibrating on 200, far below 2,000
// samples' activations.
func TestCalibrationMemory(t *testing.T) {
	root := testdata.Models(t)
	m, size := loadModel(t, "mnist_cnn_op13")
	dir := filepath.Join(root, "mnist-data", "cnn-eval")
	act := activationBytes(t, m)
	peaks := map[int]uint64{}
	for _, method := range []string{"minmax", "entropy"} {
		for _, n := range []int{200, 2000} {
			peaks[n] = peakHeap(func() {
				slim(t, m, size, fmt.Sprintf("quantize(calib=%s,samples=%d,method=%s,report=0)", dir, n, method))
			})
			t.Logf("calibration %s on %4d samples: peak heap +%.1f MB (one sample's activations: %.2f MB; %d samples': %.0f MB)",
				method, n, float64(peaks[n])/1e6, float64(act)/1e6, n, float64(act)*float64(n)/1e6)
		}
		if limit := peaks[200]*2 + 16<<20; peaks[2000] > limit {
			t.Errorf("%s: peak heap grows with samples: %d MB at 2000 vs %d MB at 200", method, peaks[2000]>>20, peaks[200]>>20)
		}
		if peaks[2000] > uint64(act)*2000/4 {
			t.Errorf("%s: peak heap %d MB is a sizeable part of 2000 samples' activations (%d MB)", method, peaks[2000]>>20, act*2000>>20)
		}
	}
}

// BenchmarkCalibration reports the peak heap of calibrating the MNIST CNN
// on 2,000 samples (make quant-report prints it).
func BenchmarkCalibration(b *testing.B) {
	root := testdata.Models(b)
	m, size := loadModel(b, "mnist_cnn_op13")
	dir := filepath.Join(root, "mnist-data", "cnn-eval")
	spec := fmt.Sprintf("quantize(calib=%s,samples=2000,method=entropy,report=0)", dir)
	var peak uint64
	for i := 0; i < b.N; i++ {
		peak = max(peak, peakHeap(func() { slim(b, m, size, spec) }))
	}
	b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(activationBytes(b, m))*2000/1e6, "2000-samples-activations-MB")
}

// TestReduceRange checks what reduce_range is for: ONNX Runtime with its
// optimizations on fuses Q/DQ into int8 kernels whose u8·s8 pair sums
// saturate at 16 bits on x86 CPUs without VNNI. With 7-bit
// weights nothing saturates and ORT's int8 kernels come close to the QDQ
// model's meaning; what remains is their own requantization rounding
// (float multiplier sx·sw/sy on the int32 sum), a quantization step now
// and then.
func TestReduceRange(t *testing.T) {
	m, size := defaultPipeline(t, "mobilenet_v2_op13")
	ins := randomInputs(t, m, 2, 3000)
	ref := logits(t, m, ins)
	var fusedCos [2]float64
	for i, rr := range []bool{false, true} {
		r := slim(t, m, size, fmt.Sprintf("quantize(mode=int8,samples=4,report=0,reduce_range=%v)", rr))
		cos, _ := cosine(ref, logits(t, r.model, ins))
		exact, fused := ortAgreement(t, r.model, ins[0])
		fusedCos[i] = fused.cosine
		t.Logf("mobilenet_v2 int8 reduce_range=%v: cosine with float %.5f; ONNX Runtime vs interp: optimizations off %v; on (int8 kernels) %v", rr, cos, exact, fused)
		requireORTAgrees(t, fmt.Sprintf("reduce_range=%v", rr), exact, 1e-3)
		if rr {
			checkReducedWeights(t, r.model)
		}
	}
	if !ort.U8S8Saturates() {
		// VNNI adds u8·s8 products in 32 bits: nothing saturates, with or
		// without reduce_range (measured 0.9987 and 0.9989 on a Zen 5).
		if !(fusedCos[0] >= 0.998 && fusedCos[1] >= 0.998) {
			t.Errorf("VNNI CPU: ONNX Runtime's int8 kernels vs interp: cosine %.5f without reduce_range, %.5f with; want both ≥ 0.998", fusedCos[0], fusedCos[1])
		}
	} else if !(fusedCos[1] >= 0.998 && fusedCos[1] > fusedCos[0]) {
		t.Errorf("ONNX Runtime's int8 kernels vs interp: cosine %.5f with reduce_range, %.5f without; want ≥ 0.998 and better", fusedCos[1], fusedCos[0])
	}
}

// checkReducedWeights asserts every int8 weight feeding a DequantizeLinear
// is within [-64, 64].
func checkReducedWeights(t *testing.T, m *onnx.Model) {
	t.Helper()
	for _, n := range m.Graph.Nodes {
		if n.OpType != "DequantizeLinear" {
			continue
		}
		w := passes.ConstTensor(n.Input(0))
		if w == nil || w.DataType != onnx.Int8 {
			continue
		}
		raw, err := w.Data()
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range raw {
			if v := int8(b); v < -64 || v > 64 {
				t.Fatalf("%s: weight %d outside [-64, 64]", n.Name, v)
			}
		}
	}
}
