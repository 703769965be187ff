package onnx

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/onnxslim/onnxslim/internal/testdata"
	pb "github.com/onnxslim/onnxslim/onnx/internal/onnxpb"
)

// TestInlineRawDataIsMapped: a model file of aliasFileMin bytes or more
// keeps its large raw_data in the mapping (initializers of the main graph
// and of a subgraph, a Constant node's tensor), every tensor the same bytes
// as a decode of the file read into memory, small ones copied, and a save
// writes the same file.
func TestInlineRawDataIsMapped(t *testing.T) {
	if !mapsFiles {
		testdata.Missing(t, "files are read, not mapped, on this system")
	}
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		testdata.Missing(t, "no /proc/self/maps on this system: the mapping cannot be observed")
	}
	big := func(name string, n, seed int) *Tensor {
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = float32(i*seed) * 0.125
		}
		vals[1] = float32(nan())
		return NewFloatTensor(name, []int64{int64(n)}, vals)
	}
	g := &Graph{Name: "g"}
	m := &Model{IRVersion: 8, Opsets: []OpsetID{{Version: 17}}, Graph: g}
	x := g.AddInput("x", TensorType(Float, ShapeOf(3<<20)))
	y := x
	for i := range 5 {
		w := g.AddInitializer("w"+strconv.Itoa(i), big("w"+strconv.Itoa(i), 3<<20+i%2, i+1)) // odd sizes: unaligned offsets
		if i%2 == 1 {
			w.Const.Dims[0]--
			w.Const.Raw = w.Const.Raw[:len(w.Const.Raw)-4]
		}
		n := g.NewNode("Add", "", "add"+strconv.Itoa(i), []*Value{y, w}, "y"+strconv.Itoa(i))
		g.Append(n)
		y = n.Output(0)
	}
	g.AddInitializer("small", big("small", 10, 7))
	c := g.NewNode("Constant", "", "c", nil, "cv")
	c.Attrs = append(c.Attrs, &Attribute{Name: "value", Type: AttrTensor, Tensor: big("", 100000, 3)})
	g.Append(c)
	g.Outputs = append(g.Outputs, y)
	var buf bytes.Buffer
	if _, err := WriteTo(&buf, m); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "inline.onnx")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := DecodeUnchecked(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(place string, w, g *Tensor, mapped bool) {
		if !bytes.Equal(w.Raw, g.Raw) || len(g.unknown) != 0 {
			t.Fatalf("%s: %d bytes (unknown %d), want %d the same", place, len(g.Raw), len(g.unknown), len(w.Raw))
		}
		if in := inMapping(t, uintptr(unsafe.Pointer(&g.Raw[0])), path); in != mapped {
			t.Errorf("%s: in the file's mapping: %v, want %v", place, in, mapped)
		}
	}
	for i, v := range got.Graph.Initializers {
		check(v.Name, want.Graph.Initializers[i].Const, v.Const, v.Name != "small")
	}
	check("Constant", want.Graph.Nodes[5].Attr("value").Tensor, got.Graph.Nodes[5].Attr("value").Tensor, true)
	var again bytes.Buffer
	if _, err := WriteTo(&again, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Fatal("saving the loaded model writes other bytes")
	}
}

// TestInlineTrainingInfoKept: a large raw_data inside training_info (which
// the IR keeps as bytes) is left in the message, and one in a sparse
// attribute finds its tensor, so that a save writes both back whole.
func TestInlineTrainingInfoKept(t *testing.T) {
	if !mapsFiles {
		testdata.Missing(t, "files are read, not mapped, on this system")
	}
	raw := bytes.Repeat([]byte{1, 2, 3, 4}, aliasFileMin/4)
	ti := &pb.TrainingInfoProto{Initialization: &pb.GraphProto{Name: "init",
		Initializer: []*pb.TensorProto{{Name: "t", DataType: int32(Float), Dims: []int64{int64(len(raw) / 4)}, RawData: raw}}}}
	// And a sparse attribute's values, which the IR holds apart.
	sp := &pb.SparseTensorProto{Dims: []int64{int64(len(raw) / 4)},
		Values:  &pb.TensorProto{DataType: int32(Float), Dims: []int64{int64(len(raw) / 4)}, RawData: raw},
		Indices: &pb.TensorProto{DataType: int32(Int64), Dims: []int64{int64(len(raw) / 4)}, RawData: make([]byte, 2*len(raw))}}
	for i := range len(raw) / 4 {
		binary.LittleEndian.PutUint64(sp.Indices.RawData[8*i:], uint64(i))
	}
	node := &pb.NodeProto{OpType: "Constant", Output: []string{"c"},
		Attribute: []*pb.AttributeProto{{Name: "sparse_value", Type: pb.AttributeProto_SPARSE_TENSOR, SparseTensor: sp}}}
	mp := &pb.ModelProto{IrVersion: 8, OpsetImport: []*pb.OperatorSetIdProto{{Version: 17}},
		Graph: &pb.GraphProto{Name: "g", Initializer: []*pb.TensorProto{{Name: "w", DataType: int32(Float), Dims: []int64{int64(len(raw) / 4)}, RawData: raw}},
			Node: []*pb.NodeProto{node}, Output: []*pb.ValueInfoProto{{Name: "w"}, {Name: "c"}}},
		TrainingInfo: []*pb.TrainingInfoProto{ti}}
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ti.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := WriteTo(&out, m); err != nil {
		t.Fatal(err)
	}
	back := &pb.ModelProto{}
	if err := proto.Unmarshal(out.Bytes(), back); err != nil {
		t.Fatal(err)
	}
	if len(back.TrainingInfo) != 1 || !proto.Equal(back.TrainingInfo[0], ti) {
		t.Fatal("training_info changed in the round trip")
	}
	if len(back.Graph.Initializer) != 1 || !bytes.Equal(back.Graph.Initializer[0].RawData, raw) {
		t.Fatal("the graph's initializer changed in the round trip")
	}
	if len(back.Graph.Node) != 1 || !proto.Equal(back.Graph.Node[0].Attribute[0].SparseTensor, sp) {
		t.Fatal("the sparse attribute changed in the round trip")
	}
}
