package interp

import (
	"fmt"
	"math"
	"slices"

	"github.com/onnxslim/onnxslim/onnx"
)

// Data movement ops: Transpose, Concat, Split, Slice, Pad, Tile, Expand,
// DepthToSpace/SpaceToDepth, Trilu, CumSum, ReverseSequence. They work on any
// storage type through stridedCopy.

// fillWith sets every element of dst to v[0] (v a one-element slice of dst's type).
func fillWith(dst, v any, n int) {
	stridedCopy(dst, v, []int{n}, 0, []int{1}, 0, []int{0})
}

// transposeAs reads t's data as the given shape and permutes it.
func transposeAs(ctx *Ctx, t *Tensor, shape []int, perm []int) *Tensor {
	st := contiguousStrides(shape)
	out := make([]int, len(perm))
	sst := make([]int, len(perm))
	for i, p := range perm {
		out[i], sst[i] = shape[p], st[p]
	}
	return copyView(ctx, t, out, 0, sst)
}

func transposeBuilder(b *Build) (Kernel, error) {
	permAttr := b.Ints("perm", nil)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if err := needTensor(in[0]); err != nil {
			return nil, err
		}
		r := in[0].Rank()
		perm := make([]int, r)
		if permAttr == nil {
			for i := range perm {
				perm[i] = r - 1 - i
			}
		} else {
			if len(permAttr) != r {
				return nil, fmt.Errorf("perm %v does not match rank %d", permAttr, r)
			}
			p, err := normAxes(permAttr, r)
			if err != nil {
				return nil, fmt.Errorf("perm %v: %w", permAttr, err)
			}
			perm = p
		}
		return []*Tensor{transposeAs(ctx, in[0], in[0].Shape, perm)}, nil
	}, nil
}

// concatTensors joins tensors along axis (used by Concat and ConcatFromSequence).
func concatTensors(ctx *Ctx, ts []*Tensor, axis int64) (*Tensor, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("nothing to concatenate")
	}
	first := ts[0]
	r := first.Rank()
	a, err := normAxis(axis, r)
	if err != nil {
		return nil, err
	}
	shape := append([]int{}, first.Shape...)
	shape[a] = 0
	for _, t := range ts {
		if err := needTensor(t); err != nil {
			return nil, err
		}
		if t.DType != first.DType || t.Rank() != r {
			return nil, fmt.Errorf("cannot concatenate %s and %s", first, t)
		}
		for i, d := range t.Shape {
			if i != a && d != first.Shape[i] {
				return nil, fmt.Errorf("cannot concatenate %s and %s along axis %d", first, t, a)
			}
		}
		shape[a] += t.Shape[a]
	}
	out := ctx.newRaw(first.DType, shape...) // the inputs cover every element
	ost := contiguousStrides(shape)
	off := 0
	for _, t := range ts {
		stridedCopy(out.Data, t.Data, t.Shape, off*ost[a], ost, 0, contiguousStrides(t.Shape))
		off += t.Shape[a]
	}
	return out, nil
}

func concatBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", 1) // Concat-1 defaulted to 1
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		var ts []*Tensor
		for _, t := range in {
			if t != nil {
				ts = append(ts, t)
			}
		}
		out, err := concatTensors(ctx, ts, axis)
		return []*Tensor{out}, err
	}, nil
}

// sliceAxis copies t[lo:hi] along axis a.
func sliceAxis(ctx *Ctx, t *Tensor, a, lo, hi int) *Tensor {
	shape := append([]int{}, t.Shape...)
	shape[a] = hi - lo
	st := contiguousStrides(t.Shape)
	return copyView(ctx, t, shape, lo*st[a], st)
}

// splitSizes resolves Split's chunk sizes: explicit, or n equal parts with a
// smaller last one (opset 18's num_outputs rule, also right for even splits).
func splitSizes(dim int, split []int64, n int) ([]int, error) {
	if split != nil {
		sizes := make([]int, len(split))
		sum := 0
		for i, s := range split {
			if s < 0 {
				return nil, fmt.Errorf("negative split %v", split)
			}
			sizes[i] = int(s)
			sum += int(s)
		}
		if sum != dim {
			return nil, fmt.Errorf("split %v does not add up to dimension %d", split, dim)
		}
		return sizes, nil
	}
	if n <= 0 {
		return nil, fmt.Errorf("no outputs to split into")
	}
	chunk := (dim + n - 1) / n
	sizes := make([]int, n)
	rest := dim
	for i := range sizes {
		sizes[i] = min(chunk, rest)
		rest -= sizes[i]
	}
	return sizes, nil
}

func splitBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", 0)
	splitAttr := b.Ints("split", nil)
	n := b.NumOutputs()
	if b.Has("num_outputs") {
		n = int(b.Int("num_outputs", 0))
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		a, err := normAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		split := splitAttr
		if len(in) > 1 && in[1] != nil {
			if split, err = toInt64s(in[1]); err != nil {
				return nil, err
			}
		}
		sizes, err := splitSizes(x.Shape[a], split, n)
		if err != nil {
			return nil, err
		}
		if len(sizes) != b.NumOutputs() {
			return nil, fmt.Errorf("%d chunks for %d outputs", len(sizes), b.NumOutputs())
		}
		outs := make([]*Tensor, len(sizes))
		off := 0
		for i, s := range sizes {
			outs[i] = sliceAxis(ctx, x, a, off, off+s)
			off += s
		}
		return outs, nil
	}, nil
}

// sliceTensor applies Slice's starts/ends/axes/steps.
func sliceTensor(ctx *Ctx, x *Tensor, starts, ends, axes, steps []int64) (*Tensor, error) {
	r := x.Rank()
	if len(ends) != len(starts) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return nil, fmt.Errorf("starts %v, ends %v, axes %v and steps %v differ in length", starts, ends, axes, steps)
	}
	if axes == nil {
		axes = make([]int64, len(starts))
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	ax, err := normAxes(axes, r)
	if err != nil {
		return nil, err
	}
	shape := append([]int{}, x.Shape...)
	st := contiguousStrides(x.Shape)
	sst := append([]int{}, st...)
	off := 0
	for i, a := range ax {
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, fmt.Errorf("slice step is 0")
		}
		dim := int64(x.Shape[a])
		s, e := starts[i], ends[i]
		if s < 0 {
			s += dim
		}
		if e < 0 {
			e += dim
		}
		var n int64
		if step > 0 {
			s, e = min(max(s, 0), dim), min(max(e, 0), dim)
			if e > s {
				n = (e-s-1)/step + 1
			}
		} else {
			s, e = min(max(s, -1), dim-1), min(max(e, -1), dim-1)
			if s > e {
				n = (s-e-1)/-step + 1
			}
		}
		shape[a] = int(n)
		if n > 0 {
			off += int(s) * st[a]
		}
		sst[a] = st[a] * int(step)
	}
	return copyView(ctx, x, shape, off, sst), nil
}

func sliceBuilder(b *Build) (Kernel, error) {
	if b.Opset < 10 {
		starts, ends, axes := b.Ints("starts", nil), b.Ints("ends", nil), b.Ints("axes", nil)
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			if err := needTensor(in[0]); err != nil {
				return nil, err
			}
			out, err := sliceTensor(ctx, in[0], starts, ends, axes, nil)
			return []*Tensor{out}, err
		}, nil
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if err := needTensor(in[0]); err != nil {
			return nil, err
		}
		var args [4][]int64
		for i := 1; i < len(in) && i <= 4; i++ {
			v, err := toInt64s(in[i])
			if err != nil {
				return nil, err
			}
			args[i-1] = v
		}
		out, err := sliceTensor(ctx, in[0], args[0], args[1], args[2], args[3])
		return []*Tensor{out}, err
	}, nil
}

// scalarData returns a one-element slice of dt's storage type holding v.
func scalarData(dt onnx.DataType, v float64) (any, error) {
	switch dt {
	case onnx.Float:
		return []float32{float32(v)}, nil
	case onnx.Double:
		return []float64{v}, nil
	case onnx.Float16:
		return []uint16{Float32ToFloat16(float32(v))}, nil
	case onnx.BFloat16:
		return []uint16{Float32ToBFloat16(float32(v))}, nil
	case onnx.Int64:
		return []int64{int64(v)}, nil
	case onnx.Int32:
		return []int32{int32(v)}, nil
	case onnx.Int16:
		return []int16{int16(v)}, nil
	case onnx.Int8:
		return []int8{int8(v)}, nil
	case onnx.Uint8:
		return []uint8{uint8(v)}, nil
	case onnx.Uint16:
		return []uint16{uint16(v)}, nil
	case onnx.Uint32:
		return []uint32{uint32(v)}, nil
	case onnx.Uint64:
		return []uint64{uint64(v)}, nil
	case onnx.Bool:
		return []bool{v != 0}, nil
	case onnx.String:
		return []string{""}, nil
	}
	d, err := makeData(dt, 1)
	if err == nil && v != 0 {
		err = fmt.Errorf("cannot make a %s constant %v", dt, v)
	}
	return d, err
}

type padArgs struct {
	mode  string
	pads  []int64 // begins then ends, per axis of the input
	value any     // one-element slice, for constant mode
}

// padRows fills dst (of shape) row by row along the last axis: each row
// reads one input row (offset from maps of the outer axes) through the last
// axis's map, the middle as one copy. It reports false for element types
// it does not take (the caller gathers element by element).
func padRows(dst, src any, shape []int, maps [][]int) bool {
	switch d := dst.(type) {
	case []float32:
		padRowsT(d, src.([]float32), shape, maps)
	case []uint16:
		padRowsT(d, src.([]uint16), shape, maps)
	case []float64:
		padRowsT(d, src.([]float64), shape, maps)
	case []int64:
		padRowsT(d, src.([]int64), shape, maps)
	case []int32:
		padRowsT(d, src.([]int32), shape, maps)
	case []uint8:
		padRowsT(d, src.([]uint8), shape, maps)
	case []int8:
		padRowsT(d, src.([]int8), shape, maps)
	default:
		return false
	}
	return true
}

func padRowsT[T any](dst, src []T, shape []int, maps [][]int) {
	r := len(shape)
	w := shape[r-1]
	if len(dst) == 0 || w == 0 {
		return
	}
	lm := maps[r-1] // input offsets within a row (stride 1)
	// The longest run of consecutive input offsets: copied in one go.
	c0, c1 := 0, 0
	for i := 0; i < w; {
		j := i + 1
		for j < w && lm[j] == lm[j-1]+1 {
			j++
		}
		if j-i > c1-c0 {
			c0, c1 = i, j
		}
		i = j
	}
	pos := make([]int, r-1)
	for o := 0; o < len(dst); o += w {
		base := 0
		for i, p := range pos {
			base += maps[i][p]
		}
		row, in := dst[o:o+w], src[base:]
		for i := 0; i < c0; i++ {
			row[i] = in[lm[i]]
		}
		copy(row[c0:c1], in[lm[c0]:lm[c0]+c1-c0])
		for i := c1; i < w; i++ {
			row[i] = in[lm[i]]
		}
		for i := r - 2; i >= 0; i-- {
			pos[i]++
			if pos[i] < shape[i] {
				break
			}
			pos[i] = 0
		}
	}
}

func padTensor(ctx *Ctx, x *Tensor, p padArgs) (*Tensor, error) {
	r := x.Rank()
	if len(p.pads) != 2*r {
		return nil, fmt.Errorf("pads %v do not match rank %d", p.pads, r)
	}
	shape := make([]int, r)
	for i, d := range x.Shape {
		n := int64(d) + p.pads[i] + p.pads[i+r]
		if n < 0 {
			return nil, fmt.Errorf("pads %v remove more than dimension %d of %v", p.pads, i, x.Shape)
		}
		shape[i] = int(n)
	}
	if !slices.ContainsFunc(p.pads, func(v int64) bool { return v != 0 }) {
		// Nothing to pad (exporters leave such Pads before pooling): the
		// input is the result, shared as Identity shares it.
		return x, nil
	}
	out := ctx.New(x.DType, shape...)
	ist, ost := contiguousStrides(x.Shape), contiguousStrides(shape)
	if p.mode == "constant" {
		if p.value != nil {
			fillWith(out.Data, p.value, out.Len())
		}
		// Copy the part of the input that survives cropping into its place.
		cshape := make([]int, r)
		dOff, sOff := 0, 0
		for i, d := range x.Shape {
			lo, hi := int64(0), int64(d)
			if b := p.pads[i]; b < 0 {
				lo = -b
			}
			if e := p.pads[i+r]; e < 0 {
				hi += e
			}
			if hi <= lo {
				return out, nil // everything was cropped away
			}
			cshape[i] = int(hi - lo)
			sOff += int(lo) * ist[i]
			dOff += int(max(p.pads[i], 0)) * ost[i]
		}
		stridedCopy(out.Data, x.Data, cshape, dOff, ost, sOff, ist)
		return out, nil
	}
	// Other modes: map each output coordinate to an input one, axis by axis.
	maps := make([][]int, r)
	for i, d := range x.Shape {
		m := make([]int, shape[i])
		for o := range m {
			j := o - int(p.pads[i])
			if d == 0 {
				return nil, fmt.Errorf("cannot %s-pad an empty axis %d", p.mode, i)
			}
			switch p.mode {
			case "edge":
				j = min(max(j, 0), d-1)
			case "wrap":
				j = ((j % d) + d) % d
			case "reflect":
				if d == 1 {
					j = 0
					break
				}
				period := 2 * (d - 1)
				j = ((j % period) + period) % period
				if j >= d {
					j = period - j
				}
			default:
				return nil, fmt.Errorf("unknown pad mode %q", p.mode)
			}
			m[o] = j * ist[i]
		}
		maps[i] = m
	}
	if padRows(out.Data, x.Data, shape, maps) {
		return out, nil
	}
	idx := make([]int, out.Len())
	if len(idx) > 0 {
		pos := make([]int, r)
		for k := range idx {
			s := 0
			for i := range pos {
				s += maps[i][pos[i]]
			}
			idx[k] = s
			for i := r - 1; i >= 0; i-- {
				pos[i]++
				if pos[i] < shape[i] {
					break
				}
				pos[i] = 0
			}
		}
	}
	takeElems(out.Data, x.Data, idx)
	return out, nil
}

func padBuilder(b *Build) (Kernel, error) {
	mode := b.String("mode", "constant")
	if b.Opset < 11 {
		pads := b.Ints("pads", nil)
		if b.Opset < 2 {
			pads = b.Ints("paddings", pads)
		}
		value := float64(b.Float("value", 0))
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			if err := needTensor(in[0]); err != nil {
				return nil, err
			}
			v, err := scalarData(in[0].DType, value)
			if err != nil {
				return nil, err
			}
			out, err := padTensor(ctx, in[0], padArgs{mode, pads, v})
			return []*Tensor{out}, err
		}, nil
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		pads, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		p := padArgs{mode: mode, pads: pads}
		if len(in) > 2 && in[2] != nil && in[2].Len() > 0 {
			if in[2].DType != x.DType {
				return nil, fmt.Errorf("constant_value %s does not match data %s", in[2], x)
			}
			p.value = sliceData(in[2].Data, 0, 1)
		}
		if len(in) > 3 && in[3] != nil {
			axes, err := toInt64s(in[3])
			if err != nil {
				return nil, err
			}
			ax, err := normAxes(axes, x.Rank())
			if err != nil {
				return nil, err
			}
			if len(pads) != 2*len(ax) {
				return nil, fmt.Errorf("pads %v do not match axes %v", pads, axes)
			}
			r := x.Rank()
			full := make([]int64, 2*r)
			for i, a := range ax {
				full[a], full[a+r] = pads[i], pads[i+len(ax)]
			}
			p.pads = full
		}
		out, err := padTensor(ctx, x, p)
		return []*Tensor{out}, err
	}, nil
}

func tileKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	if err := needTensor(x); err != nil {
		return nil, err
	}
	reps, err := toInt64s(in[1])
	if err != nil {
		return nil, err
	}
	r := x.Rank()
	if len(reps) != r {
		return nil, fmt.Errorf("repeats %v do not match rank %d", reps, r)
	}
	// Read x as [1,d0,1,d1,...] broadcast to [r0,d0,r1,d1,...]: that is the tiled layout.
	st := contiguousStrides(x.Shape)
	shape, sst := make([]int, 2*r), make([]int, 2*r)
	outShape := make([]int, r)
	for i, d := range x.Shape {
		if reps[i] < 0 {
			return nil, fmt.Errorf("negative repeat %v", reps)
		}
		shape[2*i], shape[2*i+1] = int(reps[i]), d
		sst[2*i+1] = st[i]
		outShape[i] = int(reps[i]) * d
	}
	out := ctx.New(x.DType, outShape...)
	stridedCopy(out.Data, x.Data, shape, 0, contiguousStrides(shape), 0, sst)
	return []*Tensor{out}, nil
}

// tile1Kernel is Tile-1: the input repeated tiles times along axis (both
// scalar inputs), which Tile-6 expresses as a repeats vector.
func tile1Kernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 3 || in[1] == nil || in[2] == nil {
		return nil, fmt.Errorf("Tile-1 needs the tiles and axis inputs")
	}
	tiles, err1 := toInt64s(in[1])
	axis, err2 := toInt64s(in[2])
	if err1 != nil || err2 != nil || len(tiles) != 1 || len(axis) != 1 {
		return nil, fmt.Errorf("Tile-1: tiles and axis must be integer scalars")
	}
	reps, err := Tile1Repeats(int64(in[0].Rank()), tiles[0], axis[0])
	if err != nil {
		return nil, fmt.Errorf("Tile-1: %w", err)
	}
	return tileKernel(ctx, []*Tensor{in[0], FromSlice(onnx.Int64, []int{len(reps)}, reps)})
}

// Tile1Repeats is Tile-6's repeats for Tile-1's tiles copies along axis
// of a rank-r input.
func Tile1Repeats(r, tiles, axis int64) ([]int64, error) {
	a := axis
	if a < 0 {
		a += r
	}
	if a < 0 || a >= r {
		return nil, fmt.Errorf("axis %d out of range for rank %d", axis, r)
	}
	reps := make([]int64, r)
	for i := range reps {
		reps[i] = 1
	}
	reps[a] = tiles
	return reps, nil
}

func expandKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	if err := needTensor(x); err != nil {
		return nil, err
	}
	dims, err := toInt64s(in[1])
	if err != nil {
		return nil, err
	}
	target, err := shapeFromInts(dims)
	if err != nil {
		return nil, err
	}
	shape, err := BroadcastShape(x.Shape, target)
	if err != nil {
		return nil, err
	}
	return []*Tensor{copyView(ctx, x, shape, 0, broadcastStrides(x.Shape, shape))}, nil
}

func depthToSpaceBuilder(b *Build) (Kernel, error) {
	bs := int(b.Int("blocksize", 0))
	crd := b.String("mode", "DCR") == "CRD"
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if x.Rank() != 4 || bs <= 0 || x.Shape[1]%(bs*bs) != 0 {
			return nil, fmt.Errorf("DepthToSpace needs a 4-D input with channels divisible by blocksize² (blocksize %d)", bs)
		}
		n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		var t *Tensor
		if crd {
			t = transposeAs(ctx, x, []int{n, c / (bs * bs), bs, bs, h, w}, []int{0, 1, 4, 2, 5, 3})
		} else {
			t = transposeAs(ctx, x, []int{n, bs, bs, c / (bs * bs), h, w}, []int{0, 3, 4, 1, 5, 2})
		}
		return []*Tensor{reshapeView(t, []int{n, c / (bs * bs), h * bs, w * bs})}, nil
	}, nil
}

func spaceToDepthBuilder(b *Build) (Kernel, error) {
	bs := int(b.Int("blocksize", 0))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if x.Rank() != 4 || bs <= 0 || x.Shape[2]%bs != 0 || x.Shape[3]%bs != 0 {
			return nil, fmt.Errorf("SpaceToDepth needs a 4-D input with spatial sizes divisible by blocksize %d", bs)
		}
		n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		t := transposeAs(ctx, x, []int{n, c, h / bs, bs, w / bs, bs}, []int{0, 3, 5, 1, 2, 4})
		return []*Tensor{reshapeView(t, []int{n, c * bs * bs, h / bs, w / bs})}, nil
	}, nil
}

func triluBuilder(b *Build) (Kernel, error) {
	upper := b.Int("upper", 1) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		if x.Rank() < 2 {
			return nil, fmt.Errorf("the input must have rank >= 2, got %s", x)
		}
		k := int64(0)
		if len(in) > 1 && in[1] != nil {
			v, err := scalarInt(in[1], "k")
			if err != nil {
				return nil, err
			}
			k = v
		}
		rows, cols := x.Shape[x.Rank()-2], x.Shape[x.Rank()-1]
		idx := make([]int, x.Len())
		for i := range idx {
			c := int64(i % cols)
			r := int64((i / cols) % rows)
			keep := c-r >= k
			if !upper {
				keep = c-r <= k
			}
			idx[i] = -1
			if keep {
				idx[i] = i
			}
		}
		out := ctx.New(x.DType, x.Shape...)
		takeElems(out.Data, x.Data, idx)
		return []*Tensor{out}, nil
	}, nil
}

func cumsumT[T number](x, y []T, outer, n, inner int, exclusive, reverse bool) {
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			base := o*n*inner + j
			var acc T
			for k := 0; k < n; k++ {
				kk := k
				if reverse {
					kk = n - 1 - k
				}
				p := base + kk*inner
				if exclusive {
					y[p] = acc
					acc += x[p]
				} else {
					acc += x[p]
					y[p] = acc
				}
			}
		}
	}
}

func cumsumBuilder(b *Build) (Kernel, error) {
	exclusive, reverse := b.Int("exclusive", 0) != 0, b.Int("reverse", 0) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		ax, err := scalarInt(in[1], "axis")
		if err != nil {
			return nil, err
		}
		a, err := normAxis(ax, max(x.Rank(), 1))
		if err != nil {
			return nil, err
		}
		outer, n, inner := 1, 1, 1
		if x.Rank() > 0 {
			outer, n, inner = numElements(x.Shape[:a]), x.Shape[a], numElements(x.Shape[a+1:])
		}
		out := ctx.New(x.DType, x.Shape...)
		switch d := x.Data.(type) {
		case []float32:
			cumsumT(d, out.Data.([]float32), outer, n, inner, exclusive, reverse)
		case []float64:
			cumsumT(d, out.Data.([]float64), outer, n, inner, exclusive, reverse)
		case []int64:
			cumsumT(d, out.Data.([]int64), outer, n, inner, exclusive, reverse)
		case []int32:
			cumsumT(d, out.Data.([]int32), outer, n, inner, exclusive, reverse)
		case []uint64:
			cumsumT(d, out.Data.([]uint64), outer, n, inner, exclusive, reverse)
		case []uint32:
			cumsumT(d, out.Data.([]uint32), outer, n, inner, exclusive, reverse)
		case []uint16:
			f, err := AsFloat32(x)
			if err != nil {
				return nil, err
			}
			y := make([]float32, len(f))
			cumsumT(f, y, outer, n, inner, exclusive, reverse)
			r, err := FromFloat32(x.DType, x.Shape, y)
			return []*Tensor{r}, err
		default:
			return nil, fmt.Errorf("type %s is not supported", x.DType)
		}
		return []*Tensor{out}, nil
	}, nil
}

func reverseSequenceBuilder(b *Build) (Kernel, error) {
	batchAxis, timeAxis := b.Int("batch_axis", 1), b.Int("time_axis", 0)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		if x.Rank() < 2 || !((batchAxis == 0 && timeAxis == 1) || (batchAxis == 1 && timeAxis == 0)) {
			return nil, fmt.Errorf("batch_axis %d and time_axis %d must be 0 and 1 of a rank >= 2 input", batchAxis, timeAxis)
		}
		lens, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		B, T := x.Shape[batchAxis], x.Shape[timeAxis]
		if len(lens) != B {
			return nil, fmt.Errorf("sequence_lens has %d entries for batch %d", len(lens), B)
		}
		inner := numElements(x.Shape[2:])
		st := contiguousStrides(x.Shape)
		bs, ts := st[batchAxis], st[timeAxis]
		out := ctx.New(x.DType, x.Shape...)
		for bi := 0; bi < B; bi++ {
			l := int(lens[bi])
			if l < 0 || l > T {
				return nil, fmt.Errorf("sequence length %d is out of range [0, %d]", l, T)
			}
			for t := 0; t < T; t++ {
				src := t
				if t < l {
					src = l - 1 - t
				}
				copyElems(out.Data, x.Data, bi*bs+t*ts, bi*bs+src*ts, inner)
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

// det is the determinant of an n×n matrix by Gaussian elimination with
// partial pivoting (a is overwritten).
func det(a []float64, n int) float64 {
	d := 1.0
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r*n+c]) > math.Abs(a[p*n+c]) {
				p = r
			}
		}
		if a[p*n+c] == 0 {
			return 0
		}
		if p != c {
			for k := 0; k < n; k++ {
				a[p*n+k], a[c*n+k] = a[c*n+k], a[p*n+k]
			}
			d = -d
		}
		d *= a[c*n+c]
		for r := c + 1; r < n; r++ {
			f := a[r*n+c] / a[c*n+c]
			for k := c; k < n; k++ {
				a[r*n+k] -= f * a[c*n+k]
			}
		}
	}
	return d
}

func detKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	if err := needTensor(x); err != nil {
		return nil, err
	}
	r := x.Rank()
	if r < 2 || x.Shape[r-1] != x.Shape[r-2] || !x.DType.IsFloat() {
		return nil, fmt.Errorf("the input must be float square matrices, got %s", x)
	}
	v, err := numbersAsFloat64(x)
	if err != nil {
		return nil, err
	}
	n := x.Shape[r-1]
	out := make([]float64, numElements(x.Shape[:r-2]))
	for i := range out {
		out[i] = det(append([]float64(nil), v[i*n*n:(i+1)*n*n]...), n)
	}
	t, err := tensorFromFloat64s(ctx, x.DType, x.Shape[:r-2], out)
	return []*Tensor{t}, err
}

func init() {
	regVersions("Det", noAttrs(detKernel), 11, 22)
	regVersions("Transpose", transposeBuilder, 1, 13, 21, 23, 24, 25)
	regVersions("Concat", concatBuilder, 1, 4, 11, 13)
	regVersions("Split", splitBuilder, 1, 2, 11, 13, 18)
	regVersions("Slice", sliceBuilder, 1, 10, 11, 13)
	regVersions("Pad", padBuilder, 1, 2, 11, 13, 18, 19, 21, 23, 24, 25)
	regVersions("Tile", noAttrs(tileKernel), 6, 13)
	Register("", "Tile", 1, noAttrs(tile1Kernel))
	regVersions("Expand", noAttrs(expandKernel), 8, 13)
	regVersions("DepthToSpace", depthToSpaceBuilder, 1, 11, 13)
	regVersions("SpaceToDepth", spaceToDepthBuilder, 1, 13)
	regVersions("Trilu", triluBuilder, 14)
	regVersions("CumSum", cumsumBuilder, 11, 14)
	regVersions("ReverseSequence", reverseSequenceBuilder, 10)
}
