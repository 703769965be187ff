// Package unfuse rewrites ONNX Runtime's contrib ops — what its graph
// optimizer writes into a model saved at level "extended" (FusedConv,
// FusedGemm, FusedMatMul, Gelu, FastGelu, BiasGelu, QuickGelu,
// SkipLayerNormalization, SkipSimplifiedLayerNormalization,
// SimplifiedLayerNormalization, and LayerNormalization below opset 17),
// and its int4 quantizer's MatMulNBits (from opset 21) —
// back into standard ONNX ops of the model's opset, so that runtimes other
// than ONNX Runtime (TensorRT, TFLite and MNN converters, ONNX's checker)
// read the model, and onnxslim's other passes (quantize, prune) see the
// Conv, Gemm and MatMul inside. Ops it cannot rewrite (an unknown rank
// where it matters, a non-float32 element type, an asked-for statistics
// output) stay as they are, with a note.
package unfuse

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

const msDomain = "com.microsoft"

func init() {
	passes.Register(&passes.Pass{
		Name:     "unfuse",
		Doc:      "rewrite ONNX Runtime's fused contrib ops (FusedConv, FusedGemm, FusedMatMul, Gelu, SkipLayerNormalization, …) into standard ONNX ops, for TensorRT, TFLite and MNN",
		Requires: []*passes.Analysis{passes.Shapes},
		Run:      run,
	})
}

// rewrite emits n's standard form before n and returns the values that
// replace n's outputs (nil where an output is not used).
type rewrite func(e *emitter, n *onnx.Node) ([]*onnx.Value, error)

var rewrites = map[string]rewrite{
	msDomain + "::FusedConv":                        fusedConv,
	msDomain + "::FusedGemm":                        fusedGemm,
	msDomain + "::FusedMatMul":                      fusedMatMul,
	msDomain + "::Gelu":                             biasGelu(false),
	msDomain + "::FastGelu":                         biasGelu(true),
	msDomain + "::BiasGelu":                         biasGelu(false),
	msDomain + "::QuickGelu":                        quickGelu,
	msDomain + "::SkipLayerNormalization":           skipNorm(false),
	msDomain + "::SkipSimplifiedLayerNormalization": skipNorm(true),
	msDomain + "::MatMulNBits":                      matMulNBits,
	"::SimplifiedLayerNormalization":                simplifiedNorm,
	"::LayerNormalization":                          layerNorm,
}

func run(c *passes.Context, m *onnx.Model) (int, error) {
	total := 0
	left := map[string]string{} // op → why it stayed
	opset := m.Opset("")
	for _, g := range m.Graphs() {
		consts := map[float32]*onnx.Value{} // one initializer per scalar
		for _, n := range slices.Clone(g.Nodes) {
			domain := n.Domain
			if domain == "ai.onnx" {
				domain = ""
			}
			f := rewrites[domain+"::"+n.OpType]
			if f == nil || n.Graph != g || domain == "" && n.OpType == "LayerNormalization" && opset >= 17 {
				continue
			}
			e := &emitter{m: m, g: g, at: n, opset: opset, consts: consts}
			outs, err := f(e, n)
			if err == nil {
				err = e.replace(n, outs)
			}
			if err != nil {
				g.RemoveNodes(e.added...)
				left[n.OpType] = err.Error()
				continue
			}
			ins := n.Inputs()
			g.RemoveNodes(n)
			for _, v := range ins {
				// A weight only the old node read (MatMulNBits' packed B).
				if v != nil && v.Const != nil && v.Graph() == g && !passes.IsUsed(v) {
					g.RemoveInitializer(v)
				}
			}
			total++
		}
		for _, c := range consts {
			if !passes.IsUsed(c) { // added for a rewrite that was undone
				g.RemoveInitializer(c)
			}
		}
	}
	for _, op := range slices.Sorted(maps.Keys(left)) {
		fmt.Fprintf(c.Log, "unfuse: %s left as it is: %s\n", op, left[op])
	}
	if total > 0 {
		// ONNX Runtime's saved models import its own domains (nchwc,
		// experimental, training, aten) whether used or not.
		m.Opsets = slices.DeleteFunc(m.Opsets, func(o onnx.OpsetID) bool {
			return o.Domain != "" && o.Domain != "ai.onnx" && !usesDomain(m, o.Domain)
		})
	}
	return total, nil
}

// usesDomain reports whether any node of m (any graph, any function) is of domain d.
func usesDomain(m *onnx.Model, d string) bool {
	for _, g := range m.Graphs() {
		for _, n := range g.Nodes {
			if n.Domain == d {
				return true
			}
		}
	}
	for _, f := range m.Functions {
		if f.Domain == d {
			return true
		}
		for _, n := range f.Body.Nodes {
			if n.Domain == d {
				return true
			}
		}
	}
	return false
}

func one(v *onnx.Value, err error) ([]*onnx.Value, error) { return []*onnx.Value{v}, err }

// emitter inserts standard nodes before the node being rewritten.
type emitter struct {
	m      *onnx.Model
	g      *onnx.Graph
	at     *onnx.Node
	opset  int64
	added  []*onnx.Node
	consts map[float32]*onnx.Value
}

// op emits one node of the default domain and returns its first output.
func (e *emitter) op(op string, attrs []*onnx.Attribute, ins ...*onnx.Value) *onnx.Value {
	base := e.at.Name
	if base == "" {
		base = e.at.OpType
	}
	n := e.g.NewNode(op, "", e.g.FreshName(base+"/"+op), ins, e.g.FreshName(base+"/"+op+"_output"))
	n.Attrs = attrs
	e.g.InsertBefore(e.at, n)
	e.added = append(e.added, n)
	return n.Output(0)
}

// scalar is a float32 constant of shape [], one initializer per value in
// a graph.
func (e *emitter) scalar(v float32) *onnx.Value {
	if c := e.consts[v]; c != nil {
		return c
	}
	c := passes.AddConst(e.m, e.g, e.g.FreshName(fmt.Sprint("unfuse_", v)), onnx.NewFloatTensor("", nil, []float32{v}))
	e.consts[v] = c
	return c
}

// float32In checks that v is float32, the element type of every constant
// the rewrites add.
func float32In(v *onnx.Value) error {
	if et := passes.ElemType(v); et != onnx.Float {
		return fmt.Errorf("element type %s (only float32 is rewritten)", et)
	}
	return nil
}

// replace makes the readers of n's outputs read outs.
func (e *emitter) replace(n *onnx.Node, outs []*onnx.Value) error {
	for i, v := range n.Outputs() {
		if !passes.IsUsed(v) {
			continue
		}
		if i >= len(outs) || outs[i] == nil {
			return fmt.Errorf("output %d is used and has no standard form", i)
		}
		if !passes.Replace(v, outs[i]) {
			return fmt.Errorf("output %q cannot be renamed", v.Name)
		}
	}
	return nil
}

// activation emits ONNX Runtime's fused activation act on x: the op
// interp.FusedActivation names, Clip's bounds as inputs from opset 11.
func (e *emitter) activation(x *onnx.Value, act string, params []float32) (*onnx.Value, error) {
	op, _, attrs, err := interp.FusedActivation(act, params)
	if op == "" || err != nil {
		return x, err
	}
	if op == "Clip" && e.opset >= 11 {
		lo, hi := attrs[0].Float, attrs[1].Float
		return e.op(op, nil, x, e.scalar(lo), e.scalar(hi)), nil
	}
	return e.op(op, attrs, x), nil
}

// withoutAttrs is n's attributes less the named ones.
func withoutAttrs(n *onnx.Node, names ...string) []*onnx.Attribute {
	var out []*onnx.Attribute
	for _, a := range n.Attrs {
		if !slices.Contains(names, a.Name) {
			out = append(out, a)
		}
	}
	return out
}

// fusedConv: Conv (+ Z) → activation.
func fusedConv(e *emitter, n *onnx.Node) ([]*onnx.Value, error) {
	if err := float32In(n.Input(0)); err != nil {
		return nil, err
	}
	y := e.op("Conv", withoutAttrs(n, "activation", "activation_params"), n.Inputs()[:min(3, len(n.Inputs()))]...)
	if z := n.Input(3); z != nil {
		y = e.op("Add", nil, y, z)
	}
	return one(e.activation(y, n.AttrString("activation", ""), n.AttrFloats("activation_params", nil)))
}

// fusedGemm: Gemm → activation (activation_alpha, activation_beta).
func fusedGemm(e *emitter, n *onnx.Node) ([]*onnx.Value, error) {
	if err := float32In(n.Input(0)); err != nil {
		return nil, err
	}
	var params []float32
	if n.Attr("activation_alpha") != nil {
		params = append(params, n.AttrFloat("activation_alpha", 0))
		if n.Attr("activation_beta") != nil {
			params = append(params, n.AttrFloat("activation_beta", 0))
		}
	}
	y := e.op("Gemm", withoutAttrs(n, "activation", "activation_alpha", "activation_beta", "activation_gamma"), n.Inputs()...)
	return one(e.activation(y, n.AttrString("activation", ""), params))
}

// fusedMatMul: Transpose of either operand where asked, MatMul, Mul by alpha.
func fusedMatMul(e *emitter, n *onnx.Node) ([]*onnx.Value, error) {
	if err := float32In(n.Input(0)); err != nil {
		return nil, err
	}
	var ins []*onnx.Value
	for i, side := range []string{"A", "B"} {
		v := n.Input(i)
		trans, batch := n.AttrInt("trans"+side, 0) != 0, n.AttrInt("transBatch"+side, 0) != 0
		if trans || batch {
			s, ok := passes.StaticShape(v)
			r := len(s)
			if !ok {
				if v.Type == nil || !v.Type.HasShape() {
					return nil, fmt.Errorf("input %s's rank is unknown", side)
				}
				r = len(v.Type.Shape)
			}
			if perm := interp.FusedMatMulPerm(r, trans, batch); perm != nil {
				p64 := make([]int64, len(perm))
				for j, p := range perm {
					p64[j] = int64(p)
				}
				v = e.op("Transpose", []*onnx.Attribute{onnx.IntsAttr("perm", p64)}, v)
			}
		}
		ins = append(ins, v)
	}
	y := e.op("MatMul", nil, ins...)
	if alpha := n.AttrFloat("alpha", 1); alpha != 1 {
		y = e.op("Mul", nil, y, e.scalar(alpha))
	}
	return one(y, nil)
}

// gelu emits GELU of x: the opset-20 op, else its definition with Erf (or
// tanh's approximation).
func (e *emitter) gelu(x *onnx.Value, tanh bool) *onnx.Value {
	if e.opset >= 20 {
		var attrs []*onnx.Attribute
		if tanh {
			attrs = append(attrs, onnx.StringAttr("approximate", "tanh"))
		}
		return e.op("Gelu", attrs, x)
	}
	var inner *onnx.Value
	if tanh {
		// tanh(√(2/π)·(x + 0.044715·x³))
		cube := e.op("Mul", nil, e.op("Mul", nil, x, x), x)
		sum := e.op("Add", nil, x, e.op("Mul", nil, cube, e.scalar(0.044715)))
		inner = e.op("Tanh", nil, e.op("Mul", nil, sum, e.scalar(float32(math.Sqrt(2/math.Pi)))))
	} else {
		inner = e.op("Erf", nil, e.op("Div", nil, x, e.scalar(math.Sqrt2)))
	}
	half := e.op("Mul", nil, x, e.scalar(0.5))
	return e.op("Mul", nil, half, e.op("Add", nil, inner, e.scalar(1)))
}

// biasGelu: Gelu and BiasGelu (erf form) and FastGelu (tanh form) of X
// (+ bias, the optional second input).
func biasGelu(tanh bool) rewrite {
	return func(e *emitter, n *onnx.Node) ([]*onnx.Value, error) {
		x := n.Input(0)
		if err := float32In(x); err != nil {
			return nil, err
		}
		if b := n.Input(1); b != nil {
			x = e.op("Add", nil, x, b)
		}
		return one(e.gelu(x, tanh), nil)
	}
}

// quickGelu: x·sigmoid(alpha·x).
func quickGelu(e *emitter, n *onnx.Node) ([]*onnx.Value, error) {
	x := n.Input(0)
	if err := float32In(x); err != nil {
		return nil, err
	}
	s := e.op("Sigmoid", nil, e.op("Mul", nil, x, e.scalar(n.AttrFloat("alpha", 1.702))))
	return one(e.op("Mul", nil, x, s), nil)
}

// mean emits ReduceMean of x over axes, kept (the axes an attribute below
// opset 18, an input from it).
func (e *emitter) mean(x *onnx.Value, axes []int64) *onnx.Value {
	keep := onnx.IntAttr("keepdims", 1)
	if e.opset < 18 {
		return e.op("ReduceMean", []*onnx.Attribute{onnx.IntsAttr("axes", axes), keep}, x)
	}
	ax := passes.AddConst(e.m, e.g, e.g.FreshName(e.at.Name+"/axes"), onnx.NewInt64Tensor("", []int64{int64(len(axes))}, axes))
	return e.op("ReduceMean", []*onnx.Attribute{keep}, x, ax)
}

// normalize emits (x − mean)/√(var + eps) (rms: x/√(mean(x²) + eps)) over
// axes, times scale, plus bias (either nil: none).
func (e *emitter) normalize(x *onnx.Value, axes []int64, eps float32, rms bool, scale, bias *onnx.Value) *onnx.Value {
	d := x
	if !rms {
		d = e.op("Sub", nil, x, e.mean(x, axes))
	}
	v := e.mean(e.op("Mul", nil, d, d), axes)
	y := e.op("Div", nil, d, e.op("Sqrt", nil, e.op("Add", nil, v, e.scalar(eps))))
	if scale != nil {
		y = e.op("Mul", nil, y, scale)
	}
	if bias != nil {
		y = e.op("Add", nil, y, bias)
	}
	return y
}

// normAxes is the axes from axis to the last, as negative axes where the
// rank is unknown.
func normAxes(v *onnx.Value, axis int64) ([]int64, error) {
	if axis >= 0 {
		if v.Type == nil || !v.Type.HasShape() {
			return nil, fmt.Errorf("axis %d of an input of unknown rank", axis)
		}
		axis -= int64(len(v.Type.Shape))
	}
	var axes []int64
	for a := axis; a < 0; a++ {
		axes = append(axes, a)
	}
	return axes, nil
}

// skipNorm: input + skip (+ bias), then LayerNormalization (opset ≥ 17)
// or its definition; the RMS form without centring or beta. Outputs 0
// (the result) and 3 (the sum) have standard forms; the statistics do not.
func skipNorm(rms bool) rewrite {
	return func(e *emitter, n *onnx.Node) ([]*onnx.Value, error) {
		if err := float32In(n.Input(0)); err != nil {
			return nil, err
		}
		beta, bias := n.Input(3), n.Input(4)
		if rms {
			beta, bias = nil, n.Input(3)
		}
		sum := e.op("Add", nil, n.Input(0), n.Input(1))
		if bias != nil {
			sum = e.op("Add", nil, sum, bias)
		}
		eps := n.AttrFloat("epsilon", 1e-12)
		var y *onnx.Value
		if !rms && e.opset >= 17 {
			attrs := []*onnx.Attribute{onnx.IntAttr("axis", -1), onnx.FloatAttr("epsilon", eps)}
			ins := []*onnx.Value{sum, n.Input(2)}
			if beta != nil {
				ins = append(ins, beta)
			}
			y = e.op("LayerNormalization", attrs, ins...)
		} else {
			y = e.normalize(sum, []int64{-1}, eps, rms, n.Input(2), beta)
		}
		return []*onnx.Value{y, nil, nil, sum}, nil
	}
}

// simplifiedNorm: ONNX Runtime's RMS normalization (X, scale) over the
// axes from axis on.
func simplifiedNorm(e *emitter, n *onnx.Node) ([]*onnx.Value, error) {
	if err := float32In(n.Input(0)); err != nil {
		return nil, err
	}
	axes, err := normAxes(n.Input(0), n.AttrInt("axis", -1))
	if err != nil {
		return nil, err
	}
	return one(e.normalize(n.Input(0), axes, n.AttrFloat("epsilon", 1e-5), true, n.Input(1), nil), nil)
}

// layerNorm: LayerNormalization below opset 17 (ONNX Runtime registers it
// from opset 1) by its definition.
func layerNorm(e *emitter, n *onnx.Node) ([]*onnx.Value, error) {
	if err := float32In(n.Input(0)); err != nil {
		return nil, err
	}
	axes, err := normAxes(n.Input(0), n.AttrInt("axis", -1))
	if err != nil {
		return nil, err
	}
	return one(e.normalize(n.Input(0), axes, n.AttrFloat("epsilon", 1e-5), false, n.Input(1), n.Input(2)), nil)
}

// matMulNBits: ONNX Runtime's 4-bit weight-only MatMul (what its int4
// quantizer writes for LLMs) as the standard DequantizeLinear of a uint4
// weight blocked along K (opset 21) feeding a MatMul (+ bias), the form
// onnxslim's own quantize(mode=int4) writes and TensorRT reads. B's
// nibbles are repacked from ORT's [N, blocks, bytes] into a [K, N] uint4
// tensor; scales and zero points (8 where absent) become [blocks, N].
// Only 4 bits, constant weights, integer zero points and no g_idx.
func matMulNBits(e *emitter, n *onnx.Node) ([]*onnx.Value, error) {
	if e.opset < 21 {
		return nil, fmt.Errorf("4-bit DequantizeLinear needs opset 21, the model has %d", e.opset)
	}
	if err := float32In(n.Input(0)); err != nil {
		return nil, err
	}
	k, nn, bits, bs := n.AttrInt("K", 0), n.AttrInt("N", 0), n.AttrInt("bits", 4), n.AttrInt("block_size", 0)
	if bits != 4 || k <= 0 || nn <= 0 || bs < 2 || bs%2 != 0 || n.Input(4) != nil {
		return nil, fmt.Errorf("bits %d, K %d, N %d, block_size %d, g_idx %v: only 4 bits without g_idx", bits, k, nn, bs, n.Input(4) != nil)
	}
	bt, st := passes.ConstTensor(n.Input(1)), passes.ConstTensor(n.Input(2))
	if bt == nil || st == nil || bt.DataType != onnx.Uint8 || st.DataType != onnx.Float {
		return nil, fmt.Errorf("B and scales must be constant uint8 and float32")
	}
	blocks := (k + bs - 1) / bs
	b, err := bt.Data()
	if err != nil {
		return nil, err
	}
	sb, err := st.Data()
	if err != nil {
		return nil, err
	}
	scales := onnx.Float32View(sb)
	if int64(len(b)) != nn*blocks*bs/2 || int64(len(scales)) != nn*blocks {
		return nil, fmt.Errorf("B has %d bytes and scales %d values for N %d, %d blocks of %d", len(b), len(scales), nn, blocks, bs)
	}
	zp := func(col, blk int64) byte { return 8 }
	if v := n.Input(3); v != nil {
		zt := passes.ConstTensor(v)
		if zt == nil || zt.DataType != onnx.Uint8 {
			return nil, fmt.Errorf("zero points must be constant packed uint8")
		}
		z, err := zt.Data()
		if err != nil {
			return nil, err
		}
		stride := (blocks + 1) / 2
		if int64(len(z)) != nn*stride {
			return nil, fmt.Errorf("zero points have %d bytes, want %d", len(z), nn*stride)
		}
		zp = func(col, blk int64) byte { return nibble(z, col*stride*2+blk) }
	}
	w := make([]byte, (k*nn+1)/2)
	for col := range nn {
		for kk := range k {
			blk, in := kk/bs, kk%bs
			setNibble(w, kk*nn+col, nibble(b, (col*blocks+blk)*bs+in))
		}
	}
	sc := make([]float32, blocks*nn)
	zs := make([]byte, (blocks*nn+1)/2)
	for col := range nn {
		for blk := range blocks {
			sc[blk*nn+col] = scales[col*blocks+blk]
			setNibble(zs, blk*nn+col, zp(col, blk))
		}
	}
	name := e.g.FreshName(e.at.Name + "/B")
	wv := passes.AddConst(e.m, e.g, name, onnx.NewTensor("", onnx.Uint4, []int64{k, nn}, w))
	sv := passes.AddConst(e.m, e.g, name+"_scale", onnx.NewFloatTensor("", []int64{blocks, nn}, sc))
	zv := passes.AddConst(e.m, e.g, name+"_zero_point", onnx.NewTensor("", onnx.Uint4, []int64{blocks, nn}, zs))
	dq := e.op("DequantizeLinear", []*onnx.Attribute{onnx.IntAttr("axis", 0), onnx.IntAttr("block_size", bs)}, wv, sv, zv)
	y := e.op("MatMul", nil, n.Input(0), dq)
	if bias := n.Input(5); bias != nil {
		y = e.op("Add", nil, y, bias)
	}
	return one(y, nil)
}

// nibble is the i-th 4-bit value of b, low nibble first (ONNX's and ONNX
// Runtime's packing).
func nibble(b []byte, i int64) byte { return b[i/2] >> (4 * (i % 2)) & 0xf }

// setNibble sets the i-th 4-bit value of b (b zeroed beforehand).
func setNibble(b []byte, i int64, v byte) { b[i/2] |= (v & 0xf) << (4 * (i % 2)) }
