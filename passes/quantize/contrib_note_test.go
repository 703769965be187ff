package quantize_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// TestNotesFusedContribOps: a FusedConv (ONNX Runtime's) is not quantized,
// and the log says to run unfuse first.
func TestNotesFusedContribOps(t *testing.T) {
	g := &onnx.Graph{Name: "g"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 2, 4, 4)))
	w := g.AddInitializer("w", onnx.NewFloatTensor("", []int64{3, 2, 1, 1}, []float32{1, 2, 3, 4, 5, 6}))
	n := g.NewNode("FusedConv", "com.microsoft", "fc", []*onnx.Value{x, w}, "y")
	n.Attrs = []*onnx.Attribute{onnx.StringAttr("activation", "Relu")}
	g.Append(n)
	g.Outputs = append(g.Outputs, n.Output(0))
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 17}, {Domain: "com.microsoft", Version: 1}}, Graph: g}
	p, err := passes.Parse("quantize(mode=int8-weights)")
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if _, err := p.Run(context.Background(), m, passes.Config{Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "1 of ONNX Runtime's fused ops") || !strings.Contains(log.String(), "unfuse") {
		t.Errorf("log %q: want the note on FusedConv and unfuse", log.String())
	}
	if len(m.Graph.Nodes) != 1 || m.Graph.Nodes[0].OpType != "FusedConv" {
		t.Errorf("nodes %v: want the FusedConv alone, float", m.Graph.Nodes)
	}
}
