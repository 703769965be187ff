package simd

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parallel runs f(i) for every i in [0, n) on up to threads goroutines, the
// caller's included, and returns when all calls have returned. A panic in
// any call is raised again on the caller.
//
// The helper goroutines live across calls and, after a job, spin briefly
// for the next one before they sleep: a network runs one parallel region
// per layer, back to back, and handing work to a sleeping thread (a new
// goroutine, a futex wake-up) costs tens of microseconds or more — a large
// share of a small layer. ONNX Runtime's thread pool spins for the
// same reason. Indices are claimed one at a time, so a helper that arrives
// late, or never (another job took it), only leaves more to the caller.
func Parallel(n, threads int, f func(i int)) {
	parallel(n, threads, f, nil)
}

// ParallelThreads is Parallel with f told which thread runs it: 0 the
// caller, k the k-th helper to join (the thread that starts on the k-th
// share of the indices), less than min(threads, n). A thread that takes
// indices of another's share passes its own number. Scratch kept per
// thread number (shareWorkspace) is then written by the same core from one
// parallel region to the next as long as the helpers join in the same
// order, as a single helper (two threads) always does.
func ParallelThreads(n, threads int, f func(thread, i int)) {
	parallel(n, threads, nil, f)
}

func parallel(n, threads int, f func(i int), ft func(thread, i int)) {
	threads = min(threads, n)
	if threads <= 1 {
		for i := 0; i < n; i++ {
			if ft != nil {
				ft(0, i)
			} else {
				f(i)
			}
		}
		return
	}
	t := newJob(f, ft, n, threads)
	start := time.Now()
	helpers.post(t, threads-1)
	t.work(0)
	// The last indices may still run on helpers: wait for them, spinning
	// (they are short) and yielding.
	if t.left.Load() > 0 {
		worked := time.Since(start)
		for t.left.Load() > 0 {
			runtime.Gosched()
		}
		helpers.noteWait(worked, time.Since(start)-worked)
	}
	if p := t.panicked.Load(); p != nil {
		panic(*p)
	}
}

// runsPerThread is how many blocks per thread a product is cut into
// (GEMM forks, gemv, a few-chunk convolution): finer blocks would reuse
// the packed operands less.
const runsPerThread = 4

// claimsPerThread is how many runs ParallelRuns cuts per thread: when the
// last run is claimed, the other threads idle for up to one run, so runs of
// 1/16 of the work at two threads lose at most that (runs of 1/8 lost up
// to 12%: resnet's 56×56 convs have 33 chunks, which made runs of 4–5).
// Each run sets up its own workspace (a depthwise run clears a padded
// plane), which keeps runs from being much finer.
const claimsPerThread = 8

// ParallelRuns splits [0, n) into up to claimsPerThread·threads contiguous
// runs of near-equal length and calls f(i0, i1) for each through Parallel.
// Runs are claimed one at a time, so a thread that starts late (a helper
// waking from sleep) or runs slower (its core busy with another process)
// takes fewer runs instead of holding up the caller with a fixed half. The
// runs are whole units of the caller's work (channels, column chunks), so
// results do not depend on which goroutine ran which run.
func ParallelRuns(n, threads int, f func(i0, i1 int)) {
	runs := min(n, claimsPerThread*threads)
	if threads < 2 || runs < 2 {
		f(0, n)
		return
	}
	Parallel(runs, threads, func(r int) { f(r*n/runs, (r+1)*n/runs) })
}

// ParallelRunsThreads is ParallelRuns with f told which thread runs it, as
// ParallelThreads does.
func ParallelRunsThreads(n, threads int, f func(thread, i0, i1 int)) {
	runs := min(n, claimsPerThread*threads)
	if threads < 2 || runs < 2 {
		f(0, 0, n)
		return
	}
	ParallelThreads(runs, threads, func(th, r int) { f(th, r*n/runs, (r+1)*n/runs) })
}

// parallelMinTaps is the work (outputs × window taps) under which the
// depthwise and pooling kernels stay on one goroutine, for the reason
// parallelMin gives.
const parallelMinTaps = 1 << 18

// ParallelMinTaps is parallelMinTaps for callers that split windows themselves.
const ParallelMinTaps = parallelMinTaps

// job is one Parallel call. Its indices are cut into one contiguous share
// per thread: the caller starts on share 0, the k-th helper to join on
// share k, each from the front of its share, and a thread whose share is
// done takes indices from the back of the others'. So with a steady pool
// the same thread computes the same part of every layer (the caller the
// first rows or channels, the helper the rest), and what a thread wrote in
// one layer it mostly reads itself in the next. On CPUs whose cores share
// no cache (this project's 2-vCPU Zen 5 VM: a cache line takes ~215 ns
// from one core to the other), indices claimed in turn from one counter
// sent half of every layer's input across and made two threads no faster
// than one.
type job struct {
	f        func(int)
	ft       func(thread, i int)      // instead of f: ParallelThreads
	shares   [maxShares]atomic.Uint64 // front<<32 | back: indices [front, back) not yet claimed
	nshares  int
	left     atomic.Int64 // indices not finished
	joined   atomic.Int32 // helpers that have joined (the caller is share 0)
	helpers  atomic.Int32 // helpers still allowed to join
	panicked atomic.Pointer[any]
}

// maxShares bounds the shares of a job; with more threads, thread k starts
// on share k mod maxShares.
const maxShares = 8

func newJob(f func(int), ft func(int, int), n, threads int) *job {
	t := &job{f: f, ft: ft, nshares: min(threads, maxShares, n)}
	for k := range t.nshares {
		lo, hi := k*n/t.nshares, (k+1)*n/t.nshares
		t.shares[k].Store(uint64(lo)<<32 | uint64(hi))
	}
	t.left.Store(int64(n))
	return t
}

// claim takes the next index of share k from its front (own) or its back
// (another thread's); ok is false when the share is empty.
func (t *job) claim(k int, own bool) (i int, ok bool) {
	s := &t.shares[k]
	for {
		v := s.Load()
		lo, hi := v>>32, v&(1<<32-1)
		if lo >= hi {
			return 0, false
		}
		next, i := (lo+1)<<32|hi, lo
		if !own {
			next, i = lo<<32|(hi-1), hi-1
		}
		if s.CompareAndSwap(v, next) {
			return int(i), true
		}
	}
}

// work runs the indices of thread k's share, then those left in the others.
func (t *job) work(k int) {
	own := k % t.nshares
	for d := 0; d < t.nshares; d++ {
		s := (own + d) % t.nshares
		for {
			i, ok := t.claim(s, d == 0)
			if !ok {
				break
			}
			t.run(k, i)
			t.left.Add(-1)
		}
	}
}

func (t *job) run(thread, i int) {
	defer func() {
		if r := recover(); r != nil {
			t.panicked.CompareAndSwap(nil, &r)
		}
	}()
	if t.ft != nil {
		t.ft(thread, i)
		return
	}
	t.f(i)
}

// spinRounds is how many polls a helper makes for a new job before it
// sleeps, outside a span opened by Awake: a few microseconds on Zen 5.
// Spinning longer (200 µs, 1 ms of clock time) at all times woke helpers in
// time for the next layer, but spun on between a program's runs too.
const spinRounds = 20000

// awakeSpin is how long a helper polls for the next job inside an Awake
// span before it sleeps. Within a run most gaps between parallel layers
// are shorter, so the helper is there when the next layer starts; a long
// serial stretch (or a core shared with other processes, where a spinning
// thread takes CPU time from its own process's caller) ends the spin. A
// spin through the whole run made the transformer 3–4× slower at two
// threads on the 2-core VM at load average 5–6 (`onnxslim run … --bench
// 100 --threads 2`, medians).
const awakeSpin = 100 * time.Microsecond

// contendedWait and contendedCalm: when the caller of Parallel, its own
// share done, waits for a helper's last index longer than it worked (and
// over contendedWait), the helper is not keeping up, most likely because
// another process holds its core; then for contendedCalm helpers do not
// spin through Awake spans (they sleep after spinRounds polls, as outside
// spans), since a spinning thread takes CPU time from its own process's
// caller on a busy machine. On a machine of its own the wait is at most one
// index's work, shorter than the caller's share, and helpers keep spinning.
// A spinning helper that finds more than descheduled between two of its
// time checks (a few microseconds apart when it has its core) was
// descheduled, which calms the helpers too.
const (
	contendedWait = 20 * time.Microsecond
	contendedCalm = 20 * time.Millisecond
	descheduled   = 200 * time.Microsecond
)

// helperPool is the process's helper goroutines and the job on offer.
type helperPool struct {
	cur      atomic.Pointer[job]
	gen      atomic.Uint64 // bumped for each job offered
	awake    atomic.Int32  // open Awake spans: helpers spin instead of sleeping
	calm     atomic.Int64  // until this time (UnixNano) helpers do not spin in spans
	mu       sync.Mutex
	cond     *sync.Cond
	sleeping int // helpers waiting on cond (under mu)
	started  int // helpers started (under mu)
}

var helpers = func() *helperPool {
	p := &helperPool{}
	p.cond = sync.NewCond(&p.mu)
	return p
}()

// Awake keeps up to threads-1 helpers spinning for jobs until the returned
// function is called, instead of sleeping a few microseconds after each
// job. A model run opens one span per run: its layers follow each other
// within microseconds, but a helper that has gone to sleep takes 80–250 µs
// to wake on a small VM (a futex wake-up and a reschedule), longer than many
// layers take, so without the span the caller ran those layers alone while
// the helper was still waking. Outside spans (between runs) helpers sleep
// as before and cost nothing. Awake also wakes sleeping helpers at once,
// so that their wake-up overlaps the run's first nodes. Spans may nest and
// overlap (concurrent runs); threads < 2 opens none.
func Awake(threads int) (release func()) {
	if threads < 2 {
		return func() {}
	}
	p := helpers
	p.awake.Add(1)
	p.mu.Lock()
	for p.started < min(threads-1, runtime.GOMAXPROCS(0)-1) {
		p.started++
		go p.loop()
	}
	if p.sleeping > 0 {
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { p.awake.Add(-1) }) }
}

// noteWait records that a Parallel caller worked for worked and then waited
// wait for helpers (see contendedWait).
func (p *helperPool) noteWait(worked, wait time.Duration) {
	if wait > contendedWait && wait > worked {
		p.calm.Store(time.Now().Add(contendedCalm).UnixNano())
	}
}

// post offers t to up to k helpers, starting helpers as needed (at most
// GOMAXPROCS-1 in all) and waking sleeping ones.
func (p *helperPool) post(t *job, k int) {
	t.helpers.Store(int32(k))
	p.cur.Store(t)
	p.gen.Add(1)
	p.mu.Lock()
	for p.started < min(k, runtime.GOMAXPROCS(0)-1) {
		p.started++
		go p.loop()
	}
	if p.sleeping > 0 {
		p.cond.Broadcast()
	}
	p.mu.Unlock()
}

// loop is a helper: it joins each job offered, while the job wants helpers.
func (p *helperPool) loop() {
	var seen uint64
	for {
		g := p.gen.Load()
		var idle, last time.Time // when this wait began (after spinRounds polls), the last poll's time
		for spins := 0; g == seen; spins++ {
			if spins < spinRounds {
				g = p.gen.Load()
				continue
			}
			if p.awake.Load() > 0 {
				// A run is in progress: poll on for up to awakeSpin,
				// letting the scheduler run other goroutines now and then,
				// unless helpers were found not keeping up lately.
				now := time.Now()
				if idle.IsZero() {
					idle = now
				} else if now.Sub(last) > descheduled {
					// Polls a few microseconds apart were not: another
					// process holds this core.
					p.calm.Store(now.Add(contendedCalm).UnixNano())
				}
				last = now
				if now.Sub(idle) < awakeSpin && now.UnixNano() >= p.calm.Load() {
					spins = 0
					runtime.Gosched()
					g = p.gen.Load()
					continue
				}
			}
			p.mu.Lock()
			for g = p.gen.Load(); g == seen; g = p.gen.Load() {
				p.sleeping++
				p.cond.Wait()
				p.sleeping--
				if p.awake.Load() > 0 {
					break // woken by Awake: spin for the run's first job
				}
			}
			p.mu.Unlock()
			idle, spins = time.Time{}, 0
		}
		seen = g
		if t := p.cur.Load(); t != nil && t.helpers.Add(-1) >= 0 {
			t.work(int(t.joined.Add(1)))
		}
	}
}
