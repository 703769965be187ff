package chandep_test

import (
	"github.com/onnxslim/onnxslim/dataset"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes/chandep"
)

// TestAnalyzeModels logs the groups of every shared and real model (how
// many, how many pinned and why) and checks that each group's ports index
// constants of the right size.
func TestAnalyzeModels(t *testing.T) {
	var paths []string
	shared, _ := filepath.Glob(filepath.Join(testdata.Models(t), "*", "model.onnx"))
	real, _ := filepath.Glob(filepath.Join(testdata.RealModels(t), "*.onnx"))
	paths = append(append(paths, shared...), real...)
	if len(shared) == 0 || len(real) == 0 {
		t.Fatalf("no models found (%d shared, %d real)", len(shared), len(real))
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".onnx")
		if name == "model" {
			name = filepath.Base(filepath.Dir(p))
		}
		t.Run(name, func(t *testing.T) {
			m, err := onnx.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			gs, err := chandep.Analyze(m)
			if err != nil {
				t.Fatal(err)
			}
			free, chans := 0, 0
			reasons := map[string]int{}
			for _, g := range gs {
				if g.Pinned == "" {
					free++
					chans += g.Channels
				} else {
					reasons[strings.SplitN(g.Pinned, " ", 3)[0]+" "+strings.SplitN(g.Pinned, " ", 3)[1]]++
				}
				checkPorts(t, g)
			}
			t.Logf("%s: %d groups, %d prunable (%d channels), pinned by %v", name, len(gs), free, chans, reasons)
		})
	}
}

// checkPorts: every port names a constant input whose axis holds the
// group's channels where the port says.
func checkPorts(t *testing.T, g *chandep.Group) {
	t.Helper()
	for _, p := range append(append([]chandep.Port(nil), g.Producers...), g.Consumers...) {
		v := p.Node.Input(p.Input)
		if v == nil {
			t.Fatalf("group %d: port %v has no input", g.ID, p)
		}
		d, ok := constDims(v)
		if !ok || p.Axis >= len(d) || int(d[p.Axis]) < (p.Offset+p.Count)*p.Stride || p.First+p.Count > g.Channels {
			t.Fatalf("group %d (%d channels): port %v %+v does not fit the constant %s %v", g.ID, g.Channels, p, p, v.Name, d)
		}
	}
}

func constDims(v *onnx.Value) ([]int64, bool) {
	if v.Const != nil {
		return v.Const.Dims, true
	}
	if p := v.Producer(); p != nil && p.OpType == "Constant" {
		if a := p.Attr("value"); a != nil && a.Tensor != nil {
			return a.Tensor.Dims, true
		}
	}
	return nil, false
}

// TestHalveModels removes every other channel of every prunable group of
// resnet18 and mobilenet_v2 — and with ONNXSLIM_CHANDEP_ALL=1 (`make
// chandep-models`) of the MNIST models and every real model too — from one
// Analyze: the parameter count is the one the groups' ports predict, the
// shapes Remove wrote are the ones inference finds, and the interpreter and
// ONNX Runtime run the result with the same outputs.
func TestHalveModels(t *testing.T) {
	names := []string{"resnet18_op13", "mobilenet_v2_op13"}
	all := os.Getenv("ONNXSLIM_CHANDEP_ALL") == "1"
	if all {
		names = append(names, "mnist_cnn_op13", "mnist_mlp_op13")
	}
	var paths []string
	for _, name := range names {
		paths = append(paths, filepath.Join(testdata.Models(t), name, "model.onnx"))
	}
	if all {
		real, _ := filepath.Glob(filepath.Join(testdata.RealModels(t), "*.onnx"))
		if len(real) == 0 {
			t.Fatal("no real models")
		}
		paths = append(paths, real...)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".onnx")
		if name == "model" {
			name = filepath.Base(filepath.Dir(path))
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel() // mostly waiting for ONNX Runtime to start
			m, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			halve(t, name, m)
		})
	}
}

func halve(t *testing.T, name string, m *onnx.Model) {
	before := params(m)
	gs, err := chandep.Analyze(m)
	if err != nil {
		t.Fatal(err)
	}
	// Predict each constant's size from the ports: along each axis,
	// Stride positions go per removed channel.
	type key struct {
		n     *onnx.Node
		input int
	}
	removed := map[key]map[int]int{}
	var halved []*chandep.Group
	keeps := map[*chandep.Group][]int{}
	for _, g := range gs {
		if g.Pinned != "" || g.Channels < 2 {
			continue
		}
		// Every other channel of each block (a grouped conv's groups
		// keep as many each).
		w := g.Channels / g.Blocks
		kept := func(c int) bool { return c%w%2 == 0 }
		var keep []int
		for c := 0; c < g.Channels; c++ {
			if kept(c) {
				keep = append(keep, c)
			}
		}
		keeps[g] = keep
		halved = append(halved, g)
		for _, p := range append(append([]chandep.Port(nil), g.Producers...), g.Consumers...) {
			k := key{p.Node, p.Input}
			if removed[k] == nil {
				removed[k] = map[int]int{}
			}
			for c := p.First; c < p.First+p.Count; c++ {
				if !kept(c) {
					removed[k][p.Axis] += p.Stride
				}
			}
		}
	}
	if len(halved) == 0 {
		t.Logf("%s: nothing prunable", name)
		return
	}
	want := before
	for k, axes := range removed {
		d, _ := constDims(k.n.Input(k.input))
		full, kept := int64(1), int64(1)
		for i, n := range d {
			full *= n
			kept *= n - int64(axes[i])
		}
		want -= full - kept
	}
	for _, g := range halved {
		if err := chandep.Remove(m, g, keeps[g]); err != nil {
			t.Fatal(err)
		}
	}
	after := params(m)
	t.Logf("%s: halved %d of %d groups: %d → %d parameters", name, len(halved), len(gs), before, after)
	if after != want {
		t.Fatalf("%d parameters after pruning %d groups, ports predict %d", after, len(halved), want)
	}
	checkShapes(t, m)

	var ins []*onnx.Value
	for _, v := range m.Graph.Inputs {
		if v.Const == nil {
			ins = append(ins, v)
		}
	}
	feeds, err := dataset.Random(ins, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := s.Run(feeds)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var names []string
	var ts []*interp.Tensor
	for _, v := range ins {
		names, ts = append(names, v.Name), append(ts, feeds[v.Name])
	}
	if err := dataset.WritePB(filepath.Join(dir, "in"), "input", names, ts); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pruned.onnx")
	if err := onnx.Save(m, path, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	got := ort.Run(t, path, filepath.Join(dir, "in"), "--optimize", "disabled")
	if len(got) != len(outs) {
		t.Fatalf("ONNX Runtime gave %d outputs, the interpreter %d", len(got), len(outs))
	}
	for i := range got {
		if outs[i].DType != onnx.Float {
			continue
		}
		g, err := got[i].AsFloat32()
		if err != nil {
			t.Fatal(err)
		}
		if msg := testutil.Mismatch(g, outs[i].Floats(), 1e-4, 1e-3, 1e-5); msg != "" {
			t.Fatalf("output %d: ONNX Runtime vs interpreter on the pruned %s: %s", i, name, msg)
		}
	}
}
