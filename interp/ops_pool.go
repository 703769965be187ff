package interp

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// poolIn reads a pooling input as float32: float types (float16 through
// this step's buffers) and, for MaxPool, 8-bit ints.
func poolIn(ctx *Ctx, t *Tensor) ([]float32, error) {
	switch d := t.Data.(type) {
	case []int8:
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = float32(v)
		}
		return out, nil
	case []uint8:
		out := make([]float32, len(d))
		for i, v := range d {
			out[i] = float32(v)
		}
		return out, nil
	}
	if !isFloat(t.DType) {
		return nil, fmt.Errorf("type %s is not supported (want a float type)", t.DType)
	}
	return ctx.float32Of(t)
}

// poolOut wraps float32 results v as a tensor of the input's type dt
// (rounded to float16 into a tensor of this run).
func poolOut(ctx *Ctx, dt onnx.DataType, shape []int, v []float32) (*Tensor, error) {
	switch dt {
	case onnx.Int8:
		out := make([]int8, len(v))
		for i, x := range v {
			out[i] = int8(x)
		}
		return FromSlice(dt, shape, out), nil
	case onnx.Uint8:
		out := make([]uint8, len(v))
		for i, x := range v {
			out[i] = uint8(x)
		}
		return FromSlice(dt, shape, out), nil
	}
	if dt == onnx.Float16 {
		return ctx.roundFloat32(dt, FromSlice(onnx.Float, shape, v)), nil
	}
	return floatOut(dt, shape, v)
}

type poolKind int

const (
	poolMax poolKind = iota
	poolAvg
	poolLp
)

type poolAttrs struct {
	w            windowAttrs
	kind         poolKind
	includePad   bool
	storageOrder int64
	p            float64
}

// pool slides the window over every (n, c) plane of x. For max pooling it
// also returns the flat index of each maximum.
func pool(ctx *Ctx, a *poolAttrs, shape []int, x []float32, wantIdx bool) ([]int, []float32, []int64, error) {
	if len(shape) < 3 {
		return nil, nil, nil, fmt.Errorf("pooling needs rank ≥ 3, got %v", shape)
	}
	g, err := a.w.geometry(shape[2:], nil)
	if err != nil {
		return nil, nil, nil, err
	}
	nd := len(g.in)
	planes := shape[0] * shape[1]
	isz, osz, kvol := prod(g.in), prod(g.out), prod(g.kernel)
	outShape := append([]int{shape[0], shape[1]}, g.out...)
	if nd <= 2 && !wantIdx && a.kind != poolLp {
		out := ctx.newRaw(onnx.Float, outShape...).Floats() // pool2D writes every output
		pool2D(a, as2D(g), planes, x, out, ctx.Threads())
		return outShape, out, nil, nil
	}
	out := newFloats(ctx, outShape...)
	var idx []int64
	if wantIdx {
		idx = ctx.New(onnx.Int64, outShape...).Data.([]int64)
	}
	// Column-major spatial strides for storage_order=1 indices.
	cm := make([]int, nd)
	st := 1
	for d := 0; d < nd; d++ {
		cm[d] = st
		st *= g.in[d]
	}
	oidx := make([]int, nd)
	kidx := make([]int, nd)
	pos := make([]int, nd)
	for o := 0; o < osz; o++ {
		unflatten(o, g.out, oidx)
		// Gather the valid input offsets of this window once for all planes.
		type tap struct{ off, cmOff int }
		taps := make([]tap, 0, kvol)
		padCount := 0
		for kk := 0; kk < kvol; kk++ {
			unflatten(kk, g.kernel, kidx)
			in, inPad := true, true
			off, coff := 0, 0
			for d := 0; d < nd; d++ {
				p := oidx[d]*g.strides[d] - g.padB[d] + kidx[d]*g.dilations[d]
				pos[d] = p
				if p < 0 || p >= g.in[d] {
					in = false
				}
				if p < -g.padB[d] || p >= g.in[d]+g.padE[d] {
					inPad = false
				}
				off = off*g.in[d] + p
				coff += p * cm[d]
			}
			if inPad {
				padCount++
			}
			if in {
				taps = append(taps, tap{off, coff})
			}
		}
		for pl := 0; pl < planes; pl++ {
			xp := x[pl*isz : (pl+1)*isz]
			var v float32
			switch a.kind {
			case poolMax:
				v = float32(math.Inf(-1))
				best := -1
				for _, t := range taps {
					if xv := xp[t.off]; xv > v || best < 0 && xv == v {
						v, best = xv, t.off
						if a.storageOrder == 1 {
							best = t.cmOff
						}
					}
				}
				if wantIdx {
					if best < 0 {
						best = 0
					}
					idx[pl*osz+o] = int64(pl*isz + best)
				}
			case poolAvg:
				var s float32
				for _, t := range taps {
					s += xp[t.off]
				}
				n := len(taps)
				if a.includePad {
					n = padCount
				}
				if n > 0 {
					v = s / float32(n)
				}
			case poolLp:
				var s float64
				for _, t := range taps {
					s += math.Pow(math.Abs(float64(xp[t.off])), a.p)
				}
				v = float32(math.Pow(s, 1/a.p))
			}
			out[pl*osz+o] = v
		}
	}
	return outShape, out, idx, nil
}

// pool2D is max or average pooling over 2-D planes, one plane at a time so
// that reads stay in cache; it visits the taps in the same order as the
// general loop, so sums round alike.
func pool2D(a *poolAttrs, g *spatialGeom, planes int, x, out []float32, threads int) {
	H, W, OH, OW := g.in[0], g.in[1], g.out[0], g.out[1]
	KH, KW := g.kernel[0], g.kernel[1]
	sh, sw, ph, pw := g.strides[0], g.strides[1], g.padB[0], g.padB[1]
	dh, dw := g.dilations[0], g.dilations[1]
	if KH == 2 && KW == 2 && sh == 2 && sw == 2 && dh == 1 && dw == 1 {
		pool2x2(a, g, planes, x, out, threads)
		return
	}
	p := simd.ConvParams{C: planes, H: H, W: W, KH: KH, KW: KW, StrideH: sh, StrideW: sw,
		PadT: ph, PadL: pw, DilH: dh, DilW: dw, OutH: OH, OutW: OW}
	if a.kind == poolMax {
		if simd.PoolInRegisters(&p) {
			// Windows inside the input, few a row or far apart (an 8×8
			// pool of stride 8): each window's max32 in tap order, as the
			// general loop takes it, four windows at a time in registers,
			// as simd.SumPool2D takes sums.
			run := func(pl0, pl1 int) { maxPoolInside(x, out, pl0, pl1, H, W, OH, OW, KH, KW, sh, sw, dh, dw) }
			if threads < 2 || planes < 2 || planes*OH*OW*KH*KW < simd.ParallelMinTaps {
				run(0, planes)
			} else {
				simd.ParallelRuns(planes, threads, run)
			}
			return
		}
		// Separable: column maxima, then row maxima, many planes a call.
		simd.MaxPool2D(out, x, p, threads)
		return
	}
	// Window sums through the vector kernel (taps in the same order,
	// padding adding +0), then one division by each window's count.
	simd.SumPool2D(out, x, p, threads)
	type span struct{ k0, k1, pad int }
	cols := make([]span, OW)
	for ow := range cols {
		k0, k1, pad := poolTaps(ow, sw, pw, dw, KW, W, g.padE[1])
		cols[ow] = span{k0, k1, pad}
	}
	counts := make([]float32, OH*OW)
	empty := false
	for oh := 0; oh < OH; oh++ {
		kh0, kh1, padH := poolTaps(oh, sh, ph, dh, KH, H, g.padE[0])
		for ow, c := range cols {
			n := (kh1 - kh0) * (c.k1 - c.k0)
			if a.includePad {
				n = padH * c.pad
			}
			counts[oh*OW+ow] = float32(n)
			empty = empty || n == 0
		}
	}
	for pl := 0; pl < planes; pl++ {
		op := out[pl*OH*OW : (pl+1)*OH*OW]
		simd.Div(op, op, counts)
		if empty {
			for i, n := range counts {
				if n == 0 {
					op[i] = 0
				}
			}
		}
	}
}

// poolTaps is the range of kernel taps k with 0 ≤ o·s - p + k·d < n, and
// the count of those inside the padded extent [-p, n+pe).
func poolTaps(o, s, p, d, k, n, pe int) (k0, k1, inPad int) {
	k0, k1 = k, 0
	for t := 0; t < k; t++ {
		i := o*s - p + t*d
		if i >= -p && i < n+pe {
			inPad++
		}
		if i >= 0 && i < n {
			k0, k1 = min(k0, t), t+1
		}
	}
	if k1 < k0 {
		k0, k1 = 0, 0
	}
	return k0, k1, inPad
}

// max32 is the larger of v and x, keeping v when x is NaN (the general
// pooling loop ignores NaN taps the same way).
// maxPoolInside sets out to the window maxima of planes [pl0, pl1) for
// windows inside the input (see pool2D).
func maxPoolInside(x, out []float32, pl0, pl1, H, W, OH, OW, KH, KW, sh, sw, dh, dw int) {
	inf := float32(math.Inf(-1))
	for pl := pl0; pl < pl1; pl++ {
		xp, op := x[pl*H*W:(pl+1)*H*W], out[pl*OH*OW:(pl+1)*OH*OW]
		for oh := 0; oh < OH; oh++ {
			orow := op[oh*OW : (oh+1)*OW]
			ow := 0
			for ; ow+4 <= OW; ow += 4 {
				a0, a1, a2, a3 := inf, inf, inf, inf
				for i := 0; i < KH; i++ {
					row := xp[(oh*sh+i*dh)*W+ow*sw:]
					_ = row[3*sw+(KW-1)*dw]
					for j := 0; j < KW; j++ {
						o := j * dw
						a0 = max32(a0, row[o])
						a1 = max32(a1, row[o+sw])
						a2 = max32(a2, row[o+2*sw])
						a3 = max32(a3, row[o+3*sw])
					}
				}
				orow[ow], orow[ow+1], orow[ow+2], orow[ow+3] = a0, a1, a2, a3
			}
			for ; ow < OW; ow++ {
				v := inf
				for i := 0; i < KH; i++ {
					row := xp[(oh*sh+i*dh)*W+ow*sw:]
					for j := 0; j < KW; j++ {
						v = max32(v, row[j*dw])
					}
				}
				orow[ow] = v
			}
		}
	}
}

func max32(v, x float32) float32 {
	if x > v {
		return x
	}
	return v
}

func poolBuilder(kind poolKind) Builder {
	return func(b *Build) (Kernel, error) {
		a := &poolAttrs{w: readWindowAttrs(b), kind: kind, includePad: b.Int("count_include_pad", 0) != 0,
			storageOrder: b.Int("storage_order", 0), p: float64(b.Int("p", 2))}
		if kind == poolLp && b.Opset < 2 {
			a.p = float64(b.Float("p", 2))
		}
		if a.w.kernel == nil {
			return nil, fmt.Errorf("kernel_shape is required")
		}
		wantIdx := kind == poolMax && b.HasOutput(1)
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			x, err := poolIn(ctx, in[0])
			if err != nil {
				return nil, err
			}
			shape, out, idx, err := pool(ctx, a, in[0].Shape, x, wantIdx)
			if err != nil {
				return nil, err
			}
			t, err := poolOut(ctx, in[0].DType, shape, out)
			if err != nil {
				return nil, err
			}
			res := []*Tensor{t, nil}
			if wantIdx {
				res[1] = FromSlice(onnx.Int64, shape, idx)
			}
			return res, nil
		}, nil
	}
}

func globalPoolBuilder(kind poolKind) Builder {
	return func(b *Build) (Kernel, error) {
		p := float64(b.Int("p", 2))
		if b.Opset < 2 {
			p = float64(b.Float("p", 2))
		}
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			x, err := poolIn(ctx, in[0])
			if err != nil {
				return nil, err
			}
			shape := in[0].Shape
			if len(shape) < 2 {
				return nil, fmt.Errorf("global pooling needs rank ≥ 2, got %v", shape)
			}
			planes, isz := shape[0]*shape[1], prod(shape[2:])
			outShape := []int{shape[0], shape[1]}
			for range shape[2:] {
				outShape = append(outShape, 1)
			}
			out := newFloats(ctx, outShape...)
			for pl := 0; pl < planes; pl++ {
				xp := x[pl*isz : (pl+1)*isz]
				switch kind {
				case poolMax:
					v := float32(math.Inf(-1))
					for _, xv := range xp {
						v = max(v, xv)
					}
					out[pl] = v
				case poolAvg:
					out[pl] = simd.Sum(xp) / float32(isz)
				case poolLp:
					var s float64
					for _, xv := range xp {
						s += math.Pow(math.Abs(float64(xv)), p)
					}
					out[pl] = float32(math.Pow(s, 1/p))
				}
			}
			t, err := poolOut(ctx, in[0].DType, outShape, out)
			return []*Tensor{t}, err
		}, nil
	}
}

func init() {
	for _, v := range []int64{1, 8, 10, 11, 12, 22} {
		Register("", "MaxPool", v, poolBuilder(poolMax))
	}
	for _, v := range []int64{1, 7, 10, 11, 19, 22} {
		Register("", "AveragePool", v, poolBuilder(poolAvg))
	}
	for _, v := range []int64{1, 2, 11, 18, 22} {
		Register("", "LpPool", v, poolBuilder(poolLp))
	}
	for _, v := range []int64{1, 22} {
		Register("", "GlobalMaxPool", v, globalPoolBuilder(poolMax))
		Register("", "GlobalAveragePool", v, globalPoolBuilder(poolAvg))
	}
	for _, v := range []int64{1, 2, 22} {
		Register("", "GlobalLpPool", v, globalPoolBuilder(poolLp))
	}
}
