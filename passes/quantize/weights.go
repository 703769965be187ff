package quantize

import (
	"encoding/binary"
	"math"
	"runtime"
	"slices"
	"unsafe"

	"github.com/onnxslim/onnxslim/interp/simd"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

const (
	int8Type  = int32(onnx.Int8)
	uint8Type = int32(onnx.Uint8)
)

// weighted describes a Conv, ConvTranspose, Gemm or MatMul whose weight is a
// float32 constant, or one weight (W or R) of an LSTM, GRU or RNN.
type weighted struct {
	node *onnx.Node
	w    *onnx.Value // the weight input (index in)
	in   int
	dims []int64
	// outAxis is the weight axis of the output channels (per-channel
	// quantization); redAxis is the reduction axis (int4 blocks run along it).
	outAxis, redAxis int
	// biasOK says the bias (input 2) is indexed by outAxis.
	biasOK bool
}

var weightedOps = map[string]bool{"Conv": true, "ConvTranspose": true, "Gemm": true, "MatMul": true}

// weightOf recognises a node whose input 1 is a float32 constant weight and
// whose input 0 is a float activation.
func weightOf(n *onnx.Node) (*weighted, bool) {
	if n.Domain != "" || !weightedOps[n.OpType] || len(n.Subgraphs()) > 0 {
		return nil, false
	}
	w := n.Input(1)
	t := passes.ConstTensor(w)
	if t == nil || t.DataType != onnx.Float || len(t.Dims) < 2 || !w.IsConst() {
		return nil, false
	}
	if !isFloatAct(n.Input(0)) {
		return nil, false
	}
	r := len(t.Dims)
	wd := &weighted{node: n, w: w, in: 1, dims: t.Dims}
	switch n.OpType {
	case "Conv":
		wd.outAxis, wd.redAxis, wd.biasOK = 0, 1, true
	case "ConvTranspose":
		wd.outAxis, wd.redAxis = 1, 0
		wd.biasOK = n.AttrInt("group", 1) == 1
	case "Gemm":
		if r != 2 {
			return nil, false
		}
		if n.AttrInt("transB", 0) == 1 {
			wd.outAxis, wd.redAxis = 0, 1
		} else {
			wd.outAxis, wd.redAxis = 1, 0
		}
		if b := passes.ConstTensor(n.Input(2)); b != nil {
			wd.biasOK = len(b.Dims) == 1 && b.Dims[0] == t.Dims[wd.outAxis] && n.AttrFloat("beta", 1) == 1 && n.AttrFloat("alpha", 1) == 1
		}
	case "MatMul":
		wd.outAxis, wd.redAxis = r-1, r-2
	}
	return wd, true
}

// recurrentWeights returns the float32 constant weights of an LSTM, GRU or
// RNN: W (input 1, [directions, gates·hidden, input]) and R (input 2,
// [directions, gates·hidden, hidden]), per channel along the gates·hidden
// axis and reduced along the last. Weight-only quantization takes them
// (DequantizeLinear feeds the op its float weights); the bias stays float.
func recurrentWeights(n *onnx.Node) []*weighted {
	if !isRecurrent(n) || !isFloatAct(n.Input(0)) {
		return nil
	}
	var out []*weighted
	for _, in := range []int{1, 2} {
		w := n.Input(in)
		t := passes.ConstTensor(w)
		if t == nil || t.DataType != onnx.Float || len(t.Dims) != 3 || !w.IsConst() {
			continue
		}
		out = append(out, &weighted{node: n, w: w, in: in, dims: t.Dims, outAxis: 1, redAxis: 2})
	}
	return out
}

// isRecurrent reports whether n is an LSTM, GRU or RNN (W input 1, R input 2).
func isRecurrent(n *onnx.Node) bool {
	return n.Domain == "" && (n.OpType == "LSTM" || n.OpType == "GRU" || n.OpType == "RNN")
}

// isFloatAct reports whether v is a float32 activation (not a constant).
func isFloatAct(v *onnx.Value) bool {
	return v != nil && passes.ConstTensor(v) == nil && passes.ElemType(v) == onnx.Float
}

// axisLayout returns, for dims and an axis, the axis length and the number
// of elements after it: element i lies at index (i/inner)%dim on the axis.
func axisLayout(dims []int64, axis int) (dim, inner int) {
	dim, inner = int(dims[axis]), 1
	for _, d := range dims[axis+1:] {
		inner *= int(d)
	}
	return dim, inner
}

// quantSymmetric quantizes w to integers in [-qmax, qmax] with one scale per
// slice along axis (axis < 0: one scale for the whole tensor). The loops
// index by (outer, channel, inner) rather than dividing per element, with
// the outer rows shared out among threads: this runs over every weight of
// a model that may be larger than memory. The arithmetic is the spec's, in
// float64.
func quantSymmetric(w []float32, dims []int64, axis int, qmax float64) ([]int8, []float32) {
	nch, inner := 1, len(w)
	if axis >= 0 {
		nch, inner = axisLayout(dims, axis)
	}
	outer := 0
	if nch*inner > 0 {
		outer = len(w) / (nch * inner)
	}
	threads := max(1, min(runtime.GOMAXPROCS(0), outer))
	rows := func(part int) (int, int) { return part * outer / threads, (part + 1) * outer / threads }
	amaxes := make([][]float64, threads) // a thread's own maxima per channel
	simd.Parallel(threads, threads, func(part int) {
		am := make([]float64, nch)
		o0, o1 := rows(part)
		for o := o0; o < o1; o++ {
			row := w[o*nch*inner : (o+1)*nch*inner]
			if inner == 1 {
				for c, v := range row {
					am[c] = max(am[c], math.Abs(float64(v)))
				}
				continue
			}
			for c := range am {
				a := am[c]
				for _, v := range row[c*inner : (c+1)*inner] {
					a = max(a, math.Abs(float64(v)))
				}
				am[c] = a
			}
		}
		amaxes[part] = am
	})
	scales := make([]float32, nch)
	for c := range scales {
		a := 0.0
		for _, am := range amaxes {
			a = max(a, am[c])
		}
		scales[c] = float32(a / qmax)
		if scales[c] == 0 || math.IsNaN(float64(scales[c])) {
			scales[c] = 1 // an all-zero channel: any scale gives zeros
		}
	}
	q := make([]int8, len(w))
	simd.Parallel(threads, threads, func(part int) {
		o0, o1 := rows(part)
		for at := o0 * nch * inner; at < o1*nch*inner; {
			for _, sc := range scales {
				s := float64(sc)
				for i, v := range w[at : at+inner] {
					x := math.RoundToEven(float64(v) / s)
					q[at+i] = int8(min(max(x, -qmax), qmax))
				}
				at += inner
			}
		}
	})
	return q, scales
}

// quantBlocked quantizes w to int4 with one scale per block of `block`
// consecutive elements along axis (DequantizeLinear's block_size, opset 21).
// Blocks are independent: they are computed in parallel, and element by
// element in plain loops (no index arithmetic per element), since this runs
// over every weight of a model that may be larger than memory.
func quantBlocked(w []float32, dims []int64, axis, block int) ([]int8, []float32, []int64) {
	sdims, scales := blockScales(len(w), dims, axis, block)
	q := make([]int8, len(w))
	eachBlock(len(w), dims, axis, block, func(j, r0, r1, inner int) {
		// |w| and its maximum in float32: exact, and the same numbers as in
		// float64 (NaN included).
		srow := scales[j*inner : (j+1)*inner]
		simd.BlockScalesI4(srow, w[r0*inner:r1*inner], r1-r0, inner)
		for r := r0; r < r1; r++ {
			simd.BlockQuantI4(q[r*inner:(r+1)*inner], w[r*inner:(r+1)*inner], srow)
		}
	})
	return q, scales, sdims
}

// packBlockedInt4 is int4Tensor of quantBlocked's values, and its scales
// and their dims, in one step (simd.BlockQuantI4Rows). It needs an even
// number of elements after axis (every row of a block then packs into
// whole bytes).
func packBlockedInt4(w []float32, dims []int64, axis, block int) (*onnx.Tensor, []float32, []int64) {
	sdims, scales := blockScales(len(w), dims, axis, block)
	packed := make([]byte, len(w)/2)
	packBlockedInt4Into(packed, scales, w, dims, axis, block)
	return onnx.NewTensor("", onnx.Int4, dims, packed), scales, sdims
}

// blockScalesInt4Into is quantBlocked's scales alone, into scales.
func blockScalesInt4Into(scales, w []float32, dims []int64, axis, block int) {
	eachBlock(len(w), dims, axis, block, func(j, r0, r1, inner int) {
		simd.BlockScalesI4(scales[j*inner:(j+1)*inner], w[r0*inner:r1*inner], r1-r0, inner)
	})
}

// blockScales returns the dims of the block scales of a weight of n
// elements and room for them.
func blockScales(n int, dims []int64, axis, block int) ([]int64, []float32) {
	dim, inner := axisLayout(dims, axis)
	sdims := slices.Clone(dims)
	sdims[axis] = int64((dim + block - 1) / block)
	if dim*inner == 0 {
		return sdims, nil
	}
	return sdims, make([]float32, n/dim*int(sdims[axis]))
}

// eachBlock calls f in parallel for each block of rows along axis within
// each outer index of a w of len n (job j: rows r0 to r1 of w seen as
// rows of inner elements), as quantBlocked's jobs.
func eachBlock(n int, dims []int64, axis, block int, f func(j, r0, r1, inner int)) {
	dim, inner := axisLayout(dims, axis)
	sdim := (dim + block - 1) / block
	outer := 0
	if dim*inner > 0 {
		outer = n / (dim * inner)
	}
	simd.Parallel(outer*sdim, runtime.GOMAXPROCS(0), func(j int) {
		o, b := j/sdim, j%sdim
		f(j, o*dim+b*block, o*dim+min(dim, (b+1)*block), inner)
	})
}

// packBlockedInt4Into is packBlockedInt4 into packed (len(w)/2 bytes) and
// scales (as many as quantBlocked's).
func packBlockedInt4Into(packed []byte, scales, w []float32, dims []int64, axis, block int) {
	if _, inner := axisLayout(dims, axis); inner%2 != 0 {
		panic("packBlockedInt4: odd row length")
	}
	eachBlock(len(w), dims, axis, block, func(j, r0, r1, inner int) {
		simd.BlockQuantI4Rows(packed[r0*inner/2:r1*inner/2], scales[j*inner:(j+1)*inner], w[r0*inner:r1*inner], r1-r0, inner)
	})
}

// binarize maps w to ±1 with α = mean |w| per slice along axis.
func binarize(w []float32, dims []int64, axis int) ([]int8, []float32) {
	nch, inner := axisLayout(dims, axis)
	ch := func(i int) int { return (i / inner) % nch }
	sum := make([]float64, nch)
	cnt := make([]float64, nch)
	for i, v := range w {
		sum[ch(i)] += math.Abs(float64(v))
		cnt[ch(i)]++
	}
	alpha := make([]float32, nch)
	for c := range alpha {
		alpha[c] = float32(sum[c] / max(cnt[c], 1))
		if alpha[c] == 0 {
			alpha[c] = 1
		}
	}
	q := make([]int8, len(w))
	for i, v := range w {
		q[i] = 1
		if v < 0 {
			q[i] = -1
		}
	}
	return q, alpha
}

// int8Tensor and the builders below make initializer payloads.
func int8Tensor(dims []int64, q []int8) *onnx.Tensor {
	raw := make([]byte, len(q))
	for i, v := range q {
		raw[i] = byte(v)
	}
	return onnx.NewTensor("", onnx.Int8, dims, raw)
}

// int4Tensor packs two elements per byte, the first in the low nibble.
func int4Tensor(dims []int64, q []int8) *onnx.Tensor {
	raw := make([]byte, (len(q)+1)/2)
	eachChunk(len(raw), func(b0, b1 int) { packInt4(raw[b0:b1], q[2*b0:min(len(q), 2*b1)]) })
	return onnx.NewTensor("", onnx.Int4, dims, raw)
}

// packInt4 packs q (len(q) is 2·len(dst) or one less) into dst, the first
// of each pair in the low nibble: eight elements at a time as one 64-bit
// word (the nibbles masked, each odd one shifted next to its even one,
// the four packed bytes gathered), then element by element.
func packInt4(dst []byte, q []int8) {
	b := 0
	for ; 2*b+8 <= len(q); b += 4 {
		x := binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Pointer(&q[2*b])), 8)) & 0x0F0F0F0F0F0F0F0F
		x = (x | x>>4) & 0x00FF00FF00FF00FF
		x = (x | x>>8) & 0x0000FFFF0000FFFF
		x = x | x>>16
		binary.LittleEndian.PutUint32(dst[b:b+4], uint32(x))
	}
	for ; b < len(dst); b++ {
		lo := byte(q[2*b]) & 0xF
		if 2*b+1 < len(q) {
			lo |= (byte(q[2*b+1]) & 0xF) << 4
		}
		dst[b] = lo
	}
}

// eachChunk runs f on consecutive ranges of [0, n) in parallel (ranges of
// at least 64 Ki elements: smaller tensors are not worth a goroutine).
func eachChunk(n int, f func(i0, i1 int)) {
	const minChunk = 1 << 16
	chunks := max(1, min(runtime.GOMAXPROCS(0)*4, n/minChunk))
	simd.Parallel(chunks, runtime.GOMAXPROCS(0), func(c int) { f(c*n/chunks, (c+1)*n/chunks) })
}

func int32Tensor(dims []int64, q []int32) *onnx.Tensor {
	raw := make([]byte, 4*len(q))
	for i, v := range q {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
	}
	return onnx.NewTensor("", onnx.Int32, dims, raw)
}

func float32Tensor(dims []int64, v []float32) *onnx.Tensor {
	return onnx.NewFloatTensor("", dims, v)
}

// scaleDims is the shape of a per-axis scale ([C]) or a per-tensor one (scalar).
func scaleDims(n int) []int64 {
	if n == 1 {
		return nil
	}
	return []int64{int64(n)}
}

// zeroPoint returns a zero-point tensor of the given type and shape.
func zeroPoint(elem int32, dims []int64, v int32) *onnx.Tensor {
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	switch onnx.DataType(elem) {
	case onnx.Uint8:
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(v)
		}
		return onnx.NewTensor("", onnx.Uint8, dims, raw)
	case onnx.Int32:
		return int32Tensor(dims, make([]int32, n))
	default:
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(int8(v))
		}
		return onnx.NewTensor("", onnx.Int8, dims, raw)
	}
}

// inputChannelAxis is the axis of a weighted layer's input that the weight
// reduces over channel by channel (bias correction needs its per-channel
// mean), or -1 where the correction is not computed.
func inputChannelAxis(w *weighted) int {
	switch {
	case w.node.OpType == "Conv":
		return 1
	case w.node.OpType == "Gemm" && w.node.AttrInt("transA", 0) == 0:
		return 1
	}
	return -1
}

// biasShift is the analytic bias correction of a Conv or Gemm whose float
// weight w becomes wq: (w − wq)·E[x] per output channel, where mean is the
// per-channel mean of the layer's input on the calibration data. Adding it to
// the bias makes the quantized layer's mean output equal the float layer's
// (Nagel et al., "Data-Free Quantization", §4.2; AIMET's bias correction and
// NNCF's fast bias correction do the same). Rounding errors of a channel's
// few weights (depthwise convolutions have 9) do not average out: without
// it they shift the channel's output, and the shifts add up layer after
// layer. nil when the layout is not understood.
func biasShift(wd *weighted, w []float32, wq []int8, scales []float32, mean []float64) []float64 {
	if mean == nil {
		return nil
	}
	dims := wd.dims
	scale := func(o int) float64 {
		if len(scales) == 1 {
			return float64(scales[0])
		}
		return float64(scales[o])
	}
	switch wd.node.OpType {
	case "Conv":
		// weight [M, C/group, k...]; output channel o reads input channels
		// of its group.
		m, cg := int(dims[0]), int(dims[1])
		group := int(wd.node.AttrInt("group", 1))
		if group <= 0 || m%group != 0 || cg*group != len(mean) || (len(scales) != 1 && len(scales) != m) {
			return nil
		}
		k := len(w) / (m * cg)
		shift := make([]float64, m)
		for o := 0; o < m; o++ {
			s, g := scale(o), o/(m/group)
			for i := 0; i < cg; i++ {
				var d float64
				for j := (o*cg + i) * k; j < (o*cg+i+1)*k; j++ {
					d += float64(w[j]) - float64(wq[j])*s
				}
				shift[o] += d * mean[g*cg+i]
			}
		}
		return shift
	case "Gemm":
		// weight [N, K] (transB) or [K, N]; input [M, K].
		rows, cols := int(dims[0]), int(dims[1])
		trans := wd.node.AttrInt("transB", 0) == 1
		n, k := cols, rows
		if trans {
			n, k = rows, cols
		}
		if k != len(mean) || (len(scales) != 1 && len(scales) != n) {
			return nil
		}
		shift := make([]float64, n)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				o, i := c, r
				if trans {
					o, i = r, c
				}
				j := r*cols + c
				shift[o] += (float64(w[j]) - float64(wq[j])*scale(o)) * mean[i]
			}
		}
		return shift
	}
	return nil
}
