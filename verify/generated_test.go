package verify_test

import (
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/verify"
)

// labelModel is a string input, lowered (StringNormalizer) and looked up
// in a LabelEncoder mapping cat, dog, bird to 1, dog's value given.
func labelModel(t *testing.T, dog int64) *onnx.Model {
	t.Helper()
	g := &onnx.Graph{Name: "g"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}, {Domain: "ai.onnx.ml", Version: 2}}, Graph: g}
	s := g.AddInput("s", onnx.TensorType(onnx.String, onnx.ShapeOf(64)))
	low := g.NewNode("StringNormalizer", "", "lower", []*onnx.Value{s}, "low")
	low.SetAttr(onnx.StringAttr("case_change_action", "LOWER"))
	g.Append(low)
	enc := g.NewNode("LabelEncoder", "ai.onnx.ml", "enc", []*onnx.Value{low.Output(0)}, "y")
	enc.SetAttr(onnx.StringsAttr("keys_strings", "cat", "dog", "bird"))
	enc.SetAttr(onnx.IntsAttr("values_int64s", []int64{1, dog, 3}))
	enc.SetAttr(onnx.IntAttr("default_int64", -1))
	g.Append(enc)
	g.Outputs = append(g.Outputs, enc.Output(0))
	return clone(t, m)
}

// TestGeneratedStringsHitTheKeys: generated string inputs are drawn mostly
// from the strings the model knows (the LabelEncoder's keys, found through
// the StringNormalizer), so that a changed mapping fails verification; made-up
// strings alone would all take the default and agree.
func TestGeneratedStringsHitTheKeys(t *testing.T) {
	a := labelModel(t, 2)
	feeds, err := dataset.Random(a.Graph.Inputs, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, other := 0, 0
	for _, s := range feeds["s"].Data.([]string) {
		switch s {
		case "cat", "dog", "bird":
			keys++
		case "":
			t.Fatal("an empty generated string")
		default:
			other++
		}
	}
	if keys < 32 || other == 0 {
		t.Fatalf("%d of 64 generated strings are keys, %d are not: want most but not all", keys, other)
	}
	tol := verify.DefaultTolerance()
	rep, err := verify.Compare(a, labelModel(t, 2), verify.Options{Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK(tol) {
		t.Fatalf("the same model does not verify: %v", rep.Err(tol))
	}
	rep, err = verify.Compare(a, labelModel(t, 5), verify.Options{Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK(tol) {
		t.Fatal("a changed label mapping verified OK")
	}
}

// vectorizerModel is a map input (string keys, float values) through a
// DictVectorizer with the given vocabulary, then a Scaler.
func vectorizerModel(t *testing.T, vocab ...string) *onnx.Model {
	t.Helper()
	g := &onnx.Graph{Name: "g"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}, {Domain: "ai.onnx.ml", Version: 1}}, Graph: g}
	in := g.AddInput("features", &onnx.Type{Kind: onnx.TypeMap, Elem: onnx.String, Inner: onnx.TensorType(onnx.Float, nil)})
	dv := g.NewNode("DictVectorizer", "ai.onnx.ml", "dv", []*onnx.Value{in}, "x")
	dv.SetAttr(onnx.StringsAttr("string_vocabulary", vocab...))
	g.Append(dv)
	sc := g.NewNode("Scaler", "ai.onnx.ml", "scale", []*onnx.Value{dv.Output(0)}, "y")
	sc.SetAttr(&onnx.Attribute{Name: "scale", Type: onnx.AttrFloats, Floats: []float32{2}})
	g.Append(sc)
	g.Outputs = append(g.Outputs, sc.Output(0))
	return clone(t, m)
}

// TestGeneratedMapInputs: a map input (a DictVectorizer's, as scikit-learn
// exports write) is generated with keys from the vocabulary, so the model
// verifies against itself and a reordered vocabulary fails; before, map
// inputs could not be generated.
func TestGeneratedMapInputs(t *testing.T) {
	a := vectorizerModel(t, "age", "height", "weight", "income")
	feeds, err := dataset.Random(a.Graph.Inputs, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, values, err := feeds["features"].MapEntries()
	if err != nil {
		t.Fatal(err)
	}
	known := 0
	for _, k := range keys.Data.([]string) {
		if k == "age" || k == "height" || k == "weight" || k == "income" {
			known++
		}
	}
	if known == 0 || known == keys.Len() || values.DType != onnx.Float {
		t.Fatalf("map keys %v (%d of the vocabulary), values %s: want some of the vocabulary and one unknown, float values", keys.Data, known, values.DType)
	}
	tol := verify.DefaultTolerance()
	rep, err := verify.Compare(a, vectorizerModel(t, "age", "height", "weight", "income"), verify.Options{Samples: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK(tol) {
		t.Fatalf("the same model does not verify: %v", rep.Err(tol))
	}
	rep, err = verify.Compare(a, vectorizerModel(t, "age", "weight", "height", "income"), verify.Options{Samples: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK(tol) {
		t.Fatal("a reordered vocabulary verified OK")
	}
}

// TestGeneratedIntegerMapKeys: a CastMap's map input gets keys among the
// slots below its max_map and one past them.
func TestGeneratedIntegerMapKeys(t *testing.T) {
	g := &onnx.Graph{Name: "g"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}, {Domain: "ai.onnx.ml", Version: 1}}, Graph: g}
	in := g.AddInput("m", &onnx.Type{Kind: onnx.TypeMap, Elem: onnx.Int64, Inner: onnx.TensorType(onnx.Float, nil)})
	cm := g.NewNode("CastMap", "ai.onnx.ml", "cast", []*onnx.Value{in}, "y")
	cm.SetAttr(onnx.StringAttr("map_form", "SPARSE"))
	cm.SetAttr(onnx.IntAttr("max_map", 5))
	g.Append(cm)
	g.Outputs = append(g.Outputs, cm.Output(0))
	m = clone(t, m)
	inside := 0
	for seed := range uint64(4) {
		feeds, err := dataset.Random(m.Graph.Inputs, seed, nil)
		if err != nil {
			t.Fatal(err)
		}
		keys, _, err := feeds["m"].MapEntries()
		if err != nil {
			t.Fatal(err)
		}
		ks := keys.Data.([]int64)
		for _, k := range ks[:len(ks)-1] {
			if k < 0 || k >= 5 {
				t.Fatalf("seed %d: keys %v: want slots 0…4 and then 5", seed, ks)
			}
			inside++
		}
		if ks[len(ks)-1] != 5 {
			t.Fatalf("seed %d: keys %v: want the unknown key 5 last", seed, ks)
		}
	}
	if inside == 0 {
		t.Fatal("no key below max_map in four samples")
	}
	rep, err := verify.Compare(m, clone(t, m), verify.Options{Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	if tol := verify.DefaultTolerance(); !rep.OK(tol) {
		t.Fatalf("the same model does not verify: %v", rep.Err(tol))
	}
}

// TestGeneratedSequenceInputs: a sequence input gets two elements of its
// element type and an optional one a value, so that such models verify,
// and a changed op after ConcatFromSequence fails.
func TestGeneratedSequenceInputs(t *testing.T) {
	build := func(op string) *onnx.Model {
		g := &onnx.Graph{Name: "g"}
		m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}}, Graph: g}
		xs := g.AddInput("xs", &onnx.Type{Kind: onnx.TypeSequence, Inner: onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 3))})
		c := g.NewNode("ConcatFromSequence", "", "concat", []*onnx.Value{xs}, "c")
		c.SetAttr(onnx.IntAttr("axis", 0))
		g.Append(c)
		y := g.NewNode(op, "", "act", []*onnx.Value{c.Output(0)}, "y")
		g.Append(y)
		g.Outputs = append(g.Outputs, y.Output(0))
		return clone(t, m)
	}
	a := build("Relu")
	feeds, err := dataset.Random(a.Graph.Inputs, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := feeds["xs"]; s.Kind != interp.KindSequence || len(s.Elems) != 2 || !slices.Equal(s.Elems[0].Shape, []int{2, 3}) {
		t.Fatalf("generated sequence %v", s)
	}
	opt := &onnx.Value{Name: "o", Type: &onnx.Type{Kind: onnx.TypeOptional, Inner: onnx.TensorType(onnx.Int64, onnx.ShapeOf(4))}}
	feeds, err = dataset.Random([]*onnx.Value{opt}, 1, nil)
	if err != nil || feeds["o"].Kind != interp.KindOptional || len(feeds["o"].Elems) != 1 || feeds["o"].Elems[0].Len() != 4 {
		t.Fatalf("generated optional: %v, %v", feeds["o"], err)
	}
	tol := verify.DefaultTolerance()
	rep, err := verify.Compare(a, build("Relu"), verify.Options{Samples: 2})
	if err != nil || !rep.OK(tol) {
		t.Fatalf("the same model: %v, %v", err, rep)
	}
	rep, err = verify.Compare(a, build("Sigmoid"), verify.Options{Samples: 2})
	if err != nil || rep.OK(tol) {
		t.Fatalf("Relu against Sigmoid verified: %v", err)
	}
}
