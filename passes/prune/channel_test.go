package prune_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// TestMNISTChannels is acceptance 1 for channel pruning: −50% FLOPs with
// reconstruction, judged on the 2,000 held-out digits; the pruned file is
// smaller and ONNX Runtime computes what the interpreter does.
func TestMNISTChannels(t *testing.T) {
	data := filepath.Join(testdata.Models(t), "mnist-data")
	for _, tc := range []struct{ model, calib, eval string }{
		{"mnist_cnn_op13", "cnn-calib", "cnn-eval"},
		{"mnist_mlp_op13", "mlp-calib", "mlp-eval"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			m := loadModel(t, tc.model)
			eval := filepath.Join(data, tc.eval)
			base := passtest.Top1(t, m, eval)
			// The first layer is pruned too: in the CNN it holds the input
			// channels of the conv that costs 78% of the FLOPs.
			spec := "prune(structure=channel,amount=0.5,scope=global,keep_first=false,calib=" + filepath.Join(data, tc.calib) + ")"
			r := slim(t, m, spec)
			acc := passtest.Top1(t, r.model, eval)
			drop := 100 * (base - acc)
			rep := r.report
			t.Logf("%s channel −50%% FLOPs: accuracy %.4f (float %.4f, drop %+.2f points), FLOPs %d → %d, params %d → %d",
				tc.model, acc, base, drop, rep.FLOPsBefore, rep.FLOPsAfter, rep.ParamsBefore, rep.ParamsAfter)
			testutil.AtMost(t, "accuracy drop (points)", drop, 0.5)
			testutil.AtMost(t, "FLOPs after / before", float64(rep.FLOPsAfter)/float64(rep.FLOPsBefore), 0.5)
			testutil.AtMost(t, "params after / before", float64(rep.ParamsAfter)/float64(rep.ParamsBefore), 0.98)
			refits := 0
			for _, lr := range rep.Layers {
				if lr.Refit == "refit" {
					refits++
					testutil.AtMost(t, lr.Node+" error after refit", *lr.ErrAfter, *lr.ErrBefore)
				}
			}
			testutil.AtLeast(t, "layers refit", float64(refits), 1)
			ortMatches(t, r.model, 4)
		})
	}
}

// ortMatches runs the model in ONNX Runtime and the interpreter on n
// random inputs and wants the same outputs (1e-4 relative, and 1e-6 of the
// largest output absolute; rel L2 1e-5).
func ortMatches(t *testing.T, m *onnx.Model, n int) {
	t.Helper()
	ort.Require(t)
	dir, file := passtest.SaveTemp(t, m)
	s, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		in, err := dataset.Random(s.Inputs(), uint64(100+i), nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		var ts []*interp.Tensor
		for _, v := range s.Inputs() {
			names = append(names, v.Name)
			ts = append(ts, in[v.Name])
		}
		set := filepath.Join(dir, "set")
		os.RemoveAll(set)
		if err := dataset.WritePB(set, "input", names, ts); err != nil {
			t.Fatal(err)
		}
		want, err := s.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		got := ort.Run(t, file, set)
		if len(got) != len(want) {
			t.Fatalf("ORT: %d outputs, interpreter %d", len(got), len(want))
		}
		for j := range got {
			g, err := got[j].AsFloat32()
			if err != nil {
				t.Fatal(err)
			}
			w, _ := interp.AsFloat32(want[j])
			// Sums in another order differ by rounding relative to the
			// largest values (outputs of random layers reach hundreds).
			mx := float32(0)
			for _, v := range w {
				mx = max(mx, v, -v)
			}
			if msg := testutil.Mismatch(g, w, max(1e-5, 1e-6*float64(mx)), 1e-4, 1e-5); msg != "" {
				t.Errorf("output %d: ORT vs interpreter: %s", j, msg)
			}
		}
	}
}

// residualNet: x → ConvA → Relu → ConvB → Add(ConvB, Relu(ConvA)) → Relu →
// Conv C → Flatten → Gemm: a residual group {A, B}, a Flatten → Gemm
// consumer and C's own group.
func residualNet(seed uint64, addIsOutput bool) *onnx.Model {
	rng := rand.New(rand.NewPCG(seed, 2))
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 3, 8, 8)))
	w := func(dims ...int64) *onnx.Value { return b.G.AddInitializer("w", randTensor(rng, dims...)) }
	pad := []*onnx.Attribute{onnx.IntsAttr("pads", []int64{1, 1, 1, 1})}
	a := b.Op("Relu", nil, b.Op("Conv", pad, x, w(8, 3, 3, 3), w(8)))
	bb := b.Op("Conv", pad, a, w(8, 8, 3, 3), w(8))
	sum := b.Op("Add", nil, bb, a)
	if addIsOutput {
		return b.Output(sum, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8, 8, 8)))
	}
	h := b.Op("Relu", nil, sum)
	h = b.Op("Relu", nil, b.Op("Conv", []*onnx.Attribute{onnx.IntsAttr("strides", []int64{2, 2})}, h, w(6, 8, 2, 2), w(6)))
	h = b.Op("Flatten", nil, h)
	h = b.Op("Gemm", []*onnx.Attribute{onnx.IntAttr("transB", 1)}, h, w(5, 6*4*4), w(5))
	return b.Output(h, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 5)))
}

// TestChannelRefitErrors: after removing channels of a residual group and
// of a conv feeding Flatten → Gemm, the errors the pass reports for the
// refit layers equal the directly measured error of their outputs against
// the float model's, and the refit lowers them.
func TestChannelRefitErrors(t *testing.T) {
	m := residualNet(1, false)
	dir := calibFolder(t, 24, 1, 3, 8, 8)
	var outs []string
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Conv" || n.OpType == "Gemm" {
			outs = append(outs, n.Output(0).Name)
		}
	}
	want := layerOutputs(t, m, dir, outs)
	r := slim(t, m, "prune(structure=channel,amount=0.3,scope=global,keep_first=false,calib="+dir+")")
	var refits int
	got := layerOutputs(t, r.model, dir, outs)
	for _, lr := range r.report.Layers {
		if lr.ErrAfter == nil {
			continue
		}
		refits++
		var out string
		for _, n := range r.model.Graph.Nodes {
			if n.Name == lr.Node {
				out = n.Output(0).Name
			}
		}
		if len(got[out]) != len(want[out]) {
			// The layer lost output channels itself: compare kept rows only
			// through the report (its own rows are checked via its consumer).
			continue
		}
		direct := relErr(got[out], want[out])
		t.Logf("%s: reported %.6f → %.6f, direct %.6f", lr.Node, *lr.ErrBefore, *lr.ErrAfter, direct)
		if !testutil.Close(*lr.ErrAfter, direct, 1e-5, 1e-3) {
			t.Errorf("%s: reported %.6g, measured %.6g", lr.Node, *lr.ErrAfter, direct)
		}
		testutil.AtMost(t, lr.Node+" error after refit", *lr.ErrAfter, *lr.ErrBefore)
	}
	testutil.AtLeast(t, "refit layers", float64(refits), 1)
	testutil.AtMost(t, "FLOPs after / before", float64(r.report.FLOPsAfter)/float64(r.report.FLOPsBefore), 0.7)
	ortMatches(t, r.model, 2)
}

// TestPinnedResidual: a residual group whose sum is a graph output cannot
// be pruned together; with nothing else to prune the pass says so and
// leaves the model as it was.
func TestPinnedResidual(t *testing.T) {
	m := residualNet(2, true)
	before, err := onnx.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	r, err := trySlim(m, "prune(structure=channel,amount=0.3,keep_first=false,keep_last=false)")
	if err == nil {
		t.Fatal("pruning a pinned residual group succeeded")
	}
	for _, want := range []string{"nothing to prune", "pinned", "graph output"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	after, _ := onnx.Encode(m)
	if string(before) != string(after) || r.report != nil {
		t.Error("the model or report changed")
	}
}

// TestDynamicBatchChannels: a model with a symbolic batch is pruned by
// FLOPs counted at the batch its generated inputs take (GenerateDims, as the
// CLI sets them), the same figures as the static model's, and keeps its
// symbolic batch; without those sizes its FLOPs are counted on a run of the
// first calibration batch.
func TestDynamicBatchChannels(t *testing.T) {
	data := filepath.Join(testdata.Models(t), "mnist-data")
	spec := "prune(structure=channel,amount=0.5,scope=global,keep_first=false,calib=" + filepath.Join(data, "cnn-calib") + ")"
	static := slim(t, loadModel(t, "mnist_cnn_op13"), spec)
	m := loadModel(t, "mnist_cnn_op13_dynbatch")
	// Without sizes for its batch the FLOPs are counted on a run of the
	// first calibration batch: the static model's times its images.
	run, err := trySlim(m, spec)
	if err != nil {
		t.Fatalf("without sizes for its batch: %v\n%s", err, run.log)
	}
	if got, want := run.report, static.report; got.FLOPsOn == "" || got.FLOPsBefore < want.FLOPsBefore || got.FLOPsBefore%want.FLOPsBefore != 0 {
		t.Fatalf("without sizes for its batch: FLOPs before %d counted on %q, want a multiple of the static model's %d, on a run", got.FLOPsBefore, got.FLOPsOn, want.FLOPsBefore)
	}
	testutil.AtMost(t, "FLOPs after / before, counted on a run", float64(run.report.FLOPsAfter)/float64(run.report.FLOPsBefore), 0.5)
	r, err := trySlimCfg(m, spec, passes.Config{GenerateDims: map[string]int64{"N": 1}})
	if err != nil {
		t.Fatalf("%v\n%s", err, r.log)
	}
	got, want := r.report, static.report
	if got.FLOPsBefore != want.FLOPsBefore || !got.FLOPsKnown {
		t.Fatalf("FLOPs before %d (known %v), want the static model's %d", got.FLOPsBefore, got.FLOPsKnown, want.FLOPsBefore)
	}
	testutil.AtMost(t, "FLOPs after / before", float64(got.FLOPsAfter)/float64(got.FLOPsBefore), 0.5)
	for i, l := range got.Layers {
		if w := want.Layers[i]; l.Node != w.Node || l.FLOPsBefore != w.FLOPsBefore {
			t.Errorf("layer %s: FLOPs before %d, the static model's %s: %d", l.Node, l.FLOPsBefore, w.Node, w.FLOPsBefore)
		}
	}
	if d := r.model.Graph.Inputs[0].Type.Shape[0]; d.Param != "N" {
		t.Fatalf("input batch is %v, want N kept", d)
	}
	x := passtest.Input(3, 1, 28, 28)
	out := passtest.EvalAll(t, r.model, map[string]*interp.Tensor{r.model.Graph.Inputs[0].Name: x})
	if s := out[0].Shape; len(s) != 2 || s[0] != 3 {
		t.Fatalf("output shape %v at batch 3", s)
	}
}

// TestConvTransposeGroup: a ConvTranspose (as PP-OCR's detector upsamples)
// producing a channel group whose channels are pruned: its
// scores read its [C, M/group, k…] weight by output channel (the pass
// failed with "empty weight"), the channels go with their consumer's
// inputs, and ONNX Runtime computes what the interpreter does.
func TestConvTransposeGroup(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 2))
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4, 6, 6)))
	w := func(dims ...int64) *onnx.Value { return b.G.AddInitializer("w", randTensor(rng, dims...)) }
	h := b.Op("Relu", nil, b.Op("Conv", []*onnx.Attribute{onnx.IntsAttr("pads", []int64{1, 1, 1, 1})}, x, w(8, 4, 3, 3), w(8)))
	up := []*onnx.Attribute{onnx.IntsAttr("strides", []int64{2, 2})}
	h = b.Op("Relu", nil, b.Op("ConvTranspose", up, h, w(8, 16, 2, 2), w(16)))
	h = b.Op("Conv", nil, h, w(3, 16, 1, 1), w(3))
	m := b.Output(h, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 3, 12, 12)))
	r, err := trySlim(m, "prune(structure=channel,amount=0.3,multiple=1)")
	if err != nil {
		t.Fatalf("%v\n%s", err, r.log)
	}
	var ct *onnx.Node
	for _, n := range r.model.Graph.Nodes {
		if n.OpType == "ConvTranspose" {
			ct = n
		}
	}
	if d := ct.Input(1).Const.Dims; d[1] >= 16 {
		t.Errorf("ConvTranspose weight %v: no output channel removed\n%s", d, r.log)
	}
	ortMatches(t, r.model, 2)
}

// TestDataDependentChannels: a model with an output whose shape depends on
// the data (NonZero's positions through a MatMul, as a detector's boxes
// after NonMaxSuppression) has no FLOPs at its inputs' sizes; the pass
// counts them on a run of the first calibration batch (it failed with
// "FLOPs are unknown"), removes the FLOPs asked, says where it counted,
// and ONNX Runtime computes what the interpreter does.
func TestDataDependentChannels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4, 8, 8)))
	w := func(dims ...int64) *onnx.Value { return b.G.AddInitializer("w", randTensor(rng, dims...)) }
	pad := []*onnx.Attribute{onnx.IntsAttr("pads", []int64{1, 1, 1, 1})}
	h := b.Op("Relu", nil, b.Op("Conv", pad, x, w(8, 4, 3, 3), w(8)))
	h = b.Op("Relu", nil, b.Op("Conv", pad, h, w(8, 8, 3, 3), w(8)))
	y := b.Op("Conv", nil, h, w(3, 8, 1, 1), w(3))
	pos := b.Op("Transpose", nil, b.Op("NonZero", nil, b.Op("Greater", nil, y, b.Scalar(0)))) // [n, 4]
	z := b.Op("MatMul", nil, b.Op("Cast", []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Float))}, pos), w(4, 2))
	b.Output(y, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 3, 8, 8)))
	m := b.Output(z, onnx.TensorType(onnx.Float, nil))
	if _, ok := passes.FLOPsAt(m, nil); ok {
		t.Fatal("the model's FLOPs are known at its inputs' sizes: the test needs them unknown")
	}
	r, err := trySlim(m, "prune(structure=channel,amount=0.3,multiple=1)")
	if err != nil {
		t.Fatalf("%v\n%s", err, r.log)
	}
	rep := r.report
	if !rep.FLOPsKnown || rep.FLOPsOn == "" || rep.FLOPsBefore <= 0 {
		t.Fatalf("FLOPs %d → %d, known %v, counted on %q: want known, on a run", rep.FLOPsBefore, rep.FLOPsAfter, rep.FLOPsKnown, rep.FLOPsOn)
	}
	testutil.AtMost(t, "FLOPs after / before", float64(rep.FLOPsAfter)/float64(rep.FLOPsBefore), 0.7)
	if !strings.Contains(r.log, "FLOPs counted on one run of the first calibration batch") {
		t.Errorf("the log does not say where the FLOPs were counted:\n%s", r.log)
	}
	ortMatches(t, r.model, 2)
}

// TestFoldedBiasHint: a conv's bias added through an Identity (how
// PyTorch exports a shared parameter; ConvNeXt's MatMul biases) is not a
// constant until folded: the group is pinned, the pass says to fold first,
// and after fold the group loses channels.
func TestFoldedBiasHint(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 3, 6, 6)))
	w := func(dims ...int64) *onnx.Value { return b.G.AddInitializer("w", randTensor(rng, dims...)) }
	h := b.Op("Relu", nil, b.Op("Conv", nil, x, w(8, 3, 3, 3), w(8))) // [1, 8, 4, 4]
	h = b.Op("Add", nil, b.Op("Conv", nil, h, w(16, 8, 1, 1)), b.Op("Identity", nil, w(16, 1, 1)))
	h = b.Op("Flatten", nil, b.Op("GlobalAveragePool", nil, b.Op("Relu", nil, h)))
	m := b.Output(b.Op("Gemm", []*onnx.Attribute{onnx.IntAttr("transB", 1)}, h, w(5, 16), w(5)), onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 5)))
	foldFirst(t, m, "1 channel group is pinned by operands computed from constants (a bias behind an Identity, say): fold it into constants first (--passes fold,prune(…))")
}

// hintSpec prunes the channels of foldFirst's models.
const hintSpec = "prune(structure=channel,amount=0.2,multiple=1,keep_first=false)"

// foldFirst checks that hintSpec leaves the group of m's second conv
// (ConvD) whole and logs hint, and that after fold the group loses
// channels, no hint is logged, and ONNX Runtime agrees with the
// interpreter on the result.
func foldFirst(t *testing.T, m *onnx.Model, hint string) {
	t.Helper()
	removed := func(r *result) int {
		for _, l := range r.report.Layers {
			if l.Node == "ConvD" {
				return l.ChannelsRemoved
			}
		}
		return 0
	}
	r := slim(t, m, hintSpec)
	if removed(r) != 0 || !strings.Contains(r.log, hint) {
		t.Fatalf("%s: %d channels removed from ConvD's group, want it pinned and the hint to fold first\n%s", hintSpec, removed(r), r.log)
	}
	r = slim(t, m, "fold,"+hintSpec)
	if removed(r) == 0 || strings.Contains(r.log, "fold it into constants first") {
		t.Fatalf("after fold: %d channels removed from ConvD's group, want some and no hint\n%s", removed(r), r.log)
	}
	ortMatches(t, r.model, 2)
}

// TestShapeArithmeticHint: PyTorch's x.view(x.size(0), -1) before a Gemm
// (Shape, Gather, Unsqueeze, Concat, Reshape to the computed shape) pins
// the conv's group, and the pass says to fold first; after fold the
// shape is a constant and the group loses channels.
func TestShapeArithmeticHint(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 3, 6, 6)))
	w := func(dims ...int64) *onnx.Value { return b.G.AddInitializer("w", randTensor(rng, dims...)) }
	h := b.Op("Relu", nil, b.Op("Conv", nil, x, w(8, 3, 3, 3), w(8))) // [1, 8, 4, 4]
	h = b.Op("Relu", nil, b.Op("Conv", nil, h, w(8, 8, 1, 1), w(8)))
	batch := b.Op("Unsqueeze", nil, b.Op("Gather", nil, b.Op("Shape", nil, h), b.G.AddInitializer("zero", onnx.NewInt64Tensor("", nil, []int64{0}))), b.Ints(0))
	flat := b.Op("Reshape", nil, h, b.Op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, batch, b.Ints(-1)))
	m := b.Output(b.Op("Gemm", []*onnx.Attribute{onnx.IntAttr("transB", 1)}, flat, w(5, 128), w(5)), onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 5)))
	foldFirst(t, m, "1 channel group is pinned by shape arithmetic (a Shape node, a Reshape to a computed shape): fold it into constants first (--passes fold,prune(…))")
	// An amount out of reach says it too (the log is not shown under --quiet).
	if _, err := trySlim(m, strings.Replace(hintSpec, "amount=0.2", "amount=0.9", 1)); err == nil ||
		!strings.Contains(err.Error(), "can remove at most") || !strings.Contains(err.Error(), "--passes fold,prune(…)") {
		t.Errorf("amount=0.9: err %v, want the amount out of reach and the hint to fold first", err)
	}
}

// TestChannelPadResidual: a residual stream widened by a Concat with
// zeros made at run time (ConstantOfShape, as tf2onnx writes BlazeFace's
// channel pads) is pruned in both parts: the conv's first channels with
// the stream's, its last ones with the zeros' (their shape shrinks). Its
// rows are scored and refit by the part they belong to, and ONNX Runtime
// computes what the interpreter does.
func TestChannelPadResidual(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 2))
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4, 8, 8)))
	w := func(dims ...int64) *onnx.Value { return b.G.AddInitializer("w", randTensor(rng, dims...)) }
	pad := []*onnx.Attribute{onnx.IntsAttr("pads", []int64{1, 1, 1, 1})}
	r := b.Op("Relu", nil, b.Op("Conv", pad, x, w(8, 4, 3, 3), w(8)))
	d := b.Op("Conv", append(pad, onnx.IntAttr("group", 8)), r, w(8, 1, 3, 3), w(8))
	pw := w(12, 8, 1, 1)
	f, _ := pw.Const.AsFloat32()
	for k := range 8 {
		f[10*8+k] *= 1e-3 // the weakest row, in the part that meets the zeros
	}
	pw.Const = onnx.NewFloatTensor("", pw.Const.Dims, f)
	p := b.Op("Conv", nil, d, pw, w(12))
	zeros := b.Op("ConstantOfShape", nil, b.G.AddInitializer("shape", onnx.NewInt64Tensor("", []int64{4}, []int64{1, 4, 8, 8})))
	wide := b.Op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 1)}, r, zeros)
	h := b.Op("Relu", nil, b.Op("Add", nil, p, wide))
	h = b.Op("Conv", nil, h, w(3, 12, 1, 1), w(3))
	m := b.Output(h, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 3, 8, 8)))
	res, err := trySlim(m, "prune(structure=channel,amount=0.4,scope=layer,keep_first=false,multiple=1)")
	if err != nil {
		t.Fatalf("%v\n%s", err, res.log)
	}
	var convs []*onnx.Node
	var shape []int64
	for _, n := range res.model.Graph.Nodes {
		switch n.OpType {
		case "Conv":
			convs = append(convs, n)
		case "ConstantOfShape":
			shape, _ = n.Input(0).Const.AsInt64()
		}
	}
	if len(convs) != 4 || shape == nil {
		t.Fatalf("%d convs, ConstantOfShape shape %v, want 4 convs and a shape\n%s", len(convs), shape, res.log)
	}
	stream, wide1 := convs[0].Input(1).Const.Dims[0], convs[2].Input(1).Const.Dims[0]
	if stream >= 8 || shape[1] >= 4 || wide1 != stream+shape[1] {
		t.Fatalf("stream %d channels (of 8), zeros %d (of 4), widened conv %d: want both parts pruned, the conv as wide as both\n%s", stream, shape[1], wide1, res.log)
	}
	rows, _ := convs[2].Input(1).Const.AsFloat32()
	for o := range int(wide1) {
		var sum float32
		for k := range int(stream) {
			sum += max(rows[o*int(stream)+k], -rows[o*int(stream)+k])
		}
		if sum < 1e-2 {
			t.Errorf("the widened conv kept its weakest row (row %d of the pruned weight)", o)
		}
	}
	ortMatches(t, res.model, 2)
}

// TestFusedContribHint: a model saved after ONNX Runtime's optimizer holds
// FusedConv, which pruning leaves and which pins the groups it reads; the
// pass says to run unfuse first, and with unfuse the same model prunes.
func TestFusedContribHint(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2))
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 3, 6, 6)))
	b.M.Opsets = append(b.M.Opsets, onnx.OpsetID{Domain: "com.microsoft", Version: 1})
	w := func(dims ...int64) *onnx.Value { return b.G.AddInitializer("w", randTensor(rng, dims...)) }
	pad := onnx.IntsAttr("pads", []int64{1, 1, 1, 1})
	fused := b.G.NewNode("FusedConv", "com.microsoft", "fused", []*onnx.Value{x, w(8, 3, 3, 3), w(8)}, "fused_out")
	fused.SetAttr(pad)
	fused.SetAttr(onnx.StringAttr("activation", "Relu"))
	b.G.Append(fused)
	h := b.Op("Conv", nil, fused.Output(0), w(4, 8, 1, 1), w(4))
	m := b.Output(h, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4, 6, 6)))
	for _, spec := range []string{"prune(structure=channel,amount=0.3,keep_first=false,keep_last=false)", "prune(keep_first=false,keep_last=false)"} {
		r, err := trySlim(m, spec)
		msg := r.log
		if err != nil {
			msg = err.Error()
		}
		if !strings.Contains(msg, "1 of ONNX Runtime's fused ops") || !strings.Contains(msg, "unfuse") {
			t.Errorf("%s: neither error nor log names the fused op and unfuse: %v\n%s", spec, err, r.log)
		}
	}
	if _, err := trySlim(m, "unfuse,prune(structure=channel,amount=0.3,keep_first=false,keep_last=false,multiple=1)"); err != nil {
		t.Errorf("with unfuse first: %v", err)
	}
}

// TestNoLayersSaysSo: a model with no layer that produces channels says
// so, rather than listing no kept groups.
func TestNoLayersSaysSo(t *testing.T) {
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 5)))
	m := b.Output(b.Op("Relu", nil, x), nil)
	if _, err := trySlim(m, "prune(structure=channel)"); err == nil || !strings.Contains(err.Error(), "no Conv, ConvTranspose, Gemm or MatMul with a constant float32 weight of its own produces channels") {
		t.Fatalf("err = %v", err)
	}
}
