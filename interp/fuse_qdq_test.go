package interp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// qdqConvModel builds Q(x) → DQ → Conv(DQ(int8 w, per-channel scale), bias)
// → [Clip] → Q → DQ, the pattern quantize writes, with activations of type
// act (uint8 or int8); depthwise (group = cin = cout) when dw, with
// dilation dil. It returns the model and the output's scale.
func qdqConvModel(r *rand.Rand, act onnx.DataType, cin, cout, k, stride, pad, dil int, dw, clip bool) (*onnx.Model, float32) {
	g := &onnx.Graph{Name: "qdq"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.Shape{onnx.D(1), onnx.D(int64(cin)), onnx.D(13), onnx.D(11)}))
	zpT := func(name string, v int) *onnx.Value {
		t := &onnx.Tensor{DataType: act, Raw: []byte{byte(v)}}
		return g.AddInitializer(name, t)
	}
	sc := func(name string, v float32) *onnx.Value {
		return g.AddInitializer(name, onnx.NewFloatTensor("", nil, []float32{v}))
	}
	xz := 128
	yz := 3
	if act == onnx.Int8 {
		xz, yz = 0, 0xfd // int8 -3
	}
	node := func(op string, in []*onnx.Value, out string) *onnx.Node {
		n := g.NewNode(op, "", op+"_"+out, in, out)
		g.Append(n)
		return n
	}
	q := node("QuantizeLinear", []*onnx.Value{x, sc("xs", 0.02), zpT("xz", xz)}, "xq")
	dx := node("DequantizeLinear", []*onnx.Value{q.Output(0), sc("xs2", 0.02), zpT("xz2", xz)}, "xd")
	wcin := cin
	if dw {
		wcin = 1
	}
	w := make([]byte, cout*wcin*k*k)
	for i := range w {
		w[i] = byte(r.IntN(256))
		if r.IntN(10) == 0 {
			w[i] = []byte{0x80, 0x7f}[r.IntN(2)]
		}
	}
	ws := make([]float32, cout)
	bias := make([]float32, cout)
	for i := range ws {
		ws[i] = 0.001 + 0.004*r.Float32()
		bias[i] = float32(r.NormFloat64())
	}
	wq := g.AddInitializer("wq", &onnx.Tensor{DataType: onnx.Int8, Dims: []int64{int64(cout), int64(wcin), int64(k), int64(k)}, Raw: w})
	dwq := node("DequantizeLinear", []*onnx.Value{wq, g.AddInitializer("ws", onnx.NewFloatTensor("", []int64{int64(cout)}, ws))}, "wd")
	dwq.SetAttr(onnx.IntAttr("axis", 0))
	conv := node("Conv", []*onnx.Value{dx.Output(0), dwq.Output(0), g.AddInitializer("b", onnx.NewFloatTensor("", []int64{int64(cout)}, bias))}, "y")
	conv.SetAttr(onnx.IntsAttr("kernel_shape", []int64{int64(k), int64(k)}))
	conv.SetAttr(onnx.IntsAttr("strides", []int64{int64(stride), int64(stride)}))
	conv.SetAttr(onnx.IntsAttr("pads", []int64{int64(pad), int64(pad), int64(pad), int64(pad)}))
	conv.SetAttr(onnx.IntsAttr("dilations", []int64{int64(dil), int64(dil)}))
	if dw {
		conv.SetAttr(onnx.IntAttr("group", int64(cin)))
	}
	cur := conv.Output(0)
	if clip {
		cur = node("Clip", []*onnx.Value{cur, sc("lo", 0), sc("hi", 6)}, "yc").Output(0)
	}
	const ys = 0.002
	qy := node("QuantizeLinear", []*onnx.Value{cur, sc("ys", ys), zpT("yz", yz)}, "yq")
	dy := node("DequantizeLinear", []*onnx.Value{qy.Output(0), sc("ys2", ys), zpT("yz2", yz)}, "out")
	g.Outputs = append(g.Outputs, dy.Output(0))
	dy.Output(0).Type = onnx.TensorType(onnx.Float, nil)
	return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}, ys
}

// TestFastQDQWithinOneStep runs made-up QDQ convolutions with and without
// FastQDQ: the fusion must take place (the Conv reads the quantized input)
// and every output must be within one quantization step of the float path.
func TestFastQDQWithinOneStep(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		act                            onnx.DataType
		cin, cout, k, stride, pad, dil int
		dw, clip                       bool
	}{
		{onnx.Uint8, 3, 32, 3, 2, 1, 1, false, true},
		{onnx.Uint8, 24, 40, 1, 1, 0, 1, false, false},
		{onnx.Int8, 16, 9, 3, 1, 1, 1, false, true},
		{onnx.Int8, 70, 33, 1, 1, 0, 1, false, false},
		{onnx.Uint8, 8, 1100, 1, 1, 0, 1, false, true}, // column chunks of 64
		// Depthwise: the direct 3×3 kernels (stride 1, 2) and the general one.
		{onnx.Uint8, 12, 12, 3, 1, 1, 1, true, true},
		{onnx.Int8, 7, 7, 3, 2, 1, 1, true, false},
		{onnx.Uint8, 5, 5, 5, 2, 2, 1, true, false},
		{onnx.Int8, 6, 6, 3, 1, 2, 2, true, true},
		{onnx.Uint8, 4, 4, 2, 3, 0, 1, true, true},
	} {
		name := fmt.Sprintf("%v_c%d_m%d_k%d_s%d_d%d_dw%v_clip%v", tc.act, tc.cin, tc.cout, tc.k, tc.stride, tc.dil, tc.dw, tc.clip)
		t.Run(name, func(t *testing.T) {
			m, ys := qdqConvModel(r, tc.act, tc.cin, tc.cout, tc.k, tc.stride, tc.pad, tc.dil, tc.dw, tc.clip)
			x := make([]float32, tc.cin*13*11)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 1.5)
			}
			in := map[string]*Tensor{"x": FromSlice(onnx.Float, []int{1, tc.cin, 13, 11}, x)}
			var outs [2][]float32
			for k, fast := range []bool{false, true} {
				s, err := NewSession(m, Options{Threads: 1, FastQDQ: fast})
				if err != nil {
					t.Fatal(err)
				}
				if fast {
					conv := -1
					for i, st := range s.main.steps {
						if st.node.OpType == "Conv" {
							conv = i
						}
					}
					if conv < 0 || s.main.steps[conv].in[0] != s.main.slots[m.Graph.ValueByName("xq")] {
						t.Fatal("FastQDQ did not fuse the convolution")
					}
				}
				o, err := s.Run(in)
				if err != nil {
					t.Fatal(err)
				}
				outs[k] = o[0].Floats()
			}
			diffs := 0
			for i, v := range outs[0] {
				d := math.Abs(float64(outs[1][i] - v))
				if math.IsNaN(d) || d > float64(ys)*1.001 {
					t.Fatalf("output %d: fast %v, float path %v: more than one step (%v) apart", i, outs[1][i], v, ys)
				}
				if d > 0 {
					diffs++
				}
			}
			t.Logf("%d of %d outputs one step apart", diffs, len(outs[0]))
		})
	}
}
