package interp_test

import (
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

func graphAttr(name string, g *onnx.Graph) *onnx.Attribute {
	return &onnx.Attribute{Name: name, Type: onnx.AttrGraph, Graph: g}
}

// loopModel builds Loop(M?, cond?, x) whose body adds the outer value "one"
// to x, emits x as a scan output, and sets cond to iter < 2 (used only when
// the node has a cond input).
func loopModel(m *interp.Tensor, cond *interp.Tensor) *testGraph {
	b := newTestGraph("main")
	one := b.g.AddInitializer("one", onnx.NewFloatTensor("one", []int64{1}, []float32{1}))
	var mv, cv *onnx.Value
	if m != nil {
		mv = b.input("M", onnx.Int64, m)
	}
	if cond != nil {
		cv = b.input("cond", onnx.Bool, cond)
	}
	x := b.input("x", onnx.Float, f32([]int{1}, 10))

	body := newTestGraph("body")
	iter := body.input("iter", onnx.Int64, nil)
	body.input("cond_in", onnx.Bool, nil)
	bx := body.input("x_in", onnx.Float, nil)
	two := body.g.AddInitializer("two", onnx.NewInt64Tensor("two", nil, []int64{2}))
	c := body.node("Less", nil, []*onnx.Value{iter, two}, "cond_out")
	sum := body.node("Add", nil, []*onnx.Value{bx, one}, "x_out")
	scan := body.node("Identity", nil, []*onnx.Value{sum.Output(0)}, "scan_out")
	body.output(c.Output(0), sum.Output(0), scan.Output(0))

	n := b.node("Loop", []*onnx.Attribute{graphAttr("body", body.g)}, []*onnx.Value{mv, cv, x}, "x_final", "xs")
	b.output(n.Outputs()...)
	return b
}

func TestLoop(t *testing.T) {
	scalarBool := func(v bool) *interp.Tensor { return interp.Scalar(onnx.Bool, v) }
	cases := []struct {
		name    string
		m, cond *interp.Tensor
		final   float32
		scans   []float32
	}{
		{"M only", interp.Scalar(onnx.Int64, int64(3)), nil, 13, []float32{11, 12, 13}},
		{"cond only", nil, scalarBool(true), 13, []float32{11, 12, 13}},
		{"M and cond", interp.Scalar(onnx.Int64, int64(2)), scalarBool(true), 12, []float32{11, 12}},
		{"false cond", nil, scalarBool(false), 10, nil},
		{"zero trips", interp.Scalar(onnx.Int64, int64(0)), nil, 10, nil},
	}
	for _, c := range cases {
		got, err := loopModel(c.m, c.cond).run(t, 13)
		want := f32([]int{len(c.scans), 1}, c.scans...)
		if c.scans == nil {
			want = f32([]int{0})
		}
		check(t, c.name, got, err, f32([]int{1}, c.final), want)
	}
}

// scanModel sums the rows of x into a state, emitting the running sums.
func scanModel(attrs ...*onnx.Attribute) *testGraph {
	b := newTestGraph("main")
	s0 := b.input("s0", onnx.Float, f32([]int{2}, 0, 0))
	x := b.input("x", onnx.Float, f32([]int{3, 2}, 1, 2, 3, 4, 5, 6))
	body := newTestGraph("body")
	s := body.input("s", onnx.Float, nil)
	xi := body.input("xi", onnx.Float, nil)
	sum := body.node("Add", nil, []*onnx.Value{s, xi}, "s_out")
	out := body.node("Identity", nil, []*onnx.Value{sum.Output(0)}, "y")
	body.output(sum.Output(0), out.Output(0))
	attrs = append(attrs, graphAttr("body", body.g), onnx.IntAttr("num_scan_inputs", 1))
	n := b.node("Scan", attrs, []*onnx.Value{s0, x}, "s_final", "ys")
	b.output(n.Outputs()...)
	return b
}

func TestScanDirections(t *testing.T) {
	got, err := scanModel().run(t, 11)
	check(t, "forward", got, err, f32([]int{2}, 9, 12), f32([]int{3, 2}, 1, 2, 4, 6, 9, 12))
	got, err = scanModel(onnx.IntsAttr("scan_input_directions", []int64{1})).run(t, 11)
	check(t, "reverse input", got, err, f32([]int{2}, 9, 12), f32([]int{3, 2}, 5, 6, 8, 10, 9, 12))
	got, err = scanModel(onnx.IntsAttr("scan_output_directions", []int64{1})).run(t, 11)
	check(t, "reverse output", got, err, f32([]int{2}, 9, 12), f32([]int{3, 2}, 9, 12, 4, 6, 1, 2))
	got, err = scanModel(onnx.IntsAttr("scan_output_axes", []int64{-1})).run(t, 11)
	check(t, "output axis", got, err, f32([]int{2}, 9, 12), f32([]int{2, 3}, 1, 4, 9, 2, 6, 12))
	got, err = scanModel(onnx.IntsAttr("scan_input_axes", []int64{1})).run(t, 11)
	if err == nil {
		t.Errorf("scanning axis 1 (length 2) with a [2] state of rows: want a shape error, got %v", got)
	}
}
