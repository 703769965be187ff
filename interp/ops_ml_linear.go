package interp

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// The ai.onnx.ml linear models and feature transforms that scikit-learn
// pipelines export: LinearClassifier, LinearRegressor, Scaler, Normalizer,
// Imputer, OneHotEncoder, FeatureVectorizer and CategoryMapper. Outputs are
// float (or the input's type where the spec says so); arithmetic is float64.

// mlRows reads X [N, F] (or [F], one row) as float64.
func mlRows(x *Tensor) (xv []float64, n, f int, err error) {
	if x.Rank() != 1 && x.Rank() != 2 {
		return nil, 0, 0, fmt.Errorf("input must be [N, F], got %s", x)
	}
	if xv, err = numbersAsFloat64(x); err != nil {
		return nil, 0, 0, err
	}
	n, f = 1, x.Len()
	if x.Rank() == 2 {
		n, f = x.Shape[0], x.Shape[1]
	}
	return xv, n, f, nil
}

// linearScores returns X·Wᵀ + b for W [k, f] and b [k] (nil: 0).
func linearScores(xv []float64, n, f int, w []float64, b []float64, k int) ([]float64, error) {
	if len(w) != k*f {
		return nil, fmt.Errorf("%d coefficients do not make %d rows of %d features", len(w), k, f)
	}
	out := make([]float64, n*k)
	for r := range n {
		row := xv[r*f : (r+1)*f]
		for j := range k {
			s := 0.0
			if b != nil {
				s = b[j]
			}
			for i, x := range row {
				s += x * w[j*f+i]
			}
			out[r*k+j] = s
		}
	}
	return out, nil
}

// linearClassifierBuilder follows ONNX Runtime: one score row per intercept;
// the label is the top score's class, or, with one score row (and two
// labels), class 1 where the score s is positive, the scores [1-s, s] with
// s = σ(s) for LOGISTIC (the other post_transforms ignored). For PROBIT
// there, ONNX Runtime writes Φ⁻¹(s) of all rows first and zeros after;
// this writes [1-Φ⁻¹(s), Φ⁻¹(s)] per row.
func linearClassifierBuilder(b *Build) (Kernel, error) {
	coef, err := mlFloats(b, "coefficients")
	if err != nil || coef == nil {
		return nil, fmt.Errorf("coefficients is required")
	}
	icp, err := mlFloats(b, "intercepts")
	if err != nil {
		return nil, err
	}
	var labels *Tensor
	if s := mlStrings(b, "classlabels_strings"); s != nil {
		labels = FromSlice(onnx.String, []int{len(s)}, s)
	} else if v := b.Ints("classlabels_ints", nil); v != nil {
		labels = FromSlice(onnx.Int64, []int{len(v)}, v)
	} else {
		return nil, fmt.Errorf("classlabels_strings or classlabels_ints is required")
	}
	post, err := mlPost(b)
	if err != nil {
		return nil, err
	}
	k := len(icp)
	if k == 0 || len(coef)%k != 0 {
		return nil, fmt.Errorf("%d coefficients for %d intercepts", len(coef), k)
	}
	if k > 1 && labels.Len() != k {
		return nil, fmt.Errorf("%d class labels for %d score rows", labels.Len(), k)
	}
	if k == 1 && labels.Len() != 2 {
		return nil, fmt.Errorf("one score row needs exactly 2 class labels, got %d", labels.Len())
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		xv, n, f, err := mlRows(in[0])
		if err != nil {
			return nil, err
		}
		if len(coef) != k*f {
			return nil, fmt.Errorf("%d coefficients for %d classes of %d features", len(coef), k, f)
		}
		s, err := linearScores(xv, n, f, coef, icp, k)
		if err != nil {
			return nil, err
		}
		label := ctx.New(labels.DType, n)
		if k == 1 {
			z := make([]float64, 2*n)
			for r, v := range s {
				c := 0
				if v > 0 {
					c = 1
				}
				copyElems(label.Data, labels.Data, r, c, 1)
				switch post {
				case 2:
					v = mlLogistic(v)
				case 4:
					v = mlProbit(v)
				}
				z[2*r], z[2*r+1] = 1-v, v
			}
			scores, err := tensorFromFloat64s(ctx, onnx.Float, []int{n, 2}, z)
			return []*Tensor{label, scores}, err
		}
		for r := range n {
			y := s[r*k : (r+1)*k]
			best := 0
			for j, v := range y {
				if v > y[best] {
					best = j
				}
			}
			copyElems(label.Data, labels.Data, r, best, 1)
			mlPostTransform(y, post)
		}
		scores, err := tensorFromFloat64s(ctx, onnx.Float, []int{n, k}, s)
		return []*Tensor{label, scores}, err
	}, nil
}

// linearRegressorBuilder: X·Wᵀ + b for `targets` targets; as in ONNX Runtime
// one target takes only PROBIT of the post_transforms.
func linearRegressorBuilder(b *Build) (Kernel, error) {
	coef, err := mlFloats(b, "coefficients")
	if err != nil {
		return nil, err
	}
	icp, err := mlFloats(b, "intercepts")
	if err != nil {
		return nil, err
	}
	k := int(b.Int("targets", 1))
	if k < 1 || (icp != nil && len(icp) != k) {
		return nil, fmt.Errorf("%d intercepts for %d targets", len(icp), k)
	}
	post, err := mlPost(b)
	if err != nil {
		return nil, err
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		xv, n, f, err := mlRows(in[0])
		if err != nil {
			return nil, err
		}
		s, err := linearScores(xv, n, f, coef, icp, k)
		if err != nil {
			return nil, err
		}
		for r := range n {
			y := s[r*k : (r+1)*k]
			if k > 1 {
				mlPostTransform(y, post)
			} else if post == 4 {
				y[0] = mlProbit(y[0])
			}
		}
		out, err := tensorFromFloat64s(ctx, onnx.Float, []int{n, k}, s)
		return []*Tensor{out}, err
	}, nil
}

// perColumn checks a per-feature attribute: one value for all features or
// one per feature (the last dimension).
func perColumn(name string, v []float64, cols int) error {
	if len(v) != 1 && len(v) != cols {
		return fmt.Errorf("%s has %d values for %d features", name, len(v), cols)
	}
	return nil
}

func lastDim(x *Tensor) int {
	if x.Rank() == 0 {
		return 1
	}
	return x.Shape[x.Rank()-1]
}

// scalerBuilder: (X - offset) · scale per feature, as float.
func scalerBuilder(b *Build) (Kernel, error) {
	offset, err := mlFloats(b, "offset")
	if err != nil {
		return nil, err
	}
	scale, err := mlFloats(b, "scale")
	if err != nil {
		return nil, err
	}
	if offset == nil {
		offset = []float64{0}
	}
	if scale == nil {
		scale = []float64{1}
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		xv, err := numbersAsFloat64(x)
		if err != nil {
			return nil, err
		}
		c := lastDim(x)
		if err := perColumn("offset", offset, c); err != nil {
			return nil, err
		}
		if err := perColumn("scale", scale, c); err != nil {
			return nil, err
		}
		res := make([]float64, len(xv))
		for i, v := range xv {
			j := i % max(c, 1)
			res[i] = (v - offset[min(j, len(offset)-1)]) * scale[min(j, len(scale)-1)]
		}
		out, err := tensorFromFloat64s(ctx, onnx.Float, x.Shape, res)
		return []*Tensor{out}, err
	}, nil
}

// normalizerBuilder normalizes along axis 1 (the whole tensor when 1-D) by
// its MAX (largest value, not magnitude), L1 or L2 norm; a zero norm leaves
// the values as they are.
func normalizerBuilder(b *Build) (Kernel, error) {
	norm := b.String("norm", "MAX")
	if norm != "MAX" && norm != "L1" && norm != "L2" {
		return nil, fmt.Errorf("unknown norm %q", norm)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		xv, err := numbersAsFloat64(x)
		if err != nil {
			return nil, err
		}
		if x.Rank() == 0 {
			return nil, fmt.Errorf("input must have rank ≥ 1")
		}
		stride, inner := x.Shape[0], 1
		if x.Rank() > 1 {
			stride, inner = x.Shape[1], numElements(x.Shape[2:])
		}
		res := make([]float64, len(xv))
		for base := 0; base < len(xv); base += stride * inner {
			for o := range inner {
				at := func(s int) int { return base + o + s*inner }
				z := math.Inf(-1)
				if norm != "MAX" {
					z = 0
				}
				for s := range stride {
					v := xv[at(s)]
					switch norm {
					case "MAX":
						z = max(z, v)
					case "L1":
						z += math.Abs(v)
					case "L2":
						z += v * v
					}
				}
				if norm == "L2" {
					z = math.Sqrt(z)
				}
				for s := range stride {
					res[at(s)] = xv[at(s)]
					if z != 0 {
						res[at(s)] /= z
					}
				}
			}
		}
		out, err := tensorFromFloat64s(ctx, onnx.Float, x.Shape, res)
		return []*Tensor{out}, err
	}, nil
}

// imputerBuilder replaces replaced_value_* (NaN matching NaN) by the
// per-feature imputed_value_*; the output keeps the input's type.
func imputerBuilder(b *Build) (Kernel, error) {
	fv, err := mlFloats(b, "imputed_value_floats")
	if err != nil {
		return nil, err
	}
	iv := b.Ints("imputed_value_int64s", nil)
	if (fv == nil) == (iv == nil) {
		return nil, fmt.Errorf("exactly one of imputed_value_floats and imputed_value_int64s is required")
	}
	rf := float64(b.Float("replaced_value_float", 0))
	ri := b.Int("replaced_value_int64", 0)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		c := lastDim(x)
		switch x.Data.(type) {
		case []float32, []float64:
			if fv == nil {
				return nil, fmt.Errorf("%s input needs imputed_value_floats", x.DType)
			}
			if err := perColumn("imputed_value_floats", fv, c); err != nil {
				return nil, err
			}
			xv, _ := numbersAsFloat64(x)
			for i, v := range xv {
				if v == rf || (math.IsNaN(v) && math.IsNaN(rf)) {
					xv[i] = fv[min(i%max(c, 1), len(fv)-1)]
				}
			}
			out, err := tensorFromFloat64s(ctx, x.DType, x.Shape, xv)
			return []*Tensor{out}, err
		case []int64, []int32:
			if iv == nil {
				return nil, fmt.Errorf("%s input needs imputed_value_int64s", x.DType)
			}
			if len(iv) != 1 && len(iv) != c {
				return nil, fmt.Errorf("imputed_value_int64s has %d values for %d features", len(iv), c)
			}
			v, _ := toInt64s(x)
			out := ctx.New(x.DType, x.Shape...)
			for i, e := range v {
				if e == ri {
					e = iv[min(i%max(c, 1), len(iv)-1)]
				}
				if o, ok := out.Data.([]int32); ok {
					o[i] = int32(e)
				} else {
					out.Data.([]int64)[i] = e
				}
			}
			return []*Tensor{out}, nil
		}
		return nil, fmt.Errorf("input type %s is not supported", x.DType)
	}, nil
}

// oneHotEncoderBuilder: each element to a one-hot row over cats_int64s or
// cats_strings; numbers are matched as int64 (truncated). With zeros=0 an
// unknown category is an error.
func oneHotEncoderBuilder(b *Build) (Kernel, error) {
	index := map[string]int{}
	var n int
	strCats := mlStrings(b, "cats_strings")
	intCats := b.Ints("cats_int64s", nil)
	switch {
	case strCats != nil && intCats != nil:
		return nil, fmt.Errorf("both cats_strings and cats_int64s are set")
	case strCats != nil:
		for i, s := range strCats {
			index["s"+s] = i
		}
		n = len(strCats)
	case intCats != nil:
		for i, v := range intCats {
			index[fmt.Sprint("i", v)] = i
		}
		n = len(intCats)
	default:
		return nil, fmt.Errorf("cats_strings or cats_int64s is required")
	}
	zeros := b.Int("zeros", 1) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		keys := make([]string, x.Len())
		switch d := x.Data.(type) {
		case []string:
			for i, s := range d {
				keys[i] = "s" + s
			}
		default:
			v, err := numbersAsFloat64(x)
			if err != nil {
				return nil, err
			}
			for i, f := range v {
				keys[i] = fmt.Sprint("i", int64(f))
			}
		}
		out := ctx.New(onnx.Float, append(append([]int{}, x.Shape...), n)...)
		o := out.Floats()
		for i, k := range keys {
			j, ok := index[k]
			if !ok {
				if !zeros {
					return nil, fmt.Errorf("unknown category %s and zeros=0", k[1:])
				}
				continue
			}
			o[i*n+j] = 1
		}
		return []*Tensor{out}, nil
	}, nil
}

// featureVectorizerBuilder concatenates its inputs' rows, input i giving
// inputdimensions[i] columns (truncated or zero-padded), as float.
func featureVectorizerBuilder(b *Build) (Kernel, error) {
	dims := b.Ints("inputdimensions", nil)
	total := 0
	for _, d := range dims {
		if d < 0 {
			return nil, fmt.Errorf("negative input dimension %d", d)
		}
		total += int(d)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) != len(dims) {
			return nil, fmt.Errorf("%d inputs for %d inputdimensions", len(in), len(dims))
		}
		rows := -1
		vals := make([][]float64, len(in))
		for i, x := range in {
			if err := needTensor(x); err != nil {
				return nil, fmt.Errorf("input %d: %w", i, err)
			}
			r := 1
			if x.Rank() > 1 {
				r = x.Shape[0]
			}
			if rows >= 0 && r != rows {
				return nil, fmt.Errorf("input %d has %d rows, input 0 has %d", i, r, rows)
			}
			rows = r
			v, err := numbersAsFloat64(x)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		rows = max(rows, 0)
		if len(in) == 0 {
			rows = 0
		}
		res := make([]float64, rows*total)
		for r := range rows {
			at := r * total
			for i, v := range vals {
				w := len(v) / max(rows, 1)
				copy(res[at:at+min(w, int(dims[i]))], v[r*w:])
				at += int(dims[i])
			}
		}
		out, err := tensorFromFloat64s(ctx, onnx.Float, []int{rows, total}, res)
		return []*Tensor{out}, err
	}, nil
}

// categoryMapperBuilder maps strings to int64 through the parallel
// cats_strings and cats_int64s, and int64 back to strings; unknown values
// become default_int64 or default_string.
func categoryMapperBuilder(b *Build) (Kernel, error) {
	strs, ints := mlStrings(b, "cats_strings"), b.Ints("cats_int64s", nil)
	if len(strs) != len(ints) {
		return nil, fmt.Errorf("cats_strings (%d) and cats_int64s (%d) differ in length", len(strs), len(ints))
	}
	toInt, toStr := make(map[string]int64, len(strs)), make(map[int64]string, len(ints))
	for i := range strs {
		toInt[strs[i]], toStr[ints[i]] = ints[i], strs[i]
	}
	defInt, defStr := b.Int("default_int64", -1), b.String("default_string", "_Unused")
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		switch d := x.Data.(type) {
		case []string:
			out := ctx.New(onnx.Int64, x.Shape...)
			o := out.Data.([]int64)
			for i, s := range d {
				if v, ok := toInt[s]; ok {
					o[i] = v
				} else {
					o[i] = defInt
				}
			}
			return []*Tensor{out}, nil
		case []int64:
			out := ctx.New(onnx.String, x.Shape...)
			o := out.Data.([]string)
			for i, v := range d {
				if s, ok := toStr[v]; ok {
					o[i] = s
				} else {
					o[i] = defStr
				}
			}
			return []*Tensor{out}, nil
		}
		return nil, fmt.Errorf("input must be string or int64, got %s", x.DType)
	}, nil
}

func init() {
	Register(mlDomain, "LinearClassifier", 1, needInputs(1, linearClassifierBuilder))
	Register(mlDomain, "LinearRegressor", 1, needInputs(1, linearRegressorBuilder))
	Register(mlDomain, "Scaler", 1, needInputs(1, scalerBuilder))
	Register(mlDomain, "Normalizer", 1, needInputs(1, normalizerBuilder))
	Register(mlDomain, "Imputer", 1, needInputs(1, imputerBuilder))
	Register(mlDomain, "OneHotEncoder", 1, needInputs(1, oneHotEncoderBuilder))
	Register(mlDomain, "FeatureVectorizer", 1, featureVectorizerBuilder)
	Register(mlDomain, "CategoryMapper", 1, needInputs(1, categoryMapperBuilder))
}
