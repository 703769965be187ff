package dataset

import (
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestNpyBatches writes a 6-sample array with labels and reads it back in the
// batches a model with a fixed batch of 2, and one with a symbolic batch, take.
func TestNpyBatches(t *testing.T) {
	dir := t.TempDir()
	x := interp.Make(onnx.Float, 6, 3)
	for i := range x.Floats() {
		x.Floats()[i] = float32(i)
	}
	if err := WriteNpy(filepath.Join(dir, "x.npy"), x); err != nil {
		t.Fatal(err)
	}
	if err := WriteNpy(filepath.Join(dir, "labels.npy"), Int64Tensor([]int64{0, 1, 2, 3, 4, 5})); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		batch  onnx.Dim
		sizes  []int
		option Options
	}{
		{"fixed batch", onnx.D(2), []int{2, 2, 2}, Options{}},
		{"symbolic batch", onnx.Sym("N"), []int{4, 2}, Options{BatchSize: 4}},
		{"fixed by --dim", onnx.Sym("N"), []int{3, 3}, Options{Dims: map[string]int64{"N": 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &onnx.Value{Name: "x", Type: onnx.TensorType(onnx.Float, onnx.Shape{tc.batch, onnx.D(3)})}
			r, err := Open(dir, []*onnx.Value{in}, tc.option)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Samples() != 6 {
				t.Errorf("Samples() = %d, want 6", r.Samples())
			}
			var sizes []int
			var values []float32
			var labels []int64
			for {
				b, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, b.Inputs["x"].Shape[0])
				values = append(values, b.Inputs["x"].Floats()...)
				labels = append(labels, b.Labels...)
			}
			if !slices.Equal(sizes, tc.sizes) {
				t.Errorf("batch sizes %v, want %v", sizes, tc.sizes)
			}
			if !slices.Equal(values, x.Floats()) || !slices.Equal(labels, []int64{0, 1, 2, 3, 4, 5}) {
				t.Errorf("values or labels changed: %v %v", values, labels)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	in := &onnx.Value{Name: "x", Type: onnx.TensorType(onnx.Float, onnx.ShapeOf(4, 3))}
	if _, err := Open(dir, []*onnx.Value{in}, Options{}); err == nil {
		t.Error("a folder without data opened")
	}
	if err := WriteNpy(filepath.Join(dir, "x.npy"), interp.Make(onnx.Float, 6, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, []*onnx.Value{in}, Options{}); err == nil {
		t.Error("6 rows for a batch of 4 opened")
	}
}

func TestRandomIndicesInRange(t *testing.T) {
	// An int64 input feeding a Gather into a table of 7 rows gets indices below 7.
	g := &onnx.Graph{Name: "g"}
	ids := g.AddInput("ids", onnx.TensorType(onnx.Int64, onnx.ShapeOf(1000)))
	table := g.AddInitializer("table", onnx.NewFloatTensor("", []int64{7, 2}, make([]float32, 14)))
	n := g.NewNode("Gather", "", "gather", []*onnx.Value{table, ids}, "y")
	g.Append(n)
	feeds, err := Random([]*onnx.Value{ids}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range feeds["ids"].Data.([]int64) {
		if v < 0 || v >= 7 {
			t.Fatalf("index %d out of the table's range", v)
		}
	}
}

// TestGuessShape: an input whose type declares no shape gets one read from
// the first consumer with a constant weight, through elementwise ops with
// constant operands (an input normalization).
func TestGuessShape(t *testing.T) {
	w := func(g *onnx.Graph, dims ...int64) *onnx.Value {
		n := int64(1)
		for _, d := range dims {
			n *= d
		}
		return g.AddInitializer("", onnx.NewFloatTensor("", dims, make([]float32, n)))
	}
	for _, tc := range []struct {
		name  string
		build func(g *onnx.Graph, x *onnx.Value)
		want  []int
	}{
		{"Conv after Sub and Div by constants", func(g *onnx.Graph, x *onnx.Value) {
			s := g.NewNode("Sub", "", "", []*onnx.Value{x, w(g, 1)}, "s")
			d := g.NewNode("Div", "", "", []*onnx.Value{s.Output(0), w(g, 1)}, "d")
			c := g.NewNode("Conv", "", "", []*onnx.Value{d.Output(0), w(g, 8, 3, 3, 3)}, "y")
			g.Append(s)
			g.Append(d)
			g.Append(c)
		}, []int{1, 3, 224, 224}},
		{"grouped 1-D Conv", func(g *onnx.Graph, x *onnx.Value) {
			c := g.NewNode("Conv", "", "", []*onnx.Value{x, w(g, 8, 2, 5)}, "y")
			c.SetAttr(onnx.IntAttr("group", 4))
			g.Append(c)
		}, []int{1, 8, 1024}},
		{"MatMul", func(g *onnx.Graph, x *onnx.Value) {
			g.Append(g.NewNode("MatMul", "", "", []*onnx.Value{x, w(g, 784, 10)}, "y"))
		}, []int{1, 784}},
		{"Gemm, transB", func(g *onnx.Graph, x *onnx.Value) {
			n := g.NewNode("Gemm", "", "", []*onnx.Value{x, w(g, 10, 40)}, "y")
			n.SetAttr(onnx.IntAttr("transB", 1))
			g.Append(n)
		}, []int{1, 40}},
		{"LSTM", func(g *onnx.Graph, x *onnx.Value) {
			g.Append(g.NewNode("LSTM", "", "", []*onnx.Value{x, w(g, 1, 32, 12), w(g, 1, 32, 8)}, "y"))
		}, []int{64, 1, 12}},
		{"Relu then Transpose: nothing tells", func(g *onnx.Graph, x *onnx.Value) {
			r := g.NewNode("Relu", "", "", []*onnx.Value{x}, "r")
			g.Append(r)
			g.Append(g.NewNode("Transpose", "", "", []*onnx.Value{r.Output(0)}, "y"))
		}, nil},
		{"Add of two inputs: not a normalization", func(g *onnx.Graph, x *onnx.Value) {
			other := g.AddInput("other", onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4)))
			a := g.NewNode("Add", "", "", []*onnx.Value{x, other}, "a")
			g.Append(a)
			g.Append(g.NewNode("MatMul", "", "", []*onnx.Value{a.Output(0), w(g, 4, 2)}, "y"))
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &onnx.Graph{Name: "g"}
			x := g.AddInput("x", onnx.TensorType(onnx.Float, nil))
			tc.build(g, x)
			got, from, ok := GuessShape(x)
			if ok != (tc.want != nil) || !slices.Equal(got, tc.want) {
				t.Fatalf("GuessShape = %v (%q, %v), want %v", got, from, ok, tc.want)
			}
			feeds, err := Random([]*onnx.Value{x}, 1, nil)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), "declares no shape") {
					t.Fatalf("Random: %v, want the error that no shape is declared", err)
				}
				return
			}
			if err != nil || !slices.Equal(feeds["x"].Shape, tc.want) {
				t.Fatalf("Random: %v, shape %v", err, feeds["x"].Shape)
			}
		})
	}
}
