package verify_test

import (
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
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
	enc.SetAttr(&onnx.Attribute{Name: "keys_strings", Type: onnx.AttrStrings, Strings: [][]byte{[]byte("cat"), []byte("dog"), []byte("bird")}})
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
