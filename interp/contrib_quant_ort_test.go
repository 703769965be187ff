package interp_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// ONNX Runtime's quantization contrib ops (ops_contrib_quant.go), each case
// one node run here and in ONNX Runtime.

// checkQ is checkORT, then a check of the shape function: the output
// types inferred for c's model must be those the kernel returns.
func checkQ(t *testing.T, c ortNode) {
	t.Helper()
	checkORT(t, c)
	m, feeds := c.model(t)
	if _, err := interp.InferShapes(m, interp.ShapeOptions{Strict: true}); err != nil {
		t.Fatalf("%s: shape inference: %v", c.name, err)
	}
	s, err := interp.NewSession(m, interp.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(feeds)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range m.Graph.Outputs {
		want := make([]int64, len(out[i].Shape))
		for j, d := range out[i].Shape {
			want[j] = int64(d)
		}
		var dims []int64
		ok := v.Type != nil
		if ok {
			dims, ok = v.Type.Shape.Static()
		}
		if !ok || v.Type.Elem != out[i].DType || fmt.Sprint(dims) != fmt.Sprint(want) {
			t.Errorf("%s: output %d inferred as %v, computed %s", c.name, i, v.Type, out[i])
		}
	}
}

// scalesF is a seeded float32 tensor of positive scales in [lo, hi).
func scalesF(r *rand.Rand, lo, hi float32, shape ...int) *interp.Tensor {
	x := interp.Make(onnx.Float, shape...)
	for i := range x.Floats() {
		x.Floats()[i] = lo + (hi-lo)*r.Float32()
	}
	return x
}

// weightInts draws the B operand of an integer product with A of type at:
// its whole range, but for uint8×int8 on a CPU where ONNX Runtime's kernels
// saturate (ort.U8S8Saturates) int8 values within [-64, 64], so that the
// comparison checks the op rather than ORT's 16-bit clipping.
func weightInts(r *rand.Rand, at, bt onnx.DataType, shape ...int) *interp.Tensor {
	switch {
	case bt == onnx.Int8 && at == onnx.Uint8 && ort.U8S8Saturates():
		return uniformInts(r, bt, -64, 64, shape...)
	case bt == onnx.Int8:
		return uniformInts(r, bt, -128, 127, shape...)
	}
	return uniformInts(r, bt, 0, 255, shape...)
}

// toHalf converts a float32 tensor to float16.
func toHalf(t *testing.T, x *interp.Tensor) *interp.Tensor {
	t.Helper()
	y, err := interp.FromFloat32(onnx.Float16, x.Shape, x.Floats())
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func TestContribQuantMatMulNBits(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 1))
	type tc struct {
		name       string
		a          []int // A's shape; its last dimension is K
		n, bits    int
		block      int
		zp         string // "", "packed" or "float"
		gidx, bias bool
		level      int64
		half       bool
		atol, rtol float64
	}
	cases := []tc{
		{name: "4b_k32", a: []int{3, 32}, n: 8, bits: 4, block: 16},
		{name: "4b_vec", a: []int{64}, n: 5, bits: 4, block: 32, zp: "packed"},
		{name: "4b_odd_k", a: []int{5, 37}, n: 7, bits: 4, block: 16, zp: "packed", bias: true},
		{name: "4b_odd_blocks_zp", a: []int{2, 3, 80}, n: 9, bits: 4, block: 32, zp: "packed"},
		{name: "4b_batch_bias", a: []int{2, 4, 100}, n: 33, bits: 4, block: 64, bias: true},
		{name: "4b_one_row", a: []int{1, 1, 300}, n: 17, bits: 4, block: 128, zp: "packed", bias: true},
		{name: "4b_large", a: []int{19, 256}, n: 70, bits: 4, block: 32, zp: "packed"},
		{name: "4b_float_zp", a: []int{3, 48}, n: 6, bits: 4, block: 16, zp: "float"},
		{name: "4b_gidx", a: []int{4, 64}, n: 5, bits: 4, block: 16, gidx: true},
		{name: "4b_gidx_float_zp", a: []int{4, 64}, n: 5, bits: 4, block: 16, gidx: true, zp: "float", bias: true},
		// ORT ignores packed zero points with g_idx (it uses 8).
		{name: "4b_gidx_packed_zp", a: []int{3, 50}, n: 4, bits: 4, block: 16, gidx: true, zp: "packed"},
		{name: "8b", a: []int{3, 40}, n: 6, bits: 8, block: 16},
		{name: "8b_zp_bias", a: []int{2, 5, 70}, n: 11, bits: 8, block: 32, zp: "packed", bias: true},
		{name: "2b_zp", a: []int{3, 50}, n: 5, bits: 2, block: 16, zp: "packed"},
		{name: "4b_half", a: []int{3, 64}, n: 8, bits: 4, block: 32, zp: "packed", bias: true, half: true, atol: 2e-3, rtol: 2e-3},
		// ORT quantizes A to int8 per block at accuracy_level 4; the
		// interpreter stays in float32: the difference is A's
		// quantization error (about 1% of a product's magnitude).
		{name: "4b_level4", a: []int{4, 128}, n: 16, bits: 4, block: 32, zp: "packed", level: 4, atol: 0.5, rtol: 0.05},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := c.a[len(c.a)-1]
			nb := (k + c.block - 1) / c.block
			blob := c.block * c.bits / 8
			x := normal(r, c.a...)
			b := uniformInts(r, onnx.Uint8, 0, 255, c.n, nb, blob)
			s := scalesF(r, 0.01, 0.1, c.n, nb)
			var zp, g, bias *interp.Tensor
			switch c.zp {
			case "packed":
				zp = uniformInts(r, onnx.Uint8, 0, 255, c.n*((nb*c.bits+7)/8))
			case "float":
				zp = scalesF(r, 0, 15, c.n, nb)
			}
			if c.gidx {
				// Any group per row, as GPTQ's act-order writes.
				gv := make([]int32, k)
				for i := range gv {
					gv[i] = int32(r.IntN(nb))
				}
				g = interp.FromSlice(onnx.Int32, []int{k}, gv)
			}
			if c.bias {
				bias = normal(r, c.n)
			}
			if c.half {
				x, s = toHalf(t, x), toHalf(t, s)
				if bias != nil {
					bias = toHalf(t, bias)
				}
			}
			attrs := []*onnx.Attribute{
				onnx.IntAttr("K", int64(k)), onnx.IntAttr("N", int64(c.n)),
				onnx.IntAttr("bits", int64(c.bits)), onnx.IntAttr("block_size", int64(c.block)),
				onnx.IntAttr("accuracy_level", c.level),
			}
			in := []*interp.Tensor{x, b, s, zp, g, bias}
			for len(in) > 3 && in[len(in)-1] == nil {
				in = in[:len(in)-1]
			}
			// Weights are initializers, as ORT's quantizer writes them.
			checkQ(t, ortNode{name: "MatMulNBits_" + c.name, op: "MatMulNBits", domain: "com.microsoft",
				attrs: attrs, in: in, consts: 0b111110, atol: c.atol, rtol: c.rtol})
		})
	}
}

func TestContribQuantMatMulNBitsRuntimeWeights(t *testing.T) {
	// B, scales and zero points fed at run time: dequantized every run.
	r := rand.New(rand.NewPCG(7, 2))
	k, n, block := 45, 6, 16
	nb := (k + block - 1) / block
	in := []*interp.Tensor{normal(r, 3, k), uniformInts(r, onnx.Uint8, 0, 255, n, nb, block/2),
		scalesF(r, 0.01, 0.1, n, nb), uniformInts(r, onnx.Uint8, 0, 255, n*((nb+1)/2))}
	attrs := []*onnx.Attribute{onnx.IntAttr("K", int64(k)), onnx.IntAttr("N", int64(n)), onnx.IntAttr("bits", 4), onnx.IntAttr("block_size", int64(block))}
	checkQ(t, ortNode{name: "MatMulNBits_runtime", op: "MatMulNBits", domain: "com.microsoft", attrs: attrs, in: in})
}

func TestContribQuantMatMulIntegerToFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 3))
	type tc struct {
		name           string
		a, b           []int
		at, bt         onnx.DataType
		azp, bzp, bias bool
		perCol         bool // b_scale and b_zero_point per column
		bconst         bool
	}
	u8, i8 := onnx.Uint8, onnx.Int8
	cases := []tc{
		{name: "u8u8", a: []int{3, 5}, b: []int{5, 4}, at: u8, bt: u8},
		{name: "u8u8_zp", a: []int{4, 17}, b: []int{17, 9}, at: u8, bt: u8, azp: true, bzp: true, bias: true},
		{name: "u8i8_zp_col", a: []int{2, 3, 33}, b: []int{33, 7}, at: u8, bt: i8, azp: true, bzp: true, perCol: true, bias: true},
		{name: "u8i8_const_b", a: []int{5, 64}, b: []int{64, 31}, at: u8, bt: i8, azp: true, bzp: true, perCol: true, bconst: true},
		{name: "batch_b", a: []int{2, 3, 6}, b: []int{2, 6, 5}, at: u8, bt: u8, azp: true, bzp: true, perCol: true},
		{name: "vec", a: []int{10}, b: []int{10, 3}, at: u8, bt: i8, bias: true},
		{name: "i8i8", a: []int{3, 19}, b: []int{19, 8}, at: i8, bt: i8, azp: true, bzp: true, perCol: true, bias: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lo := func(dt onnx.DataType) int {
				if dt == onnx.Int8 {
					return -128
				}
				return 0
			}
			x := uniformInts(r, c.at, lo(c.at), lo(c.at)+255, c.a...)
			y := weightInts(r, c.at, c.bt, c.b...)
			n := c.b[len(c.b)-1]
			ps := []int{}
			if c.perCol {
				ps = append(append(ps, c.b[:len(c.b)-2]...), 1, n)
				if len(c.b) == 2 {
					ps = []int{n}
				}
			}
			in := []*interp.Tensor{x, y, scalesF(r, 0.01, 0.05, []int{}...), scalesF(r, 0.001, 0.01, ps...), nil, nil, nil}
			if c.azp {
				in[4] = uniformInts(r, c.at, lo(c.at), lo(c.at)+255)
			}
			if c.bzp {
				in[5] = uniformInts(r, c.bt, lo(c.bt), lo(c.bt)+255, ps...)
			}
			if c.bias {
				in[6] = normal(r, n)
			}
			for len(in) > 4 && in[len(in)-1] == nil {
				in = in[:len(in)-1]
			}
			var consts uint64
			if c.bconst {
				consts = 0b101010
			}
			checkQ(t, ortNode{name: "MatMulIntegerToFloat_" + c.name, op: "MatMulIntegerToFloat", domain: "com.microsoft", in: in, consts: consts})
		})
	}
}

func TestContribQuantDynamicQuantizeMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 4))
	type tc struct {
		name      string
		a, b      []int
		bt        onnx.DataType
		bzp, bias bool
		perCol    bool
		bconst    bool
		positive  bool // A ≥ 0: the range is widened to hold 0
		zero      bool // A all zero: scale 1
	}
	cases := []tc{
		{name: "u8", a: []int{3, 5}, b: []int{5, 4}, bt: onnx.Uint8},
		{name: "i8_bias", a: []int{4, 17}, b: []int{17, 9}, bt: onnx.Int8, bias: true},
		{name: "u8_zp_col", a: []int{2, 3, 33}, b: []int{33, 7}, bt: onnx.Uint8, bzp: true, perCol: true, bias: true},
		{name: "i8_const_col", a: []int{5, 64}, b: []int{64, 31}, bt: onnx.Int8, bzp: true, perCol: true, bconst: true, bias: true},
		{name: "batch_b", a: []int{2, 3, 6}, b: []int{2, 6, 5}, bt: onnx.Int8, bzp: true, perCol: true},
		{name: "positive", a: []int{3, 8}, b: []int{8, 4}, bt: onnx.Int8, positive: true},
		{name: "zeros", a: []int{2, 8}, b: []int{8, 3}, bt: onnx.Uint8, zero: true, bias: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := normal(r, c.a...)
			for i, v := range x.Floats() {
				switch {
				case c.zero:
					x.Floats()[i] = 0
				case c.positive:
					x.Floats()[i] = v * v
				}
			}
			lo := 0
			if c.bt == onnx.Int8 {
				lo = -128
			}
			y := weightInts(r, onnx.Uint8, c.bt, c.b...) // A is quantized to uint8
			n := c.b[len(c.b)-1]
			ps := []int{}
			if c.perCol {
				ps = append(append(ps, c.b[:len(c.b)-2]...), 1, n)
				if len(c.b) == 2 {
					ps = []int{n}
				}
			}
			in := []*interp.Tensor{x, y, scalesF(r, 0.001, 0.01, ps...), nil, nil}
			if c.bzp {
				in[3] = uniformInts(r, c.bt, lo, lo+255, ps...)
			}
			if c.bias {
				in[4] = normal(r, n)
			}
			for len(in) > 3 && in[len(in)-1] == nil {
				in = in[:len(in)-1]
			}
			var consts uint64
			if c.bconst {
				consts = 0b11110
			}
			checkQ(t, ortNode{name: "DynamicQuantizeMatMul_" + c.name, op: "DynamicQuantizeMatMul", domain: "com.microsoft", in: in, consts: consts})
		})
	}
}

func TestContribQuantQGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 5))
	type tc struct {
		name           string
		m, k, n        int
		at, bt         onnx.DataType
		transA, transB bool
		alpha          float32
		c              []int // C's shape; nil: no C
		perCol         bool
		out            string // "float" or "quant"
		bconst         bool
	}
	u8, i8 := onnx.Uint8, onnx.Int8
	cases := []tc{
		{name: "u8u8_float", m: 3, k: 5, n: 4, at: u8, bt: u8, out: "float"},
		{name: "u8i8_quant", m: 4, k: 17, n: 9, at: u8, bt: i8, out: "quant"},
		{name: "u8i8_col_c", m: 5, k: 33, n: 7, at: u8, bt: i8, perCol: true, c: []int{7}, out: "quant"},
		{name: "i8i8_trans", m: 6, k: 20, n: 11, at: i8, bt: i8, transA: true, transB: true, c: []int{6, 11}, out: "quant"},
		{name: "u8u8_transB_alpha", m: 7, k: 13, n: 3, at: u8, bt: u8, transB: true, alpha: 0.5, c: []int{6 + 1, 1}, out: "float"},
		{name: "i8i8_scalar_c_col", m: 2, k: 64, n: 40, at: i8, bt: i8, perCol: true, c: []int{}, out: "float", bconst: true},
		{name: "u8i8_const_quant", m: 9, k: 70, n: 33, at: u8, bt: i8, perCol: true, c: []int{1, 33}, out: "quant", bconst: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lo := func(dt onnx.DataType) int {
				if dt == onnx.Int8 {
					return -128
				}
				return 0
			}
			as, bs := []int{c.m, c.k}, []int{c.k, c.n}
			if c.transA {
				as = []int{c.k, c.m}
			}
			if c.transB {
				bs = []int{c.n, c.k}
			}
			ps := []int{}
			if c.perCol {
				ps = []int{c.n}
			}
			// Zero points anywhere in range for float outputs; near the
			// middle for quantized ones, whose range they would
			// otherwise overflow.
			z0, z1 := 0, 255
			if c.out == "quant" {
				z0, z1 = 118, 138
			}
			in := []*interp.Tensor{
				uniformInts(r, c.at, lo(c.at), lo(c.at)+255, as...), scalesF(r, 0.01, 0.05), uniformInts(r, c.at, lo(c.at)+z0, lo(c.at)+z1),
				weightInts(r, c.at, c.bt, bs...), scalesF(r, 0.001, 0.01, ps...), uniformInts(r, c.bt, lo(c.bt)+z0, lo(c.bt)+z1, ps...),
				nil, nil, nil,
			}
			if c.c != nil {
				in[6] = uniformInts(r, onnx.Int32, -20000, 20000, c.c...)
			}
			if c.out == "quant" {
				// y_scale spreads the products (std ≈ 74²·√K·scales)
				// over about ±50 steps: most in range, a few saturated.
				ys := in[1].Floats()[0] * in[4].Floats()[0] * 74 * 74 * float32(math.Sqrt(float64(c.k))) / 50
				if c.alpha != 0 {
					ys *= c.alpha
				}
				in[7], in[8] = interp.Scalar(onnx.Float, ys), uniformInts(r, c.at, lo(c.at)+100, lo(c.at)+150)
			}
			for len(in) > 6 && in[len(in)-1] == nil {
				in = in[:len(in)-1]
			}
			attrs := []*onnx.Attribute{}
			if c.transA {
				attrs = append(attrs, onnx.IntAttr("transA", 1))
			}
			if c.transB {
				attrs = append(attrs, onnx.IntAttr("transB", 1))
			}
			if c.alpha != 0 {
				attrs = append(attrs, onnx.FloatAttr("alpha", c.alpha))
			}
			var consts uint64
			if c.bconst {
				consts = 0b111000
			}
			checkQ(t, ortNode{name: "QGemm_" + c.name, op: "QGemm", domain: "com.microsoft", attrs: attrs, in: in, consts: consts})
		})
	}
}

// qTypeRange is the range of a quantized integer type.
func qTypeRange(dt onnx.DataType) (int, int) {
	switch dt {
	case onnx.Int8:
		return -128, 127
	case onnx.Uint8:
		return 0, 255
	case onnx.Int16:
		return -32768, 32767
	case onnx.Uint16:
		return 0, 65535
	case onnx.Int4:
		return -8, 7
	case onnx.Uint4:
		return 0, 15
	}
	panic(dt)
}

// intsOfType is a seeded tensor of dt's whole range (int4 and uint4
// built through int8 and uint8, their storage types).
func intsOfType(r *rand.Rand, dt onnx.DataType, lo, hi int, shape ...int) *interp.Tensor {
	switch dt {
	case onnx.Int4:
		x := uniformInts(r, onnx.Int8, lo, hi, shape...)
		x.DType = dt
		return x
	case onnx.Uint4:
		x := uniformInts(r, onnx.Uint8, lo, hi, shape...)
		x.DType = dt
		return x
	}
	return uniformInts(r, dt, lo, hi, shape...)
}

func TestContribQuantQuantizeLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 6))
	type tc struct {
		name  string
		shape []int
		dt    onnx.DataType
		axis  int64 // quantization axis; -9: per tensor
		nozp  bool
		half  bool // float16 input and scales
	}
	cases := []tc{
		{name: "u8_tensor", shape: []int{3, 7}, dt: onnx.Uint8, axis: -9},
		{name: "u8_no_zp", shape: []int{2, 3, 5}, dt: onnx.Uint8, axis: -9, nozp: true},
		{name: "i8_axis1", shape: []int{2, 5, 3}, dt: onnx.Int8, axis: 1},
		{name: "i8_axis_last", shape: []int{4, 6}, dt: onnx.Int8, axis: -1},
		{name: "u16_axis0", shape: []int{3, 9}, dt: onnx.Uint16, axis: 0},
		{name: "i16_tensor", shape: []int{11}, dt: onnx.Int16, axis: -9},
		{name: "u4_axis1", shape: []int{2, 3, 4}, dt: onnx.Uint4, axis: 1},
		{name: "i4_tensor", shape: []int{5, 5}, dt: onnx.Int4, axis: -9},
		{name: "u8_half", shape: []int{4, 5}, dt: onnx.Uint8, axis: 1, half: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lo, hi := qTypeRange(c.dt)
			ps := []int{}
			var attrs []*onnx.Attribute
			if c.axis != -9 {
				a := int(c.axis)
				if a < 0 {
					a += len(c.shape)
				}
				ps = []int{c.shape[a]}
				attrs = append(attrs, onnx.IntAttr("axis", c.axis))
			}
			// Scales that put x (std 1, ×4) over about ±(range/3)
			// steps: some values saturate.
			steps := float32(hi-lo) / 6
			x := normal(r, c.shape...)
			for i := range x.Floats() {
				x.Floats()[i] *= 4
			}
			s := scalesF(r, 1/steps, 2/steps, ps...)
			// Half-way values: x = (k + 0.5)·s rounds to even.
			for i := 0; i < len(x.Floats()); i += 5 {
				x.Floats()[i] = (float32(i%7) + 0.5) * s.Floats()[0]
			}
			// Zero points in the middle half of the range.
			zp := intsOfType(r, c.dt, lo+(hi-lo)/4, hi-(hi-lo)/4, ps...)
			if c.half {
				x, s = toHalf(t, x), toHalf(t, s)
			}
			in := []*interp.Tensor{x, s, zp}
			if c.nozp {
				in = in[:2]
			}
			// The runner feeds no 4-bit tensors (they are initializers)
			// and onnxruntime-node cannot return them: 4-bit types are
			// checked dequantizing only.
			var dc uint64
			if c.dt == onnx.Int4 || c.dt == onnx.Uint4 {
				dc = 0b111
			} else {
				checkQ(t, ortNode{name: "QuantizeLinear_" + c.name, op: "QuantizeLinear", domain: "com.microsoft", attrs: attrs, in: in})
			}
			dq := []*interp.Tensor{intsOfType(r, c.dt, lo, hi, c.shape...), s, zp}
			if c.nozp {
				dq = dq[:2]
			}
			checkQ(t, ortNode{name: "DequantizeLinear_" + c.name, op: "DequantizeLinear", domain: "com.microsoft", attrs: attrs, in: dq, consts: dc})
		})
	}
}

func TestContribQuantQLinearBinary(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	type tc struct {
		name  string
		a, b  []int
		dt    onnx.DataType
		small bool // C's scale small: many outputs saturate
	}
	cases := []tc{
		{name: "u8_same", a: []int{3, 7}, b: []int{3, 7}, dt: onnx.Uint8},
		{name: "i8_same", a: []int{2, 3, 5}, b: []int{2, 3, 5}, dt: onnx.Int8},
		{name: "u8_scalar_b", a: []int{4, 9}, b: []int{}, dt: onnx.Uint8},
		{name: "i8_scalar_a", a: []int{1}, b: []int{37}, dt: onnx.Int8},
		{name: "u8_bcast", a: []int{2, 1, 5}, b: []int{3, 1}, dt: onnx.Uint8},
		{name: "i8_bcast_chan", a: []int{2, 4, 3, 3}, b: []int{4, 1, 1}, dt: onnx.Int8},
		// No case omits a zero point: ORT's type inference then rejects
		// the node ("Input data type does not match").
		{name: "u8_row_bcast", a: []int{5, 6}, b: []int{6}, dt: onnx.Uint8},
		{name: "i8_saturate", a: []int{40}, b: []int{40}, dt: onnx.Int8, small: true},
		{name: "u8_long", a: []int{3, 100}, b: []int{3, 100}, dt: onnx.Uint8},
	}
	for _, op := range []string{"QLinearAdd", "QLinearMul"} {
		for _, c := range cases {
			t.Run(op+"_"+c.name, func(t *testing.T) {
				lo, hi := qTypeRange(c.dt)
				zp := func() *interp.Tensor { return uniformInts(r, c.dt, lo+64, hi-64) }
				sc := float32(0.05)
				if op == "QLinearMul" {
					sc = 0.5
				}
				if c.small {
					sc /= 10
				}
				in := []*interp.Tensor{
					uniformInts(r, c.dt, lo, hi, c.a...), scalesF(r, 0.01, 0.03), zp(),
					uniformInts(r, c.dt, lo, hi, c.b...), scalesF(r, 0.01, 0.03), zp(),
					scalesF(r, sc, 2*sc), zp(),
				}
				checkQ(t, ortNode{name: op + "_" + c.name, op: op, domain: "com.microsoft", in: in})
			})
		}
	}
}

func TestContribQuantQLinearLookup(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type tc struct {
		name  string
		shape []int
		dt    onnx.DataType
		nozp  bool
		alpha float32 // LeakyRelu's; 0: the default
	}
	cases := []tc{
		{name: "u8", shape: []int{3, 7}, dt: onnx.Uint8},
		{name: "i8", shape: []int{2, 3, 50}, dt: onnx.Int8},
		{name: "u8_no_zp", shape: []int{300}, dt: onnx.Uint8, nozp: true},
		{name: "i8_alpha", shape: []int{4, 64}, dt: onnx.Int8, alpha: 0.3},
	}
	for _, op := range []string{"QLinearSigmoid", "QLinearLeakyRelu"} {
		for _, c := range cases {
			t.Run(op+"_"+c.name, func(t *testing.T) {
				lo, hi := qTypeRange(c.dt)
				// Every input value, then random ones.
				x := uniformInts(r, c.dt, lo, hi, c.shape...)
				for i := 0; i < 256 && i < x.Len(); i++ {
					switch d := x.Data.(type) {
					case []uint8:
						d[i] = uint8(i)
					case []int8:
						d[i] = int8(i - 128)
					}
				}
				ys := float32(0.05)
				if op == "QLinearSigmoid" {
					ys = 1.0 / 256
				}
				in := []*interp.Tensor{x, scalesF(r, 0.02, 0.08), uniformInts(r, c.dt, lo+64, hi-64),
					interp.Scalar(onnx.Float, ys), uniformInts(r, c.dt, lo+64, hi-64)}
				if c.nozp {
					// Only X's: ORT's kernel aborts without Y_zero_point.
					in[2] = nil
				}
				var attrs []*onnx.Attribute
				if c.alpha != 0 && op == "QLinearLeakyRelu" {
					attrs = append(attrs, onnx.FloatAttr("alpha", c.alpha))
				}
				checkQ(t, ortNode{name: op + "_" + c.name, op: op, domain: "com.microsoft", attrs: attrs, in: in})
			})
		}
	}
}

func TestContribQuantQLinearGlobalAveragePool(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	type tc struct {
		name  string
		shape []int
		dt    onnx.DataType
		last  bool
		small bool // y_scale small: outputs saturate
	}
	cases := []tc{
		{name: "u8_nchw", shape: []int{2, 3, 5, 5}, dt: onnx.Uint8},
		{name: "i8_nchw", shape: []int{1, 8, 7, 3}, dt: onnx.Int8},
		{name: "u8_nhwc", shape: []int{2, 4, 4, 6}, dt: onnx.Uint8, last: true},
		{name: "i8_nhwc_1d", shape: []int{3, 9, 5}, dt: onnx.Int8, last: true},
		{name: "u8_3d", shape: []int{1, 2, 3, 4, 5}, dt: onnx.Uint8},
		{name: "i8_saturate", shape: []int{2, 5, 3, 3}, dt: onnx.Int8, small: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lo, hi := qTypeRange(c.dt)
			ys := float32(0.01)
			if c.small {
				ys = 0.001
			}
			in := []*interp.Tensor{uniformInts(r, c.dt, lo, hi, c.shape...), scalesF(r, 0.02, 0.04), uniformInts(r, c.dt, lo+64, hi-64),
				scalesF(r, ys, 2*ys), uniformInts(r, c.dt, lo+64, hi-64)}
			var attrs []*onnx.Attribute
			if c.last {
				attrs = append(attrs, onnx.IntAttr("channels_last", 1))
			}
			checkQ(t, ortNode{name: "QLinearGlobalAveragePool_" + c.name, op: "QLinearGlobalAveragePool", domain: "com.microsoft", attrs: attrs, in: in})
		})
	}
}

func TestContribQuantQLinearConcat(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 10))
	type tc struct {
		name   string
		shapes [][]int
		axis   int64
		dt     onnx.DataType
		same   int // how many inputs (the first ones) share Y's parameters
	}
	cases := []tc{
		{name: "u8_axis1", shapes: [][]int{{2, 3, 4}, {2, 1, 4}, {2, 5, 4}}, axis: 1, dt: onnx.Uint8},
		{name: "i8_axis0", shapes: [][]int{{1, 6}, {3, 6}}, axis: 0, dt: onnx.Int8},
		{name: "u8_last_same", shapes: [][]int{{3, 2}, {3, 7}}, axis: -1, dt: onnx.Uint8, same: 1},
		{name: "i8_all_same", shapes: [][]int{{2, 2, 3}, {2, 2, 3}}, axis: 2, dt: onnx.Int8, same: 2},
		{name: "u8_one", shapes: [][]int{{4, 5}}, axis: 1, dt: onnx.Uint8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lo, hi := qTypeRange(c.dt)
			ys, yz := scalesF(r, 0.02, 0.04), uniformInts(r, c.dt, lo+64, hi-64)
			in := []*interp.Tensor{ys, yz}
			for i, s := range c.shapes {
				// Scales up to 3× Y's: some values saturate.
				xs, xz := scalesF(r, 0.01, 0.1), uniformInts(r, c.dt, lo, hi)
				if i < c.same {
					xs, xz = ys, yz
				}
				in = append(in, uniformInts(r, c.dt, lo, hi, s...), xs, xz)
			}
			attrs := []*onnx.Attribute{onnx.IntAttr("axis", c.axis)}
			checkQ(t, ortNode{name: "QLinearConcat_" + c.name, op: "QLinearConcat", domain: "com.microsoft", attrs: attrs, in: in})
		})
	}
}
