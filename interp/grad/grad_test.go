package grad

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// smallCNN is Conv-BN-Relu-MaxPool, a depthwise Conv with a residual Add,
// GlobalAveragePool, Flatten, Gemm: batch 3, 5 classes.
func smallCNN() (*gb, map[string]string) {
	b := newGB(13)
	x := b.in(sh(3, 2, 9, 8), nil)
	w1 := b.w(sh(4, 2, 3, 3), nil)
	c1 := b.op("Conv", attrs(isa("pads", []int64{1, 1, 1, 1})), x, w1, b.w(sh(4), nil))
	bn := b.op("BatchNormalization", nil, c1, b.w(sh(4), nil), b.w(sh(4), nil), b.w(sh(4), nil), b.w(sh(4), b.pos(0.5, 2, sh(4))))
	r1 := b.op("Relu", nil, bn)
	p1 := b.op("MaxPool", attrs(isa("kernel_shape", []int64{2, 2}), isa("strides", []int64{2, 2})), r1)
	w2 := b.w(sh(4, 1, 3, 3), nil)
	dw := b.op("Conv", attrs(ia("group", 4), isa("pads", []int64{1, 1, 1, 1})), p1, w2)
	res := b.op("Add", nil, b.op("Relu", nil, dw), p1)
	gap := b.op("GlobalAveragePool", nil, res)
	fl := b.op("Flatten", nil, gap)
	w3 := b.w(sh(5, 4), nil)
	out := b.op("Gemm", attrs(ia("transB", 1)), fl, w3, b.w(sh(5), nil))
	b.output(out)
	return b, map[string]string{"conv weight": w1.Name, "depthwise weight": w2.Name, "fc weight": w3.Name, "activation": r1.Name, "input": x.Name}
}

// TestCrossEntropyMatchesFiniteDifferences checks the loss itself and the
// whole backward pass of a small CNN with a residual block, with labels and
// label-free, element by element (kinks skipped).
func TestCrossEntropyMatchesFiniteDifferences(t *testing.T) {
	b, names := smallCNN()
	out := b.g.Outputs[0].Name
	for _, labels := range [][]int64{{1, 4, 0}, nil} {
		lf := func(z *interp.Tensor) (float64, []float64, error) { return crossEntropy(z, labels, out) }
		for what, name := range names {
			rel := fdCheck(t, b.m, b.feeds, out, lf, name, 3e-3, 32, true)
			t.Logf("labels %v, %s: relative error %.2e", labels, what, rel)
			if !(rel <= 1e-3) {
				t.Errorf("labels %v, %s %s: relative error %.3g > 1e-3", labels, what, name, rel)
			}
		}
	}
	// The public entry gives the same loss and gradients as run with the loss.
	L, g, err := Gradients(b.m, b.feeds, Loss{Labels: []int64{1, 4, 0}}, []string{names["fc weight"]})
	if err != nil {
		t.Fatal(err)
	}
	z := tensorOf(t, b.m, b.feeds, out)
	want, _, _ := crossEntropy(z, []int64{1, 4, 0}, out)
	if !(L == want && L > 0) {
		t.Fatalf("loss %v, want %v > 0", L, want)
	}
	if gw := g[names["fc weight"]]; gw == nil || len(gw.Floats()) != 20 {
		t.Fatalf("fc weight gradient %v", gw)
	}
}

// TestMNISTCNNGradients differentiates the trained MNIST CNN on a held-out
// digit: weights of both convs and both Gemms, every Relu output and the
// input, element by element against central differences (kinks skipped).
// The bound is 5e-3, not the per-op 1e-3: through the whole float32 network a
// nudge of 1e-3 crosses Relu kinks in some of the 12,544 first-layer outputs
// (an O(h) error), and a smaller nudge drowns in float32 rounding; the
// first conv's finite differences converge to the analytic gradient as the
// nudge shrinks from 1e-2 to 1e-4 (checked by hand while writing this test).
func TestMNISTCNNGradients(t *testing.T) {
	dir := testdata.Models(t)
	m, err := onnx.Load(filepath.Join(dir, "mnist_cnn_op13", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := dataset.Open(filepath.Join(dir, "mnist-data", "cnn-eval"), m.Graph.Inputs, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	batch, err := r.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if batch.Labels == nil {
		t.Fatal("cnn-eval has no labels")
	}
	var wrt []string
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "Conv", "Gemm":
			wrt = append(wrt, n.Input(1).Name)
		case "Relu":
			wrt = append(wrt, n.Output(0).Name)
		}
	}
	wrt = append(wrt, m.Graph.Inputs[0].Name)
	out := m.Graph.Outputs[0].Name
	// The model is right and confident on its digits (loss ~0.006): the true
	// labels' gradients drown in float32 rounding of finite differences; the
	// next class as label gives gradients of order one.
	labels := make([]int64, len(batch.Labels))
	for i, l := range batch.Labels {
		labels[i] = (l + 1) % 10
	}
	// The session forward that Gradients uses and the node-by-node one that
	// the finite differences use give the same values.
	viaSession, err := forwardSession(m, batch.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	byNode, err := forward(m, batch.Inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range byNode {
		got := viaSession[v]
		if got == nil || want.DType != onnx.Float {
			continue
		}
		if msg := testutil.Mismatch(got.Floats(), want.Floats(), 1e-5, 1e-5, -1); msg != "" {
			t.Fatalf("%s: session forward %s", v.Name, msg)
		}
	}
	L, gs, err := Gradients(m, batch.Inputs, Loss{Labels: labels}, wrt)
	if err != nil {
		t.Fatal(err)
	}
	if !(L > 0) {
		t.Fatalf("loss %v", L)
	}
	lf := func(z *interp.Tensor) (float64, []float64, error) { return crossEntropy(z, labels, out) }
	for _, name := range wrt {
		if gs[name] == nil {
			t.Fatalf("no gradient for %s", name)
		}
		rel := fdCheck(t, m, batch.Inputs, out, lf, name, 1e-3, 32, true)
		t.Logf("%s %v: relative error %.2e (loss %.3g)", name, gs[name].Shape, rel, L)
		if !(rel <= 5e-3) {
			t.Errorf("%s: relative error %.3g > 5e-3", name, rel)
		}
	}
}

func TestErrors(t *testing.T) {
	b := newGB(13)
	x := b.in(sh(2, 3), nil)
	w := b.w(sh(3, 3), nil)
	sin := b.op("Sin", nil, b.op("MatMul", nil, x, w))
	side := b.op("Cos", nil, x) // off the path to the loss: forward only
	y := b.op("Add", nil, sin, b.w(sh(3), nil))
	b.output(y)
	b.output(side)
	_ = side
	for _, tc := range []struct {
		name  string
		loss  Loss
		wrt   []string
		want  string
		works bool
	}{
		{"no rule on the path", Loss{}, []string{w.Name}, `"Sin4" (Sin)`, false},
		{"rule missing only before the wrt tensor", Loss{}, []string{sin.Name}, "", true},
		{"wrt not in the graph", Loss{}, []string{"nope"}, `"nope" to differentiate with respect to is not in the graph`, false},
		{"loss output not in the graph", Loss{Output: "nope"}, []string{sin.Name}, `loss output "nope"`, false},
		{"too few labels", Loss{Labels: []int64{1}}, []string{sin.Name}, "1 labels for 2 samples", false},
		{"label out of range", Loss{Labels: []int64{1, 3}}, []string{sin.Name}, "label 3 of sample 1 is outside the 3 classes", false},
	} {
		_, g, err := Gradients(b.m, b.feeds, tc.loss, tc.wrt)
		if tc.works {
			if err != nil || g[tc.wrt[0]] == nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if !Differentiable("Conv") || Differentiable("Sin") {
		t.Error("Differentiable disagrees with the registry")
	}
}
