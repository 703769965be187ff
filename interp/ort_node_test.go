package interp_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// ortNode is one node run in the interpreter and in ONNX Runtime on the
// same inputs: the check for ops whose reference is ONNX Runtime's own
// kernel (its com.microsoft contrib ops, which the ONNX test suite lacks).
type ortNode struct {
	name   string
	op     string
	domain string // "" (ai.onnx), "com.microsoft" or "ai.onnx.ml"
	opset  int64  // the model's ai.onnx opset; 0: 17
	// domainOpset is the model's import of domain; 0: 1.
	domainOpset int64
	attrs       []*onnx.Attribute
	// in are the node's inputs; nil is an absent optional input. Inputs
	// whose bit is set in consts are initializers (weights ONNX Runtime's
	// kernel wants constant), the rest graph inputs.
	in     []*interp.Tensor
	consts uint64
	outs   int // outputs listed; 0: 1
	// skipOuts: bit i set leaves output i unnamed (not asked for), as ORT
	// fails on some outputs its CPU kernels lack (training statistics).
	skipOuts uint64
	// Float outputs must agree within atol + rtol·|ORT| per element (both
	// 0: 1e-5 and 1e-4); every other element type exactly, or, for
	// integers, within qtol steps where ORT's kernel rounds an
	// approximation (say why beside the case).
	atol, rtol float64
	qtol       int
}

// model builds c's one-node model: inputs x0, x1, …, outputs y0, y1, …
// typed from the interpreter's own results (ONNX Runtime wants typed
// outputs), with the feeds for its graph inputs.
func (c ortNode) model(t *testing.T) (*onnx.Model, map[string]*interp.Tensor) {
	t.Helper()
	g := &onnx.Graph{Name: c.name}
	var ins []*onnx.Value
	feeds := map[string]*interp.Tensor{}
	for i, x := range c.in {
		if x == nil {
			ins = append(ins, nil)
			continue
		}
		name := fmt.Sprint("x", i)
		if c.consts&(1<<i) != 0 {
			ot, err := interp.ToONNX(name, x)
			if err != nil {
				t.Fatal(err)
			}
			ins = append(ins, g.AddInitializer(name, ot))
			continue
		}
		dims := make(onnx.Shape, len(x.Shape))
		for j, d := range x.Shape {
			dims[j] = onnx.D(int64(d))
		}
		ins = append(ins, g.AddInput(name, onnx.TensorType(x.DType, dims)))
		feeds[name] = x
	}
	outs := make([]string, max(c.outs, 1))
	for i := range outs {
		if c.skipOuts&(1<<i) == 0 {
			outs[i] = fmt.Sprint("y", i)
		}
	}
	n := g.NewNode(c.op, c.domain, c.op, ins, outs...)
	n.Attrs = c.attrs
	g.Append(n)
	for i := range outs {
		if v := n.Output(i); v != nil {
			g.Outputs = append(g.Outputs, v)
		}
	}
	opset := c.opset
	if opset == 0 {
		opset = 17
	}
	ops := []onnx.OpsetID{{Version: opset}}
	if c.domain != "" {
		ops = append(ops, onnx.OpsetID{Domain: c.domain, Version: max(c.domainOpset, 1)})
	}
	return &onnx.Model{IRVersion: 8, Opsets: ops, Graph: g}, feeds
}

// checkORT runs c in the interpreter at one and two threads and in ONNX
// Runtime (optimizations off, so that ORT runs the node's own kernel) and
// compares every output.
func checkORT(t *testing.T, c ortNode) {
	t.Helper()
	ort.Require(t)
	m, feeds := c.model(t)
	var got [][]*interp.Tensor
	for _, th := range []int{1, 2} {
		s, err := interp.NewSession(m, interp.Options{Threads: th})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out, err := s.Run(feeds)
		if err != nil {
			t.Fatalf("%s: threads=%d: %v", c.name, th, err)
		}
		got = append(got, out)
	}
	want := runORT(t, m, feeds, got[0])
	atol, rtol := c.atol, c.rtol
	if atol == 0 && rtol == 0 {
		atol, rtol = 1e-5, 1e-4
	}
	for th, out := range got {
		for i, w := range want {
			g, err := interp.ToONNX("", out[i])
			if err != nil {
				t.Fatal(err)
			}
			if c.qtol > 0 && w.DataType != onnx.Float && w.DataType != onnx.Double {
				// Integers as float32 (exact below 2^24), compared in steps.
				gf, err1 := interp.AsFloat32(out[i])
				wt, err2 := interp.FromONNX(w)
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				wf, err := interp.AsFloat32(wt)
				if err != nil {
					t.Fatal(err)
				}
				if msg := testutil.Mismatch(gf, wf, float64(c.qtol), 0, -1); msg != "" || g.DataType != w.DataType || !slices.Equal(g.Dims, w.Dims) {
					t.Errorf("%s: threads=%d: output %d (%s%v, ORT %s%v): %s", c.name, th+1, i, g.DataType, g.Dims, w.DataType, w.Dims, msg)
				}
				continue
			}
			if msg := testutil.MismatchTensor(g, w, atol, rtol, -1); msg != "" {
				t.Errorf("%s: threads=%d: output %d: %s", c.name, th+1, i, msg)
			}
		}
	}
}

// runORT types m's outputs from the interpreter's results (ONNX Runtime
// wants typed outputs), saves m with its inputs and runs it in ONNX Runtime.
func runORT(t *testing.T, m *onnx.Model, feeds map[string]*interp.Tensor, got []*interp.Tensor) []*onnx.Tensor {
	t.Helper()
	for i, v := range m.Graph.Outputs {
		dims := make(onnx.Shape, len(got[i].Shape))
		for j, d := range got[i].Shape {
			dims[j] = onnx.D(int64(d))
		}
		v.Type = onnx.TensorType(got[i].DType, dims)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	if err := onnx.Save(m, path, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	var names []string
	var ins []*interp.Tensor
	for _, v := range m.Graph.Inputs {
		names = append(names, v.Name)
		ins = append(ins, feeds[v.Name])
	}
	inDir := ort.WriteInputs(t, names, ins)
	want := ort.Run(t, path, inDir, "--optimize", "disabled", "--threads", "1")
	if len(want) != len(m.Graph.Outputs) {
		t.Fatalf("ONNX Runtime gave %d outputs, want %d", len(want), len(m.Graph.Outputs))
	}
	return want
}

// normal is a seeded tensor of standard normal float32 values.
func normal(r *rand.Rand, shape ...int) *interp.Tensor {
	x := interp.Make(onnx.Float, shape...)
	for i := range x.Floats() {
		x.Floats()[i] = float32(r.NormFloat64())
	}
	return x
}

// uniformInts is a seeded tensor of integers in [lo, hi] of type dt (any
// integer type the interpreter holds as its Go twin).
func uniformInts(r *rand.Rand, dt onnx.DataType, lo, hi int, shape ...int) *interp.Tensor {
	x := interp.Make(dt, shape...)
	n := x.Len()
	for i := range n {
		v := lo + r.IntN(hi-lo+1)
		switch d := x.Data.(type) {
		case []uint8:
			d[i] = uint8(v)
		case []int8:
			d[i] = int8(v)
		case []int32:
			d[i] = int32(v)
		case []int64:
			d[i] = int64(v)
		case []uint16:
			d[i] = uint16(v)
		case []int16:
			d[i] = int16(v)
		default:
			panic(fmt.Sprintf("uniformInts: %s", dt))
		}
	}
	return x
}
