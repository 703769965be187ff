package interp

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Thread tuning: a session allowed several threads times its first runs to
// learn, node by node, whether the node is faster on one thread or on all
// of them, then keeps whichever of three plans — that choice per node, all
// threads everywhere, one thread everywhere — ran the whole model fastest
// (a plan with more threads by a margin, tuneMargin).
//
// Why measure instead of a cost model: how much a second thread gains
// depends on the machine more than on the op. On this project's 2-vCPU
// Zen 5 VM a cache line takes ~215 ns between the two cores (they share no
// cache), so a layer whose input the other core wrote, or whose work is a
// few tens of microseconds, runs slower on two threads than on one, while
// resnet18's large convolutions run 1.5× faster; on a desktop CPU whose
// cores share an L3 the balance is elsewhere. ONNX Runtime decides with a
// cost per op; FFTW's planner and oneDNN's primitive cache time
// candidates, as this does. The kernels give the same bits on any number
// of threads (TestThreadsSameBits), so the plan changes speed only.
const (
	tuneWarm     = 2  // runs before timing: buffers, packing, page faults
	tuneSamples  = 24 // runs timing every node, each node on one thread every other run
	tuneValidate = 10 // runs of each plan timed whole
	// tuneMargin: a plan with more threads must beat one with fewer by
	// this fraction of its median to be kept. Two-thread runs on a small
	// VM vary more from run to run than one-thread runs (make bench's
	// medians sit further above their minima), so a tie goes to fewer
	// threads, which also leaves the other core to the rest of the machine.
	tuneMargin = 0.02
	// tuneBudget ends a phase early for a slow model, once each choice
	// has tuneMin runs: its nodes' times are long and steady.
	tuneBudget = time.Second
	tuneMin    = 3
	// tuneSlowRun: a model whose warm-up run takes longer keeps all
	// threads without timing: its layers are large enough to share, and
	// runs of the one-thread plans would cost it seconds (a large model's
	// verification runs it only a few times).
	tuneSlowRun = 250 * time.Millisecond
)

// threadTuner is a session's tuning state; runs may be concurrent.
type threadTuner struct {
	threads int // the session's Threads, ≥ 2
	steps   int // steps of the main graph
	started atomic.Int64
	final   atomic.Pointer[tuneRun] // the chosen plan once known, shared by the runs after

	mu      sync.Mutex
	since   time.Time            // start of the phase
	sampled int                  // sampling runs finished
	times   [2][][]time.Duration // [one thread, all threads][step]: the step's sampled times
	plans   [3][]int             // per node, all threads, one thread (after sampling)
	whole   [3][]time.Duration   // validation run times per plan
}

func newThreadTuner(threads, steps int) *threadTuner {
	if threads < 2 || steps == 0 {
		return nil
	}
	t := &threadTuner{threads: threads, steps: steps}
	for c := range t.times {
		t.times[c] = make([][]time.Duration, steps)
	}
	return t
}

// tuneRun is what one run does for the tuner: the threads of each step
// (nil: all), and whether and what it records.
type tuneRun struct {
	threads []int
	warm    bool // a warm-up run, timed whole
	sample  bool // time every step
	plan    int  // validation run of this plan; -1 if none
	start   time.Time
	dur     []time.Duration // per step, when sampling
}

// begin plans the next run.
func (t *threadTuner) begin() *tuneRun {
	if t == nil {
		return nil
	}
	if r := t.final.Load(); r != nil {
		return r
	}
	n := int(t.started.Add(1) - 1)
	r := &tuneRun{plan: -1, start: time.Now()}
	if n < tuneWarm {
		r.warm = true
		return r
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.since.IsZero() {
		t.since = r.start
	}
	if t.plans[0] != nil {
		r.plan = n % 3
		r.threads = t.plans[r.plan]
		return r
	}
	// Neighbouring steps on opposite thread counts, swapped each run.
	r.sample = true
	r.threads = make([]int, t.steps)
	r.dur = make([]time.Duration, t.steps)
	for i := range r.threads {
		r.threads[i] = t.threads
		if (n+i)%2 == 0 {
			r.threads[i] = 1
		}
	}
	return r
}

// stepThreads is the thread count of step i in run r (0: the session's).
func (r *tuneRun) stepThreads(i int) int {
	if r == nil || r.threads == nil {
		return 0
	}
	return r.threads[i]
}

// awake is how many threads the helpers should stand by for in run r.
func (r *tuneRun) awake(threads int) int {
	if r == nil || r.threads == nil {
		return threads
	}
	return slices.Max(r.threads)
}

// Tuning reports whether the session is still timing its first runs to
// choose each node's thread count (see Options.FixedThreads): benchmarks
// warm up until it is done.
func (s *Session) Tuning() bool { return s.tune != nil && s.tune.final.Load() == nil }

// end records run r, which took the step times in r.dur when sampling.
func (t *threadTuner) end(r *tuneRun) {
	if t == nil || r == nil || (!r.warm && !r.sample && r.plan < 0) {
		return
	}
	elapsed := time.Since(r.start)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.final.Load() != nil {
		return
	}
	if r.warm {
		if elapsed > tuneSlowRun {
			t.final.Store(&tuneRun{plan: -1}) // all threads, untimed
		}
		return
	}
	if r.sample {
		if t.plans[0] != nil {
			return // a straggler of the sampling phase
		}
		for i, d := range r.dur {
			c := 0
			if r.threads[i] > 1 {
				c = 1
			}
			t.times[c][i] = append(t.times[c][i], d)
		}
		t.sampled++
		if t.sampled >= tuneSamples || t.sampled >= 2*tuneMin && time.Since(t.since) > tuneBudget {
			t.choose()
			t.since = time.Now()
		}
		return
	}
	t.whole[r.plan] = append(t.whole[r.plan], elapsed)
	least := len(t.whole[0])
	for _, w := range t.whole {
		least = min(least, len(w))
	}
	if least < tuneValidate && (least < tuneMin || time.Since(t.since) <= tuneBudget) {
		return
	}
	// From the fewest threads up: one thread, per node, all threads.
	best := 2
	for _, p := range []int{0, 1} {
		if float64(median(t.whole[p])) < (1-tuneMargin)*float64(median(t.whole[best])) {
			best = p
		}
	}
	t.final.Store(&tuneRun{threads: t.plans[best], plan: -1})
}

// choose makes the three plans from the sampled step times (under mu).
func (t *threadTuner) choose() {
	node := make([]int, t.steps)
	all := make([]int, t.steps)
	one := make([]int, t.steps)
	for i := range node {
		all[i], one[i], node[i] = t.threads, 1, t.threads
		one1, all1 := t.times[0][i], t.times[1][i]
		if len(one1) > 0 && len(all1) > 0 && median(one1) <= median(all1) {
			node[i] = 1
		}
	}
	t.plans = [3][]int{node, all, one}
	t.times = [2][][]time.Duration{} // read no more: a large model's samples go
}

// ThreadPlan describes how the session spreads nodes over threads: fixed,
// still tuning, or the plan its first runs chose.
func (s *Session) ThreadPlan() string {
	t := s.tune
	switch {
	case s.opts.Threads < 2:
		return "1 thread"
	case t == nil:
		return fmt.Sprintf("%d threads for every node (fixed)", s.opts.Threads)
	case t.final.Load() == nil:
		return fmt.Sprintf("up to %d threads, still timing the first runs", s.opts.Threads)
	}
	plan := t.final.Load().threads
	if plan == nil {
		return fmt.Sprintf("%d threads for every node (a run takes over %v: not timed)", s.opts.Threads, tuneSlowRun)
	}
	one := 0
	for _, n := range plan {
		if n == 1 {
			one++
		}
	}
	switch one {
	case 0:
		return fmt.Sprintf("%d threads for every node (timed best)", s.opts.Threads)
	case len(plan):
		return "1 thread for every node (timed best)"
	}
	return fmt.Sprintf("%d threads, %d of %d nodes on 1 thread (timed best)", s.opts.Threads, one, len(plan))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
