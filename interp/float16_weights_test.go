package interp

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestFloat16ConstWeights runs float16 Conv, MatMul and Gemm with constant
// weights, which the kernels convert to float32 once and keep, twice on
// different inputs, and checks each run against a session that converts
// them every run (NoPrepack): a stale or wrong kept conversion shows on
// the second run.
func TestFloat16ConstWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	half := func(shape ...int64) *onnx.Tensor {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		var raw []byte
		for range n {
			raw = binary.LittleEndian.AppendUint16(raw, simd.Float16(float32(r.NormFloat64())))
		}
		return &onnx.Tensor{DataType: onnx.Float16, Dims: shape, Raw: raw}
	}
	for _, tc := range []struct {
		name string
		x    []int
		op   func(g *onnx.Graph, x *onnx.Value) *onnx.Node
	}{
		{"Conv", []int{1, 4, 9, 9}, func(g *onnx.Graph, x *onnx.Value) *onnx.Node {
			n := g.NewNode("Conv", "", "c", []*onnx.Value{x, g.AddInitializer("w", half(6, 4, 3, 3))}, "y")
			n.SetAttr(onnx.IntsAttr("pads", []int64{1, 1, 1, 1}))
			return n
		}},
		{"MatMul", []int{3, 7, 16}, func(g *onnx.Graph, x *onnx.Value) *onnx.Node {
			return g.NewNode("MatMul", "", "m", []*onnx.Value{x, g.AddInitializer("w", half(16, 5))}, "y")
		}},
		{"Gemm", []int{7, 16}, func(g *onnx.Graph, x *onnx.Value) *onnx.Node {
			n := g.NewNode("Gemm", "", "g", []*onnx.Value{x, g.AddInitializer("w", half(5, 16))}, "y")
			n.SetAttr(onnx.IntAttr("transB", 1))
			return n
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &onnx.Graph{Name: tc.name}
			dims := make(onnx.Shape, len(tc.x))
			for i, d := range tc.x {
				dims[i] = onnx.D(int64(d))
			}
			x := g.AddInput("x", onnx.TensorType(onnx.Float16, dims))
			n := tc.op(g, x)
			g.Append(n)
			y := n.Output(0)
			y.Type = onnx.TensorType(onnx.Float16, nil)
			g.Outputs = append(g.Outputs, y)
			m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}}, Graph: g}
			kept, err := NewSession(m, Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			each, err := NewSession(m, Options{Threads: 1, NoPrepack: true})
			if err != nil {
				t.Fatal(err)
			}
			for run := 0; run < 2; run++ {
				in := Make(onnx.Float16, tc.x...)
				for i := range in.Data.([]uint16) {
					in.Data.([]uint16)[i] = simd.Float16(float32(r.NormFloat64()))
				}
				a, err := kept.Run(map[string]*Tensor{"x": in})
				if err != nil {
					t.Fatal(err)
				}
				b, err := each.Run(map[string]*Tensor{"x": in})
				if err != nil {
					t.Fatal(err)
				}
				if a[0].DType != onnx.Float16 {
					t.Fatalf("output type %s, want float16", a[0].DType)
				}
				av, _ := AsFloat32(a[0])
				bv, _ := AsFloat32(b[0])
				if len(av) != len(bv) || len(av) == 0 {
					t.Fatalf("run %d: %d outputs against %d", run, len(av), len(bv))
				}
				for i := range av {
					if d := math.Abs(float64(av[i] - bv[i])); !(d <= 2e-3*(1+math.Abs(float64(bv[i])))) {
						t.Fatalf("run %d: output %d is %v with kept weights, %v converted each run", run, i, av[i], bv[i])
					}
				}
			}
		})
	}
}

// TestFloat16WeightTiles: under NoPrepack a large float16 MatMul weight
// is widened a tile at a time (simd.SgemmRowsTiles); the result is bit for
// bit the product with the weight widened whole (SgemmFewRows, rounded to
// float16 as MatMul rounds), for 1 to 8 rows and batched A, in Run and in
// lockstep (stacked rows).
func TestFloat16WeightTiles(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const k, n = 515, 1100 // a large weight (decoded in each run), two panels wide
	wb := make([]uint16, k*n)
	var raw []byte
	for i := range wb {
		wb[i] = simd.Float16(float32(r.NormFloat64()))
		raw = binary.LittleEndian.AppendUint16(raw, wb[i])
	}
	wb[7] = 0x7e00 // NaN
	binary.LittleEndian.PutUint16(raw[14:], wb[7])
	wide := make([]float32, k*n)
	simd.FromFloat16s(wide, wb)
	g := &onnx.Graph{Name: "f16"}
	x := &onnx.Value{Name: "x", Type: onnx.TensorType(onnx.Float16, nil)}
	g.Inputs = []*onnx.Value{x}
	mm := g.NewNode("MatMul", "", "mm", []*onnx.Value{x, g.AddInitializer("w", &onnx.Tensor{DataType: onnx.Float16, Dims: []int64{k, n}, Raw: raw})}, "y")
	g.Append(mm)
	mm.Output(0).Type = onnx.TensorType(onnx.Float16, nil)
	g.Outputs = []*onnx.Value{mm.Output(0)}
	sess, err := NewSession(modelOf(t, g, 10, 17), Options{NoPrepack: true, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	feed := func(shape ...int) (map[string]*Tensor, []uint16) {
		xt := Make(onnx.Float16, shape...)
		xv := xt.Data.([]uint16)
		for i := range xv {
			xv[i] = simd.Float16(float32(r.NormFloat64()))
		}
		a := make([]float32, len(xv))
		simd.FromFloat16s(a, xv)
		rows := len(xv) / k
		c := make([]float32, rows*n)
		simd.SgemmFewRows(false, false, rows, n, k, 1, a, k, wide, n, 0, c, n, 1)
		want := make([]uint16, len(c))
		for i, v := range c {
			want[i] = simd.Float16(v)
		}
		return map[string]*Tensor{"x": xt}, want
	}
	same := func(name string, got *Tensor, want []uint16) {
		t.Helper()
		gv := got.Data.([]uint16)
		if len(gv) != len(want) {
			t.Fatalf("%s: %d outputs, want %d", name, len(gv), len(want))
		}
		for i := range want {
			if gv[i] != want[i] {
				t.Fatalf("%s: y[%d] = %#04x, want %#04x", name, i, gv[i], want[i])
			}
		}
	}
	for _, shape := range [][]int{{1, k}, {3, k}, {8, k}, {2, 2, k}} {
		fd, want := feed(shape...)
		out, err := sess.Run(fd)
		if err != nil {
			t.Fatal(err)
		}
		same(fmt.Sprint(shape), out[0], want)
	}
	var feeds []map[string]*Tensor
	var wants [][]uint16
	for range 3 {
		fd, want := feed(2, k)
		feeds, wants = append(feeds, fd), append(wants, want)
	}
	outs, err := sess.RunLockstep(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	for j := range feeds {
		same(fmt.Sprintf("lockstep feed %d", j), outs[j][0], wants[j])
	}
}
