package interp

import (
	"testing"
	"time"
)

// TestThreadTunerPlans drives the tuner with made-up times: step 0 is
// faster on one thread, step 1 on all; the per-node plan must say so, and
// the plan with the fastest validation runs must be kept. A slow warm-up
// run keeps all threads untimed.
func TestThreadTunerPlans(t *testing.T) {
	tu := newThreadTuner(4, 2)
	stepTime := func(step, threads int) time.Duration {
		one := []time.Duration{10, 100}[step] * time.Microsecond
		if threads == 1 {
			return one
		}
		return []time.Duration{30, 40}[step] * time.Microsecond
	}
	for run := 0; tu.final.Load() == nil; run++ {
		if run > 100 {
			t.Fatal("no plan after 100 runs")
		}
		r := tu.begin()
		switch {
		case r.warm:
			if r.threads != nil {
				t.Fatalf("warm-up run %d has a plan %v", run, r.threads)
			}
		case r.sample:
			if r.threads[0] == r.threads[1] {
				t.Fatalf("sampling run %d: neighbours on the same count %v", run, r.threads)
			}
			for i := range r.dur {
				r.dur[i] = stepTime(i, r.threads[i])
			}
		default:
			// A validation run: its time is its steps' times, made up.
			var d time.Duration
			for i, n := range r.threads {
				d += stepTime(i, n)
			}
			r.start = time.Now().Add(-d)
		}
		tu.end(r)
	}
	got := tu.final.Load().threads
	if want := []int{1, 4}; got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("plan %v, want %v (per node: %v)", got, want, tu.plans[0])
	}

	slow := newThreadTuner(2, 3)
	r := slow.begin()
	r.start = time.Now().Add(-2 * tuneSlowRun)
	slow.end(r)
	if f := slow.final.Load(); f == nil || f.threads != nil {
		t.Fatalf("slow model: plan %v, want all threads untimed", f)
	}
	if newThreadTuner(1, 5) != nil {
		t.Fatal("a one-thread session has a tuner")
	}
}
