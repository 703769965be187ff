package graphdiff_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/verify/graphdiff"
)

func load(t testing.TB, name string) *onnx.Model {
	t.Helper()
	m, err := onnx.Load(filepath.Join(testdata.Models(t), name, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func clone(t testing.TB, m *onnx.Model) *onnx.Model {
	t.Helper()
	data, err := onnx.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	c, err := onnx.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// modelNames lists every model folder in the shared models.
func modelNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(testdata.Models(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(testdata.Models(t), e.Name(), "model.onnx")); err == nil {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		t.Fatal("no models")
	}
	return out
}

// heavilyChanged renames every other node, changes every float weight and
// drops the last third of the nodes' attributes: most lines of the diff change.
func heavilyChanged(t *testing.T, m *onnx.Model) *onnx.Model {
	c := clone(t, m)
	for i, n := range c.Graph.Nodes {
		if i%2 == 0 {
			n.Name += "_renamed"
		}
		if i%3 == 0 && len(n.Attrs) > 0 {
			n.RemoveAttr(n.Attrs[0].Name)
		}
	}
	for _, v := range c.Graph.Initializers {
		if v.Const.DataType != onnx.Float {
			continue
		}
		f, err := v.Const.AsFloat32()
		if err != nil {
			t.Fatal(err)
		}
		for i := range f {
			f[i] = f[i]*1.5 + 0.1
		}
		v.Const = onnx.NewFloatTensor(v.Name, v.Const.Dims, f)
	}
	return c
}

func render(t *testing.T, d *graphdiff.Diff) (text, md, js string) {
	t.Helper()
	var tb, jb bytes.Buffer
	if err := d.WriteText(&tb); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteJSON(&jb); err != nil {
		t.Fatal(err)
	}
	return tb.String(), d.Markdown(0), jb.String()
}

func TestSelfDiffIsEmpty(t *testing.T) {
	for _, name := range modelNames(t) {
		t.Run(name, func(t *testing.T) {
			m := load(t, name)
			d := graphdiff.Compare(m, clone(t, m), graphdiff.Options{})
			if !d.Empty() {
				text, _, _ := render(t, d)
				t.Fatalf("diff of a model with itself is not empty:\n%s", text)
			}
			text, md, _ := render(t, d)
			if !strings.Contains(text, "no changes") || !strings.Contains(md, "No changes") {
				t.Errorf("no 'no changes' in output:\n%s", text)
			}
		})
	}
}

// TestDeterministicAndFits checks that output is byte-identical across runs
// and that markdown fits a GitHub comment for every model, against a heavily
// changed copy and against an empty model.
func TestDeterministicAndFits(t *testing.T) {
	empty := &onnx.Model{Graph: &onnx.Graph{Name: "empty"}}
	for _, name := range modelNames(t) {
		t.Run(name, func(t *testing.T) {
			m := load(t, name)
			changed := heavilyChanged(t, m)
			for _, pair := range []struct {
				what string
				a, b *onnx.Model
			}{{"changed", m, changed}, {"to empty", m, empty}, {"from empty", empty, m}} {
				d1 := graphdiff.Compare(pair.a, pair.b, graphdiff.Options{NameA: "a.onnx", NameB: "b.onnx"})
				d2 := graphdiff.Compare(pair.a, pair.b, graphdiff.Options{NameA: "a.onnx", NameB: "b.onnx"})
				t1, m1, j1 := render(t, d1)
				t2, m2, j2 := render(t, d2)
				if t1 != t2 || m1 != m2 || j1 != j2 {
					t.Errorf("%s: output differs between two runs", pair.what)
				}
				if len(m1) >= graphdiff.GitHubCommentLimit {
					t.Errorf("%s: markdown is %d characters, over GitHub's limit", pair.what, len(m1))
				}
				if d1.Empty() {
					t.Errorf("%s: no changes found", pair.what)
				}
				if strings.Count(m1, "<details>") != strings.Count(m1, "</details>") || strings.Count(m1, "```")%2 != 0 {
					t.Errorf("%s: unbalanced markdown folds or fences", pair.what)
				}
			}
		})
	}
}

// foldBN folds every BatchNormalization that follows a Conv into the Conv's
// weights and rewires its readers: a hand-made version of the fusion pass.
func foldBN(t *testing.T, m *onnx.Model) int {
	g := m.Graph
	folded := 0
	for _, bn := range append([]*onnx.Node{}, g.Nodes...) {
		if bn.OpType != "BatchNormalization" {
			continue
		}
		conv := bn.Input(0).Producer()
		if conv == nil || conv.OpType != "Conv" || bn.Input(0).NumUses() != 1 {
			continue
		}
		get := func(v *onnx.Value) []float32 {
			f, err := v.Const.AsFloat32()
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		scale, shift, mean, vr := get(bn.Input(1)), get(bn.Input(2)), get(bn.Input(3)), get(bn.Input(4))
		eps := float64(bn.AttrFloat("epsilon", 1e-5))
		wv := conv.Input(1)
		w := get(wv)
		cout := len(scale)
		bias := make([]float32, cout)
		if b := conv.Input(2); b != nil {
			bias = get(b)
		}
		per := len(w) / cout
		for o := range cout {
			k := scale[o] / float32(math.Sqrt(float64(vr[o])+eps))
			for i := range per {
				w[o*per+i] *= k
			}
			bias[o] = (bias[o]-mean[o])*k + shift[o]
		}
		wv.Const = onnx.NewFloatTensor(wv.Name, wv.Const.Dims, w)
		bt := onnx.NewFloatTensor("", []int64{int64(cout)}, bias)
		if b := conv.Input(2); b != nil {
			b.Const = onnx.NewFloatTensor(b.Name, b.Const.Dims, bias)
		} else {
			conv.SetInputs(conv.Input(0), wv, g.AddInitializer(conv.Name+"_bias", bt))
		}
		ins := bn.Inputs()
		onnx.ReplaceAllUsesWith(bn.Output(0), conv.Output(0))
		g.RemoveNodes(bn)
		for _, v := range ins[1:] {
			if v.NumUses() == 0 {
				g.RemoveInitializer(v)
			}
		}
		folded++
	}
	return folded
}

func TestBatchNormFoldDiff(t *testing.T) {
	for _, name := range []string{"resnet18_op13", "mnist_cnn_op13"} {
		t.Run(name, func(t *testing.T) {
			m := load(t, name)
			b := clone(t, m)
			n := foldBN(t, b)
			if n == 0 {
				t.Fatal("no BatchNormalization folded")
			}
			if err := b.Check(); err != nil {
				t.Fatal(err)
			}
			d := graphdiff.Compare(m, b, graphdiff.Options{})
			if d.Summary.Removed != n || d.Summary.Added != 0 || d.Summary.Nodes.Delta != int64(-n) {
				t.Errorf("removed %d added %d delta %d, want %d BN nodes removed", d.Summary.Removed, d.Summary.Added, d.Summary.Nodes.Delta, n)
			}
			for _, r := range d.Removed {
				if r.Op != "BatchNormalization" {
					t.Errorf("removed a %s node %s", r.Op, r.Name)
				}
			}
			var bnRow *graphdiff.OpCount
			for i, o := range d.Ops {
				if o.Op == "BatchNormalization" {
					bnRow = &d.Ops[i]
				}
			}
			if bnRow == nil || bnRow.Before != n || bnRow.After != 0 {
				t.Errorf("op histogram BatchNormalization row %+v", bnRow)
			}
			convWeights := 0
			for _, c := range d.Changed {
				if c.Op == "Conv" && len(c.Weights) > 0 {
					convWeights++
				}
			}
			if convWeights != n {
				t.Errorf("%d Conv nodes with changed weights, want %d", convWeights, n)
			}
			changedInit := 0
			for _, c := range d.Initializers {
				if c.Change == "changed" && c.MaxAbsDiff != nil && *c.MaxAbsDiff > 0 {
					changedInit++
				}
			}
			if changedInit < n {
				t.Errorf("%d initializers changed with a numeric delta, want ≥ %d", changedInit, n)
			}
			if d.Summary.InitializerBytes.Delta >= 0 {
				t.Errorf("initializer bytes delta %d, want negative", d.Summary.InitializerBytes.Delta)
			}
			md := d.Markdown(0)
			for _, want := range []string{"BatchNormalization", "Removed nodes", "weights changed"} {
				if !strings.Contains(md, want) {
					t.Errorf("markdown lacks %q", want)
				}
			}
		})
	}
}

// TestRenamedNodesMatch checks that nodes whose names changed but which
// compute the same from the same inputs match structurally.
func TestRenamedNodesMatch(t *testing.T) {
	m := load(t, "mnist_cnn_op13")
	b := clone(t, m)
	for _, n := range b.Graph.Nodes {
		n.Name = ""
	}
	d := graphdiff.Compare(m, b, graphdiff.Options{})
	if len(d.Added)+len(d.Removed)+len(d.Changed) != 0 || d.Summary.Renamed != len(m.Graph.Nodes) {
		t.Errorf("renamed nodes did not match: %s", d.Summary)
	}
}
