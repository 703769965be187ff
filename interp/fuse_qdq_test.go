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
// act (uint8 or int8) and batch images; depthwise (group = cin = cout) when dw, with
// dilation dil. It returns the model and the output's scale.
func qdqConvModel(r *rand.Rand, act onnx.DataType, batch, cin, cout, k, stride, pad, dil int, dw, clip bool) (*onnx.Model, float32) {
	g := &onnx.Graph{Name: "qdq"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.Shape{onnx.D(int64(batch)), onnx.D(int64(cin)), onnx.D(13), onnx.D(11)}))
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

// TestFastQDQWithinOneStep runs made-up QDQ convolutions on the integer
// path (the default) and the float path (FloatQDQ): the fusion must take place (the Conv reads the quantized input)
// and every output must be within one quantization step of the float path.
func TestFastQDQWithinOneStep(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for ci, tc := range []struct {
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
		batch := 1 + ci%2 // every other case two images
		name := fmt.Sprintf("%v_n%d_c%d_m%d_k%d_s%d_d%d_dw%v_clip%v", tc.act, batch, tc.cin, tc.cout, tc.k, tc.stride, tc.dil, tc.dw, tc.clip)
		t.Run(name, func(t *testing.T) {
			m, ys := qdqConvModel(r, tc.act, batch, tc.cin, tc.cout, tc.k, tc.stride, tc.pad, tc.dil, tc.dw, tc.clip)
			x := make([]float32, batch*tc.cin*13*11)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 1.5)
			}
			in := map[string]*Tensor{"x": FromSlice(onnx.Float, []int{batch, tc.cin, 13, 11}, x)}
			var outs [2][]float32
			for k, fast := range []bool{false, true} {
				s, err := NewSession(m, Options{Threads: 1, FloatQDQ: !fast})
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
						t.Fatal("the integer path did not fuse the convolution")
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

// TestFastQDQAddExact runs made-up QDQ Adds, Q(a) → DQ, Q(b) → DQ → Add →
// Q → DQ, with and without FloatQDQ, against the same graph with the Add's
// float sum also a graph output (so that nothing fuses): the fusion must
// take place where the shapes match and types agree (the Add reads the
// quantized inputs), and the outputs must be the float path's bit for bit,
// fused or not (broadcast and mixed-type inputs go through the Add's own
// kernel).
func TestFastQDQAddExact(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		name       string
		at, bt, yt onnx.DataType
		ashp, bshp []int
		fused      bool
	}{
		{"uint8", onnx.Uint8, onnx.Uint8, onnx.Uint8, []int{1, 5, 7, 9}, []int{1, 5, 7, 9}, true},
		{"int8", onnx.Int8, onnx.Int8, onnx.Int8, []int{2, 3, 17}, []int{2, 3, 17}, true},
		{"broadcast", onnx.Uint8, onnx.Uint8, onnx.Uint8, []int{1, 4, 5, 6}, []int{1, 4, 1, 1}, true},
		{"mixed", onnx.Uint8, onnx.Int8, onnx.Uint8, []int{3, 11}, []int{3, 11}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &onnx.Graph{Name: "qdqadd"}
			zp := func(name string, dt onnx.DataType, v int) *onnx.Value {
				return g.AddInitializer(name, &onnx.Tensor{DataType: dt, Raw: []byte{byte(v)}})
			}
			sc := func(name string, v float32) *onnx.Value {
				return g.AddInitializer(name, onnx.NewFloatTensor("", nil, []float32{v}))
			}
			node := func(op string, in []*onnx.Value, out string) *onnx.Node {
				n := g.NewNode(op, "", op+"_"+out, in, out)
				g.Append(n)
				return n
			}
			dims := func(s []int) onnx.Shape {
				var d onnx.Shape
				for _, v := range s {
					d = append(d, onnx.D(int64(v)))
				}
				return d
			}
			xa := g.AddInput("a", onnx.TensorType(onnx.Float, dims(tc.ashp)))
			xb := g.AddInput("b", onnx.TensorType(onnx.Float, dims(tc.bshp)))
			qa := node("QuantizeLinear", []*onnx.Value{xa, sc("as", 0.031), zp("az", tc.at, 0x83)}, "aq")
			qb := node("QuantizeLinear", []*onnx.Value{xb, sc("bs", 0.017), zp("bz", tc.bt, 0x0d)}, "bq")
			da := node("DequantizeLinear", []*onnx.Value{qa.Output(0), sc("as2", 0.031), zp("az2", tc.at, 0x83)}, "ad")
			db := node("DequantizeLinear", []*onnx.Value{qb.Output(0), sc("bs2", 0.017), zp("bz2", tc.bt, 0x0d)}, "bd")
			sum := node("Add", []*onnx.Value{da.Output(0), db.Output(0)}, "sum")
			qy := node("QuantizeLinear", []*onnx.Value{sum.Output(0), sc("ys", 0.029), zp("yz", tc.yt, 0xf0)}, "yq")
			dy := node("DequantizeLinear", []*onnx.Value{qy.Output(0), sc("ys2", 0.029), zp("yz2", tc.yt, 0xf0)}, "out")
			g.Outputs = append(g.Outputs, dy.Output(0))
			dy.Output(0).Type = onnx.TensorType(onnx.Float, nil)
			m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
			var ins map[string]*Tensor
			// The reference: the float sum read twice does not fuse.
			refOut := func() []float32 {
				g.Outputs = append(g.Outputs, sum.Output(0))
				defer func() { g.Outputs = g.Outputs[:1] }()
				s, err := NewSession(m, Options{Threads: 1})
				if err != nil {
					t.Fatal(err)
				}
				o, err := s.Run(ins)
				if err != nil {
					t.Fatal(err)
				}
				return o[0].Floats()
			}
			in := map[string]*Tensor{}
			for name, shp := range map[string][]int{"a": tc.ashp, "b": tc.bshp} {
				x := make([]float32, prod(shp))
				for i := range x {
					x[i] = float32(r.NormFloat64() * 3)
				}
				in[name] = FromSlice(onnx.Float, shp, x)
			}
			ins = in
			ref := refOut()
			var outs [2][]float32
			for k, fast := range []bool{false, true} {
				s, err := NewSession(m, Options{Threads: 1, FloatQDQ: !fast})
				if err != nil {
					t.Fatal(err)
				}
				{
					add := -1
					for i, st := range s.main.steps {
						if st.node.OpType == "Add" {
							add = i
						}
					}
					if fused := add >= 0 && s.main.steps[add].in[0] == s.main.slots[m.Graph.ValueByName("aq")]; fused != tc.fused {
						t.Fatalf("Add fused: %v, want %v", fused, tc.fused)
					}
				}
				o, err := s.Run(in)
				if err != nil {
					t.Fatal(err)
				}
				outs[k] = o[0].Floats()
			}
			for k, out := range outs {
				if len(out) != len(ref) || len(ref) == 0 {
					t.Fatalf("%d and %d outputs", len(out), len(ref))
				}
				for i, v := range ref {
					if math.Float32bits(v) != math.Float32bits(out[i]) {
						t.Fatalf("integer path %v: output %d: fused %v, float path %v", k == 1, i, out[i], v)
					}
				}
			}
		})
	}
}

// TestFastQDQGemm runs made-up QDQ Gemms, Q(x) → DQ → Gemm(·, DQ(int8 w)ᵀ,
// bias), on the integer and the float path: the fusion must take place (the Gemm
// reads x_q) and each output must be its definition on the integer sums,
// float32(Σ(x_q − zx)(w_q − zw)·(sx·sw)) + bias, bit for bit, and within
// a relative 1e-5 of the float path; per-tensor and per-row weight scales,
// uint8 and int8 activations, batches of 1 and 3, and a Gemm that must not
// fuse (transB = 0).
func TestFastQDQGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		act            onnx.DataType
		m, k, n        int
		perRow, transB bool
	}{
		{onnx.Uint8, 1, 1280, 37, true, true},
		{onnx.Int8, 3, 50, 9, false, true},
		{onnx.Uint8, 2, 33, 70, false, true},
		{onnx.Uint8, 1, 20, 8, true, false},
	} {
		t.Run(fmt.Sprintf("%v_m%d_k%d_n%d_row%v_tb%v", tc.act, tc.m, tc.k, tc.n, tc.perRow, tc.transB), func(t *testing.T) {
			g := &onnx.Graph{Name: "qdqgemm"}
			x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.Shape{onnx.D(int64(tc.m)), onnx.D(int64(tc.k))}))
			xz, xzv := 128, float32(128)
			if tc.act == onnx.Int8 {
				xz, xzv = 0xfb, -5
			}
			zp := g.AddInitializer("xz", &onnx.Tensor{DataType: tc.act, Raw: []byte{byte(xz)}})
			xs := g.AddInitializer("xs", onnx.NewFloatTensor("", nil, []float32{0.03}))
			node := func(op string, in []*onnx.Value, out string) *onnx.Node {
				n := g.NewNode(op, "", op+"_"+out, in, out)
				g.Append(n)
				return n
			}
			q := node("QuantizeLinear", []*onnx.Value{x, xs, zp}, "xq")
			dx := node("DequantizeLinear", []*onnx.Value{q.Output(0), xs, zp}, "xd")
			w := make([]byte, tc.n*tc.k)
			for i := range w {
				w[i] = byte(r.IntN(256))
				if r.IntN(10) == 0 {
					w[i] = []byte{0x80, 0x7f}[r.IntN(2)]
				}
			}
			wdims := []int64{int64(tc.n), int64(tc.k)}
			if !tc.transB {
				wdims = []int64{int64(tc.k), int64(tc.n)}
			}
			ws := []float32{0.002}
			if tc.perRow {
				ws = make([]float32, tc.n)
				for i := range ws {
					ws[i] = 0.001 + 0.004*r.Float32()
				}
			}
			bias := make([]float32, tc.n)
			for i := range bias {
				bias[i] = float32(r.NormFloat64())
			}
			wq := g.AddInitializer("wq", &onnx.Tensor{DataType: onnx.Int8, Dims: wdims, Raw: w})
			var wsv *onnx.Value
			if tc.perRow {
				wsv = g.AddInitializer("ws", onnx.NewFloatTensor("", []int64{int64(tc.n)}, ws))
			} else {
				wsv = g.AddInitializer("ws", onnx.NewFloatTensor("", nil, ws))
			}
			dw := node("DequantizeLinear", []*onnx.Value{wq, wsv}, "wd")
			if tc.transB {
				dw.SetAttr(onnx.IntAttr("axis", 0))
			} else {
				dw.SetAttr(onnx.IntAttr("axis", 1))
			}
			gemm := node("Gemm", []*onnx.Value{dx.Output(0), dw.Output(0), g.AddInitializer("b", onnx.NewFloatTensor("", []int64{int64(tc.n)}, bias))}, "y")
			if tc.transB {
				gemm.SetAttr(onnx.IntAttr("transB", 1))
			}
			g.Outputs = append(g.Outputs, gemm.Output(0))
			gemm.Output(0).Type = onnx.TensorType(onnx.Float, nil)
			m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
			xv := make([]float32, tc.m*tc.k)
			for i := range xv {
				xv[i] = float32(r.NormFloat64() * 1.5)
			}
			in := map[string]*Tensor{"x": FromSlice(onnx.Float, []int{tc.m, tc.k}, xv)}
			var outs [2][]float32
			for k, fast := range []bool{false, true} {
				s, err := NewSession(m, Options{Threads: 1, FloatQDQ: !fast})
				if err != nil {
					t.Fatal(err)
				}
				fused := false
				for _, st := range s.main.steps {
					if st.node.OpType == "Gemm" && st.in[0] == s.main.slots[m.Graph.ValueByName("xq")] {
						fused = true
					}
				}
				if fused != (fast && tc.transB) {
					t.Fatalf("integer path %v transB %v: fused = %v", fast, tc.transB, fused)
				}
				o, err := s.Run(in)
				if err != nil {
					t.Fatal(err)
				}
				outs[k] = o[0].Floats()
			}
			// The quantized x as the float path made it.
			xq := make([]float32, len(xv))
			for i, v := range xv {
				lo, hi := float32(0), float32(255)
				if tc.act == onnx.Int8 {
					lo, hi = -128, 127
				}
				xq[i] = min(max(float32(math.RoundToEven(float64(v/0.03)))+xzv, lo), hi)
			}
			for i := 0; i < tc.m; i++ {
				for j := 0; j < tc.n; j++ {
					var acc int64
					for kk := 0; kk < tc.k; kk++ {
						wi := j*tc.k + kk
						if !tc.transB {
							wi = kk*tc.n + j
						}
						acc += int64(xq[i*tc.k+kk]-xzv) * int64(int8(w[wi]))
					}
					fl := outs[0][i*tc.n+j]
					got := outs[1][i*tc.n+j]
					if tc.transB {
						want := float32(float32(acc)*(float32(0.03)*ws[min(j, len(ws)-1)])) + bias[j]
						if got != want {
							t.Fatalf("y[%d,%d] = %v, want %v (integer sum %d)", i, j, got, want, acc)
						}
					}
					if d := math.Abs(float64(got - fl)); math.IsNaN(d) || d > 1e-5*math.Max(1, math.Abs(float64(fl))) {
						t.Fatalf("y[%d,%d] = %v, float path %v", i, j, got, fl)
					}
				}
			}
		})
	}
}

// TestQDQDepthwiseExact runs made-up QDQ depthwise convolutions on the
// float path (FloatQDQ) against the same graph with the Conv's float
// output also a graph output (so that nothing fuses): the fusion must take
// place where the row stride is 1 or 2 (the Conv reads the quantized
// input), and the outputs must be the float path's bit for bit.
func TestQDQDepthwiseExact(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for ci, tc := range []struct {
		act                    onnx.DataType
		c, k, stride, pad, dil int
		clip                   bool
	}{
		{onnx.Uint8, 12, 3, 1, 1, 1, true},
		{onnx.Int8, 7, 3, 2, 1, 1, false},
		{onnx.Uint8, 5, 5, 2, 2, 1, false},
		{onnx.Int8, 6, 3, 1, 2, 2, true},
		{onnx.Uint8, 9, 3, 1, 0, 1, false},
		{onnx.Uint8, 4, 2, 3, 0, 1, true}, // row stride 3: not fused
	} {
		batch := 1 + ci%2
		t.Run(fmt.Sprintf("%v_n%d_c%d_k%d_s%d_d%d_clip%v", tc.act, batch, tc.c, tc.k, tc.stride, tc.dil, tc.clip), func(t *testing.T) {
			seed := r.Uint64()
			x := make([]float32, batch*tc.c*13*11)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 1.5)
			}
			in := map[string]*Tensor{"x": FromSlice(onnx.Float, []int{batch, tc.c, 13, 11}, x)}
			var outs [2][]float32
			for k, blocked := range []bool{false, true} {
				m, _ := qdqConvModel(rand.New(rand.NewPCG(seed, 1)), tc.act, batch, tc.c, tc.c, tc.k, tc.stride, tc.pad, tc.dil, true, tc.clip)
				if blocked {
					y := m.Graph.ValueByName("y")
					y.Type = onnx.TensorType(onnx.Float, nil)
					m.Graph.Outputs = append(m.Graph.Outputs, y)
				}
				s, err := NewSession(m, Options{Threads: 2, FloatQDQ: true})
				if err != nil {
					t.Fatal(err)
				}
				fused := false
				for _, st := range s.main.steps {
					if st.node.OpType == "Conv" && st.in[0] == s.main.slots[m.Graph.ValueByName("xq")] {
						fused = true
					}
				}
				if want := !blocked && tc.stride <= 2; fused != want {
					t.Fatalf("blocked %v: fused = %v, want %v", blocked, fused, want)
				}
				o, err := s.Run(in)
				if err != nil {
					t.Fatal(err)
				}
				outs[k] = o[0].Floats()
			}
			for i, v := range outs[1] {
				if math.Float32bits(outs[0][i]) != math.Float32bits(v) {
					t.Fatalf("output %d: fused %v, float path %v", i, outs[0][i], v)
				}
			}
		})
	}
}
