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

func init() {
	Register("", "Attention", 23, buildAttention)
}
