package interp

import (
	"fmt"
	"unsafe"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// Shape-only ops and the dtype-agnostic data movement helpers that the
// tensor, gather and control-flow kernels share.

// regVersions registers one builder at several since-versions.
func regVersions(op string, b Builder, versions ...int64) {
	for _, v := range versions {
		Register("", op, v, b)
	}
}

// noAttrs wraps a kernel function that needs no attributes.
func noAttrs(k Kernel) Builder {
	return func(*Build) (Kernel, error) { return k, nil }
}

// toInt64s reads an integer tensor (int64, int32, or smaller) as int64s.
func toInt64s(t *Tensor) ([]int64, error) {
	if t == nil {
		return nil, nil
	}
	if t.Kind != KindTensor {
		return nil, fmt.Errorf("expected an integer tensor, got %s", t)
	}
	switch d := t.Data.(type) {
	case []int64:
		return d, nil
	case []int32:
		return widenInts(d), nil
	case []int16:
		return widenInts(d), nil
	case []int8:
		return widenInts(d), nil
	case []uint8:
		return widenInts(d), nil
	case []uint16:
		if t.DType == onnx.Uint16 {
			return widenInts(d), nil
		}
	case []uint32:
		return widenInts(d), nil
	case []uint64:
		return widenInts(d), nil
	}
	return nil, fmt.Errorf("expected an integer tensor, got %s", t)
}

func widenInts[T int8 | int16 | int32 | uint8 | uint16 | uint32 | uint64](d []T) []int64 {
	out := make([]int64, len(d))
	for i, v := range d {
		out[i] = int64(v)
	}
	return out
}

// scalarInt reads a one-element integer tensor.
func scalarInt(t *Tensor, what string) (int64, error) {
	v, err := toInt64s(t)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s must have one element, got %s", what, t)
	}
	return v[0], nil
}

// normAxes normalizes a list of axes, rejecting duplicates.
func normAxes(axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make([]bool, rank)
	for i, a := range axes {
		ax, err := normAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if seen[ax] {
			return nil, fmt.Errorf("axis %d is repeated in %v", a, axes)
		}
		seen[ax] = true
		out[i] = ax
	}
	return out, nil
}

// contiguousStrides returns row-major element strides for shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

// shapeFromInts converts int64 dimensions to a shape, rejecting negative ones.
func shapeFromInts(dims []int64) ([]int, error) {
	out := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 || d > 1<<40 {
			return nil, fmt.Errorf("bad dimension %d in %v", d, dims)
		}
		out[i] = int(d)
	}
	return out, nil
}

// DimsInt64 is a tensor shape as ONNX writes dims.
func DimsInt64(shape []int) []int64 {
	out := make([]int64, len(shape))
	for i, d := range shape {
		out[i] = int64(d)
	}
	return out
}

func needTensor(t *Tensor) error {
	if t == nil {
		return fmt.Errorf("missing input")
	}
	if t.Kind != KindTensor {
		return fmt.Errorf("expected a tensor, got %s", t)
	}
	return nil
}

// stridedCopy copies a block of the given shape from src (starting at sOff,
// stepping sSt per dimension; strides may be 0 or negative) into dst
// (starting at dOff, stepping dSt). Both slices must have the same storage type.
func stridedCopy(dst, src any, shape []int, dOff int, dSt []int, sOff int, sSt []int) {
	shape, dSt, sSt = coalesceDims(shape, dSt, sSt)
	switch d := dst.(type) {
	case []float32:
		stridedT(d, src.([]float32), shape, dOff, dSt, sOff, sSt)
	case []float64:
		stridedT(d, src.([]float64), shape, dOff, dSt, sOff, sSt)
	case []uint16:
		stridedT(d, src.([]uint16), shape, dOff, dSt, sOff, sSt)
	case []int64:
		stridedT(d, src.([]int64), shape, dOff, dSt, sOff, sSt)
	case []int32:
		stridedT(d, src.([]int32), shape, dOff, dSt, sOff, sSt)
	case []int16:
		stridedT(d, src.([]int16), shape, dOff, dSt, sOff, sSt)
	case []int8:
		stridedT(d, src.([]int8), shape, dOff, dSt, sOff, sSt)
	case []uint8:
		stridedT(d, src.([]uint8), shape, dOff, dSt, sOff, sSt)
	case []uint32:
		stridedT(d, src.([]uint32), shape, dOff, dSt, sOff, sSt)
	case []uint64:
		stridedT(d, src.([]uint64), shape, dOff, dSt, sOff, sSt)
	case []bool:
		stridedT(d, src.([]bool), shape, dOff, dSt, sOff, sSt)
	case []string:
		stridedT(d, src.([]string), shape, dOff, dSt, sOff, sSt)
	case []complex64:
		stridedT(d, src.([]complex64), shape, dOff, dSt, sOff, sSt)
	case []complex128:
		stridedT(d, src.([]complex128), shape, dOff, dSt, sOff, sSt)
	default:
		panic(kernelError{fmt.Errorf("storage %T is not supported", dst)})
	}
}

// coalesceDims drops size-1 dimensions and merges neighbours that are contiguous
// in both source and destination, so copies run over long rows.
func coalesceDims(shape, dSt, sSt []int) ([]int, []int, []int) {
	var sh, ds, ss []int
	for i, n := range shape {
		if n == 1 {
			continue
		}
		if k := len(sh) - 1; k >= 0 && ds[k] == dSt[i]*n && ss[k] == sSt[i]*n {
			sh[k] *= n
			ds[k], ss[k] = dSt[i], sSt[i]
			continue
		}
		sh = append(sh, n)
		ds = append(ds, dSt[i])
		ss = append(ss, sSt[i])
	}
	return sh, ds, ss
}

func stridedT[T any](dst, src []T, shape []int, dOff int, dSt []int, sOff int, sSt []int) {
	if numElements(shape) == 0 {
		return
	}
	r := len(shape)
	if r == 0 {
		dst[dOff] = src[sOff]
		return
	}
	if r == 1 {
		shape, dSt, sSt = []int{1, shape[0]}, []int{0, dSt[0]}, []int{0, sSt[0]}
		r = 2
	}
	// The two innermost dimensions run as a block of rows in plain loops:
	// short rows (a [N,4] box sliced to [N,2]) would spend more on the
	// index arithmetic of the outer dimensions than on the copy.
	m, dm, sm := shape[r-2], dSt[r-2], sSt[r-2]
	n, ds, ss := shape[r-1], dSt[r-1], sSt[r-1]
	idx := make([]int, r)
	for {
		copyBlock(dst, src, m, n, dOff, dm, ds, sOff, sm, ss)
		d := r - 3
		for ; d >= 0; d-- {
			idx[d]++
			dOff += dSt[d]
			sOff += sSt[d]
			if idx[d] < shape[d] {
				break
			}
			dOff -= dSt[d] * shape[d]
			sOff -= sSt[d] * shape[d]
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// copyBlock copies the m×n block of rows at dst[d + i·dm + k·ds] from
// src[s + i·sm + k·ss]. It is a function of its own so that its loops keep
// their indices in registers: inlined in stridedT's walk they were spilled
// to the stack, 2.7 ns a row of two (Slice of [4420, 4] boxes to [4420, 2]).
func copyBlock[T any](dst, src []T, m, n, d, dm, ds, s, sm, ss int) {
	switch {
	case ds == 1 && ss == 1 && n > 8:
		for ; m > 0; m, d, s = m-1, d+dm, s+sm {
			copy(dst[d:d+n], src[s:s+n])
		}
	case ds == 1 && ss == 1 && n == 2: // a box's two coordinates: one move a row
		copyRows[T, [2]T](dst, src, m, d, dm, s, sm)
	case ds == 1 && ss == 1 && n == 4:
		copyRows[T, [4]T](dst, src, m, d, dm, s, sm)
	case ds == 1 && ss == 1:
		for ; m > 0; m, d, s = m-1, d+dm, s+sm {
			dr, sr := dst[d:d+n], src[s:s+n]
			for k := range dr {
				dr[k] = sr[k]
			}
		}
	case ss == 0:
		for ; m > 0; m, d, s = m-1, d+dm, s+sm {
			v := src[s]
			for k := 0; k < n; k++ {
				dst[d+k*ds] = v
			}
		}
	default:
		if !transposeBlock(dst, src, m, n, d, dm, ds, s, sm, ss) {
			copyStrided(dst, src, m, n, d, dm, ds, s, sm, ss)
		}
	}
}

// transposeBlock is copyBlock of a block that is a transpose of 4-byte
// words (rows contiguous on one side, columns on the other: NCHW to NHWC,
// a key's last two axes) of at least one 8×8 tile, through
// simd.Transpose; it reports whether it was one.
func transposeBlock[T any](dst, src []T, m, n, d, dm, ds, s, sm, ss int) bool {
	if unsafe.Sizeof(*new(T)) != 4 || m < 8 || n < 8 {
		return false
	}
	words := func(x []T) []float32 { return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(x))), len(x)) }
	switch {
	case ds == 1 && sm == 1 && ss >= m && dm >= n: // dst[d + i·dm + k] = src[s + i + k·ss]
		simd.Transpose(words(dst[d:]), dm, words(src[s:]), ss, n, m)
	case dm == 1 && ss == 1 && sm >= n && ds >= m: // dst[d + i + k·ds] = src[s + i·sm + k]
		simd.Transpose(words(dst[d:]), ds, words(src[s:]), sm, m, n)
	default:
		return false
	}
	return true
}

func absInt(x int) int { return max(x, -x) }

// copyStrided is copyBlock's general case (a transpose's gather: NCHW to
// NHWC reads each row's elements a plane apart) through pointers, the
// inner loop along whichever dimension reads the source closer together.
// The block's corners are bounds-checked once; no pointer leaves it.
func copyStrided[T any](dst, src []T, m, n, d, dm, ds, s, sm, ss int) {
	if m == 0 || n == 0 {
		return
	}
	if absInt(sm) < absInt(ss) {
		m, n, dm, ds, sm, ss = n, m, ds, dm, ss, sm
	}
	for _, i := range [2]int{0, m - 1} {
		for _, k := range [2]int{0, n - 1} {
			_, _ = dst[d+i*dm+k*ds], src[s+i*sm+k*ss]
		}
	}
	size := int(unsafe.Sizeof(dst[0]))
	pd, ps := unsafe.Pointer(&dst[d]), unsafe.Pointer(&src[s])
	for i := 0; ; {
		qd, qs := pd, ps
		for k := 0; ; {
			*(*T)(qd) = *(*T)(qs)
			if k++; k == n {
				break
			}
			qd, qs = unsafe.Add(qd, ds*size), unsafe.Add(qs, ss*size)
		}
		if i++; i == m {
			return
		}
		pd, ps = unsafe.Add(pd, dm*size), unsafe.Add(ps, sm*size)
	}
}

// copyRows copies m rows of R (an array of T) from src[s + i·sm] to
// dst[d + i·dm] through pointers: the rows' ends are checked once, as the
// rows lie between the first's and the last's (the strides may be
// negative).
func copyRows[T any, R any](dst, src []T, m, d, dm, s, sm int) {
	if m == 0 {
		return
	}
	n := int(unsafe.Sizeof(*new(R)) / unsafe.Sizeof(*new(T)))
	_, _ = dst[d:d+n], dst[d+(m-1)*dm:d+(m-1)*dm+n]
	_, _ = src[s:s+n], src[s+(m-1)*sm:s+(m-1)*sm+n]
	pd, ps := unsafe.Pointer(&dst[d]), unsafe.Pointer(&src[s])
	bd, bs := dm*int(unsafe.Sizeof(dst[0])), sm*int(unsafe.Sizeof(src[0]))
	for {
		*(*R)(pd) = *(*R)(ps)
		if m--; m == 0 {
			return // no pointer past the last row is made
		}
		pd, ps = unsafe.Add(pd, bd), unsafe.Add(ps, bs)
	}
}

// copyView returns a new tensor of the given shape read from t through a strided view.
func copyView(ctx *Ctx, t *Tensor, shape []int, off int, st []int) *Tensor {
	out := ctx.newRaw(t.DType, shape...) // the copy writes every element
	stridedCopy(out.Data, t.Data, shape, 0, contiguousStrides(shape), off, st)
	return out
}

// takeElems sets dst[i] = src[idx[i]], leaving dst[i] alone where idx[i] < 0.
func takeElems(dst, src any, idx []int) {
	switch d := dst.(type) {
	case []float32:
		takeT(d, src.([]float32), idx)
	case []float64:
		takeT(d, src.([]float64), idx)
	case []uint16:
		takeT(d, src.([]uint16), idx)
	case []int64:
		takeT(d, src.([]int64), idx)
	case []int32:
		takeT(d, src.([]int32), idx)
	case []int8:
		takeT(d, src.([]int8), idx)
	case []uint8:
		takeT(d, src.([]uint8), idx)
	case []bool:
		takeT(d, src.([]bool), idx)
	case []string:
		takeT(d, src.([]string), idx)
	default:
		for i, j := range idx {
			if j >= 0 {
				stridedCopy(dst, src, nil, i, nil, j, nil) // a scalar copy
			}
		}
	}
}

func takeT[T any](d, s []T, idx []int) {
	for i, j := range idx {
		if j >= 0 {
			d[i] = s[j]
		}
	}
}

// copyElems copies n elements from src[sOff:] to dst[dOff:].
func copyElems(dst, src any, dOff, sOff, n int) {
	stridedCopy(dst, src, []int{n}, dOff, []int{1}, sOff, []int{1})
}

// sliceData returns data[lo:hi] of any storage type.
func sliceData(data any, lo, hi int) any {
	switch d := data.(type) {
	case []float32:
		return d[lo:hi]
	case []float64:
		return d[lo:hi]
	case []uint16:
		return d[lo:hi]
	case []int64:
		return d[lo:hi]
	case []int32:
		return d[lo:hi]
	case []int16:
		return d[lo:hi]
	case []int8:
		return d[lo:hi]
	case []uint8:
		return d[lo:hi]
	case []uint32:
		return d[lo:hi]
	case []uint64:
		return d[lo:hi]
	case []bool:
		return d[lo:hi]
	case []string:
		return d[lo:hi]
	case []complex64:
		return d[lo:hi]
	case []complex128:
		return d[lo:hi]
	}
	panic(kernelError{fmt.Errorf("storage %T is not supported", data)})
}

// reshapeView returns a tensor sharing t's data with a new shape (no copy; kernels
// never modify inputs, so aliasing is safe).
func reshapeView(t *Tensor, shape []int) *Tensor {
	return &Tensor{DType: t.DType, Shape: shape, Data: t.Data}
}

func shapeKernel(b *Build) (Kernel, error) {
	start, end := b.Int("start", 0), b.Int("end", 1<<62)
	hasEnd := b.Has("end")
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if err := needTensor(in[0]); err != nil {
			return nil, err
		}
		r := int64(in[0].Rank())
		clamp := func(a int64) int64 {
			if a < 0 {
				a += r
			}
			return min(max(a, 0), r)
		}
		s, e := clamp(start), r
		if hasEnd {
			e = clamp(end)
		}
		dims := DimsInt64(in[0].Shape)
		if e < s {
			e = s
		}
		out := ctx.New(onnx.Int64, int(e-s))
		copy(out.Data.([]int64), dims[s:e])
		return []*Tensor{out}, nil
	}, nil
}

func sizeKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := needTensor(in[0]); err != nil {
		return nil, err
	}
	return []*Tensor{Scalar(onnx.Int64, int64(in[0].Len()))}, nil
}

// reshapeTo resolves a Reshape target (0 copies the input dimension unless
// allowzero, -1 is inferred).
func reshapeTo(in []int, target []int64, allowzero bool) ([]int, error) {
	out := make([]int, len(target))
	infer := -1
	known := 1
	for i, d := range target {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", target)
			}
			infer = i
			continue
		case d == 0 && !allowzero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d of a rank-%d input", target, i, len(in))
			}
			out[i] = in[i]
		case d < 0:
			return nil, fmt.Errorf("bad dimension %d in shape %v", d, target)
		default:
			out[i] = int(d)
		}
		known *= out[i]
	}
	n := numElements(in)
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", in, target)
		}
		out[infer] = n / known
	} else if known != n {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, n, target)
	}
	return out, nil
}

func reshapeBuilder(b *Build) (Kernel, error) {
	allowzero := b.Int("allowzero", 0) != 0
	if b.Opset < 5 && !b.HasInput(1) { // Reshape-1 took the shape as an attribute (some exporters still gave an input)
		target := b.Ints("shape", nil)
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			s, err := reshapeTo(in[0].Shape, target, false)
			if err != nil {
				return nil, err
			}
			return []*Tensor{reshapeView(in[0], s)}, nil
		}, nil
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if err := needTensor(in[0]); err != nil {
			return nil, err
		}
		target, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		s, err := reshapeTo(in[0].Shape, target, allowzero)
		if err != nil {
			return nil, err
		}
		return []*Tensor{reshapeView(in[0], s)}, nil
	}, nil
}

func flattenBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", 1)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if err := needTensor(in[0]); err != nil {
			return nil, err
		}
		r := in[0].Rank()
		a := axis
		if a < 0 {
			a += int64(r)
		}
		if a < 0 || a > int64(r) {
			return nil, fmt.Errorf("axis %d is out of range for rank %d", axis, r)
		}
		s := in[0].Shape
		return []*Tensor{reshapeView(in[0], []int{numElements(s[:a]), numElements(s[a:])})}, nil
	}, nil
}

// axesSource reads axes from an attribute (old opsets) or from input i.
func axesSource(b *Build, fromInput bool, i int) func(in []*Tensor) ([]int64, bool, error) {
	if !fromInput {
		a := b.Ints("axes", nil)
		has := b.Has("axes")
		return func([]*Tensor) ([]int64, bool, error) { return a, has, nil }
	}
	return func(in []*Tensor) ([]int64, bool, error) {
		if i >= len(in) || in[i] == nil {
			return nil, false, nil
		}
		a, err := toInt64s(in[i])
		return a, true, err
	}
}

func squeezeBuilder(b *Build) (Kernel, error) {
	axesOf := axesSource(b, b.Opset >= 13, 1)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if err := needTensor(in[0]); err != nil {
			return nil, err
		}
		axes, has, err := axesOf(in)
		if err != nil {
			return nil, err
		}
		shape := in[0].Shape
		drop := make([]bool, len(shape))
		if has {
			ax, err := normAxes(axes, len(shape))
			if err != nil {
				return nil, err
			}
			for _, a := range ax {
				if shape[a] != 1 {
					return nil, fmt.Errorf("cannot squeeze axis %d of size %d", a, shape[a])
				}
				drop[a] = true
			}
		} else {
			for i, d := range shape {
				drop[i] = d == 1
			}
		}
		out := []int{}
		for i, d := range shape {
			if !drop[i] {
				out = append(out, d)
			}
		}
		return []*Tensor{reshapeView(in[0], out)}, nil
	}, nil
}

func unsqueezeBuilder(b *Build) (Kernel, error) {
	axesOf := axesSource(b, b.Opset >= 13, 1)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if err := needTensor(in[0]); err != nil {
			return nil, err
		}
		axes, _, err := axesOf(in)
		if err != nil {
			return nil, err
		}
		r := in[0].Rank() + len(axes)
		ax, err := normAxes(axes, r)
		if err != nil {
			return nil, err
		}
		ins := make([]bool, r)
		for _, a := range ax {
			ins[a] = true
		}
		out := make([]int, r)
		j := 0
		for i := range out {
			if ins[i] {
				out[i] = 1
			} else {
				out[i] = in[0].Shape[j]
				j++
			}
		}
		return []*Tensor{reshapeView(in[0], out)}, nil
	}, nil
}

// identity passes any value through (tensors, sequences, optionals).
func identityKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if in[0] == nil {
		return nil, fmt.Errorf("missing input")
	}
	return []*Tensor{in[0]}, nil
}

func init() {
	regVersions("Shape", shapeKernel, 1, 13, 15, 19, 21, 23, 24, 25)
	regVersions("Size", noAttrs(sizeKernel), 1, 13, 19, 21, 23, 24, 25)
	regVersions("Reshape", reshapeBuilder, 1, 5, 13, 14, 19, 21, 23, 24, 25)
	regVersions("Flatten", flattenBuilder, 1, 9, 11, 13, 21, 23, 24, 25)
	regVersions("Squeeze", squeezeBuilder, 1, 11, 13, 21, 23, 24, 25)
	regVersions("Unsqueeze", unsqueezeBuilder, 1, 11, 13, 21, 23, 24, 25)
	regVersions("Identity", noAttrs(identityKernel), 1, 13, 14, 16, 19, 21, 23, 24, 25)
}
