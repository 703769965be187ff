package interp

import (
	"fmt"
	"math"
	"sync"

	"github.com/onnxslim/onnxslim/onnx"
)

// Attention (opset 23/24) and ai.onnx.preview FlexAttention: scaled dot
// product attention computed head by head with the GEMM kernels, in float32
// (float64 for double inputs; float16/bfloat16 are widened and rounded back).

// attnFloat is the computation type of the attention kernels.
type attnFloat interface{ ~float32 | ~float64 }

// attnIn returns a float tensor's elements as []T (no copy when the storage
// already is []T); callers must not modify the result.
func attnIn[T attnFloat](t *Tensor) ([]T, error) {
	if t == nil {
		return nil, fmt.Errorf("missing input")
	}
	if d, ok := t.Data.([]T); ok {
		return d, nil
	}
	if d, ok := t.Data.([]float64); ok {
		out := make([]T, len(d))
		for i, v := range d {
			out[i] = T(v)
		}
		return out, nil
	}
	f, err := floatIn(t)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(f))
	for i, v := range f {
		out[i] = T(v)
	}
	return out, nil
}

// attnOut wraps computed values as a tensor of float type dt, rounding to
// float16/bfloat16 when needed.
func attnOut[T attnFloat](dt onnx.DataType, shape []int, v []T) (*Tensor, error) {
	switch d := any(v).(type) {
	case []float64:
		if dt == onnx.Double {
			return FromSlice(dt, shape, d), nil
		}
		f := make([]float32, len(d))
		for i, x := range d {
			f[i] = float32(x)
		}
		return FromFloat32(dt, shape, f)
	case []float32:
		return FromFloat32(dt, shape, d)
	}
	return nil, fmt.Errorf("unsupported computation type %T", v)
}

// attnNew allocates a computation buffer through the memory-limit check.
func attnNew[T attnFloat](ctx *Ctx, shape ...int) []T {
	var z T
	if _, ok := any(z).(float64); ok {
		return any(ctx.New(onnx.Double, shape...).Data).([]T)
	}
	return any(ctx.New(onnx.Float, shape...).Data).([]T)
}

// attnGemm computes C = alpha·A·op(B) for row-major matrices (A is m×k).
func attnGemm[T attnFloat](transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		sgemm(1, false, transB, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, 0, any(c).([]float32), ldc)
	case []float64:
		dgemm(false, transB, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, 0, any(c).([]float64), ldc)
	}
}

// attnSoftmaxRow replaces row by its softmax. A row with no finite maximum
// (every key masked out) becomes zeros rather than NaN.
func attnSoftmaxRow[T attnFloat](row []T) {
	m := math.Inf(-1)
	for _, v := range row {
		m = max(m, float64(v))
	}
	if math.IsInf(m, -1) {
		clear(row)
		return
	}
	var s float64
	for j, v := range row {
		e := math.Exp(float64(v) - m)
		row[j] = T(e)
		s += e
	}
	for j := range row {
		row[j] = T(float64(row[j]) / s)
	}
}

// attnParallel runs fn(worker, i) for i in [0, n) on up to threads goroutines.
func attnParallel(n, threads int, fn func(worker, i int)) {
	threads = max(1, min(threads, n))
	if threads == 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	var panicked any
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					panicked = r
					mu.Unlock()
				}
			}()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				fn(w, i)
			}
		}(w)
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked) // re-raised on the kernel's goroutine, where the session recovers it
	}
}

// splitHeads turns (B, S, H·D) into (B, H, S, D).
func splitHeads[T any](x []T, b, s, h, d int) []T {
	out := make([]T, len(x))
	for bi := 0; bi < b; bi++ {
		for si := 0; si < s; si++ {
			for hi := 0; hi < h; hi++ {
				copy(out[((bi*h+hi)*s+si)*d:][:d], x[((bi*s+si)*h+hi)*d:][:d])
			}
		}
	}
	return out
}

// mergeHeads turns (B, H, S, D) into (B, S, H·D).
func mergeHeads[T any](x []T, b, h, s, d int) []T {
	out := make([]T, len(x))
	for bi := 0; bi < b; bi++ {
		for hi := 0; hi < h; hi++ {
			for si := 0; si < s; si++ {
				copy(out[((bi*s+si)*h+hi)*d:][:d], x[((bi*h+hi)*s+si)*d:][:d])
			}
		}
	}
	return out
}

// concatSeq concatenates two (B, H, S, D) tensors along S.
func concatSeq[T any](a []T, sa int, c []T, sc int, b, h, d int) []T {
	out := make([]T, b*h*(sa+sc)*d)
	for bh := 0; bh < b*h; bh++ {
		o := out[bh*(sa+sc)*d:]
		copy(o, a[bh*sa*d:(bh+1)*sa*d])
		copy(o[sa*d:], c[bh*sc*d:(bh+1)*sc*d])
	}
	return out
}

type attentionAttrs struct {
	causal          bool
	qHeads, kvHeads int
	scale           float64 // 0: 1/sqrt(head_size)
	softcap         float64
	mode            int64
	wantPresent     bool // present_key/present_value are asked for
	wantQK          bool // qk_matmul_output is asked for
}

func buildAttention(b *Build) (Kernel, error) {
	a := attentionAttrs{
		causal:      b.Int("is_causal", 0) != 0,
		qHeads:      int(b.Int("q_num_heads", 0)),
		kvHeads:     int(b.Int("kv_num_heads", 0)),
		softcap:     float64(b.Float("softcap", 0)),
		mode:        b.Int("qk_matmul_output_mode", 0),
		wantPresent: b.HasOutput(1),
		wantQK:      b.HasOutput(3),
	}
	if b.Has("scale") {
		a.scale = float64(b.Float("scale", 0))
	}
	if a.mode < 0 || a.mode > 3 {
		return nil, fmt.Errorf("qk_matmul_output_mode %d is not 0, 1, 2 or 3", a.mode)
	}
	if b.HasOutput(1) != b.HasOutput(2) {
		return nil, fmt.Errorf("present_key and present_value must be asked for together")
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
			return nil, fmt.Errorf("Attention needs Q, K and V")
		}
		if in[0].DType == onnx.Double {
			return attention[float64](ctx, &a, in)
		}
		return attention[float32](ctx, &a, in)
	}, nil
}

func attention[T attnFloat](ctx *Ctx, a *attentionAttrs, in []*Tensor) ([]*Tensor, error) {
	qt, kt, vt := in[0], in[1], in[2]
	opt := func(i int) *Tensor {
		if i < len(in) {
			return in[i]
		}
		return nil
	}
	maskT, pastK, pastV, nonpadT := opt(3), opt(4), opt(5), opt(6)
	rank := qt.Rank()
	if (rank != 3 && rank != 4) || kt.Rank() != rank || vt.Rank() != rank {
		return nil, fmt.Errorf("Q, K and V must all be 3-D or all 4-D, got %s, %s, %s", qt, kt, vt)
	}
	if (pastK == nil) != (pastV == nil) {
		return nil, fmt.Errorf("past_key and past_value must be given together")
	}
	q, err := attnIn[T](qt)
	if err != nil {
		return nil, fmt.Errorf("Q: %w", err)
	}
	k, err := attnIn[T](kt)
	if err != nil {
		return nil, fmt.Errorf("K: %w", err)
	}
	v, err := attnIn[T](vt)
	if err != nil {
		return nil, fmt.Errorf("V: %w", err)
	}
	B := qt.Shape[0]
	var hq, hkv, sq, skv, d, dv int
	if rank == 4 {
		hq, sq, d = qt.Shape[1], qt.Shape[2], qt.Shape[3]
		hkv, skv, dv = kt.Shape[1], kt.Shape[2], vt.Shape[3]
		if kt.Shape[3] != d || vt.Shape[1] != hkv || vt.Shape[2] != skv || kt.Shape[0] != B || vt.Shape[0] != B {
			return nil, fmt.Errorf("Q %v, K %v and V %v do not agree", qt.Shape, kt.Shape, vt.Shape)
		}
	} else {
		hq, hkv = a.qHeads, a.kvHeads
		if hq <= 0 || hkv <= 0 {
			return nil, fmt.Errorf("3-D inputs need positive q_num_heads and kv_num_heads attributes")
		}
		sq, skv = qt.Shape[1], kt.Shape[1]
		if qt.Shape[2]%hq != 0 || kt.Shape[2]%hkv != 0 || vt.Shape[2]%hkv != 0 {
			return nil, fmt.Errorf("hidden sizes of Q %v, K %v, V %v are not multiples of the head counts %d, %d", qt.Shape, kt.Shape, vt.Shape, hq, hkv)
		}
		d, dv = qt.Shape[2]/hq, vt.Shape[2]/hkv
		if kt.Shape[2]/hkv != d || vt.Shape[1] != skv || kt.Shape[0] != B || vt.Shape[0] != B {
			return nil, fmt.Errorf("Q %v, K %v and V %v do not agree", qt.Shape, kt.Shape, vt.Shape)
		}
		q = splitHeads(q, B, sq, hq, d)
		k = splitHeads(k, B, skv, hkv, d)
		v = splitHeads(v, B, skv, hkv, dv)
	}
	if hkv == 0 || hq%hkv != 0 {
		return nil, fmt.Errorf("q_num_heads %d is not a multiple of kv_num_heads %d", hq, hkv)
	}
	past := 0
	if pastK != nil {
		if pastK.Rank() != 4 || pastV.Rank() != 4 || pastK.Shape[0] != B || pastK.Shape[1] != hkv || pastK.Shape[3] != d ||
			pastV.Shape[0] != B || pastV.Shape[1] != hkv || pastV.Shape[3] != dv || pastV.Shape[2] != pastK.Shape[2] {
			return nil, fmt.Errorf("past_key %v and past_value %v do not match K and V", pastK.Shape, pastV.Shape)
		}
		past = pastK.Shape[2]
		pk, err := attnIn[T](pastK)
		if err != nil {
			return nil, fmt.Errorf("past_key: %w", err)
		}
		pv, err := attnIn[T](pastV)
		if err != nil {
			return nil, fmt.Errorf("past_value: %w", err)
		}
		k = concatSeq(pk, past, k, skv, B, hkv, d)
		v = concatSeq(pv, past, v, skv, B, hkv, dv)
	}
	total := past + skv

	var nonpad []int64
	if nonpadT != nil {
		if nonpad, err = intsOf(nonpadT); err != nil {
			return nil, fmt.Errorf("nonpad_kv_seqlen: %w", err)
		}
		if len(nonpad) != B {
			return nil, fmt.Errorf("nonpad_kv_seqlen has %d values for batch size %d", len(nonpad), B)
		}
	}

	// The mask, widened to T (booleans become 0 / -inf), read through
	// broadcast strides over (B, Hq, Sq, maskLen); keys past maskLen are masked.
	var mask []T
	var mst [4]int
	maskLen := total
	if maskT != nil {
		mr := maskT.Rank()
		if mr < 1 || mr > 4 {
			return nil, fmt.Errorf("attn_mask must have rank 1 to 4, got %v", maskT.Shape)
		}
		maskLen = maskT.Shape[mr-1]
		if maskLen > total {
			return nil, fmt.Errorf("attn_mask %v is longer than the %d keys", maskT.Shape, total)
		}
		full := [4]int{B, hq, sq, maskLen}
		stride := 1
		for i := 3; i >= 0; i-- {
			j := i - (4 - mr)
			if j < 0 {
				continue
			}
			dim := maskT.Shape[j]
			switch {
			case dim == full[i]:
				if dim != 1 {
					mst[i] = stride
				}
			case dim == 1:
			default:
				return nil, fmt.Errorf("attn_mask %v does not broadcast to %v", maskT.Shape, full)
			}
			stride *= dim
		}
		mask = make([]T, maskT.Len())
		switch md := maskT.Data.(type) {
		case []bool:
			for i, ok := range md {
				if !ok {
					mask[i] = T(math.Inf(-1))
				}
			}
		default:
			f, err := attnMaskValues(maskT)
			if err != nil {
				return nil, err
			}
			for i, x := range f {
				mask[i] = T(x)
			}
		}
	}

	scale := a.scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(d))
	}
	yBuf := attnNew[T](ctx, B, hq, sq, dv)
	qkMode := int64(-1) // no qk_matmul_output to fill
	var qkOut []T
	if a.wantQK {
		qkMode = a.mode
		qkOut = attnNew[T](ctx, B, hq, sq, total)
	}
	group := hq / hkv
	threads := ctx.Threads()
	scratch := make([][]T, max(1, min(threads, B*hq)))
	negInf := T(math.Inf(-1))
	attnParallel(B*hq, threads, func(w, bh int) {
		if scratch[w] == nil {
			scratch[w] = make([]T, sq*total)
		}
		s := scratch[w]
		bi, h := bh/hq, bh%hq
		kvh := bi*hkv + h/group
		qm := q[bh*sq*d:]
		km := k[kvh*total*d:]
		vm := v[kvh*total*dv:]
		attnGemm(true, sq, total, d, T(scale), qm, d, km, d, s, total)
		var qk []T
		if qkOut != nil {
			qk = qkOut[bh*sq*total : (bh+1)*sq*total]
		}
		if qkMode == 0 {
			copy(qk, s)
		}
		if a.softcap > 0 {
			c := a.softcap
			for i, x := range s {
				s[i] = T(c * math.Tanh(float64(x)/c))
			}
		}
		if qkMode == 1 {
			copy(qk, s)
		}
		offset := past
		if a.causal && past == 0 && nonpad != nil {
			offset = int(nonpad[bi]) - sq
		}
		for i := 0; i < sq; i++ {
			row := s[i*total : (i+1)*total]
			mrow := 0
			if mask != nil {
				mrow = bi*mst[0] + h*mst[1] + i*mst[2]
			}
			for j := range row {
				if mask != nil {
					if j >= maskLen {
						row[j] = negInf
					} else {
						row[j] += mask[mrow+j*mst[3]]
					}
				}
				if a.causal && j > i+offset {
					row[j] = negInf
				}
				if nonpad != nil && int64(j) >= nonpad[bi] {
					row[j] = negInf
				}
			}
		}
		if qkMode == 2 {
			copy(qk, s)
		}
		for i := 0; i < sq; i++ {
			attnSoftmaxRow(s[i*total : (i+1)*total])
		}
		if qkMode == 3 {
			copy(qk, s)
		}
		attnGemm(false, sq, dv, total, 1, s, total, vm, dv, yBuf[bh*sq*dv:], dv)
	})

	outs := make([]*Tensor, 4)
	if rank == 3 {
		outs[0], err = attnOut(qt.DType, []int{B, sq, hq * dv}, mergeHeads(yBuf, B, hq, sq, dv))
	} else {
		outs[0], err = attnOut(qt.DType, []int{B, hq, sq, dv}, yBuf)
	}
	if err != nil {
		return nil, err
	}
	if a.wantPresent {
		if outs[1], err = attnOut(kt.DType, []int{B, hkv, total, d}, k); err != nil {
			return nil, err
		}
		if outs[2], err = attnOut(vt.DType, []int{B, hkv, total, dv}, v); err != nil {
			return nil, err
		}
	}
	if a.wantQK {
		if outs[3], err = attnOut(qt.DType, []int{B, hq, sq, total}, qkOut); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// attnMaskValues reads a numeric (non-boolean) mask as float64.
func attnMaskValues(t *Tensor) ([]float64, error) {
	switch d := t.Data.(type) {
	case []float64:
		return d, nil
	case []int64:
		return widenF64(d), nil
	case []int32:
		return widenF64(d), nil
	case []int16:
		return widenF64(d), nil
	case []int8:
		return widenF64(d), nil
	case []uint8:
		return widenF64(d), nil
	case []uint32:
		return widenF64(d), nil
	case []uint64:
		return widenF64(d), nil
	}
	if t.DType == onnx.Uint16 {
		return widenF64(t.Data.([]uint16)), nil
	}
	f, err := floatIn(t)
	if err != nil {
		return nil, fmt.Errorf("attn_mask: %w", err)
	}
	return widenF64(f), nil
}

func widenF64[T int64 | int32 | int16 | int8 | uint8 | uint16 | uint32 | uint64 | float32](d []T) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = float64(x)
	}
	return out
}

type flexAttrs struct {
	scale             float64 // 0: 1/sqrt(head_size)
	precision         onnx.DataType
	scoreMod, probMod *Graph
}

func buildFlexAttention(b *Build) (Kernel, error) {
	a := &flexAttrs{}
	if b.Has("scale") {
		a.scale = float64(b.Float("scale", 0))
	}
	if b.Has("softmax_precision") {
		a.precision = onnx.DataType(b.Int("softmax_precision", 0))
		if !isFloat(a.precision) {
			return nil, fmt.Errorf("softmax_precision %s is not a float type", a.precision)
		}
	}
	var err error
	for _, g := range []struct {
		name string
		dst  **Graph
	}{{"score_mod", &a.scoreMod}, {"prob_mod", &a.probMod}} {
		if !b.Has(g.name) {
			continue
		}
		if *g.dst, err = b.Subgraph(g.name); err != nil {
			return nil, err
		}
		if (*g.dst).NumInputs() != 1 || (*g.dst).NumOutputs() != 1 {
			return nil, fmt.Errorf("%s must have one input and one output", g.name)
		}
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
			return nil, fmt.Errorf("FlexAttention needs Q, K and V")
		}
		prec := a.precision
		if prec == onnx.Undefined {
			prec = onnx.Float
			if in[0].DType == onnx.Double {
				prec = onnx.Double
			}
		}
		if prec == onnx.Double {
			return flexAttention[float64](ctx, a, prec, in)
		}
		return flexAttention[float32](ctx, a, prec, in)
	}, nil
}

func flexAttention[T attnFloat](ctx *Ctx, a *flexAttrs, prec onnx.DataType, in []*Tensor) ([]*Tensor, error) {
	qt, kt, vt := in[0], in[1], in[2]
	if qt.Rank() != 4 || kt.Rank() != 4 || vt.Rank() != 4 {
		return nil, fmt.Errorf("Q, K and V must be 4-D, got %s, %s, %s", qt, kt, vt)
	}
	B, hq, l, d := qt.Shape[0], qt.Shape[1], qt.Shape[2], qt.Shape[3]
	hkv, s, dv := kt.Shape[1], kt.Shape[2], vt.Shape[3]
	if kt.Shape[0] != B || vt.Shape[0] != B || kt.Shape[3] != d || vt.Shape[1] != hkv || vt.Shape[2] != s {
		return nil, fmt.Errorf("Q %v, K %v and V %v do not agree", qt.Shape, kt.Shape, vt.Shape)
	}
	if hkv == 0 || hq%hkv != 0 {
		return nil, fmt.Errorf("q_num_heads %d is not a multiple of kv_num_heads %d", hq, hkv)
	}
	q, err := attnIn[T](qt)
	if err != nil {
		return nil, fmt.Errorf("Q: %w", err)
	}
	k, err := attnIn[T](kt)
	if err != nil {
		return nil, fmt.Errorf("K: %w", err)
	}
	v, err := attnIn[T](vt)
	if err != nil {
		return nil, fmt.Errorf("V: %w", err)
	}
	scale := a.scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(d))
	}
	group := hq / hkv
	scores := attnNew[T](ctx, B, hq, l, s)
	for bh := 0; bh < B*hq; bh++ {
		kvh := (bh/hq)*hkv + (bh%hq)/group
		attnGemm(true, l, s, d, T(scale), q[bh*l*d:], d, k[kvh*s*d:], d, scores[bh*l*s:], s)
	}
	// runMod passes the whole (B, Hq, L, S) tensor through a modifier subgraph.
	runMod := func(g *Graph, what string) error {
		if g == nil {
			return nil
		}
		t, err := attnOut(prec, []int{B, hq, l, s}, scores)
		if err != nil {
			return err
		}
		out, err := ctx.RunGraph(g, []*Tensor{t})
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if len(out) != 1 || out[0] == nil || out[0].Kind != KindTensor || fmt.Sprint(out[0].Shape) != fmt.Sprint(t.Shape) {
			return fmt.Errorf("%s must return one tensor of shape %v, got %v", what, t.Shape, out)
		}
		r, err := attnIn[T](out[0])
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		copy(scores, r)
		return nil
	}
	if err := runMod(a.scoreMod, "score_mod"); err != nil {
		return nil, err
	}
	for r := 0; r < B*hq*l; r++ {
		attnSoftmaxRow(scores[r*s : (r+1)*s])
	}
	if err := runMod(a.probMod, "prob_mod"); err != nil {
		return nil, err
	}
	y := attnNew[T](ctx, B, hq, l, dv)
	for bh := 0; bh < B*hq; bh++ {
		kvh := (bh/hq)*hkv + (bh%hq)/group
		attnGemm(false, l, dv, s, 1, scores[bh*l*s:], s, v[kvh*s*dv:], dv, y[bh*l*dv:], dv)
	}
	out, err := attnOut(qt.DType, []int{B, hq, l, dv}, y)
	return []*Tensor{out}, err
}

// buildRotaryEmbedding: rotary position embedding of (B, H, S, D) inputs, or
// (B, S, H·D) with the num_heads attribute.
func buildRotaryEmbedding(b *Build) (Kernel, error) {
	interleaved := b.Int("interleaved", 0) != 0
	numHeads := int(b.Int("num_heads", 0))
	rotDim := int(b.Int("rotary_embedding_dim", 0))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
			return nil, fmt.Errorf("RotaryEmbedding needs X, cos_cache and sin_cache")
		}
		if in[0].DType == onnx.Double {
			return rotaryEmbedding[float64](ctx, in, interleaved, numHeads, rotDim)
		}
		return rotaryEmbedding[float32](ctx, in, interleaved, numHeads, rotDim)
	}, nil
}

func rotaryEmbedding[T attnFloat](ctx *Ctx, in []*Tensor, interleaved bool, numHeads, rotDim int) ([]*Tensor, error) {
	xt, cosT, sinT := in[0], in[1], in[2]
	var posT *Tensor
	if len(in) > 3 {
		posT = in[3]
	}
	var B, h, s, d int
	// Element (b, h, s, i) of X is at b·bStride + h·hStride + s·sStride + i.
	var bStride, hStride, sStride int
	switch xt.Rank() {
	case 4:
		B, h, s, d = xt.Shape[0], xt.Shape[1], xt.Shape[2], xt.Shape[3]
		bStride, hStride, sStride = h*s*d, s*d, d
	case 3:
		if numHeads <= 0 || xt.Shape[2]%numHeads != 0 {
			return nil, fmt.Errorf("3-D input %v needs a num_heads attribute dividing its hidden size", xt.Shape)
		}
		B, s, h = xt.Shape[0], xt.Shape[1], numHeads
		d = xt.Shape[2] / h
		bStride, hStride, sStride = s*h*d, d, h*d
	default:
		return nil, fmt.Errorf("X must be 3-D or 4-D, got %v", xt.Shape)
	}
	rd := rotDim
	if rd == 0 {
		rd = d
	}
	if rd > d || rd%2 != 0 {
		return nil, fmt.Errorf("rotary_embedding_dim %d must be even and at most the head size %d", rd, d)
	}
	half := rd / 2
	var pos []int64
	if posT != nil {
		var err error
		if pos, err = intsOf(posT); err != nil {
			return nil, fmt.Errorf("position_ids: %w", err)
		}
		if len(pos) != B*s {
			return nil, fmt.Errorf("position_ids %v must be (%d, %d)", posT.Shape, B, s)
		}
		if cosT.Rank() != 2 || fmt.Sprint(cosT.Shape) != fmt.Sprint(sinT.Shape) || cosT.Shape[1] != half {
			return nil, fmt.Errorf("cos_cache %v and sin_cache %v must be (max_position, %d)", cosT.Shape, sinT.Shape, half)
		}
	} else if cosT.Rank() != 3 || fmt.Sprint(cosT.Shape) != fmt.Sprint(sinT.Shape) || cosT.Shape[0] != B || cosT.Shape[1] != s || cosT.Shape[2] != half {
		return nil, fmt.Errorf("cos_cache %v and sin_cache %v must be (%d, %d, %d)", cosT.Shape, sinT.Shape, B, s, half)
	}
	x, err := attnIn[T](xt)
	if err != nil {
		return nil, err
	}
	cs, err := attnIn[T](cosT)
	if err != nil {
		return nil, fmt.Errorf("cos_cache: %w", err)
	}
	sn, err := attnIn[T](sinT)
	if err != nil {
		return nil, fmt.Errorf("sin_cache: %w", err)
	}
	y := attnNew[T](ctx, xt.Shape...)
	copy(y, x) // dimensions past rd are not rotated
	for bi := 0; bi < B; bi++ {
		for si := 0; si < s; si++ {
			row := bi*s + si
			if pos != nil {
				p := pos[row]
				if p < 0 || p >= int64(cosT.Shape[0]) {
					return nil, fmt.Errorf("position id %d is outside the cache of %d positions", p, cosT.Shape[0])
				}
				row = int(p)
			}
			c, sv := cs[row*half:(row+1)*half], sn[row*half:(row+1)*half]
			for hi := 0; hi < h; hi++ {
				off := bi*bStride + hi*hStride + si*sStride
				ropeRow(x[off:off+rd], y[off:off+rd], c, sv, interleaved)
			}
		}
	}
	out, err := attnOut(xt.DType, xt.Shape, y)
	return []*Tensor{out}, err
}

// ropeRow rotates the first 2·len(c) values of x into y: pairs (i, i+half),
// or (2i, 2i+1) when interleaved, turn by the angle whose cosine and sine
// are c[i] and s[i].
func ropeRow[T attnFloat](x, y, c, s []T, interleaved bool) {
	half := len(c)
	for i := 0; i < half; i++ {
		i1, i2 := i, i+half
		if interleaved {
			i1, i2 = 2*i, 2*i+1
		}
		x1, x2 := x[i1], x[i2]
		y[i1] = c[i]*x1 - s[i]*x2
		y[i2] = s[i]*x1 + c[i]*x2
	}
}

// buildLinearAttention: the linear / gated / delta / gated_delta recurrences
// over packed (B, T, H·D) inputs, run token by token in float64 per KV head.
func buildLinearAttention(b *Build) (Kernel, error) {
	hq, hkv := int(b.Int("q_num_heads", 0)), int(b.Int("kv_num_heads", 0))
	if hq <= 0 || hkv <= 0 || hq%hkv != 0 {
		return nil, fmt.Errorf("q_num_heads %d must be a positive multiple of kv_num_heads %d", hq, hkv)
	}
	rule := b.String("update_rule", "gated_delta")
	gated, delta := false, false
	switch rule {
	case "linear":
	case "gated":
		gated = true
	case "delta":
		delta = true
	case "gated_delta":
		gated, delta = true, true
	default:
		return nil, fmt.Errorf("unknown update_rule %q", rule)
	}
	scaleAttr := float64(b.Float("scale", 0))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		opt := func(i int) *Tensor {
			if i < len(in) {
				return in[i]
			}
			return nil
		}
		qt, kt, vt, pastT, decayT, betaT := opt(0), opt(1), opt(2), opt(3), opt(4), opt(5)
		if qt == nil || kt == nil || vt == nil {
			return nil, fmt.Errorf("LinearAttention needs query, key and value")
		}
		if qt.Rank() != 3 || kt.Rank() != 3 || vt.Rank() != 3 {
			return nil, fmt.Errorf("query, key and value must be 3-D, got %s, %s, %s", qt, kt, vt)
		}
		B, T := qt.Shape[0], qt.Shape[1]
		if qt.Shape[2]%hq != 0 || kt.Shape[2]%hkv != 0 || vt.Shape[2]%hkv != 0 {
			return nil, fmt.Errorf("hidden sizes %v, %v, %v are not multiples of the head counts %d, %d", qt.Shape, kt.Shape, vt.Shape, hq, hkv)
		}
		dk, dv := qt.Shape[2]/hq, vt.Shape[2]/hkv
		if kt.Shape[2] != hkv*dk || kt.Shape[0] != B || vt.Shape[0] != B || kt.Shape[1] != T || vt.Shape[1] != T {
			return nil, fmt.Errorf("query %v, key %v and value %v do not agree", qt.Shape, kt.Shape, vt.Shape)
		}
		if gated && decayT == nil {
			return nil, fmt.Errorf("update_rule %q needs the decay input", rule)
		}
		if delta && betaT == nil {
			return nil, fmt.Errorf("update_rule %q needs the beta input", rule)
		}
		q, err := attnIn[float64](qt)
		if err != nil {
			return nil, err
		}
		k, err := attnIn[float64](kt)
		if err != nil {
			return nil, err
		}
		v, err := attnIn[float64](vt)
		if err != nil {
			return nil, err
		}
		state := make([]float64, B*hkv*dk*dv)
		stateType := qt.DType
		if pastT != nil {
			if fmt.Sprint(pastT.Shape) != fmt.Sprint([]int{B, hkv, dk, dv}) {
				return nil, fmt.Errorf("past_state %v must be (%d, %d, %d, %d)", pastT.Shape, B, hkv, dk, dv)
			}
			p, err := attnIn[float64](pastT)
			if err != nil {
				return nil, fmt.Errorf("past_state: %w", err)
			}
			copy(state, p)
			stateType = pastT.DType
		}
		// decay per key dimension (width hkv·dk) or per head (width hkv);
		// beta per head (width hkv) or shared (width 1).
		var decay, beta []float64
		decayW, betaW := 0, 0
		if gated {
			if decayT.Rank() != 3 || decayT.Shape[0] != B || decayT.Shape[1] != T || (decayT.Shape[2] != hkv*dk && decayT.Shape[2] != hkv) {
				return nil, fmt.Errorf("decay %v must be (%d, %d, %d or %d)", decayT.Shape, B, T, hkv*dk, hkv)
			}
			if decay, err = attnIn[float64](decayT); err != nil {
				return nil, fmt.Errorf("decay: %w", err)
			}
			decayW = decayT.Shape[2]
		}
		if delta {
			if betaT.Rank() != 3 || betaT.Shape[0] != B || betaT.Shape[1] != T || (betaT.Shape[2] != hkv && betaT.Shape[2] != 1) {
				return nil, fmt.Errorf("beta %v must be (%d, %d, %d or 1)", betaT.Shape, B, T, hkv)
			}
			if beta, err = attnIn[float64](betaT); err != nil {
				return nil, fmt.Errorf("beta: %w", err)
			}
			betaW = betaT.Shape[2]
		}
		scale := scaleAttr
		if scale == 0 {
			scale = 1 / math.Sqrt(float64(dk))
		}
		group := hq / hkv
		out := make([]float64, B*T*hq*dv)
		u := make([]float64, dv)
		for bi := 0; bi < B; bi++ {
			for kh := 0; kh < hkv; kh++ {
				st := state[(bi*hkv+kh)*dk*dv:][:dk*dv]
				for t := 0; t < T; t++ {
					bt := bi*T + t
					kr := k[bt*hkv*dk+kh*dk:][:dk]
					vr := v[bt*hkv*dv+kh*dv:][:dv]
					if gated {
						for i := 0; i < dk; i++ {
							var g float64
							if decayW == hkv {
								g = decay[bt*decayW+kh]
							} else {
								g = decay[bt*decayW+kh*dk+i]
							}
							e := math.Exp(g)
							for j := range st[i*dv : (i+1)*dv] {
								st[i*dv+j] *= e
							}
						}
					}
					if delta {
						bv := beta[bt*betaW+min(kh, betaW-1)]
						// u = β·(v − Sᵀk), then S += k ⊗ u.
						for j := range u {
							var s float64
							for i := 0; i < dk; i++ {
								s += st[i*dv+j] * kr[i]
							}
							u[j] = bv * (vr[j] - s)
						}
					} else {
						copy(u, vr)
					}
					for i := 0; i < dk; i++ {
						for j := 0; j < dv; j++ {
							st[i*dv+j] += kr[i] * u[j]
						}
					}
					for h := kh * group; h < (kh+1)*group; h++ {
						qr := q[bt*hq*dk+h*dk:][:dk]
						or := out[bt*hq*dv+h*dv:][:dv]
						for i := 0; i < dk; i++ {
							qi := qr[i] * scale
							for j := 0; j < dv; j++ {
								or[j] += qi * st[i*dv+j]
							}
						}
					}
				}
			}
		}
		y, err := attnOut(qt.DType, []int{B, T, hq * dv}, out)
		if err != nil {
			return nil, err
		}
		ps, err := attnOut(stateType, []int{B, hkv, dk, dv}, state)
		return []*Tensor{y, ps}, err
	}, nil
}

func init() {
	Register("", "Attention", 23, buildAttention)
	Register("", "Attention", 24, buildAttention) // adds nonpad_kv_seqlen
	Register("ai.onnx.preview", "FlexAttention", 1, buildFlexAttention)
	Register("", "RotaryEmbedding", 23, buildRotaryEmbedding)
	Register("", "LinearAttention", 27, buildLinearAttention)
}
