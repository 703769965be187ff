package unfuse_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
	_ "github.com/onnxslim/onnxslim/passes/unfuse"
)

const ms = "com.microsoft"

// contribModel is one node reading graph input x (float32 of shape xs)
// and seeded random float32 initializers of the given shapes (nil: an
// absent input), at ai.onnx opset opset.
func contribModel(opset int64, domain, op string, attrs []*onnx.Attribute, xs []int64, weights ...[]int64) *onnx.Model {
	r := rand.New(rand.NewPCG(1, uint64(len(weights))))
	g := &onnx.Graph{Name: op}
	ins := []*onnx.Value{g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(xs...)))}
	for i, w := range weights {
		if w == nil {
			ins = append(ins, nil)
			continue
		}
		n := 1
		for _, d := range w {
			n *= int(d)
		}
		v := make([]float32, n)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		ins = append(ins, g.AddInitializer(fmt.Sprint("w", i), onnx.NewFloatTensor("", w, v)))
	}
	n := g.NewNode(op, domain, op, ins, "y")
	n.Attrs = attrs
	g.Append(n)
	g.Outputs = append(g.Outputs, n.Output(0))
	ops := []onnx.OpsetID{{Version: opset}, {Domain: ms, Version: 1}, {Domain: "com.microsoft.nchwc", Version: 1}}
	return &onnx.Model{IRVersion: 8, Opsets: ops, Graph: g}
}

// TestUnfuseOps rewrites each contrib op at opsets 13 and 20 (so both the
// definitions and the standard Gelu/LayerNormalization ops are used) and
// checks that no contrib op is left and the interpreter's outputs agree
// with its kernel of the contrib op (checked against ONNX Runtime in
// package interp).
func TestUnfuseOps(t *testing.T) {
	f, i, s := onnx.FloatAttr, onnx.IntAttr, onnx.StringAttr
	fs := func(n string, v ...float32) *onnx.Attribute { return onnx.FloatsAttr(n, v) }
	conv := []*onnx.Attribute{onnx.IntsAttr("pads", []int64{1, 1, 1, 1})}
	cases := []struct {
		name, domain, op string
		attrs            []*onnx.Attribute
		xs               []int64
		weights          [][]int64
	}{
		{"FusedConv Relu", ms, "FusedConv", append(conv, s("activation", "Relu")), []int64{1, 4, 6, 5}, [][]int64{{8, 4, 3, 3}, {8}}},
		{"FusedConv Clip", ms, "FusedConv", append(conv, s("activation", "Clip"), fs("activation_params", -0.5, 0.5)), []int64{1, 4, 6, 5}, [][]int64{{8, 4, 3, 3}, {8}}},
		{"FusedConv LeakyRelu Z", ms, "FusedConv", append(conv, s("activation", "LeakyRelu"), fs("activation_params", 0.2)), []int64{1, 4, 6, 5}, [][]int64{{8, 4, 3, 3}, {8}, {1, 8, 6, 5}}},
		{"FusedConv HardSigmoid", ms, "FusedConv", append(conv, s("activation", "HardSigmoid"), fs("activation_params", 0.3, 0.4)), []int64{1, 4, 6, 5}, [][]int64{{8, 4, 3, 3}, nil}},
		{"FusedGemm Tanh", ms, "FusedGemm", []*onnx.Attribute{i("transB", 1), f("alpha", 0.5), s("activation", "Tanh")}, []int64{3, 10}, [][]int64{{7, 10}, {7}}},
		{"FusedGemm LeakyRelu", ms, "FusedGemm", []*onnx.Attribute{s("activation", "LeakyRelu"), f("activation_alpha", 0.1)}, []int64{3, 10}, [][]int64{{10, 7}, {7}}},
		{"FusedMatMul transB alpha", ms, "FusedMatMul", []*onnx.Attribute{i("transB", 1), f("alpha", 0.125)}, []int64{2, 3, 5, 8}, [][]int64{{2, 3, 7, 8}}},
		{"FusedMatMul transBatchA transA", ms, "FusedMatMul", []*onnx.Attribute{i("transBatchA", 1), i("transA", 1)}, []int64{8, 2, 3, 5}, [][]int64{{2, 3, 8, 4}}},
		{"Gelu", ms, "Gelu", nil, []int64{3, 40}, nil},
		{"FastGelu", ms, "FastGelu", nil, []int64{3, 40}, [][]int64{{40}}},
		{"BiasGelu", ms, "BiasGelu", nil, []int64{3, 40}, [][]int64{{40}}},
		{"QuickGelu", ms, "QuickGelu", []*onnx.Attribute{f("alpha", 1.5)}, []int64{3, 40}, nil},
		{"SkipLayerNormalization", ms, "SkipLayerNormalization", []*onnx.Attribute{f("epsilon", 1e-5)}, []int64{2, 5, 16}, [][]int64{{2, 5, 16}, {16}, {16}, {16}}},
		{"SkipLayerNormalization no beta", ms, "SkipLayerNormalization", nil, []int64{2, 5, 16}, [][]int64{{5, 16}, {16}}},
		{"SkipSimplifiedLayerNormalization", ms, "SkipSimplifiedLayerNormalization", []*onnx.Attribute{f("epsilon", 1e-6)}, []int64{2, 5, 16}, [][]int64{{2, 5, 16}, {16}, {16}}},
		{"SimplifiedLayerNormalization axis 1", "", "SimplifiedLayerNormalization", []*onnx.Attribute{i("axis", 1)}, []int64{3, 4, 8}, [][]int64{{4, 8}}},
		{"LayerNormalization axis -2", "", "LayerNormalization", []*onnx.Attribute{i("axis", -2)}, []int64{3, 4, 8}, [][]int64{{4, 8}, {4, 8}}},
	}
	for _, c := range cases {
		for _, opset := range []int64{13, 20} {
			t.Run(fmt.Sprintf("%s/opset%d", c.name, opset), func(t *testing.T) {
				m := contribModel(opset, c.domain, c.op, c.attrs, c.xs, c.weights...)
				xs := make([]int, len(c.xs))
				for j, d := range c.xs {
					xs[j] = int(d)
				}
				m = passtest.Run(t, m, "unfuse", passtest.Input(xs...))
				for _, n := range m.Graph.Nodes {
					if n.Domain != "" || n.OpType == "SimplifiedLayerNormalization" || n.OpType == "LayerNormalization" && opset < 17 {
						t.Errorf("%s::%s left", n.Domain, n.OpType)
					}
				}
				for _, o := range m.Opsets {
					if o.Domain != "" && !(c.op == "LayerNormalization" && opset >= 17) { // nothing to rewrite
						t.Errorf("opset import %q (unused) kept", o.Domain)
					}
				}
			})
		}
	}
}

// TestUnfuseLeavesWhatItCannot: a float16 node stays, the model stays
// valid, and the note says why.
func TestUnfuseLeavesWhatItCannot(t *testing.T) {
	m := contribModel(13, ms, "QuickGelu", nil, []int64{4})
	m.Graph.Inputs[0].Type = onnx.TensorType(onnx.Float16, onnx.ShapeOf(4))
	p, err := passes.Parse("unfuse")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), m, passes.Config{}); err != nil {
		t.Fatal(err)
	}
	if n := m.Graph.Nodes; len(n) != 1 || n[0].OpType != "QuickGelu" {
		t.Fatalf("nodes %v, want the QuickGelu alone", n)
	}
}

// TestUnfuseORTOptimizedModels: models as ONNX Runtime's optimizer saves
// them (level extended) come out of unfuse with standard ops only; ONNX's
// checker accepts them, and ONNX Runtime (optimizations off) computes on
// them what it computes on the originals.
func TestUnfuseORTOptimizedModels(t *testing.T) {
	ort.Require(t)
	shared := testdata.Models(t)
	paths := []string{
		filepath.Join(shared, "transformer_op14", "model.onnx"),
		filepath.Join(shared, "mobilenet_v2_op13", "model.onnx"),
		filepath.Join(testdata.RealModels(t), "fp_age.onnx"),
	}
	for _, path := range paths {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			opt, _, inDir, want := ort.Optimized(t, path, "extended", 3, nil)
			before := countContrib(opt)
			p, err := passes.Parse("unfuse")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Run(context.Background(), opt, passes.Config{}); err != nil {
				t.Fatal(err)
			}
			if left := countContrib(opt); before == 0 || left != 0 {
				t.Fatalf("contrib ops: %d before, %d after unfuse", before, left)
			}
			outPath := filepath.Join(t.TempDir(), "unfused.onnx")
			if err := onnx.Save(opt, outPath, onnx.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			testutil.CheckONNX(t, outPath)
			got := ort.Run(t, outPath, inDir, "--optimize", "disabled")
			for i := range want {
				wt, _ := interp.FromONNX(want[i])
				gt, _ := interp.FromONNX(got[i])
				wf, err1 := interp.AsFloat32(wt)
				gf, err2 := interp.AsFloat32(gt)
				if err1 != nil || err2 != nil || len(wf) != len(gf) {
					t.Fatalf("output %d: %v %v, %d vs %d elements", i, err1, err2, len(gf), len(wf))
				}
				var scale, worst float64
				for j := range wf {
					scale = max(scale, math.Abs(float64(wf[j])))
					if d := math.Abs(float64(gf[j] - wf[j])); !(d <= worst) {
						worst = d
					}
				}
				if !(worst <= 1e-4*scale+1e-5) {
					t.Errorf("output %d: max |Δ| %.3g, max |y| %.3g", i, worst, scale)
				}
			}
		})
	}
}

// countContrib counts the nodes of ONNX Runtime's domain and the
// default-domain ops the standard lacks at the model's opset.
func countContrib(m *onnx.Model) int {
	n := 0
	for _, g := range m.Graphs() {
		for _, nd := range g.Nodes {
			if nd.Domain == ms || nd.OpType == "SimplifiedLayerNormalization" || nd.OpType == "LayerNormalization" && m.Opset("") < 17 {
				n++
			}
		}
	}
	return n
}

// nbitsModel is a MatMulNBits (4 bits) reading x [3, k] at opset opset,
// with seeded random packed weights and scales, zero points when zp.
func nbitsModel(opset int64, k, n, bs int, zp, bias bool) *onnx.Model {
	r := rand.New(rand.NewPCG(uint64(k), uint64(n)))
	blocks := (k + bs - 1) / bs
	g := &onnx.Graph{Name: "nbits"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(3, int64(k))))
	b := make([]byte, n*blocks*bs/2)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	sc := make([]float32, n*blocks)
	for i := range sc {
		sc[i] = 0.01 + r.Float32()*0.1
	}
	ins := []*onnx.Value{x,
		g.AddInitializer("B", onnx.NewTensor("", onnx.Uint8, []int64{int64(n), int64(blocks), int64(bs / 2)}, b)),
		g.AddInitializer("scales", onnx.NewFloatTensor("", []int64{int64(n * blocks)}, sc))}
	if zp || bias {
		var z *onnx.Value
		if zp {
			zb := make([]byte, n*((blocks+1)/2))
			for i := range zb {
				zb[i] = byte(r.IntN(256))
			}
			z = g.AddInitializer("zp", onnx.NewTensor("", onnx.Uint8, []int64{int64(len(zb))}, zb))
		}
		ins = append(ins, z)
	}
	if bias {
		bv := make([]float32, n)
		for i := range bv {
			bv[i] = r.Float32()
		}
		ins = append(ins, nil, g.AddInitializer("bias", onnx.NewFloatTensor("", []int64{int64(n)}, bv)))
	}
	nd := g.NewNode("MatMulNBits", ms, "mm", ins, "y")
	nd.Attrs = []*onnx.Attribute{onnx.IntAttr("K", int64(k)), onnx.IntAttr("N", int64(n)), onnx.IntAttr("bits", 4), onnx.IntAttr("block_size", int64(bs))}
	g.Append(nd)
	g.Outputs = append(g.Outputs, nd.Output(0))
	return &onnx.Model{IRVersion: 10, Opsets: []onnx.OpsetID{{Version: opset}, {Domain: ms, Version: 1}}, Graph: g}
}

// TestUnfuseMatMulNBits: at opset 21 a 4-bit MatMulNBits becomes a uint4
// DequantizeLinear blocked along K and a MatMul (+ bias) that computes the
// same (the interpreter runs both; its MatMulNBits is checked against ORT
// in package interp), K a multiple of the block size or not, with and
// without zero points; its packed weight goes; below opset 21 it stays.
func TestUnfuseMatMulNBits(t *testing.T) {
	for _, c := range []struct {
		k, n, bs int
		zp, bias bool
	}{{64, 6, 16, true, false}, {40, 5, 16, false, true}, {100, 7, 32, true, true}} {
		m := passtest.Run(t, nbitsModel(21, c.k, c.n, c.bs, c.zp, c.bias), "unfuse", passtest.Input(3, c.k))
		ops := passtest.Ops(m)
		if ops["MatMulNBits"] != 0 || ops["DequantizeLinear"] != 1 || ops["MatMul"] != 1 {
			t.Errorf("%+v: ops %v", c, ops)
		}
		for _, v := range m.Graph.Initializers {
			if v.Name == "B" || v.Name == "scales" {
				t.Errorf("%+v: the packed initializer %s is left", c, v.Name)
			}
		}
	}
	m := passtest.Run(t, nbitsModel(17, 64, 6, 16, true, false), "unfuse", passtest.Input(3, 64))
	if ops := passtest.Ops(m); ops["MatMulNBits"] != 1 {
		t.Errorf("opset 17: ops %v, want MatMulNBits kept", ops)
	}
	// ONNX Runtime reads the standard form and computes what its own
	// MatMulNBits does.
	ort.Require(t)
	orig := nbitsModel(21, 100, 7, 32, true, true)
	unf := passtest.Run(t, nbitsModel(21, 100, 7, 32, true, true), "unfuse", passtest.Input(3, 100))
	in := ort.WriteInputs(t, []string{"x"}, []*interp.Tensor{passtest.Input(3, 100)})
	var outs [][]*onnx.Tensor
	for i, mm := range []*onnx.Model{orig, unf} {
		path := filepath.Join(t.TempDir(), fmt.Sprint(i, ".onnx"))
		if err := onnx.Save(mm, path, onnx.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, ort.Run(t, path, in, "--optimize", "disabled"))
	}
	if msg := testutil.MismatchTensor(outs[1][0], outs[0][0], 1e-5, 1e-5, -1); msg != "" {
		t.Errorf("ONNX Runtime on the unfused model: %s", msg)
	}
}
