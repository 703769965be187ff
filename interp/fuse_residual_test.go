package interp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestResidualAddExact runs Conv → [BatchNormalization] → Add → [Relu]
// with the Add fused into the Conv (the default) and unfused (the Conv's
// output also a graph output), and requires bit-identical results: the
// residual on either side of the Add, a batch of two, a residual that is
// a graph input or computed before the Conv, and residuals the epilogue
// cannot take (broadcast, or computed after the Conv), which leave the Add
// to run as it would.
func TestResidualAddExact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	floats := func(shape ...int64) *onnx.Tensor {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		f := make([]float32, n)
		for i := range f {
			f[i] = float32(r.NormFloat64())
		}
		return &onnx.Tensor{DataType: onnx.Float, Dims: shape, Floats: f}
	}
	for _, tc := range []struct {
		name   string
		batch  int64
		res    []int64 // the residual's shape, a graph input
		before bool    // the residual is a Relu computed before the Conv (else the input itself)
		after  bool    // ... computed after the Conv: not fused
		at     int     // the Conv's side of the Add
		bn     bool
		relu   bool
		fused  bool
	}{
		{name: "same", batch: 1, res: []int64{1, 6, 9, 9}, relu: true, fused: true},
		{name: "left", batch: 1, res: []int64{1, 6, 9, 9}, at: 1, bn: true, relu: true, fused: true},
		{name: "batch", batch: 2, res: []int64{2, 6, 9, 9}, bn: true, fused: true},
		{name: "computed", batch: 1, res: []int64{1, 6, 9, 9}, before: true, relu: true, fused: true},
		{name: "broadcast", batch: 2, res: []int64{1, 6, 1, 1}, at: 1, relu: true, fused: true},
		{name: "after", batch: 1, res: []int64{1, 6, 9, 9}, after: true, relu: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, b, bs, bo, mean, vr := floats(6, 6, 3, 3), floats(6), floats(6), floats(6), floats(6), floats(6)
			for i := range vr.Floats {
				vr.Floats[i] = 1 + vr.Floats[i]*vr.Floats[i] // a positive variance
			}
			build := func(plain bool) *onnx.Model {
				g := &onnx.Graph{Name: tc.name}
				x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(tc.batch, 6, 9, 9)))
				res := g.AddInput("r", onnx.TensorType(onnx.Float, onnx.ShapeOf(tc.res...)))
				if tc.before {
					n := g.NewNode("Relu", "", "pre", []*onnx.Value{res}, "rr")
					g.Append(n)
					res = n.Output(0)
				}
				conv := g.NewNode("Conv", "", "c", []*onnx.Value{x, g.AddInitializer("w", w), g.AddInitializer("b", b)}, "cy")
				conv.SetAttr(onnx.IntsAttr("pads", []int64{1, 1, 1, 1}))
				g.Append(conv)
				v := conv.Output(0)
				if plain {
					g.Outputs = append(g.Outputs, v)
				}
				if tc.bn {
					bn := g.NewNode("BatchNormalization", "", "bn", []*onnx.Value{v, g.AddInitializer("s", bs), g.AddInitializer("o", bo), g.AddInitializer("mean", mean), g.AddInitializer("var", vr)}, "bny")
					g.Append(bn)
					v = bn.Output(0)
				}
				if tc.after {
					n := g.NewNode("Relu", "", "post", []*onnx.Value{res}, "rr")
					g.Append(n)
					res = n.Output(0)
				}
				ins := []*onnx.Value{v, res}
				if tc.at == 1 {
					ins = []*onnx.Value{res, v}
				}
				add := g.NewNode("Add", "", "add", ins, "sum")
				g.Append(add)
				v = add.Output(0)
				if tc.relu {
					relu := g.NewNode("Relu", "", "relu", []*onnx.Value{v}, "y")
					g.Append(relu)
					v = relu.Output(0)
				}
				g.Outputs = append([]*onnx.Value{v}, g.Outputs...)
				return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}}, Graph: g}
			}
			feeds := map[string]*Tensor{"x": Make(onnx.Float, int(tc.batch), 6, 9, 9)}
			rs := make([]int, len(tc.res))
			for i, d := range tc.res {
				rs[i] = int(d)
			}
			feeds["r"] = Make(onnx.Float, rs...)
			for _, in := range feeds {
				f := in.Floats()
				for i := range f {
					f[i] = float32(r.NormFloat64())
				}
				f[len(f)/2] = float32(math.NaN())
			}
			var outs [2][]float32
			for k, plain := range []bool{false, true} {
				s, err := NewSession(build(plain), Options{Threads: 1})
				if err != nil {
					t.Fatal(err)
				}
				fused := false
				for _, st := range s.main.steps {
					fused = fused || st.node.OpType == "Conv" && len(st.in) == 4
				}
				if want := tc.fused && !plain; fused != want {
					t.Fatalf("plain=%v: Add fused %v, want %v", plain, fused, want)
				}
				out, err := s.Run(feeds)
				if err != nil {
					t.Fatal(err)
				}
				outs[k] = out[0].Floats()
			}
			if len(outs[0]) != len(outs[1]) {
				t.Fatalf("fused %d floats, unfused %d", len(outs[0]), len(outs[1]))
			}
			nan := 0
			for i, a := range outs[0] {
				if math.Float32bits(a) != math.Float32bits(outs[1][i]) {
					t.Fatalf("element %d: fused %v, unfused %v", i, a, outs[1][i])
				}
				if a != a {
					nan++
				}
			}
			if nan == 0 {
				t.Fatal("no NaN reached the output: the test lost its NaN input")
			}
		})
	}
}
