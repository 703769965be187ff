package interp_test

import (
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestMatMulNoPrepackFewRows: with weights read in place (NoPrepack, as
// the verification of a large model runs), MatMuls of a few rows take the
// unpacked path; their results agree with the packed ones to float32
// rounding, for every row count up to and past simd.FewRows and batched A.
func TestMatMulNoPrepackFewRows(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const k, n = 96, 1100
	w := make([]float32, k*n)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	for _, shape := range [][]int{{1, k}, {3, k}, {4, k}, {2, 4, k}, {8, k}, {9, k}, {1, 1, 5, k}} {
		b := newTestGraph("mm")
		elems := 1
		for _, d := range shape {
			elems *= d
		}
		x := make([]float32, elems)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		xv := b.input("x", onnx.Float, interp.FromSlice(onnx.Float, shape, x))
		wv := b.g.AddInitializer("w", onnx.NewFloatTensor("w", []int64{k, n}, w))
		b.output(b.node("MatMul", nil, []*onnx.Value{xv, wv}, "y").Output(0))
		m := b.model(t, 8, 13)
		var outs [2][]float32
		for i, opts := range []interp.Options{{}, {NoPrepack: true}} {
			s, err := interp.NewSession(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			y, err := s.Run(b.feeds)
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = y[0].Floats()
		}
		if len(outs[0]) != elems/k*n {
			t.Fatalf("%v: %d outputs", shape, len(outs[0]))
		}
		for i := range outs[0] {
			a, p := float64(outs[0][i]), float64(outs[1][i])
			if math.IsNaN(p) || math.Abs(a-p) > 1e-5*(1+math.Abs(a)) {
				t.Fatalf("%v: y[%d] packed %v, in place %v", shape, i, a, p)
			}
		}
	}
}

// TestNoPrepackHoldsWeightsOnce: with NoPrepack a session holds a quantized
// model's weights as stored — an int4 blocked, an int8 per-channel and a
// float16 weight are decoded, dequantized and cast in each run instead of
// once, the run's recycled buffers keeping at most one of each — and computes what
// a session without it does. Without NoPrepack the session holds their
// float32 copies (the check can fail).
func TestNoPrepackHoldsWeightsOnce(t *testing.T) {
	const n = 1024 // 1 Mi elements a weight: above the per-run threshold
	r := rand.New(rand.NewPCG(3, 4))
	b := newTestGraph("weights")
	x := make([]float32, 2*n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	y := b.input("x", onnx.Float, interp.FromSlice(onnx.Float, []int{2, n}, x))
	randBytes := func(k int) []byte {
		raw := make([]byte, k)
		for i := range raw {
			raw[i] = byte(r.IntN(256))
		}
		return raw
	}
	scales := func(name string, dims ...int64) *onnx.Value {
		k := int(dims[0] * dims[1])
		s := make([]float32, k)
		for i := range s {
			s[i] = float32(0.01 + r.Float64()/100)
		}
		return b.g.AddInitializer(name, onnx.NewFloatTensor(name, dims, s))
	}
	w4 := b.g.AddInitializer("w4", onnx.NewTensor("w4", onnx.Int4, []int64{n, n}, randBytes(n*n/2)))
	d4 := b.node("DequantizeLinear", []*onnx.Attribute{onnx.IntAttr("axis", 0), onnx.IntAttr("block_size", 32)},
		[]*onnx.Value{w4, scales("s4", n/32, n)}, "d4").Output(0)
	y = b.node("MatMul", nil, []*onnx.Value{y, d4}, "y4").Output(0)
	w8 := b.g.AddInitializer("w8", onnx.NewTensor("w8", onnx.Int8, []int64{n, n}, randBytes(n*n)))
	d8 := b.node("DequantizeLinear", []*onnx.Attribute{onnx.IntAttr("axis", 1)}, []*onnx.Value{w8, scales("s8", 1, n)}, "d8").Output(0)
	d8.Producer().Inputs()[1].Const.Dims = []int64{n}
	y = b.node("MatMul", nil, []*onnx.Value{y, d8}, "y8").Output(0)
	h := make([]byte, 2*n*n)
	for i := 0; i < len(h); i += 2 {
		h[i], h[i+1] = byte(r.IntN(256)), byte(0x20+r.IntN(8)) // float16 in ±[2^-7, 2^-4)
	}
	w16 := b.g.AddInitializer("w16", onnx.NewTensor("w16", onnx.Float16, []int64{n, n}, h))
	c16 := b.node("Cast", []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Float))}, []*onnx.Value{w16}, "c16").Output(0)
	b.output(b.node("MatMul", nil, []*onnx.Value{y, c16}, "y16").Output(0))
	m := b.model(t, 10, 21)
	var outs [2][]float32
	var held [2]int64
	for i, opts := range []interp.Options{{}, {NoPrepack: true}} {
		before := heapInUse()
		s, err := interp.NewSession(m, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Run(b.feeds); err != nil {
			t.Fatal(err)
		}
		held[i] = heapInUse() - before
		out, err := s.Run(b.feeds)
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = out[0].Floats()
	}
	const weightsF32 = 3 * 4 * n * n
	if held[0] < weightsF32 {
		t.Errorf("without NoPrepack the session holds %d bytes, want at least the float32 weights (%d): the check cannot fail", held[0], weightsF32)
	}
	// A run's recycled buffers may keep one dequantized weight and one
	// unpacked int4 one (a byte an element).
	if held[1] > weightsF32/3+n*n+1<<20 {
		t.Errorf("with NoPrepack the session holds %d bytes after a run, want at most one float32 weight and one unpacked (%d)", held[1], weightsF32/3+n*n)
	}
	t.Logf("held after a run: %d bytes without NoPrepack, %d with", held[0], held[1])
	for i := range outs[0] {
		a, p := float64(outs[0][i]), float64(outs[1][i])
		if math.IsNaN(a) || math.IsNaN(p) || math.Abs(a-p) > 1e-4*(1+math.Abs(a)) {
			t.Fatalf("y[%d]: %v without NoPrepack, %v with", i, a, p)
		}
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// model is the graph as a model of that IR version and opset, encoded and
// decoded so that its values are linked as a loaded model's are.
func (b *testGraph) model(t *testing.T, ir, opset int64) *onnx.Model {
	t.Helper()
	raw, err := onnx.Encode(&onnx.Model{IRVersion: ir, Opsets: []onnx.OpsetID{{Version: opset}}, Graph: b.g})
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// countedPayload gives fixed bytes and counts the times it is made.
type countedPayload struct {
	raw  []byte
	made *int
}

func (p countedPayload) Len() int64 { return int64(len(p.raw)) }

func (p countedPayload) WriteTo(w io.Writer) (int64, error) {
	*p.made++
	n, err := w.Write(p.raw)
	return int64(n), err
}

// TestNoPrepackLeavesLazyToRuns: with NoPrepack a weight whose bytes a pass
// left to be made (a lazy tensor, however small: an int4 weight's scales)
// is made in each run and not kept, so that the run makes it right after
// the weight that hands it over; without NoPrepack the session makes it
// once and keeps it. Both compute the same.
func TestNoPrepackLeavesLazyToRuns(t *testing.T) {
	w := []float32{0.5, -1, 2, 8}
	raw := make([]byte, 4*len(w))
	for i, v := range w {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	b := newTestGraph("lazy")
	x := b.input("x", onnx.Float, interp.FromSlice(onnx.Float, []int{4}, []float32{1, 2, 3, 4}))
	wv := b.g.AddInitializer("w", onnx.NewFloatTensor("w", []int64{4}, w))
	b.output(b.node("Add", nil, []*onnx.Value{x, wv}, "y").Output(0))
	for _, noPrepack := range []bool{false, true} {
		m := b.model(t, 8, 13)
		made := 0
		m.Graph.Initializers[0].Const = onnx.NewLazyTensor("w", onnx.Float, []int64{4}, countedPayload{raw, &made})
		lazyW := m.Graph.Initializers[0].Const
		s, err := interp.NewSession(m, interp.Options{NoPrepack: noPrepack})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			y, err := s.Run(b.feeds)
			if err != nil {
				t.Fatal(err)
			}
			if got := y[0].Floats(); !slices.Equal(got, []float32{1.5, 1, 5, 12}) {
				t.Fatalf("NoPrepack %v: y = %v", noPrepack, got)
			}
		}
		if want := map[bool]int{false: 1, true: 2}[noPrepack]; made != want || lazyW.IsLazy() != noPrepack {
			t.Errorf("NoPrepack %v: made %d times in two runs (want %d), kept: %v", noPrepack, made, want, !lazyW.IsLazy())
		}
	}
}
