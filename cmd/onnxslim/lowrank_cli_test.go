package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestLowrankCLI: the lowrank pass through the command line. Bad options
// (energy outside (0,1], a ratio that no split can reach, a malformed
// ranks entry) exit 1 with one line naming the option, and write no file;
// a weight that is not a constant is a logged skip; a good run writes a
// model whose --json details and --report markdown hold a row per layer.
func TestLowrankCLI(t *testing.T) {
	in := filepath.Join(testdata.Models(t), "mnist_mlp_op13", "model.onnx")
	for _, c := range []struct{ spec, want string }{
		{"lowrank(energy=0)", "energy=0: must be in (0, 1]"},
		{"lowrank(energy=1.5)", "energy=1.5: must be in (0, 1]"},
		{"lowrank(ratio=1.2)", "ratio=1.2: must be in (0, 1)"},
		{"lowrank(ratio=0.001)", "ratio=0.001 is out of reach"},
		{"lowrank(ranks=[x])", `ranks: "x" is not NAME:RANK`},
		{"lowrank(ranks=[a:1],ratio=0.5)", "give one of them"},
	} {
		t.Run(c.spec, func(t *testing.T) {
			dir := t.TempDir()
			code, _, stderr := runCLI(t, in, "-o", filepath.Join(dir, "out.onnx"), "--passes", c.spec)
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s", code, stderr)
			}
			checkOneLineError(t, stderr, c.want, "lowrank")
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("files written on a failed run: %v", names)
			}
		})
	}

	t.Run("weight not constant", func(t *testing.T) {
		dir := t.TempDir()
		g := &onnx.Graph{Name: "main"}
		x := &onnx.Value{Name: "x", Type: onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 64))}
		w := &onnx.Value{Name: "w", Type: onnx.TensorType(onnx.Float, onnx.ShapeOf(64, 64))}
		g.Inputs = []*onnx.Value{x, w}
		n := g.NewNode("MatMul", "", "mm", []*onnx.Value{x, w}, "y")
		g.Append(n)
		n.Output(0).Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(2, 64))
		g.Outputs = []*onnx.Value{n.Output(0)}
		m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, ProducerName: "test", Graph: g}
		path := filepath.Join(dir, "in.onnx")
		if err := onnx.Save(m, path, onnx.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, path, "-o", filepath.Join(dir, "out.onnx"), "--passes", "lowrank(energy=0.5)")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout+stderr, "mm: skipped: the weight (input 1) is not a constant") {
			t.Errorf("no logged skip naming the node:\nstdout %s\nstderr %s", stdout, stderr)
		}
	})

	t.Run("report rows", func(t *testing.T) {
		dir := t.TempDir()
		js := filepath.Join(dir, "r.json")
		md := filepath.Join(dir, "r.md")
		code, _, stderr := runCLI(t, in, "-o", filepath.Join(dir, "out.onnx"), "--passes", "lowrank(ratio=0.5,method=data,compare=true)", "--json", js, "--report", md)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		mdText, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"## lowrank", "| layer | op | weight | rank |", "| `/fc1/Gemm` | Gemm | [256 784] |"} {
			if !strings.Contains(string(mdText), want) {
				t.Errorf("--report lacks %q:\n%s", want, mdText)
			}
		}
		b, err := os.ReadFile(js)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Details []struct {
				Pass   string
				Detail struct {
					Layers []struct {
						Node       string
						Weight     []int64
						Rank       int
						Split      bool
						EnergyKept float64  `json:"energy_kept"`
						PB         int64    `json:"params_before"`
						PA         int64    `json:"params_after"`
						FB         int64    `json:"flops_before"`
						FA         int64    `json:"flops_after"`
						ErrSVD     *float64 `json:"err_svd"`
						ErrData    *float64 `json:"err_data"`
					}
				}
			}
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		rows := 0
		for _, d := range r.Details {
			if d.Pass != "lowrank" {
				continue
			}
			for _, l := range d.Detail.Layers {
				if !l.Split {
					continue
				}
				rows++
				if len(l.Weight) != 2 || l.Rank < 1 || !(l.EnergyKept > 0 && l.EnergyKept <= 1) || l.PA >= l.PB || l.FA >= l.FB ||
					l.ErrSVD == nil || l.ErrData == nil || *l.ErrData > *l.ErrSVD {
					t.Errorf("row %+v: missing or inconsistent figures", l)
				}
			}
		}
		if rows == 0 {
			t.Fatalf("no split layer in the --json details: %s", b)
		}
	})
}
