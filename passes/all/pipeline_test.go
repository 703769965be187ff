package all_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	_ "github.com/onnxslim/onnxslim/passes/all"
	"github.com/onnxslim/onnxslim/passes/internal/passtest"
)

// TestDefaultPipeline runs the lossless pipeline on every real model and
// checks that the result is no larger and computes the same outputs on the
// reference inputs.
func TestDefaultPipeline(t *testing.T) {
	root := testdata.Models(t)
	paths, _ := filepath.Glob(filepath.Join(root, "*", "model.onnx"))
	if len(paths) == 0 {
		t.Fatalf("no */model.onnx in %s", root)
	}
	for _, path := range paths {
		name := filepath.Base(filepath.Dir(path))
		t.Run(name, func(t *testing.T) {
			orig, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			p, err := passes.Parse("default")
			if err != nil {
				t.Fatal(err)
			}
			reports, err := p.Run(context.Background(), m, passes.Config{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reports {
				t.Logf("%-8s nodes %4d → %4d  rewrites %4d  %v", r.Name, r.Before.Nodes, r.After.Nodes, r.Rewrites, r.Duration)
			}
			if len(m.Graph.Nodes) > len(orig.Graph.Nodes) {
				t.Errorf("nodes grew: %d → %d", len(orig.Graph.Nodes), len(m.Graph.Nodes))
			}
			t.Logf("nodes %d → %d", len(orig.Graph.Nodes), len(m.Graph.Nodes))
			// Round trip through the codec as the CLI would.
			b, err := onnx.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			if m, err = onnx.Decode(b); err != nil {
				t.Fatal(err)
			}
			compareOnReference(t, orig, m, filepath.Dir(path))
		})
	}
}

func compareOnReference(t *testing.T, a, b *onnx.Model, dir string) {
	t.Helper()
	sa, err := interp.NewSession(a, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := interp.NewSession(b, interp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		t.Fatalf("no test_data_set_* in %s: nothing to compare on", dir)
	}
	for _, set := range sets {
		feeds := map[string]*interp.Tensor{}
		for i, v := range sa.Inputs() {
			raw, err := os.ReadFile(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
			if err != nil {
				t.Fatal(err)
			}
			d, err := onnx.DecodeDatum(raw, v.Type)
			if err != nil {
				t.Fatal(err)
			}
			x, err := interp.FromDatum(d)
			if err != nil {
				t.Fatal(err)
			}
			feeds[v.Name] = x
		}
		ra, err := sa.Run(feeds)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := sb.Run(feeds)
		if err != nil {
			t.Fatal(err)
		}
		passtest.Same(t, filepath.Base(set), rb, ra, 1e-4, 1e-4, 1e-5)
	}
}
