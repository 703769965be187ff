package interp

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/onnxslim/onnxslim/onnx"
)

// Ops that create tensors: Constant, ConstantOfShape, Range, EyeLike, OneHot,
// and the random generators (seeded when the node gives a seed).

// numbersAsFloat64 reads any real numeric tensor as float64s.
func numbersAsFloat64(t *Tensor) ([]float64, error) {
	if t == nil || t.Kind != KindTensor {
		return nil, fmt.Errorf("expected a numeric tensor, got %s", t)
	}
	switch d := t.Data.(type) {
	case []float64:
		return d, nil
	case []float32:
		return widenToF64(d), nil
	case []int64:
		return widenToF64(d), nil
	case []int32:
		return widenToF64(d), nil
	case []int16:
		return widenToF64(d), nil
	case []int8:
		return widenToF64(d), nil
	case []uint8:
		if IsFloat8(t.DType) {
			out := make([]float64, len(d))
			for i, v := range d {
				out[i] = Float8ToFloat64(t.DType, v)
			}
			return out, nil
		}
		return widenToF64(d), nil
	case []uint32:
		return widenToF64(d), nil
	case []uint64:
		return widenToF64(d), nil
	case []bool:
		out := make([]float64, len(d))
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
		return out, nil
	case []uint16:
		if t.DType == onnx.Uint16 {
			return widenToF64(d), nil
		}
		f, err := AsFloat32(t)
		if err != nil {
			return nil, err
		}
		return widenToF64(f), nil
	}
	return nil, fmt.Errorf("type %s is not supported", t.DType)
}

func widenToF64[T number](d []T) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}

// tensorFromFloat64s builds a tensor of type dt from float64 values (integers truncate).
func tensorFromFloat64s(ctx *Ctx, dt onnx.DataType, shape []int, v []float64) (*Tensor, error) {
	out := ctx.New(dt, shape...)
	switch d := out.Data.(type) {
	case []float32:
		narrowFromF64(d, v)
	case []float64:
		copy(d, v)
	case []int64:
		narrowFromF64(d, v)
	case []int32:
		narrowFromF64(d, v)
	case []int16:
		narrowFromF64(d, v)
	case []int8:
		narrowFromF64(d, v)
	case []uint32:
		narrowFromF64(d, v)
	case []uint64:
		narrowFromF64(d, v)
	case []bool:
		for i, x := range v {
			d[i] = x != 0
		}
	case []uint8:
		if IsFloat8(dt) {
			for i, x := range v {
				d[i] = Float64ToFloat8(dt, x, true)
			}
			break
		}
		narrowFromF64(d, v)
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
			narrowFromF64(d, v)
		}
	default:
		return nil, fmt.Errorf("type %s is not supported", dt)
	}
	return out, nil
}

func narrowFromF64[T number](d []T, v []float64) {
	for i, x := range v {
		d[i] = T(x)
	}
}

// sparseToDense expands a COO sparse tensor (linear or per-axis indices).
func sparseToDense(s *onnx.SparseTensor) (*Tensor, error) {
	if s.Values == nil || s.Indices == nil {
		return nil, fmt.Errorf("sparse tensor lacks values or indices")
	}
	vals, err := FromONNX(s.Values)
	if err != nil {
		return nil, err
	}
	it, err := FromONNX(s.Indices)
	if err != nil {
		return nil, err
	}
	idx, err := toInt64s(it)
	if err != nil {
		return nil, err
	}
	shape, err := shapeFromInts(s.Dims)
	if err != nil {
		return nil, err
	}
	out := Make(vals.DType, shape...)
	n, nnz := out.Len(), vals.Len()
	st := contiguousStrides(shape)
	rank2 := it.Rank() == 2
	if (rank2 && len(idx) != nnz*len(shape)) || (!rank2 && len(idx) != nnz) {
		return nil, fmt.Errorf("sparse tensor has %d indices for %d values", len(idx), nnz)
	}
	pos := make([]int, nnz)
	for i := range pos {
		p := int64(0)
		if rank2 {
			for d := range shape {
				p += idx[i*len(shape)+d] * int64(st[d])
			}
		} else {
			p = idx[i]
		}
		if p < 0 || p >= int64(n) {
			return nil, fmt.Errorf("sparse index out of range for shape %v", shape)
		}
		pos[i] = int(p)
	}
	for i, p := range pos {
		copyElems(out.Data, vals.Data, p, i, 1)
	}
	return out, nil
}

// constantValue reads Constant's one value attribute.
func constantValue(b *Build) (*Tensor, error) {
	for _, a := range b.Node.Attrs {
		switch a.Name {
		case "value":
			return b.Tensor("value")
		case "sparse_value":
			if a.SparseTensor == nil {
				return nil, fmt.Errorf("sparse_value is empty")
			}
			return sparseToDense(a.SparseTensor)
		case "value_float":
			return Scalar(onnx.Float, a.Float), nil
		case "value_floats":
			return FromSlice(onnx.Float, []int{len(a.Floats)}, append([]float32{}, a.Floats...)), nil
		case "value_int":
			return Scalar(onnx.Int64, a.Int), nil
		case "value_ints":
			return FromSlice(onnx.Int64, []int{len(a.Ints)}, append([]int64{}, a.Ints...)), nil
		case "value_string":
			return Scalar(onnx.String, string(a.String)), nil
		case "value_strings":
			s := make([]string, len(a.Strings))
			for i, v := range a.Strings {
				s[i] = string(v)
			}
			return FromSlice(onnx.String, []int{len(s)}, s), nil
		}
	}
	return nil, fmt.Errorf("no value attribute")
}

func constantBuilder(b *Build) (Kernel, error) {
	t, err := constantValue(b)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("the value attribute is empty")
	}
	return func(*Ctx, []*Tensor) ([]*Tensor, error) { return []*Tensor{t}, nil }, nil
}

func constantOfShapeBuilder(b *Build) (Kernel, error) {
	v, err := b.Tensor("value")
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = Scalar(onnx.Float, float32(0))
	}
	if v.Len() != 1 {
		return nil, fmt.Errorf("value must have one element, got %s", v)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		dims, err := toInt64s(in[0])
		if err != nil {
			return nil, err
		}
		shape, err := shapeFromInts(dims)
		if err != nil {
			return nil, err
		}
		out := ctx.New(v.DType, shape...)
		fillWith(out.Data, v.Data, out.Len())
		return []*Tensor{out}, nil
	}, nil
}

func rangeKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	var s [3]float64
	for i, name := range []string{"start", "limit", "delta"} {
		if in[i] == nil || in[i].Len() != 1 {
			return nil, fmt.Errorf("%s must be a scalar, got %s", name, in[i])
		}
		v, err := numbersAsFloat64(in[i])
		if err != nil {
			return nil, err
		}
		s[i] = v[0]
	}
	dt := in[0].DType
	if in[1].DType != dt || in[2].DType != dt {
		return nil, fmt.Errorf("start, limit and delta types differ")
	}
	if s[2] == 0 {
		return nil, fmt.Errorf("delta is 0")
	}
	n := math.Ceil((s[1] - s[0]) / s[2])
	if !(n > 0) {
		n = 0
	}
	if n > 1<<40 {
		return nil, fmt.Errorf("range of %v elements is too long", n)
	}
	if x, ok := in[0].Data.([]int64); ok { // exact for large int64 values
		out := ctx.New(dt, int(n))
		d, step := out.Data.([]int64), in[2].Data.([]int64)[0]
		for i := range d {
			d[i] = x[0] + int64(i)*step
		}
		return []*Tensor{out}, nil
	}
	v := make([]float64, int(n))
	for i := range v {
		v[i] = s[0] + float64(i)*s[2]
		if dt == onnx.Float {
			v[i] = float64(float32(s[0]) + float32(i)*float32(s[2]))
		}
	}
	out, err := tensorFromFloat64s(ctx, dt, []int{len(v)}, v)
	return []*Tensor{out}, err
}

func eyeLikeBuilder(b *Build) (Kernel, error) {
	dtAttr := onnx.DataType(b.Int("dtype", 0))
	k := int(b.Int("k", 0))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		if x.Rank() != 2 {
			return nil, fmt.Errorf("EyeLike needs a 2-D input, got %s", x)
		}
		dt := dtAttr
		if dt == onnx.Undefined {
			dt = x.DType
		}
		rows, cols := x.Shape[0], x.Shape[1]
		v := make([]float64, rows*cols)
		for i := 0; i < rows; i++ {
			if j := i + k; j >= 0 && j < cols {
				v[i*cols+j] = 1
			}
		}
		out, err := tensorFromFloat64s(ctx, dt, x.Shape, v)
		return []*Tensor{out}, err
	}, nil
}

func oneHotBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", -1)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		idx, err := numbersAsFloat64(in[0])
		if err != nil {
			return nil, err
		}
		dv, err := numbersAsFloat64(in[1])
		if err != nil || len(dv) != 1 {
			return nil, fmt.Errorf("depth must be a numeric scalar, got %s", in[1])
		}
		depth := int(dv[0])
		if depth <= 0 {
			return nil, fmt.Errorf("depth %d must be positive", depth)
		}
		vals := in[2]
		if vals == nil || vals.Len() != 2 {
			return nil, fmt.Errorf("values must have 2 elements, got %s", vals)
		}
		r := in[0].Rank() + 1
		a, err := normAxis(axis, r)
		if err != nil {
			return nil, err
		}
		shape := append(append(append([]int{}, in[0].Shape[:a]...), depth), in[0].Shape[a:]...)
		outer, inner := numElements(in[0].Shape[:a]), numElements(in[0].Shape[a:])
		out := ctx.New(vals.DType, shape...)
		fillWith(out.Data, vals.Data, out.Len())
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				v := int(idx[o*inner+i])
				if v < 0 {
					v += depth
				}
				if v >= 0 && v < depth {
					copyElems(out.Data, vals.Data, (o*depth+v)*inner+i, 1, 1)
				}
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

// rng returns a generator seeded by the node's seed attribute, or a random one.
func rng(b *Build) func() *rand.Rand {
	if b.Has("seed") {
		seed := math.Float32bits(b.Float("seed", 0))
		return func() *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 0x6f6e6e78)) }
	}
	return func() *rand.Rand { return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())) }
}

// randomBuilder builds RandomUniform/RandomNormal and their *Like forms.
func randomBuilder(normal, like bool) Builder {
	return func(b *Build) (Kernel, error) {
		newRand := rng(b)
		dtAttr := onnx.DataType(b.Int("dtype", 0))
		lo, hi := float64(b.Float("low", 0)), float64(b.Float("high", 1))
		mean, scale := float64(b.Float("mean", 0)), float64(b.Float("scale", 1))
		shapeAttr := b.Ints("shape", nil)
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			dt := dtAttr
			var shape []int
			if like {
				if err := needTensor(in[0]); err != nil {
					return nil, err
				}
				shape = in[0].Shape
				if dt == onnx.Undefined {
					dt = in[0].DType
				}
			} else {
				s, err := shapeFromInts(shapeAttr)
				if err != nil {
					return nil, err
				}
				shape = s
			}
			if dt == onnx.Undefined {
				dt = onnx.Float
			}
			r := newRand()
			v := make([]float64, numElements(shape))
			for i := range v {
				if normal {
					v[i] = mean + scale*r.NormFloat64()
				} else {
					v[i] = lo + (hi-lo)*r.Float64()
				}
			}
			out, err := tensorFromFloat64s(ctx, dt, shape, v)
			return []*Tensor{out}, err
		}, nil
	}
}

func bernoulliBuilder(b *Build) (Kernel, error) {
	newRand := rng(b)
	dtAttr := onnx.DataType(b.Int("dtype", 0))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		p, err := numbersAsFloat64(in[0])
		if err != nil {
			return nil, err
		}
		dt := dtAttr
		if dt == onnx.Undefined {
			dt = in[0].DType
		}
		r := newRand()
		v := make([]float64, len(p))
		for i, q := range p {
			if r.Float64() < q {
				v[i] = 1
			}
		}
		out, err := tensorFromFloat64s(ctx, dt, in[0].Shape, v)
		return []*Tensor{out}, err
	}, nil
}

func multinomialBuilder(b *Build) (Kernel, error) {
	newRand := rng(b)
	dt := onnx.DataType(b.Int("dtype", int64(onnx.Int32)))
	n := int(b.Int("sample_size", 1))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x, err := numbersAsFloat64(in[0])
		if err != nil {
			return nil, err
		}
		if in[0].Rank() != 2 || n < 0 {
			return nil, fmt.Errorf("the input must be [batch, classes], got %s", in[0])
		}
		batch, classes := in[0].Shape[0], in[0].Shape[1]
		r := newRand()
		v := make([]float64, batch*n)
		cdf := make([]float64, classes)
		for bi := 0; bi < batch; bi++ {
			sum := 0.0
			for c := 0; c < classes; c++ {
				sum += math.Exp(x[bi*classes+c]) // inputs are unnormalized log-probabilities
				cdf[c] = sum
			}
			for s := 0; s < n; s++ {
				u, c := r.Float64()*sum, 0
				for c < classes-1 && cdf[c] <= u {
					c++
				}
				v[bi*n+s] = float64(c)
			}
		}
		out, err := tensorFromFloat64s(ctx, dt, []int{batch, n}, v)
		return []*Tensor{out}, err
	}, nil
}

func init() {
	regVersions("Constant", constantBuilder, 1, 9, 11, 12, 13, 19, 21, 23, 24, 25)
	regVersions("ConstantOfShape", constantOfShapeBuilder, 9, 20, 21, 23, 24, 25)
	regVersions("Range", noAttrs(rangeKernel), 11, 27)
	regVersions("EyeLike", eyeLikeBuilder, 9, 22)
	regVersions("OneHot", oneHotBuilder, 9, 11)
	regVersions("RandomUniform", randomBuilder(false, false), 1, 22)
	regVersions("RandomNormal", randomBuilder(true, false), 1, 22)
	regVersions("RandomUniformLike", randomBuilder(false, true), 1, 22)
	regVersions("RandomNormalLike", randomBuilder(true, true), 1, 22)
	regVersions("Bernoulli", bernoulliBuilder, 15, 22)
	regVersions("Multinomial", multinomialBuilder, 7, 22)
}
