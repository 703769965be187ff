package interp

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// ONNX Runtime's transformer contrib ops (com.microsoft): MultiHeadAttention,
// Attention, RotaryEmbedding and GroupQueryAttention, following its CPU
// kernels (onnxruntime/contrib_ops/cpu/bert). They compute in float32 like
// those kernels; float16 inputs are widened and the results rounded back.
//
// Unlike the standard Attention op, ORT's MultiHeadAttention and Attention
// mask by adding mask_filter_value (default −10000), not −inf, so a row
// whose keys are all masked still gets a (near uniform) softmax.

// msF32 reads a float input as float32, naming it in the error.
func msF32(t *Tensor, name string) ([]float32, error) {
	f, err := floatIn(t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// msAttn is one ORT ApplyAttention call: Q (B, N, S, H), K (B, N, T, H) and
// V (B, N, T, Hv), all BNSH with the past already prepended to K and V.
type msAttn struct {
	b, n, s, t, h, hv int
	scale             float32
	mask              []float32 // (B, S, T) additive, or nil
	bias              []float32 // attention_bias read as (B, N, S, T) through biasB, biasN
	biasB, biasN      int       // element strides of bias over batch and head; 0 when broadcast
}

// run returns softmax(scale·Q·Kᵀ + mask + bias)·V as (B, S, N·Hv).
func (p *msAttn) run(ctx *Ctx, q, k, v []float32) []float32 {
	out := attnNew[float32](ctx, p.b, p.s, p.n*p.hv)
	st := p.s * p.t
	threads := ctx.Threads()
	scratch := make([][]float32, max(1, min(threads, p.b*p.n)))
	attnParallel(p.b*p.n, threads, func(w, bh int) {
		if scratch[w] == nil {
			scratch[w] = make([]float32, st)
		}
		sc := scratch[w]
		bi, hi := bh/p.n, bh%p.n
		var beta float32
		switch {
		case p.mask != nil:
			copy(sc, p.mask[bi*st:(bi+1)*st])
			beta = 1
		case p.bias != nil:
			clear(sc)
			beta = 1
		}
		if p.bias != nil {
			src := p.bias[bi*p.biasB+hi*p.biasN:][:st]
			for i, x := range src {
				sc[i] += x
			}
		}
		sgemm(1, false, true, p.s, p.t, p.h, p.scale, q[bh*p.s*p.h:], p.h, k[bh*p.t*p.h:], p.h, beta, sc, p.t)
		for i := 0; i < p.s; i++ {
			attnSoftmaxRow(sc[i*p.t : (i+1)*p.t])
		}
		ldo := p.n * p.hv
		sgemm(1, false, false, p.s, p.hv, p.t, 1, sc, p.t, v[bh*p.t*p.hv:], p.hv, 0, out[bi*p.s*ldo+hi*p.hv:], ldo)
	})
	return out
}

// setBias checks attention_bias (B or 1, N or 1, S, T) and records it.
func (p *msAttn) setBias(bt *Tensor) error {
	if bt == nil {
		return nil
	}
	d := bt.Shape
	if len(d) != 4 || (d[0] != p.b && d[0] != 1) || (d[1] != p.n && d[1] != 1) || d[2] != p.s || d[3] != p.t {
		return fmt.Errorf("attention_bias %v must be (%d or 1, %d or 1, %d, %d)", d, p.b, p.n, p.s, p.t)
	}
	f, err := msF32(bt, "attention_bias")
	if err != nil {
		return err
	}
	p.bias = f
	st := p.s * p.t
	if d[1] != 1 {
		p.biasN = st
	}
	if d[0] != 1 {
		p.biasB = d[1] * st
	}
	return nil
}

// msMask builds ORT's (B, S, T) additive mask (PrepareMask) from a mask
// index, or only the causal part when mt is nil: 1-D (B) key lengths, 1-D
// (2B) end then start positions, 2-D (B, T) 0/1 key mask, 3-D (B, S, T) 0/1
// mask. Masked entries are filter, the others 0. Causal masking applies only
// for S > 1, as in ORT.
func msMask(mt *Tensor, causal bool, b, s, t, past int, filter float32) ([]float32, error) {
	causal = causal && s > 1
	if mt == nil && !causal {
		return nil, nil
	}
	m := make([]float32, b*s*t)
	var idx []int64
	if mt != nil {
		var err error
		if idx, err = intsOf(mt); err != nil {
			return nil, fmt.Errorf("mask_index: %w", err)
		}
		d := mt.Shape
		ok := false
		switch len(d) {
		case 1:
			ok = d[0] == b || d[0] == 2*b
		case 2:
			ok = d[0] == b && d[1] == t
		case 3:
			ok = d[0] == b && d[1] == s && d[2] == t
		}
		if !ok {
			return nil, fmt.Errorf("mask_index %v must be (%d), (%d), (%d, %d) or (%d, %d, %d)", d, b, 2*b, b, t, b, s, t)
		}
	}
	for bi := 0; bi < b; bi++ {
		row := m[bi*s*t : (bi+1)*s*t]
		switch {
		case mt == nil:
		case mt.Rank() == 3:
			for i, x := range idx[bi*s*t : (bi+1)*s*t] {
				if x <= 0 {
					row[i] = filter
				}
			}
		case mt.Rank() == 2:
			for j, x := range idx[bi*t : (bi+1)*t] {
				if x <= 0 {
					row[j] = filter
				}
			}
		default:
			end := int(min(max(idx[bi], 0), int64(t)))
			for j := end; j < t; j++ {
				row[j] = filter
			}
			if len(idx) == 2*b {
				start := int(min(max(idx[bi+b], 0), int64(t)))
				for j := 0; j < start; j++ {
					row[j] = filter
				}
			}
		}
		if mt == nil || mt.Rank() < 3 {
			for i := 1; i < s; i++ {
				copy(row[i*t:(i+1)*t], row[:t])
			}
		}
		if causal {
			for i := 0; i < s; i++ {
				for j := past + i + 1; j < t; j++ {
					row[i*t+j] = filter
				}
			}
		}
	}
	return m, nil
}

// msAddBias adds bias[off:off+width] to every row of the (rows, width) x,
// returning a new slice (x is an input and must not change).
func msAddBias(x, bias []float32, off, width int) []float32 {
	out := make([]float32, len(x))
	copy(out, x)
	if bias == nil {
		return out
	}
	bb := bias[off : off+width]
	for r := 0; r < len(out); r += width {
		row := out[r : r+width]
		for i := range row {
			row[i] += bb[i]
		}
	}
	return out
}

type mhaAttrs struct {
	heads       int
	scale       float32
	filter      float32
	causal      bool
	wantPresent bool
}

func buildMultiHeadAttention(b *Build) (Kernel, error) {
	a := mhaAttrs{
		heads:       int(b.Int("num_heads", 0)),
		scale:       b.Float("scale", 0),
		filter:      b.Float("mask_filter_value", -10000),
		causal:      b.Int("unidirectional", 0) == 1,
		wantPresent: b.HasOutput(1) || b.HasOutput(2),
	}
	if a.heads <= 0 {
		return nil, fmt.Errorf("num_heads %d must be positive", a.heads)
	}
	if b.HasOutput(3) {
		return nil, fmt.Errorf("the qk output is not supported")
	}
	if b.HasInput(8) || b.HasInput(9) {
		return nil, fmt.Errorf("past_sequence_length and cache_indirection (shared KV buffers) are not supported")
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		return multiHeadAttention(ctx, &a, in)
	}, nil
}

func multiHeadAttention(ctx *Ctx, a *mhaAttrs, in []*Tensor) ([]*Tensor, error) {
	qt, kt, vt, biasT := optIn(in, 0), optIn(in, 1), optIn(in, 2), optIn(in, 3)
	maskT, abT, pkT, pvT := optIn(in, 4), optIn(in, 5), optIn(in, 6), optIn(in, 7)
	if qt == nil || qt.Rank() != 3 {
		return nil, fmt.Errorf("query must be 3-D (batch, sequence, hidden), got %v (packed QKV is not supported by ORT's CPU kernel)", shapeOf(qt))
	}
	if kt == nil || vt == nil {
		return nil, fmt.Errorf("key and value are required (packed QKV/KV is not supported by ORT's CPU kernel)")
	}
	n := a.heads
	B, S, D := qt.Shape[0], qt.Shape[1], qt.Shape[2]
	if D%n != 0 {
		return nil, fmt.Errorf("query hidden size %d is not a multiple of num_heads %d", D, n)
	}
	h := D / n
	q, err := msF32(qt, "query")
	if err != nil {
		return nil, err
	}
	k, err := msF32(kt, "key")
	if err != nil {
		return nil, err
	}
	v, err := msF32(vt, "value")
	if err != nil {
		return nil, err
	}
	var L, hv int
	switch {
	case kt.Rank() == 3 && vt.Rank() == 3:
		L = kt.Shape[1]
		if kt.Shape[0] != B || kt.Shape[2] != D || vt.Shape[0] != B || vt.Shape[1] != L || vt.Shape[2]%n != 0 {
			return nil, fmt.Errorf("key %v and value %v do not match query %v with %d heads", kt.Shape, vt.Shape, qt.Shape, n)
		}
		hv = vt.Shape[2] / n
		var bias []float32
		if biasT != nil {
			if biasT.Rank() != 1 || biasT.Shape[0] != 2*D+n*hv {
				return nil, fmt.Errorf("bias %v must be (%d)", biasT.Shape, 2*D+n*hv)
			}
			if bias, err = msF32(biasT, "bias"); err != nil {
				return nil, err
			}
		}
		q = splitHeads(msAddBias(q, bias, 0, D), B, S, n, h)
		k = splitHeads(msAddBias(k, bias, D, D), B, L, n, h)
		v = splitHeads(msAddBias(v, bias, 2*D, n*hv), B, L, n, hv)
	case kt.Rank() == 4 && vt.Rank() == 4:
		// Cross attention with K and V already in (B, N, L, H).
		L, hv = kt.Shape[2], vt.Shape[3]
		if kt.Shape[0] != B || kt.Shape[1] != n || kt.Shape[3] != h || vt.Shape[0] != B || vt.Shape[1] != n || vt.Shape[2] != L {
			return nil, fmt.Errorf("4-D key %v and value %v must be (%d, %d, kv_sequence, %d)", kt.Shape, vt.Shape, B, n, h)
		}
		if biasT != nil || pkT != nil || pvT != nil {
			return nil, fmt.Errorf("bias, past_key and past_value must be absent when key and value are 4-D")
		}
		q = splitHeads(q, B, S, n, h)
	default:
		return nil, fmt.Errorf("key %v and value %v must both be 3-D or both 4-D (packed KV is not supported by ORT's CPU kernel)", kt.Shape, vt.Shape)
	}
	past := 0
	if (pkT == nil) != (pvT == nil) {
		return nil, fmt.Errorf("past_key and past_value must be given together")
	}
	if pkT != nil {
		if pkT.Rank() != 4 || pvT.Rank() != 4 || pkT.Shape[0] != B || pkT.Shape[1] != n || pkT.Shape[3] != h ||
			pvT.Shape[0] != B || pvT.Shape[1] != n || pvT.Shape[2] != pkT.Shape[2] || pvT.Shape[3] != hv {
			return nil, fmt.Errorf("past_key %v and past_value %v must be (%d, %d, past, %d) and (%d, %d, past, %d)", pkT.Shape, pvT.Shape, B, n, h, B, n, hv)
		}
		past = pkT.Shape[2]
		pk, err := msF32(pkT, "past_key")
		if err != nil {
			return nil, err
		}
		pv, err := msF32(pvT, "past_value")
		if err != nil {
			return nil, err
		}
		k = concatSeq(pk, past, k, L, B, n, h)
		v = concatSeq(pv, past, v, L, B, n, hv)
	}
	T := past + L
	p := msAttn{b: B, n: n, s: S, t: T, h: h, hv: hv, scale: msScale(a.scale, h)}
	if p.mask, err = msMask(maskT, a.causal, B, S, T, past, a.filter); err != nil {
		return nil, fmt.Errorf("key_padding_mask: %w", err)
	}
	if err := p.setBias(abT); err != nil {
		return nil, err
	}
	outs := make([]*Tensor, 3)
	if outs[0], err = FromFloat32(qt.DType, []int{B, S, n * hv}, p.run(ctx, q, k, v)); err != nil {
		return nil, err
	}
	if a.wantPresent {
		if outs[1], err = FromFloat32(qt.DType, []int{B, n, T, h}, k); err != nil {
			return nil, err
		}
		if outs[2], err = FromFloat32(qt.DType, []int{B, n, T, hv}, v); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// msScale is the softmax scale: the attribute, or 1/√head_size when 0.
func msScale(scale float32, h int) float32 {
	if scale == 0 {
		return float32(1 / math.Sqrt(float64(h)))
	}
	return scale
}

// shapeOf prints a possibly absent tensor's shape for error messages.
func shapeOf(t *Tensor) any {
	if t == nil {
		return "absent"
	}
	return t.Shape
}

type msAttentionAttrs struct {
	heads         int
	qkvSizes      []int64 // qkv_hidden_sizes, or nil for three equal parts
	scale, filter float32
	causal        bool
	wantPresent   bool
}

func buildMSAttention(b *Build) (Kernel, error) {
	a := msAttentionAttrs{
		heads:       int(b.Int("num_heads", 0)),
		qkvSizes:    b.Ints("qkv_hidden_sizes", nil),
		scale:       b.Float("scale", 0),
		filter:      b.Float("mask_filter_value", -10000),
		causal:      b.Int("unidirectional", 0) == 1,
		wantPresent: b.HasOutput(1),
	}
	if a.heads <= 0 {
		return nil, fmt.Errorf("num_heads %d must be positive", a.heads)
	}
	if a.qkvSizes != nil && (len(a.qkvSizes) != 3 || a.qkvSizes[0] != a.qkvSizes[1]) {
		return nil, fmt.Errorf("qkv_hidden_sizes %v must be three sizes with equal Q and K", a.qkvSizes)
	}
	for _, x := range a.qkvSizes {
		if x <= 0 || int(x)%a.heads != 0 {
			return nil, fmt.Errorf("qkv_hidden_sizes %v must be positive multiples of num_heads %d", a.qkvSizes, a.heads)
		}
	}
	if b.Int("do_rotary", 0) != 0 || b.Int("past_present_share_buffer", 0) != 0 {
		return nil, fmt.Errorf("do_rotary and past_present_share_buffer are not supported by ORT's CPU kernel")
	}
	if b.HasInput(6) {
		return nil, fmt.Errorf("past_sequence_length (shared past/present buffer) is not supported")
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		return msAttention(ctx, &a, in)
	}, nil
}

// msAttention: com.microsoft Attention, the BERT/GPT-2 self-attention with
// the Q, K, V projection fused in (input × weights + bias).
func msAttention(ctx *Ctx, a *msAttentionAttrs, in []*Tensor) ([]*Tensor, error) {
	xt, wt, biasT := optIn(in, 0), optIn(in, 1), optIn(in, 2)
	maskT, pastT, abT := optIn(in, 3), optIn(in, 4), optIn(in, 5)
	if xt == nil || wt == nil || xt.Rank() != 3 || wt.Rank() != 2 || wt.Shape[0] != xt.Shape[2] {
		return nil, fmt.Errorf("input %v and weights %v must be (batch, sequence, input_hidden) and (input_hidden, 3·hidden)", shapeOf(xt), shapeOf(wt))
	}
	n := a.heads
	B, S, din, dall := xt.Shape[0], xt.Shape[1], xt.Shape[2], wt.Shape[1]
	dq, dk, dv := dall/3, dall/3, dall/3
	if a.qkvSizes != nil {
		dq, dk, dv = int(a.qkvSizes[0]), int(a.qkvSizes[1]), int(a.qkvSizes[2])
	}
	if dq+dk+dv != dall || dq%n != 0 || dv%n != 0 {
		return nil, fmt.Errorf("weights %v do not split into Q, K, V hidden sizes %d, %d, %d divisible by num_heads %d", wt.Shape, dq, dk, dv, n)
	}
	h, hv := dq/n, dv/n
	x, err := msF32(xt, "input")
	if err != nil {
		return nil, err
	}
	w, err := msF32(wt, "weights")
	if err != nil {
		return nil, err
	}
	qkv := make([]float32, B*S*dall)
	if biasT != nil {
		if biasT.Rank() != 1 || biasT.Shape[0] != dall {
			return nil, fmt.Errorf("bias %v must be (%d)", biasT.Shape, dall)
		}
		bias, err := msF32(biasT, "bias")
		if err != nil {
			return nil, err
		}
		for r := 0; r < B*S; r++ {
			copy(qkv[r*dall:], bias)
		}
	}
	sgemm(ctx.Threads(), false, false, B*S, dall, din, 1, x, din, w, dall, 1, qkv, dall)
	q := msSplitCols(qkv, B, S, dall, 0, n, h)
	k := msSplitCols(qkv, B, S, dall, dq, n, h)
	v := msSplitCols(qkv, B, S, dall, dq+dk, n, hv)
	past := 0
	if pastT != nil {
		if h != hv {
			return nil, fmt.Errorf("past needs equal Q, K and V head sizes, got %d and %d", h, hv)
		}
		ps := pastT.Shape
		if len(ps) != 5 || ps[0] != 2 || ps[1] != B || ps[2] != n || ps[4] != h {
			return nil, fmt.Errorf("past %v must be (2, %d, %d, past_sequence, %d)", ps, B, n, h)
		}
		past = ps[3]
		pd, err := msF32(pastT, "past")
		if err != nil {
			return nil, err
		}
		half := len(pd) / 2
		k = concatSeq(pd[:half], past, k, S, B, n, h)
		v = concatSeq(pd[half:], past, v, S, B, n, hv)
	}
	T := past + S
	p := msAttn{b: B, n: n, s: S, t: T, h: h, hv: hv, scale: msScale(a.scale, h)}
	if p.mask, err = msMask(maskT, a.causal, B, S, T, past, a.filter); err != nil {
		return nil, err
	}
	if err := p.setBias(abT); err != nil {
		return nil, err
	}
	outs := make([]*Tensor, 2)
	if outs[0], err = FromFloat32(xt.DType, []int{B, S, n * hv}, p.run(ctx, q, k, v)); err != nil {
		return nil, err
	}
	if a.wantPresent {
		if h != hv {
			return nil, fmt.Errorf("present needs equal K and V head sizes, got %d and %d", h, hv)
		}
		outs[1], err = FromFloat32(xt.DType, []int{2, B, n, T, h}, append(k, v...))
	}
	return outs, err
}

// msSplitCols takes columns [off, off+n·h) of the (B·S, width) x as
// (B, N, S, H).
func msSplitCols(x []float32, b, s, width, off, n, h int) []float32 {
	out := make([]float32, b*n*s*h)
	for bi := 0; bi < b; bi++ {
		for si := 0; si < s; si++ {
			src := x[(bi*s+si)*width+off:]
			for hi := 0; hi < n; hi++ {
				copy(out[((bi*n+hi)*s+si)*h:][:h], src[hi*h:(hi+1)*h])
			}
		}
	}
	return out
}

// msRotaryAttrs are com.microsoft RotaryEmbedding's attributes.
type msRotaryAttrs struct {
	interleaved bool
	heads       int
	rotDim      int
}

func buildMSRotaryEmbedding(b *Build) (Kernel, error) {
	a := msRotaryAttrs{
		interleaved: b.Int("interleaved", 0) == 1,
		heads:       int(b.Int("num_heads", 0)),
		rotDim:      int(b.Int("rotary_embedding_dim", 0)),
	}
	if a.rotDim > 0 && a.heads <= 0 {
		return nil, fmt.Errorf("rotary_embedding_dim %d needs a positive num_heads", a.rotDim)
	}
	if b.Int("is_packed_batching", 0) != 0 {
		return nil, fmt.Errorf("is_packed_batching is not supported by ORT's CPU kernel")
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		return msRotaryEmbedding(ctx, &a, in)
	}, nil
}

// msRotaryEmbedding: input (B, S, hidden) or (B, N, S, H), position_ids (1)
// — the first position, then one per token — or (B, S), and (max_position,
// rotary_dim/2) caches. (The inputs come in a different order from the
// standard op's.)
func msRotaryEmbedding(ctx *Ctx, a *msRotaryAttrs, in []*Tensor) ([]*Tensor, error) {
	xt, posT, cosT, sinT := optIn(in, 0), optIn(in, 1), optIn(in, 2), optIn(in, 3)
	if xt == nil || posT == nil || cosT == nil || sinT == nil {
		return nil, fmt.Errorf("RotaryEmbedding needs input, position_ids, cos_cache and sin_cache")
	}
	if cosT.Rank() != 2 || fmt.Sprint(cosT.Shape) != fmt.Sprint(sinT.Shape) {
		return nil, fmt.Errorf("cos_cache %v and sin_cache %v must be the same (max_position, rotary_dim/2)", cosT.Shape, sinT.Shape)
	}
	half := cosT.Shape[1]
	var B, S, n, h int
	var bStride, sStride, hStride int
	switch xt.Rank() {
	case 3:
		B, S = xt.Shape[0], xt.Shape[1]
		hidden := xt.Shape[2]
		switch {
		case a.heads > 0:
			n = a.heads
		case half > 0 && hidden%(2*half) == 0:
			n = hidden / (2 * half)
		}
		if n <= 0 || hidden%n != 0 {
			return nil, fmt.Errorf("input %v: hidden size is not a multiple of num_heads %d", xt.Shape, n)
		}
		h = hidden / n
		bStride, sStride, hStride = S*hidden, hidden, h
	case 4:
		B, n, S, h = xt.Shape[0], xt.Shape[1], xt.Shape[2], xt.Shape[3]
		bStride, hStride, sStride = n*S*h, S*h, h
	default:
		return nil, fmt.Errorf("input must be 3-D or 4-D, got %v", xt.Shape)
	}
	rd := a.rotDim
	if rd == 0 {
		rd = h
	}
	if rd > h || rd != 2*half {
		return nil, fmt.Errorf("cos_cache %v does not fit rotary dimension %d (head size %d)", cosT.Shape, rd, h)
	}
	pos, err := intsOf(posT)
	if err != nil {
		return nil, fmt.Errorf("position_ids: %w", err)
	}
	if len(pos) != 1 && len(pos) != B*S {
		return nil, fmt.Errorf("position_ids %v must be (1) or (%d, %d)", posT.Shape, B, S)
	}
	x, err := msF32(xt, "input")
	if err != nil {
		return nil, err
	}
	cs, err := msF32(cosT, "cos_cache")
	if err != nil {
		return nil, err
	}
	sn, err := msF32(sinT, "sin_cache")
	if err != nil {
		return nil, err
	}
	y := attnNew[float32](ctx, xt.Shape...)
	copy(y, x) // dimensions past rd are not rotated
	for bi := 0; bi < B; bi++ {
		for si := 0; si < S; si++ {
			p := pos[0] + int64(si)
			if len(pos) > 1 {
				p = pos[bi*S+si]
			}
			if p < 0 || p >= int64(cosT.Shape[0]) {
				return nil, fmt.Errorf("position id %d is outside the cache of %d positions", p, cosT.Shape[0])
			}
			c, sv := cs[int(p)*half:][:half], sn[int(p)*half:][:half]
			for hi := 0; hi < n; hi++ {
				off := bi*bStride + si*sStride + hi*hStride
				ropeRow(x[off:off+rd], y[off:off+rd], c, sv, a.interleaved)
			}
		}
	}
	out, err := FromFloat32(xt.DType, xt.Shape, y)
	return []*Tensor{out}, err
}

// gqaAttrs are GroupQueryAttention's attributes.
type gqaAttrs struct {
	heads, kvHeads int
	scale, softcap float32
	rotary         bool
	interleaved    bool
	window         int // local_window_size; ≤ 0: none
	smooth         bool
}

func buildGroupQueryAttention(b *Build) (Kernel, error) {
	a := gqaAttrs{
		heads:       int(b.Int("num_heads", 0)),
		kvHeads:     int(b.Int("kv_num_heads", 0)),
		scale:       b.Float("scale", 0),
		softcap:     b.Float("softcap", 0),
		rotary:      b.Int("do_rotary", 0) == 1,
		interleaved: b.Int("rotary_interleaved", 0) == 1,
		window:      int(b.Int("local_window_size", -1)),
		smooth:      b.Int("smooth_softmax", 0) == 1,
	}
	if a.heads <= 0 || a.kvHeads <= 0 || a.heads%a.kvHeads != 0 {
		return nil, fmt.Errorf("num_heads %d must be a positive multiple of kv_num_heads %d", a.heads, a.kvHeads)
	}
	for i := 9; i < b.NumInputs(); i++ {
		if b.HasInput(i) {
			return nil, fmt.Errorf("input %d (position_ids, attention_bias, head_sink, quantized KV scales) is not supported", i)
		}
	}
	if b.HasOutput(3) {
		return nil, fmt.Errorf("the output_qk output is not supported")
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		return groupQueryAttention(ctx, &a, in)
	}, nil
}

// gqaShape is one GroupQueryAttention call's sizes.
type gqaShape struct {
	b, s, n, kvn, h  int
	pastBuf, present int  // sequence lengths of the past and present KV buffers
	firstPrompt      bool // the prompt fills the cache from position 0
	seqlens          []int64
}

// groupQueryAttention follows ORT's CPU kernel: causal attention of each
// batch entry over its own seqlens_k[b]+1 keys, the new keys and values
// written into the present cache after that entry's past
// (seqlens_k[b]+1−S rows, or none for the first prompt).
func groupQueryAttention(ctx *Ctx, a *gqaAttrs, in []*Tensor) ([]*Tensor, error) {
	qt, kt, vt, pkT, pvT := optIn(in, 0), optIn(in, 1), optIn(in, 2), optIn(in, 3), optIn(in, 4)
	slT, totT, cosT, sinT := optIn(in, 5), optIn(in, 6), optIn(in, 7), optIn(in, 8)
	if qt == nil || qt.Rank() != 3 || slT == nil || totT == nil {
		return nil, fmt.Errorf("query (3-D), seqlens_k and total_sequence_length are required, got query %v", shapeOf(qt))
	}
	g := gqaShape{b: qt.Shape[0], s: qt.Shape[1], n: a.heads, kvn: a.kvHeads}
	packed := kt == nil
	width := g.n
	if packed {
		if vt != nil {
			return nil, fmt.Errorf("value must be absent when key is (packed QKV)")
		}
		width = g.n + 2*g.kvn
	}
	if qt.Shape[2]%width != 0 {
		return nil, fmt.Errorf("query %v hidden size is not a multiple of %d heads", qt.Shape, width)
	}
	g.h = qt.Shape[2] / width
	q, err := msF32(qt, "query")
	if err != nil {
		return nil, err
	}
	var k, v []float32
	if packed {
		all := splitHeads(q, g.b, g.s, width, g.h) // (B, N+2·kvN, S, H)
		q, k, v = gqaUnpack(all, g)
	} else {
		want := []int{g.b, g.s, g.kvn * g.h}
		if vt == nil || fmt.Sprint(kt.Shape) != fmt.Sprint(want) || fmt.Sprint(vt.Shape) != fmt.Sprint(want) {
			return nil, fmt.Errorf("key %v and value %v must be %v", kt.Shape, shapeOf(vt), want)
		}
		if k, err = msF32(kt, "key"); err != nil {
			return nil, err
		}
		if v, err = msF32(vt, "value"); err != nil {
			return nil, err
		}
		q = splitHeads(q, g.b, g.s, g.n, g.h)
		k = splitHeads(k, g.b, g.s, g.kvn, g.h)
		v = splitHeads(v, g.b, g.s, g.kvn, g.h)
	}
	tot, err := intsOf(totT)
	if err != nil || len(tot) != 1 {
		return nil, fmt.Errorf("total_sequence_length %v must be one integer", totT.Shape)
	}
	if g.seqlens, err = intsOf(slT); err != nil || len(g.seqlens) != g.b {
		return nil, fmt.Errorf("seqlens_k %v must be %d integers", slT.Shape, g.b)
	}
	var pk, pv []float32
	if (pkT == nil) != (pvT == nil) {
		return nil, fmt.Errorf("past_key and past_value must be given together")
	}
	if pkT != nil {
		want := fmt.Sprint([]int{g.b, g.kvn, pkT.Shape[min(2, pkT.Rank()-1)], g.h})
		if pkT.Rank() != 4 || fmt.Sprint(pkT.Shape) != want || fmt.Sprint(pvT.Shape) != want {
			return nil, fmt.Errorf("past_key %v and past_value %v must be (%d, %d, past, %d)", pkT.Shape, pvT.Shape, g.b, g.kvn, g.h)
		}
		g.pastBuf = pkT.Shape[2]
		if pk, err = msF32(pkT, "past_key"); err != nil {
			return nil, err
		}
		if pv, err = msF32(pvT, "past_value"); err != nil {
			return nil, err
		}
	}
	total := int(tot[0])
	g.present = max(total, g.pastBuf)
	g.firstPrompt = g.s > 1 && g.s == total
	for bi, sl := range g.seqlens {
		if sl < 0 || sl >= int64(g.present) || (!g.firstPrompt && int(sl)+1 < g.s) || (!g.firstPrompt && int(sl)+1-g.s > g.pastBuf) {
			return nil, fmt.Errorf("seqlens_k[%d] = %d does not fit %d new tokens, a past of %d and a total of %d", bi, sl, g.s, g.pastBuf, total)
		}
	}
	if a.rotary {
		if err := gqaRotary(a, g, q, k, cosT, sinT); err != nil {
			return nil, err
		}
	}
	presK := attnNew[float32](ctx, g.b, g.kvn, g.present, g.h)
	presV := attnNew[float32](ctx, g.b, g.kvn, g.present, g.h)
	for bi := 0; bi < g.b; bi++ {
		past := g.pastLen(bi)
		for kh := 0; kh < g.kvn; kh++ {
			bh := bi*g.kvn + kh
			dst := bh * g.present * g.h
			copy(presK[dst:], pk[bh*g.pastBuf*g.h:][:past*g.h])
			copy(presV[dst:], pv[bh*g.pastBuf*g.h:][:past*g.h])
			copy(presK[dst+past*g.h:], k[bh*g.s*g.h:(bh+1)*g.s*g.h])
			copy(presV[dst+past*g.h:], v[bh*g.s*g.h:(bh+1)*g.s*g.h])
		}
	}
	y := gqaAttend(ctx, a, g, q, presK, presV)
	outs := make([]*Tensor, 3)
	if outs[0], err = FromFloat32(qt.DType, []int{g.b, g.s, g.n * g.h}, y); err != nil {
		return nil, err
	}
	if outs[1], err = FromFloat32(qt.DType, []int{g.b, g.kvn, g.present, g.h}, presK); err != nil {
		return nil, err
	}
	outs[2], err = FromFloat32(qt.DType, []int{g.b, g.kvn, g.present, g.h}, presV)
	return outs, err
}

// pastLen is the number of cached rows batch entry bi attends to before its
// new tokens.
func (g *gqaShape) pastLen(bi int) int {
	if g.firstPrompt {
		return 0
	}
	return int(g.seqlens[bi]) + 1 - g.s
}

// gqaUnpack splits packed (B, N+2·kvN, S, H) heads into Q, K and V.
func gqaUnpack(all []float32, g gqaShape) (q, k, v []float32) {
	sh := g.s * g.h
	q = make([]float32, g.b*g.n*sh)
	k = make([]float32, g.b*g.kvn*sh)
	v = make([]float32, g.b*g.kvn*sh)
	for bi := 0; bi < g.b; bi++ {
		src := all[bi*(g.n+2*g.kvn)*sh:]
		copy(q[bi*g.n*sh:(bi+1)*g.n*sh], src)
		copy(k[bi*g.kvn*sh:(bi+1)*g.kvn*sh], src[g.n*sh:])
		copy(v[bi*g.kvn*sh:(bi+1)*g.kvn*sh], src[(g.n+g.kvn)*sh:])
	}
	return q, k, v
}

// gqaRotary rotates Q and K (B, heads, S, H) in place at each token's
// position: s for the first prompt, else after the entry's past.
func gqaRotary(a *gqaAttrs, g gqaShape, q, k []float32, cosT, sinT *Tensor) error {
	if cosT == nil || sinT == nil || cosT.Rank() != 2 || fmt.Sprint(cosT.Shape) != fmt.Sprint(sinT.Shape) {
		return fmt.Errorf("do_rotary needs cos_cache and sin_cache of one (max_position, rotary_dim/2) shape, got %v and %v", shapeOf(cosT), shapeOf(sinT))
	}
	half := cosT.Shape[1]
	if 2*half > g.h || half == 0 {
		return fmt.Errorf("cos_cache %v: rotary dimension exceeds the head size %d", cosT.Shape, g.h)
	}
	cs, err := msF32(cosT, "cos_cache")
	if err != nil {
		return err
	}
	sn, err := msF32(sinT, "sin_cache")
	if err != nil {
		return err
	}
	for bi := 0; bi < g.b; bi++ {
		past := g.pastLen(bi)
		for si := 0; si < g.s; si++ {
			p := past + si
			if p >= cosT.Shape[0] {
				return fmt.Errorf("position %d is outside the cache of %d positions", p, cosT.Shape[0])
			}
			c, sv := cs[p*half:][:half], sn[p*half:][:half]
			for _, x := range []struct {
				d     []float32
				heads int
			}{{q, g.n}, {k, g.kvn}} {
				for hi := 0; hi < x.heads; hi++ {
					row := x.d[((bi*x.heads+hi)*g.s+si)*g.h:][:2*half]
					ropeRow(row, row, c, sv, a.interleaved)
				}
			}
		}
	}
	return nil
}

// gqaAttend computes the (B, S, N·H) output from the rotated Q and the
// present caches.
func gqaAttend(ctx *Ctx, a *gqaAttrs, g gqaShape, q, presK, presV []float32) []float32 {
	out := attnNew[float32](ctx, g.b, g.s, g.n*g.h)
	scale := msScale(a.scale, g.h)
	group := g.n / g.kvn
	threads := ctx.Threads()
	scratch := make([][]float32, max(1, min(threads, g.b*g.n)))
	attnParallel(g.b*g.n, threads, func(w, bh int) {
		if scratch[w] == nil {
			scratch[w] = make([]float32, g.s*g.present)
		}
		bi, hi := bh/g.n, bh%g.n
		total := int(g.seqlens[bi]) + 1
		past := g.pastLen(bi)
		sc := scratch[w][:g.s*total]
		kvOff := (bi*g.kvn + hi/group) * g.present * g.h
		sgemm(1, false, true, g.s, total, g.h, scale, q[bh*g.s*g.h:], g.h, presK[kvOff:], g.h, 0, sc, total)
		for i := 0; i < g.s; i++ {
			row := sc[i*total : (i+1)*total]
			// Query i sees keys [start, causal) of its entry.
			causal := min(past+i+1, total)
			start := 0
			if a.window > 0 && causal > a.window {
				start = causal - a.window
			}
			win := row[start:causal]
			if a.softcap > 0 {
				c := float64(a.softcap)
				for j, x := range win {
					win[j] = float32(c * math.Tanh(float64(x)/c))
				}
			}
			if a.smooth {
				gqaSmoothSoftmax(win)
			} else {
				attnSoftmaxRow(win)
			}
			clear(row[:start])
			clear(row[causal:])
		}
		ldo := g.n * g.h
		sgemm(1, false, false, g.s, g.h, total, 1, sc, total, presV[kvOff:], g.h, 0, out[bi*g.s*ldo+hi*g.h:], ldo)
	})
	return out
}

// gqaSmoothSoftmax is softmax with an extra zero logit in the denominator
// (smooth_softmax), so a row can put weight on no key at all.
func gqaSmoothSoftmax(row []float32) {
	m := 0.0
	for _, x := range row {
		m = max(m, float64(x))
	}
	s := math.Exp(-m)
	for j, x := range row {
		e := math.Exp(float64(x) - m)
		row[j] = float32(e)
		s += e
	}
	for j := range row {
		row[j] = float32(float64(row[j]) / s)
	}
}

// buildEmbedLayerNormalization: BERT's embedding block — word, position and
// segment embeddings summed, then layer-normalized — with the mask reduced to
// per-row key counts (mask_index) for the Attention that follows.
func buildEmbedLayerNormalization(b *Build) (Kernel, error) {
	eps := float64(b.Float("epsilon", 1e-12))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		return embedLayerNorm(ctx, eps, in)
	}, nil
}

// embedTable checks an embedding table (rows, H) and returns it as float32.
func embedTable(t *Tensor, name string, h int) ([]float32, int, error) {
	if t == nil || t.Rank() != 2 || (h > 0 && t.Shape[1] != h) {
		return nil, 0, fmt.Errorf("%s %v must be (rows, %d)", name, shapeOf(t), h)
	}
	f, err := msF32(t, name)
	return f, t.Shape[0], err
}

func embedLayerNorm(ctx *Ctx, eps float64, in []*Tensor) ([]*Tensor, error) {
	idsT, segT, posIdsT, maskT := optIn(in, 0), optIn(in, 1), optIn(in, 8), optIn(in, 7)
	if idsT == nil || idsT.Rank() != 2 || optIn(in, 2) == nil {
		return nil, fmt.Errorf("input_ids %v must be (batch, sequence) with a word_embedding", shapeOf(idsT))
	}
	B, S := idsT.Shape[0], idsT.Shape[1]
	word, nWord, err := embedTable(in[2], "word_embedding", 0)
	if err != nil {
		return nil, err
	}
	H := in[2].Shape[1]
	pos, nPos, err := embedTable(optIn(in, 3), "position_embedding", H)
	if err != nil {
		return nil, err
	}
	var seg []float32
	nSeg := 0
	if segT != nil {
		if seg, nSeg, err = embedTable(optIn(in, 4), "segment_embedding", H); err != nil {
			return nil, err
		}
	}
	gammaT, betaT := optIn(in, 5), optIn(in, 6)
	if gammaT == nil || betaT == nil || gammaT.Len() != H || betaT.Len() != H {
		return nil, fmt.Errorf("gamma %v and beta %v must have %d values", shapeOf(gammaT), shapeOf(betaT), H)
	}
	gamma, err := msF32(gammaT, "gamma")
	if err != nil {
		return nil, err
	}
	beta, err := msF32(betaT, "beta")
	if err != nil {
		return nil, err
	}
	// ids reads an optional (B, S) integer input; (1, S) position_ids broadcast.
	ids := func(t *Tensor, name string, bcast bool) ([]int64, error) {
		if t == nil {
			return nil, nil
		}
		if !(t.Rank() == 2 && t.Shape[1] == S && (t.Shape[0] == B || bcast && t.Shape[0] == 1)) {
			return nil, fmt.Errorf("%s %v must be (%d, %d)", name, t.Shape, B, S)
		}
		v, err := intsOf(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return v, nil
	}
	wordIDs, err := ids(idsT, "input_ids", false)
	if err != nil {
		return nil, err
	}
	segIDs, err := ids(segT, "segment_ids", false)
	if err != nil {
		return nil, err
	}
	posIDs, err := ids(posIdsT, "position_ids", true)
	if err != nil {
		return nil, err
	}
	mask, err := ids(maskT, "mask", false)
	if err != nil {
		return nil, err
	}
	out := attnNew[float32](ctx, B, S, H)
	sum := attnNew[float32](ctx, B, S, H)
	for r := 0; r < B*S; r++ {
		si := r % S
		p := int64(si)
		switch {
		case len(posIDs) == S: // (1, S), shared by the batch
			p = posIDs[si]
		case posIDs != nil:
			p = posIDs[r]
		}
		w := wordIDs[r]
		if w < 0 || w >= int64(nWord) || p < 0 || p >= int64(nPos) {
			return nil, fmt.Errorf("token %d: word id %d or position %d is outside its table (%d, %d rows)", r, w, p, nWord, nPos)
		}
		x := sum[r*H : (r+1)*H]
		for i := range x {
			x[i] = word[int(w)*H+i] + pos[int(p)*H+i]
		}
		if segIDs != nil {
			g := segIDs[r]
			if g < 0 || g >= int64(nSeg) {
				return nil, fmt.Errorf("token %d: segment id %d is outside the %d segments", r, g, nSeg)
			}
			for i := range x {
				x[i] += seg[int(g)*H+i]
			}
		}
		var mean, vr float64
		for _, v := range x {
			mean += float64(v)
		}
		mean /= float64(H)
		for _, v := range x {
			vr += (float64(v) - mean) * (float64(v) - mean)
		}
		d := math.Sqrt(vr/float64(H) + eps)
		y := out[r*H : (r+1)*H]
		for i, v := range x {
			y[i] = float32((float64(v)-mean)/d)*gamma[i] + beta[i]
		}
	}
	// mask_index counts each row's ones (zero without a mask).
	mi := make([]int32, B)
	for bi := 0; bi < B && mask != nil; bi++ {
		for _, m := range mask[bi*S : (bi+1)*S] {
			if m == 1 {
				mi[bi]++
			}
		}
	}
	dt := in[2].DType
	y, err := FromFloat32(dt, []int{B, S, H}, out)
	if err != nil {
		return nil, err
	}
	es, err := FromFloat32(dt, []int{B, S, H}, sum)
	return []*Tensor{y, FromSlice(onnx.Int32, []int{B}, mi), es}, err
}

func init() {
	Register(msDomain, "EmbedLayerNormalization", 1, buildEmbedLayerNormalization)
	Register(msDomain, "MultiHeadAttention", 1, buildMultiHeadAttention)
	Register(msDomain, "Attention", 1, buildMSAttention)
	Register(msDomain, "RotaryEmbedding", 1, buildMSRotaryEmbedding)
	Register(msDomain, "GroupQueryAttention", 1, buildGroupQueryAttention)
}
