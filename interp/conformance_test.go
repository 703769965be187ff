package interp_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/onnxslim/onnxslim/internal/conformance"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

type caseResult struct {
	suite, name string
	status      string // "passed", "failed", "not implemented"
	reason      string
	cpu         time.Duration // CPU time the case took
}

// TestConformance runs ONNX's backend test cases through the interpreter by
// the rules of ../shared/onnx-conformance/README.md and prints the counts.
// With ONNXSLIM_CONFORMANCE_REPORT=FILE it writes the per-op table there.
func TestConformance(t *testing.T) {
	root := testdata.Conformance(t)
	var all []caseResult
	for _, suite := range []string{"node", "simple", "pytorch-converted", "pytorch-operator"} {
		dirs, err := os.ReadDir(filepath.Join(root, suite))
		if err != nil {
			t.Fatal(err)
		}
		var res []caseResult
		for _, d := range dirs {
			if !d.IsDir() {
				continue
			}
			r := runCaseLimited(filepath.Join(root, suite, d.Name()), caseCPU)
			r.suite, r.name = suite, d.Name()
			res = append(res, r)
		}
		logCounts(t, suite, res)
		all = append(all, res...)
	}
	light := runLight(t, filepath.Join(root, "light"))
	logCounts(t, "light", light)
	all = append(all, light...)

	checkPassList(t, passList, all, nil)
	if out := os.Getenv("ONNXSLIM_CONFORMANCE_REPORT"); out != "" {
		if err := writeReport(out, filepath.Join(root, "MANIFEST.tsv"), all); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", out)
	}
	if os.Getenv("ONNXSLIM_CONFORMANCE_VERBOSE") != "" {
		for _, r := range all {
			if r.status != "passed" {
				t.Logf("%s/%s: %s: %s", r.suite, r.name, r.status, r.reason)
			}
		}
	}
}

func logCounts(t *testing.T, suite string, res []caseResult) {
	var p, st, f, ni int
	for _, r := range res {
		switch r.status {
		case "passed":
			p++
		case statPassed:
			st++
		case "not implemented":
			ni++
		default:
			f++
		}
	}
	// Cases of unimplemented ops count as failed, never as passed; the
	// harness has no way to skip a case, so every case is one of these.
	if p+st+f+ni != len(res) {
		t.Errorf("%s: %d cases counted of %d", suite, p+st+f+ni, len(res))
	}
	slowest := caseResult{}
	for _, r := range res {
		if r.cpu > slowest.cpu {
			slowest = r
		}
	}
	t.Logf("%s: %d passed, %d passed by statistics, %d failed (%d of them not implemented) of %d cases", suite, p, st, f+ni, ni, len(res))
	// A line of its own: make conformance-simd compares the count lines.
	t.Logf("%s: slowest case %s, %.2fs CPU (budget %v)", suite, slowest.name, slowest.cpu.Seconds(), budget(suite))
}

// Per-case budgets of process CPU time (every thread). CPU time does not
// run while other processes hold the cores, so a busy machine cannot push a
// case over its budget as a wall-clock timeout would; the interpreter
// honours the context between nodes and Loop iterations, so a case over
// budget ends with its goroutine. Measured (make conformance logs the
// slowest case per suite): node/ at most 0.1 s, light/ vgg19 about 4 s.
const (
	caseCPU  = 10 * time.Second
	lightCPU = time.Minute
)

func budget(suite string) time.Duration {
	if suite == "light" {
		return lightCPU
	}
	return caseCPU
}

// cpuLimit is a context that ends when the process has spent limit of CPU
// time after the call (where the CPU clock cannot be read: 4×limit of wall
// clock). spent reports the CPU time used so far.
func cpuLimit(limit time.Duration) (ctx context.Context, spent func() time.Duration, stop func()) {
	start, ok := cpuTime()
	if !ok {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 4*limit)
		return ctx, func() time.Duration { return time.Since(t0) }, cancel
	}
	spent = func() time.Duration { now, _ := cpuTime(); return now - start }
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if spent() > limit {
					cancel(fmt.Errorf("over the budget of %v CPU time", limit))
					return
				}
			}
		}
	}()
	return ctx, spent, func() { close(done); cancel(nil) }
}

// runCaseLimited runs one case within limit of CPU time; a panic is a
// failure.
func runCaseLimited(dir string, limit time.Duration) (r caseResult) {
	defer func() {
		if p := recover(); p != nil {
			r = caseResult{status: "failed", reason: fmt.Sprintf("panic: %v", p)}
		}
	}()
	ctx, spent, stop := cpuLimit(limit)
	defer stop()
	r = runCase(ctx, dir)
	r.cpu = spent()
	if ctx.Err() != nil && r.status != "passed" {
		r.reason += " (" + context.Cause(ctx).Error() + ")"
	}
	return r
}

func runCase(ctx context.Context, dir string) caseResult {
	m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return caseResult{status: "failed", reason: "load: " + err.Error()}
	}
	sess, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		if strings.Contains(err.Error(), "is not implemented") {
			return caseResult{status: "not implemented", reason: err.Error()}
		}
		return caseResult{status: "failed", reason: "session: " + err.Error()}
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return caseResult{status: "failed", reason: "no test_data_set_*"}
	}
	ins := sess.Inputs()
	status, reason := "passed", ""
	for _, set := range sets {
		feeds := map[string]*interp.Tensor{}
		for i, v := range ins {
			p := filepath.Join(set, fmt.Sprintf("input_%d.pb", i))
			if _, err := os.Stat(p); err != nil {
				break
			}
			t, err := readDatum(p, v.Type)
			if err != nil {
				return caseResult{status: "failed", reason: err.Error()}
			}
			feeds[v.Name] = t
		}
		got, err := sess.RunContext(ctx, feeds)
		if err != nil {
			return caseResult{status: "failed", reason: "run: " + err.Error()}
		}
		outs := m.Graph.Outputs
		wants := make([]*interp.Tensor, len(outs))
		var mismatch error
		for i, v := range outs {
			want, err := readDatum(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)), v.Type)
			if err != nil {
				return caseResult{status: "failed", reason: err.Error()}
			}
			wants[i] = want
			if err := Compare(got[i], want, 1e-3, 1e-7); err != nil && mismatch == nil {
				mismatch = fmt.Errorf("output %d %q: %v", i, v.Name, err)
			}
		}
		if mismatch == nil {
			continue
		}
		// Sampling graphs are checked by statistics (conformance_random_test.go).
		rn := randomNodes(m, feeds)
		if len(rn) == 0 {
			return caseResult{status: "failed", reason: mismatch.Error()}
		}
		checks, err := checkRandom(m, rn, feeds, got, wants)
		if err != nil {
			return caseResult{status: "failed", reason: fmt.Sprintf("%v; statistical check: %v", mismatch, err)}
		}
		status, reason = statPassed, checks
	}
	return caseResult{status: status, reason: reason}
}

func readDatum(path string, ty *onnx.Type) (*interp.Tensor, error) {
	return conformance.ReadDatum(path, ty)
}

// runLight runs the light/ models on the input the README prescribes.
func runLight(t *testing.T, dir string) []caseResult {
	models, _ := filepath.Glob(filepath.Join(dir, "*.onnx"))
	var res []caseResult
	for _, path := range models {
		name := strings.TrimSuffix(filepath.Base(path), ".onnx")
		r := func() (r caseResult) {
			defer func() {
				if p := recover(); p != nil {
					r = caseResult{status: "failed", reason: fmt.Sprintf("panic: %v", p)}
				}
			}()
			m, err := onnx.Load(path)
			if err != nil {
				return caseResult{status: "failed", reason: err.Error()}
			}
			sess, err := interp.NewSession(m, interp.Options{})
			if err != nil {
				st := "failed"
				if strings.Contains(err.Error(), "is not implemented") {
					st = "not implemented"
				}
				return caseResult{status: st, reason: err.Error()}
			}
			in := sess.Inputs()[0]
			shape := make([]int, len(in.Type.Shape))
			for i, d := range in.Type.Shape {
				shape[i] = 1
				if d.IsStatic() {
					shape[i] = int(d.Value)
				}
			}
			x := interp.Make(onnx.Float, shape...)
			xs := x.Floats()
			for i := range xs {
				xs[i] = float32(float64(i) / float64(len(xs)))
			}
			ctx, spent, stop := cpuLimit(lightCPU)
			defer stop()
			got, err := sess.RunContext(ctx, map[string]*interp.Tensor{in.Name: x})
			if err != nil {
				return caseResult{status: "failed", reason: err.Error(), cpu: spent()}
			}
			want, err := readDatum(filepath.Join(dir, name+"_output_0.pb"), nil)
			if err != nil {
				return caseResult{status: "failed", reason: err.Error()}
			}
			if err := Compare(got[0], want, 1e-3, 1e-7); err != nil {
				return caseResult{status: "failed", reason: err.Error(), cpu: spent()}
			}
			return caseResult{status: "passed", cpu: spent()}
		}()
		r.suite, r.name = "light", name
		res = append(res, r)
	}
	return res
}

// Compare is the backend runner's comparison (internal/conformance), shared
// with the CLI's conformance count.
func Compare(got, want *interp.Tensor, rtol, atol float64) error {
	return conformance.Compare(got, want, rtol, atol)
}

func asFloat64s(t *interp.Tensor) ([]float64, error) { return conformance.Floats(t) }

// writeReport writes docs/operators.md: per op, registered versions and cases passed/total.
func writeReport(path, manifest string, all []caseResult) error {
	status := map[string]caseResult{}
	for _, r := range all {
		status[r.suite+"/"+r.name] = r
	}
	type opStat struct{ passed, stat, total int }
	ops := map[string]*opStat{}
	f, err := os.Open(manifest)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sc.Scan() // header
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 2 || strings.Contains(cols[0], "_expanded") {
			continue
		}
		r := status["node/"+cols[0]]
		for _, op := range strings.Split(cols[1], ",") {
			s := ops[op]
			if s == nil {
				s = &opStat{}
				ops[op] = s
			}
			s.total++
			switch r.status {
			case "passed":
				s.passed++
			case statPassed:
				s.stat++
			}
		}
	}
	reg := interp.Registered()
	var b strings.Builder
	counts := map[string][4]int{} // passed, not implemented, total, passed by statistics
	for _, r := range all {
		c := counts[r.suite]
		c[2]++
		switch r.status {
		case "passed":
			c[0]++
		case "not implemented":
			c[1]++
		case statPassed:
			c[3]++
		}
		counts[r.suite] = c
	}
	fmt.Fprintf(&b, "# Operators of the interpreter\n\nGenerated by `make conformance` from ONNX's backend test data (`../shared/onnx-conformance`).\n\n")
	fmt.Fprintf(&b, "Cases of sampling ops (Bernoulli, Random*, Multinomial, training-mode Dropout) cannot match numpy's seeded generator: when their outputs differ they are checked by shape, type and statistics (see `interp/conformance_random_test.go`) and counted as *passed by statistics*, apart from exact passes.\n\n")
	fmt.Fprintf(&b, "| suite | passed | passed by statistics | failed | of which not implemented | total |\n|---|---|---|---|---|---|\n")
	for _, s := range []string{"node", "simple", "pytorch-converted", "pytorch-operator", "light"} {
		c := counts[s]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d |\n", s, c[0], c[3], c[2]-c[0]-c[3], c[1], c[2])
	}
	fmt.Fprintf(&b, "\n## Per operator (direct `node/` cases; `*_expanded` cases are counted in the suite totals)\n\n| op | versions implemented | cases passed/total |\n|---|---|---|\n")
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	for _, op := range names {
		domain, name := "", op
		if i := strings.LastIndex(op, "."); i >= 0 {
			domain, name = op[:i], op[i+1:]
		}
		vs := reg[domain+"::"+name]
		sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
		ver := "—"
		if len(vs) > 0 {
			ver = strings.Trim(strings.Join(strings.Fields(fmt.Sprint(vs)), ", "), "[]")
		}
		stat := ""
		if ops[op].stat > 0 {
			stat = fmt.Sprintf(" (+%d by statistics)", ops[op].stat)
		}
		fmt.Fprintf(&b, "| %s | %s | %d/%d%s |\n", op, ver, ops[op].passed, ops[op].total, stat)
	}
	fmt.Fprintf(&b, "\n## Cases passed by statistics\n\n| case | checks |\n|---|---|\n")
	for _, r := range all {
		if r.status == statPassed {
			fmt.Fprintf(&b, "| %s/%s | %s |\n", r.suite, r.name, strings.ReplaceAll(r.reason, "|", `\|`))
		}
	}
	fmt.Fprintf(&b, "\n## Cases that do not pass\n\n| case | status | cause | error |\n|---|---|---|---|\n")
	for _, r := range all {
		if r.status == "passed" || r.status == statPassed {
			continue
		}
		reason := strings.ReplaceAll(r.reason, "|", `\|`)
		reason = strings.ReplaceAll(reason, "\n", " ")
		if len(reason) > 240 {
			reason = reason[:240] + "…"
		}
		fmt.Fprintf(&b, "| %s/%s | %s | %s | %s |\n", r.suite, r.name, r.status, knownCause(r.name), reason)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// passList is the committed list of the cases expected to pass, one
// "suite/case" a line, in every suite. ONNXSLIM_CONFORMANCE_UPDATE=1
// rewrites it from the run.
const passList = "testdata/conformance-pass.txt"

// checkPassList fails for every case listed in path that no longer passes
// (by its outputs or by statistics), naming it and why, and reports the
// cases that pass but are not listed yet, so that the list grows. With ran
// non-nil only the listed cases it accepts are checked (a partial run).
func checkPassList(t testing.TB, path string, all []caseResult, ran func(key string) bool) {
	t.Helper()
	var passing []string
	now := map[string]caseResult{}
	for _, r := range all {
		key := r.suite + "/" + r.name
		now[key] = r
		if r.status == "passed" || r.status == statPassed {
			passing = append(passing, key)
		}
	}
	sort.Strings(passing)
	if ran == nil && os.Getenv("ONNXSLIM_CONFORMANCE_UPDATE") == "1" {
		if err := os.WriteFile(path, []byte(strings.Join(passing, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %d cases", path, len(passing))
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (make conformance-update writes it)", err)
	}
	listed := map[string]bool{}
	checked, broken := 0, 0
	for _, key := range strings.Fields(string(b)) {
		listed[key] = true
		if ran != nil && !ran(key) {
			continue
		}
		checked++
		r, ok := now[key]
		switch {
		case !ok:
			broken++
			t.Errorf("%s: listed as passing but not in the suites any more", key)
		case r.status != "passed" && r.status != statPassed:
			broken++
			t.Errorf("%s: listed as passing, now %s: %s", key, r.status, r.reason)
		}
	}
	var fresh []string
	for _, key := range passing {
		if !listed[key] {
			fresh = append(fresh, key)
		}
	}
	if len(fresh) > 0 {
		t.Logf("%d cases pass that %s does not list yet (make conformance-update adds them): %s", len(fresh), path, strings.Join(fresh, " "))
	}
	t.Logf("%d of %d listed cases pass", checked-broken, checked)
}
