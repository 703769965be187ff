package testdata

import (
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
)

// TestMissingDataFailsUnderCI: with the data folders pointed at nothing,
// Models and RealModels skip with a message naming the folder outside CI
// and fail with it under CI=true.
func TestMissingDataFailsUnderCI(t *testing.T) {
	gone := t.TempDir() + "/gone"
	t.Setenv("ONNXSLIM_TESTDATA", gone)
	t.Setenv("ONNXSLIM_REAL_MODELS", gone)
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		for name, f := range map[string]func(testing.TB){
			"Models":     func(tb testing.TB) { Models(tb) },
			"RealModels": func(tb testing.TB) { RealModels(tb) },
		} {
			r := &testutil.Recorder{TB: t}
			r.Run(f)
			if ci == "true" && (!r.Fataled || r.SkipCalled) || ci == "" && (!r.SkipCalled || r.Fataled) {
				t.Fatalf("%s, CI=%q: failed %v, skipped %v", name, ci, r.Fataled, r.SkipCalled)
			}
			if !strings.Contains(r.Msg, gone) {
				t.Errorf("%s, CI=%q: message %q does not name the missing folder", name, ci, r.Msg)
			}
		}
	}
}
