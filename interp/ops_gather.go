package interp

import (
	"cmp"
	"fmt"
	"sort"
	"sync"

	"github.com/onnxslim/onnxslim/onnx"
)

// Indexing ops: Gather, GatherElements, GatherND, ScatterND, ScatterElements,
// Scatter, Compress, NonZero, Unique.

// indexIn checks an index against a dimension, allowing negative indices.
func indexIn(i int64, dim int) (int, error) {
	if i < 0 {
		i += int64(dim)
	}
	if uint64(i) >= uint64(dim) {
		return 0, indexRangeError(i, dim)
	}
	return int(i), nil
}

// indexRangeError is indexIn's error, apart so that indexIn inlines; i
// has dim added if it was negative.
func indexRangeError(i int64, dim int) error {
	if i < 0 {
		i -= int64(dim)
	}
	return fmt.Errorf("index %d is out of range for a dimension of size %d", i, dim)
}

func gatherBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", 0)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		a, err := normAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		idx, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		shape := append(append(append([]int{}, x.Shape[:a]...), in[1].Shape...), x.Shape[a+1:]...)
		out := ctx.New(x.DType, shape...)
		outer, dim, inner := numElements(x.Shape[:a]), x.Shape[a], numElements(x.Shape[a+1:])
		pos := make([]int, len(idx))
		for k, i := range idx {
			if pos[k], err = indexIn(i, dim); err != nil {
				return nil, err
			}
		}
		if inner == 1 {
			src := make([]int, 0, outer*len(pos))
			for o := 0; o < outer; o++ {
				for _, p := range pos {
					src = append(src, o*dim+p)
				}
			}
			takeElems(out.Data, x.Data, src)
			return []*Tensor{out}, nil
		}
		d := 0
		for o := 0; o < outer; o++ {
			for _, p := range pos {
				copyElems(out.Data, x.Data, d, (o*dim+p)*inner, inner)
				d += inner
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

// intBufs keeps offset buffers between runs: a slice as large as the
// indices, fresh each run, came from fresh pages (3.8 page faults a run,
// ~11 µs each on this VM, for GatherElements of 256×100).
var intBufs sync.Pool

// withInts runs f with a buffer of n ints from intBufs.
func withInts(n int, f func(buf []int) error) error {
	p, _ := intBufs.Get().(*[]int)
	if p == nil {
		p = new([]int)
	}
	if cap(*p) < n {
		*p = make([]int, n)
	}
	err := f((*p)[:n])
	intBufs.Put(p)
	return err
}

// elementOffsets sets offs[k] to the offset into a tensor of shape dshape
// of position k of an indices tensor (shape ishape, values idx along axis
// a); offs holds len(idx).
func elementOffsets(offs []int, dshape, ishape []int, idx []int64, a int) error {
	if len(dshape) != len(ishape) {
		return fmt.Errorf("indices rank %d differs from data rank %d", len(ishape), len(dshape))
	}
	for i := range ishape {
		if i != a && ishape[i] > dshape[i] {
			return fmt.Errorf("indices shape %v exceeds data shape %v", ishape, dshape)
		}
	}
	if len(ishape) == 0 {
		return fmt.Errorf("indices and data of rank 0")
	}
	if len(idx) == 0 {
		return nil
	}
	// Row by row along the last axis: a row's offsets differ by a fixed
	// step but for the index itself.
	st := contiguousStrides(dshape)
	r := len(ishape)
	n, step := ishape[r-1], st[r-1]
	if a == r-1 {
		step = 0
	}
	pos := make([]int, r-1) // the row's position in all but the last axis
	for row := 0; row*n < len(idx); row++ {
		base := 0
		for d, p := range pos {
			if d != a {
				base += p * st[d]
			}
		}
		or := offs[row*n : (row+1)*n]
		for k, v := range idx[row*n : (row+1)*n] {
			j, err := indexIn(v, dshape[a])
			if err != nil {
				return err
			}
			or[k] = base + k*step + j*st[a]
		}
		for d := len(pos) - 1; d >= 0; d-- {
			if pos[d]++; pos[d] < ishape[d] {
				break
			}
			pos[d] = 0
		}
	}
	return nil
}

func gatherElementsBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", 0)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		a, err := normAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		idx, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		out := ctx.newRaw(x.DType, in[1].Shape...) // every element is taken
		err = withInts(len(idx), func(offs []int) error {
			if err := elementOffsets(offs, x.Shape, in[1].Shape, idx, a); err != nil {
				return err
			}
			takeElems(out.Data, x.Data, offs)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}, nil
}

// ndBlocks resolves GatherND/ScatterND indices: for each index tuple, the
// offset of the addressed slice of data, and the slice length.
func ndBlocks(dshape, ishape []int, idx []int64, batchDims int) (offs []int, block int, err error) {
	q := len(ishape)
	if q == 0 || batchDims < 0 || batchDims >= q || batchDims >= len(dshape) {
		return nil, 0, fmt.Errorf("bad indices shape %v for data %v with batch_dims %d", ishape, dshape, batchDims)
	}
	k := ishape[q-1]
	if batchDims+k > len(dshape) {
		return nil, 0, fmt.Errorf("index tuples of length %d are too long for data %v", k, dshape)
	}
	for i := 0; i < batchDims; i++ {
		if ishape[i] != dshape[i] {
			return nil, 0, fmt.Errorf("batch dimensions of indices %v and data %v differ", ishape, dshape)
		}
	}
	st := contiguousStrides(dshape)
	block = numElements(dshape[batchDims+k:])
	batch := numElements(ishape[:batchDims])
	tuples := numElements(ishape[batchDims : q-1])
	batchStride := 1
	if batchDims > 0 {
		batchStride = st[batchDims-1]
	}
	offs = make([]int, 0, batch*tuples)
	for bi := 0; bi < batch; bi++ {
		for t := 0; t < tuples; t++ {
			o := bi * batchStride
			tup := idx[(bi*tuples+t)*k : (bi*tuples+t+1)*k]
			for j, v := range tup {
				p, err := indexIn(v, dshape[batchDims+j])
				if err != nil {
					return nil, 0, err
				}
				o += p * st[batchDims+j]
			}
			offs = append(offs, o)
		}
	}
	return offs, block, nil
}

func gatherNDBuilder(b *Build) (Kernel, error) {
	batchDims := int(b.Int("batch_dims", 0))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		idx, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		offs, block, err := ndBlocks(x.Shape, in[1].Shape, idx, batchDims)
		if err != nil {
			return nil, err
		}
		is := in[1].Shape
		shape := append(append([]int{}, is[:len(is)-1]...), x.Shape[batchDims+is[len(is)-1]:]...)
		out := ctx.New(x.DType, shape...)
		for i, o := range offs {
			copyElems(out.Data, x.Data, i*block, o, block)
		}
		return []*Tensor{out}, nil
	}, nil
}

// combine merges src[s:s+n] into dst[d:d+n] by the scatter reduction.
func combine[T number](dst, src []T, offs []int, n int, reduction string) error {
	var f func(a, b T) T
	switch reduction {
	case "add":
		f = func(a, b T) T { return a + b }
	case "mul":
		f = func(a, b T) T { return a * b }
	case "max":
		f = func(a, b T) T { return max(a, b) }
	case "min":
		f = func(a, b T) T { return min(a, b) }
	default:
		return fmt.Errorf("unknown reduction %q", reduction)
	}
	for i, d := range offs {
		for k := 0; k < n; k++ {
			dst[d+k] = f(dst[d+k], src[i*n+k])
		}
	}
	return nil
}

// scatter copies data and writes (or reduces) updates: update block i of
// length n goes to offset offs[i].
func scatter(ctx *Ctx, data, upd *Tensor, offs []int, n int, reduction string) (*Tensor, error) {
	if upd.DType != data.DType {
		return nil, fmt.Errorf("updates %s do not match data %s", upd, data)
	}
	if upd.Len() != len(offs)*n {
		return nil, fmt.Errorf("updates %s do not match the %d indexed slices of %d elements", upd, len(offs), n)
	}
	out := ctx.New(data.DType, data.Shape...)
	copyElems(out.Data, data.Data, 0, 0, data.Len())
	if reduction == "" || reduction == "none" {
		for i, o := range offs {
			copyElems(out.Data, upd.Data, o, i*n, n)
		}
		return out, nil
	}
	var err error
	switch d := out.Data.(type) {
	case []float32:
		err = combine(d, upd.Data.([]float32), offs, n, reduction)
	case []float64:
		err = combine(d, upd.Data.([]float64), offs, n, reduction)
	case []int64:
		err = combine(d, upd.Data.([]int64), offs, n, reduction)
	case []int32:
		err = combine(d, upd.Data.([]int32), offs, n, reduction)
	case []int16:
		err = combine(d, upd.Data.([]int16), offs, n, reduction)
	case []int8:
		err = combine(d, upd.Data.([]int8), offs, n, reduction)
	case []uint8:
		err = combine(d, upd.Data.([]uint8), offs, n, reduction)
	case []uint32:
		err = combine(d, upd.Data.([]uint32), offs, n, reduction)
	case []uint64:
		err = combine(d, upd.Data.([]uint64), offs, n, reduction)
	case []uint16:
		if data.DType == onnx.Uint16 {
			err = combine(d, upd.Data.([]uint16), offs, n, reduction)
			break
		}
		x, e1 := AsFloat32(out)
		u, e2 := AsFloat32(upd)
		if e1 != nil || e2 != nil {
			return nil, fmt.Errorf("type %s is not supported", data.DType)
		}
		x = append([]float32(nil), x...)
		if err = combine(x, u, offs, n, reduction); err != nil {
			return nil, err
		}
		return FromFloat32(data.DType, data.Shape, x)
	default:
		err = fmt.Errorf("reduction %q is not supported for %s", reduction, data.DType)
	}
	return out, err
}

func scatterNDBuilder(b *Build) (Kernel, error) {
	reduction := b.String("reduction", "none")
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		idx, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		offs, block, err := ndBlocks(x.Shape, in[1].Shape, idx, 0)
		if err != nil {
			return nil, err
		}
		out, err := scatter(ctx, x, in[2], offs, block, reduction)
		return []*Tensor{out}, err
	}, nil
}

func scatterElementsBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", 0)
	reduction := b.String("reduction", "none")
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		a, err := normAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		idx, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		if fmt.Sprint(in[1].Shape) != fmt.Sprint(in[2].Shape) {
			return nil, fmt.Errorf("indices %s and updates %s differ in shape", in[1], in[2])
		}
		var out *Tensor
		err = withInts(len(idx), func(offs []int) error {
			if err := elementOffsets(offs, x.Shape, in[1].Shape, idx, a); err != nil {
				return err
			}
			out, err = scatter(ctx, x, in[2], offs, 1, reduction)
			return err
		})
		return []*Tensor{out}, err
	}, nil
}

func compressBuilder(b *Build) (Kernel, error) {
	axis, hasAxis := b.Int("axis", 0), b.Has("axis")
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		cond, ok := in[1].Data.([]bool)
		if !ok {
			return nil, fmt.Errorf("condition must be bool, got %s", in[1])
		}
		shape, a := []int{x.Len()}, 0
		if hasAxis {
			var err error
			if a, err = normAxis(axis, x.Rank()); err != nil {
				return nil, err
			}
			shape = x.Shape
		}
		if len(cond) > shape[a] {
			return nil, fmt.Errorf("condition has %d entries for a dimension of %d", len(cond), shape[a])
		}
		var keep []int
		for i, c := range cond {
			if c {
				keep = append(keep, i)
			}
		}
		outer, dim, inner := numElements(shape[:a]), shape[a], numElements(shape[a+1:])
		oshape := append([]int{}, shape...)
		oshape[a] = len(keep)
		out := ctx.New(x.DType, oshape...)
		d := 0
		for o := 0; o < outer; o++ {
			for _, k := range keep {
				copyElems(out.Data, x.Data, d, (o*dim+k)*inner, inner)
				d += inner
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

// nonZeroMask reports which elements are not zero (false, "").
func nonZeroMask(t *Tensor) ([]bool, error) {
	switch d := t.Data.(type) {
	case []bool:
		return d, nil
	case []string:
		m := make([]bool, len(d))
		for i, v := range d {
			m[i] = v != ""
		}
		return m, nil
	case []uint16:
		if t.DType != onnx.Uint16 {
			f, err := AsFloat32(t)
			if err != nil {
				return nil, err
			}
			return nz(f), nil
		}
		return nz(d), nil
	case []float32:
		return nz(d), nil
	case []float64:
		return nz(d), nil
	case []int64:
		return nz(d), nil
	case []int32:
		return nz(d), nil
	case []int16:
		return nz(d), nil
	case []int8:
		return nz(d), nil
	case []uint8:
		return nz(d), nil
	case []uint32:
		return nz(d), nil
	case []uint64:
		return nz(d), nil
	}
	return nil, fmt.Errorf("type %s is not supported", t.DType)
}

func nz[T number](d []T) []bool {
	m := make([]bool, len(d))
	for i, v := range d {
		m[i] = v != 0
	}
	return m
}

func nonZeroKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	if err := needTensor(x); err != nil {
		return nil, err
	}
	mask, err := nonZeroMask(x)
	if err != nil {
		return nil, err
	}
	count := 0
	for _, m := range mask {
		if m {
			count++
		}
	}
	r := x.Rank()
	out := ctx.New(onnx.Int64, r, count)
	o := out.Data.([]int64)
	st := contiguousStrides(x.Shape)
	j := 0
	for i, m := range mask {
		if !m {
			continue
		}
		rem := i
		for d := 0; d < r; d++ {
			o[d*count+j] = int64(rem / st[d])
			rem %= st[d]
		}
		j++
	}
	return []*Tensor{out}, nil
}

// uniqueSlices groups the n slices of data (outer×n×inner) into unique values:
// it returns, per unique value, the index of its first occurrence, and per
// slice, the unique value it belongs to. Unique values are in ascending order
// if sorted, else in order of first occurrence.
func uniqueSlices[T cmp.Ordered](data []T, outer, n, inner int, sorted bool) (first []int, inverse []int) {
	compare := func(i, j int) int {
		for o := 0; o < outer; o++ {
			for k := 0; k < inner; k++ {
				if c := cmp.Compare(data[(o*n+i)*inner+k], data[(o*n+j)*inner+k]); c != 0 {
					return c
				}
			}
		}
		return 0
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return compare(order[a], order[b]) < 0 })
	group := make([]int, n) // slice -> group in sorted order
	for i, s := range order {
		if i > 0 && compare(order[i-1], s) == 0 {
			group[s] = len(first) - 1
			continue
		}
		first = append(first, s) // stable sort: the earliest occurrence comes first
		group[s] = len(first) - 1
	}
	rank := make([]int, len(first)) // group -> output position
	for g := range rank {
		rank[g] = g
	}
	if !sorted {
		byFirst := make([]int, len(first))
		for g := range byFirst {
			byFirst[g] = g
		}
		sort.Slice(byFirst, func(a, b int) bool { return first[byFirst[a]] < first[byFirst[b]] })
		nf := make([]int, len(first))
		for pos, g := range byFirst {
			rank[g] = pos
			nf[pos] = first[g]
		}
		first = nf
	}
	inverse = make([]int, n)
	for s, g := range group {
		inverse[s] = rank[g]
	}
	return first, inverse
}

func uniqueBuilder(b *Build) (Kernel, error) {
	axis, hasAxis := b.Int("axis", 0), b.Has("axis")
	sorted := b.Int("sorted", 1) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		shape, a := []int{x.Len()}, 0
		if hasAxis {
			var err error
			if a, err = normAxis(axis, x.Rank()); err != nil {
				return nil, err
			}
			shape = x.Shape
		}
		outer, n, inner := numElements(shape[:a]), shape[a], numElements(shape[a+1:])
		var first, inverse []int
		switch d := x.Data.(type) {
		case []float32:
			first, inverse = uniqueSlices(d, outer, n, inner, sorted)
		case []float64:
			first, inverse = uniqueSlices(d, outer, n, inner, sorted)
		case []int64:
			first, inverse = uniqueSlices(d, outer, n, inner, sorted)
		case []int32:
			first, inverse = uniqueSlices(d, outer, n, inner, sorted)
		case []int16:
			first, inverse = uniqueSlices(d, outer, n, inner, sorted)
		case []int8:
			first, inverse = uniqueSlices(d, outer, n, inner, sorted)
		case []uint8:
			first, inverse = uniqueSlices(d, outer, n, inner, sorted)
		case []uint32:
			first, inverse = uniqueSlices(d, outer, n, inner, sorted)
		case []uint64:
			first, inverse = uniqueSlices(d, outer, n, inner, sorted)
		case []string:
			first, inverse = uniqueSlices(d, outer, n, inner, sorted)
		case []uint16:
			if x.DType == onnx.Uint16 {
				first, inverse = uniqueSlices(d, outer, n, inner, sorted)
				break
			}
			f, err := AsFloat32(x)
			if err != nil {
				return nil, err
			}
			first, inverse = uniqueSlices(f, outer, n, inner, sorted)
		default:
			return nil, fmt.Errorf("type %s is not supported", x.DType)
		}
		yshape := append([]int{}, shape...)
		yshape[a] = len(first)
		y := ctx.New(x.DType, yshape...)
		d := 0
		for o := 0; o < outer; o++ {
			for _, f := range first {
				copyElems(y.Data, x.Data, d, (o*n+f)*inner, inner)
				d += inner
			}
		}
		indices := ctx.New(onnx.Int64, len(first))
		counts := ctx.New(onnx.Int64, len(first))
		inv := ctx.New(onnx.Int64, n)
		for i, f := range first {
			indices.Data.([]int64)[i] = int64(f)
		}
		for s, g := range inverse {
			inv.Data.([]int64)[s] = int64(g)
			counts.Data.([]int64)[g]++
		}
		return []*Tensor{y, indices, inv, counts}, nil
	}, nil
}

func init() {
	regVersions("Gather", gatherBuilder, 1, 11, 13)
	regVersions("GatherElements", gatherElementsBuilder, 11, 13)
	regVersions("GatherND", gatherNDBuilder, 11, 12, 13)
	regVersions("ScatterND", scatterNDBuilder, 11, 13, 16, 18)
	regVersions("ScatterElements", scatterElementsBuilder, 11, 13, 16, 18)
	regVersions("Scatter", scatterElementsBuilder, 9, 11) // ScatterElements without reduction
	regVersions("Compress", compressBuilder, 9, 11)
	regVersions("NonZero", noAttrs(nonZeroKernel), 9, 13)
	regVersions("Unique", uniqueBuilder, 11)
}
