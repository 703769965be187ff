package prune_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	_ "github.com/onnxslim/onnxslim/passes/all"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
	"github.com/onnxslim/onnxslim/passes/prune"
)

// full runs the slow figures (make prune-report).
var full = os.Getenv("ONNXSLIM_PRUNE_FULL") == "1"

// result is one pruned model and what the pass said.
type result struct {
	model  *onnx.Model
	log    string
	report *prune.Report
}

func loadModel(t testing.TB, name string) *onnx.Model {
	t.Helper()
	m, err := onnx.Load(filepath.Join(testdata.Models(t), name, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// slim runs a pipeline on a copy of m, as `onnxslim --passes SPEC` would.
func slim(t testing.TB, m *onnx.Model, spec string) *result {
	t.Helper()
	r, err := trySlim(m, spec)
	if err != nil {
		t.Fatalf("%s: %v\n%s", spec, err, r.log)
	}
	return r
}

func trySlim(m *onnx.Model, spec string) (*result, error) {
	return trySlimCfg(m, spec, passes.Config{})
}

// trySlimCfg is trySlim under a pipeline configuration (its Log is set here).
func trySlimCfg(m *onnx.Model, spec string, cfg passes.Config) (*result, error) {
	cp := m.Clone()
	res := &result{}
	p, err := passes.Parse(spec)
	if err != nil {
		return res, err
	}
	var log bytes.Buffer
	ctx := passes.WithDetails(context.Background(), func(pass string, d any) {
		if r, ok := d.(*prune.Report); ok && pass == "prune" {
			res.report = r
		}
	})
	start := time.Now()
	cfg.Log = &log
	_, err = p.Run(ctx, cp, cfg)
	res.model, res.log = cp, log.String()
	if err == nil && testing.Verbose() {
		os.Stderr.WriteString(spec + " (" + time.Since(start).Round(time.Millisecond).String() + "):\n" + indent(log.String()) + "\n")
	}
	return res, err
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// zeroFraction is the fraction of zeros among the pruned layers' weights.
func zeroFraction(t testing.TB, m *onnx.Model, rep *prune.Report) float64 {
	t.Helper()
	var zeros, total int
	for _, lr := range rep.Layers {
		var n *onnx.Node
		for _, x := range m.Graph.Nodes {
			if x.Name == lr.Node {
				n = x
			}
		}
		if n == nil {
			t.Fatalf("layer %s not found", lr.Node)
		}
		w, err := n.Input(1).Const.AsFloat32()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range w {
			if v == 0 {
				zeros++
			}
		}
		total += len(w)
	}
	return float64(zeros) / float64(total)
}

// TestMNISTUnstructured is acceptance 1 for unstructured and 2:4 pruning:
// calibrated on the MNIST calibration folders, judged on the 2,000
// held-out digits.
func TestMNISTUnstructured(t *testing.T) {
	root := testdata.Models(t)
	data := filepath.Join(root, "mnist-data")
	for _, tc := range []struct {
		model, calib, eval string
		spec               string
		zeros, maxDrop     float64
	}{
		{"mnist_cnn_op13", "cnn-calib", "cnn-eval", "structure=unstructured,amount=0.7", 0.7, 0.5},
		{"mnist_cnn_op13", "cnn-calib", "cnn-eval", "structure=2:4", 0.5, 0.3},
		// The MLP's first layer holds 85% of its weights: prune it too.
		{"mnist_mlp_op13", "mlp-calib", "mlp-eval", "structure=unstructured,amount=0.7,keep_first=false", 0.7, 0.5},
		{"mnist_mlp_op13", "mlp-calib", "mlp-eval", "structure=2:4,keep_first=false", 0.5, 0.3},
	} {
		t.Run(tc.model+"/"+tc.spec, func(t *testing.T) {
			m := loadModel(t, tc.model)
			eval := filepath.Join(data, tc.eval)
			base := passtest.Top1(t, m, eval)
			r := slim(t, m, "prune("+tc.spec+",calib="+filepath.Join(data, tc.calib)+")")
			acc := passtest.Top1(t, r.model, eval)
			drop := 100 * (base - acc)
			t.Logf("%s %s: accuracy %.4f (float %.4f, drop %+.2f points)", tc.model, tc.spec, acc, base, drop)
			testutil.AtMost(t, "accuracy drop (points)", drop, tc.maxDrop)
			if r.report == nil || len(r.report.Layers) == 0 {
				t.Fatal("no report")
			}
			if strings.Contains(tc.spec, "2:4") {
				check24(t, r.model, r.report)
			}
			z := zeroFraction(t, r.model, r.report)
			testutil.AtLeast(t, "zero fraction of the pruned layers", z, tc.zeros-0.01)
			for _, lr := range r.report.Layers {
				if lr.ErrBefore == nil || lr.ErrAfter == nil {
					t.Errorf("%s: output error not measured", lr.Node)
					continue
				}
				testutil.AtMost(t, lr.Node+" error after refit", *lr.ErrAfter, *lr.ErrBefore)
			}
		})
	}
}

// check24 checks TensorRT's pattern on every pruned layer: in each group of
// 4 consecutive weights along the input channels, at least 2 are 0.
func check24(t *testing.T, m *onnx.Model, rep *prune.Report) {
	t.Helper()
	for _, lr := range rep.Layers {
		var n *onnx.Node
		for _, x := range m.Graph.Nodes {
			if x.Name == lr.Node {
				n = x
			}
		}
		w := n.Input(1).Const
		v, err := w.AsFloat32()
		if err != nil {
			t.Fatal(err)
		}
		// at(o, c, s): output o, input channel c, kernel position s.
		var rows, chans, spatial int
		var at func(o, c, s int) float32
		switch {
		case n.OpType == "Conv":
			rows, chans, spatial = int(w.Dims[0]), int(w.Dims[1]), len(v)/int(w.Dims[0]*w.Dims[1])
			at = func(o, c, s int) float32 { return v[(o*chans+c)*spatial+s] }
		case n.OpType == "Gemm" && n.AttrInt("transB", 0) == 1:
			rows, chans, spatial = int(w.Dims[0]), int(w.Dims[1]), 1
			at = func(o, c, _ int) float32 { return v[o*chans+c] }
		default:
			rows, chans, spatial = int(w.Dims[1]), int(w.Dims[0]), 1
			at = func(o, c, _ int) float32 { return v[c*rows+o] }
		}
		bad := 0
		for o := 0; o < rows; o++ {
			for s := 0; s < spatial; s++ {
				for c0 := 0; c0+4 <= chans; c0 += 4 {
					zeros := 0
					for c := c0; c < c0+4; c++ {
						if at(o, c, s) == 0 {
							zeros++
						}
					}
					if zeros < 2 {
						bad++
					}
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d groups of 4 with fewer than 2 zeros", lr.Node, bad)
		}
	}
}
