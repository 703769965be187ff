package lowrank_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/lowrank"
)

// TestDynamicBatchFLOPs: on the MNIST CNN with a symbolic batch, the layers'
// FLOPs and a FLOPs budget are counted at the generated inputs' sizes
// (Config.GenerateDims), the same as on the static model; without sizes,
// budget=flops says the FLOPs are unknown.
func TestDynamicBatchFLOPs(t *testing.T) {
	models := testdata.Models(t)
	spec := "lowrank(ratio=0.6,budget=flops,allow_slower=true)"
	run := func(name string, cfg passes.Config) (*lowrank.Report, error) {
		m := loadModel(t, filepath.Join(models, name, "model.onnx"))
		runSpec(t, m, "default")
		rep, _, err := tryRunSpec(t, m, spec, cfg)
		return rep, err
	}
	static, err := run("mnist_cnn_op13", passes.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run("mnist_cnn_op13_dynbatch", passes.Config{}); err == nil || !strings.Contains(err.Error(), "FLOPs are unknown") {
		t.Fatalf("without sizes for its batch: err = %v, want the FLOPs unknown", err)
	}
	got, err := run("mnist_cnn_op13_dynbatch", passes.Config{GenerateDims: map[string]int64{"N": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if got.FLOPsBefore != static.FLOPsBefore || got.FLOPsBefore == 0 {
		t.Fatalf("candidates' FLOPs before %d, the static model's %d", got.FLOPsBefore, static.FLOPsBefore)
	}
	if got.FLOPsAfter != static.FLOPsAfter || splitCount(got) != splitCount(static) || splitCount(got) == 0 {
		t.Fatalf("FLOPs after %d with %d layers split, the static model's %d with %d", got.FLOPsAfter, splitCount(got), static.FLOPsAfter, splitCount(static))
	}
	for i, l := range got.Layers {
		if w := static.Layers[i]; !l.FLOPsKnown || l.FLOPsBefore != w.FLOPsBefore || l.Rank != w.Rank {
			t.Errorf("layer %s: FLOPs %d (known %v), rank %d; static: %d, rank %d", l.Node, l.FLOPsBefore, l.FLOPsKnown, l.Rank, w.FLOPsBefore, w.Rank)
		}
	}
}
