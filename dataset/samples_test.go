package dataset

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

func input(name string, dt onnx.DataType, shape onnx.Shape) *onnx.Value {
	return &onnx.Value{Name: name, Type: onnx.TensorType(dt, shape)}
}

func writePB(t *testing.T, dir string, i int, v *onnx.Value, x *interp.Tensor) {
	t.Helper()
	tmp := t.TempDir()
	if err := WritePB(tmp, "input", []string{v.Name}, []*interp.Tensor{x}); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(tmp, "input_0.pb"), filepath.Join(dir, fmt.Sprintf("input_%d.pb", i))); err != nil {
		t.Fatal(err)
	}
}

// feeds reads every batch of a folder and returns the input shapes per feed.
func feeds(t *testing.T, dir string, ins []*onnx.Value, opts Options) ([]map[string][]int, error) {
	t.Helper()
	r, err := Open(dir, ins, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []map[string][]int
	for {
		b, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		m := map[string][]int{}
		for k, v := range b.Inputs {
			m[k] = v.Shape
		}
		out = append(out, m)
	}
}

// TestSamplesFromDeclaredShapes: how many samples an array holds follows from
// the input's declared shape, not from its first dimension.
func TestSamplesFromDeclaredShapes(t *testing.T) {
	sym := onnx.Sym
	d := onnx.D
	cases := []struct {
		name   string
		ins    []*onnx.Value
		arrays [][]int // .npy shapes, per input
		pb     bool    // written as input_N.pb instead
		opts   Options
		feeds  [][][]int // per feed, per input: the shape fed
		err    string
	}{
		{"broadcast operands (3,4,5)+(5) as pb: one sample",
			[]*onnx.Value{input("x", onnx.Float, onnx.ShapeOf(3, 4, 5)), input("y", onnx.Float, onnx.ShapeOf(5))},
			[][]int{{3, 4, 5}, {5}}, true, Options{}, [][][]int{{{3, 4, 5}, {5}}}, ""},
		{"broadcast operands as npy: one sample",
			[]*onnx.Value{input("x", onnx.Float, onnx.ShapeOf(3, 4, 5)), input("y", onnx.Float, onnx.ShapeOf(5))},
			[][]int{{3, 4, 5}, {5}}, false, Options{}, [][][]int{{{3, 4, 5}, {5}}}, ""},
		{"voice model: input [1,512], state [2,1,128], scalar sr",
			[]*onnx.Value{input("input", onnx.Float, onnx.ShapeOf(1, 512)), input("state", onnx.Float, onnx.ShapeOf(2, 1, 128)), input("sr", onnx.Int64, onnx.Shape{})},
			[][]int{{1, 512}, {2, 1, 128}, {}}, false, Options{}, [][][]int{{{1, 512}, {2, 1, 128}, {}}}, ""},
		{"stacked samples of a voice model; state and scalar fed to each",
			[]*onnx.Value{input("input", onnx.Float, onnx.ShapeOf(1, 512)), input("state", onnx.Float, onnx.ShapeOf(2, 1, 128)), input("sr", onnx.Int64, onnx.Shape{})},
			[][]int{{3, 1, 512}, {2, 1, 128}, {}}, false, Options{},
			[][][]int{{{1, 512}, {2, 1, 128}, {}}, {{1, 512}, {2, 1, 128}, {}}, {{1, 512}, {2, 1, 128}, {}}}, ""},
		{"symbolic batch with a state input [2,N,16]: the batch splits, the state does not",
			[]*onnx.Value{input("x", onnx.Float, onnx.Shape{sym("N"), d(8)}), input("h", onnx.Float, onnx.Shape{d(2), d(1), d(16)})},
			[][]int{{5, 8}, {2, 1, 16}}, false, Options{BatchSize: 2},
			[][][]int{{{2, 8}, {2, 1, 16}}, {{2, 8}, {2, 1, 16}}, {{1, 8}, {2, 1, 16}}}, ""},
		{"fixed batch 2, 6 rows: three feeds",
			[]*onnx.Value{input("x", onnx.Float, onnx.ShapeOf(2, 3))},
			[][]int{{6, 3}}, false, Options{}, [][][]int{{{2, 3}}, {{2, 3}}, {{2, 3}}}, ""},
		{"missing batch axis added",
			[]*onnx.Value{input("x", onnx.Float, onnx.ShapeOf(1, 3, 4))},
			[][]int{{3, 4}}, false, Options{}, [][][]int{{{1, 3, 4}}}, ""},
		{"two symbolic inputs of different lengths: one sample each (sequence dims)",
			[]*onnx.Value{input("a", onnx.Float, onnx.Shape{sym("A"), d(2)}), input("b", onnx.Float, onnx.Shape{sym("B"), d(2)})},
			[][]int{{3, 2}, {5, 2}}, false, Options{}, [][][]int{{{3, 2}, {5, 2}}}, ""},
		{"a shared batch symbol with different lengths is an error naming both",
			[]*onnx.Value{input("a", onnx.Float, onnx.Shape{sym("N"), d(2)}), input("b", onnx.Float, onnx.Shape{sym("N"), d(2)})},
			[][]int{{3, 2}, {5, 2}}, false, Options{}, nil, `"a" (declared float32[N,2]) has 3 in an array of [3 2], "b" (declared float32[N,2]) has 5`},
		{"mismatch names input, declared and array shapes",
			[]*onnx.Value{input("x", onnx.Float, onnx.ShapeOf(1, 3, 224, 224))},
			[][]int{{1, 3, 112, 112}}, false, Options{}, nil, `input "x": the model declares float32[1,3,224,224], the array is float32[1 3 112 112]`},
		{"pb mismatch names input and shapes",
			[]*onnx.Value{input("x", onnx.Float, onnx.ShapeOf(4))},
			[][]int{{5}}, true, Options{}, nil, `input "x": the model declares float32[4], the data is [5]`},
		{"--fill replaces a missing input",
			[]*onnx.Value{input("x", onnx.Float, onnx.ShapeOf(1, 4)), input("sr", onnx.Int64, onnx.Shape{})},
			[][]int{{1, 4}, nil}, false, Options{Fill: map[string]float64{"sr": 16000}}, [][][]int{{{1, 4}, {}}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, v := range tc.ins {
				if tc.arrays[i] == nil {
					continue
				}
				x := interp.Make(v.Type.Elem, tc.arrays[i]...)
				if tc.pb {
					writePB(t, dir, i, v, x)
				} else if err := WriteNpy(filepath.Join(dir, v.Name+".npy"), x); err != nil {
					t.Fatal(err)
				}
			}
			got, err := feeds(t, dir, tc.ins, tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want an error containing %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.feeds) {
				t.Fatalf("%d feeds, want %d: %v", len(got), len(tc.feeds), got)
			}
			for f, want := range tc.feeds {
				for i, v := range tc.ins {
					if !slices.Equal(got[f][v.Name], want[i]) {
						t.Errorf("feed %d input %s: shape %v, want %v", f, v.Name, got[f][v.Name], want[i])
					}
				}
			}
		})
	}
}

// TestFillValue: --fill sets every element, in the declared type.
func TestFillValue(t *testing.T) {
	v := input("sr", onnx.Int64, onnx.Shape{})
	x := input("x", onnx.Float, onnx.Shape{onnx.Sym("N"), onnx.D(2)})
	got, err := Generate([]*onnx.Value{v, x}, 1, Options{Dims: map[string]int64{"N": 3}, Fill: map[string]float64{"sr": 16000, "x": 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if s := got["sr"].Data.([]int64); len(s) != 1 || s[0] != 16000 {
		t.Errorf("sr = %v", s)
	}
	if f := got["x"].Floats(); len(f) != 6 || slices.ContainsFunc(f, func(e float32) bool { return e != 0.5 }) {
		t.Errorf("x = %v", f)
	}
}

// TestFitDims: names give the first values; spatial and sequence dims grow
// until the try succeeds; failure lists the shapes tried and the flags.
func TestFitDims(t *testing.T) {
	img := input("x", onnx.Float, onnx.Shape{onnx.Sym("N"), onnx.D(3), onnx.Sym("H"), onnx.Sym("W")})
	audio := input("pcm", onnx.Float, onnx.Shape{onnx.Sym("batch_size"), onnx.Sym("samples")})
	anon := input("t", onnx.Float, onnx.Shape{onnx.D(1), {}})
	var tries []map[string]int64
	need := func(key string, min int64) func(map[string]int64) error {
		return func(d map[string]int64) error {
			tries = append(tries, d)
			if d[key] < min {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
	}
	d, desc, err := FitDims([]*onnx.Value{img}, nil, nil, need("W", 1))
	if err != nil || d["N"] != 1 || d["H"] != 224 || d["W"] != 224 || len(tries) != 1 {
		t.Errorf("image: %v %v %v after %d tries", d, desc, err, len(tries))
	}
	// A classifier whose fully connected layer needs exactly 28×28: after
	// the large sides, the small fixed ones.
	d, desc, err = FitDims([]*onnx.Value{img}, nil, nil, func(d map[string]int64) error {
		if d["H"] != 28 || d["W"] != 28 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	if err != nil || d["H"] != 28 || !strings.Contains(desc, "grown 6 times") {
		t.Errorf("fixed-size image: %v %q %v", d, desc, err)
	}
	tries = nil
	d, desc, err = FitDims([]*onnx.Value{audio}, nil, nil, need("samples", 512))
	if err != nil || d["batch_size"] != 1 || d["samples"] != 512 || !strings.Contains(desc, "samples=512") {
		t.Errorf("audio: %v %q %v", d, desc, err)
	}
	d, _, err = FitDims([]*onnx.Value{anon}, nil, nil, need(UnknownDimKey("t", 1), 100))
	if err != nil || d[UnknownDimKey("t", 1)] != 128 {
		t.Errorf("unnamed dim: %v %v", d, err)
	}
	// --dim fixes a dim: it is neither guessed nor grown.
	d, _, err = FitDims([]*onnx.Value{audio}, map[string]int64{"samples": 7}, nil, need("samples", 1))
	if err != nil || d["samples"] != 7 {
		t.Errorf("fixed: %v %v", d, err)
	}
	_, _, err = FitDims([]*onnx.Value{audio}, nil, map[string]float64{}, func(map[string]int64) error { return io.ErrUnexpectedEOF })
	if err == nil || !strings.Contains(err.Error(), "pcm [1 64]") || !strings.Contains(err.Error(), "--dim batch_size=VALUE --dim samples=VALUE") ||
		!strings.Contains(err.Error(), "--fill") || !strings.Contains(err.Error(), "--inputs") {
		t.Errorf("failure message: %v", err)
	}
}

// TestFitDimsBatchInTheMiddle: an RNN state [layers, batch, hidden] with
// unnamed dims (Silero VAD v6): its batch is not at axis 0, so growing it
// with the sequence fails; taken as a batch dim in turn, it fits. An
// LSTM's h0 and c0 fit when taken together. A named dim keeps the role its
// name gives. The error lists a bounded number of tries.
func TestFitDimsBatchInTheMiddle(t *testing.T) {
	x := input("input", onnx.Float, onnx.Shape{{}, {}})
	state := input("state", onnx.Float, onnx.Shape{onnx.D(2), {}, onnx.D(128)})
	batch, samples, stateBatch := UnknownDimKey("input", 0), UnknownDimKey("input", 1), UnknownDimKey("state", 1)
	tries := 0
	rnn := func(d map[string]int64) error {
		tries++
		if d[stateBatch] != d[batch] || d[samples] < 100 {
			return io.ErrUnexpectedEOF
		}
		return nil
	}
	d, desc, err := FitDims([]*onnx.Value{x, state}, nil, nil, rnn)
	if err != nil || d[batch] != 1 || d[stateBatch] != 1 || d[samples] != 128 || !strings.Contains(desc, "state[1] taken as a batch dim") {
		t.Errorf("state: %v %q %v after %d tries", d, desc, err, tries)
	}
	// An LSTM's h0 and c0, both [layers, ?, hidden]: taken together.
	xs := input("x", onnx.Float, onnx.Shape{{}, {}, onnx.D(8)})
	h0 := input("h0", onnx.Float, onnx.Shape{onnx.D(1), {}, onnx.D(16)})
	c0 := input("c0", onnx.Float, onnx.Shape{onnx.D(1), {}, onnx.D(16)})
	hb, cb, seq := UnknownDimKey("h0", 1), UnknownDimKey("c0", 1), UnknownDimKey("x", 1)
	d, desc, err = FitDims([]*onnx.Value{xs, h0, c0}, nil, nil, func(d map[string]int64) error {
		if d[hb] != 1 || d[cb] != 1 || d[seq] < 100 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	if err != nil || d[seq] != 128 || !strings.Contains(desc, hb+", "+cb+" taken as batch dims") {
		t.Errorf("h0 and c0: %v %q %v", d, desc, err)
	}
	named := input("state", onnx.Float, onnx.Shape{onnx.D(2), onnx.Sym("seq"), onnx.D(128)})
	_, _, err = FitDims([]*onnx.Value{x, named}, nil, nil, func(d map[string]int64) error {
		if d["seq"] != 1 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	var fe *FitError
	if !errors.As(err, &fe) || strings.Contains(err.Error(), "seq taken") {
		t.Fatalf("a named sequence dim was taken as a batch dim: %v", err)
	}
	if len(fe.Tried) > maxTriesListed || !strings.Contains(err.Error(), " more (") {
		t.Errorf("%d tries listed, want at most %d and a count of the rest: %v", len(fe.Tried), maxTriesListed, err)
	}
}

// TestGenerateTransformerConventions: attention_mask is ones,
// position_ids count along the last axis, token_type_ids are zeros, and
// input_ids stay random in the embedding's range; --fill overrides.
func TestGenerateTransformerConventions(t *testing.T) {
	g := &onnx.Graph{}
	in := func(name string, dt onnx.DataType) *onnx.Value {
		return g.AddInput(name, onnx.TensorType(dt, onnx.Shape{onnx.D(2), onnx.Sym("seq")}))
	}
	ids, mask, pos, tt := in("input_ids", onnx.Int64), in("attention_mask", onnx.Int64), in("position_ids", onnx.Int64), in("token_type_ids", onnx.Int32)
	bmask := g.AddInput("encoder_attention_mask", onnx.TensorType(onnx.Bool, onnx.ShapeOf(2, 3)))
	got, err := Generate([]*onnx.Value{ids, mask, pos, tt, bmask}, 1, Options{Dims: map[string]int64{"seq": 4}})
	if err != nil {
		t.Fatal(err)
	}
	if d := interp.Data[int64](got["attention_mask"]); fmt.Sprint(d) != "[1 1 1 1 1 1 1 1]" {
		t.Errorf("attention_mask %v, want ones", d)
	}
	if d := interp.Data[int64](got["position_ids"]); fmt.Sprint(d) != "[0 1 2 3 0 1 2 3]" {
		t.Errorf("position_ids %v, want 0..3 per row", d)
	}
	if d := interp.Data[int32](got["token_type_ids"]); fmt.Sprint(d) != "[0 0 0 0 0 0 0 0]" {
		t.Errorf("token_type_ids %v, want zeros", d)
	}
	if d := interp.Data[bool](got["encoder_attention_mask"]); fmt.Sprint(d) != "[true true true true true true]" {
		t.Errorf("bool mask %v, want all true", d)
	}
	if d := interp.Data[int64](got["input_ids"]); fmt.Sprint(d) == "[0 0 0 0 0 0 0 0]" || fmt.Sprint(d) == "[1 1 1 1 1 1 1 1]" {
		t.Errorf("input_ids %v, want random", d)
	}
	filled, err := Generate([]*onnx.Value{mask}, 1, Options{Dims: map[string]int64{"seq": 4}, Fill: map[string]float64{"attention_mask": 0}})
	if err != nil {
		t.Fatal(err)
	}
	if d := interp.Data[int64](filled["attention_mask"]); d[0] != 0 {
		t.Errorf("--fill attention_mask=0 gave %v", d)
	}
}

// TestDimExpressions: a dimension named by a sum ("past_sequence_length +
// 1", "past_sequence_length + sequence_length", "2*s0") is not free: its
// symbols are, and generated inputs take its value from theirs. A name
// with a hyphen is a name.
func TestDimExpressions(t *testing.T) {
	past := input("past_key", onnx.Float, onnx.Shape{onnx.Sym("batch_size"), onnx.D(2), onnx.Sym("past_sequence_length"), onnx.D(8)})
	ids := input("input_ids", onnx.Int64, onnx.Shape{onnx.Sym("batch_size"), onnx.Sym("sequence_length")})
	mask := input("attention_mask", onnx.Int64, onnx.Shape{onnx.Sym("batch_size"), onnx.Sym("past_sequence_length + sequence_length")})
	one := input("mask1", onnx.Float, onnx.Shape{onnx.Sym("past_sequence_length + 1")})
	twice := input("x", onnx.Float, onnx.Shape{onnx.Sym("batch_size"), onnx.Sym("2*s0"), onnx.Sym("s0 - 1"), onnx.Sym("seq-len")})
	inputs := []*onnx.Value{past, ids, mask, one, twice}
	var keys []string
	for _, d := range FreeDims(inputs, nil) {
		keys = append(keys, d.Key)
	}
	if want := "[batch_size past_sequence_length sequence_length s0 seq-len]"; fmt.Sprint(keys) != want {
		t.Fatalf("free dims %v, want %s", keys, want)
	}
	dims, _, err := FitDims(inputs, map[string]int64{"past_sequence_length": 5}, nil, func(map[string]int64) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	got, err := Generate(inputs, 1, Options{Dims: dims})
	if err != nil {
		t.Fatal(err)
	}
	seq, s0 := int(dims["sequence_length"]), int(dims["s0"])
	for name, want := range map[string][]int{
		"attention_mask": {1, 5 + seq}, "mask1": {6}, "x": {1, 2 * s0, s0 - 1, int(dims["seq-len"])}, "past_key": {1, 2, 5, 8},
	} {
		if s := got[name].Shape; fmt.Sprint(s) != fmt.Sprint(want) {
			t.Errorf("%s: shape %v, want %v", name, s, want)
		}
	}
}
