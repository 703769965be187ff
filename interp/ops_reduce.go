package interp

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// asFloat64s reads any numeric or bool tensor as float64 (reductions compute
// in float64 and convert back).
func asFloat64s(t *Tensor) ([]float64, error) {
	conv := func(n int, at func(int) float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = at(i)
		}
		return out
	}
	switch d := t.Data.(type) {
	case []float64:
		return d, nil
	case []float32:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []int64:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []int32:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []int16:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []int8:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []uint8:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []uint32:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []uint64:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []bool:
		return conv(len(d), func(i int) float64 {
			if d[i] {
				return 1
			}
			return 0
		}), nil
	case []uint16:
		if t.DType == onnx.Uint16 {
			return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
		}
		f, err := AsFloat32(t)
		if err != nil {
			return nil, err
		}
		return conv(len(f), func(i int) float64 { return float64(f[i]) }), nil
	}
	return nil, fmt.Errorf("type %s is not supported", t.DType)
}

// fromFloat64s builds a tensor of type dt from float64 results.
func fromFloat64s(ctx *Ctx, dt onnx.DataType, shape []int, v []float64) (*Tensor, error) {
	out := ctx.New(dt, shape...)
	switch d := out.Data.(type) {
	case []float64:
		copy(d, v)
	case []float32:
		for i, x := range v {
			d[i] = float32(x)
		}
	case []int64:
		for i, x := range v {
			d[i] = int64(x)
		}
	case []int32:
		for i, x := range v {
			d[i] = int32(x)
		}
	case []int16:
		for i, x := range v {
			d[i] = int16(x)
		}
	case []int8:
		for i, x := range v {
			d[i] = int8(x)
		}
	case []uint8:
		for i, x := range v {
			d[i] = uint8(x)
		}
	case []uint32:
		for i, x := range v {
			d[i] = uint32(x)
		}
	case []uint64:
		for i, x := range v {
			d[i] = uint64(x)
		}
	case []bool:
		for i, x := range v {
			d[i] = x != 0
		}
	case []uint16:
		switch dt {
		case onnx.Float16:
			for i, x := range v {
				d[i] = Float32ToFloat16(float32(x))
			}
		case onnx.BFloat16:
			for i, x := range v {
				d[i] = Float32ToBFloat16(float32(x))
			}
		default:
			for i, x := range v {
				d[i] = uint16(x)
			}
		}
	default:
		return nil, fmt.Errorf("type %s is not supported", dt)
	}
	return out, nil
}

// reducePlan maps input elements to output elements for a reduction over a
// set of axes.
type reducePlan struct {
	outShape  []int // with keepdims applied
	outLen    int
	count     int   // elements per output
	outStride []int // per input dim: stride in the output, 0 if reduced
}

func planReduce(shape []int, axes []int64, keepdims bool) (*reducePlan, error) {
	r := len(shape)
	red := make([]bool, r)
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		ax, err := normAxis(a, r)
		if err != nil {
			return nil, err
		}
		red[ax] = true
	}
	p := &reducePlan{outStride: make([]int, r), count: 1}
	st := 1
	for i := r - 1; i >= 0; i-- {
		if red[i] {
			p.count *= shape[i]
			continue
		}
		p.outStride[i] = st
		st *= shape[i]
	}
	p.outLen = st
	for i, d := range shape {
		switch {
		case !red[i]:
			p.outShape = append(p.outShape, d)
		case keepdims:
			p.outShape = append(p.outShape, 1)
		}
	}
	if p.outShape == nil {
		p.outShape = []int{}
	}
	return p, nil
}

// each calls fn(inputIndex, outputIndex) for every input element.
func (p *reducePlan) each(shape []int, fn func(i, o int)) {
	n := prod(shape)
	if n == 0 {
		return
	}
	r := len(shape)
	idx := make([]int, r)
	o := 0
	for i := 0; i < n; i++ {
		fn(i, o)
		for d := r - 1; d >= 0; d-- {
			idx[d]++
			o += p.outStride[d]
			if idx[d] < shape[d] {
				break
			}
			o -= p.outStride[d] * shape[d]
			idx[d] = 0
		}
	}
}

type reduceOp struct {
	init   float64
	step   func(acc, x float64) float64
	finish func(acc float64, n int) float64
}

var reduceOps = map[string]reduceOp{
	"ReduceSum":       {0, func(a, x float64) float64 { return a + x }, nil},
	"ReduceMean":      {0, func(a, x float64) float64 { return a + x }, func(a float64, n int) float64 { return a / float64(n) }},
	"ReduceMax":       {math.Inf(-1), func(a, x float64) float64 { return max(a, x) }, nil},
	"ReduceMin":       {math.Inf(1), func(a, x float64) float64 { return min(a, x) }, nil},
	"ReduceProd":      {1, func(a, x float64) float64 { return a * x }, nil},
	"ReduceL1":        {0, func(a, x float64) float64 { return a + math.Abs(x) }, nil},
	"ReduceL2":        {0, func(a, x float64) float64 { return a + x*x }, func(a float64, _ int) float64 { return math.Sqrt(a) }},
	"ReduceSumSquare": {0, func(a, x float64) float64 { return a + x*x }, nil},
	"ReduceLogSum":    {0, func(a, x float64) float64 { return a + x }, func(a float64, _ int) float64 { return math.Log(a) }},
}

// reduce runs op (a name from reduceOps or ReduceLogSumExp) over axes.
func reduce(ctx *Ctx, op string, x *Tensor, axes []int64, keepdims, noop bool) (*Tensor, error) {
	if len(axes) == 0 && noop {
		return x, nil
	}
	p, err := planReduce(x.Shape, axes, keepdims)
	if err != nil {
		return nil, err
	}
	if out := reduceRowsF32(ctx, op, x, p); out != nil {
		return out, nil
	}
	if out := reduceMiddleF32(ctx, op, x, p); out != nil {
		return out, nil
	}
	v, err := asFloat64s(x)
	if err != nil {
		return nil, err
	}
	acc := make([]float64, p.outLen)
	if op == "ReduceLogSumExp" {
		// Subtract the maximum for stability.
		m := make([]float64, p.outLen)
		for i := range m {
			m[i] = math.Inf(-1)
		}
		p.each(x.Shape, func(i, o int) { m[o] = max(m[o], v[i]) })
		p.each(x.Shape, func(i, o int) { acc[o] += math.Exp(v[i] - m[o]) })
		for o := range acc {
			if math.IsInf(m[o], 0) {
				acc[o] = m[o]
				if p.count == 0 {
					acc[o] = math.Inf(-1)
				}
				continue
			}
			acc[o] = math.Log(acc[o]) + m[o]
		}
	} else {
		ro, ok := reduceOps[op]
		if !ok {
			return nil, fmt.Errorf("unknown reduction %s", op)
		}
		for o := range acc {
			acc[o] = ro.init
		}
		if op == "ReduceMax" || op == "ReduceMin" {
			// NaN propagates through max/min in ONNX Runtime and numpy.
			p.each(x.Shape, func(i, o int) {
				if math.IsNaN(v[i]) || math.IsNaN(acc[o]) {
					acc[o] = math.NaN()
					return
				}
				acc[o] = ro.step(acc[o], v[i])
			})
			if p.count == 0 && !isFloat(x.DType) {
				// Empty max/min of integers: the type's lowest/highest value.
				return emptyIntExtreme(ctx, x.DType, p.outShape, op == "ReduceMax")
			}
		} else {
			p.each(x.Shape, func(i, o int) { acc[o] = ro.step(acc[o], v[i]) })
		}
		if ro.finish != nil {
			for o := range acc {
				acc[o] = ro.finish(acc[o], p.count)
			}
		}
	}
	return fromFloat64s(ctx, x.DType, p.outShape, acc)
}

// reduceRowsF32 is ReduceSum, ReduceMean, ReduceSumSquare, ReduceL2,
// ReduceMax or ReduceMin of float32 over trailing axes (contiguous rows)
// through simd.Sum, simd.Dot (which add in float32 lanes) and
// extremeF32; nil when the case does not apply.
func reduceRowsF32(ctx *Ctx, op string, x *Tensor, p *reducePlan) *Tensor {
	if x.DType != onnx.Float || p.count == 0 {
		return nil
	}
	switch op {
	case "ReduceSum", "ReduceMean", "ReduceSumSquare", "ReduceL2", "ReduceMax", "ReduceMin":
	default:
		return nil
	}
	k := len(x.Shape)
	for k > 0 && p.outStride[k-1] == 0 {
		k--
	}
	n := prod(x.Shape[k:])
	if n != p.count {
		return nil
	}
	v := x.Floats()
	out := ctx.newRaw(onnx.Float, p.outShape...)
	z := out.Floats()
	for o := range z {
		row := v[o*n : (o+1)*n]
		switch op {
		case "ReduceSumSquare":
			z[o] = simd.Dot(row, row)
		case "ReduceL2":
			z[o] = float32(math.Sqrt(float64(simd.Dot(row, row))))
		case "ReduceMean":
			z[o] = simd.Sum(row) / float32(n)
		case "ReduceMax", "ReduceMin":
			z[o] = extremeF32(row, op == "ReduceMax")
		default:
			z[o] = simd.Sum(row)
		}
	}
	return out
}

// extremeF32 is the largest (smallest) element of row as Go's max (min)
// gives it, the general path's semantics: a NaN anywhere gives NaN, and
// +0 beats −0 (−0 for min). The vector kernels leave those two cases
// unspecified, so a row with a NaN (its sum is NaN) or a zero result
// takes the element loop; the rest is exact either way.
func extremeF32(row []float32, isMax bool) float32 {
	var m float32
	if isMax {
		m = simd.Max(row)
	} else {
		m, _ = simd.MinMax(row)
	}
	if s := simd.Sum(row); m != 0 && s == s {
		return m
	}
	m = row[0]
	for _, v := range row {
		if isMax {
			m = max(m, v)
		} else {
			m = min(m, v)
		}
	}
	return m
}

// reduceMiddleF32 is ReduceSum, ReduceMean, ReduceMax or ReduceMin of
// float32 over one run of consecutive axes followed by kept ones (a mean
// over the sequence of [batch, seq, features]): x is then outer × R ×
// inner, and each output row of inner floats is the sum of R input rows,
// added row by row in float32 with the vector Add, as ONNX Runtime adds
// them (then divided by R for the mean; Max and Min fold the rows with
// Go's max and min). nil when the case does not apply. The element loop
// of the general path took 40 ns an element here.
func reduceMiddleF32(ctx *Ctx, op string, x *Tensor, p *reducePlan) *Tensor {
	if x.DType != onnx.Float || p.count == 0 {
		return nil
	}
	switch op {
	case "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin":
	default:
		return nil
	}
	sh := x.Shape
	k1 := len(sh)
	for k1 > 0 && p.outStride[k1-1] != 0 {
		k1--
	}
	k0 := k1
	for k0 > 0 && p.outStride[k0-1] == 0 {
		k0--
	}
	inner, R := prod(sh[k1:]), prod(sh[k0:k1])
	if k1 == len(sh) || R != p.count || inner < 8 {
		return nil // no kept trailing axes, reduced axes not one run, or rows too short
	}
	outer := prod(sh[:k0])
	v := x.Floats()
	out := ctx.newRaw(onnx.Float, p.outShape...)
	z := out.Floats()
	for o := 0; o < outer; o++ {
		acc := z[o*inner : (o+1)*inner]
		in := v[o*R*inner : (o+1)*R*inner]
		copy(acc, in[:inner])
		for r := 1; r < R; r++ {
			row := in[r*inner : (r+1)*inner]
			switch op {
			case "ReduceMax": // Go's max, as the general path: NaN wins, +0 over −0
				for j, v := range row {
					acc[j] = max(acc[j], v)
				}
			case "ReduceMin":
				for j, v := range row {
					acc[j] = min(acc[j], v)
				}
			default:
				simd.Add(acc, acc, row)
			}
		}
		if op == "ReduceMean" {
			n := float32(R)
			for j := range acc {
				acc[j] /= n
			}
		}
	}
	return out
}

func emptyIntExtreme(ctx *Ctx, dt onnx.DataType, shape []int, isMax bool) (*Tensor, error) {
	out := ctx.New(dt, shape...)
	fill := func(lo, hi float64) []float64 {
		v := make([]float64, out.Len())
		for i := range v {
			v[i] = hi
			if isMax {
				v[i] = lo
			}
		}
		return v
	}
	switch dt {
	case onnx.Int64:
		d := out.Data.([]int64)
		for i := range d {
			d[i] = math.MaxInt64
			if isMax {
				d[i] = math.MinInt64
			}
		}
		return out, nil
	case onnx.Uint64:
		d := out.Data.([]uint64)
		for i := range d {
			d[i] = math.MaxUint64
			if isMax {
				d[i] = 0
			}
		}
		return out, nil
	case onnx.Int32:
		return fromFloat64s(ctx, dt, shape, fill(math.MinInt32, math.MaxInt32))
	case onnx.Uint32:
		return fromFloat64s(ctx, dt, shape, fill(0, math.MaxUint32))
	case onnx.Int8:
		return fromFloat64s(ctx, dt, shape, fill(math.MinInt8, math.MaxInt8))
	case onnx.Uint8:
		return fromFloat64s(ctx, dt, shape, fill(0, math.MaxUint8))
	case onnx.Bool:
		return fromFloat64s(ctx, dt, shape, fill(0, 1))
	}
	return nil, fmt.Errorf("type %s is not supported", dt)
}

// reduceBuilder handles both forms: axes as attribute (attrAxes) or as the
// optional second input.
func reduceBuilder(op string, attrAxes bool) Builder {
	return func(b *Build) (Kernel, error) {
		keep := b.Int("keepdims", 1) != 0
		noop := b.Int("noop_with_empty_axes", 0) != 0
		axes := b.Ints("axes", nil)
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			ax := axes
			if !attrAxes {
				ax = nil
				if len(in) > 1 && in[1] != nil {
					var err error
					if ax, err = intsOf(in[1]); err != nil {
						return nil, err
					}
				}
			}
			out, err := reduce(ctx, op, in[0], ax, keep, noop)
			return []*Tensor{out}, err
		}, nil
	}
}

// argExtreme computes ArgMax/ArgMin along axis.
func argExtreme(ctx *Ctx, x *Tensor, axis int64, keep, last, isMax bool) (*Tensor, error) {
	ax, err := normAxis(axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	outer, dim, inner := prod(x.Shape[:ax]), x.Shape[ax], prod(x.Shape[ax+1:])
	if dim == 0 {
		return nil, fmt.Errorf("cannot take the arg-extreme of an empty axis")
	}
	var shape []int
	for i, d := range x.Shape {
		switch {
		case i != ax:
			shape = append(shape, d)
		case keep:
			shape = append(shape, 1)
		}
	}
	out := ctx.New(onnx.Int64, shape...)
	r := out.Data.([]int64)
	// float32 and int64 in place: a float64 copy of a large input cost more
	// (fresh pages) than the scan.
	switch d := x.Data.(type) {
	case []float32:
		argScan(r, d, outer, dim, inner, last, isMax)
	case []int64:
		argScan(r, d, outer, dim, inner, last, isMax)
	default:
		v, err := asFloat64s(x)
		if err != nil {
			return nil, err
		}
		argScan(r, v, outer, dim, inner, last, isMax)
	}
	return out, nil
}

// argScan writes to r the index of the extreme of each of the outer·inner
// runs of dim values (stride inner) of v: the first (last with last set)
// of equal extremes; a NaN is never better than what it follows.
func argScan[T float32 | float64 | int64](r []int64, v []T, outer, dim, inner int, last, isMax bool) {
	for o := range outer {
		block := v[o*dim*inner : (o+1)*dim*inner]
		if inner == 1 {
			r[o] = int64(argRow(block, isMax, last))
			continue
		}
		// Columns a chunk at a time, each row of the chunk read in order.
		var best [256]T
		for c0 := 0; c0 < inner; c0 += len(best) {
			n := min(len(best), inner-c0)
			bi := r[o*inner+c0 : o*inner+c0+n]
			bv := best[:n]
			copy(bv, block[c0:c0+n])
			clear(bi)
			for k := 1; k < dim; k++ {
				argColumns(bv, bi, block[k*inner+c0:k*inner+c0+n], int64(k), isMax, last)
			}
		}
	}
}

// argColumns takes row k of a chunk of columns into their running
// extremes best and indices at, a loop per comparison (ties move the
// index with last set: > or ≥, < or ≤).
func argColumns[T float32 | float64 | int64](best []T, at []int64, row []T, k int64, isMax, last bool) {
	best, at = best[:len(row)], at[:len(row)]
	switch {
	case isMax && !last:
		for j, c := range row {
			if c > best[j] {
				best[j], at[j] = c, k
			}
		}
	case isMax:
		for j, c := range row {
			if c >= best[j] {
				best[j], at[j] = c, k
			}
		}
	case !last:
		for j, c := range row {
			if c < best[j] {
				best[j], at[j] = c, k
			}
		}
	default:
		for j, c := range row {
			if c <= best[j] {
				best[j], at[j] = c, k
			}
		}
	}
}

// argRow is argScan of one contiguous run, a loop per comparison.
func argRow[T float32 | float64 | int64](v []T, isMax, last bool) int {
	best, bi := v[0], 0
	switch {
	case isMax && !last:
		for k, c := range v {
			if c > best {
				best, bi = c, k
			}
		}
	case isMax:
		for k, c := range v {
			if c >= best {
				best, bi = c, k
			}
		}
	case !last:
		for k, c := range v {
			if c < best {
				best, bi = c, k
			}
		}
	default:
		for k, c := range v {
			if c <= best {
				best, bi = c, k
			}
		}
	}
	return bi
}

func init() {
	for op := range reduceOps {
		inputSince := int64(18)
		if op == "ReduceSum" {
			inputSince = 13
		}
		vers := []int64{1, 11, 13, 18}
		switch op {
		case "ReduceMax", "ReduceMin":
			vers = []int64{1, 11, 12, 13, 18, 20}
		case "ReduceSum":
			vers = []int64{1, 11, 13}
		}
		for _, v := range vers {
			Register("", op, v, reduceBuilder(op, v < inputSince))
		}
	}
	for _, v := range []int64{1, 11, 13, 18} {
		Register("", "ReduceLogSumExp", v, reduceBuilder("ReduceLogSumExp", v < 18))
	}
	for _, name := range []string{"ArgMax", "ArgMin"} {
		isMax := name == "ArgMax"
		for _, v := range []int64{1, 11, 12, 13} {
			Register("", name, v, func(b *Build) (Kernel, error) {
				axis := b.Int("axis", 0)
				keep := b.Int("keepdims", 1) != 0
				last := b.Int("select_last_index", 0) != 0
				return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
					out, err := argExtreme(ctx, in[0], axis, keep, last, isMax)
					return []*Tensor{out}, err
				}, nil
			})
		}
	}
}
