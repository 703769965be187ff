package interp

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// floatInputs reads the given inputs as float32 (nil stays nil).
func floatInputs(ts ...*Tensor) ([][]float32, error) {
	out := make([][]float32, len(ts))
	for i, t := range ts {
		if t == nil {
			continue
		}
		v, err := floatIn(t)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// batchNorm: inference uses the running statistics; training mode
// (BatchNormTraining) normalises with the batch statistics and also
// returns the updated running mean and variance.
// bnCoeff is BatchNormalization's scale and shift for one channel (or
// position): y = x·k + sh. Conv epilogue fusion (fuse.go) uses it too.
func bnCoeff(scale, bias, mean, vr float32, eps float64) (k, sh float32) {
	k = float32(float64(scale) / math.Sqrt(float64(vr)+eps))
	return k, bias - mean*k
}

// BatchNormTraining reports whether BatchNormalization node n normalises
// with its batch's own statistics: from opset 14 its training_mode says
// so; before, listing a statistics output does (ONNX's "output case #1",
// as ONNX Runtime reads it: PyTorch's training-mode exports), and below
// opset 7 that with is_test=0.
func BatchNormTraining(n *onnx.Node, opset int64) bool {
	if opset >= 14 {
		return n.AttrInt("training_mode", 0) != 0
	}
	extra := false
	for i, o := range n.Outputs() {
		extra = extra || i > 0 && o != nil
	}
	if opset < 7 {
		return extra && n.AttrInt("is_test", 0) == 0
	}
	return extra
}

func batchNormBuilder(b *Build) (Kernel, error) {
	eps := float64(b.Float("epsilon", 1e-5))
	momentum := float64(b.Float("momentum", 0.9))
	training := BatchNormTraining(b.Node, b.Opset)
	nout := max(3, b.NumOutputs())
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) < 5 {
			return nil, fmt.Errorf("5 inputs are required, got %d", len(in))
		}
		v, err := floatInputs(in[0], in[1], in[2], in[3], in[4])
		if err != nil {
			return nil, err
		}
		x, scale, bias, mean, vr := v[0], v[1], v[2], v[3], v[4]
		shape := in[0].Shape
		if len(shape) < 2 {
			return nil, fmt.Errorf("input needs rank ≥ 2, got %v", shape)
		}
		n, c, inner := shape[0], shape[1], prod(shape[2:])
		// Parameters are per channel, or per (channel, position) for the
		// old spatial=0 form.
		per := len(scale)
		if per != c && per != c*inner {
			return nil, fmt.Errorf("scale has %d elements for %d channels", per, c)
		}
		for _, p := range [][]float32{bias, mean, vr} {
			if len(p) != per {
				return nil, fmt.Errorf("scale, bias, mean and var differ in size")
			}
		}
		// Every element is written below, each after reading x at its index.
		var y []float32
		if in[0].DType == onnx.Float {
			y = ctx.reuseInput(in[0]).Floats()
		} else {
			y = ctx.newRaw(onnx.Float, shape...).Floats()
		}
		var outMean, outVar, savedMean, savedInvStd []float32
		useMean, useVar := mean, vr
		if training && per == c {
			bm := make([]float32, c)
			bv := make([]float32, c)
			cnt := float64(n * inner)
			for ch := 0; ch < c; ch++ {
				var s, ss float64
				for bi := 0; bi < n; bi++ {
					for _, xv := range x[(bi*c+ch)*inner : (bi*c+ch+1)*inner] {
						s += float64(xv)
						ss += float64(xv) * float64(xv)
					}
				}
				m := s / cnt
				bm[ch], bv[ch] = float32(m), float32(ss/cnt-m*m)
			}
			useMean, useVar = bm, bv
			// Before opset 14, outputs 3 and 4 are the batch's mean and,
			// as ONNX Runtime writes it, its inverse standard deviation.
			savedMean, savedInvStd = bm, make([]float32, c)
			for ch, v := range bv {
				savedInvStd[ch] = float32(1 / math.Sqrt(float64(v)+eps))
			}
			outMean, outVar = make([]float32, c), make([]float32, c)
			for ch := range outMean {
				outMean[ch] = float32(float64(mean[ch])*momentum + float64(bm[ch])*(1-momentum))
				outVar[ch] = float32(float64(vr[ch])*momentum + float64(bv[ch])*(1-momentum))
			}
		}
		for bi := 0; bi < n; bi++ {
			for ch := 0; ch < c; ch++ {
				off := (bi*c + ch) * inner
				for i := 0; i < inner; i++ {
					p := ch
					if per != c {
						p = ch*inner + i
					}
					if i > 0 && per == c {
						break
					}
					k, sh := bnCoeff(scale[p], bias[p], useMean[p], useVar[p], eps)
					switch {
					case per == c && inner >= 16:
						simd.ScaleShift(y[off:off+inner], x[off:off+inner], k, sh)
					case per == c:
						// A few positions (a BatchNormalization after a
						// Gemm: one): the kernel call costs more than
						// them; the same unfused product and sum.
						for j := off; j < off+inner; j++ {
							y[j] = float32(x[j]*k) + sh
						}
					default:
						y[off+i] = x[off+i]*k + sh
					}
				}
			}
		}
		dt := in[0].DType
		out, err := floatOut(dt, shape, y)
		if err != nil {
			return nil, err
		}
		res := make([]*Tensor, nout)
		res[0] = out
		if outMean != nil {
			for i, st := range [][]float32{outMean, outVar, savedMean, savedInvStd}[:min(nout-1, 4)] {
				if res[i+1], err = floatOut(in[3+i%2].DType, in[3+i%2].Shape, st); err != nil {
					return nil, err
				}
			}
		}
		return res, nil
	}, nil
}

// normalizeRows standardises each of the outer rows of length inner, then
// scales by gamma and shifts by beta (each nil or inner long), and returns
// each row's mean and 1/sqrt(var+eps). Statistics are float32 sums in
// vector lanes, as ONNX Runtime's CPU kernels take them.
func normalizeRows(x, y []float32, outer, inner int, eps float64, gamma, beta []float32) (means, inv []float32) {
	means, inv = make([]float32, outer), make([]float32, outer)
	for o := 0; o < outer; o++ {
		means[o], inv[o] = simd.LayerNorm(y[o*inner:(o+1)*inner], x[o*inner:(o+1)*inner], gamma, beta, float32(eps))
	}
	return means, inv
}

// rmsRows divides each row by its root mean square, then scales it by
// scale (nil: 1), and returns each row's 1/rms.
func rmsRows(x, y []float32, outer, inner int, eps float64, scale []float32) (inv []float32) {
	inv = make([]float32, outer)
	for o := 0; o < outer; o++ {
		row, yr := x[o*inner:(o+1)*inner], y[o*inner:(o+1)*inner]
		ms := float64(simd.Dot(row, row)) / float64(inner)
		inv[o] = float32(1 / math.Sqrt(ms+eps))
		simd.Scale(yr, row, inv[o])
		if scale != nil {
			simd.Mul(yr, yr, scale)
		}
	}
	return inv
}

func layerNormBuilder(b *Build) (Kernel, error) { return lnBuilder(b, false) }
func rmsNormBuilder(b *Build) (Kernel, error)   { return lnBuilder(b, true) }

// lnBuilder serves LayerNormalization and RMSNormalization (no centring, no
// bias, one output).
func lnBuilder(b *Build, rms bool) (Kernel, error) {
	axis := b.Int("axis", -1)
	eps := float64(b.Float("epsilon", 1e-5))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		t := in[0]
		ax, err := normAxis(axis, len(t.Shape))
		if err != nil {
			return nil, err
		}
		outer, inner := prod(t.Shape[:ax]), prod(t.Shape[ax:])
		x, err := floatIn(t)
		if err != nil {
			return nil, err
		}
		norm := t.Shape[ax:]
		// Scale and bias broadcast to the normalised shape.
		param := func(i int) ([]float32, error) {
			if len(in) <= i || in[i] == nil {
				return nil, nil
			}
			v, err := floatIn(in[i])
			if err != nil {
				return nil, err
			}
			if len(v) == inner {
				return v, nil
			}
			if _, err := BroadcastShape(in[i].Shape, norm); err != nil || len(in[i].Shape) > len(norm) {
				return nil, fmt.Errorf("input %d %v does not broadcast to %v", i, in[i].Shape, norm)
			}
			return Broadcast[float32](ctx, FromSlice(onnx.Float, in[i].Shape, v), norm).Floats(), nil
		}
		scale, err := param(1)
		if err != nil {
			return nil, err
		}
		bias, err := param(2)
		if err != nil {
			return nil, err
		}
		y := newFloats(ctx, t.Shape...)
		var means, inv []float32
		if rms {
			rmsRows(x, y, outer, inner, eps, scale)
		} else {
			means, inv = normalizeRows(x, y, outer, inner, eps, scale, bias)
		}
		out, err := floatOut(t.DType, t.Shape, y)
		if err != nil || rms {
			return []*Tensor{out}, err
		}
		statShape := append([]int{}, t.Shape...)
		for i := ax; i < len(statShape); i++ {
			statShape[i] = 1
		}
		// Mean and InvStdDev use stash_type (float32 by default).
		m := FromSlice(onnx.Float, statShape, means)
		s := FromSlice(onnx.Float, statShape, inv)
		return []*Tensor{out, m, s}, nil
	}, nil
}

// channelNorm normalises groups of channels of an N×C×… tensor: each of the
// n·groups blocks is standardised, then scaled per channel.
func channelNorm(ctx *Ctx, t *Tensor, scale, bias []float32, groups int, eps float64, perGroupParams bool) (*Tensor, error) {
	x, err := floatIn(t)
	if err != nil {
		return nil, err
	}
	if len(t.Shape) < 2 {
		return nil, fmt.Errorf("input needs rank ≥ 2, got %v", t.Shape)
	}
	n, c, sp := t.Shape[0], t.Shape[1], prod(t.Shape[2:])
	if groups <= 0 || c%groups != 0 {
		return nil, fmt.Errorf("%d channels are not divisible into %d groups", c, groups)
	}
	want := c
	if perGroupParams {
		want = groups
	}
	if len(scale) != want || len(bias) != want {
		return nil, fmt.Errorf("scale and bias need %d elements, got %d and %d", want, len(scale), len(bias))
	}
	y := newFloats(ctx, t.Shape...)
	blk := c / groups * sp
	normalizeRows(x, y, n*groups, blk, eps, nil, nil)
	for bi := 0; bi < n; bi++ {
		for ch := 0; ch < c; ch++ {
			p := ch
			if perGroupParams {
				p = ch / (c / groups)
			}
			row := y[(bi*c+ch)*sp : (bi*c+ch+1)*sp]
			simd.ScaleShift(row, row, scale[p], bias[p])
		}
	}
	return floatOut(t.DType, t.Shape, y)
}

func init() {
	for _, v := range []int64{1, 6, 7, 9, 14, 15} {
		Register("", "BatchNormalization", v, batchNormBuilder)
	}
	Register("", "LayerNormalization", 17, layerNormBuilder)
	Register("", "RMSNormalization", 23, rmsNormBuilder)
	for _, v := range []int64{1, 6, 22} {
		Register("", "InstanceNormalization", v, func(b *Build) (Kernel, error) {
			eps := float64(b.Float("epsilon", 1e-5))
			return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
				p, err := floatInputs(in[1], in[2])
				if err != nil {
					return nil, err
				}
				if len(in[0].Shape) < 2 {
					return nil, fmt.Errorf("input needs rank ≥ 2")
				}
				out, err := channelNorm(ctx, in[0], p[0], p[1], in[0].Shape[1], eps, false)
				return []*Tensor{out}, err
			}, nil
		})
	}
	for _, v := range []int64{18, 21} {
		perGroup := v < 21
		Register("", "GroupNormalization", v, func(b *Build) (Kernel, error) {
			eps := float64(b.Float("epsilon", 1e-5))
			groups := int(b.Int("num_groups", 0))
			return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
				p, err := floatInputs(in[1], in[2])
				if err != nil {
					return nil, err
				}
				out, err := channelNorm(ctx, in[0], p[0], p[1], groups, eps, perGroup)
				return []*Tensor{out}, err
			}, nil
		})
	}
	for _, v := range []int64{1, 13} {
		Register("", "LRN", v, lrnBuilder)
	}
	for _, v := range []int64{1, 9, 13} {
		Register("", "MeanVarianceNormalization", v, mvnBuilder)
	}
	for _, v := range []int64{1, 22} {
		Register("", "LpNormalization", v, lpNormBuilder)
	}
	for _, v := range []int64{1, 6, 7, 10, 12, 13, 22} {
		Register("", "Dropout", v, dropoutBuilder)
	}
}

func lrnBuilder(b *Build) (Kernel, error) {
	alpha := float64(b.Float("alpha", 1e-4))
	beta := float64(b.Float("beta", 0.75))
	bias := float64(b.Float("bias", 1))
	size := int(b.Int("size", 0))
	if size <= 0 {
		return nil, fmt.Errorf("size must be positive, got %d", size)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		t := in[0]
		x, err := floatIn(t)
		if err != nil {
			return nil, err
		}
		if len(t.Shape) < 2 {
			return nil, fmt.Errorf("input needs rank ≥ 2")
		}
		n, c, sp := t.Shape[0], t.Shape[1], prod(t.Shape[2:])
		y := newFloats(ctx, t.Shape...)
		lo, hi := (size-1)/2, (size-1+1)/2
		// Each channel's window sum of squares, plane by plane in vector
		// calls (the squares of the window's channels added in channel
		// order, as the per-element loop added them), then the scale.
		sq, sum := ctx.scratch(c*sp), ctx.scratch(sp)
		k := float32(alpha / float64(size))
		for bi := 0; bi < n; bi++ {
			xb := x[bi*c*sp : (bi+1)*c*sp]
			simd.Mul(sq, xb, xb)
			for ch := 0; ch < c; ch++ {
				k0, k1 := max(0, ch-lo), min(c-1, ch+hi)
				copy(sum, sq[k0*sp:(k0+1)*sp])
				for j := k0 + 1; j <= k1; j++ {
					simd.Add(sum, sum, sq[j*sp:(j+1)*sp])
				}
				simd.ScaleShift(sum, sum, k, float32(bias))
				xc, yc := xb[ch*sp:(ch+1)*sp], y[(bi*c+ch)*sp:(bi*c+ch+1)*sp]
				if beta == 0.75 { // AlexNet's and GoogLeNet's: s^-0.75 = 1/(√s·⁴√s)
					for i, s := range sum {
						r := math.Sqrt(float64(s))
						yc[i] = float32(float64(xc[i]) / (r * math.Sqrt(r)))
					}
					continue
				}
				for i, s := range sum {
					yc[i] = float32(float64(xc[i]) / math.Pow(float64(s), beta))
				}
			}
		}
		out, err := floatOut(t.DType, t.Shape, y)
		return []*Tensor{out}, err
	}, nil
}

// MVNAxes is the axes a MeanVarianceNormalization normalises over: its
// axes attribute, else the default, which the experimental MVN of opsets
// 1–8 chose with across_channels (read as ONNX Runtime reads it).
func MVNAxes(n *onnx.Node) []int64 {
	def := []int64{0, 2, 3}
	if n.AttrInt("across_channels", 0) == 1 {
		def = []int64{0, 1, 2, 3}
	}
	return n.AttrInts("axes", def)
}

func mvnBuilder(b *Build) (Kernel, error) {
	axes := MVNAxes(b.Node)
	scaleVar := b.Int("normalize_variance", 1) == 1 // 0 (experimental MVN): the mean only
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		t := in[0]
		p, err := planReduce(t.Shape, axes, true)
		if err != nil {
			return nil, err
		}
		x, err := floatIn(t)
		if err != nil {
			return nil, err
		}
		mean := make([]float64, p.outLen)
		sq := make([]float64, p.outLen)
		p.each(t.Shape, func(i, o int) {
			mean[o] += float64(x[i])
			sq[o] += float64(x[i]) * float64(x[i])
		})
		for o := range mean {
			mean[o] /= float64(p.count)
			sq[o] = math.Sqrt(max(0, sq[o]/float64(p.count)-mean[o]*mean[o])) + 1e-9
			if !scaleVar {
				sq[o] = 1
			}
		}
		y := newFloats(ctx, t.Shape...)
		p.each(t.Shape, func(i, o int) { y[i] = float32((float64(x[i]) - mean[o]) / sq[o]) })
		out, err := floatOut(t.DType, t.Shape, y)
		return []*Tensor{out}, err
	}, nil
}

func lpNormBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", -1)
	pn := b.Int("p", 2)
	if pn != 1 && pn != 2 {
		return nil, fmt.Errorf("p must be 1 or 2, got %d", pn)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		t := in[0]
		ax, err := normAxis(axis, len(t.Shape))
		if err != nil {
			return nil, err
		}
		x, err := floatIn(t)
		if err != nil {
			return nil, err
		}
		outer, dim, inner := prod(t.Shape[:ax]), t.Shape[ax], prod(t.Shape[ax+1:])
		y := newFloats(ctx, t.Shape...)
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				base := o*dim*inner + i
				var s float64
				for k := 0; k < dim; k++ {
					v := float64(x[base+k*inner])
					if pn == 1 {
						s += math.Abs(v)
					} else {
						s += v * v
					}
				}
				if pn == 2 {
					s = math.Sqrt(s)
				}
				for k := 0; k < dim; k++ {
					if s == 0 {
						y[base+k*inner] = 0
						continue
					}
					y[base+k*inner] = float32(float64(x[base+k*inner]) / s)
				}
			}
		}
		out, err := floatOut(t.DType, t.Shape, y)
		return []*Tensor{out}, err
	}, nil
}

// dropoutBuilder: in inference (the default) Dropout is the identity and its
// mask all true; training mode with a non-zero ratio drops at random.
func dropoutBuilder(b *Build) (Kernel, error) {
	attrRatio := float64(b.Float("ratio", 0.5))
	opset := b.Opset
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		ratio := attrRatio
		training := false
		if opset >= 12 {
			ratio = 0.5
			if len(in) > 1 && in[1] != nil {
				r, err := asFloat64s(in[1])
				if err != nil || len(r) != 1 {
					return nil, fmt.Errorf("ratio must be a float scalar")
				}
				ratio = r[0]
			}
			if len(in) > 2 && in[2] != nil {
				tm, ok := in[2].Data.([]bool)
				if !ok || len(tm) != 1 {
					return nil, fmt.Errorf("training_mode must be a bool scalar")
				}
				training = tm[0]
			}
		}
		maskType := onnx.Bool
		if opset < 10 {
			maskType = x.DType
		}
		mask := ctx.New(maskType, x.Shape...)
		if !training || ratio == 0 {
			switch d := mask.Data.(type) {
			case []bool:
				for i := range d {
					d[i] = true
				}
			default:
				ones := make([]float64, x.Len())
				for i := range ones {
					ones[i] = 1
				}
				m, err := fromFloat64s(ctx, maskType, x.Shape, ones)
				if err != nil {
					return nil, err
				}
				mask = m
			}
			return []*Tensor{x, mask}, nil
		}
		if ratio < 0 || ratio >= 1 {
			return nil, fmt.Errorf("dropout ratio %v is not in [0, 1)", ratio)
		}
		v, err := floatIn(x)
		if err != nil {
			return nil, err
		}
		y := newFloats(ctx, x.Shape...)
		md := mask.Data.([]bool)
		scale := float32(1 / (1 - ratio))
		for i, xv := range v {
			if rand.Float64() >= ratio {
				md[i] = true
				y[i] = xv * scale
			}
		}
		out, err := floatOut(x.DType, x.Shape, y)
		return []*Tensor{out, mask}, err
	}, nil
}
