package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testmodels"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// A test-only pass that claims to be lossless but scales the weights of the
// Conv right before (where=before) or right after (where=after) the plugin by
// 1.01: the verification around the plugin must catch both.
func init() {
	passes.Register(&passes.Pass{
		Name:    "test-perturb-plugin",
		Doc:     "test only: scales the weights of the Conv before or after a com.example op by 1.01",
		Options: []passes.Option{{Name: "where", Kind: passes.OptEnum, Enum: []string{"before", "after"}, Default: "before"}},
		Run: func(c *passes.Context, m *onnx.Model) (int, error) {
			for _, n := range m.Graph.Nodes {
				if n.Domain != testmodels.PluginDomain {
					continue
				}
				var conv *onnx.Node
				if c.Options.String("where") == "before" {
					conv = n.Input(0).Producer()
				} else {
					conv = n.Output(0).Consumers()[0]
				}
				w := conv.Input(1)
				vals, err := w.Const.AsFloat32()
				if err != nil {
					return 0, err
				}
				for i := range vals {
					vals[i] *= 1.01
				}
				w.Const = onnx.NewFloatTensor(w.Name, w.Const.Dims, vals)
				return 1, nil
			}
			return 0, nil
		},
	})
}

func savePlugin(t *testing.T, o testmodels.PluginOptions) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.onnx")
	if err := onnx.Save(testmodels.Plugin(o), in, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return in
}

// TestPluginVerifiedAround is issue 19's example: Conv → BN → com.example
// plugin → Conv → BN with its output declared float32 [1,8,16,16]. The default run
// folds both BNs, verifies around the plugin, keeps y's declared type and
// writes a model ONNX's checker accepts (the checker skips ops of domains it has no schema for, and does not reject an erased output type: the type is checked here).
func TestPluginVerifiedAround(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  testmodels.PluginOptions
		shape string
	}{
		{"value_info", testmodels.PluginOptions{}, "plugin_out float32[1,4,16,16]"},
		// As in the issue: only y is declared; the plugin's output shape
		// follows back through BN and the stride-1 Conv.
		{"derived", testmodels.PluginOptions{NoPluginShape: true}, "plugin_out float32[1,4,16,16] (derived from the ops reading it)"},
	} {
		t.Run(tc.name, func(t *testing.T) { pluginVerifiedAround(t, tc.opts, tc.shape) })
	}
}

func pluginVerifiedAround(t *testing.T, opts testmodels.PluginOptions, shape string) {
	in := savePlugin(t, opts)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	code, stdout, stderr := runCLI(t, in, "-o", out, "--json", filepath.Join(dir, "r.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"nodes 5 → 3", `"plugin" (com.example::MyPlugin)`, "inputs compared [a_bn_out]", shape, "was not checked", "OK on"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	m, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Graph.Outputs[0].Type, onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8, 16, 16)); !got.Equal(want) {
		t.Errorf("output y: %v, declared %v", got, want)
	}
	var rep struct {
		Verify struct {
			OK  bool `json:"ok"`
			Cut []struct {
				Name    string   `json:"name"`
				Inputs  []string `json:"inputs"`
				Outputs []string `json:"outputs"`
			} `json:"cut"`
			Outputs []struct {
				Name string `json:"name"`
			} `json:"outputs"`
		} `json:"verify"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "r.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Verify.OK || len(rep.Verify.Cut) != 1 || rep.Verify.Cut[0].Name != "plugin" || len(rep.Verify.Outputs) != 2 {
		t.Errorf("json verify: %+v", rep.Verify)
	}
	testutil.CheckONNX(t, out)
}

// TestPluginWrongRewriteCaught: a wrong rewrite before the plugin shows in
// the plugin's input (an extra output of the cut), after it in the graph output.
func TestPluginWrongRewriteCaught(t *testing.T) {
	in := savePlugin(t, testmodels.PluginOptions{})
	for where, output := range map[string]string{"before": "a_bn_out", "after": "b_bn_out"} {
		t.Run(where, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.onnx")
			code, _, stderr := runCLI(t, in, "-o", out, "--passes", "default,test-perturb-plugin(where="+where+")")
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s", code, stderr)
			}
			checkOneLineError(t, stderr, "beyond tolerance: "+output+":")
			if where == "before" && strings.Contains(stderr, "b_bn_out:") {
				t.Errorf("the graph output failed although the plugin's outputs are fed the same values: %s", stderr)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("wrote %v after a failed verification", names)
			}
		})
	}
}

// TestPluginNoShape: nothing declares the plugin's output shape, and the
// stride-2 Conv after it leaves its size open (15 or 16). The default run
// names the tensor and --shape, exits 1 and writes nothing; --shape or
// --no-verify let it through, with y's declared type kept.
func TestPluginNoShape(t *testing.T) {
	in := savePlugin(t, testmodels.PluginOptions{NoPluginShape: true, Stride2: true})
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	code, _, stderr := runCLI(t, in, "-o", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	checkOneLineError(t, stderr, `"plugin_out"`, "--shape", "--no-verify")
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("wrote %v after refusing", names)
	}
	for _, args := range [][]string{{"--shape", "plugin_out=1x4x16x16"}, {"--no-verify"}} {
		code, stdout, stderr := runCLI(t, append([]string{in, "-o", out}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		if args[0] == "--shape" && !strings.Contains(stdout, "plugin_out float32[1,4,16,16]") {
			t.Errorf("%v: summary lacks the fed shape:\n%s", args, stdout)
		}
		m, err := onnx.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Graph.Outputs[0].Type.String(); got != "float32[1,8,8,8]" || len(m.Graph.Nodes) != 3 {
			t.Errorf("%v: output %s, %d nodes; want float32[1,8,8,8], 3", args, got, len(m.Graph.Nodes))
		}
		testutil.CheckONNX(t, out)
	}
	// A --shape for a tensor that is no opaque output is refused.
	code, _, stderr = runCLI(t, in, "-o", out+"2", "--shape", "x=1x3x16x16", "--shape", "plugin_out=1x4x16x16")
	if code == 0 || !strings.Contains(stderr, `--shape x`) {
		t.Errorf("exit %d, stderr %q: want a refusal naming --shape x", code, stderr)
	}
}

// TestVerifyCommandCutsAroundPlugin: onnxslim verify A B cuts both models
// around the plugin too, and needs --shape when nothing declares it.
func TestVerifyCommandCutsAroundPlugin(t *testing.T) {
	in := savePlugin(t, testmodels.PluginOptions{NoPluginShape: true, Stride2: true})
	out := filepath.Join(t.TempDir(), "out.onnx")
	if code, _, stderr := runCLI(t, in, "-o", out, "--no-verify"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, _, stderr := runCLI(t, "verify", in, out)
	if code != 1 {
		t.Fatalf("exit %d without --shape: %s", code, stderr)
	}
	checkOneLineError(t, stderr, `"plugin_out"`, "--shape")
	code, stdout, stderr := runCLI(t, "verify", in, out, "--shape", "plugin_out=1x4x16x16")
	if code != 0 || !strings.Contains(stdout, "inputs compared [a_bn_out]") {
		t.Errorf("exit %d: %s%s", code, stdout, stderr)
	}
}
