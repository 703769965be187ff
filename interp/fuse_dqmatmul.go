package interp

import (
	"fmt"
	"slices"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// A large model's quantized weight under Options.NoPrepack (decoded in
// each run):
//
//	DequantizeLinear(w_q, s[, z]) → MatMul(x, ·)
//
// with w_q a K×N matrix of 8-bit or 4-bit values, blocked along K
// (block_size, opset 21: quantize(mode=int4)) or one scale a column (axis
// 1). Unfused, each run dequantizes the whole weight into a float32 copy,
// written and read back from memory by the product. Fused, a product of a
// few rows — the short inputs a large model is verified on, and their
// rows stacked in lockstep (stackMatMul) — dequantizes it a tile at a time
// into a buffer that stays in cache (simd.SgemmRowsTiles). Each element is
// dequantized as dequantizeBlocked does and the sums are SgemmRows's, so
// the bits are the unfused ones; other products run the unfused kernels.

// dqMatMul is what one fused MatMul needs at run time.
type dqMatMul struct {
	block  int    // rows a scale covers; 0: all of them (one scale a column)
	dq, mm Kernel // the unfused kernels
	// packed: a 4-bit w_q comes as stored (loadPacked: the bytes, two
	// values each, not unpacked to one a byte), of type dt, k×n.
	packed bool
	dt     onnx.DataType
	k, n   int
}

// kernel takes x, w_q, s and z (when given).
func (q *dqMatMul) kernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	x, wq, s := in[0], in[1], in[2]
	var z *Tensor
	if len(in) > 3 {
		z = in[3]
	}
	if k, n, ok := q.dims(wq); ok && x.Kind == KindTensor && x.DType == onnx.Float && x.Rank() >= 1 && ctx.opts.NoPrepack {
		// matmulF32's path for these: SgemmFewRows, as SgemmRows.
		if rows := x.Len() / max(k, 1); x.Shape[x.Rank()-1] == k && rows > 0 && rows <= simd.FewRows {
			shape := append(slices.Clone(x.Shape[:x.Rank()-1]), n)
			y := ctx.newRaw(onnx.Float, shape...)
			if q.product(ctx, x.Floats(), rows, wq, s, z, y.Floats(), ctx.Threads()) {
				return []*Tensor{y}, nil
			}
		}
	}
	if q.packed {
		k, n, ok := q.dims(wq)
		if !ok {
			return nil, fmt.Errorf("packed %s weight of %d bytes for %d×%d values", q.dt, wq.Len(), q.k, q.n)
		}
		u := ctx.newRaw(q.dt, k, n)
		unpack4Threads(ctx, bytesOf(u), bytesOf(wq), q.dt == onnx.Int4)
		wq = u
	}
	dqIn := []*Tensor{wq, s}
	if z != nil {
		dqIn = append(dqIn, z)
	}
	w, err := q.dq(ctx, dqIn)
	if err != nil {
		return nil, err
	}
	return q.mm(ctx, []*Tensor{x, w[0]})
}

// dims is w_q's K and N: its shape, or for a packed one the dims the
// fusion saw, when its bytes hold them.
func (q *dqMatMul) dims(wq *Tensor) (k, n int, ok bool) {
	if wq == nil || wq.Kind != KindTensor {
		return 0, 0, false
	}
	if q.packed {
		return q.k, q.n, wq.DType == onnx.Uint8 && wq.Len() == (q.k*q.n+1)/2
	}
	if wq.Rank() != 2 {
		return 0, 0, false
	}
	return wq.Shape[0], wq.Shape[1], true
}

// product sets c (m×N) to a (m×K) times w_q dequantized, and reports
// whether it could: w_q int8 or uint8 data (4-bit unpacked, or packed),
// s float32 scales of the layout the fusion matched, z of w_q's type and
// s's shape.
func (q *dqMatMul) product(ctx *Ctx, a []float32, m int, wq, s, z *Tensor, c []float32, threads int) bool {
	k, n, ok := q.dims(wq)
	if !ok {
		return false
	}
	wdt := wq.DType
	if q.packed {
		wdt = q.dt
	}
	// dequantizeBlocked's layouts (with a row of several scales: one
	// scale for all is another path), as DequantizeLinear takes them.
	block, sShape := q.block, []int{(k + q.block - 1) / max(q.block, 1), n}
	if q.block == 0 {
		block, sShape = k, []int{n} // per column: one block of all the rows
	}
	if s.DType != onnx.Float || !slices.Equal(s.Shape, sShape) || k < 2 || n < 2 ||
		z != nil && (z.DType != wdt || !slices.Equal(z.Shape, s.Shape)) || IsFloat8(wdt) {
		return false
	}
	// deq writes float32(w_q) (exact: small integers) of row p, columns
	// j0…j1 into dst; zf holds the zero points as float32.
	var deq func(dst []float32, p, j0, j1 int)
	switch xv := wq.Data.(type) {
	case []uint8:
		if q.packed {
			signed := q.dt == onnx.Int4
			deq = func(dst []float32, p, j0, j1 int) { simd.Widen4(dst, xv, p*n+j0, signed) }
		} else {
			deq = func(dst []float32, p, j0, j1 int) { simd.DequantizeU8(dst, xv[p*n+j0:p*n+j1], 0, 1) }
		}
	case []int8:
		deq = func(dst []float32, p, j0, j1 int) { simd.DequantizeI8(dst, xv[p*n+j0:p*n+j1], 0, 1) }
	default:
		return false
	}
	var zf []float32
	if z != nil {
		zf = ctx.scratch(z.Len())
		switch zv := z.Data.(type) {
		case []int8:
			simd.DequantizeI8(zf, zv, 0, 1)
		case []uint8:
			simd.DequantizeU8(zf, zv, 0, 1)
		default:
			return false
		}
	}
	sv := s.Floats()
	simd.SgemmRowsTiles(m, n, k, a, k, func(dst []float32, p0, p1, j0, j1 int) {
		w := j1 - j0
		for p := p0; p < p1; p++ {
			row, b := dst[(p-p0)*w:(p-p0+1)*w], p/block*n
			deq(row, p, j0, j1)
			if zf != nil {
				simd.Sub(row, row, zf[b+j0:b+j1])
			}
			simd.Mul(row, row, sv[b+j0:b+j1])
		}
	}, c, n, threads)
	return true
}

// fuseDQMatMuls fuses the pattern above under Options.NoPrepack, where a
// large weight is decoded in each run (not known at compile time). lastUse
// is kept up to date.
func (c *compiler) fuseDQMatMuls(p *plan, g *onnx.Graph, constT map[int]*Tensor, lastUse map[int]int) {
	if c.opts == nil || !c.opts.NoPrepack {
		return
	}
	sg := newStepGraph(p, g)
	for i := range p.steps {
		st := &p.steps[i]
		n := st.node
		if !isOp(n, "MatMul") || len(st.in) != 2 || st.in[0] < 0 || st.in[1] < 0 || !soleOutput(st) || st.dq != nil {
			continue
		}
		fw := st.in[1]
		di, ok := sg.producer[fw]
		if !ok || sg.readers[fw] != 1 {
			continue
		}
		d := &p.steps[di]
		dn := d.node
		if !isOp(dn, "DequantizeLinear") || len(d.in) < 2 || len(d.in) > 3 || d.in[0] < 0 || d.in[1] < 0 {
			continue
		}
		if _, known := constT[d.in[0]]; known {
			continue // decoded once at compile time: the product packs it
		}
		b := &Build{Node: dn, Opset: opsetFor(c.model, dn.Domain), c: c}
		axis, block := b.Int("axis", 1), b.Int("block_size", 0)
		if out := b.Int("output_dtype", 0); out != 0 && out != int64(onnx.Float) {
			continue
		}
		// The layouts product takes, known from the initializers' dims.
		wt, sc := dn.Input(0).Const, dn.Input(1).Const
		if wt == nil || sc == nil || len(wt.Dims) != 2 || wt.Dims[0] < 2 || wt.Dims[1] < 2 {
			continue
		}
		kd, nd := wt.Dims[0], wt.Dims[1]
		q := &dqMatMul{dq: d.kernel, mm: st.kernel}
		switch {
		case block > 0 && (axis == 0 || axis == -2) && slices.Equal(sc.Dims, []int64{(kd + block - 1) / block, nd}):
			q.block = int(block)
		case block == 0 && (axis == 1 || axis == -1) && slices.Equal(sc.Dims, []int64{nd}):
			// one scale a column: q.block stays 0
		default:
			continue
		}
		// A 4-bit weight only this reads comes packed, as stored: the
		// tiles widen its nibbles (simd.Widen4) instead of the load
		// unpacking it to a byte a value in memory first.
		if li, ok := sg.producer[d.in[0]]; ok && (wt.DataType == onnx.Int4 || wt.DataType == onnx.Uint4) &&
			p.steps[li].node.OpType == "LoadInitializer" && sg.readers[d.in[0]] == 1 {
			v := dn.Input(0)
			p.steps[li].kernel = func(ctx *Ctx, _ []*Tensor) ([]*Tensor, error) {
				t, err := loadPacked(ctx, v.Const)
				if err != nil {
					return nil, fmt.Errorf("initializer %q: %w", v.Name, err)
				}
				return []*Tensor{t}, nil
			}
			q.packed, q.dt, q.k, q.n = true, wt.DataType, int(kd), int(nd)
		}
		in := []int{st.in[0], d.in[0], d.in[1]}
		if len(d.in) > 2 && d.in[2] >= 0 {
			in = append(in, d.in[2])
		}
		for _, s := range in[1:] {
			lastUse[s] = max(lastUse[s], i)
		}
		delete(lastUse, fw)
		d.kernel = skipped
		st.in, st.kernel, st.dq = in, q.kernel, q
	}
}

// loadPacked is loadConst for a 4-bit weight a fused MatMul reads packed:
// its bytes as stored, two values each (a view, or a lazy payload made
// into a buffer of the run).
func loadPacked(ctx *Ctx, t *onnx.Tensor) (*Tensor, error) {
	raw, err := runBytes(ctx, t)
	if err != nil {
		return nil, err
	}
	if want := t.DataType.RawSize(t.NumElements()); int64(len(raw)) != want {
		return nil, fmt.Errorf("%d bytes of data for %d elements of %s", len(raw), t.NumElements(), t.DataType)
	}
	return FromSlice(onnx.Uint8, []int{len(raw)}, raw), nil
}
