package interp

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestDQMatMulFused: under NoPrepack a MatMul by a dequantized weight —
// int4 and uint4 blocked along K (ragged last block, with and without
// zero points; read packed), int8 with a scale a column — runs fused and gives the bits
// of the unfused steps (the same model with the dequantized weight also a
// graph output, which keeps them apart): for one to eight rows (tiles),
// nine (the unfused kernels inside), batched A, in Run and in lockstep
// (stacked rows); NaN scales included.
func TestDQMatMulFused(t *testing.T) {
	r := rand.New(rand.NewPCG(47, 48))
	const k, n = 515, 1100 // over the per-run size as 4-bit (decoded in each run), two panels wide
	type layout struct {
		name    string
		dt      onnx.DataType
		block   int64 // 0: a scale a column (axis 1)
		withZP  bool
		sdims   []int64
		nscales int
	}
	nb := int64((k + 31) / 32)
	for _, l := range []layout{
		{"int4 blocked", onnx.Int4, 32, false, []int64{nb, n}, int(nb) * n},
		{"uint4 blocked, zero points", onnx.Uint4, 32, true, []int64{nb, n}, int(nb) * n},
		{"int8 per column, zero points", onnx.Int8, 0, true, []int64{n}, n},
	} {
		lo, hi, _ := quantRange(l.dt)
		q := make([]float64, k*n)
		for i := range q {
			q[i] = lo + float64(r.IntN(int(hi-lo)+1))
		}
		zs := make([]float64, l.nscales)
		for i := range zs {
			zs[i] = lo + float64(r.IntN(int(hi-lo)+1))
		}
		scales := make([]float32, l.nscales)
		for i := range scales {
			scales[i] = float32(r.ExpFloat64() / 100)
		}
		scales[3] = float32(math.NaN())
		build := func(split bool) *onnx.Model {
			g := &onnx.Graph{Name: "dqmm"}
			x := &onnx.Value{Name: "x", Type: onnx.TensorType(onnx.Float, nil)}
			g.Inputs = []*onnx.Value{x}
			in := []*onnx.Value{
				g.AddInitializer("wq", quantTensor("wq", l.dt, []int64{k, n}, q)),
				g.AddInitializer("s", onnx.NewFloatTensor("s", l.sdims, scales)),
			}
			if l.withZP {
				in = append(in, g.AddInitializer("z", quantTensor("z", l.dt, l.sdims, zs)))
			}
			dq := g.NewNode("DequantizeLinear", "", "dq", in, "w")
			dq.Attrs = []*onnx.Attribute{onnx.IntAttr("axis", map[bool]int64{true: 0, false: 1}[l.block > 0]), onnx.IntAttr("block_size", l.block)}
			g.Append(dq)
			mm := g.NewNode("MatMul", "", "mm", []*onnx.Value{x, dq.Output(0)}, "y")
			g.Append(mm)
			mm.Output(0).Type = onnx.TensorType(onnx.Float, nil)
			g.Outputs = []*onnx.Value{mm.Output(0)}
			if split {
				dq.Output(0).Type = onnx.TensorType(onnx.Float, nil)
				g.Outputs = append(g.Outputs, dq.Output(0))
			}
			return modelOf(t, g, 10, 21)
		}
		fused, err := NewSession(build(false), Options{NoPrepack: true, Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		apart, err := NewSession(build(true), Options{NoPrepack: true, Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		nfused := 0
		for i, st := range fused.main.steps {
			if st.dq != nil {
				nfused++
				if four := l.dt == onnx.Int4 || l.dt == onnx.Uint4; st.dq.packed != four || !fused.stackable[i] {
					t.Fatalf("%s: the fused step reads its weight packed: %v, stackable: %v", l.name, st.dq.packed, fused.stackable[i])
				}
			}
		}
		for _, st := range apart.main.steps {
			if st.dq != nil {
				t.Fatalf("%s: fused although the weight is an output", l.name)
			}
		}
		if nfused != 1 {
			t.Fatalf("%s: %d fused steps, want 1", l.name, nfused)
		}
		feed := func(shape ...int) map[string]*Tensor {
			x := Make(onnx.Float, shape...)
			for i := range x.Floats() {
				x.Floats()[i] = float32(r.NormFloat64())
			}
			return map[string]*Tensor{"x": x}
		}
		same := func(name string, got, want *Tensor) {
			t.Helper()
			if !slices.Equal(got.Shape, want.Shape) {
				t.Fatalf("%s %s: shape %v, want %v", l.name, name, got.Shape, want.Shape)
			}
			for i, v := range want.Floats() {
				if math.Float32bits(got.Floats()[i]) != math.Float32bits(v) {
					t.Fatalf("%s %s: y[%d] = %v, want %v", l.name, name, i, got.Floats()[i], v)
				}
			}
		}
		for _, shape := range [][]int{{k}, {1, k}, {3, k}, {8, k}, {9, k}, {2, 2, k}} {
			fd := feed(shape...)
			got, err := fused.Run(fd)
			if err != nil {
				t.Fatal(err)
			}
			want, err := apart.Run(fd)
			if err != nil {
				t.Fatal(err)
			}
			same(fmt.Sprint(shape), got[0], want[0])
		}
		feeds := []map[string]*Tensor{feed(2, k), feed(2, k), feed(2, k)}
		got, err := fused.RunLockstep(context.Background(), feeds)
		if err != nil {
			t.Fatal(err)
		}
		want, err := apart.RunLockstep(context.Background(), feeds)
		if err != nil {
			t.Fatal(err)
		}
		for j := range feeds {
			same(fmt.Sprintf("lockstep feed %d", j), got[j][0], want[j][0])
		}
	}
}

// quantTensor is an 8-bit or 4-bit tensor of values v (packed two to a
// byte, low nibble first, for 4-bit).
func quantTensor(name string, dt onnx.DataType, dims []int64, v []float64) *onnx.Tensor {
	raw := make([]byte, dt.RawSize(int64(len(v))))
	for i, x := range v {
		b := byte(int8(x))
		if dt == onnx.Int4 || dt == onnx.Uint4 {
			raw[i/2] |= (b & 15) << (4 * (i % 2))
		} else {
			raw[i] = b
		}
	}
	return onnx.NewTensor(name, dt, dims, raw)
}

// modelOf is g as a model of that IR version and opset, encoded and
// decoded so that its values are linked as a loaded model's are.
func modelOf(t *testing.T, g *onnx.Graph, ir, opset int64) *onnx.Model {
	t.Helper()
	raw, err := onnx.Encode(&onnx.Model{IRVersion: ir, Opsets: []onnx.OpsetID{{Version: opset}}, Graph: g})
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
