package quantize

import (
	"encoding/binary"
	"io"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// keepFloat32 are ops left in float32 by mode=fp16: those whose
// intermediate values leave float16's range or lose too much precision there
// (the statistics of LayerNorm, exponentials, Softmax), and those whose
// float inputs are fixed to float32 by the standard or carry types in
// attributes (Cast, Constant, Resize scales, random generators).
var keepFloat32 = map[string]bool{
	"Pow": true, "ReduceMean": true, "ReduceSum": true, "ReduceSumSquare": true, "ReduceL1": true, "ReduceL2": true,
	"ReduceLogSum": true, "ReduceLogSumExp": true, "ReduceProd": true, "Exp": true, "Log": true, "Softmax": true,
	"LogSoftmax": true, "Sqrt": true, "Reciprocal": true, "LayerNormalization": true, "CumSum": true,
	"Cast": true, "CastLike": true, "Constant": true, "ConstantOfShape": true, "EyeLike": true, "Resize": true, "Upsample": true,
	"RandomNormal": true, "RandomUniform": true, "RandomNormalLike": true, "RandomUniformLike": true, "Multinomial": true, "Bernoulli": true,
	"QuantizeLinear": true, "DequantizeLinear": true, "DynamicQuantizeLinear": true,
	"NonMaxSuppression": true, "RoiAlign": true, "DFT": true, "STFT": true, "Range": true,
}

const fp16Max = 65504

// movesData are the ops that compute nothing: a main graph of only these
// is not worth float16.
var movesData = map[string]bool{
	"Identity": true, "Reshape": true, "Squeeze": true, "Unsqueeze": true, "Flatten": true, "Transpose": true,
	"Concat": true, "Split": true, "Slice": true, "Gather": true, "Expand": true, "Tile": true,
}

// fp16 converts the main graph to float16: weights and compute, with the
// graph's float32 inputs and outputs kept (Cast at the boundaries).
func (q *quantizer) fp16() (int, error) {
	c, g := q.c, q.g
	half := map[*onnx.Node]bool{}
	rewrites := 0
	for _, n := range g.Nodes {
		if !q.canHalf(n) {
			continue
		}
		if !c.Allow() {
			break
		}
		half[n] = true
		rewrites++
		if weightedOps[n.OpType] {
			q.addLayer(n)
		}
	}
	if rewrites == 0 {
		return 0, nil
	}
	computes := false
	for n := range half {
		computes = computes || !movesData[n.OpType]
	}
	if !computes {
		// Casts around nodes that only move data would round the values
		// and save nothing (Silero VAD: its layers are in If branches, and
		// the main graph holds two Identities).
		c.Logf("fp16: nothing computes in the main graph (its %d float nodes only move data); layers inside If/Loop/Scan bodies are not converted", rewrites)
		return 0, nil
	}
	// A float Constant node a float16 node reads becomes an initializer,
	// converted (clamped to ±65504) below like the weights: a Cast of it
	// in the graph would turn a finite −FLT_MAX (a BERT export's mask
	// value) into −Inf, and its (1 − mask)·(−FLT_MAX) into 0·Inf = NaN.
	for _, n := range slices.Clone(g.Nodes) {
		if v := n.Output(0); n.OpType == "Constant" && n.Domain == "" && passes.ElemType(v) == onnx.Float {
			if slices.ContainsFunc(v.Uses(), func(u onnx.Use) bool { return half[u.Node] }) {
				passes.ConstantToInitializer(q.m, v)
			}
		}
	}
	casts := map[castKey]*onnx.Value{}
	cast := func(v *onnx.Value, to onnx.DataType) *onnx.Value {
		k := castKey{v, to}
		if cv, ok := casts[k]; ok {
			return cv
		}
		n := g.NewNode("Cast", "", g.FreshName(v.Name+"_Cast"), []*onnx.Value{v}, g.FreshName(v.Name+"_"+to.String()))
		n.SetAttr(onnx.IntAttr("to", int64(to)))
		if v.Type != nil {
			t := v.Type.Clone()
			t.Elem = to
			n.Output(0).Type = t
		}
		g.Append(n)
		casts[k] = n.Output(0)
		return n.Output(0)
	}
	clamped := 0
	var consts16 = map[*onnx.Value]*onnx.Value{}
	values := g.Values()
	weight := func(v *onnx.Value) *onnx.Tensor {
		if passes.ElemType(v) != onnx.Float || !v.IsConst() {
			return nil
		}
		return passes.ConstTensor(v)
	}
	// Each weight is read once, from disk with direct I/O where it is not
	// in memory yet, the next one while this one is converted.
	// Large weights convert as the model is saved (a lazy payload over
	// the float32 source): they are not read here.
	weights := make([]*onnx.Tensor, len(values))
	for i, v := range values {
		if t := weight(v); t != nil && !convertsLazily(t) {
			weights[i] = t
		}
	}
	lazily := 0
	ra := onnx.NewReadAhead(weights)
	defer ra.Close()
	for i, v := range values {
		if passes.ElemType(v) != onnx.Float {
			continue
		}
		uses := v.Uses()
		if t := passes.ConstTensor(v); t != nil && v.IsConst() {
			ra.Hold(i)
			// A float32 weight: give float16 readers a float16 copy; drop
			// the float32 one when nobody else reads it.
			for _, u := range uses {
				if !half[u.Node] || u.Node.Graph != g {
					continue
				}
				h, ok := consts16[v]
				if !ok && convertsLazily(t) {
					lazily++
					h = passes.AddConst(q.m, g, v.Name+"_fp16", onnx.NewLazyTensor("", onnx.Float16, t.Dims, &float16Payload{src: t}))
					consts16[v] = h
				} else if !ok {
					x, err := t.Float32s() // read only
					if err != nil {
						return rewrites, err
					}
					ht, n := float16Tensor(t.Dims, x)
					clamped += n
					h = passes.AddConst(q.m, g, v.Name+"_fp16", ht)
					consts16[v] = h
				}
				u.Node.SetInput(u.Index, h)
			}
			q.dropIfUnused(v)
			continue
		}
		home := onnx.Float
		if p := v.Producer(); p != nil && half[p] {
			home = onnx.Float16
		}
		if home == onnx.Float16 {
			if v.IsGraphOutput() {
				// The output keeps its name and float32 type: a Cast takes
				// its place and the float16 value is renamed.
				cn := g.NewNode("Cast", "", g.FreshName(v.Name+"_Cast"), []*onnx.Value{v}, g.FreshName(v.Name+"_float32"))
				cn.SetAttr(onnx.IntAttr("to", int64(onnx.Float)))
				if v.Type != nil {
					cn.Output(0).Type = v.Type.Clone()
				}
				g.Append(cn)
				onnx.ReplaceAllUsesWith(v, cn.Output(0))
				cn.SetInput(0, v)
				for _, u := range uses {
					u.Node.SetInput(u.Index, v)
				}
			}
			if v.Type != nil {
				v.Type.Elem = onnx.Float16
			}
		}
		for _, u := range uses {
			want := onnx.Float
			if half[u.Node] {
				want = onnx.Float16
			}
			if want != home {
				u.Node.SetInput(u.Index, cast(v, want))
			}
		}
	}
	if clamped > 0 {
		c.Logf("warning: %d weights beyond float16's range (±%d) were clamped", clamped, fp16Max)
	}
	if lazily > 0 {
		c.Logf("fp16: %d large weights convert as the model is saved (values beyond ±%d clamp there, uncounted)", lazily, fp16Max)
	}
	c.Logf("fp16: %d of %d nodes in float16", rewrites, len(g.Nodes))
	return rewrites, nil
}

type castKey struct {
	v  *onnx.Value
	to onnx.DataType
}

// canHalf reports whether n can compute in float16: a standard op outside
// keepFloat32, without subgraphs, whose outputs have known types.
func (q *quantizer) canHalf(n *onnx.Node) bool {
	if n.Domain != "" || keepFloat32[n.OpType] || len(n.Subgraphs()) > 0 || q.cfg.excluded(n) || inQDQ(n) {
		return false
	}
	anyFloat := false
	for _, v := range append(n.Inputs(), n.Outputs()...) {
		if v == nil {
			continue
		}
		dt := passes.ElemType(v)
		if dt == onnx.Undefined {
			return false // unknown type: cannot tell what to convert
		}
		if dt == onnx.Double || dt == onnx.Float16 || dt == onnx.BFloat16 {
			return false
		}
		anyFloat = anyFloat || dt == onnx.Float
	}
	return anyFloat
}

// inQDQ reports whether n reads a dequantized activation or feeds a
// QuantizeLinear: the middle of a static QDQ group, which ONNX Runtime and
// TensorRT run as one integer kernel. In float16 it would sit between
// Casts and run in float instead. Dequantized weights alone (weight-only
// int8/int4) do not count: float16 compute on them is what that mix is for.
func inQDQ(n *onnx.Node) bool {
	for _, v := range n.Inputs() {
		if v == nil || v.Producer() == nil || v.Producer().OpType != "DequantizeLinear" {
			continue
		}
		if passes.ConstTensor(v.Producer().Input(0)) == nil {
			return true
		}
	}
	for _, v := range n.Outputs() {
		if v == nil {
			continue
		}
		for _, u := range v.Uses() {
			if u.Node.OpType == "QuantizeLinear" {
				return true
			}
		}
	}
	return false
}

// float16Tensor converts to float16, clamping values beyond its range; it
// returns how many were clamped. simd.Float16Sat converts (F16C where the
// CPU has it), in parallel chunks.
func float16Tensor(dims []int64, x []float32) (*onnx.Tensor, int) {
	raw := make([]byte, 2*len(x))
	clamped := toFloat16(raw, x)
	return onnx.NewTensor("", onnx.Float16, dims, raw), clamped
}

// toFloat16 writes x as float16 bytes (little-endian) to raw (2*len(x)
// bytes), clamping values beyond float16's range, and returns how many
// were clamped.
func toFloat16(raw []byte, x []float32) int {
	if len(x) == 0 {
		return 0
	}
	h := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(raw))), len(x))
	var clamped atomic.Int64
	eachChunk(len(x), func(i0, i1 int) {
		clamped.Add(int64(simd.Float16Sat(h[i0:i1], x[i0:i1])))
	})
	if !littleEndian {
		for i := 0; i+1 < len(raw); i += 2 {
			raw[i], raw[i+1] = raw[i+1], raw[i]
		}
	}
	return int(clamped.Load())
}

// lazyFP16Min is the float32 payload size from which mode=fp16 leaves the
// float16 weight as a lazy payload (its float16 bytes at least SpillMin):
// the save reads the float32 weight once and writes float16, instead of
// the pass writing it to the spill file and the save copying it from
// there (on 8 GiB, 4 GiB less written and 4 GiB less read). A variable
// for tests.
var lazyFP16Min int64 = 2 * onnx.SpillMin

func convertsLazily(t *onnx.Tensor) bool {
	return t.DataType == onnx.Float && t.ByteSize() >= lazyFP16Min
}

// float16Payload is the float16 conversion of a float32 tensor, made when
// asked (onnx.Payload): the same bytes as float16Tensor's.
type float16Payload struct{ src *onnx.Tensor }

func (p *float16Payload) Len() int64 { return p.src.ByteSize() / 2 }

func (p *float16Payload) WriteTo(w io.Writer) (int64, error) {
	var out []byte
	var total int64
	err := onnx.ReadChunks(p.src, 4, func(b []byte) error {
		x := onnx.Float32View(b)
		if cap(out) < 2*len(x) {
			out = make([]byte, 2*len(x))
		}
		out = out[:2*len(x)]
		toFloat16(out, x)
		n, err := w.Write(out)
		total += int64(n)
		return err
	})
	return total, err
}

// littleEndian: float16 bits written as uint16 are already ONNX's byte order.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
