package interp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/onnx"
)

// randomTensor makes a small tensor of a random shape (rank ≤ 4, dims ≤ 4)
// and one of a few types, with values that are often out of range.
func randomTensor(r *rand.Rand) *Tensor {
	shape := make([]int, r.IntN(5))
	for i := range shape {
		shape[i] = r.IntN(5)
	}
	n := numElements(shape)
	switch r.IntN(5) {
	case 0:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(r.IntN(11) - 3)
		}
		return FromSlice(onnx.Int64, shape, v)
	case 1:
		v := make([]string, n)
		for i := range v {
			v[i] = []string{"", "a", "a b", "x.y"}[r.IntN(4)]
		}
		return FromSlice(onnx.String, shape, v)
	case 2:
		v := make([]uint8, n)
		for i := range v {
			v[i] = uint8(r.IntN(256))
		}
		return FromSlice(onnx.Uint8, shape, v)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * 3)
	}
	return FromSlice(onnx.Float, shape, v)
}

// TestOpsRejectBadInputs feeds random inputs to this family's kernels: they
// may fail, but with an error, never a panic.
func TestOpsRejectBadInputs(t *testing.T) {
	strAttr := func(name string, v ...string) *onnx.Attribute {
		a := &onnx.Attribute{Name: name, Type: onnx.AttrStrings}
		for _, s := range v {
			a.Strings = append(a.Strings, []byte(s))
		}
		return a
	}
	ops := []struct {
		op, domain string
		opset      int64
		attrs      []*onnx.Attribute
		nin, nout  int
	}{
		{"DFT", "", 20, nil, 3, 1},
		{"DFT", "", 17, []*onnx.Attribute{onnx.IntAttr("onesided", 1), onnx.IntAttr("inverse", 1)}, 2, 1},
		{"STFT", "", 17, nil, 4, 1},
		{"HannWindow", "", 17, nil, 1, 1},
		{"MelWeightMatrix", "", 17, nil, 5, 1},
		{"GridSample", "", 22, []*onnx.Attribute{onnx.StringAttr("mode", "cubic"), onnx.StringAttr("padding_mode", "reflection")}, 2, 1},
		{"AffineGrid", "", 20, nil, 2, 1},
		{"RoiAlign", "", 22, nil, 3, 1},
		{"NonMaxSuppression", "", 11, nil, 5, 1},
		{"Col2Im", "", 18, nil, 3, 1},
		{"DeformConv", "", 22, nil, 5, 1},
		{"CenterCropPad", "", 18, nil, 2, 1},
		{"MaxUnpool", "", 22, []*onnx.Attribute{onnx.IntsAttr("kernel_shape", []int64{2, 2})}, 3, 1},
		{"StringNormalizer", "", 10, []*onnx.Attribute{strAttr("stopwords", "a")}, 1, 1},
		{"StringConcat", "", 20, nil, 2, 1},
		{"StringSplit", "", 20, nil, 1, 2},
		{"RegexFullMatch", "", 20, []*onnx.Attribute{onnx.StringAttr("pattern", "a.*")}, 1, 1},
		{"TfIdfVectorizer", "", 9, []*onnx.Attribute{onnx.IntAttr("min_gram_length", 1), onnx.IntAttr("max_gram_length", 2), onnx.StringAttr("mode", "TF"),
			onnx.IntsAttr("ngram_counts", []int64{0, 1}), onnx.IntsAttr("ngram_indexes", []int64{0, 1}), onnx.IntsAttr("pool_int64s", []int64{1, 1, 2})}, 1, 1},
		{"ImageDecoder", "", 20, nil, 1, 1},
		{"BitCast", "", 26, []*onnx.Attribute{onnx.IntAttr("to", int64(onnx.Int32))}, 1, 1},
		{"LabelEncoder", mlDomain, 4, []*onnx.Attribute{strAttr("keys_strings", "a"), onnx.IntsAttr("values_int64s", []int64{1})}, 1, 1},
		{"TreeEnsemble", mlDomain, 5, treeAttrs(1, 0, 1), 1, 1},
		{"Binarizer", mlDomain, 1, nil, 1, 1},
		{"ArrayFeatureExtractor", mlDomain, 1, nil, 2, 1},
		{"Adagrad", trainingDomain, 1, nil, 5, 2},
		{"Adam", trainingDomain, 1, nil, 6, 3},
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, o := range ops {
		for range 300 {
			in := make([]*Tensor, o.nin)
			for i := range in {
				if r.IntN(6) > 0 {
					in[i] = randomTensor(r)
				}
			}
			_, err := runKernel(o.op, o.domain, o.opset, o.attrs, o.nout, in...)
			if err != nil && strings.Contains(err.Error(), "internal error") {
				t.Errorf("%s: %v", o.op, err)
				break
			}
		}
	}
}

// TestOpsMutatedConformanceInputs runs this family's conformance cases with
// mutated inputs (values pushed out of range, NaNs, other shapes): errors are
// fine, panics are not.
func TestOpsMutatedConformanceInputs(t *testing.T) {
	root := testdata.Conformance(t)
	prefixes := []string{"test_dft", "test_stft", "test_hannwindow", "test_melweightmatrix", "test_gridsample", "test_affine_grid",
		"test_roialign", "test_nonmaxsuppression", "test_col2im", "test_basic_deform_conv", "test_deform_conv", "test_center_crop_pad",
		"test_maxunpool", "test_strnormalizer", "test_string_", "test_regex_full_match", "test_tfidfvectorizer", "test_image_decoder",
		"test_bitcast", "test_ai_onnx_ml_", "test_adagrad", "test_adam", "test_momentum", "test_nesterov"}
	dirs, _ := filepath.Glob(filepath.Join(root, "node", "test_*"))
	r := rand.New(rand.NewPCG(3, 4))
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p) }) || strings.HasSuffix(name, "_expanded") {
			continue
		}
		m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSession(m, Options{MaxMemory: 64 << 20})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var feeds []*Tensor
		for i, v := range s.Inputs() {
			b, err := os.ReadFile(filepath.Join(dir, "test_data_set_0", fmt.Sprintf("input_%d.pb", i)))
			if err != nil {
				t.Fatal(err)
			}
			d, err := onnx.DecodeDatum(b, v.Type)
			if err != nil {
				t.Fatal(err)
			}
			x, err := FromDatum(d)
			if err != nil {
				t.Fatal(err)
			}
			feeds = append(feeds, x)
		}
		for range 40 {
			in := map[string]*Tensor{}
			for i, v := range s.Inputs() {
				in[v.Name] = feeds[i]
			}
			k := r.IntN(len(feeds))
			in[s.Inputs()[k].Name] = mutate(r, feeds[k])
			if _, err := s.Run(in); err != nil && strings.Contains(err.Error(), "internal error") {
				t.Errorf("%s: %v", name, err)
				break
			}
		}
	}
}

// mutate returns a changed copy of x: other values, or another shape.
func mutate(r *rand.Rand, x *Tensor) *Tensor {
	if r.IntN(3) == 0 {
		y := randomTensor(r)
		if y.DType != x.DType && r.IntN(2) == 0 {
			return y
		}
		shape := y.Shape
		v, err := numbersAsFloat64(y)
		if err != nil || x.DType == onnx.String {
			return x
		}
		out, err := tensorFromFloat64s(&Ctx{opts: &Options{MaxMemory: 1 << 20}}, x.DType, shape, v)
		if err != nil {
			return x
		}
		return out
	}
	v, err := numbersAsFloat64(x)
	if err != nil || len(v) == 0 {
		return x
	}
	v = append([]float64{}, v...)
	for range 1 + r.IntN(3) {
		i := r.IntN(len(v))
		switch r.IntN(4) {
		case 0:
			v[i] += float64(r.IntN(9) - 4)
		case 1:
			v[i] = -v[i] * 1000
		case 2:
			v[i] = math.NaN()
		default:
			v[i] = float64(r.IntN(1 << 16))
		}
	}
	out, err := tensorFromFloat64s(&Ctx{opts: &Options{MaxMemory: 1 << 30}}, x.DType, x.Shape, v)
	if err != nil {
		return x
	}
	return out
}
