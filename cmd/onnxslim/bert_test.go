package main

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/internal/testmodels"
	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestBertExport runs a BERT encoder laid out as torch.onnx.export writes
// Hugging Face's (testmodels.Bert: dynamic batch and sequence, the additive
// mask (1 − mask)·(−FLT_MAX), shapes built from Shape → Gather → Concat)
// through the passes, at opsets 11, 14 and 17:
//   - the default pipeline verifies against a noise floor of float32
//     rounding (it was +Inf: the floor moved −FLT_MAX to −Inf), and a 0.1 %
//     change of one weight fails verification (it passed);
//   - quantize(mode=fp16) gives no NaN (its Cast of −FLT_MAX gave −Inf,
//     then 0·Inf);
//   - prune(structure=channel) counts FLOPs at the generated inputs' sizes
//     (they were unknown);
//   - every output runs in ONNX Runtime at sizes other than verification's
//     (batch 2, sequence 16: the dims stay symbolic) and agrees with the
//     interpreter.
func TestBertExport(t *testing.T) {
	for _, opset := range []int64{11, 14, 17} {
		t.Run(fmt.Sprintf("opset%d", opset), func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "bert.onnx")
			if err := onnx.Save(testmodels.Bert(testmodels.BertOptions{Opset: opset}), in, onnx.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			testutil.CheckONNX(t, in)

			out := filepath.Join(dir, "slim.onnx")
			code, _, stderr := runCLI(t, in, "-o", out, "-q", "--json", filepath.Join(dir, "slim.json"))
			if code != 0 {
				t.Fatalf("default pipeline: exit %d: %s", code, stderr)
			}
			// The heads' Reshapes get constant targets ([0, 0, heads, size]
			// and [0, 0, hidden]: batch and sequence copied), and the
			// Shape → Gather → Unsqueeze → Concat arithmetic dies; the
			// position ids' Slice keeps one Shape.
			slimmed, err := onnx.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			ops := map[string]int{}
			for _, n := range slimmed.Graph.Nodes {
				ops[n.OpType]++
			}
			orig, err := onnx.Load(in)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("default pipeline: %d → %d nodes", len(orig.Graph.Nodes), len(slimmed.Graph.Nodes))
			if ops["Concat"] != 0 || ops["Shape"] > 1 || ops["Reshape"] != 8 {
				t.Errorf("default pipeline left %d Concat, %d Shape, %d Reshape: want 0, at most 1, 8", ops["Concat"], ops["Shape"], ops["Reshape"])
			}
			code, stdout, stderr := runCLI(t, "verify", in, out, "--json")
			if code != 0 {
				t.Fatalf("verify: exit %d: %s", code, stderr)
			}
			var rep struct {
				Outputs []struct {
					Name  string `json:"name"`
					Noise *struct {
						RelL2 float64 `json:"rel_l2"`
					} `json:"noise_floor"`
				} `json:"outputs"`
			}
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatal(err)
			}
			for _, o := range rep.Outputs {
				if o.Noise == nil || !(o.Noise.RelL2 > 0 && o.Noise.RelL2 < 1e-5) {
					t.Errorf("%s: noise floor %+v, want float32 rounding (0 < rel L2 < 1e-5)", o.Name, o.Noise)
				}
			}

			planted := filepath.Join(dir, "planted.onnx")
			m, err := onnx.Load(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range m.Graph.Initializers {
				if v.Name == "encoder.layer.1.intermediate.dense.weight_T" {
					w, _ := v.Const.AsFloat32()
					for i := range w {
						w[i] *= 1.001
					}
					v.Const = onnx.NewFloatTensor(v.Name, v.Const.Dims, w)
				}
			}
			if err := onnx.Save(m, planted, onnx.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			if code, _, _ := runCLI(t, "verify", in, planted, "-q"); code != 1 {
				t.Errorf("verify of a 0.1%% weight change: exit %d, want 1", code)
			}

			if opset == 14 {
				// Half the FLOPs is more than channels can remove here: the
				// error says how much they can, and what to ask for.
				code, _, stderr := runCLI(t, in, "-o", filepath.Join(dir, "half.onnx"), "--passes", "prune(structure=channel)", "-q")
				if code != 1 || !strings.Contains(stderr, "could remove only") || !strings.Contains(stderr, "ask for amount=0.4") {
					t.Errorf("prune(structure=channel) at amount=0.5: exit %d: %s", code, stderr)
				}
			}
			outs := map[string]string{"default": out}
			for name, spec := range map[string]string{
				"fp16":  "quantize(mode=fp16,report=0)",
				"int8":  "quantize(mode=int8,report=0)",
				"prune": "prune(structure=channel,amount=0.3)",
			} {
				p := filepath.Join(dir, name+".onnx")
				if code, _, stderr := runCLI(t, in, "-o", p, "--passes", spec, "-q"); code != 0 {
					t.Errorf("%s: exit %d: %s", spec, code, stderr)
					continue
				}
				outs[name] = p
			}

			// Batch 2, sequence 16, the second sequence padded after 10
			// tokens: ONNX Runtime against the interpreter on each output.
			ids, mask, types := interp.Make(onnx.Int64, 2, 16), interp.Make(onnx.Int64, 2, 16), interp.Make(onnx.Int64, 2, 16)
			for i := range ids.Data.([]int64) {
				ids.Data.([]int64)[i] = int64(i*37+11) % testmodels.BertVocab
				if i < 16+10 {
					mask.Data.([]int64)[i] = 1
				}
			}
			inputs := ort.WriteInputs(t, []string{"input_ids", "attention_mask", "token_type_ids"}, []*interp.Tensor{ids, mask, types})
			for name, p := range outs {
				ref := filepath.Join(dir, name+"-run")
				if code, _, stderr := runCLI(t, "run", p, "--inputs", inputs, "--out", ref, "-q"); code != 0 {
					t.Errorf("%s: run: exit %d: %s", name, code, stderr)
					continue
				}
				got, err := ort.RunErr(p, inputs, filepath.Join(dir, name+"-ort"), "--optimize", "disabled")
				if err != nil {
					t.Errorf("%s: ONNX Runtime: %v", name, err)
					continue
				}
				tol := 1e-4
				if name == "fp16" {
					tol = 2e-2
				}
				t.Run(name, func(t *testing.T) { compareORTTol(t, p, got, ref, tol) })
				for i, o := range got {
					v, err := interp.FromONNX(o)
					if err != nil {
						t.Fatal(err)
					}
					for _, x := range v.Floats() {
						if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
							t.Errorf("%s: ONNX Runtime's output %d has %v", name, i, x)
							break
						}
					}
				}
			}
		})
	}
}
