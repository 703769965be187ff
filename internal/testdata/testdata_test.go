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

// TestMissingAndOptional: the one rule every absent-dependency skip goes
// through: Missing skips outside CI and fails under CI=true, Optional logs
// and goes on outside CI and fails under CI=true, both with the message
// that names what is missing.
func TestMissingAndOptional(t *testing.T) {
	const msg = "frobnicator not on PATH (apt-get install frobnicator)"
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := &testutil.Recorder{TB: t}
		r.Run(func(tb testing.TB) { Missing(tb, msg) })
		if ci == "true" && (!r.Fataled || r.SkipCalled) || ci == "" && (!r.SkipCalled || r.Fataled) || r.Msg != msg {
			t.Errorf("Missing, CI=%q: failed %v, skipped %v, message %q", ci, r.Fataled, r.SkipCalled, r.Msg)
		}
		r = &testutil.Recorder{TB: t}
		returned := false
		r.Run(func(tb testing.TB) { Optional(tb, msg); returned = true })
		if ci == "true" && (!r.Fataled || returned || r.Msg != msg) || ci == "" && (r.Failed() || r.SkipCalled || !returned) {
			t.Errorf("Optional, CI=%q: failed %v, skipped %v, went on %v, message %q", ci, r.Failed(), r.SkipCalled, returned, r.Msg)
		}
	}
}
