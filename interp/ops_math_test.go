package interp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// runOp builds op at opset with attrs and runs it on in.
func runOp(t *testing.T, op string, opset int64, attrs []*onnx.Attribute, in ...*Tensor) *Tensor {
	t.Helper()
	bld, _, ok := Lookup("", op, opset)
	if !ok {
		t.Fatalf("%s-%d is not registered", op, opset)
	}
	k, err := bld(&Build{Node: &onnx.Node{OpType: op, Attrs: attrs}, Opset: opset})
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	out, err := k(testCtx(), in)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return out[0]
}

func TestElementwiseKernels(t *testing.T) {
	nan := float32(math.NaN())
	i32 := func(v ...int32) *Tensor { return FromSlice(onnx.Int32, []int{len(v)}, v) }
	f32 := func(v ...float32) *Tensor { return FromSlice(onnx.Float, []int{len(v)}, v) }
	cases := []struct {
		name string
		got  *Tensor
		want string
	}{
		{"Mod python", runOp(t, "Mod", 13, nil, i32(-4, 7, 5, 3), i32(3, -3, 0, 2)), "[2 -2 0 1]"},
		{"Mod fmod", runOp(t, "Mod", 13, []*onnx.Attribute{onnx.IntAttr("fmod", 1)}, f32(-4.5, 7), f32(2, -3)), "[-0.5 1]"},
		{"Pow int^float", runOp(t, "Pow", 15, nil, i32(2, 3), f32(0.5, 2)), "[1 9]"},
		{"Pow float^int", runOp(t, "Pow", 15, nil, f32(2, 3), FromSlice(onnx.Int64, []int{1}, []int64{3})), "[8 27]"},
		{"Pow int64", runOp(t, "Pow", 15, nil, FromSlice(onnx.Int64, []int{1}, []int64{3}), FromSlice(onnx.Int64, []int{1}, []int64{39})), "[4052555153018976267]"},
		{"Min NaN", runOp(t, "Min", 13, nil, f32(1, nan), f32(nan, 2), f32(0, 5)), "[NaN NaN]"},
		{"Max uint8", runOp(t, "Max", 13, nil, FromSlice(onnx.Uint8, []int{2}, []uint8{1, 200}), FromSlice(onnx.Uint8, []int{1}, []uint8{100})), "[100 200]"},
		{"Sum broadcast", runOp(t, "Sum", 13, nil, f32(1, 2), FromSlice(onnx.Float, []int{2, 1}, []float32{10, 20})), "[11 12 21 22]"},
		{"Mean", runOp(t, "Mean", 13, nil, f32(1, 2), f32(2, 4), f32(3, 0)), "[2 2]"},
		{"Clip min>max", runOp(t, "Clip", 13, nil, f32(-1, 5, nan), f32(3), f32(2)), "[2 2 NaN]"},
		{"Clip int8 max only", runOp(t, "Clip", 13, nil, FromSlice(onnx.Int8, []int{2}, []int8{-100, 100}), nil, FromSlice(onnx.Int8, []int{}, []int8{10})), "[-100 10]"},
		{"Clip-6", runOp(t, "Clip", 6, []*onnx.Attribute{onnx.FloatAttr("min", -1)}, f32(-2, 3)), "[-1 3]"},
		{"BitShift", runOp(t, "BitShift", 11, []*onnx.Attribute{onnx.StringAttr("direction", "LEFT")}, FromSlice(onnx.Uint8, []int{2}, []uint8{1, 255}), FromSlice(onnx.Uint8, []int{2}, []uint8{7, 1})), "[128 254]"},
		{"Less NaN", runOp(t, "Less", 13, nil, f32(1, nan), f32(2, 1)), "[true false]"},
		{"Equal string", runOp(t, "Equal", 19, nil, FromSlice(onnx.String, []int{2}, []string{"a", "b"}), FromSlice(onnx.String, []int{1}, []string{"b"})), "[false true]"},
		{"Where 3-way", runOp(t, "Where", 16, nil, FromSlice(onnx.Bool, []int{2, 1}, []bool{true, false}), FromSlice(onnx.String, []int{2}, []string{"x0", "x1"}), FromSlice(onnx.String, []int{}, []string{"y"})), "[x0 x1 y y]"},
		{"PRelu legacy channel", runOp(t, "PRelu", 6, nil, FromSlice(onnx.Float, []int{1, 2, 2}, []float32{-1, -1, -1, 1}), f32(2, 3)), "[-2 -2 -3 1]"},
		{"Round half even", runOp(t, "Round", 22, nil, f32(0.5, 1.5, 2.5, -2.5)), "[0 2 2 -2]"},
		{"IsInf negative only", runOp(t, "IsInf", 20, []*onnx.Attribute{onnx.IntAttr("detect_positive", 0)}, f32(float32(math.Inf(1)), float32(math.Inf(-1)), nan)), "[false true false]"},
		{"Sign int", runOp(t, "Sign", 13, nil, i32(-7, 0, 3)), "[-1 0 1]"},
		{"Pow-1 legacy axis", runOp(t, "Pow", 1, []*onnx.Attribute{onnx.IntAttr("broadcast", 1), onnx.IntAttr("axis", 0)}, FromSlice(onnx.Float, []int{2, 2}, []float32{2, 2, 3, 3}), f32(1, 2)), "[2 2 9 9]"},
		{"BitwiseNot", runOp(t, "BitwiseNot", 18, nil, FromSlice(onnx.Uint16, []int{1}, []uint16{1})), "[65534]"},
	}
	for _, c := range cases {
		if got := fmt.Sprint(c.got.Data); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
	if got := runOp(t, "Neg", 13, nil, FromSlice(onnx.Float16, []int{1}, []uint16{Float32ToFloat16(1.5)})); got.Data.([]uint16)[0] != Float32ToFloat16(-1.5) {
		t.Errorf("Neg float16: got %#04x", got.Data.([]uint16)[0])
	}
}

func BenchmarkElementwise(b *testing.B) {
	x := Make(onnx.Float, 1<<20)
	for i, xs := 0, x.Floats(); i < len(xs); i++ {
		xs[i] = float32(i%200) - 100
	}
	for _, op := range []string{"Relu", "Sigmoid", "Tanh", "Exp"} {
		bld, _, _ := Lookup("", op, 13)
		k, _ := bld(&Build{Node: &onnx.Node{OpType: op}, Opset: 13})
		b.Run(op, func(b *testing.B) {
			for range b.N {
				if _, err := k(testCtx(), []*Tensor{x}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Cast float→float16", func(b *testing.B) {
		for range b.N {
			if _, err := CastTensor(testCtx(), x, onnx.Float16, DefaultCastOptions); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestMaxMinConstantBits checks Max and Min of float32 against a
// one-element tensor (max32c, min32c: Go's branch-free max and min where
// they agree) against nanMax and nanMin bit for bit, for constants and
// inputs that include ±0, ±Inf and NaN.
func TestMaxMinConstantBits(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	x := append(append([]float32{}, special...), -3, 2.5, 7)
	for _, c := range special {
		for _, op := range []struct {
			name string
			vec  func(z, x []float32, c float32)
			ref  func(x, y float32) float32
		}{{"Max", max32c, nanMax[float32]}, {"Min", min32c, nanMin[float32]}} {
			z := make([]float32, len(x))
			op.vec(z, x, c)
			for i, v := range x {
				want := op.ref(v, c)
				if math.Float32bits(z[i]) != math.Float32bits(want) && !(z[i] != z[i] && want != want) {
					t.Errorf("%s(%v, %v) = %v, want %v", op.name, v, c, z[i], want)
				}
			}
		}
	}
}

// TestPowCubeMatchesMathPow checks Pow's x³ path against math.Pow bit for
// bit over float32's range: NaN, ±Inf, ±0, subnormals, huge values.
func TestPowCubeMatchesMathPow(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	x := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32, 1e13, -2e12, 1.5, -3}
	for len(x) < 20000 {
		x = append(x, math.Float32frombits(rng.Uint32()))
	}
	got := runOp(t, "Pow", 15, nil, FromSlice(onnx.Float, []int{len(x)}, x), FromSlice(onnx.Float, []int{}, []float32{3})).Floats()
	for i, v := range x {
		want := float32(math.Pow(float64(v), 3))
		if math.Float32bits(got[i]) != math.Float32bits(want) && !(want != want && got[i] != got[i]) {
			t.Fatalf("Pow(%v (%#x), 3) = %v, math.Pow gives %v", v, math.Float32bits(v), got[i], want)
		}
	}
}

// TestUnaryVecBits checks the float32 loops of Abs, Neg, Sqrt,
// Reciprocal, Floor, Ceil and Round against their float64 functions
// rounded to float32, bit for bit, over 20000 float32 bit patterns
// (NaN, ±Inf, ±0, subnormals and halves included).
func TestUnaryVecBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	x := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 0.5, -0.5, 1.5, 2.5, -2.5, 1e-45, -1e-40}
	for len(x) < 20000 {
		x = append(x, math.Float32frombits(rng.Uint32()), float32(rng.NormFloat64()*4))
	}
	for _, c := range []struct {
		op string
		f  func(float64) float64
	}{
		{"Abs", math.Abs}, {"Neg", func(v float64) float64 { return -v }}, {"Sqrt", math.Sqrt},
		{"Reciprocal", func(v float64) float64 { return 1 / v }}, {"Floor", math.Floor}, {"Ceil", math.Ceil}, {"Round", math.RoundToEven},
	} {
		got := runOp(t, c.op, 13, nil, FromSlice(onnx.Float, []int{len(x)}, x)).Floats()
		for i, v := range x {
			want := float32(c.f(float64(v)))
			if math.Float32bits(got[i]) != math.Float32bits(want) && !(got[i] != got[i] && want != want) {
				t.Fatalf("%s(%v %#x) = %v %#x, want %v %#x", c.op, v, math.Float32bits(v), got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
			}
		}
	}
}
