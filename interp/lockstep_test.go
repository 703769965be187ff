package interp_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestRunLockstepMatchesRun runs feeds in lockstep and one by one, with and
// without NoPrepack, on a graph built to catch sharing gone wrong: a large
// int4 weight decoded per run (an invariant step that RunLockstep runs once),
// a view of it whose shape comes from the feed (not invariant), the weight's
// last reader, that an elementwise op may overwrite in place, an invariant
// graph output, and an If reading a value from its outer scope.
func TestRunLockstepMatchesRun(t *testing.T) {
	const n = 512 // 256 Ki elements: the per-run decoding threshold
	r := rand.New(rand.NewPCG(5, 6))
	b := newTestGraph("lockstep")
	x := b.input("x", onnx.Float, nil)
	raw := make([]byte, n*n/2)
	for i := range raw {
		raw[i] = byte(r.IntN(256))
	}
	w4 := b.g.AddInitializer("w4", onnx.NewTensor("w4", onnx.Int4, []int64{n, n}, raw))
	sc := make([]float32, n/32*n)
	for i := range sc {
		sc[i] = float32(0.01 + r.Float64()/100)
	}
	s4 := b.g.AddInitializer("s4", onnx.NewFloatTensor("s4", []int64{n / 32, n}, sc))
	d4 := b.node("DequantizeLinear", []*onnx.Attribute{onnx.IntAttr("axis", 0), onnx.IntAttr("block_size", 32)}, []*onnx.Value{w4, s4}, "d4").Output(0)
	y1 := b.node("MatMul", nil, []*onnx.Value{x, d4}, "y1").Output(0)
	inv := b.node("ReduceSum", []*onnx.Attribute{onnx.IntAttr("keepdims", 0)}, []*onnx.Value{d4}, "inv").Output(0)
	// [n, n] from the feed's shape: a Reshape that is a view of d4, made in
	// each feed's run, then scaled (in place where the view's buffer is free).
	one := b.g.AddInitializer("one", onnx.NewInt64Tensor("one", []int64{1}, []int64{1}))
	dim := b.node("Gather", nil, []*onnx.Value{b.node("Shape", nil, []*onnx.Value{x}, "sx").Output(0), one}, "dim").Output(0)
	shp := b.node("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, []*onnx.Value{dim, dim}, "shp").Output(0)
	view := b.node("Reshape", nil, []*onnx.Value{d4, shp}, "view").Output(0)
	three := b.g.AddInitializer("three", onnx.NewFloatTensor("three", []int64{}, []float32{3}))
	scaled := b.node("Mul", nil, []*onnx.Value{view, three}, "scaled").Output(0)
	y2 := b.node("MatMul", nil, []*onnx.Value{x, scaled}, "y2").Output(0)
	// If(sum(x) > 0): y1 or -y1, read from the outer scope.
	zero := b.g.AddInitializer("zero", onnx.NewFloatTensor("zero", []int64{}, []float32{0}))
	cond := b.node("Greater", nil, []*onnx.Value{b.node("ReduceSum", []*onnx.Attribute{onnx.IntAttr("keepdims", 0)}, []*onnx.Value{x}, "sumx").Output(0), zero}, "cond").Output(0)
	branch := func(name string, neg bool) *onnx.Graph {
		g := &onnx.Graph{Name: name}
		out := g.NewNode("Identity", "", name+"_id", []*onnx.Value{y1}, name+"_y").Output(0)
		g.Append(out.Producer())
		if neg {
			out = g.NewNode("Neg", "", name+"_neg", []*onnx.Value{out}, name+"_ny").Output(0)
			g.Append(out.Producer())
		}
		out.Type = &onnx.Type{Kind: onnx.TypeTensor}
		g.Outputs = []*onnx.Value{out}
		return g
	}
	y3 := b.node("If", []*onnx.Attribute{{Name: "then_branch", Type: onnx.AttrGraph, Graph: branch("then", false)}, {Name: "else_branch", Type: onnx.AttrGraph, Graph: branch("else", true)}}, []*onnx.Value{cond}, "y3").Output(0)
	// A float16 weight (decoded in each run under NoPrepack) by float16
	// activations: stacked as float32 rows, rounded back per feed.
	raw16 := make([]byte, 2*n*n)
	for i := 0; i < n*n; i++ {
		h := uint16(r.IntN(2))<<15 | uint16(10+r.IntN(6))<<10 | uint16(r.IntN(1024))
		raw16[2*i], raw16[2*i+1] = byte(h), byte(h>>8)
	}
	w16 := b.g.AddInitializer("w16", onnx.NewTensor("w16", onnx.Float16, []int64{n, n}, raw16))
	x16 := b.node("Cast", []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Float16))}, []*onnx.Value{x}, "x16").Output(0)
	y16 := b.node("MatMul", nil, []*onnx.Value{x16, w16}, "y16").Output(0)
	y4 := b.node("Cast", []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Float))}, []*onnx.Value{y16}, "y4").Output(0)
	b.output(y1, y2, inv, y3, y4)
	m := b.model(t, 10, 21)

	feeds := make([]map[string]*interp.Tensor, 4)
	for j := range feeds {
		v := make([]float32, 3*n)
		for i := range v {
			v[i] = float32(r.NormFloat64()) + float32(j%2)*0.5 - 0.25
		}
		feeds[j] = map[string]*interp.Tensor{"x": interp.FromSlice(onnx.Float, []int{3, n}, v)}
	}
	for _, opts := range []interp.Options{{}, {NoPrepack: true}} {
		s, err := interp.NewSession(m, opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.RunLockstep(context.Background(), feeds)
		if err != nil {
			t.Fatal(err)
		}
		for j, fd := range feeds {
			want, err := s.Run(fd)
			if err != nil {
				t.Fatal(err)
			}
			for k := range want {
				a, g := want[k].Floats(), got[j][k].Floats()
				if len(a) != len(g) || len(a) == 0 {
					t.Fatalf("NoPrepack=%v feed %d output %d: %d values in lockstep, %d alone", opts.NoPrepack, j, k, len(g), len(a))
				}
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(g[i]) || math.IsNaN(float64(a[i])) {
						t.Fatalf("NoPrepack=%v feed %d output %d [%d]: %v in lockstep, %v alone", opts.NoPrepack, j, k, i, g[i], a[i])
					}
				}
			}
			if j > 0 && &got[j][2].Floats()[0] == &got[0][2].Floats()[0] {
				t.Errorf("NoPrepack=%v: feeds 0 and %d share the invariant output's buffer", opts.NoPrepack, j)
			}
		}
		if got[0][0].Floats()[0] == got[1][0].Floats()[0] {
			t.Errorf("NoPrepack=%v: feeds 0 and 1 give the same y1[0]: the test does not tell feeds apart", opts.NoPrepack)
		}
	}
}

// TestRunLockstepNamesFailingFeed: a feed whose run fails is named by its
// index (FeedError), so that verification can say which sample it was.
func TestRunLockstepNamesFailingFeed(t *testing.T) {
	b := newTestGraph("feederr")
	x := b.input("x", onnx.Float, nil)
	w := b.g.AddInitializer("w", onnx.NewFloatTensor("w", []int64{4, 2}, make([]float32, 8)))
	b.output(b.node("MatMul", nil, []*onnx.Value{x, w}, "y").Output(0))
	s, err := interp.NewSession(b.model(t, 10, 21), interp.Options{NoPrepack: true})
	if err != nil {
		t.Fatal(err)
	}
	feed := func(k int) map[string]*interp.Tensor {
		return map[string]*interp.Tensor{"x": interp.FromSlice(onnx.Float, []int{1, k}, make([]float32, k))}
	}
	_, err = s.RunLockstep(context.Background(), []map[string]*interp.Tensor{feed(4), feed(4), feed(5)})
	var fe *interp.FeedError
	if !errors.As(err, &fe) || fe.Feed != 2 {
		t.Fatalf("RunLockstep with feed 2 of the wrong width: %v, want a FeedError naming feed 2", err)
	}
}
