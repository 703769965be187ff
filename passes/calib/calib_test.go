package calib_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

const width = 4

// model is x[1,4] → f(x) → y[1,4], f built by body.
func model(body func(b *passtest.Builder, x *onnx.Value) *onnx.Value) *onnx.Model {
	ty := onnx.TensorType(onnx.Float, onnx.ShapeOf(1, width))
	b, x := passtest.NewBuilder(17, ty)
	return b.Output(body(b, x), ty)
}

// relu is x → Relu(x·2) with the product named "double_out"-like by the
// builder; its inner tensor is returned too.
func relu() (*onnx.Model, string) {
	var inner string
	m := model(func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
		d := b.Op("Mul", nil, x, b.Scalar(2))
		inner = d.Name
		return b.Op("Relu", nil, d)
	})
	return m, inner
}

func ctx(inputs string) *passes.Context {
	return &passes.Context{Context: context.Background(), Pass: &passes.Pass{Name: "test"}, Inputs: inputs, Log: io.Discard}
}

// folder writes n samples of x (row i is i+1, i+2, …; row 2 negative) as
// x.npy and returns the folder.
func folder(t *testing.T, n int) (string, [][]float32) {
	dir := t.TempDir()
	x := interp.Make(onnx.Float, n, width)
	rows := make([][]float32, n)
	for i := 0; i < n; i++ {
		for j := 0; j < width; j++ {
			v := float32(i + j + 1)
			if i == 2 {
				v = -v
			}
			x.Floats()[i*width+j] = v
		}
		rows[i] = x.Floats()[i*width : (i+1)*width]
	}
	if err := dataset.WriteNpy(filepath.Join(dir, "x.npy"), x); err != nil {
		t.Fatal(err)
	}
	return dir, rows
}

// openFolder opens a folder of n samples (see folder) as m's calib= data.
func openFolder(t *testing.T, m *onnx.Model, n int) (*calib.Source, [][]float32) {
	dir, rows := folder(t, n)
	src, err := calib.Open(ctx(""), m, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src, rows
}

func TestOpenOrigin(t *testing.T) {
	m, _ := relu()
	calibDir, _ := folder(t, 5)
	inputsDir, _ := folder(t, 1)
	for _, tc := range []struct {
		name, dir, inputs string
		limit, total      int
		origin            string
	}{
		{"calib= wins over --inputs", calibDir, inputsDir, 0, 5, "calib=" + calibDir + " (5 samples)"},
		{"calib= limited", calibDir, "", 3, 3, "calib=" + calibDir + " (3 samples)"},
		{"--inputs when no calib=", "", inputsDir, 0, 1, "--inputs " + inputsDir + " (1 sample)"},
		{"random", "", "", 0, calib.RandomSamples, "64 seeded random samples"},
		{"random limited", "", "", 5, 5, "5 seeded random samples"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := calib.Open(ctx(tc.inputs), m, tc.dir, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if src.Origin() != tc.origin || src.Total() != tc.total {
				t.Errorf("Origin %q Total %d, want %q %d", src.Origin(), src.Total(), tc.origin, tc.total)
			}
			n := 0
			for {
				in, err := src.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if x := in["x"]; x == nil || len(x.Shape) != 2 || x.Shape[1] != width {
					t.Fatalf("batch %d: x = %v", n, x)
				}
				n += calib.BatchSamples(in)
			}
			if n != tc.total {
				t.Errorf("read %d samples, want %d", n, tc.total)
			}
		})
	}
	if _, err := calib.Open(ctx(""), m, filepath.Join(calibDir, "nosuch"), 0); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("missing folder: err = %v, want one naming it", err)
	}
}

// TestStreamAndActivations: batches arrive numbered in source order, the
// activations are the model's inner values, the same on a reopened source,
// and a visitor's error stops the stream.
// TestStreamAndActivations, Activations also with the model taken as
// large (interp.LargeModel 0: lockstep groups).
func TestStreamAndActivations(t *testing.T) {
	m, inner := relu()
	src, rows := openFolder(t, m, 5)
	old := interp.LargeModel
	defer func() { interp.LargeModel = old }()
	for _, large := range []bool{false, true} {
		if large {
			interp.LargeModel = 0
		}
		var mu sync.Mutex
		got := map[int][]float32{}
		again, err := src.Reopen(5)
		if err != nil {
			t.Fatal(err)
		}
		n, err := calib.Activations(ctx(""), m, []string{inner, m.Graph.Outputs[0].Name}, again, func(i int, acts map[string]*interp.Tensor) error {
			mu.Lock()
			defer mu.Unlock()
			got[i] = append(append([]float32(nil), acts[inner].Floats()...), acts[m.Graph.Outputs[0].Name].Floats()...)
			return nil
		})
		again.Close()
		if err != nil || n != 5 {
			t.Fatalf("large=%v: Activations: %d samples, %v", large, n, err)
		}
		for i, row := range rows {
			for j, x := range row {
				if d, y := got[i][j], got[i][width+j]; d != 2*x || y != max(2*x, 0) {
					t.Fatalf("large=%v: batch %d element %d: inner %v output %v, want %v %v", large, i, j, d, y, 2*x, max(2*x, 0))
				}
			}
		}
	}
	interp.LargeModel = old
	if len(m.Graph.Outputs) != 1 {
		t.Errorf("Activations changed the model: %d outputs", len(m.Graph.Outputs))
	}
	again, err := src.Reopen(2)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	boom := errors.New("boom")
	n, err := calib.Stream(ctx(""), again, func(i int, in map[string]*interp.Tensor) error {
		if in["x"].Floats()[0] != rows[i][0] {
			t.Errorf("reopened batch %d: x[0] = %v, want %v", i, in["x"].Floats()[0], rows[i][0])
		}
		if i == 1 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n > 2 {
		t.Errorf("Stream: %d samples, err %v; want the visitor's error within 2 samples", n, err)
	}
	if _, _, err := calib.WithOutputs(m, []string{"nosuch"}); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("WithOutputs of an unknown tensor: err = %v", err)
	}
}

// TestMeasurer: the reference agrees with itself; a scaled copy keeps the
// cosine and shows the error; a permuted one loses top-1; a candidate that
// computes NaN fails any cosine bound.
// With the model taken as large (interp.LargeModel 0) the samples run in
// lockstep groups (GroupingFor): the same figures.
func TestMeasurer(t *testing.T) {
	var seen []calib.Agreement
	for _, large := range []bool{false, true} {
		if large {
			defer func(old int64) { interp.LargeModel = old }(interp.LargeModel)
			interp.LargeModel = 0
			if g := calib.GroupingFor(model(func(b *passtest.Builder, x *onnx.Value) *onnx.Value { return x })); g.Batches < 2 {
				t.Fatalf("GroupingFor a large model: %+v, want groups", g)
			}
		}
		got := measurerCases(t)
		if large && !sameAgreements(got, seen) {
			t.Errorf("large model (lockstep groups): %+v; one by one: %+v", got, seen)
		}
		seen = got
	}
}

func sameAgreements(a, b []calib.Agreement) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		same := func(p, q float64) bool { return p == q || math.IsNaN(p) && math.IsNaN(q) }
		if !same(x.Cosine, y.Cosine) || !same(x.RelL2, y.RelL2) || !same(x.Top1, y.Top1) || x.Samples != y.Samples || x.NonFinite != y.NonFinite {
			return false
		}
	}
	return true
}

func measurerCases(t *testing.T) []calib.Agreement {
	var all []calib.Agreement
	ref, _ := relu()
	src, _ := openFolder(t, ref, 6)
	ms, err := calib.NewMeasurer(ctx(""), ref, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	type want struct{ cos, rel, top1 float64 }
	for _, tc := range []struct {
		name string
		cand *onnx.Model
		want want
	}{
		{"itself", ref.Clone(), want{1, 0, 1}},
		{"scaled", model(func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Relu", nil, b.Op("Mul", nil, x, b.Scalar(4)))
		}), want{1, 1, 1}},
		{"reversed", model(func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// Relu(2·x) with the features reversed: same norm, argmax moves.
			r := b.Op("Slice", nil, b.Op("Mul", nil, x, b.Scalar(2)), b.Ints(-1), b.Ints(math.MinInt64), b.Ints(1), b.Ints(-1))
			return b.Op("Relu", nil, r)
		}), want{math.NaN(), math.NaN(), 0}},
	} {
		a, err := ms.Agreement(tc.cand)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		all = append(all, a)
		if a.Samples != 6 || a.NonFinite != 0 {
			t.Errorf("%s: %d samples, %d non-finite", tc.name, a.Samples, a.NonFinite)
		}
		check := func(what string, got, want float64) {
			if !math.IsNaN(want) && !(math.Abs(got-want) <= 1e-6) {
				t.Errorf("%s: %s %v, want %v", tc.name, what, got, want)
			}
		}
		check("cosine", a.Cosine, tc.want.cos)
		check("rel_l2", a.RelL2, tc.want.rel)
		if tc.want.top1 == 0 && !(a.Top1 < 1) || tc.want.top1 == 1 && a.Top1 != 1 {
			t.Errorf("%s: top-1 %v, want %v", tc.name, a.Top1, tc.want.top1)
		}
	}
	// Sqrt of a negative number: NaN on the sample with negative inputs.
	nan := model(func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
		return b.Op("Sqrt", nil, b.Op("Relu", nil, b.Op("Mul", nil, x, b.Scalar(2))))
	})
	nan.Graph.Nodes[1].OpType = "Identity" // Sqrt(2x): NaN where x < 0
	a, err := ms.AgreementOn(nan, 3)
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, a)
	if a.Cosine >= 0.5 || a.RelL2 <= 10 || !math.IsNaN(a.Cosine) || a.NonFinite == 0 || a.Samples != 3 {
		t.Errorf("NaN candidate: %+v; want NaN cosine and error, non-finite counted, 3 samples", a)
	}
	if _, err := ms.Agreement(model(func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
		return b.Op("ReduceSum", nil, x, b.Ints(1))
	})); err == nil || !strings.Contains(err.Error(), "shapes differ") {
		t.Errorf("candidate of another shape: err = %v", err)
	}
	return all
}

// TestStreamGroups: consecutive batches in groups of the size asked, each
// numbered by its first batch, the last group short.
func TestStreamGroups(t *testing.T) {
	m, _ := relu()
	src, rows := openFolder(t, m, 10)
	var mu sync.Mutex
	sizes := map[int]int{}
	n, err := calib.StreamGroups(ctx(""), src, calib.Grouping{Batches: 4, Workers: 2}, func(first int, ins []map[string]*interp.Tensor) error {
		for k, in := range ins {
			if got := in["x"].Floats()[0]; got != rows[first+k][0] {
				t.Errorf("group %d, batch %d: x[0] = %v, want %v", first, k, got, rows[first+k][0])
			}
		}
		mu.Lock()
		sizes[first] = len(ins)
		mu.Unlock()
		return nil
	})
	if err != nil || n != 10 {
		t.Fatalf("StreamGroups: %d samples, %v", n, err)
	}
	if want := map[int]int{0: 4, 4: 4, 8: 2}; fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("groups (first batch: size) %v, want %v", sizes, want)
	}
}

// TestDiffNaN: a NaN or Inf where the reference is finite makes the error
// and the cosine NaN, so no bound passes; identical NaNs are not counted.
func TestDiffNaN(t *testing.T) {
	for _, tc := range []struct {
		name      string
		want, got []float32
		nonFinite int
	}{
		{"nan", []float32{1, 2, 3}, []float32{1, float32(math.NaN()), 3}, 1},
		{"inf", []float32{1, 2, 3}, []float32{1, 2, float32(math.Inf(1))}, 1},
	} {
		var d calib.Diff
		d.Add(tc.want, tc.want)
		d.Add(tc.want, tc.got)
		rel, cos, _ := d.Result()
		if cos >= 0.99 || rel <= 1e-5 || !math.IsNaN(cos) || d.NonFinite() != tc.nonFinite {
			t.Errorf("%s: rel_l2 %v cosine %v non-finite %d; want NaN, NaN, %d", tc.name, rel, cos, d.NonFinite(), tc.nonFinite)
		}
	}
	var d calib.Diff
	d.Add([]float32{1, 2}, []float32{1, 2, 3})
	if rel, cos, mx := d.Result(); !math.IsNaN(rel) || !math.IsNaN(cos) || !math.IsNaN(mx) {
		t.Errorf("mismatched lengths: %v %v %v, want NaN", rel, cos, mx)
	}
}

// TestDiffOrderIndependent: batches added out of order, concurrently, give
// the bits of the same batches added in order (Stream's workers finish in
// any order; a measurement must not depend on it).
func TestDiffOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const batches = 64
	want, got := make([][]float32, batches), make([][]float32, batches)
	for i := range want {
		want[i], got[i] = make([]float32, 97), make([]float32, 97)
		for k := range want[i] {
			x := float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(7)-3))) // magnitudes that round
			want[i][k], got[i][k] = x, x*(1+float32(r.NormFloat64()*1e-3))
		}
	}
	var inOrder calib.Diff
	for i := range want {
		inOrder.Add(want[i], got[i])
	}
	rel0, cos0, max0 := inOrder.Result()
	var shuffled calib.Diff
	var wg sync.WaitGroup
	for _, i := range r.Perm(batches) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shuffled.AddAt(i, want[i], got[i])
		}()
	}
	wg.Wait()
	rel, cos, mx := shuffled.Result()
	if math.IsNaN(cos0) || rel != rel0 || cos != cos0 || mx != max0 {
		t.Errorf("out of order: rel L2 %v cosine %v max %v; in order %v %v %v", rel, cos, mx, rel0, cos0, max0)
	}
}

// TestPrefix: a prefix model outputs the named tensor alone and keeps only
// the nodes it depends on; the original is untouched.
func TestPrefix(t *testing.T) {
	b, x := passtest.NewBuilder(13, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4)))
	a := b.Op("Relu", nil, x)
	c := b.Op("Sigmoid", nil, a)
	d := b.Op("Tanh", nil, x) // another branch
	m := b.Output(b.Op("Add", nil, c, d), onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4)))
	p, err := calib.Prefix(m, []string{c.Name})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range p.Graph.Nodes {
		ops = append(ops, n.OpType)
	}
	if fmt.Sprint(ops) != "[Relu Sigmoid]" || len(p.Graph.Outputs) != 1 || p.Graph.Outputs[0].Name != c.Name {
		t.Errorf("prefix: nodes %v, outputs %v", ops, p.Graph.Outputs)
	}
	if err := p.Check(); err != nil {
		t.Errorf("prefix model: %v", err)
	}
	if len(m.Graph.Nodes) != 4 || len(m.Graph.Outputs) != 1 || m.Graph.Outputs[0].Name == c.Name {
		t.Errorf("the original changed: %d nodes", len(m.Graph.Nodes))
	}
	if _, err := calib.Prefix(m, []string{"nope"}); err == nil {
		t.Error("an unknown tensor gave no error")
	}
}
