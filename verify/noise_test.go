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
