package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/conformance"
	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// corpusModel is a model of the corpus and, when the corpus ships them, its
// real inputs (a backend-test folder).
type corpusModel struct {
	name, path, inputs string
	args               []string // flags for every step (dims, fills)
	tol                float64  // ONNX Runtime against the interpreter; 0: 1e-4
	relL2              float64  // instead of tol: each output's relative L2 distance at most this
	// lossy, when set, is a --passes value (channel pruning, weight-only
	// quantization) whose output must be smaller than the input and run in
	// ONNX Runtime as in the interpreter.
	lossy string
}

func corpusModels(t *testing.T) []corpusModel {
	var ms []corpusModel
	real, _ := filepath.Glob(filepath.Join(testdata.RealModels(t), "*.onnx"))
	for _, p := range real {
		ms = append(ms, corpusModel{name: strings.TrimSuffix(filepath.Base(p), ".onnx"), path: p})
	}
	shared, _ := filepath.Glob(filepath.Join(testdata.Models(t), "*", "model.onnx"))
	for _, p := range shared {
		c := corpusModel{name: filepath.Base(filepath.Dir(p)), path: p}
		if set := filepath.Join(filepath.Dir(p), "test_data_set_0"); exists(set) {
			c.inputs = set
		}
		ms = append(ms, c)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].name < ms[j].name })
	if len(ms) < 18 {
		t.Errorf("the corpus has %d models, want the 10 real models and the 8 shared ones", len(ms))
	}
	return ms
}

// TestCorpus is issue 13's acceptance on models nobody here wrote: for every
// model of the real-models corpus and ../shared/models, with no flags but -o,
// the default pipeline writes a verified model (also verified on the
// corpus's real inputs where it has them); run, verify and
// quantize(mode=int8) work; ONNX Runtime with its optimizations off runs the
// output with the interpreter's outputs for the original; and the output has
// no more nodes than ONNX Runtime's basic level leaves. Each check is a
// subtest, so a failure names the model and the check. Slow (minutes): it
// runs with ONNXSLIM_CORPUS=1 (make corpus).
func TestCorpus(t *testing.T) {
	if os.Getenv("ONNXSLIM_CORPUS") == "" {
		t.Skip("the corpus test takes minutes: run `make corpus` (ONNXSLIM_CORPUS=1)")
	}
	ort.Require(t)
	var table []string
	for _, cm := range corpusModels(t) {
		t.Run(cm.name, func(t *testing.T) {
			row := corpusCheck(t, cm)
			table = append(table, row)
		})
	}
	t.Logf("\n| model | nodes in | onnxslim | ORT basic | rel L2 / noise floor |\n|---|---:|---:|---:|---:|\n%s", strings.Join(table, "\n"))
}

// TestCorpusExtra runs TestCorpus's checks on the models `make
// extra-models` fetches (tools/extra/fetch.sh), found while trying
// onnxslim on models from outside the corpus: Silero VAD v5 (If branches
// around LSTMs, a reversing Slice in its padding), PaddleOCR's exports,
// openWakeWord's NHWC embedding net, and IS-Net as a pre-quantized
// ConvInteger model and as a float16 model. Silero v5 is also run at its
// sample rate and chunk as deployed (the other branch and other lengths
// are other models).
// The float16 IS-Net computes in float16 in both runtimes, rounded at
// different places: 2e-2 for it. The uint8 IS-Net requantizes every
// activation (DynamicQuantizeLinear), so a rounding anywhere moves later
// layers by whole steps: its outputs move by up to 7% (relative L2) when
// its weights move by one ulp (the noise floor verify prints), and ONNX
// Runtime lands that far from the interpreter too; it is held to 0.15.
// Run with `make corpus-extra`.
func TestCorpusExtra(t *testing.T) {
	if os.Getenv("ONNXSLIM_CORPUS") == "" {
		t.Skip("the corpus test takes minutes: run `make corpus-extra` (ONNXSLIM_CORPUS=1)")
	}
	ort.Require(t)
	dir := testdata.ExtraModels(t)
	var table []string
	for _, cm := range []corpusModel{
		{name: "silero_vad_v5", args: []string{"--dim", "input[0]=1", "--dim", "input[1]=512", "--dim", "state[1]=1", "--fill", "sr=16000"}},
		// v6 and the legacy v4 with dims and sample rate generated: v6's
		// unnamed state[1] is its batch. Their layers sit in If branches,
		// which weight-only quantization reaches.
		{name: "silero_vad_v6", lossy: "quantize(mode=int8-weights)"}, {name: "silero_vad_legacy"},
		{name: "ppocr_v4_det"}, {name: "ppocr_v4_rec"}, {name: "ppocr_cls"},
		{name: "oww_embedding"}, {name: "oww_melspectrogram"}, {name: "oww_hey_jarvis"},
		{name: "isnet_uint8", relL2: 0.15}, {name: "isnet_fp16", tol: 2e-2},
		// M-LSD large on random images is ill-conditioned: its weights
		// moved by one ulp move its scores by rel L2 3.6e-3 (offsets by
		// up to 0.3); ONNX Runtime lands 5.6e-3 from the interpreter.
		// Held to 5× that floor, as verification holds it.
		{name: "mlsd_320_tiny"}, {name: "mlsd_512_large", relL2: 2e-2},
		// The residual stream widens by a Concat with zeros (unfolded
		// ConstantOfShape in the file): channel pruning splits the stream
		// where the zeros meet it and prunes both parts.
		{name: "blazeface_front", lossy: "prune(structure=channel,amount=0.3)"},
		{name: "blazeface_back", lossy: "prune(structure=channel,amount=0.5,keep_first=false)"},
	} {
		cm.path = filepath.Join(dir, cm.name+".onnx")
		t.Run(cm.name, func(t *testing.T) { table = append(table, corpusCheck(t, cm)) })
	}
	t.Logf("\n| model | nodes in | onnxslim | ORT basic | rel L2 / noise floor |\n|---|---:|---:|---:|---:|\n%s", strings.Join(table, "\n"))
}

// TestCorpusTorch runs the corpus checks on `make torch-models`' exports
// (tools/torch/export.py: torchvision's architectures and small modules,
// PyTorch 1.13's exporter, opsets 9 to 17, dynamic axes, with and without
// constant folding, a Loop with an If, fake quantization, training-mode
// BatchNormalization). The lossy steps are the ones those exports broke:
// channel pruning of a model with symbolic sizes, weight-only quantization
// of weights transposed from an initializer and of biases behind
// PyTorch's Identity nodes. Run with `make corpus-torch`.
func TestCorpusTorch(t *testing.T) {
	if os.Getenv("ONNXSLIM_CORPUS") == "" {
		t.Skip("the corpus test takes minutes: run `make corpus-torch` (ONNXSLIM_CORPUS=1)")
	}
	ort.Require(t)
	dir := testdata.TorchModels(t)
	lossy := map[string]string{
		"unet_op17":            "prune(structure=channel,amount=0.3)",
		"conv1d_op13":          "prune(structure=channel,amount=0.05)",
		"gpt_op14_nofold":      "quantize(mode=int8-weights)",
		"resnet18_op17_nofold": "quantize(mode=int8-weights)",
		"googlenet_op11":       "prune(structure=channel,amount=0.2)",
		"ssdlite_op13":         "prune(structure=channel,amount=0.2,samples=8)",      // FLOPs counted on a run
		"lraspp_op13":          "fold,prune(structure=channel,amount=0.2,samples=8)", // Resize sizes rewritten
		"regnet_y_400mf_op13":  "prune(structure=channel,amount=0.2,samples=8)",      // grouped convs
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.onnx"))
	var table []string
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".onnx")
		cm := corpusModel{name: name, path: p, lossy: lossy[name]}
		t.Run(name, func(t *testing.T) { table = append(table, corpusCheck(t, cm)) })
	}
	t.Logf("\n| model | nodes in | onnxslim | ORT basic | rel L2 / noise floor |\n|---|---:|---:|---:|---:|\n%s", strings.Join(table, "\n"))
}

func corpusCheck(t *testing.T, cm corpusModel) string {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	gen := filepath.Join(dir, "generated")
	nodes := func(p string) int {
		m, err := onnx.Load(p)
		if err != nil {
			return -1
		}
		return len(m.Graph.Nodes)
	}
	step := func(name string, args ...string) bool {
		return t.Run(name, func(t *testing.T) {
			if code, _, stderr := runCLI(t, args...); code != 0 {
				t.Errorf("onnxslim %s: exit %d: %s", strings.Join(args, " "), code, stderr)
			}
		})
	}
	// run on generated inputs writes them with the interpreter's outputs:
	// the reference for ONNX Runtime below.
	with := func(args ...string) []string { return append(args, cm.args...) }
	ranGen := step("run", with("run", cm.path, "--out", gen, "-q")...)
	wroteOut := step("default", with(cm.path, "-o", out)...)
	if cm.inputs != "" {
		outReal := filepath.Join(dir, "out-real.onnx")
		if step("default --inputs", cm.path, "-o", outReal, "--inputs", cm.inputs) {
			t.Run("ort --inputs", func(t *testing.T) {
				// The shipped expected outputs against ONNX Runtime on the output.
				got, err := ort.RunErr(outReal, cm.inputs, filepath.Join(dir, "ort-real"), "--optimize", "disabled")
				if err != nil {
					t.Fatal(err)
				}
				compareORT(t, outReal, got, cm.inputs)
			})
		}
		step("run --inputs", "run", cm.path, "--inputs", cm.inputs, "--out", filepath.Join(dir, "real-run"), "-q")
	}
	noise := "-"
	if wroteOut {
		t.Run("verify", func(t *testing.T) {
			code, stdout, stderr := runCLI(t, with("verify", cm.path, out, "--json")...)
			if code != 0 {
				t.Fatalf("onnxslim verify: exit %d: %s", code, stderr)
			}
			noise = worstNoiseRatio(t, stdout)
		})
	}
	int8 := filepath.Join(dir, "int8.onnx")
	// --force: calibrated on random inputs, a model may land below the
	// guard's floor (ppocr_v4_det: cosine 0.87); what is checked here is
	// that the file is written and means the same to ONNX Runtime.
	if step("quantize", with(cm.path, "-o", int8, "--passes", "quantize(mode=int8)", "-q", "--force")...) && ranGen {
		t.Run("quantize ort", func(t *testing.T) {
			// ONNX Runtime (optimizations off) runs the QDQ file no further
			// from its own run of the float model than the interpreter is
			// from its own, on the same generated inputs. (Not closer to the interpreter than that: a
			// sum in another order moves a value across a rounding step now
			// and then, and the step travels; passes/quantize compares them
			// exactly where the order is the same.)
			ref := filepath.Join(dir, "int8-run")
			if code, _, stderr := runCLI(t, with("run", int8, "--inputs", gen, "--out", ref, "-q")...); code != 0 {
				t.Fatalf("onnxslim run: exit %d: %s", code, stderr)
			}
			got, err := ort.RunErr(int8, gen, filepath.Join(dir, "ort-int8"), "--optimize", "disabled")
			if err != nil {
				t.Fatalf("ORT on the int8 output: %v", err)
			}
			gotFloat, err := ort.RunErr(cm.path, gen, filepath.Join(dir, "ort-float"), "--optimize", "disabled")
			if err != nil {
				t.Fatalf("ORT on the original: %v", err)
			}
			m, err := onnx.Load(int8)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range m.Graph.Outputs {
				read := func(dir string) *interp.Tensor {
					x, err := conformance.ReadDatum(filepath.Join(dir, fmt.Sprintf("output_%d.pb", i)), v.Type)
					if err != nil {
						t.Fatal(err)
					}
					return x
				}
				theirs, err := interp.FromONNX(got[i])
				if err != nil {
					t.Fatal(err)
				}
				theirFloat, err := interp.FromONNX(gotFloat[i])
				if err != nil {
					t.Fatal(err)
				}
				eOurs, eORT := relL2(t, read(ref), read(gen)), relL2(t, theirs, theirFloat)
				t.Logf("output %q: rel L2 to the float model (each its own run of it): interpreter %.3g, ONNX Runtime %.3g", v.Name, eOurs, eORT)
				if eOurs > 0.25 {
					// ppocr_v4_det's sigmoid map on random calibration (0.51,
					// ONNX Runtime 1.59, every value within 0.1 of the
					// interpreter's): so far off that rounding-step flips
					// decide the distance. The guard refuses such a result
					// without --force.
					t.Logf("output %q: too far from the float model for the comparison to tell anything", v.Name)
					continue
				}
				if !(eORT <= 2*eOurs+1e-3) {
					t.Errorf("output %q: ONNX Runtime's int8 result is further from the float model (rel L2 %.3g) than the interpreter's (%.3g)", v.Name, eORT, eOurs)
				}
			}
		})
	}

	if cm.lossy != "" {
		lossy := filepath.Join(dir, "lossy.onnx")
		if step("lossy", with(cm.path, "-o", lossy, "--passes", cm.lossy, "-q")...) && ranGen {
			t.Run("lossy ort", func(t *testing.T) {
				ref := filepath.Join(dir, "lossy-run")
				if code, _, stderr := runCLI(t, with("run", lossy, "--inputs", gen, "--out", ref, "-q")...); code != 0 {
					t.Fatalf("onnxslim run: exit %d: %s", code, stderr)
				}
				if a, b := fileSize(t, lossy), fileSize(t, cm.path); a >= b {
					t.Fatalf("%s: %d bytes, the original %d", cm.lossy, a, b)
				}
				got, err := ort.RunErr(lossy, gen, filepath.Join(dir, "ort-lossy"), "--optimize", "disabled")
				if err != nil {
					t.Fatalf("ORT on the %s output: %v", cm.lossy, err)
				}
				compareORTTol(t, lossy, got, ref, cm.tol)
			})
		}
	}

	ortNodes := -1
	t.Run("ort", func(t *testing.T) {
		if !ranGen || !wroteOut {
			t.Skip("needs run's inputs and the default pipeline's output")
		}
		basic := filepath.Join(dir, "ort-basic.onnx")
		if _, err := ort.RunErr(cm.path, gen, filepath.Join(dir, "ort-ref"), "--optimize", "basic", "--optimized-out", basic); err != nil {
			t.Fatalf("ORT on the original: %v", err)
		}
		ortNodes = nodes(basic)
		got, err := ort.RunErr(out, gen, filepath.Join(dir, "ort-out"), "--optimize", "disabled")
		if err != nil {
			t.Fatalf("ORT on onnxslim's output: %v", err)
		}
		if cm.relL2 > 0 {
			compareORTRelL2(t, out, got, gen, cm.relL2)
		} else {
			compareORTTol(t, out, got, gen, cm.tol)
		}
		if n := nodes(out); n > ortNodes {
			t.Errorf("%d nodes after the default pipeline, ONNX Runtime's basic level leaves %d", n, ortNodes)
		}
	})
	return fmt.Sprintf("| %s | %d | %d | %d | %s |", cm.name, nodes(cm.path), nodes(out), ortNodes, noise)
}

// worstNoiseRatio is the largest rel L2 / noise floor over the outputs of
// verify's JSON report, as a table cell ("-" when no floor was measured).
func worstNoiseRatio(t *testing.T, report string) string {
	var rep struct {
		Outputs []struct {
			RelL2 *float64 `json:"rel_l2"`
			Noise *struct {
				RelL2 float64 `json:"rel_l2"`
			} `json:"noise_floor"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(report), &rep); err != nil {
		t.Fatalf("verify --json: %v", err)
	}
	worst, measured := 0.0, false
	for _, o := range rep.Outputs {
		if o.RelL2 != nil && o.Noise != nil && o.Noise.RelL2 > 0 {
			worst, measured = max(worst, *o.RelL2/o.Noise.RelL2), true
		}
	}
	if !measured {
		return "-"
	}
	return fmt.Sprintf("%.2f", worst)
}

// compareORT compares ONNX Runtime's outputs of model with the output_N.pb of
// dir by the lossless element-wise bound.
func compareORT(t *testing.T, model string, got []*onnx.Tensor, dir string) {
	t.Helper()
	compareORTTol(t, model, got, dir, 0)
}

// compareORTTol is compareORT with rtol = atol = tol (0: 1e-4).
func compareORTTol(t *testing.T, model string, got []*onnx.Tensor, dir string, tol float64) {
	t.Helper()
	if tol == 0 {
		tol = 1e-4
	}
	compareORTWith(t, model, got, dir, func(g, want *interp.Tensor) error {
		// Absolute error against the output's own scale: a deep float
		// network's outputs in the thousands carry rounding noise above
		// 1e-4 in their small entries (inception_v3: max |y| 1.6e3).
		scale := 1.0
		for _, v := range want.Floats() {
			scale = max(scale, math.Abs(float64(v)))
		}
		return conformance.Compare(g, want, tol, tol*scale)
	})
}

// compareORTRelL2 compares by relative L2 distance, for models whose own
// rounding noise is large (requantized at every layer).
func compareORTRelL2(t *testing.T, model string, got []*onnx.Tensor, dir string, bound float64) {
	t.Helper()
	compareORTWith(t, model, got, dir, func(g, want *interp.Tensor) error {
		a, b := g.Floats(), want.Floats()
		if len(a) != len(b) || len(a) == 0 {
			return fmt.Errorf("%d values from ONNX Runtime, %d from the interpreter", len(a), len(b))
		}
		var d, n float64
		for j := range a {
			d += (float64(a[j]) - float64(b[j])) * (float64(a[j]) - float64(b[j]))
			n += float64(b[j]) * float64(b[j])
		}
		if rel := math.Sqrt(d / n); !(rel <= bound) {
			return fmt.Errorf("relative L2 %.3g, bound %.3g", rel, bound)
		}
		return nil
	})
}

// relL2 is |a-b|/|b| (|a-b| where b is all zeros; NaN where either has one).
func relL2(t *testing.T, a, b *interp.Tensor) float64 {
	t.Helper()
	x, y := a.Floats(), b.Floats()
	if len(x) != len(y) {
		t.Fatalf("%d values against %d", len(x), len(y))
	}
	var d, n float64
	for j := range x {
		d += (float64(x[j]) - float64(y[j])) * (float64(x[j]) - float64(y[j]))
		n += float64(y[j]) * float64(y[j])
	}
	if n == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / n)
}

// compareORTWith checks each of ONNX Runtime's outputs of model against
// the output_N.pb of dir with check.
func compareORTWith(t *testing.T, model string, got []*onnx.Tensor, dir string, check func(got, want *interp.Tensor) error) {
	t.Helper()
	m, err := onnx.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(m.Graph.Outputs) {
		t.Fatalf("ONNX Runtime gave %d outputs, the model has %d", len(got), len(m.Graph.Outputs))
	}
	for i, v := range m.Graph.Outputs {
		want, err := conformance.ReadDatum(filepath.Join(dir, fmt.Sprintf("output_%d.pb", i)), v.Type)
		if err != nil {
			t.Fatal(err)
		}
		g, err := interp.FromONNX(got[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := check(g, want); err != nil {
			t.Errorf("output %d %q: ONNX Runtime on %s vs %s: %v", i, v.Name, filepath.Base(model), dir, err)
		}
	}
}

// fileSize is the size of the file at path.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
