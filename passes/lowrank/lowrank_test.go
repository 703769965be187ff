package lowrank_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/stats"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
	"github.com/onnxslim/onnxslim/passes/lowrank"
)

// lowRank is a rows×cols matrix of rank r, row-major.
func lowRank(rows, cols, r int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	a := make([]float64, rows*r)
	b := make([]float64, r*cols)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	out := make([]float32, rows*cols)
	for i := range rows {
		for j := range cols {
			var s float64
			for k := range r {
				s += a[i*r+k] * b[k*cols+j]
			}
			out[i*cols+j] = float32(s / float64(cols))
		}
	}
	return out
}

func transpose(x []float32, rows, cols int) []float32 {
	out := make([]float32, len(x))
	for i := range rows {
		for j := range cols {
			out[j*rows+i] = x[i*cols+j]
		}
	}
	return out
}

func randVec(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 3))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

func weight(b *passtest.Builder, name string, dims []int64, data []float32) *onnx.Value {
	return b.G.AddInitializer(name, onnx.NewFloatTensor("", dims, data))
}

func floatType(shape ...int64) *onnx.Type { return onnx.TensorType(onnx.Float, onnx.ShapeOf(shape...)) }

// layerCase is a one-layer model whose weight has rank 2: split at the
// weight's full rank, its outputs must not change.
type layerCase struct {
	name  string
	spec  string
	x     []int
	build func(b *passtest.Builder, x *onnx.Value) *onnx.Value
}

func gemmCase(name string, opset int64, transA, transB bool, alpha, beta float32, cdims []int64) layerCase {
	const M, K, N = 4, 12, 10
	xs := []int{M, K}
	if transA {
		xs = []int{K, M}
	}
	return layerCase{name: name, spec: "lowrank(energy=1,min_saving=0)", x: xs, build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
		b.M.Opsets[0].Version = opset
		w := lowRank(N, K, 2, 1)
		dims := []int64{N, K}
		if !transB {
			w, dims = transpose(w, N, K), []int64{K, N}
		}
		ins := []*onnx.Value{x, weight(b, "W", dims, w)}
		if cdims != nil {
			n := int64(1)
			for _, d := range cdims {
				n *= d
			}
			ins = append(ins, weight(b, "C", cdims, randVec(int(n), 4)))
		}
		attrs := []*onnx.Attribute{onnx.FloatAttr("alpha", alpha), onnx.FloatAttr("beta", beta)}
		if transA {
			attrs = append(attrs, onnx.IntAttr("transA", 1))
		}
		if transB {
			attrs = append(attrs, onnx.IntAttr("transB", 1))
		}
		if opset < 7 && cdims != nil && len(cdims) < 2 {
			attrs = append(attrs, onnx.IntAttr("broadcast", 1))
		}
		return b.Op("Gemm", attrs, ins...)
	}}
}

func layerCases() []layerCase {
	conv := func(name, spec string, x []int, wdims []int64, w []float32, attrs ...*onnx.Attribute) layerCase {
		return layerCase{name: name, spec: spec, x: x, build: func(b *passtest.Builder, xv *onnx.Value) *onnx.Value {
			return b.Op("Conv", attrs, xv, weight(b, "W", wdims, w), weight(b, "B", wdims[:1], randVec(int(wdims[0]), 5)))
		}}
	}
	// Jaderberg: W[n,c,y,x] = Σ_j H[(n,x), j]·V[j, (c,y)], rank 2 in that matricization.
	spatialW := func(N, C, kh, kw int) []float32 {
		m := lowRank(N*kw, C*kh, 2, 6)
		w := make([]float32, N*C*kh*kw)
		for n := range N {
			for c := range C {
				for y := range kh {
					for x := range kw {
						w[((n*C+c)*kh+y)*kw+x] = m[(n*kw+x)*C*kh+c*kh+y]
					}
				}
			}
		}
		return w
	}
	return []layerCase{
		gemmCase("gemm_op13_bias_vec", 13, false, false, 0.7, 1.3, []int64{10}),
		gemmCase("gemm_op13_transB_bias_row", 13, false, true, 1, 1, []int64{1, 10}),
		gemmCase("gemm_op13_transA_transB_bias_full", 13, true, true, 0.5, 2, []int64{4, 10}),
		gemmCase("gemm_op13_no_bias", 13, false, true, 1.5, 1, nil),
		gemmCase("gemm_op9_transA", 9, true, false, 1, 0.5, []int64{10}),
		gemmCase("gemm_op6_broadcast", 6, false, true, 1, 1, []int64{10}),
		{name: "matmul_3d", spec: "lowrank(energy=1,min_saving=0)", x: []int{2, 3, 12}, build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("MatMul", nil, x, weight(b, "W", []int64{12, 10}, transpose(lowRank(10, 12, 2, 7), 10, 12)))
		}},
		conv("conv_pads_strides_dilations", "lowrank(energy=1,min_saving=0)", []int{1, 6, 9, 11}, []int64{8, 6, 3, 3}, lowRank(8, 54, 2, 8),
			onnx.IntsAttr("kernel_shape", []int64{3, 3}), onnx.IntsAttr("pads", []int64{1, 0, 2, 1}),
			onnx.IntsAttr("strides", []int64{2, 1}), onnx.IntsAttr("dilations", []int64{1, 2})),
		conv("conv_same_upper", "lowrank(energy=1,min_saving=0)", []int{1, 6, 9, 10}, []int64{8, 6, 3, 3}, lowRank(8, 54, 2, 9),
			onnx.StringAttr("auto_pad", "SAME_UPPER"), onnx.IntsAttr("strides", []int64{2, 2})),
		conv("conv_1d", "lowrank(energy=1,min_saving=0)", []int{1, 4, 15}, []int64{6, 4, 5}, lowRank(6, 20, 2, 10),
			onnx.IntsAttr("pads", []int64{2, 1}), onnx.IntsAttr("strides", []int64{2})),
		conv("conv_spatial", "lowrank(energy=1,min_saving=0,conv=spatial)", []int{1, 5, 10, 12}, []int64{8, 5, 3, 3}, spatialW(8, 5, 3, 3),
			onnx.IntsAttr("kernel_shape", []int64{3, 3}), onnx.IntsAttr("pads", []int64{1, 2, 0, 1}),
			onnx.IntsAttr("strides", []int64{1, 2}), onnx.IntsAttr("dilations", []int64{2, 1})),
		conv("conv_spatial_same_lower", "lowrank(energy=1,min_saving=0,conv=spatial)", []int{1, 5, 9, 9}, []int64{8, 5, 3, 3}, spatialW(8, 5, 3, 3),
			onnx.StringAttr("auto_pad", "SAME_LOWER"), onnx.IntsAttr("strides", []int64{2, 2})),
		{name: "convtranspose", spec: "lowrank(energy=1,min_saving=0)", x: []int{1, 6, 5, 5}, build: func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// W [C=6, N=8, 3, 3]: rank 2 as the (n,y,x) × c matrix.
			w := transpose(lowRank(8*9, 6, 2, 11), 8*9, 6)
			return b.Op("ConvTranspose", []*onnx.Attribute{onnx.IntsAttr("strides", []int64{2, 2}), onnx.IntsAttr("pads", []int64{1, 1, 0, 0}),
				onnx.IntsAttr("output_padding", []int64{1, 1})},
				x, weight(b, "W", []int64{6, 8, 3, 3}, w), weight(b, "B", []int64{8}, randVec(8, 12)))
		}},
	}
}

// TestSplitAtFullRankIsExact: each layer kind, with the attributes that
// change how it computes (transA/transB, alpha/beta, bias shapes, the
// opsets where Gemm's C is required or broadcast is an attribute; pads,
// strides, dilations, auto_pad, 1-D; conv=spatial; ConvTranspose's
// output_padding), split at its weight's full rank (2) gives the same
// outputs in the interpreter and in ONNX Runtime; names keep the layer's.
//
// method=data runs the same cases: un-whitening must give the same exact
// factors (the covariance comes from seeded random inputs), and both
// layer errors are reported.
func TestSplitAtFullRankIsExact(t *testing.T) {
	var cases []layerCase
	for _, c := range layerCases() {
		cases = append(cases, c)
		d := c
		d.name += "/data"
		d.spec = strings.Replace(c.spec, "lowrank(", "lowrank(method=data,compare=true,samples=4,", 1)
		cases = append(cases, d)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dims := make([]int64, len(c.x))
			for i, d := range c.x {
				dims[i] = int64(d)
			}
			b, x := passtest.NewBuilder(13, floatType(dims...))
			y := c.build(b, x)
			m := b.Output(y, onnx.TensorType(onnx.Float, nil))
			orig := m.Clone()
			in := passtest.Input(c.x...)
			var rep *lowrank.Report
			ctx := passes.WithDetails(context.Background(), func(_ string, d any) { rep = d.(*lowrank.Report) })
			p, err := passes.Parse(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Run(ctx, m, passes.Config{}); err != nil {
				t.Fatal(err)
			}
			if rep == nil || len(rep.Layers) != 1 || !rep.Layers[0].Split || rep.Layers[0].Rank != 2 {
				t.Fatalf("expected one layer split at rank 2, report %+v", rep)
			}
			if strings.Contains(c.spec, "compare=true") {
				l := rep.Layers[0]
				if l.ErrSVD == nil || l.ErrData == nil || *l.ErrSVD > 1e-4 || *l.ErrData > 1e-4 {
					t.Fatalf("layer output errors at full rank: svd %v data %v (want both ≈ 0)", l.ErrSVD, l.ErrData)
				}
			}
			if len(m.Graph.Nodes) != 2 {
				t.Fatalf("%d nodes after the split, want 2", len(m.Graph.Nodes))
			}
			orig0 := orig.Graph.Nodes[0].Name
			for _, n := range m.Graph.Nodes {
				if !strings.HasPrefix(n.Name, orig0) {
					t.Errorf("node %q does not keep the layer's name %q as prefix", n.Name, orig0)
				}
			}
			if err := m.Check(); err != nil {
				t.Fatalf("invalid model: %v", err)
			}
			want := passtest.Eval(t, orig, in)
			got := passtest.Eval(t, m, in)
			if msg := testutil.Mismatch(got, want, 1e-4, 1e-4, 1e-5); msg != "" {
				t.Fatalf("interpreter: %s", msg)
			}
			if strings.HasSuffix(c.name, "/data") {
				// The same nodes and attributes as the plain case's, other
				// weights: the plain case's ORT run covers the structure.
				return
			}
			t.Run("ort", func(t *testing.T) {
				if m.Opset("") < 7 {
					t.Skip("ONNX Runtime has no kernels for opset < 7 (Gemm-6): the original does not run there either")
				}
				passtest.SameInORT(t, m, in, got, 1e-4, 1e-4, 1e-5)
			})
		})
	}
}

// TestBadOptions: energy outside (0,1], a ratio no split can reach, and a
// weight that is not constant give a clear error or a reported skip, and
// the model is left as it was.
func TestBadOptions(t *testing.T) {
	build := func() *onnx.Model {
		b, x := passtest.NewBuilder(13, floatType(4, 64))
		h := b.Op("MatMul", nil, x, weight(b, "W1", []int64{64, 64}, randVec(64*64, 1)))
		h = b.Op("Relu", nil, h)
		y := b.Op("MatMul", nil, h, weight(b, "W2", []int64{64, 8}, randVec(64*8, 2)))
		return b.Output(y, floatType(4, 8))
	}
	for _, c := range []struct{ spec, want string }{
		{"lowrank(energy=0)", "energy=0: must be in (0, 1]"},
		{"lowrank(energy=1.5)", "energy=1.5: must be in (0, 1]"},
		{"lowrank(energy=-0.2)", "must be in (0, 1]"},
		{"lowrank(ratio=1.2)", "ratio=1.2: must be in (0, 1)"},
		{"lowrank(ratio=0.01)", "ratio=0.01 is out of reach"},
		{"lowrank(ratio=0.3,min_rank=40)", "is out of reach"},
		{"lowrank(min_rank=0)", "min_rank=0"},
		{"lowrank(method=data,max_memory=0)", "max_memory=0: must be at least 1 byte"},
	} {
		t.Run(c.spec, func(t *testing.T) {
			m := build()
			before := len(m.Graph.Nodes)
			params := stats.Params(m)
			p, err := passes.Parse(c.spec)
			if err == nil {
				_, err = p.Run(context.Background(), m, passes.Config{})
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if len(m.Graph.Nodes) != before || stats.Params(m) != params {
				t.Fatalf("the model changed on a failed run: %d → %d nodes", before, len(m.Graph.Nodes))
			}
		})
	}
	t.Run("weight not constant", func(t *testing.T) {
		b, x := passtest.NewBuilder(13, floatType(4, 64))
		w := b.G.AddInput("w", floatType(64, 64))
		y := b.Op("MatMul", nil, x, w)
		m := b.Output(y, floatType(4, 64))
		var rep *lowrank.Report
		ctx := passes.WithDetails(context.Background(), func(_ string, d any) { rep = d.(*lowrank.Report) })
		p, _ := passes.Parse("lowrank(energy=0.5)")
		var log strings.Builder
		n, err := p.Run(ctx, m, passes.Config{Log: &log})
		if err != nil || n[0].Rewrites != 0 {
			t.Fatalf("err %v, rewrites %+v", err, n)
		}
		if rep == nil || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].Reason, "not a constant") ||
			!strings.Contains(log.String(), "not a constant") {
			t.Fatalf("no skip reported: %+v, log %q", rep, log.String())
		}
	})
}

// TestMNISTMLPHalfParams is issue 16's first acceptance line at full size
// (2,000 held-out digits, fast on the dynamic-batch model): the MLP with
// half its parameters, data-aware, loses at most half a point of top-1.
func TestMNISTMLPHalfParams(t *testing.T) {
	models := testdata.Models(t)
	data := filepath.Join(models, "mnist-data")
	m := loadModel(t, filepath.Join(models, "mnist_mlp_op13_dynbatch", "model.onnx"))
	base := passtest.Top1(t, m, filepath.Join(data, "mlp-eval"))
	params := stats.Params(m)
	rep, _ := runSpec(t, m, "lowrank(ratio=0.5,method=data,calib="+filepath.Join(data, "mlp-calib")+")")
	after := passtest.Top1(t, m, filepath.Join(data, "mlp-eval"))
	t.Logf("MNIST MLP: params %d → %d (%.3f), top-1 %.4f → %.4f (drop %.2f pt), %d layers split",
		params, stats.Params(m), float64(stats.Params(m))/float64(params), base, after, 100*(base-after), splitCount(rep))
	testutil.AtMost(t, "parameters after / before", float64(stats.Params(m))/float64(params), 0.5)
	testutil.AtLeast(t, "float top-1 (README: 0.948)", base, 0.945)
	testutil.AtMost(t, "top-1 drop", base-after, 0.005)
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
