package interp

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// QDQ fusion (the default; Options.FloatQDQ turns it off).
//
// The QDQ pattern that onnxslim's quantize pass (and ONNX Runtime's static
// quantizer) writes around a convolution,
//
//	DequantizeLinear(x_q) → Conv(W = DequantizeLinear(const w_q), B) → [Relu|Clip] → QuantizeLinear,
//
// runs as one integer convolution of x_q and w_q (the int8 GEMM), then per
// output channel y = acc·(sx·sw) + B, the activation's bounds, and
// QuantizeLinear's own rounding. The float path sums the dequantized
// products in float32; this one sums them exactly, so an output may land
// one quantization step away where the float sum sat near a rounding
// boundary. That is why it is opt-in.
//
// Ungrouped convolutions run on the int8 GEMM, 2-D depthwise ones on
// simd.DepthwiseQ8 (exact integer sums too); other grouped ones are not
// fused. The Conv step then reads x_q instead of the dequantized
// value; the DequantizeLinear step is skipped when the Conv was its only
// reader; the activation and QuantizeLinear steps pass the Conv's
// quantized output through.

// qdqConv is what one fused convolution needs at run time.
type qdqConv struct {
	wa         windowAttrs
	zx         *Tensor // DequantizeLinear(x)'s zero point, nil for 0
	wq, wzp    *Tensor // the int8 weights and their zero point(s)
	mult, bias []float32
	lo, hi     float32
	clip       bool
	sy, zy     float32
	yType      onnx.DataType
	wc         prepacked
	wdw        []float32                // depthwise: the weights minus their zero point
	dwf        *simd.DepthwiseQ8Filters // depthwise: wdw laid out for simd.DepthwiseQ8Requant
}

func (q *qdqConv) kernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	if x.Rank() != q.wq.Rank() {
		return nil, fmt.Errorf("convolution needs N×C×spatial input matching weights %v, got %v", q.wq.Shape, x.Shape)
	}
	g, err := q.wa.geometry(x.Shape[2:], q.wq.Shape[2:])
	if err != nil {
		return nil, err
	}
	out := ctx.newRaw(q.yType, append([]int{x.Shape[0], q.wq.Shape[0]}, g.out...)...)
	osz := prod(g.out)
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if q.clip {
		lo, hi = q.lo, q.hi
	}
	// Each block of rows is requantized as soon as it is done, while in
	// cache: y = (acc+t)·mult + bias (two float32 roundings, as the float
	// path's ScaleShift), the bounds, then QuantizeLinear's rounding, in
	// one pass.
	ob, signed := bytesOf(out), q.yType == onnx.Int8
	m := len(q.mult)
	blockDone := func(r0, rows, j0, w int, chunk, t []int32) {
		ch := r0 % m // one group: the rows are channels ch.. of one image
		o := r0*osz + j0
		simd.Int32Requant8Rows(ob[o:], osz, chunk, rows, w, t, q.mult[ch:ch+rows], q.bias[ch:ch+rows], lo, hi, q.sy, q.zy, signed)
	}
	if _, _, err := convI8(ctx, q.wa, 1, x, q.zx, q.wq, q.wzp, &q.wc, blockDone); err != nil {
		return nil, err
	}
	return []*Tensor{out}, nil
}

// passQuantized wraps the kernel of a step fused into a QDQ convolution:
// an 8-bit input (the convolution's quantized result) passes through.
func passQuantized(orig Kernel) Kernel {
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if t := in[0]; t != nil && t.Kind == KindTensor && (t.DType == onnx.Uint8 || t.DType == onnx.Int8) {
			return []*Tensor{t}, nil
		}
		return orig(ctx, in)
	}
}

// skipped is the kernel of a DequantizeLinear whose only reader now reads
// its input: an empty placeholder nobody reads.
func skipped(*Ctx, []*Tensor) ([]*Tensor, error) {
	return []*Tensor{{DType: onnx.Float, Shape: []int{0}, Data: []float32{}}}, nil
}

// qdqScalarParams reads a DequantizeLinear/QuantizeLinear step's scalar
// float scale and its 8-bit zero point (nil for none).
func qdqScalarParams(st *step, constT map[int]*Tensor) (float32, *Tensor, bool) {
	if len(st.in) < 2 || st.in[1] < 0 {
		return 0, nil, false
	}
	s := constT[st.in[1]]
	if s == nil || s.DType != onnx.Float || s.Len() != 1 {
		return 0, nil, false
	}
	var zp *Tensor
	if len(st.in) > 2 && st.in[2] >= 0 {
		zp = constT[st.in[2]]
		if zp == nil || zp.Len() != 1 || zp.DType != onnx.Uint8 && zp.DType != onnx.Int8 {
			return 0, nil, false
		}
	}
	return s.Floats()[0], zp, true
}

// zeroValue is an 8-bit scalar zero point as a float32, 0 for none.
func zeroValue(zp *Tensor) float32 {
	if zp != nil {
		switch d := zp.Data.(type) {
		case []uint8:
			return float32(d[0])
		case []int8:
			return float32(d[0])
		}
	}
	return 0
}

// fuseQDQConvs finds the pattern above among p's steps and fuses it.
// lastUse (slot → index of its last reading step) is kept up to date.
func (c *compiler) fuseQDQConvs(p *plan, g *onnx.Graph, constT map[int]*Tensor, lastUse map[int]int) {
	sg := newStepGraph(p, g)
	next, producer, readers := sg.next, sg.producer, sg.readers
	konst := func(v *onnx.Value) *Tensor { return planConst(p, constT, v) }
	scalarParams := func(st *step) (float32, *Tensor, bool) { return qdqScalarParams(st, constT) }
	for i := range p.steps {
		st := &p.steps[i]
		n := st.node
		if !isOp(n, "Conv") || len(st.in) < 2 || st.in[0] < 0 || st.in[1] < 0 {
			continue
		}
		b := &Build{Node: n, Opset: opsetFor(c.model, n.Domain), c: c}
		group := b.Int("group", 1)
		// x: a DequantizeLinear step with scalar parameters.
		di, ok := producer[st.in[0]]
		if !ok || !isOp(p.steps[di].node, "DequantizeLinear") || p.steps[di].in[0] < 0 {
			continue
		}
		sx, zx, ok := scalarParams(&p.steps[di])
		if !ok {
			continue
		}
		// w: DequantizeLinear of constant 8-bit weights, per tensor or per output channel.
		wn, wq, ws, wzp, ok := constWeightDQ(n.Input(1), konst)
		if !ok || len(wq.Shape) < 3 {
			continue
		}
		m := wq.Shape[0]
		depthwise := group == int64(m) && wq.Shape[1] == 1 && len(wq.Shape) == 4
		if group != 1 && !depthwise {
			continue
		}
		wb := &Build{Node: wn, Opset: opsetFor(c.model, wn.Domain), c: c}
		if ws.Len() != 1 && (ws.Len() != m || wb.Int("axis", 1) != 0 || wb.Int("block_size", 0) != 0) {
			continue
		}
		if wzp != nil && wzp.Len() != ws.Len() {
			continue
		}
		bias := make([]float32, m)
		if len(st.in) > 2 && st.in[2] >= 0 {
			bt := constT[st.in[2]]
			if bt == nil || bt.DType != onnx.Float || bt.Len() != m {
				continue
			}
			copy(bias, bt.Floats())
		}
		q := &qdqConv{wa: readWindowAttrs(b), zx: zx, wq: wq, wzp: wzp, bias: bias}
		if depthwise {
			if q.wdw = depthwiseWeights(wq, wzp); q.wdw == nil {
				continue
			}
			q.dwf = simd.NewDepthwiseQ8Filters(q.wdw, m, wq.Shape[2], wq.Shape[3])
		}
		q.mult = make([]float32, m)
		for ch := range q.mult {
			q.mult[ch] = sx * ws.Floats()[min(ch, ws.Len()-1)]
		}
		var fused []int
		last := i
		if j, ok := next(last); ok {
			if lo, hi, ok := c.actEpilogue(&p.steps[j], constT); ok {
				q.clip, q.lo, q.hi = true, lo, hi
				fused = append(fused, j)
				last = j
			}
		}
		j, ok := next(last)
		if !ok || !isOp(p.steps[j].node, "QuantizeLinear") {
			continue
		}
		sy, zy, ok := scalarParams(&p.steps[j])
		if !ok {
			continue
		}
		q.sy, q.yType = sy, onnx.Uint8
		if zy != nil {
			q.yType = zy.DType
			switch d := zy.Data.(type) {
			case []uint8:
				q.zy = float32(d[0])
			case []int8:
				q.zy = float32(d[0])
			}
		}
		if n := p.steps[j].node; n.Attr("output_dtype") != nil && onnx.DataType(n.AttrInt("output_dtype", 0)) != q.yType {
			continue
		}
		fused = append(fused, j)
		// Rewire: the Conv reads x_q; the DequantizeLinear runs only for other readers.
		fx, qx := st.in[0], p.steps[di].in[0]
		st.in[0] = qx
		lastUse[qx] = max(lastUse[qx], i)
		if readers[fx] == 1 {
			delete(lastUse, fx)
			p.steps[di].kernel = skipped
		}
		st.kernel = q.kernel
		if depthwise {
			st.kernel = q.depthwise
		}
		for _, f := range fused {
			p.steps[f].kernel = passQuantized(p.steps[f].kernel)
		}
	}
}

// depthwiseWeights returns the 2-D depthwise weights wq (C×1×KH×KW) minus
// their zero point as floats, or nil when their sums might not be exact in
// float32 (simd.DepthwiseQ8Exact).
func depthwiseWeights(wq, wzp *Tensor) []float32 {
	w := make([]float32, wq.Len())
	taps := wq.Len() / wq.Shape[0]
	var maxW float32
	for i := range w {
		var v, z float32
		switch d := wq.Data.(type) {
		case []int8:
			v = float32(d[i])
		case []uint8:
			v = float32(d[i])
		}
		if wzp != nil {
			switch d := wzp.Data.(type) {
			case []int8:
				z = float32(d[min(i/taps, len(d)-1)])
			case []uint8:
				z = float32(d[min(i/taps, len(d)-1)])
			}
		}
		w[i] = v - z
		maxW = max(maxW, w[i], -w[i])
	}
	if !simd.DepthwiseQ8Exact(taps, maxW) {
		return nil
	}
	return w
}

// depthwise is the kernel of a fused 2-D depthwise convolution: exact sums
// per channel, requantized while in cache as kernel requantizes a row.
func (q *qdqConv) depthwise(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	c := q.wq.Shape[0]
	if x.Rank() != 4 || x.Shape[1] != c {
		return nil, fmt.Errorf("depthwise convolution needs N×%d×H×W input, got %v", c, x.Shape)
	}
	g, err := q.wa.geometry(x.Shape[2:], q.wq.Shape[2:])
	if err != nil {
		return nil, err
	}
	p := simd.ConvParams{C: c, H: g.in[0], W: g.in[1], KH: g.kernel[0], KW: g.kernel[1],
		StrideH: g.strides[0], StrideW: g.strides[1], PadT: g.padB[0], PadL: g.padB[1],
		DilH: g.dilations[0], DilW: g.dilations[1], OutH: g.out[0], OutW: g.out[1]}
	out := ctx.newRaw(q.yType, x.Shape[0], c, p.OutH, p.OutW)
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if q.clip {
		lo, hi = q.lo, q.hi
	}
	var zx float32
	if q.zx != nil {
		switch d := q.zx.Data.(type) {
		case []uint8:
			zx = float32(d[0])
		case []int8:
			zx = float32(d[0])
		}
	}
	var xb []byte
	signed := false
	switch d := x.Data.(type) {
	case []uint8:
		xb = d
	case []int8:
		xb, signed = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), len(d)), true
	default:
		return nil, fmt.Errorf("depthwise convolution needs 8-bit input, got %v", x.DType)
	}
	isz, osz := p.H*p.W, p.OutH*p.OutW
	if simd.DepthwiseQ8Fits(p) && signed == (q.yType == onnx.Int8) {
		// Bytes to bytes in one kernel (the same bytes as below).
		ob := bytesOf(out)
		for b := 0; b < x.Shape[0]; b++ {
			simd.DepthwiseQ8Requant(ob[b*c*osz:(b+1)*c*osz], xb[b*c*isz:(b+1)*c*isz], signed, zx, q.dwf, q.mult, q.bias, lo, hi, q.sy, q.zy, p, ctx.Threads())
		}
		return []*Tensor{out}, nil
	}
	for b := 0; b < x.Shape[0]; b++ {
		xs := xb[b*c*isz : (b+1)*c*isz]
		done := func(ch int, acc []float32) {
			o := (b*c + ch) * osz
			switch d := out.Data.(type) {
			case []uint8:
				simd.Requant8U8(d[o:o+osz], acc, q.mult[ch], q.bias[ch], lo, hi, q.sy, q.zy)
			case []int8:
				simd.Requant8I8(d[o:o+osz], acc, q.mult[ch], q.bias[ch], lo, hi, q.sy, q.zy)
			}
		}
		simd.DepthwiseQ8(xs, signed, zx, q.wdw, p, ctx.Threads(), done)
	}
	return []*Tensor{out}, nil
}

// QDQ residual Adds (always, with Options.FloatQDQ or without):
//
//	DequantizeLinear(a_q), DequantizeLinear(b_q) → Add → QuantizeLinear
//
// with scalar parameters and a, b and the result all uint8 or all int8 run
// as one pass over the 8-bit values (simd.AddQ8), each step rounded as the
// float ops round it: the same bytes as the float path. Inputs of other
// shapes or types (broadcasting) are dequantized and added by the Add's
// own kernel, and QuantizeLinear quantizes the sum as before.

// qdqAddInput is one dequantized input of a fused Add.
type qdqAddInput struct {
	scale, zp *Tensor
	s, z      float32
}

// qdqAdd is what one fused Add needs at run time.
type qdqAdd struct {
	in     [2]qdqAddInput
	sy, zy float32
	yType  onnx.DataType
	orig   Kernel // the Add's kernel, for inputs AddQ8 does not take
}

func (q *qdqAdd) kernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	a, b := in[0], in[1]
	if a.DType == q.yType && b.DType == q.yType && slicesEqual(a.Shape, b.Shape) {
		out := ctx.newRaw(q.yType, a.Shape...)
		signed := q.yType == onnx.Int8
		simd.AddQ8(bytesOf(out), bytesOf(a), bytesOf(b), signed, q.in[0].z, q.in[0].s, q.in[1].z, q.in[1].s, q.sy, q.zy)
		return []*Tensor{out}, nil
	}
	var f [2]*Tensor
	for k, x := range in[:2] {
		t, ok, err := dequantizeFast(ctx, x, q.in[k].scale, q.in[k].zp, 1, 0, onnx.Undefined)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("cannot dequantize %v input %d of a fused QDQ Add", x.DType, k)
		}
		f[k] = t
	}
	return q.orig(ctx, f[:])
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// bytesOf is the data of a uint8 or int8 tensor as bytes.
func bytesOf(t *Tensor) []byte {
	switch d := t.Data.(type) {
	case []uint8:
		return d
	case []int8:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), len(d))
	}
	panic(fmt.Sprintf("interp: bytesOf %v", t.DType))
}

// fuseQDQAdds finds the Add pattern above among p's steps (after
// fuseQDQConvs, whose fused convolutions no longer read the dequantized
// values) and fuses it. lastUse is kept up to date.
func (c *compiler) fuseQDQAdds(p *plan, g *onnx.Graph, constT map[int]*Tensor, lastUse map[int]int) {
	sg := newStepGraph(p, g)
	for i := range p.steps {
		st := &p.steps[i]
		if !isOp(st.node, "Add") || len(st.in) != 2 || st.in[0] < 0 || st.in[1] < 0 || !soleOutput(st) {
			continue
		}
		q := &qdqAdd{orig: st.kernel}
		var dq [2]int
		ok := true
		for k := range dq {
			di, found := sg.producer[st.in[k]]
			if !found || !isOp(p.steps[di].node, "DequantizeLinear") || p.steps[di].in[0] < 0 {
				ok = false
				break
			}
			s, zp, good := qdqScalarParams(&p.steps[di], constT)
			if !good {
				ok = false
				break
			}
			dq[k] = di
			q.in[k] = qdqAddInput{scale: constT[p.steps[di].in[1]], zp: zp, s: s, z: zeroValue(zp)}
		}
		if !ok {
			continue
		}
		j, found := sg.next(i)
		if !found || !isOp(p.steps[j].node, "QuantizeLinear") {
			continue
		}
		sy, zy, good := qdqScalarParams(&p.steps[j], constT)
		if !good {
			continue
		}
		q.sy, q.zy, q.yType = sy, zeroValue(zy), onnx.Uint8
		if zy != nil {
			q.yType = zy.DType
		}
		if n := p.steps[j].node; n.Attr("output_dtype") != nil && onnx.DataType(n.AttrInt("output_dtype", 0)) != q.yType {
			continue
		}
		// Rewire: the Add reads a_q and b_q; a DequantizeLinear only the
		// Add read is skipped.
		for k, di := range dq {
			fx, qx := st.in[k], p.steps[di].in[0]
			st.in[k] = qx
			lastUse[qx] = max(lastUse[qx], i)
			if sg.readers[fx] == 1 {
				delete(lastUse, fx)
				p.steps[di].kernel = skipped
			}
		}
		st.kernel = q.kernel
		p.steps[j].kernel = passQuantized(p.steps[j].kernel)
	}
}

// QDQ Gemms (unless Options.FloatQDQ): the classifier pattern
//
//	DequantizeLinear(x_q) × DequantizeLinear(const w_q)ᵀ + C → float y
//
// (transB = 1, alpha = beta = 1, x 2-D, scalar x parameters, w per tensor
// or per output row, C constant of N floats or absent) runs as integer
// sums on the int8 GEMM, then y = float32(acc·(sx·sw)) + C per output: a
// quarter of the weight bytes of the float product, which streams them
// from memory at batch 1. As with the convolutions, exact sums may differ
// from the float path's rounded ones in the last bits.

// qdqGemm is what one fused Gemm needs at run time.
type qdqGemm struct {
	zx         *Tensor // x's zero point, nil for 0
	w4, wzp    *Tensor // w_q viewed as N×K×1×1, its zero point(s)
	mult, bias []float32
	wc         prepacked
}

// conv1x1 are the window attributes of a 1×1 convolution: the Gemm runs
// as one over N×K×1×1 views.
var conv1x1 = windowAttrs{kernel: []int64{1, 1}, strides: []int64{1, 1}, pads: []int64{0, 0, 0, 0}, dilations: []int64{1, 1}}

func (q *qdqGemm) kernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	k, n := q.w4.Shape[1], q.w4.Shape[0]
	if x.Rank() != 2 || x.Shape[1] != k {
		return nil, fmt.Errorf("fused QDQ Gemm needs an M×%d input, got %v", k, x.Shape)
	}
	m := x.Shape[0]
	out := ctx.newRaw(onnx.Float, m, n)
	y := out.Floats()
	x4 := &Tensor{Kind: x.Kind, DType: x.DType, Shape: []int{m, k, 1, 1}, Data: x.Data}
	blockDone := func(r0, rows, _, _ int, chunk, t []int32) {
		for i := 0; i < rows; i++ {
			r := r0 + i
			ch := r % n
			y[r] = float32(float32(chunk[i]+t[i])*q.mult[ch]) + q.bias[ch]
		}
	}
	if _, _, err := convI8(ctx, conv1x1, 1, x4, q.zx, q.w4, q.wzp, &q.wc, blockDone); err != nil {
		return nil, err
	}
	return []*Tensor{out}, nil
}

// fuseQDQGemms finds the Gemm pattern above among p's steps and fuses it.
// lastUse is kept up to date.
func (c *compiler) fuseQDQGemms(p *plan, g *onnx.Graph, constT map[int]*Tensor, lastUse map[int]int) {
	sg := newStepGraph(p, g)
	konst := func(v *onnx.Value) *Tensor { return planConst(p, constT, v) }
	for i := range p.steps {
		st := &p.steps[i]
		n := st.node
		if !isOp(n, "Gemm") || len(st.in) < 2 || st.in[0] < 0 || st.in[1] < 0 || !soleOutput(st) {
			continue
		}
		if n.AttrInt("transA", 0) != 0 || n.AttrInt("transB", 0) != 1 || n.AttrFloat("alpha", 1) != 1 || n.AttrFloat("beta", 1) != 1 {
			continue
		}
		di, ok := sg.producer[st.in[0]]
		if !ok || !isOp(p.steps[di].node, "DequantizeLinear") || p.steps[di].in[0] < 0 {
			continue
		}
		sx, zx, ok := qdqScalarParams(&p.steps[di], constT)
		if !ok {
			continue
		}
		wn, wq, ws, wzp, ok := constWeightDQ(n.Input(1), konst)
		if !ok || wq.Rank() != 2 {
			continue
		}
		rows := wq.Shape[0]
		wb := &Build{Node: wn, Opset: opsetFor(c.model, wn.Domain), c: c}
		if ws.Len() != 1 && (ws.Len() != rows || wb.Int("axis", 1) != 0 || wb.Int("block_size", 0) != 0) {
			continue
		}
		if wzp != nil && wzp.Len() != ws.Len() {
			continue
		}
		bias := make([]float32, rows)
		if len(st.in) > 2 && st.in[2] >= 0 {
			bt := constT[st.in[2]]
			if bt == nil || bt.DType != onnx.Float || bt.Len() != rows || bt.Rank() > 2 || bt.Rank() == 2 && bt.Shape[0] != 1 {
				continue
			}
			copy(bias, bt.Floats())
		}
		q := &qdqGemm{zx: zx, wzp: wzp, bias: bias, mult: make([]float32, rows),
			w4: &Tensor{Kind: wq.Kind, DType: wq.DType, Shape: []int{rows, wq.Shape[1], 1, 1}, Data: wq.Data}}
		for ch := range q.mult {
			q.mult[ch] = sx * ws.Floats()[min(ch, ws.Len()-1)]
		}
		// Rewire: the Gemm reads x_q; the DequantizeLinear runs only for other readers.
		fx, qx := st.in[0], p.steps[di].in[0]
		st.in[0] = qx
		lastUse[qx] = max(lastUse[qx], i)
		if sg.readers[fx] == 1 {
			delete(lastUse, fx)
			p.steps[di].kernel = skipped
		}
		st.kernel = q.kernel
	}
}

// QDQ depthwise convolutions on the float path (always, with Options.FloatQDQ or
// without; after fuseQDQConvs, which takes them first unless FloatQDQ):
//
//	DequantizeLinear(x_q) → Conv(group = C, constant float W, B) → [Relu|Clip] → QuantizeLinear
//
// with scalar parameters, x and y of one 8-bit type and 2-D windows with
// row stride 1 or 2 run as simd.DepthwiseQDQ: bytes to bytes in one pass,
// every step rounded as the float ops round it, so the bytes are the float
// path's (the same W the float Conv reads, its summation order, Clip and
// QuantizeLinear's rounding).

// qdqDwFloat is what one such convolution needs at run time.
type qdqDwFloat struct {
	wa     windowAttrs
	w      *Tensor // C×1×KH×KW float filters
	bias   []float32
	zx, sx float32
	xType  onnx.DataType
	lo, hi float32
	sy, zy float32
}

func (q *qdqDwFloat) kernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	c := q.w.Shape[0]
	if x.Rank() != 4 || x.Shape[1] != c {
		return nil, fmt.Errorf("depthwise convolution needs N×%d×H×W input, got %v", c, x.Shape)
	}
	if x.DType != q.xType {
		return nil, fmt.Errorf("DequantizeLinear input is %v, its zero point %v", x.DType, q.xType)
	}
	g, err := q.wa.geometry(x.Shape[2:], q.w.Shape[2:])
	if err != nil {
		return nil, err
	}
	p := simd.ConvParams{C: c, H: g.in[0], W: g.in[1], KH: g.kernel[0], KW: g.kernel[1],
		StrideH: g.strides[0], StrideW: g.strides[1], PadT: g.padB[0], PadL: g.padB[1],
		DilH: g.dilations[0], DilW: g.dilations[1], OutH: g.out[0], OutW: g.out[1]}
	if !simd.DepthwiseQ8Fits(p) {
		return nil, fmt.Errorf("fused QDQ depthwise convolution with row stride %d", p.StrideW)
	}
	out := ctx.newRaw(q.xType, x.Shape[0], c, p.OutH, p.OutW)
	xb, ob := bytesOf(x), bytesOf(out)
	isz, osz := p.H*p.W, p.OutH*p.OutW
	for b := 0; b < x.Shape[0]; b++ {
		simd.DepthwiseQDQ(ob[b*c*osz:(b+1)*c*osz], xb[b*c*isz:(b+1)*c*isz], q.xType == onnx.Int8, q.zx, q.sx, q.w.Floats(), q.bias, q.lo, q.hi, q.sy, q.zy, p, ctx.Threads())
	}
	return []*Tensor{out}, nil
}

// fuseQDQDepthwise finds the pattern above among p's steps and fuses it.
// lastUse is kept up to date.
func (c *compiler) fuseQDQDepthwise(p *plan, g *onnx.Graph, constT map[int]*Tensor, lastUse map[int]int) {
	sg := newStepGraph(p, g)
	for i := range p.steps {
		st := &p.steps[i]
		n := st.node
		if !isOp(n, "Conv") || len(st.in) < 2 || st.in[0] < 0 || st.in[1] < 0 || !soleOutput(st) {
			continue
		}
		w := constT[st.in[1]]
		if w == nil || w.Kind != KindTensor || w.DType != onnx.Float || w.Rank() != 4 || w.Shape[1] != 1 {
			continue
		}
		ch := w.Shape[0]
		b := &Build{Node: n, Opset: opsetFor(c.model, n.Domain), c: c}
		if b.Int("group", 1) != int64(ch) || ch < 2 {
			continue
		}
		wa := readWindowAttrs(b)
		if s := wa.strides; len(s) == 2 && s[1] != 1 && s[1] != 2 {
			continue
		}
		di, ok := sg.producer[st.in[0]]
		if !ok || !isOp(p.steps[di].node, "DequantizeLinear") || p.steps[di].in[0] < 0 {
			continue
		}
		sx, zx, ok := qdqScalarParams(&p.steps[di], constT)
		if !ok || zx == nil {
			continue
		}
		q := &qdqDwFloat{wa: wa, w: w, bias: make([]float32, ch), zx: zeroValue(zx), sx: sx, xType: zx.DType,
			lo: float32(math.Inf(-1)), hi: float32(math.Inf(1))}
		if len(st.in) > 2 && st.in[2] >= 0 {
			bt := constT[st.in[2]]
			if bt == nil || bt.DType != onnx.Float || bt.Len() != ch {
				continue
			}
			copy(q.bias, bt.Floats())
		}
		var fused []int
		last := i
		if j, ok := sg.next(last); ok {
			if lo, hi, ok := c.actEpilogue(&p.steps[j], constT); ok {
				q.lo, q.hi = lo, hi
				fused = append(fused, j)
				last = j
			}
		}
		j, ok := sg.next(last)
		if !ok || !isOp(p.steps[j].node, "QuantizeLinear") {
			continue
		}
		sy, zy, ok := qdqScalarParams(&p.steps[j], constT)
		if !ok || zy == nil || zy.DType != q.xType {
			continue
		}
		if qn := p.steps[j].node; qn.Attr("output_dtype") != nil && onnx.DataType(qn.AttrInt("output_dtype", 0)) != q.xType {
			continue
		}
		q.sy, q.zy = sy, zeroValue(zy)
		fused = append(fused, j)
		// Rewire: the Conv reads x_q; the DequantizeLinear runs only for other readers.
		fx, qx := st.in[0], p.steps[di].in[0]
		st.in[0] = qx
		lastUse[qx] = max(lastUse[qx], i)
		if sg.readers[fx] == 1 {
			delete(lastUse, fx)
			p.steps[di].kernel = skipped
		}
		st.kernel = q.kernel
		for _, f := range fused {
			p.steps[f].kernel = passQuantized(p.steps[f].kernel)
		}
	}
}

// planConst is v's constant tensor in p, or nil.
func planConst(p *plan, constT map[int]*Tensor, v *onnx.Value) *Tensor {
	if v == nil {
		return nil
	}
	s, ok := p.slots[v]
	if !ok {
		return nil
	}
	return constT[s]
}

// constWeightDQ matches w as the DequantizeLinear wn of constant 8-bit
// weights wq with float scales ws and, when given, a constant zero point wzp.
func constWeightDQ(w *onnx.Value, konst func(*onnx.Value) *Tensor) (wn *onnx.Node, wq, ws, wzp *Tensor, ok bool) {
	wn = w.Producer()
	if wn == nil || !isOp(wn, "DequantizeLinear") || len(wn.Inputs()) < 2 {
		return nil, nil, nil, nil, false
	}
	wq, ws = konst(wn.Input(0)), konst(wn.Input(1))
	if len(wn.Inputs()) > 2 && wn.Input(2) != nil {
		if wzp = konst(wn.Input(2)); wzp == nil {
			return nil, nil, nil, nil, false
		}
	}
	if wq == nil || ws == nil || wq.DType != onnx.Int8 && wq.DType != onnx.Uint8 || ws.DType != onnx.Float {
		return nil, nil, nil, nil, false
	}
	return wn, wq, ws, wzp, true
}
