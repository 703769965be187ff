package verify

import (
	"bytes"
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestPerturb: each weight value moves by -1, 0 or +1 ulp, about a third
// each way; NaN stays NaN; the same seed gives the same bytes, read made
// and kept (Data) or made afresh (ReadInto, a large model's runs); the
// original is unchanged; a tensor read by a non-noisy op is left alone.
func TestPerturb(t *testing.T) {
	const n = 30000
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(i-n/2) * 0.37
	}
	w[0], w[1], w[2], w[3] = float32(math.NaN()), float32(math.Inf(1)), 0, float32(math.Copysign(0, -1))
	for i := 4; i < 64; i++ { // ±FLT_MAX: never to ±Inf
		w[i] = float32(math.Copysign(math.MaxFloat32, float64(i%2*2-1)))
	}
	g := &onnx.Graph{Name: "g"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}}, Graph: g}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(n)))
	wv := g.AddInitializer("w", onnx.NewFloatTensor("w", []int64{n}, w))
	steer := g.AddInitializer("s", onnx.NewFloatTensor("s", []int64{1}, []float32{2}))
	add := g.NewNode("Add", "", "add", []*onnx.Value{x, wv}, "y")
	g.Append(add)
	pow := g.NewNode("Pow", "", "pow", []*onnx.Value{add.Output(0), steer}, "z")
	g.Append(pow)
	g.Outputs = append(g.Outputs, pow.Output(0))
	orig := append([]byte(nil), wv.Const.Raw...)

	p, moved := Perturb(m, 7)
	if moved != n {
		t.Fatalf("moved %d values, want %d", moved, n)
	}
	pw := p.Graph.Initializers[0].Const
	fresh, err := pw.ReadInto(make([]byte, 4*n))
	if err != nil {
		t.Fatal(err)
	}
	if !pw.IsLazy() {
		t.Fatal("ReadInto kept the perturbed weight")
	}
	made, err := pw.Data()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Perturb(m, 7)
	if b, _ := again.Graph.Initializers[0].Const.Data(); !bytes.Equal(made, fresh) || !bytes.Equal(made, b) {
		t.Fatal("the same seed gave other bytes")
	}
	if !bytes.Equal(wv.Const.Raw, orig) || p.Graph.Initializers[1].Const.IsLazy() || !bytes.Equal(p.Graph.Initializers[1].Const.Raw, steer.Const.Raw) {
		t.Fatal("the original changed, or Pow's exponent was perturbed")
	}
	var down, same, up int
	for i, v := range onnx.Float32View(made) {
		a := w[i]
		switch {
		case math.IsNaN(float64(a)):
			if !math.IsNaN(float64(v)) {
				t.Fatalf("NaN became %v", v)
			}
			same++
		case math.IsInf(float64(v), 0) && !math.IsInf(float64(a), 0):
			t.Fatalf("w[%d] = %v became %v", i, a, v)
		case v == a && math.Signbit(float64(v)) == math.Signbit(float64(a)):
			same++
		case v == math.Nextafter32(a, float32(math.Inf(-1))):
			down++
		case v == math.Nextafter32(a, float32(math.Inf(1))):
			up++
		default:
			t.Fatalf("w[%d] = %v became %v: more than one ulp", i, a, v)
		}
	}
	for _, c := range []int{down, same, up} {
		if c < n*30/100 || c > n*37/100 {
			t.Errorf("moved down %d, kept %d, up %d of %d: not a third each", down, same, up, n)
			break
		}
	}
}

// TestUlpStep: ulpStep is math.Nextafter32 towards ±Inf on every class of
// float32: zeros, subnormals, normals, the largest, infinities, NaNs.
func TestUlpStep(t *testing.T) {
	for _, u := range []uint32{0, 1, 2, 0x007fffff, 0x00800000, 0x3f800000, 0x7f7fffff, 0x7f800000, 0x7fc00000, 0x7f800001} {
		for _, b := range []uint32{u, u | 0x80000000} {
			x := math.Float32frombits(b)
			for _, up := range []bool{false, true} {
				want := math.Nextafter32(x, float32(math.Inf(-1)))
				if up {
					want = math.Nextafter32(x, float32(math.Inf(1)))
				}
				got := math.Float32frombits(ulpStep(b, up))
				if math.Float32bits(got) != math.Float32bits(want) && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
					t.Errorf("ulpStep(%#x, up=%v) = %#x, want %#x", b, up, math.Float32bits(got), math.Float32bits(want))
				}
			}
		}
	}
}

// TestNoiseFloorOfMaskedScores: a BERT export's additive attention mask,
// (1 − float(mask))·(−FLT_MAX) added to the scores, has a noise floor of
// float32 rounding. Moving its scalars (the 1 left ±6e-8 by the Sub, so
// ±2e31 added to every score; −FLT_MAX to −Inf, so 0·Inf = NaN) gave
// floors of 4e-3 and +Inf, within which anything passed.
func TestNoiseFloorOfMaskedScores(t *testing.T) {
	const n = 8
	g := &onnx.Graph{Name: "g"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}}, Graph: g}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(2, n)))
	mask := g.AddInput("attention_mask", onnx.TensorType(onnx.Int64, onnx.ShapeOf(2, n)))
	w := make([]float32, n*n)
	for i := range w {
		w[i] = float32(i%7-3) * 0.31
	}
	wv := g.AddInitializer("w", onnx.NewFloatTensor("w", []int64{n, n}, w))
	one := g.AddInitializer("one", onnx.NewFloatTensor("one", nil, []float32{1}))
	low := g.AddInitializer("low", onnx.NewFloatTensor("low", nil, []float32{-math.MaxFloat32}))
	add := func(op string, in ...*onnx.Value) *onnx.Value {
		nd := g.NewNode(op, "", op, in, op+"_out")
		g.Append(nd)
		return nd.Output(0)
	}
	cast := g.NewNode("Cast", "", "cast", []*onnx.Value{mask}, "maskf")
	cast.SetAttr(onnx.IntAttr("to", int64(onnx.Float)))
	g.Append(cast)
	bias := add("Mul", add("Sub", one, cast.Output(0)), low)
	y := add("Softmax", add("Add", add("MatMul", x, wv), bias))
	g.Outputs = append(g.Outputs, y)

	rep, err := Compare(m, m, Options{Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	o := rep.Outputs[0]
	if o.Noise == nil {
		t.Fatal("no noise floor measured")
	}
	if f := float64(o.Noise.RelL2); !(f > 0 && f < 1e-5) || !finite(o.Noise.MaxAbs) {
		t.Fatalf("noise floor %+v: want float32 rounding (0 < rel L2 < 1e-5)", *o.Noise)
	}
}

// TestUnknownNoiseFloor: an output whose perturbed copy is not finite
// where the reference is (x/(a−b) with a one ulp above b: a perturbed copy
// makes some a−b zero) has no floor, so the fixed tolerance decides; an
// infinite floor would pass anything.
func TestUnknownNoiseFloor(t *testing.T) {
	const n = 64
	g := &onnx.Graph{Name: "g"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}}, Graph: g}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(n)))
	av, bv := make([]float32, n), make([]float32, n)
	for i := range av {
		bv[i] = 1 + float32(i)/n
		av[i] = math.Nextafter32(bv[i], 2)
	}
	a := g.AddInitializer("a", onnx.NewFloatTensor("a", []int64{n}, av))
	b := g.AddInitializer("b", onnx.NewFloatTensor("b", []int64{n}, bv))
	sub := g.NewNode("Sub", "", "sub", []*onnx.Value{a, b}, "d")
	g.Append(sub)
	div := g.NewNode("Div", "", "div", []*onnx.Value{x, sub.Output(0)}, "y")
	g.Append(div)
	g.Outputs = append(g.Outputs, div.Output(0))
	rep, err := Compare(m, m, Options{Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Outputs[0].Noise; f != nil {
		t.Fatalf("floor %+v measured from a perturbed copy that is not finite", *f)
	}
}
