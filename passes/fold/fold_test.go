package fold_test

import (
	"testing"

	"github.com/onnxslim/onnxslim/internal/stats"
	"github.com/onnxslim/onnxslim/onnx"
	_ "github.com/onnxslim/onnxslim/passes/all"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

var x1255 = onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 2, 5, 5))

func conv(b *passtest.Builder, x *onnx.Value, bias bool) *onnx.Value {
	w := b.G.AddInitializer("w", onnx.NewFloatTensor("", []int64{2, 2, 3, 3}, []float32{
		1, 0, -1, 2, 0, -2, 1, 0, -1, 0.5, 0.5, 0.5, 0, 0, 0, -0.5, -0.5, -0.5,
		0, 1, 0, 1, -4, 1, 0, 1, 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
	}))
	in := []*onnx.Value{x, w}
	if bias {
		in = append(in, b.Vec(0.25, -0.75))
	}
	return b.Op("Conv", []*onnx.Attribute{onnx.IntsAttr("pads", []int64{1, 1, 1, 1})}, in...)
}

// Each case builds a graph, runs "fold,cleanup" and checks the ops left;
// passtest.Run checks the outputs are unchanged.
func TestFold(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  string
		build func(b *passtest.Builder, x *onnx.Value) *onnx.Value
		want  map[string]int
	}{
		{"batchnorm into conv", "fold,cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			y := conv(b, x, true)
			return b.Op("BatchNormalization", nil, y, b.Vec(1.5, 0.5), b.Vec(0.1, -0.2), b.Vec(0.3, 0.4), b.Vec(2, 0.5))
		}, map[string]int{"Conv": 1}},
		{"batchnorm into conv without bias", "fold,cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			y := conv(b, x, false)
			return b.Op("BatchNormalization", nil, y, b.Vec(1.5, 0.5), b.Vec(0.1, -0.2), b.Vec(0.3, 0.4), b.Vec(2, 0.5))
		}, map[string]int{"Conv": 1}},
		{"batchnorm into conv transpose", "fold,cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// ConvTranspose weights are C_in × C_out/group × k × k: the
			// output channels are axis 1.
			w := b.G.AddInitializer("wt", onnx.NewFloatTensor("", []int64{2, 3, 2, 2}, []float32{
				1, -1, 0.5, 2, 0, 1, -0.5, 0.25, 3, -2, 1, 0.1,
				0.2, 0.4, -0.6, 0.8, 1, -1, 2, -2, 0.3, 0.3, -0.3, 0.7,
			}))
			y := b.Op("ConvTranspose", []*onnx.Attribute{onnx.IntsAttr("strides", []int64{2, 2})}, x, w, b.Vec(0.5, -0.5, 1))
			return b.Op("BatchNormalization", nil, y, b.Vec(1.5, 0.5, -2), b.Vec(0.1, -0.2, 0.3), b.Vec(0.3, 0.4, -0.1), b.Vec(2, 0.5, 1))
		}, map[string]int{"ConvTranspose": 1}},
		{"batchnorm after gemm into gemm", "fold,cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			f := b.Op("Flatten", nil, x) // [1, 50]
			w := make([]float32, 3*50)
			for i := range w {
				w[i] = float32(i%7)*0.1 - 0.3
			}
			wt := b.G.AddInitializer("wg", onnx.NewFloatTensor("", []int64{3, 50}, w))
			y := b.Op("Gemm", []*onnx.Attribute{onnx.IntAttr("transB", 1)}, f, wt, b.Vec(0.5, -0.5, 1))
			return b.Op("BatchNormalization", nil, y, b.Vec(1.5, 0.5, -2), b.Vec(0.1, -0.2, 0.3), b.Vec(0.3, 0.4, -0.1), b.Vec(2, 0.5, 1))
		}, map[string]int{"Flatten": 1, "Gemm": 1}},
		{"batchnorm into grouped conv transpose", "fold,cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// group 2: weights 2 × 2 × 2 × 2, output channel of input
			// channel ci and column j is (ci/1)·2 + j, four in all.
			w := make([]float32, 16)
			for i := range w {
				w[i] = float32(i%5)*0.3 - 0.6
			}
			wt := b.G.AddInitializer("wtg", onnx.NewFloatTensor("", []int64{2, 2, 2, 2}, w))
			y := b.Op("ConvTranspose", []*onnx.Attribute{onnx.IntAttr("group", 2)}, x, wt)
			return b.Op("BatchNormalization", nil, y, b.Vec(1.5, 0.5, -2, 3), b.Vec(0.1, -0.2, 0.3, 0), b.Vec(0.3, 0.4, -0.1, 1), b.Vec(2, 0.5, 1, 4))
		}, map[string]int{"ConvTranspose": 1}},
		{"batchnorm after gemm (weights not transposed) into gemm", "fold,cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			f := b.Op("Flatten", nil, x) // [1, 50]
			w := make([]float32, 50*3)
			for i := range w {
				w[i] = float32(i%11)*0.05 - 0.25
			}
			wt := b.G.AddInitializer("wn", onnx.NewFloatTensor("", []int64{50, 3}, w))
			y := b.Op("Gemm", nil, f, wt)
			return b.Op("BatchNormalization", nil, y, b.Vec(1.5, 0.5, -2), b.Vec(0.1, -0.2, 0.3), b.Vec(0.3, 0.4, -0.1), b.Vec(2, 0.5, 1))
		}, map[string]int{"Flatten": 1, "Gemm": 1}},
		{"training-mode batchnorm (its statistics outputs listed) stays", "fold,cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// Before opset 14, listing them is training mode: the batch's
			// statistics, not the constants, normalise it.
			n := b.G.NewNode("BatchNormalization", "", "bn", []*onnx.Value{conv(b, x, true), b.Vec(1.5, 0.5), b.Vec(0.1, -0.2), b.Vec(0.3, 0.4), b.Vec(2, 0.5)},
				"y", "running_mean", "running_var", "saved_mean", "saved_inv_std")
			b.G.Append(n)
			return n.Output(0)
		}, map[string]int{"Conv": 1, "BatchNormalization": 1}},
		{"per-channel mul and add into conv", "fold,cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			k := b.G.AddInitializer("k", onnx.NewFloatTensor("", []int64{2, 1, 1}, []float32{3, -2}))
			c := b.G.AddInitializer("c", onnx.NewFloatTensor("", []int64{1, 2, 1, 1}, []float32{1, 2}))
			return b.Op("Add", nil, b.Op("Mul", nil, conv(b, x, true), k), c)
		}, map[string]int{"Conv": 1}},
		{"a mul that is not per channel stays", "fold,cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			k := b.G.AddInitializer("k", onnx.NewFloatTensor("", []int64{5}, []float32{1, 2, 3, 4, 5}))
			return b.Op("Mul", nil, conv(b, x, true), k)
		}, map[string]int{"Conv": 1, "Mul": 1}},
		{"shape chain folds under static shapes", "fold,cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			s := b.Op("Shape", nil, x)
			n := b.Op("Gather", nil, s, b.G.AddInitializer("zero", onnx.NewInt64Tensor("", nil, []int64{0})))
			shape := b.Op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, b.Op("Unsqueeze", nil, n, b.Ints(0)), b.Ints(-1))
			return b.Op("Reshape", nil, x, shape)
		}, map[string]int{"Reshape": 1}},
		{"constant subgraph folds", "fold,cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			k := b.Op("Sqrt", nil, b.Op("Add", nil, b.Scalar(3), b.Scalar(1)))
			return b.Op("Mul", nil, x, k)
		}, map[string]int{"Mul": 1}},
		{"the size budget keeps a large constant unfolded", "fold(max_bytes=1024),cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			big := b.Op("ConstantOfShape", nil, b.Ints(1, 2, 5, 5, 100))
			return b.Op("Add", nil, b.Op("Unsqueeze", nil, x, b.Ints(4)), big)
		}, map[string]int{"ConstantOfShape": 1, "Unsqueeze": 1, "Add": 1}},
		// Transposing a 200-byte constant holds 200 bytes in and 2×200 out.
		{"the memory budget keeps a fold that needs more unfolded", "fold(max_memory=599),cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Add", nil, x, transposed(b))
		}, map[string]int{"Transpose": 1, "Add": 1}},
		{"a fold within the memory budget happens", "fold(max_memory=600),cleanup", func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			return b.Op("Add", nil, x, transposed(b))
		}, map[string]int{"Add": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, x := passtest.NewBuilder(13, x1255)
			m := b.Output(tc.build(b, x), nil)
			m = passtest.Run(t, m, tc.spec, passtest.Input(1, 2, 5, 5))
			got := passtest.Ops(m)
			if len(got) != len(tc.want) {
				t.Errorf("ops %v, want %v", got, tc.want)
				return
			}
			for op, n := range tc.want {
				if got[op] != n {
					t.Errorf("ops %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestFoldSymbolic: a model with symbolic dims (batch, height, width) still
// folds what is static in it — shape arithmetic over its static dims,
// MatMul + Add or BatchNormalization into Gemm on a dynamic batch, and
// ops by a neutral constant (x-0, x·1, x/1, 0+x) — as ONNX Runtime's basic
// level does.
func TestFoldSymbolic(t *testing.T) {
	dyn := onnx.TensorType(onnx.Float, onnx.Shape{onnx.Sym("N"), onnx.D(3), onnx.Sym("H"), onnx.Sym("W")})
	dyn2 := onnx.TensorType(onnx.Float, onnx.Shape{onnx.Sym("N"), onnx.D(3), onnx.D(4), onnx.D(4)})
	weights := func(b *passtest.Builder, k, n int64) *onnx.Value {
		w := make([]float32, k*n)
		for i := range w {
			w[i] = float32(i%5)*0.2 - 0.4
		}
		return b.G.AddInitializer("w", onnx.NewFloatTensor("", []int64{k, n}, w))
	}
	for _, tc := range []struct {
		name  string
		in    *onnx.Type
		build func(b *passtest.Builder, x *onnx.Value) *onnx.Value
		want  map[string]int
	}{
		{"Shape, Slice of static dims, Concat", dyn, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			s := b.Op("Slice", nil, b.Op("Shape", nil, x), b.Ints(1), b.Ints(2))
			shape := b.Op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, b.Ints(-1), s)
			return b.Op("Reshape", nil, x, shape)
		}, map[string]int{"Reshape": 1}},
		{"Shape, Gather of a static dim", dyn, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			c := b.Op("Gather", nil, b.Op("Shape", nil, x), b.G.AddInitializer("one", onnx.NewInt64Tensor("", nil, []int64{1})))
			shape := b.Op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, b.Ints(-1), b.Op("Unsqueeze", nil, c, b.Ints(0)))
			return b.Op("Reshape", nil, x, shape)
		}, map[string]int{"Reshape": 1}},
		{"Shape, Slice[1:] with static trailing dims", dyn2, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			s := b.Op("Slice", nil, b.Op("Shape", nil, x), b.Ints(1), b.Ints(1<<40))
			shape := b.Op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, b.Ints(-1), s)
			return b.Op("Reshape", nil, x, shape)
		}, map[string]int{"Reshape": 1}},
		{"Reshape to the symbolic batch and a constant: -1", dyn2, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// PaddleOCR's classifier: Shape → Cast → Slice[0:1] → Cast → Concat [N, 48].
			s := b.Op("Cast", []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Int32))}, b.Op("Shape", nil, x))
			n := b.Op("Cast", []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Int64))}, b.Op("Slice", nil, s, b.Ints(0), b.Ints(1)))
			shape := b.Op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, n, b.Ints(48))
			return b.Op("Reshape", nil, x, shape)
		}, map[string]int{"Reshape": 1}},
		{"Reshape to its own symbolic dims in place: 0s", dyn, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			shape := b.Op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, b.Op("Slice", nil, b.Op("Shape", nil, x), b.Ints(0), b.Ints(1)), b.Ints(3), b.Op("Slice", nil, b.Op("Shape", nil, x), b.Ints(2), b.Ints(4)))
			return b.Op("Reshape", nil, x, shape)
		}, map[string]int{"Reshape": 1}},
		{"Reshape merging heads, dims from another value: 0s and -1", dyn, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// [N,3,H,W] → [N,H,3,W] → [N, H, 3·W], the sizes taken from x.
			y := b.Op("Transpose", []*onnx.Attribute{onnx.IntsAttr("perm", []int64{0, 2, 1, 3})}, x)
			dim := func(i int64) *onnx.Value {
				g := b.Op("Gather", nil, b.Op("Shape", nil, x), b.G.AddInitializer("", onnx.NewInt64Tensor("", nil, []int64{i})))
				return b.Op("Unsqueeze", nil, g, b.Ints(0))
			}
			shape := b.Op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, dim(0), dim(2), b.Ints(-1))
			return b.Op("Reshape", nil, y, shape)
		}, map[string]int{"Transpose": 1, "Reshape": 1}},
		{"Reshape with two symbolic dims out of place keeps its shape arithmetic", dyn, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			// [N,3,H,W] → [N,3,W,H]: H and W swap places, two unknowns.
			shape := b.Op("Concat", []*onnx.Attribute{onnx.IntAttr("axis", 0)}, b.Op("Slice", nil, b.Op("Shape", nil, x), b.Ints(0), b.Ints(2)), b.Op("Slice", nil, b.Op("Shape", nil, x), b.Ints(3), b.Ints(4)), b.Op("Slice", nil, b.Op("Shape", nil, x), b.Ints(2), b.Ints(3)))
			return b.Op("Reshape", nil, x, shape)
		}, map[string]int{"Reshape": 1, "Concat": 1, "Slice": 3, "Shape": 1}},
		{"MatMul and Add on a dynamic batch", dyn2, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			f := b.Op("Flatten", nil, x) // [N, 48]
			return b.Op("Add", nil, b.Op("MatMul", nil, f, weights(b, 48, 5)), b.Vec(1, 2, 3, 4, 5))
		}, map[string]int{"Flatten": 1, "Gemm": 1}},
		{"MatMul and BatchNormalization", dyn2, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			y := b.Op("MatMul", nil, b.Op("Flatten", nil, x), weights(b, 48, 3))
			return b.Op("BatchNormalization", nil, y, b.Vec(1.5, 0.5, -2), b.Vec(0.1, -0.2, 0.3), b.Vec(0.3, 0.4, -0.1), b.Vec(2, 0.5, 1))
		}, map[string]int{"Flatten": 1, "Gemm": 1}},
		{"neutral constants", dyn, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			y := b.Op("Sub", nil, b.Op("Relu", nil, x), b.Scalar(0))
			y = b.Op("Mul", nil, b.Scalar(1), y)
			y = b.Op("Div", nil, y, b.G.AddInitializer("ones", onnx.NewFloatTensor("", []int64{1, 1}, []float32{1, 1}[:1])))
			return b.Op("Add", nil, y, b.Vec(0))
		}, map[string]int{"Relu": 1}},
		{"a neutral constant that broadcasts stays", dyn, func(b *passtest.Builder, x *onnx.Value) *onnx.Value {
			zeros := b.G.AddInitializer("z5", onnx.NewFloatTensor("", []int64{1, 1, 1, 1, 2}, []float32{0, 0}))
			return b.Op("Add", nil, b.Op("Unsqueeze", nil, x, b.Ints(4)), zeros)
		}, map[string]int{"Unsqueeze": 1, "Add": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, x := passtest.NewBuilder(13, tc.in)
			m := b.Output(tc.build(b, x), nil)
			m = passtest.Run(t, m, "default", passtest.Input(2, 3, 4, 4))
			got := passtest.Ops(m)
			if len(got) != len(tc.want) {
				t.Errorf("ops %v, want %v", got, tc.want)
				return
			}
			for op, n := range tc.want {
				if got[op] != n {
					t.Errorf("ops %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// transposed is a constant of 50 float32s, [5,5,2,1], transposed to x's shape.
func transposed(b *passtest.Builder) *onnx.Value {
	w := make([]float32, 50)
	for i := range w {
		w[i] = float32(i) * 0.5
	}
	k := b.G.AddInitializer("k", onnx.NewFloatTensor("", []int64{5, 5, 2, 1}, w))
	return b.Op("Transpose", []*onnx.Attribute{onnx.IntsAttr("perm", []int64{3, 2, 1, 0})}, k)
}

// TestFoldKeepsQuantizedWeights: the lossless pipeline on a quantized model
// (QDQ int8 weights, int4 weight-only, a DequantizeLinear'd int32 bias)
// leaves every DequantizeLinear of a constant in place, however small: the
// weights stay quantized and the model does not grow.
func TestFoldKeepsQuantizedWeights(t *testing.T) {
	for _, tc := range []struct {
		name string
		dt   onnx.DataType
	}{{"int8", onnx.Int8}, {"uint8", onnx.Uint8}, {"int4", onnx.Int4}} {
		t.Run(tc.name, func(t *testing.T) {
			b, x := passtest.NewBuilder(21, x1255)
			q := make([]byte, 2*2*3*3)
			for i := range q {
				q[i] = byte(i * 7 % 5) // small values, valid in every type
			}
			if tc.dt == onnx.Int4 { // two 4-bit values a byte
				q = q[:len(q)/2]
			}
			w := b.G.AddInitializer("wq", onnx.NewTensor("", tc.dt, []int64{2, 2, 3, 3}, q))
			scale := b.G.AddInitializer("ws", onnx.NewFloatTensor("", nil, []float32{0.05}))
			dq := b.Op("DequantizeLinear", nil, w, scale)
			bq := b.G.AddInitializer("bq", &onnx.Tensor{DataType: onnx.Int32, Dims: []int64{2}, Int32s: []int32{3, -4}})
			bias := b.Op("DequantizeLinear", nil, bq, b.G.AddInitializer("bs", onnx.NewFloatTensor("", nil, []float32{0.01})))
			y := b.Op("Conv", []*onnx.Attribute{onnx.IntsAttr("pads", []int64{1, 1, 1, 1})}, x, dq, bias)
			m := b.Output(y, nil)
			bytes := stats.Bytes(m)
			out := passtest.Run(t, m, "default", passtest.Input(1, 2, 5, 5))
			if got := passtest.Ops(out)["DequantizeLinear"]; got != 2 {
				t.Errorf("%d DequantizeLinear left, want 2 (ops %v)", got, passtest.Ops(out))
			}
			if after := stats.Bytes(out); after > bytes {
				t.Errorf("initializers grew from %d to %d bytes", bytes, after)
			}
		})
	}
}
