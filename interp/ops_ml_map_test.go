package interp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func intMap(keys []int64, vals ...float32) *Tensor {
	return NewMap(FromSlice(onnx.Int64, []int{len(keys)}, keys), FromSlice(onnx.Float, []int{len(vals)}, vals))
}

// mapString renders a map as {k:v ...} in its own order.
func mapString(t *Tensor) string {
	k, v, err := t.MapEntries()
	if err != nil {
		return err.Error()
	}
	parts := make([]string, k.Len())
	for i := range parts {
		parts[i] = ElemString(k, i) + ":" + ElemString(v, i)
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func TestZipMap(t *testing.T) {
	x := FromSlice(onnx.Float, []int{2, 3}, []float32{.1, .2, .7, .5, .25, .25})
	for _, c := range []struct {
		name  string
		attr  *onnx.Attribute
		in    *Tensor
		want  string
		key   onnx.DataType
		wantN int
	}{
		{"int64 labels", onnx.IntsAttr("classlabels_int64s", []int64{0, 1, 2}), x, "{[0]:[0.1] [1]:[0.2] [2]:[0.7]} {[0]:[0.5] [1]:[0.25] [2]:[0.25]}", onnx.Int64, 2},
		{"string labels", onnx.StringsAttr("classlabels_strings", "cat", "dog", "eel"), x, "{[cat]:[0.1] [dog]:[0.2] [eel]:[0.7]} {[cat]:[0.5] [dog]:[0.25] [eel]:[0.25]}", onnx.String, 2},
		{"one row", onnx.IntsAttr("classlabels_int64s", []int64{4, 5}), FromSlice(onnx.Float, []int{2}, []float32{1, 2}), "{[4]:[1] [5]:[2]}", onnx.Int64, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := runKernel("ZipMap", mlDomain, 1, []*onnx.Attribute{c.attr}, 1, c.in)
			if err != nil {
				t.Fatal(err)
			}
			seq := out[0]
			if seq.Kind != KindSequence || len(seq.Elems) != c.wantN {
				t.Fatalf("got %s, want a sequence of %d maps", seq, c.wantN)
			}
			var got []string
			for _, m := range seq.Elems {
				if m.Kind != KindMap || m.Elems[0].DType != c.key || m.DType != onnx.Float {
					t.Errorf("element %s is not a map(%s, float)", m, c.key)
				}
				got = append(got, mapString(m))
			}
			if s := strings.Join(got, " "); s != c.want {
				t.Errorf("got %s, want %s", s, c.want)
			}
			if ty := typeOfTensor(seq); ty.String() != fmt.Sprintf("seq(map(%s,float32))", c.key) {
				t.Errorf("type %s", ty)
			}
		})
	}
	if _, err := runKernel("ZipMap", mlDomain, 1, []*onnx.Attribute{onnx.IntsAttr("classlabels_int64s", []int64{0, 1})}, 1, x); err == nil {
		t.Error("3 columns for 2 labels: want an error")
	}
	if _, err := runKernel("ZipMap", mlDomain, 1, nil, 1, x); err == nil {
		t.Error("no labels: want an error")
	}
}

// TestMapDatumRoundTrip: a sequence of maps survives ToDatum, encoding as
// SequenceProto/MapProto, decoding and FromDatum.
func TestMapDatumRoundTrip(t *testing.T) {
	seq := &Tensor{Kind: KindSequence, DType: onnx.Float, Elems: []*Tensor{
		intMap([]int64{3, 1}, .25, .75),
		NewMap(FromSlice(onnx.String, []int{2}, []string{"a", "b"}), FromSlice(onnx.Float, []int{2}, []float32{1, 2})),
	}}
	d, err := ToDatum("probs", seq)
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnx.EncodeDatum(d)
	if err != nil {
		t.Fatal(err)
	}
	ty := &onnx.Type{Kind: onnx.TypeSequence, Inner: &onnx.Type{Kind: onnx.TypeMap, Elem: onnx.Int64, Inner: onnx.TensorType(onnx.Float, nil)}}
	d2, err := onnx.DecodeDatum(b, ty)
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromDatum(d2)
	if err != nil {
		t.Fatal(err)
	}
	if back.Kind != KindSequence || len(back.Elems) != 2 {
		t.Fatalf("got %s", back)
	}
	for i, want := range []string{"{[3]:[0.25] [1]:[0.75]}", "{[a]:[1] [b]:[2]}"} {
		if got := mapString(back.Elems[i]); got != want {
			t.Errorf("map %d: got %s, want %s", i, got, want)
		}
	}
	// A single map too.
	d, _ = ToDatum("m", seq.Elems[0])
	b, err = onnx.EncodeDatum(d)
	if err != nil {
		t.Fatal(err)
	}
	d2, err = onnx.DecodeDatum(b, ty.Inner)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := FromDatum(d2); err != nil || mapString(m) != "{[3]:[0.25] [1]:[0.75]}" {
		t.Errorf("single map: got %v, %v", m, err)
	}
	// Values that are not scalars are refused, not flattened.
	bad := &onnx.Datum{Kind: onnx.TypeMap, Keys: onnx.NewInt64Tensor("", []int64{1}, []int64{1}),
		Elems: []*onnx.Datum{{Kind: onnx.TypeTensor, Tensor: onnx.NewInt64Tensor("", []int64{2}, []int64{1, 2})}}}
	if _, err := FromDatum(bad); err == nil {
		t.Error("map of vectors: want an error")
	}
}

func TestDictVectorizerAndCastMap(t *testing.T) {
	m := intMap([]int64{5, 1, 3}, 50, 10, 30)
	sm := NewMap(FromSlice(onnx.String, []int{2}, []string{"b", "z"}), FromSlice(onnx.Double, []int{2}, []float64{2, 26}))
	for _, c := range []struct {
		name, op string
		attrs    []*onnx.Attribute
		in       *Tensor
		want     string
	}{
		{"DictVectorizer int64", "DictVectorizer", []*onnx.Attribute{onnx.IntsAttr("int64_vocabulary", []int64{1, 2, 3, 5})}, m, "float32[1,4] [10 0 30 50]"},
		{"DictVectorizer string", "DictVectorizer", []*onnx.Attribute{onnx.StringsAttr("string_vocabulary", "a", "b", "z")}, sm, "float64[1,3] [0 2 26]"},
		{"CastMap dense", "CastMap", nil, m, "float32[1,3] [10 30 50]"},
		{"CastMap dense to int64", "CastMap", []*onnx.Attribute{onnx.StringAttr("cast_to", "TO_INT64")}, m, "int64[1,3] [10 30 50]"},
		{"CastMap sparse", "CastMap", []*onnx.Attribute{onnx.StringAttr("map_form", "SPARSE"), onnx.IntAttr("max_map", 5)}, m, "float32[1,5] [0 10 0 30 0]"},
		{"CastMap to string", "CastMap", []*onnx.Attribute{onnx.StringAttr("cast_to", "TO_STRING")}, intMap([]int64{0}, 1.5), "string[1,1] [1.500000]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := runKernel(c.op, mlDomain, 1, c.attrs, 1, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(out[0], " ", out[0].Data); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
	if _, err := runKernel("DictVectorizer", mlDomain, 1, []*onnx.Attribute{onnx.StringsAttr("string_vocabulary", "a")}, 1, m); err == nil {
		t.Error("int64 keys for a string vocabulary: want an error")
	}
	if _, err := runKernel("CastMap", mlDomain, 1, nil, 1, FromSlice(onnx.Float, []int{1}, []float32{1})); err == nil {
		t.Error("a tensor for a map: want an error")
	}
}
