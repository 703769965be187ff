package main

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/onnx"
)

// scaledCopy writes a copy of model whose largest float initializer is
// multiplied by f, and returns its path.
func scaledCopy(t *testing.T, model string, f float32) string {
	t.Helper()
	m, err := onnx.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	var big *onnx.Value
	for _, v := range m.Graph.Initializers {
		if v.Const.DataType == onnx.Float && (big == nil || v.Const.NumElements() > big.Const.NumElements()) {
			big = v
		}
	}
	data, err := big.Const.AsFloat32()
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] *= f
	}
	big.Const = onnx.NewFloatTensor(big.Name, big.Const.Dims, data)
	out := filepath.Join(t.TempDir(), "scaled.onnx")
	if err := onnx.Save(m, out, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyCommand(t *testing.T) {
	in := mnistCNN(t)
	scaled := scaledCopy(t, in, 1.01)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring; "" means empty
	}{
		{"self", []string{"verify", in, in}, 0, "OK on 4 samples", ""},
		{"self random", []string{"verify", in, in, "--random-inputs", "2"}, 0, "OK on 2 samples", ""},
		{"scaled", []string{"verify", in, scaled}, 1, "FAIL", "output:"},
		{"scaled loose", []string{"verify", in, scaled, "--rtol", "0.1", "--atol", "0.1"}, 0, "OK", ""},
		{"scaled localize", []string{"verify", in, scaled, "--localize"}, 1, "first divergence at node", "output:"},
		{"quiet", []string{"verify", in, scaled, "-q"}, 1, "", "beyond tolerance"},
		{"one arg", []string{"verify", in}, 2, "", "expected two model files"},
		{"inputs and data", []string{"verify", in, in, "--inputs", ".", "--data", "."}, 2, "", "give one"},
		{"bad rtol", []string{"verify", in, in, "--rtol", "-1"}, 2, "", "--rtol"},
		{"missing file", []string{"verify", in, "nope.onnx"}, 1, "", "nope.onnx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stdout, tc.stdout) || (tc.stderr == "" && stderr != "") || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("stderr is not one line: %q", stderr)
			}
		})
	}
}

func TestVerifyJSON(t *testing.T) {
	in := mnistCNN(t)
	for _, tc := range []struct {
		other string
		ok    bool
		code  int
	}{{in, true, 0}, {scaledCopy(t, in, 1.01), false, 1}} {
		code, stdout, _ := runCLI(t, "verify", in, tc.other, "--json")
		if code != tc.code {
			t.Fatalf("exit %d, want %d", code, tc.code)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		if doc["ok"] != tc.ok || doc["samples"] != float64(4) {
			t.Errorf("ok %v samples %v", doc["ok"], doc["samples"])
		}
		outs := doc["outputs"].([]any)
		if len(outs) != 1 {
			t.Fatalf("outputs: %v", outs)
		}
		o := outs[0].(map[string]any)
		for _, k := range []string{"name", "max_abs_err", "max_rel_err", "rel_l2", "cosine", "top1_agreement"} {
			if _, ok := o[k]; !ok {
				t.Errorf("output lacks key %q", k)
			}
		}
		if tc.ok {
			for _, k := range []string{"max_abs_err", "max_rel_err", "rel_l2"} {
				if o[k] != float64(0) {
					t.Errorf("%s = %v, want exactly 0", k, o[k])
				}
			}
			if o["cosine"] != float64(1) || o["top1_agreement"] != float64(1) {
				t.Errorf("cosine %v top1 %v", o["cosine"], o["top1_agreement"])
			}
		} else if o["name"] != "output" || o["rel_l2"].(float64) <= 1e-5 {
			t.Errorf("scaled: %v", o)
		}
	}
}

func TestEvalCommand(t *testing.T) {
	models := testdata.Models(t)
	for _, tc := range []struct{ model, data, want string }{
		{"mnist_cnn_op13", "cnn-eval", "top-1 0.9700"},
		{"mnist_mlp_op13", "mlp-eval", "top-1 0.9480"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "eval", filepath.Join(models, tc.model, "model.onnx"), "--data", filepath.Join(models, "mnist-data", tc.data))
			if code != 0 || !strings.Contains(stdout, tc.want) {
				t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
		})
	}
	code, _, stderr := runCLI(t, "eval", filepath.Join(models, "mnist_cnn_op13", "model.onnx"))
	if code != 2 || !strings.Contains(stderr, "--data") {
		t.Errorf("eval without --data: exit %d, %s", code, stderr)
	}
}

func TestDiffCommand(t *testing.T) {
	in := mnistCNN(t)
	scaled := scaledCopy(t, in, 1.01)
	for _, format := range []string{"text", "markdown", "json"} {
		t.Run(format, func(t *testing.T) {
			code, same, stderr := runCLI(t, "diff", in, in, "--format", format)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if format == "json" {
				var doc map[string]any
				if err := json.Unmarshal([]byte(same), &doc); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"removed", "added", "changed", "initializers", "io"} {
					if l, ok := doc[k].([]any); !ok || len(l) != 0 {
						t.Errorf("diff A A: %s = %v, want []", k, doc[k])
					}
				}
			} else if !strings.Contains(strings.ToLower(same), "no changes") {
				t.Errorf("diff A A does not say no changes:\n%s", same)
			}
			_, out1, _ := runCLI(t, "diff", in, scaled, "--format", format)
			_, out2, _ := runCLI(t, "diff", in, scaled, "--format", format)
			if out1 != out2 {
				t.Error("output differs between two runs")
			}
			if strings.Contains(strings.ToLower(out1), "no changes") {
				t.Errorf("changed weights not reported:\n%s", out1)
			}
		})
	}
	code, _, stderr := runCLI(t, "diff", in, in, "--format", "yaml")
	if code != 2 || !strings.Contains(stderr, "yaml") {
		t.Errorf("bad format: exit %d %s", code, stderr)
	}
}

// TestVerifyCommandRegistered guards the command names the contract promises.
func TestVerifyCommandRegistered(t *testing.T) {
	var names []string
	for _, c := range newApp(nil, nil).Commands {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	for _, want := range []string{"diff", "eval", "verify"} {
		if i := sort.SearchStrings(names, want); i >= len(names) || names[i] != want {
			t.Errorf("command %q not registered: %v", want, names)
		}
	}
}
