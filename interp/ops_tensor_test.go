package interp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// testGraph builds small models for kernel tests: inputs are fed by name,
// and the model goes through Encode/Decode so values know their graphs.
type testGraph struct {
	g     *onnx.Graph
	feeds map[string]*interp.Tensor
}

func newTestGraph(name string) *testGraph {
	return &testGraph{g: &onnx.Graph{Name: name}, feeds: map[string]*interp.Tensor{}}
}

// input declares a graph input; t (may be nil for subgraphs) is fed at run time.
func (b *testGraph) input(name string, dt onnx.DataType, t *interp.Tensor) *onnx.Value {
	v := &onnx.Value{Name: name, Type: onnx.TensorType(dt, nil)}
	b.g.Inputs = append(b.g.Inputs, v)
	if t != nil {
		b.feeds[name] = t
	}
	return v
}

func (b *testGraph) node(op string, attrs []*onnx.Attribute, in []*onnx.Value, outs ...string) *onnx.Node {
	n := b.g.NewNode(op, "", op+"_"+strings.Join(outs, "_"), in, outs...)
	n.Attrs = attrs
	b.g.Append(n)
	return n
}

func (b *testGraph) output(vs ...*onnx.Value) {
	for _, v := range vs {
		if v.Type == nil {
			v.Type = &onnx.Type{Kind: onnx.TypeTensor}
		}
	}
	b.g.Outputs = append(b.g.Outputs, vs...)
}

func (b *testGraph) run(t *testing.T, opset int64) ([]*interp.Tensor, error) {
	t.Helper()
	s, err := interp.NewSession(b.model(t, 8, opset), interp.Options{})
	if err != nil {
		return nil, err
	}
	return s.Run(b.feeds)
}

// runOp runs one node with the given inputs (nil: omitted) and outputs.
func runOp(t *testing.T, op string, opset int64, attrs []*onnx.Attribute, nOut int, ins ...*interp.Tensor) ([]*interp.Tensor, error) {
	t.Helper()
	b := newTestGraph("test")
	var vs []*onnx.Value
	for i, x := range ins {
		if x == nil {
			vs = append(vs, nil)
			continue
		}
		vs = append(vs, b.input(fmt.Sprintf("in%d", i), x.DType, x))
	}
	var outs []string
	for i := 0; i < nOut; i++ {
		outs = append(outs, fmt.Sprintf("out%d", i))
	}
	n := b.node(op, attrs, vs, outs...)
	b.output(n.Outputs()...)
	return b.run(t, opset)
}

func f32(shape []int, v ...float32) *interp.Tensor { return interp.FromSlice(onnx.Float, shape, v) }
func i64(shape []int, v ...int64) *interp.Tensor   { return interp.FromSlice(onnx.Int64, shape, v) }

func check(t *testing.T, name string, got []*interp.Tensor, err error, want ...*interp.Tensor) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	for i, w := range want {
		if err := Compare(got[i], w, 0, 0); err != nil {
			t.Errorf("%s: output %d: %v (got %v)", name, i, err, got[i].Data)
		}
	}
}

func TestSliceSteps(t *testing.T) {
	x := f32([]int{5}, 0, 1, 2, 3, 4)
	cases := []struct {
		name                      string
		starts, ends, axes, steps []int64
		want                      []float32
	}{
		{"reverse all", []int64{-1}, []int64{-1 << 62}, nil, []int64{-1}, []float32{4, 3, 2, 1, 0}},
		{"reverse by 2", []int64{10}, []int64{-10}, nil, []int64{-2}, []float32{4, 2, 0}},
		{"clamped end", []int64{1}, []int64{1000}, []int64{0}, []int64{3}, []float32{1, 4}},
		{"empty", []int64{3}, []int64{1}, nil, nil, []float32{}},
		{"negative start", []int64{-2}, []int64{5}, nil, nil, []float32{3, 4}},
	}
	for _, c := range cases {
		ins := []*interp.Tensor{x, i64([]int{1}, c.starts...), i64([]int{1}, c.ends...), nil, nil}
		if c.axes != nil {
			ins[3] = i64([]int{1}, c.axes...)
		}
		if c.steps != nil {
			ins[4] = i64([]int{1}, c.steps...)
		}
		got, err := runOp(t, "Slice", 13, nil, 1, ins...)
		check(t, c.name, got, err, f32([]int{len(c.want)}, c.want...))
	}
	if _, err := runOp(t, "Slice", 13, nil, 1, x, i64([]int{1}, 0), i64([]int{1}, 3), nil, i64([]int{1}, 0)); err == nil {
		t.Error("step 0: want an error")
	}
}

func TestPadModes(t *testing.T) {
	x := f32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	cases := []struct {
		mode string
		pads []int64
		want *interp.Tensor
	}{
		{"reflect", []int64{0, 2, 0, 1}, f32([]int{2, 6}, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5)},
		{"edge", []int64{1, 1, 0, 0}, f32([]int{3, 4}, 1, 1, 2, 3, 1, 1, 2, 3, 4, 4, 5, 6)},
		{"wrap", []int64{0, 1, 0, 2}, f32([]int{2, 6}, 3, 1, 2, 3, 1, 2, 6, 4, 5, 6, 4, 5)},
		{"constant", []int64{0, -1, 1, 1}, f32([]int{3, 3}, 2, 3, 0, 5, 6, 0, 0, 0, 0)},
		{"edge", []int64{0, -1, 0, 1}, f32([]int{2, 3}, 2, 3, 3, 5, 6, 6)},
	}
	for _, c := range cases {
		got, err := runOp(t, "Pad", 13, []*onnx.Attribute{onnx.StringAttr("mode", c.mode)}, 1, x, i64([]int{4}, c.pads...))
		check(t, fmt.Sprint(c.mode, c.pads), got, err, c.want)
	}
	// Pad-2 takes pads and value as attributes.
	got, err := runOp(t, "Pad", 2, []*onnx.Attribute{onnx.IntsAttr("pads", []int64{0, 1, 0, 0}), onnx.FloatAttr("value", 9)}, 1, x)
	check(t, "Pad-2", got, err, f32([]int{2, 4}, 9, 1, 2, 3, 9, 4, 5, 6))
}

func TestSplitUneven(t *testing.T) {
	x := f32([]int{5}, 0, 1, 2, 3, 4)
	got, err := runOp(t, "Split", 18, []*onnx.Attribute{onnx.IntAttr("num_outputs", 2)}, 2, x)
	check(t, "num_outputs", got, err, f32([]int{3}, 0, 1, 2), f32([]int{2}, 3, 4))
	got, err = runOp(t, "Split", 11, []*onnx.Attribute{onnx.IntsAttr("split", []int64{1, 4})}, 2, x)
	check(t, "split attr", got, err, f32([]int{1}, 0), f32([]int{4}, 1, 2, 3, 4))
	if _, err := runOp(t, "Split", 13, nil, 2, x, i64([]int{2}, 1, 1)); err == nil {
		t.Error("split not adding up: want an error")
	}
}

func TestTransposeTileExpand(t *testing.T) {
	x := f32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	got, err := runOp(t, "Transpose", 13, nil, 1, x)
	check(t, "transpose", got, err, f32([]int{3, 2}, 1, 4, 2, 5, 3, 6))
	got, err = runOp(t, "Tile", 13, nil, 1, f32([]int{1, 2}, 1, 2), i64([]int{2}, 2, 2))
	check(t, "tile", got, err, f32([]int{2, 4}, 1, 2, 1, 2, 1, 2, 1, 2))
	got, err = runOp(t, "Expand", 13, nil, 1, f32([]int{2, 1}, 1, 2), i64([]int{3}, 2, 1, 3))
	check(t, "expand", got, err, f32([]int{2, 2, 3}, 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2))
	got, err = runOp(t, "Reshape", 13, nil, 1, x, i64([]int{3}, 0, -1, 1))
	check(t, "reshape", got, err, f32([]int{2, 3, 1}, 1, 2, 3, 4, 5, 6))
	if _, err := runOp(t, "Reshape", 13, nil, 1, x, i64([]int{1}, 4)); err == nil {
		t.Error("bad reshape: want an error")
	}
}

func TestGatherErrors(t *testing.T) {
	x := f32([]int{3}, 1, 2, 3)
	got, err := runOp(t, "Gather", 13, nil, 1, x, i64([]int{2}, -1, 0))
	check(t, "negative index", got, err, f32([]int{2}, 3, 1))
	for _, c := range []struct {
		op  string
		ins []*interp.Tensor
	}{
		{"Gather", []*interp.Tensor{x, i64([]int{1}, 3)}},
		{"GatherElements", []*interp.Tensor{x, i64([]int{1}, -4)}},
		{"GatherND", []*interp.Tensor{x, i64([]int{1, 1}, 5)}},
		{"ScatterND", []*interp.Tensor{x, i64([]int{1, 1}, 5), f32([]int{1}, 0)}},
		{"ScatterElements", []*interp.Tensor{x, i64([]int{1}, 7), f32([]int{1}, 0)}},
	} {
		if _, err := runOp(t, c.op, 18, nil, 1, c.ins...); err == nil || strings.Contains(err.Error(), "internal error") {
			t.Errorf("%s with a bad index: want a plain error, got %v", c.op, err)
		}
	}
}

func TestUniqueUnsorted(t *testing.T) {
	x := f32([]int{6}, 2, 1, 1, 3, 4, 3)
	got, err := runOp(t, "Unique", 11, []*onnx.Attribute{onnx.IntAttr("sorted", 0)}, 4, x)
	check(t, "unique", got, err, f32([]int{4}, 2, 1, 3, 4), i64([]int{4}, 0, 1, 3, 4),
		i64([]int{6}, 0, 1, 1, 2, 3, 2), i64([]int{4}, 1, 2, 2, 1))
}
