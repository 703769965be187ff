package chandep_test

import (
	"os"
	"path/filepath"
	"sort"
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
// resnet18 and mobilenet_v2 (one Analyze, many Removes): the parameter count
// is the one the groups' ports predict, and the interpreter and ONNX Runtime
// run the result with the same outputs.
func TestHalveModels(t *testing.T) {
	for _, name := range []string{"resnet18_op13", "mobilenet_v2_op13"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(testdata.Models(t), name)
			m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
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
			keeps := map[*chandep.Group][]int{}
			pruned := 0
			for _, g := range gs {
				if g.Pinned != "" || g.Channels < 2 {
					continue
				}
				var keep []int
				for c := 0; c < g.Channels; c += 2 {
					keep = append(keep, c)
				}
				keeps[g] = keep
				pruned++
				for _, p := range append(append([]chandep.Port(nil), g.Producers...), g.Consumers...) {
					k := key{p.Node, p.Input}
					if removed[k] == nil {
						removed[k] = map[int]int{}
					}
					for c := p.First; c < p.First+p.Count; c++ {
						if c%2 == 1 {
							removed[k][p.Axis] += p.Stride
						}
					}
				}
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
			ids := make([]*chandep.Group, 0, len(keeps))
			for g := range keeps {
				ids = append(ids, g)
			}
			sort.Slice(ids, func(i, j int) bool { return ids[i].ID < ids[j].ID })
			for _, g := range ids {
				if err := chandep.Remove(m, g, keeps[g]); err != nil {
					t.Fatal(err)
				}
			}
			after := params(m)
			t.Logf("%s: halved %d of %d groups: %d → %d parameters", name, pruned, len(gs), before, after)
			if pruned == 0 || after != want {
				t.Fatalf("%d parameters after pruning %d groups, ports predict %d", after, pruned, want)
			}
			checkShapes(t, m)
			in := filepath.Join(dir, "test_data_set_0")
			data, err := os.ReadFile(filepath.Join(in, "input_0.pb"))
			if err != nil {
				t.Fatal(err)
			}
			x, err := onnx.DecodeTensor(data)
			if err != nil {
				t.Fatal(err)
			}
			xt, err := interp.FromONNX(x)
			if err != nil {
				t.Fatal(err)
			}
			s, err := interp.NewSession(m, interp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			outs, err := s.Run(map[string]*interp.Tensor{m.Graph.Inputs[0].Name: xt})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "pruned.onnx")
			if err := onnx.Save(m, path, onnx.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			got := ort.Run(t, path, in, "--optimize", "disabled")
			g, err := got[0].AsFloat32()
			if err != nil {
				t.Fatal(err)
			}
			if msg := testutil.Mismatch(g, outs[0].Floats(), 1e-4, 1e-3, 1e-5); msg != "" {
				t.Fatalf("ONNX Runtime vs interpreter on the pruned %s: %s", name, msg)
			}
		})
	}
}
