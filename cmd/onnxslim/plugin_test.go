package main

import (
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testmodels"
	"github.com/onnxslim/onnxslim/onnx"
)

func savePlugin(t *testing.T, o testmodels.PluginOptions) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.onnx")
	if err := onnx.Save(testmodels.Plugin(o), in, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestPluginRepro(t *testing.T) {
	in := savePlugin(t, testmodels.PluginOptions{NoPluginShape: true})
	out := filepath.Join(t.TempDir(), "out.onnx")
	code, stdout, stderr := runCLI(t, in, "-o", out)
	t.Logf("default: exit %d\n%s\n%s", code, stdout, stderr)
	code, stdout, stderr = runCLI(t, in, "-o", out, "--no-verify")
	t.Logf("no-verify: exit %d\n%s\n%s", code, stdout, stderr)
	m, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("out y: %v nodes %d", m.Graph.Outputs[0].Type, len(m.Graph.Nodes))
}
