package interp

import (
	"fmt"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func strs(shape []int, v ...string) *Tensor { return FromSlice(onnx.String, shape, v) }

func TestPySplit(t *testing.T) {
	for _, c := range []struct {
		s, delim string
		max      int64
		want     string
	}{
		{"a.b.c", ".", -1, `["a" "b" "c"]`},
		{"a..b", ".", -1, `["a" "" "b"]`},
		{"a.b.c", ".", 1, `["a" "b.c"]`},
		{"  a  b c ", "", -1, `["a" "b" "c"]`},
		{"a b  c ", "", 1, `["a" "b  c"]`},
		{"", "", -1, `[]`},
		{"", ",", -1, `[""]`}, // as Python's "".split(",")
	} {
		if got := fmt.Sprintf("%q", pySplit(c.s, c.delim, c.max)); got != c.want {
			t.Errorf("split(%q, %q, %d) = %s, want %s", c.s, c.delim, c.max, got, c.want)
		}
	}
}

func TestStringOps(t *testing.T) {
	out, err := runKernel("StringNormalizer", "", 10, []*onnx.Attribute{onnx.StringAttr("case_change_action", "LOWER"),
		{Name: "stopwords", Type: onnx.AttrStrings, Strings: [][]byte{[]byte("the")}}}, 1, strs([]int{3}, "The", "Cat", "x"))
	if err != nil || fmt.Sprint(out[0].Data) != "[cat x]" {
		t.Errorf("normalizer: got %v, %v", out, err)
	}
	out, err = runKernel("StringConcat", "", 20, nil, 1, strs([]int{2}, "a", "b"), strs([]int{}, "!"))
	if err != nil || fmt.Sprint(out[0].Data) != "[a! b!]" {
		t.Errorf("concat: got %v, %v", out, err)
	}
	out, err = runKernel("StringSplit", "", 20, []*onnx.Attribute{onnx.StringAttr("delimiter", "-")}, 2, strs([]int{2}, "a-b-c", "d"))
	if err != nil || fmt.Sprint(out[0].Shape, out[0].Data, out[1].Data) != "[2 3] [a b c d  ] [3 1]" {
		t.Errorf("split: got %v, %v", out, err)
	}
	out, err = runKernel("RegexFullMatch", "", 20, []*onnx.Attribute{onnx.StringAttr("pattern", `a+b`)}, 1, strs([]int{3}, "aab", "aabc", "b"))
	if err != nil || fmt.Sprint(out[0].Data) != "[true false false]" {
		t.Errorf("regex: got %v, %v", out, err)
	}
	if _, err := runKernel("RegexFullMatch", "", 20, []*onnx.Attribute{onnx.StringAttr("pattern", `(a`)}, 1, strs([]int{1}, "a")); err == nil {
		t.Error("bad pattern: want an error")
	}
	if _, err := runKernel("StringConcat", "", 20, nil, 1, strs([]int{2}, "a", "b"), FromSlice(onnx.Float, []int{1}, []float32{1})); err == nil {
		t.Error("concat of a number: want an error")
	}
}

func TestTfIdf(t *testing.T) {
	attrs := func(mode string) []*onnx.Attribute {
		return []*onnx.Attribute{onnx.IntAttr("min_gram_length", 1), onnx.IntAttr("max_gram_length", 2), onnx.IntAttr("max_skip_count", 1),
			onnx.StringAttr("mode", mode), onnx.IntsAttr("ngram_counts", []int64{0, 2}), onnx.IntsAttr("ngram_indexes", []int64{0, 1, 2}),
			onnx.IntsAttr("pool_int64s", []int64{1, 2, 1, 3}), onnx.FloatsAttr("weights", []float32{2, 3, 4})}
	}
	x := FromSlice(onnx.Int64, []int{5}, []int64{1, 2, 3, 1, 1})
	// Unigrams 1 (3×) and 2 (1×); bigram (1,3) with skip 1: positions 0→2.
	out, err := runKernel("TfIdfVectorizer", "", 9, attrs("TF"), 1, x)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "TF", out[0], 3, 1, 1)
	out, _ = runKernel("TfIdfVectorizer", "", 9, attrs("IDF"), 1, x)
	closeTo(t, "IDF", out[0], 2, 3, 4)
	out, _ = runKernel("TfIdfVectorizer", "", 9, attrs("TFIDF"), 1, x)
	closeTo(t, "TFIDF", out[0], 6, 3, 4)
	bad := attrs("TF")
	bad[4] = onnx.IntsAttr("ngram_counts", []int64{0, 9})
	if _, err := runKernel("TfIdfVectorizer", "", 9, bad, 1, x); err == nil {
		t.Error("ngram_counts beyond the pool: want an error")
	}
}
