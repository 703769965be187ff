package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestMaxRewrites: --max-rewrites N stops the pipeline after N rewrites, so
// the node count falls step by step from the input's (16) towards the full
// pipeline's (0, the default, is no limit).
func TestMaxRewrites(t *testing.T) {
	in := mnistCNN(t)
	dir := t.TempDir()
	nodes := func(extra ...string) int {
		t.Helper()
		js := filepath.Join(dir, "r.json")
		args := append([]string{in, "-o", filepath.Join(dir, "o.onnx"), "--json", js, "-q"}, extra...)
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, stderr)
		}
		b, err := os.ReadFile(js)
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			NodesBefore int `json:"nodes_before"`
			NodesAfter  int `json:"nodes_after"`
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.NodesBefore != 16 {
			t.Fatalf("nodes before %d, want 16", rep.NodesBefore)
		}
		return rep.NodesAfter
	}
	full := nodes()
	one, two := nodes("--max-rewrites", "1"), nodes("--max-rewrites", "2")
	if !(one < 16 && one > full) {
		t.Errorf("--max-rewrites 1: %d nodes, want between the full pipeline's %d and 16", one, full)
	}
	if !(two < one && two >= full) {
		t.Errorf("--max-rewrites 2: %d nodes, want fewer than one rewrite's %d and no fewer than %d", two, one, full)
	}
}
