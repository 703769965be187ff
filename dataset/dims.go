package dataset

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/onnxslim/onnxslim/onnx"
)

// dimRole is what a free input dimension most likely measures, guessed from
// its name and place; it decides the first value tried and how it grows.
type dimRole int8

const (
	roleBatch    dimRole = iota // samples: 1, never grown
	roleSpatial                 // image height or width: 224, then larger
	roleSequence                // time steps, tokens, audio samples: 64, doubling
)

// Starting values and growth of the dims FitDims tries.
var (
	// Larger sides first (detectors want multiples of 32, often 640), then
	// the small fixed sizes of classifiers whose last layers need exactly
	// theirs (MNIST's 28, CIFAR's 32).
	spatialSteps  = []int64{224, 256, 320, 512, 640, 1024, 28, 32, 64, 96, 112, 128, 160, 192}
	sequenceSteps = []int64{64, 128, 256, 512, 1024, 2048, 4096, 16000, 32768}
)

// FreeDim is an input dimension generated inputs must choose a value for.
type FreeDim struct {
	Key   string // the symbol, or UnknownDimKey for an unnamed dimension
	Where string // the first input and axis it appears at, e.g. x[3]
	role  dimRole
	named bool   // role read from the name, not guessed from the place
	input string // the input it first appears in
}

// FreeDims lists the symbolic and unknown dimensions of inputs that dims does
// not fix, in input order.
func FreeDims(inputs []*onnx.Value, dims map[string]int64) []FreeDim {
	var out []FreeDim
	seen := map[string]bool{}
	for _, v := range inputs {
		if v.Type != nil && v.Type.Kind == onnx.TypeTensor && !v.Type.HasShape() {
			// No declared shape: the sides a Conv leaves open are free.
			if g, ok := guessShape(v); ok {
				for axis := g.open; axis < len(g.shape); axis++ {
					if key := UnknownDimKey(v.Name, axis); !seen[key] && dims[key] <= 0 {
						seen[key] = true
						out = append(out, newFreeDim(v.Name, key, key, "", axis, len(g.shape)))
					}
				}
			}
			continue
		}
		if v.Type == nil || v.Type.Kind != onnx.TypeTensor || !v.Type.HasShape() {
			continue
		}
		rank := len(v.Type.Shape)
		for axis, d := range v.Type.Shape {
			key := d.Param
			switch d.Kind {
			case onnx.DimValue:
				continue
			case onnx.DimUnknown:
				key = UnknownDimKey(v.Name, axis)
			}
			if terms, ok := parseDimExpr(key); ok && dims[key] <= 0 {
				// "past_sequence_length + 1" follows from its symbols.
				for _, t := range terms {
					if t.sym != "" && !seen[t.sym] && dims[t.sym] <= 0 {
						seen[t.sym] = true
						out = append(out, newFreeDim(v.Name, t.sym, UnknownDimKey(v.Name, axis), t.sym, axis, rank))
					}
				}
				continue
			}
			if seen[key] || dims[key] > 0 {
				continue
			}
			seen[key] = true
			out = append(out, newFreeDim(v.Name, key, UnknownDimKey(v.Name, axis), d.Param, axis, rank))
		}
	}
	return out
}

func newFreeDim(input, key, where, name string, axis, rank int) FreeDim {
	role, named := guessRole(name, axis, rank)
	return FreeDim{Key: key, Where: where, role: role, named: named, input: input}
}

// guessRole reads a dimension's name (batch, height, width, sequence, …),
// falling back on its place: axis 0 is a batch, the last two axes of a rank-4
// input are spatial, other axes a sequence. named says the name decided.
func guessRole(name string, axis, rank int) (role dimRole, named bool) {
	n := strings.ToLower(name)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(n, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("batch") || n == "n" || n == "b" || n == "bs":
		return roleBatch, true
	case has("height", "width") || n == "h" || n == "w":
		return roleSpatial, true
	case has("seq", "len", "time", "frame", "sample", "token", "step") || n == "t" || n == "l":
		return roleSequence, true
	case axis == 0:
		return roleBatch, false
	case rank == 4 && axis >= 2:
		return roleSpatial, false
	}
	return roleSequence, false
}

func (d FreeDim) value(step int) (int64, bool) {
	steps := sequenceSteps
	switch d.role {
	case roleBatch:
		return 1, step == 0
	case roleSpatial:
		steps = spatialSteps
	}
	if step >= len(steps) {
		return steps[len(steps)-1], false
	}
	return steps[step], true
}

// FitError says that no dims tried let the model run; it lists the input
// shapes of each try and what the user can do.
type FitError struct {
	Tried []string // "x [1,3,224,224], sr [] → error"; the first maxTriesListed
	Free  []FreeDim
	Last  error
	tries int // all of them
}

func (e *FitError) Error() string {
	var keys []string
	for _, d := range e.Free {
		keys = append(keys, d.Key+"=VALUE")
	}
	fix := "give real inputs with --inputs DIR, set an input that selects a mode with --fill NAME=VALUE"
	if len(keys) > 0 {
		fix = "fix the dims with --dim " + strings.Join(keys, " --dim ") + ", " + fix
	}
	tried := strings.Join(e.Tried, "; ")
	if more := e.tries - len(e.Tried); more > 0 {
		tried += fmt.Sprintf("; and %d more", more)
	}
	return fmt.Sprintf("the original model could not run on generated inputs; tried %s (%s, or skip verification with --no-verify)",
		tried, fix)
}

func (e *FitError) Unwrap() error { return e.Last }

// FitDims chooses values for the free dimensions of inputs: first the hints
// their names give (batch 1, height/width 224, sequence 64), then spatial and
// sequence dims grown together, step by step, until try (a run of the
// model on inputs generated with those dims) succeeds. When no step does,
// each dim whose role was guessed from its place alone is taken in turn as
// a batch dim (1) and the others grown again, then those of every input
// but the first together: an RNN state's [layers, batch, hidden] has its
// batch in the middle, and an LSTM has two states. It returns dims with
// the chosen values added and a line describing them ("" when no dim was
// free). try's error is returned unchanged when it is not about the inputs
// (errors.Is(err, stop) for any stop in stops: a cancelled context).
func FitDims(inputs []*onnx.Value, dims map[string]int64, fill map[string]float64, try func(map[string]int64) error, stops ...error) (map[string]int64, string, error) {
	free := FreeDims(inputs, dims)
	if len(free) == 0 {
		return dims, "", nil
	}
	if !slices.ContainsFunc(free, func(d FreeDim) bool { return d.role != roleBatch }) {
		// Only batch dims: 1 is the choice; the model's own run reports a failure.
		cand := maps.Clone(dims)
		if cand == nil {
			cand = map[string]int64{}
		}
		for _, d := range free {
			cand[d.Key] = 1
		}
		return cand, describeDims(free, cand, 0, ""), nil
	}
	fe := &FitError{Free: free}
	// grow tries the steps of one assignment of roles.
	grow := func(free []FreeDim, batch string) (map[string]int64, string, error) {
		for step := 0; ; step++ {
			cand := maps.Clone(dims)
			if cand == nil {
				cand = map[string]int64{}
			}
			grew := false
			for _, d := range free {
				v, more := d.value(step)
				cand[d.Key] = v
				grew = grew || more
			}
			if !grew {
				return nil, "", nil
			}
			err := try(cand)
			if err == nil {
				return cand, describeDims(free, cand, step, batch), nil
			}
			for _, s := range stops {
				if errors.Is(err, s) {
					return nil, "", err
				}
			}
			fe.add(describeShapes(inputs, cand, fill), err)
		}
	}
	if cand, desc, err := grow(free, ""); cand != nil || err != nil {
		return cand, desc, err
	}
	// The dims to take as batch dims: each guessed one alone, then the
	// guessed ones of every input but the first that has one together (an
	// LSTM's h0 and c0 both [layers, ?, hidden]).
	var sets [][]int
	var rest []int
	first := ""
	for i, d := range free {
		if d.role == roleBatch || d.named {
			continue
		}
		sets = append(sets, []int{i})
		if first == "" {
			first = d.input
		} else if d.input != first {
			rest = append(rest, i)
		}
	}
	if len(rest) > 1 {
		sets = append(sets, rest)
	}
	for _, set := range sets {
		alt := slices.Clone(free)
		var keys []string
		for _, i := range set {
			alt[i].role = roleBatch
			keys = append(keys, free[i].Key)
		}
		if cand, desc, err := grow(alt, strings.Join(keys, ", ")); cand != nil || err != nil {
			return cand, desc, err
		}
	}
	return nil, "", fe
}

// maxTriesListed bounds the tries a FitError names.
const maxTriesListed = 12

// add records a failed try.
func (e *FitError) add(shapes string, err error) {
	e.Last = err
	e.tries++
	if len(e.Tried) >= maxTriesListed {
		return
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	e.Tried = append(e.Tried, fmt.Sprintf("%s → %s", shapes, msg))
}

func describeDims(free []FreeDim, dims map[string]int64, step int, batch string) string {
	var parts []string
	for _, d := range free {
		parts = append(parts, fmt.Sprintf("%s=%d", d.Key, dims[d.Key]))
	}
	how := "from their names and places"
	if step > 0 {
		how = fmt.Sprintf("grown %d times until the model ran", step)
	}
	if batch != "" {
		if strings.Contains(batch, ",") {
			how += fmt.Sprintf(", %s taken as batch dims", batch)
		} else {
			how += fmt.Sprintf(", %s taken as a batch dim", batch)
		}
	}
	return fmt.Sprintf("generated inputs use %s (%s; set them with --dim NAME=VALUE)", strings.Join(parts, ", "), how)
}

// describeShapes renders the inputs' concrete shapes: "x [1,3,224,224], sr = 16000".
func describeShapes(inputs []*onnx.Value, dims map[string]int64, fill map[string]float64) string {
	var parts []string
	for _, v := range inputs {
		shape, err := ConcreteShape(v, dims)
		s := fmt.Sprintf("%s %v", v.Name, shape)
		if err != nil {
			s = v.Name + " ?"
		}
		if val, ok := fill[v.Name]; ok {
			s += fmt.Sprintf(" = %g", val)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// SampleDims binds the inputs' symbolic dims and unknown dims
// (by UnknownDimKey) to their sizes in the first sample of the data folder
// dir, read one sample at a time: the sizes the data runs the model at, for
// counting FLOPs where the model declares none. Dims already in dims win.
func SampleDims(dir string, inputs []*onnx.Value, dims map[string]int64, fill map[string]float64) (map[string]int64, error) {
	b, err := FirstSample(dir, inputs, Options{Dims: dims, Fill: fill})
	if err != nil {
		return nil, err
	}
	out := maps.Clone(dims)
	if out == nil {
		out = map[string]int64{}
	}
	for _, v := range inputs {
		t := b.Inputs[v.Name]
		if t == nil || v.Type == nil || v.Type.Kind != onnx.TypeTensor || !v.Type.HasShape() || len(t.Shape) != len(v.Type.Shape) {
			continue
		}
		for i, d := range v.Type.Shape {
			key := ""
			switch {
			case d.Kind == onnx.DimParam:
				key = d.Param
			case d.Kind == onnx.DimUnknown:
				key = UnknownDimKey(v.Name, i)
			}
			if _, set := out[key]; key != "" && !set {
				out[key] = int64(t.Shape[i])
			}
		}
	}
	return out, nil
}

// FirstSample reads the first sample of the data folder dir (one sample,
// whatever opts.BatchSize says).
func FirstSample(dir string, inputs []*onnx.Value, opts Options) (*Batch, error) {
	opts.BatchSize = 1
	r, err := Open(dir, inputs, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Next()
}
