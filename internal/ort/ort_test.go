package ort

import (
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
)

// TestRequireFailsUnderCI: with node gone from PATH, Require skips with a
// message outside CI and fails with the same message under CI=true.
func TestRequireFailsUnderCI(t *testing.T) {
	t.Setenv("PATH", "")
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := &testutil.Recorder{TB: t}
		r.Run(func(tb testing.TB) { Require(tb) })
		if ci == "true" && (!r.Fataled || r.SkipCalled) || ci == "" && (!r.SkipCalled || r.Fataled) {
			t.Fatalf("CI=%q: failed %v, skipped %v", ci, r.Fataled, r.SkipCalled)
		}
		if !strings.Contains(r.Msg, "node is not on PATH") {
			t.Errorf("CI=%q: message %q does not name what is missing", ci, r.Msg)
		}
	}
}
