package all_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testmodels"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// TestPassesKeepDeclaredIO runs every registered pass (with its defaults, and
// once per value of each enum option) over models with an opaque op in the
// middle, and checks that the graph inputs' and outputs' names and declared
// types, the declared value_info of values still present, and the names of
// the opaque node's inputs and outputs survive. Passes registered later are picked up from
// the registry.
func TestPassesKeepDeclaredIO(t *testing.T) {
	models := map[string]func() *onnx.Model{
		"plugin":          func() *onnx.Model { return testmodels.Plugin(testmodels.PluginOptions{}) },
		"plugin-no-shape": func() *onnx.Model { return testmodels.Plugin(testmodels.PluginOptions{NoPluginShape: true}) },
		"plugin-stride-2": func() *onnx.Model {
			return testmodels.Plugin(testmodels.PluginOptions{NoPluginShape: true, Stride2: true})
		},
		"plugin-2-outputs": func() *onnx.Model {
			return testmodels.Plugin(testmodels.PluginOptions{NoPluginShape: true, Outputs: 2})
		},
		"plugin-symbolic-batch": func() *onnx.Model {
			m := testmodels.Plugin(testmodels.PluginOptions{NoPluginShape: true})
			m.Graph.Inputs[0].Type.Shape[0] = onnx.Sym("N")
			m.Graph.Outputs[0].Type.Shape[0] = onnx.Sym("N")
			return m
		},
	}
	ran := 0
	for _, spec := range passSpecs() {
		for name, build := range models {
			t.Run(spec+"/"+name, func(t *testing.T) {
				orig, m := build(), build()
				p, err := passes.Parse(spec)
				if err != nil {
					t.Fatal(err)
				}
				before, err := onnx.Encode(m)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := p.Run(context.Background(), m, passes.Config{}); err != nil {
					if !p.Lossy() {
						t.Fatal(err)
					}
					// A lossy pass may refuse a model it cannot handle
					// (quantize must run the model to calibrate); the CLI
					// then writes nothing. The pass must not have half
					// rewritten the model it refused.
					after, err2 := onnx.Encode(m)
					if err2 != nil {
						t.Fatal(err2)
					}
					if !bytes.Equal(before, after) {
						t.Errorf("%s refused the model (%v) but changed it", spec, err)
					}
					t.Logf("%s refused the model: %v", spec, err)
					return
				}
				ran++
				// Through the codec, as the CLI writes it.
				b, err := onnx.Encode(m)
				if err != nil {
					t.Fatal(err)
				}
				if m, err = onnx.Decode(b); err != nil {
					t.Fatal(err)
				}
				compareDeclared(t, orig, m, p.Lossy())
			})
		}
	}
	if ran == 0 {
		t.Fatal("no pass ran")
	}
}

// passSpecs is every registered pass with its defaults, and with each value
// of each enum option.
func passSpecs() []string {
	var specs []string
	for _, p := range passes.All() {
		specs = append(specs, p.Name)
		for _, o := range p.Options {
			if o.Kind != passes.OptEnum {
				continue
			}
			for _, v := range o.Enum {
				if v != o.Default {
					specs = append(specs, fmt.Sprintf("%s(%s=%s)", p.Name, o.Name, v))
				}
			}
		}
	}
	return append(specs, "default")
}

func compareDeclared(t *testing.T, orig, m *onnx.Model, lossy bool) {
	t.Helper()
	sides := []struct {
		what      string
		want, got []*onnx.Value
	}{{"input", orig.Graph.Inputs, m.Graph.Inputs}, {"output", orig.Graph.Outputs, m.Graph.Outputs}}
	for _, s := range sides {
		if len(s.got) != len(s.want) {
			t.Errorf("%d graph %ss, want %d", len(s.got), s.what, len(s.want))
			continue
		}
		for i, w := range s.want {
			g := s.got[i]
			if g.Name != w.Name || !g.Type.Equal(w.Type) {
				t.Errorf("graph %s %d: %s %v, declared %s %v", s.what, i, g.Name, g.Type, w.Name, w.Type)
			}
		}
	}
	for _, w := range orig.Graph.ValueInfo {
		if g := m.Graph.ValueByName(w.Name); g != nil && !onnx.MergeTypes(w.Type, g.Type).Equal(g.Type) {
			t.Errorf("value_info %s: %v, declared %v", w.Name, g.Type, w.Type)
		}
	}
	// Lossy passes may feed the opaque node through a new value (fp16
	// casts back to float32 before it); its outputs keep their names.
	if got, want := opaqueNames(m, lossy), opaqueNames(orig, lossy); got != want {
		t.Errorf("opaque node's inputs and outputs %s, want %s", got, want)
	}
}

// opaqueNames lists the plugin nodes' input (unless outputsOnly) and output names.
func opaqueNames(m *onnx.Model, outputsOnly bool) string {
	var s string
	for _, n := range m.Graph.Nodes {
		if n.Domain == testmodels.PluginDomain {
			if outputsOnly {
				s += fmt.Sprintf("%s→%v ", n.Name, n.Outputs())
			} else {
				s += fmt.Sprintf("%s%v→%v ", n.Name, n.Inputs(), n.Outputs())
			}
		}
	}
	return s
}
