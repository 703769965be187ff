package dataset

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Random makes seeded random inputs from the declared types: floats uniform
// in [-1, 1), integers in a range their consumers accept (indices into a
// Gather or embedding table stay below the table's size), bools fair coins.
// Symbolic dimensions take their value from dims, else 1.
func Random(inputs []*onnx.Value, seed uint64, dims map[string]int64) (map[string]*interp.Tensor, error) {
	return Generate(inputs, seed, Options{Dims: dims})
}

// Generate is Random with the inputs opts.Fill names set to their constant.
func Generate(inputs []*onnx.Value, seed uint64, opts Options) (map[string]*interp.Tensor, error) {
	dims := opts.Dims
	rng := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	out := map[string]*interp.Tensor{}
	for _, v := range inputs {
		if val, ok := opts.Fill[v.Name]; ok {
			t, err := Filled(v, val, dims)
			if err != nil {
				return nil, err
			}
			out[v.Name] = t
			continue
		}
		if v.Type != nil && v.Type.Kind == onnx.TypeMap {
			t, err := randomMap(rng, v)
			if err != nil {
				return nil, err
			}
			out[v.Name] = t
			continue
		}
		if v.Type != nil && (v.Type.Kind == onnx.TypeSequence || v.Type.Kind == onnx.TypeOptional) {
			t, err := randomContainer(rng, v, opts)
			if err != nil {
				return nil, err
			}
			out[v.Name] = t
			continue
		}
		shape, err := ConcreteShape(v, dims)
		if err != nil {
			return nil, err
		}
		if t, ok := conventional(v, shape); ok {
			out[v.Name] = t
			continue
		}
		t := interp.Make(v.Type.Elem, shape...)
		hi := intRange(v)
		switch d := t.Data.(type) {
		case []float32:
			for i := range d {
				d[i] = float32(rng.Float64()*2 - 1)
			}
		case []float64:
			for i := range d {
				d[i] = rng.Float64()*2 - 1
			}
		case []uint16: // float16 / bfloat16 / uint16
			for i := range d {
				switch v.Type.Elem {
				case onnx.Float16:
					d[i] = interp.Float32ToFloat16(float32(rng.Float64()*2 - 1))
				case onnx.BFloat16:
					d[i] = interp.Float32ToBFloat16(float32(rng.Float64()*2 - 1))
				default:
					d[i] = uint16(rng.Int64N(hi))
				}
			}
		case []int64:
			for i := range d {
				d[i] = rng.Int64N(hi)
			}
		case []int32:
			for i := range d {
				d[i] = int32(rng.Int64N(hi))
			}
		case []int16:
			for i := range d {
				d[i] = int16(rng.Int64N(hi))
			}
		case []int8:
			for i := range d {
				d[i] = int8(rng.Int64N(min(hi, 128)))
			}
		case []uint8:
			for i := range d {
				d[i] = uint8(rng.Int64N(min(hi, 256)))
			}
		case []uint32:
			for i := range d {
				d[i] = uint32(rng.Int64N(hi))
			}
		case []uint64:
			for i := range d {
				d[i] = uint64(rng.Int64N(hi))
			}
		case []bool:
			for i := range d {
				d[i] = rng.IntN(2) == 1
			}
		case []string:
			vocab := stringVocab(v)
			for i := range d {
				d[i] = randomString(rng, vocab)
			}
		default:
			return nil, fmt.Errorf("input %q: cannot make random %s data", v.Name, v.Type.Elem)
		}
		out[v.Name] = t
	}
	return out, nil
}

// Filled is input v set to val everywhere (--fill NAME=VALUE), in its
// declared type and shape (symbolic dims from dims).
func Filled(v *onnx.Value, val float64, dims map[string]int64) (*interp.Tensor, error) {
	shape, err := ConcreteShape(v, dims)
	if err != nil {
		return nil, fmt.Errorf("--fill %s: %w", v.Name, err)
	}
	t := interp.Make(v.Type.Elem, shape...)
	fill := func(set func(i int)) {
		for i := 0; i < t.Len(); i++ {
			set(i)
		}
	}
	switch d := t.Data.(type) {
	case []float32:
		fill(func(i int) { d[i] = float32(val) })
	case []float64:
		fill(func(i int) { d[i] = val })
	case []uint16:
		switch v.Type.Elem {
		case onnx.Float16:
			fill(func(i int) { d[i] = interp.Float32ToFloat16(float32(val)) })
		case onnx.BFloat16:
			fill(func(i int) { d[i] = interp.Float32ToBFloat16(float32(val)) })
		default:
			fill(func(i int) { d[i] = uint16(val) })
		}
	case []int64:
		fill(func(i int) { d[i] = int64(val) })
	case []int32:
		fill(func(i int) { d[i] = int32(val) })
	case []int16:
		fill(func(i int) { d[i] = int16(val) })
	case []int8:
		fill(func(i int) { d[i] = int8(val) })
	case []uint8:
		fill(func(i int) { d[i] = uint8(val) })
	case []uint32:
		fill(func(i int) { d[i] = uint32(val) })
	case []uint64:
		fill(func(i int) { d[i] = uint64(val) })
	case []bool:
		fill(func(i int) { d[i] = val != 0 })
	default:
		return nil, fmt.Errorf("--fill %s: cannot fill %s data", v.Name, v.Type.Elem)
	}
	return t, nil
}

// GuessShape is a shape for an input whose type declares none (some
// converters and hand-built graphs leave it out), read from a consumer
// with a constant weight: a Conv's or ConvTranspose's input channels
// (batch 1, sides 224 for images, 1024 for 1-D signals, 16 for volumes),
// a MatMul's or Gemm's reduction length (one row), an RNN's input size
// (64 steps of batch 1). It names the consumer; false when none tells.
func GuessShape(v *onnx.Value) (shape []int, from string, ok bool) {
	g, ok := guessShape(v)
	return g.shape, g.from, ok
}

// guessed is GuessShape's answer: the shape, the consumer it was read
// from, and the first axis whose size the consumer leaves open (a Conv's
// sides, which FitDims may grow like an unnamed dim: len(shape) when
// none).
type guessed struct {
	shape []int
	from  string
	open  int
}

func guessShape(v *onnx.Value) (guessed, bool) {
	std := func(n *onnx.Node) bool { return n.Domain == "" || n.Domain == "ai.onnx" }
	var g guessed
	found := walkUses(v, func(n *onnx.Node, i int) bool { return std(n) && keepsShape(n, i) }, func(n *onnx.Node, i int) bool {
		if !std(n) {
			return false
		}
		s, open, ok := shapeFromConsumer(n, i)
		if ok {
			g = guessed{s, onnx.NodePlace(n), open}
		}
		return ok
	})
	return g, found
}

// keepsShape reports whether n's first output has the shape of its input
// i: an elementwise op whose other operands are constants (an input's
// normalization before the first layer: Sub, Div, Cast, …).
func keepsShape(n *onnx.Node, i int) bool {
	switch n.OpType {
	case "Identity", "Cast", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "Neg", "Abs", "Sqrt",
		"Sub", "Div", "Mul", "Add", "Pow", "BatchNormalization", "QuantizeLinear", "DequantizeLinear":
	default:
		return false
	}
	for j, in := range n.Inputs() {
		if _, ok := constDims(in); j != i && in != nil && !ok {
			return false
		}
	}
	return n.Output(0) != nil
}

// constDims is the shape of a constant: an initializer or a Constant
// node's tensor.
func constDims(v *onnx.Value) ([]int64, bool) {
	switch {
	case v == nil:
		return nil, false
	case v.Const != nil:
		return v.Const.Dims, true
	}
	if t := onnx.ConstantValue(v.Producer()); t != nil {
		return t.Dims, true
	}
	return nil, false
}

// shapeFromConsumer is GuessShape's reading of one consumer n of the
// input (as its input i).
func shapeFromConsumer(n *onnx.Node, i int) (shape []int, open int, ok bool) {
	if i != 0 {
		return nil, 0, false
	}
	w, _ := constDims(n.Input(1))
	switch n.OpType {
	case "Conv", "ConvTranspose":
		if len(w) < 3 || len(w) > 5 {
			return nil, 0, false
		}
		c := w[1] * n.AttrInt("group", 1)
		if n.OpType == "ConvTranspose" {
			c = w[0]
		}
		side := map[int]int{3: 1024, 4: 224, 5: 16}[len(w)]
		shape := []int{1, int(c)}
		for range len(w) - 2 {
			shape = append(shape, side)
		}
		return shape, 2, true
	case "MatMul":
		if len(w) < 2 {
			return nil, 0, false
		}
		return []int{1, int(w[len(w)-2])}, 2, true
	case "Gemm":
		if len(w) != 2 {
			return nil, 0, false
		}
		k := w[0]
		if n.AttrInt("transB", 0) != 0 {
			k = w[1]
		}
		if n.AttrInt("transA", 0) != 0 {
			return []int{int(k), 1}, 2, true
		}
		return []int{1, int(k)}, 2, true
	case "LSTM", "GRU", "RNN":
		if len(w) != 3 {
			return nil, 0, false
		}
		if n.AttrInt("layout", 0) != 0 {
			return []int{1, 64, int(w[2])}, 3, true
		}
		return []int{64, 1, int(w[2])}, 3, true
	}
	return nil, 0, false
}

// UnknownDimKey names an input dimension that is neither a number nor a
// symbol in dims maps: "input[axis]".
func UnknownDimKey(input string, axis int) string { return fmt.Sprintf("%s[%d]", input, axis) }

// ConcreteShape resolves an input's declared shape, symbolic dims from dims
// (unknown ones by UnknownDimKey; default 1). It refuses inputs that are not
// tensors or have no shape.
func ConcreteShape(v *onnx.Value, dims map[string]int64) ([]int, error) {
	if v.Type == nil || v.Type.Kind != onnx.TypeTensor {
		return nil, fmt.Errorf("input %q: random data needs a tensor type, the model declares %s (use --inputs)", v.Name, v.Type)
	}
	if !v.Type.HasShape() {
		if g, ok := guessShape(v); ok {
			for i := g.open; i < len(g.shape); i++ {
				if d := dims[UnknownDimKey(v.Name, i)]; d > 0 {
					g.shape[i] = int(d)
				}
			}
			return g.shape, nil
		}
		return nil, fmt.Errorf("input %q: the model declares no shape and its consumers do not tell one (use --inputs)", v.Name)
	}
	shape := make([]int, len(v.Type.Shape))
	for i, d := range v.Type.Shape {
		switch named := paramValue(d, dims); {
		case d.IsStatic():
			shape[i] = int(d.Value)
		case named > 0:
			shape[i] = int(named)
		case d.Kind == onnx.DimUnknown && dims[UnknownDimKey(v.Name, i)] > 0:
			shape[i] = int(dims[UnknownDimKey(v.Name, i)])
		default:
			shape[i] = 1
		}
		if shape[i] < 0 {
			return nil, fmt.Errorf("input %q: negative dimension %d", v.Name, shape[i])
		}
	}
	return shape, nil
}

// conventional is the input that transformer exports expect where random
// integers would make no sense, by the names Hugging Face's exporters
// (optimum, transformers.js, onnxruntime-genai) give them: an integer
// or bool attention_mask of ones (every token attended: random values would be
// padding patterns, or sequence lengths past the key cache that an
// attention op rejects), position_ids counting 0, 1, … along the last
// axis, token_type_ids of zeros. --fill still overrides them.
func conventional(v *onnx.Value, shape []int) (*interp.Tensor, bool) {
	var at func(i int) int64
	switch name := strings.ToLower(v.Name); {
	case strings.Contains(name, "attention_mask"):
		at = func(int) int64 { return 1 }
	case name == "position_ids" || strings.HasSuffix(name, ".position_ids"):
		last := 1
		if len(shape) > 0 {
			last = max(shape[len(shape)-1], 1)
		}
		at = func(i int) int64 { return int64(i % last) }
	case name == "token_type_ids":
		at = func(int) int64 { return 0 }
	default:
		return nil, false
	}
	t := interp.Make(v.Type.Elem, shape...)
	switch d := t.Data.(type) {
	case []int64:
		for i := range d {
			d[i] = at(i)
		}
	case []int32:
		for i := range d {
			d[i] = int32(at(i))
		}
	case []bool:
		for i := range d {
			d[i] = at(i) != 0
		}
	default:
		return nil, false
	}
	return t, true
}

// intRange is the exclusive upper bound for random integers fed to v: the
// smallest table size among Gather-like consumers reached through shape-only
// ops, else 10.
func intRange(v *onnx.Value) int64 {
	best := int64(-1)
	shapeOnly := func(n *onnx.Node, i int) bool {
		switch n.OpType {
		case "Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Expand", "Transpose":
			return i == 0
		}
		return false
	}
	walkUses(v, shapeOnly, func(n *onnx.Node, i int) bool {
		switch n.OpType {
		case "Gather", "GatherElements", "GatherND":
			if i == 1 {
				if size := dimOf(n.Input(0), int(n.AttrInt("axis", 0))); size > 0 && (best < 0 || size < best) {
					best = size
				}
			}
		}
		return false
	})
	if best > 0 {
		return best
	}
	return 10
}

// walkUses calls visit for each use of v (node n reads v as its input i)
// and then, where through(n, i) says that n passes that input on, for the
// uses of n's outputs in turn, depth first, up to 8 nodes deep, each value
// once. visit returns true to stop the walk; walkUses reports whether it
// did.
func walkUses(v *onnx.Value, through func(n *onnx.Node, i int) bool, visit func(n *onnx.Node, i int) bool) bool {
	seen := map[*onnx.Value]bool{}
	var walk func(v *onnx.Value, depth int) bool
	walk = func(v *onnx.Value, depth int) bool {
		if depth > 8 || seen[v] {
			return false
		}
		seen[v] = true
		for _, u := range v.Uses() {
			if visit(u.Node, u.Index) {
				return true
			}
			if !through(u.Node, u.Index) {
				continue
			}
			for _, o := range u.Node.Outputs() {
				if o != nil && walk(o, depth+1) {
					return true
				}
			}
		}
		return false
	}
	return walk(v, 0)
}

// stringVocab is the strings v's consumers know: the string lists and
// string tensors in their attributes and the string constants they read
// (a LabelEncoder's keys, a CategoryMapper's categories, a stop-word list,
// what an Equal compares with), reached through ops that pass strings on.
// Random strings would almost all miss every key, and the models would
// agree on the default branch alone.
func stringVocab(v *onnx.Value) []string {
	seen := map[string]bool{}
	var vocab []string
	add := func(b []byte) {
		if w := string(b); w != "" && !seen[w] && len(vocab) < 10000 {
			seen[w] = true
			vocab = append(vocab, w)
		}
	}
	addTensor := func(t *onnx.Tensor) {
		if t != nil && t.DataType == onnx.String {
			for _, b := range t.Strings {
				add(b)
			}
		}
	}
	passesStrings := func(n *onnx.Node, _ int) bool {
		switch n.OpType {
		case "Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Transpose", "Expand", "Concat", "Split", "Slice", "Gather", "StringNormalizer", "Cast":
			return true
		}
		return false
	}
	walkUses(v, passesStrings, func(n *onnx.Node, _ int) bool {
		for _, a := range n.Attrs {
			for _, b := range a.Strings {
				add(b)
			}
			addTensor(a.Tensor)
		}
		for _, in := range n.Inputs() {
			if in != nil && in.Const != nil {
				addTensor(in.Const)
			}
		}
		return false
	})
	return vocab
}

// randomMap is a map input (a DictVectorizer's or CastMap's, in models
// exported from scikit-learn): each key the consumers know (stringVocab's
// strings, or int64Keys) with probability one half, one key they do not
// know (a map from outside the training data), and values as a tensor of
// the value type would have them.
func randomMap(rng *rand.Rand, v *onnx.Value) (*interp.Tensor, error) {
	keyType, val := v.Type.Elem, v.Type.Inner
	if val == nil || val.Kind != onnx.TypeTensor || (keyType != onnx.String && keyType != onnx.Int64) {
		return nil, fmt.Errorf("input %q: cannot make random data of type %s (use --inputs)", v.Name, v.Type)
	}
	var keys *interp.Tensor
	if keyType == onnx.String {
		var ks []string
		for _, w := range stringVocab(v) {
			if rng.IntN(2) == 0 {
				ks = append(ks, w)
			}
		}
		ks = append(ks, randomString(rng, nil))
		keys = interp.FromSlice(onnx.String, []int{len(ks)}, ks)
	} else {
		var ks []int64
		seen := map[int64]bool{}
		unknown := int64(0) // past every candidate key
		for _, k := range int64Keys(v) {
			unknown = max(unknown, k+1)
			if !seen[k] && rng.IntN(2) == 0 {
				seen[k] = true
				ks = append(ks, k)
			}
		}
		ks = append(ks, unknown)
		keys = interp.FromSlice(onnx.Int64, []int{len(ks)}, ks)
	}
	// The values: a random input of the value type, one per key.
	values, err := generatePart(rng, v, "[values]", onnx.TensorType(val.Elem, onnx.ShapeOf(int64(keys.Len()))), Options{})
	if err != nil {
		return nil, err
	}
	return interp.NewMap(keys, values), nil
}

// generatePart is a part of input v (a map's values, a sequence's
// element), named v's name and suffix, generated as an input of type t
// would be.
func generatePart(rng *rand.Rand, v *onnx.Value, suffix string, t *onnx.Type, opts Options) (*interp.Tensor, error) {
	part := &onnx.Value{Name: v.Name + suffix, Type: t}
	got, err := Generate([]*onnx.Value{part}, rng.Uint64(), opts)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", v.Name, err)
	}
	return got[part.Name], nil
}

// randomContainer is a sequence input (two elements) or an optional one
// (present), its elements generated as an input of the element type
// would be (sequences of maps too).
func randomContainer(rng *rand.Rand, v *onnx.Value, opts Options) (*interp.Tensor, error) {
	elem := v.Type.Inner
	if elem == nil {
		return nil, fmt.Errorf("input %q: cannot make random data of type %s (use --inputs)", v.Name, v.Type)
	}
	out := &interp.Tensor{Kind: interp.KindSequence}
	n := 2
	if v.Type.Kind == onnx.TypeOptional {
		out.Kind, n = interp.KindOptional, 1
	}
	for i := range n {
		e, err := generatePart(rng, v, fmt.Sprintf("[%d]", i), elem, Options{Dims: opts.Dims})
		if err != nil {
			return nil, err
		}
		out.DType = e.DType
		out.Elems = append(out.Elems, e)
	}
	return out, nil
}

// int64Keys is the integer keys v's consumers know: their int64
// vocabularies (a DictVectorizer's), else the slots below a CastMap's
// max_map (at most 64), else 0…9.
func int64Keys(v *onnx.Value) []int64 {
	var out []int64
	slots := int64(0)
	for _, u := range v.Uses() {
		for _, a := range u.Node.Attrs {
			switch {
			case a.Type == onnx.AttrInts && strings.Contains(a.Name, "vocabulary"):
				out = append(out, a.Ints...)
			case a.Type == onnx.AttrInt && a.Name == "max_map":
				slots = max(slots, min(a.Int, 64))
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	if slots == 0 {
		slots = 10
	}
	for k := range slots {
		out = append(out, k)
	}
	return out
}

// randomString is one of vocab three times in four (when there is one),
// else a made-up word of mixed case, letters and digits: a key no table
// holds, and text that case folding and tokenizers change.
func randomString(rng *rand.Rand, vocab []string) string {
	if len(vocab) > 0 && rng.IntN(4) != 0 {
		return vocab[rng.IntN(len(vocab))]
	}
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 3+rng.IntN(6))
	for i := range b {
		b[i] = letters[rng.IntN(len(letters))]
	}
	return string(b)
}

// dimOf returns dimension axis of a value whose shape is known, else -1.
func dimOf(v *onnx.Value, axis int) int64 {
	if v == nil {
		return -1
	}
	var dims []int64
	switch {
	case v.Const != nil:
		dims = v.Const.Dims
	case v.Type != nil && v.Type.HasShape():
		s, ok := v.Type.Shape.Static()
		if !ok {
			return -1
		}
		dims = s
	default:
		return -1
	}
	if axis < 0 {
		axis += len(dims)
	}
	if axis < 0 || axis >= len(dims) {
		return -1
	}
	return dims[axis]
}

// WritePB writes tensors as prefix_0.pb, prefix_1.pb, … (the backend-test layout).
func WritePB(dir, prefix string, names []string, ts []*interp.Tensor) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, t := range ts {
		d, err := interp.ToDatum(names[i], t)
		if err != nil {
			return err
		}
		b, err := onnx.EncodeDatum(d)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, fmt.Sprintf("%s_%d.pb", prefix, i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
