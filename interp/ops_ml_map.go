package interp

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/onnxslim/onnxslim/onnx"
)

// The ai.onnx.ml ops on maps (KindMap values): ZipMap, which turns a
// classifier's scores into a sequence of maps from class label to score, and
// DictVectorizer and CastMap, which turn one map back into a tensor.

// zipMapBuilder: X [N, C] (or [C], one row) to N maps {label_c: X[n, c]}.
func zipMapBuilder(b *Build) (Kernel, error) {
	labels, err := mlClassLabels(b)
	if err != nil {
		return nil, err
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if x.DType != onnx.Float {
			return nil, fmt.Errorf("input must be float, got %s", x)
		}
		if x.Rank() != 1 && x.Rank() != 2 {
			return nil, fmt.Errorf("input must be [N, C], got %s", x)
		}
		rows, c := 1, x.Len()
		if x.Rank() == 2 {
			rows, c = x.Shape[0], x.Shape[1]
		}
		if c != labels.Len() {
			return nil, fmt.Errorf("input has %d columns for %d class labels", c, labels.Len())
		}
		out := &Tensor{Kind: KindSequence, DType: onnx.Float, Elems: make([]*Tensor, rows)}
		xs := x.Floats()
		for r := range rows {
			vals := FromSlice(onnx.Float, []int{c}, slices.Clone(xs[r*c:(r+1)*c]))
			out.Elems[r] = NewMap(labels, vals) // maps share the label tensor: values are never modified
		}
		return []*Tensor{out}, nil
	}, nil
}

// mapInput checks that input 0 is a map with keys of type key (Undefined:
// int64 or string).
func mapInput(in []*Tensor, key onnx.DataType) (keys, values *Tensor, err error) {
	if len(in) == 0 || in[0] == nil {
		return nil, nil, fmt.Errorf("missing input")
	}
	if keys, values, err = in[0].MapEntries(); err != nil {
		return nil, nil, err
	}
	if key != onnx.Undefined && keys.DType != key {
		return nil, nil, fmt.Errorf("map keys must be %s, got %s", key, keys.DType)
	}
	return keys, values, nil
}

// dictVectorizerBuilder: a map to [1, V], the values of the vocabulary's
// keys in vocabulary order and zero (or "") for keys the map lacks.
func dictVectorizerBuilder(b *Build) (Kernel, error) {
	var vocab *Tensor
	if s := mlStrings(b, "string_vocabulary"); s != nil {
		vocab = FromSlice(onnx.String, []int{len(s)}, s)
	}
	if v := b.Ints("int64_vocabulary", nil); v != nil {
		if vocab != nil {
			return nil, fmt.Errorf("both string_vocabulary and int64_vocabulary are set")
		}
		vocab = FromSlice(onnx.Int64, []int{len(v)}, v)
	}
	if vocab == nil {
		return nil, fmt.Errorf("string_vocabulary or int64_vocabulary is required")
	}
	pos := map[string]int{}
	for i := range vocab.Len() {
		pos[ElemString(vocab, i)] = i
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		keys, values, err := mapInput(in, vocab.DType)
		if err != nil {
			return nil, err
		}
		out := ctx.New(values.DType, 1, vocab.Len())
		for i := range keys.Len() {
			if j, ok := pos[ElemString(keys, i)]; ok {
				copyElems(out.Data, values.Data, j, i, 1)
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

// castMapBuilder: a map(int64, string|float) to [1, N] of float, int64 or
// string, values in key order: DENSE, the map's own entries; SPARSE, slot k
// for key k up to max_map, padded with 0 (or "0.f", as ONNX Runtime pads).
func castMapBuilder(b *Build) (Kernel, error) {
	to := map[string]onnx.DataType{"TO_FLOAT": onnx.Float, "TO_STRING": onnx.String, "TO_INT64": onnx.Int64}[b.String("cast_to", "TO_FLOAT")]
	if to == onnx.Undefined {
		return nil, fmt.Errorf("unknown cast_to %q", b.String("cast_to", "TO_FLOAT"))
	}
	form := b.String("map_form", "DENSE")
	if form != "DENSE" && form != "SPARSE" {
		return nil, fmt.Errorf("unknown map_form %q", form)
	}
	maxMap := b.Int("max_map", 1)
	if form == "SPARSE" && (maxMap < 0 || maxMap > 1<<31) {
		return nil, fmt.Errorf("max_map %d is out of range", maxMap)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		keys, values, err := mapInput(in, onnx.Int64)
		if err != nil {
			return nil, err
		}
		if values.DType != onnx.Float && values.DType != onnx.String {
			return nil, fmt.Errorf("map values must be float or string, got %s", values.DType)
		}
		k := keys.Data.([]int64)
		order := make([]int, len(k))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(k[a], k[b]) })
		n := len(k)
		if form == "SPARSE" {
			n = int(maxMap)
		}
		out := ctx.New(to, 1, n)
		if form == "SPARSE" && to == onnx.String {
			for i := range out.Data.([]string) {
				out.Data.([]string)[i] = "0.f"
			}
		}
		for j, i := range order {
			slot := j
			if form == "SPARSE" {
				if k[i] < 0 {
					return nil, fmt.Errorf("negative key %d in a SPARSE map", k[i])
				}
				if k[i] >= maxMap {
					continue
				}
				slot = int(k[i])
			}
			if err := castMapValue(values, i, out, slot); err != nil {
				return nil, err
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

// castMapValue converts values[i] into out[slot].
func castMapValue(values *Tensor, i int, out *Tensor, slot int) error {
	if s, ok := values.Data.([]string); ok {
		switch d := out.Data.(type) {
		case []string:
			d[slot] = s[i]
		case []float32:
			f, err := strconv.ParseFloat(s[i], 32)
			if err != nil {
				return fmt.Errorf("value %q is not a number", s[i])
			}
			d[slot] = float32(f)
		case []int64:
			v, err := strconv.ParseInt(s[i], 10, 64)
			if err != nil {
				return fmt.Errorf("value %q is not an integer", s[i])
			}
			d[slot] = v
		}
		return nil
	}
	f := values.Data.([]float32)[i]
	switch d := out.Data.(type) {
	case []string:
		d[slot] = strconv.FormatFloat(float64(f), 'f', 6, 32) // C++'s std::to_string
	case []float32:
		d[slot] = f
	case []int64:
		if math.IsNaN(float64(f)) || math.Abs(float64(f)) >= 1<<63 {
			return fmt.Errorf("value %v does not fit in int64", f)
		}
		d[slot] = int64(f)
	}
	return nil
}

func init() {
	Register(mlDomain, "ZipMap", 1, needInputs(1, zipMapBuilder))
	Register(mlDomain, "DictVectorizer", 1, dictVectorizerBuilder)
	Register(mlDomain, "CastMap", 1, castMapBuilder)
}
