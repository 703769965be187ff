package interp_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onnxslim/onnxslim/internal/testutil"
)

// TestPassListCheck: a listed case that fails, or that is gone, fails the
// check by name; a case that passes but is not listed only gets reported;
// a partial run checks only the cases it ran.
func TestPassListCheck(t *testing.T) {
	list := filepath.Join(t.TempDir(), "pass.txt")
	if err := os.WriteFile(list, []byte("node/test_a\nnode/test_b\nlight/light_c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := func(suite, name string) caseResult { return caseResult{suite: suite, name: name, status: "passed"} }
	for _, tc := range []struct {
		name string
		all  []caseResult
		ran  func(string) bool
		fail string // the case the failure must name; "" passes
	}{
		{"all pass", []caseResult{ok("node", "test_a"), ok("node", "test_b"), ok("light", "light_c")}, nil, ""},
		{"new pass", []caseResult{ok("node", "test_a"), ok("node", "test_b"), ok("light", "light_c"), ok("simple", "test_new")}, nil, ""},
		{"by statistics", []caseResult{ok("node", "test_a"), {suite: "node", name: "test_b", status: statPassed}, ok("light", "light_c")}, nil, ""},
		{"kernel gone", []caseResult{ok("node", "test_a"), {suite: "node", name: "test_b", status: "not implemented", reason: "Erf is not implemented"}, ok("light", "light_c")}, nil, "node/test_b"},
		{"light fails", []caseResult{ok("node", "test_a"), ok("node", "test_b"), {suite: "light", name: "light_c", status: "failed"}}, nil, "light/light_c"},
		{"case gone", []caseResult{ok("node", "test_a"), ok("light", "light_c")}, nil, "node/test_b"},
		{"partial", []caseResult{ok("node", "test_a")}, func(k string) bool { return k == "node/test_a" }, ""},
	} {
		r := &testutil.Recorder{TB: t}
		r.Run(func(tb testing.TB) { checkPassList(tb, list, tc.all, tc.ran) })
		if r.Failed() != (tc.fail != "") || !strings.Contains(r.Msg, tc.fail) {
			t.Errorf("%s: failed %v (%q), want a failure naming %q", tc.name, r.Failed(), r.Msg, tc.fail)
		}
	}
}

// TestPassListCoversEverySuite: the committed list holds cases of every
// suite TestConformance runs.
func TestPassListCoversEverySuite(t *testing.T) {
	b, err := os.ReadFile(passList)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, key := range strings.Fields(string(b)) {
		suite, _, _ := strings.Cut(key, "/")
		n[suite]++
	}
	for _, suite := range []string{"node", "simple", "pytorch-converted", "pytorch-operator", "light"} {
		if n[suite] == 0 {
			t.Errorf("%s lists no case of %s/", passList, suite)
		}
	}
	t.Logf("%s: %v", passList, n)
}

// TestCPULimitEnds: the per-case budget ends the context once the process
// has spent it in CPU time, and says why.
func TestCPULimitEnds(t *testing.T) {
	const limit = 100 * time.Millisecond
	ctx, spent, stop := cpuLimit(limit)
	defer stop()
	x := 1.0
	for deadline := time.Now().Add(20 * time.Second); ctx.Err() == nil && time.Now().Before(deadline); {
		for i := 0; i < 1e5; i++ {
			x = x*1.0000001 + 1e-9
		}
	}
	if ctx.Err() == nil {
		t.Fatalf("not ended after 20 s of wall clock (%v CPU spent, %g)", spent(), x)
	}
	if _, ok := cpuTime(); ok && spent() < limit {
		t.Errorf("ended after %v CPU, before the budget of %v", spent(), limit)
	}
	t.Logf("ended after %v CPU: %v", spent(), context.Cause(ctx))
}
