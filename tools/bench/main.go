//go:build unix

// Command bench compares the interpreter with ONNX Runtime on the shared
// models and measures SGEMM against the single-core FMA peak; `make bench`
// runs it. For each thread count and model it loads both runtimes once,
// then alternates batches of interpreter runs and ONNX Runtime runs
// (tools/ort/bench.js, a long-lived node process) so that load from other
// processes falls on both alike, and prints the medians per run.
//
//	go run ./tools/bench [-rounds 7] [-batch 3] [-threads 1,2] [-models a,b] [-real DIR] [-dim NAME=V,...]
//
// Models of the real-models corpus (-real, every *.onnx there) run on
// seeded random inputs from their declared shapes (-dim fixes symbolic
// dimensions), written once as input_N.pb for ONNX Runtime to read.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

func main() {
	rounds := flag.Int("rounds", 7, "interleaved rounds per model and thread count")
	batch := flag.Int("batch", 3, "runs per batch (at least; see -batch-time)")
	flag.DurationVar(&batchTime, "batch-time", 30*time.Millisecond, "make each batch at least this long (by the warm-up's time per run, at most 100 runs): a 21-run median of a 0.3 ms model spans 7 ms, which one stall of the VM's host can move")
	threadList := flag.String("threads", "1,2", "thread counts")
	modelList := flag.String("models", "resnet18_op13,mobilenet_v2_op13,transformer_op14,lstm_op13", "models under the shared models folder")
	gemm := flag.Bool("gemm", true, "also measure SGEMM against the FMA peak")
	flag.BoolVar(&fastQDQ, "fast-qdq", true, "run QDQ convolutions as integer convolutions (the interpreter's default); -fast-qdq=false sets interp.Options.FloatQDQ")
	realDir := flag.String("real", "", "also time every *.onnx in `DIR` (the real-models corpus) on seeded random inputs")
	dimList := flag.String("dim", "", "symbolic dimensions for -real models, `NAME=V,...`")
	flag.DurationVar(&warm, "warm", time.Second, "run each runtime for at least this long before timing it (at least one run): the interpreter's first runs grow the Go heap, and on a VM a fresh page's first touch costs tens of µs")
	flag.DurationVar(&settle, "settle", 20*time.Millisecond, "pause after each runtime's batch, then wait until its process is idle (ORT's pool spins on after a run), so that neither takes cores from the other's batch")
	flag.Parse()
	root := filepath.Join(testdata.Root(), "models")
	type model struct{ name, file, inputs string }
	var models []model
	for _, name := range strings.Split(*modelList, ",") {
		if name != "" {
			models = append(models, model{name, filepath.Join(root, name, "model.onnx"), filepath.Join(root, name, "test_data_set_0")})
		}
	}
	if *realDir != "" {
		dims, err := parseDims(*dimList)
		if err != nil {
			fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(*realDir, "*.onnx"))
		if len(files) == 0 {
			fatal(fmt.Errorf("-real %s: no .onnx files (run `make real-models`)", *realDir))
		}
		tmp, err := os.MkdirTemp("", "bench-inputs-")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(tmp)
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".onnx")
			dir := filepath.Join(tmp, name)
			if err := randomInputs(f, dir, dims); err != nil {
				fatal(fmt.Errorf("%s: %w", f, err))
			}
			models = append(models, model{name, f, dir})
		}
	}
	fmt.Printf("load average before: %s\n", loadavg())
	fmt.Printf("CPU: %s; simd kernels: %s (levels here: %s), GOMAXPROCS=%d\n", cpuName(), simd.Level(), strings.Join(simd.Levels(), ", "), runtime.GOMAXPROCS(0))
	if *ortKeepHeap && os.Getenv("GLIBC_TUNABLES") == "" {
		fmt.Printf("ONNX Runtime's malloc keeps freed memory (GLIBC_TUNABLES=%s; -ort-keep-heap=false for glibc's defaults)\n", keepHeapTunables)
	}
	fmt.Println()
	if us, ok := pageTouchMicros(); ok {
		fmt.Printf("first touch of a fresh 4 KiB page: %.1f µs (median of 3 passes over 64 MiB): what a page fault costs here\n\n", us)
	}
	fmt.Printf("%d interleaved rounds; a batch is %d runs or more, to fill %v; medians of all runs\n", *rounds, *batch, batchTime)
	fmt.Printf("%-24s %7s %12s %12s %8s %10s %10s %13s\n", "model", "threads", "interp ms", "ORT ms", "ratio", "interp min", "ORT min", "interp faults")
	failed := false
	var plans []string // the thread plans sessions chose, printed after the table
	var busy []string  // how long ORT's process ran on after its batches
	for _, ts := range strings.Split(*threadList, ",") {
		th, err := strconv.Atoi(ts)
		if err != nil {
			fatal(err)
		}
		for _, md := range models {
			r, err := compare(md.file, md.inputs, th, *rounds, *batch)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", md.name, err)
				failed = true
				continue
			}
			mi, mo := median(r.interpMS), median(r.ortMS)
			fmt.Printf("%-24s %7d %12.2f %12.2f %8.2f %10.2f %10.2f %13.1f\n", md.name, th, mi, mo, mi/mo, slices.Min(r.interpMS), slices.Min(r.ortMS), r.faults)
			if th > 1 {
				plans = append(plans, fmt.Sprintf("  %-22s %d: %s", md.name, th, r.plan))
			}
			busy = append(busy, fmt.Sprintf("  %-22s %d: %.1f (max %.1f)", md.name, th, median(r.ortBusy), slices.Max(r.ortBusy)))
		}
	}
	if len(plans) > 0 {
		fmt.Printf("\nthread plans the interpreter's sessions chose in their warm-up:\n%s\n", strings.Join(plans, "\n"))
	}
	if len(busy) > 0 {
		fmt.Printf("\nms ONNX Runtime's process kept running after its batches and the %v pause (median, max; its pool spins on), waited out before the interpreter's batch:\n%s\n", settle, strings.Join(busy, "\n"))
	}
	fmt.Printf("\nload average after: %s\n", loadavg())
	if *gemm {
		fmt.Println()
		gemmTable()
	}
	if failed {
		os.Exit(1)
	}
}

// settle, warm and batchTime are the -settle, -warm and -batch-time flags.
var settle, warm, batchTime time.Duration

// fastQDQ is the -fast-qdq flag.
var fastQDQ bool

var ortKeepHeap = flag.Bool("ort-keep-heap", true, "run ONNX Runtime with GLIBC_TUNABLES that keep freed memory in the heap (see keepHeapTunables); false measures it with glibc's defaults")

// result is one model's comparison at one thread count.
type result struct {
	interpMS, ortMS []float64
	faults          float64 // the interpreter's minor page faults per run
	plan            string  // the interpreter's thread plan
	// ortBusy is, per batch, how long ONNX Runtime's process kept running
	// after the pause (see settleAfter).
	ortBusy []float64
}

// compare times one model: rounds × (batch interp runs, batch ORT runs),
// alternating which goes first, after warming both up.
func compare(file, set string, threads, rounds, batch int) (res result, err error) {
	m, err := onnx.Load(file)
	if err != nil {
		return res, err
	}
	sess, err := interp.NewSession(m, interp.Options{Threads: threads, FloatQDQ: !fastQDQ})
	if err != nil {
		return res, err
	}
	feeds := map[string]*interp.Tensor{}
	for i, v := range sess.Inputs() {
		b, err := os.ReadFile(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
		if err != nil {
			return res, err
		}
		d, err := onnx.DecodeDatum(b, v.Type)
		if err != nil {
			return res, err
		}
		if feeds[v.Name], err = interp.FromDatum(d); err != nil {
			return res, err
		}
	}
	ort, err := startORT(file, set, threads)
	if err != nil {
		return res, err
	}
	defer ort.close()
	settleAfter(ort.cmd.Process.Pid) // its warm-up run's pool must not skew the interpreter's thread tuning
	// Warm-up: buffers, packed weights, and a Go heap grown to its working
	// size. Until the collector has run twice, each run's garbage (its
	// outputs) lands on pages the heap never used, each a page fault, and a
	// model with large outputs can allocate for seconds before that
	// (transformer_op14: 55 faults a run after 1 s). ONNX Runtime then gets
	// as long.
	t0, gc0, warmRuns := time.Now(), numGC(), 0
	for {
		out, err := sess.Run(feeds)
		if err != nil {
			return res, err
		}
		sess.Recycle(out)
		warmRuns++
		if d := time.Since(t0); d >= warm && numGC() >= gc0+2 && !sess.Tuning() || d >= 10*warm {
			break
		}
	}
	warmed := time.Since(t0)
	for t := time.Now(); time.Since(t) < warmed; {
		if _, err := ort.run(1); err != nil {
			return res, err
		}
	}
	settleAfter(ort.cmd.Process.Pid) // round 0 starts with the interpreter's batch
	// Both runtimes run the same number of times a batch.
	if per := warmed / time.Duration(warmRuns); per > 0 {
		batch = max(batch, min(100, int(batchTime/per)))
	}
	faults0 := minorFaults()
	runInterp := func() error {
		for range batch {
			// The outputs go back to the session, as a caller that runs a
			// model in a loop hands them back (Session.Recycle), and as
			// ONNX Runtime's arena reuses its outputs' memory.
			t := time.Now()
			out, err := sess.Run(feeds)
			if err != nil {
				return err
			}
			res.interpMS = append(res.interpMS, ms(time.Since(t)))
			sess.Recycle(out)
		}
		return nil
	}
	runORT := func() error {
		ms, err := ort.run(batch)
		res.ortMS = append(res.ortMS, ms...)
		return err
	}
	// Each batch is followed by a pause, and ONNX Runtime's by a wait until
	// its process is idle, so that the other runtime's batch has the cores
	// to itself. The interpreter's helpers sleep within microseconds of a
	// run's end; its own process is not polled, as the poller's reads of
	// /proc would count (hundreds of µs a window).
	interpRun := func() error {
		err := runInterp()
		time.Sleep(settle)
		return err
	}
	ortRun := func() error {
		err := runORT()
		res.ortBusy = append(res.ortBusy, ms(settleAfter(ort.cmd.Process.Pid)))
		return err
	}
	for r := range rounds {
		first, second := interpRun, ortRun
		if r%2 == 1 {
			first, second = ortRun, interpRun
		}
		if err := first(); err != nil {
			return res, err
		}
		if err := second(); err != nil {
			return res, err
		}
	}
	res.faults = float64(minorFaults()-faults0) / float64(len(res.interpMS))
	res.plan = sess.ThreadPlan()
	return res, nil
}

// Settling after a batch: ONNX Runtime's pool keeps spinning after a run
// (at two threads on the 2-vCPU VM, one thread stayed busy 36–72 ms after
// each batch and took 13–33 ms of CPU time from the interpreter's next
// batch when the pause was a fixed 20 ms).
const (
	idleWindow = 2 * time.Millisecond   // a process is idle when in such a window
	idleCPU    = 200 * time.Microsecond // it runs for less than this
	maxSettle  = 500 * time.Millisecond // and the wait ends here regardless
)

// settleAfter pauses for settle, then until process pid is idle (or
// maxSettle), and returns how long that second wait took.
func settleAfter(pid int) time.Duration {
	time.Sleep(settle)
	t0 := time.Now()
	for time.Since(t0) < maxSettle {
		c0, ok := procCPU(pid)
		if !ok {
			break
		}
		time.Sleep(idleWindow)
		if c1, _ := procCPU(pid); c1-c0 < idleCPU {
			break
		}
	}
	return time.Since(t0)
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// pageTouchMicros maps 64 MiB of fresh anonymous memory three times and
// times the first write to each page: the cost of each page fault that the
// faults column counts.
func pageTouchMicros() (float64, bool) {
	const n, page = 64 << 20, 4096
	var us []float64
	for range 3 {
		b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			return 0, false
		}
		t := time.Now()
		for i := 0; i < n; i += page {
			b[i] = 1
		}
		us = append(us, float64(time.Since(t).Nanoseconds())/1e3/(n/page))
		syscall.Munmap(b)
	}
	return median(us), true
}

// numGC is how many garbage collections have completed.
func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

// minorFaults is the process's minor page faults so far: a run that
// allocates fresh memory pays one per page.
func minorFaults() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Minflt
}

// keepHeapTunables keep glibc's malloc, under ONNX Runtime, from handing
// freed memory back to the kernel: by default a buffer over 128 KiB (grown
// up to 32 MiB as it adapts) is its own mmap and the heap's free top is
// trimmed, so each run's output (allocated outside ORT's arena) lands on
// fresh pages, and a page's first touch costs 12-40 µs on this VM. A
// one-node model with a 6.5 MB output took 20 ms a run that way against
// 1.2 ms with the heap kept; the interpreter's side has its warm-up and
// Session.Recycle for the same reason.
const keepHeapTunables = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296"

// ortProc is a running tools/ort/bench.js.
type ortProc struct {
	cmd *exec.Cmd
	in  *bufio.Writer
	out *bufio.Scanner
	w   interface{ Close() error }
}

func startORT(model, inputs string, threads int) (*ortProc, error) {
	cmd := exec.Command("node", filepath.Join(moduleRoot(), "tools", "ort", "bench.js"), model, inputs, strconv.Itoa(threads))
	cmd.Stderr = os.Stderr
	if *ortKeepHeap && os.Getenv("GLIBC_TUNABLES") == "" {
		cmd.Env = append(os.Environ(), "GLIBC_TUNABLES="+keepHeapTunables)
	}
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("node tools/ort/bench.js: %w (run `make ort` first)", err)
	}
	p := &ortProc{cmd: cmd, in: bufio.NewWriter(w), out: bufio.NewScanner(r), w: w}
	p.out.Buffer(make([]byte, 1<<20), 1<<20)
	if !p.out.Scan() {
		p.close()
		return nil, fmt.Errorf("ORT did not start")
	}
	return p, nil
}

func (p *ortProc) run(n int) ([]float64, error) {
	fmt.Fprintf(p.in, "%d\n", n)
	if err := p.in.Flush(); err != nil {
		return nil, err
	}
	if !p.out.Scan() {
		return nil, fmt.Errorf("ORT stopped: %v", p.out.Err())
	}
	var res struct{ MS []float64 }
	if err := json.Unmarshal(p.out.Bytes(), &res); err != nil {
		return nil, err
	}
	return res.MS, nil
}

func (p *ortProc) close() {
	p.w.Close()
	p.cmd.Wait()
}

// gemmTable measures SGEMM on one thread at the sizes the issue names,
// next to the FMA peak measured here.
// Times are wall-clock per call (median and best) and thread CPU time over
// all calls: on a loaded machine the best call and the per-CPU-second rate
// show what the code does on a core it has to itself.
func gemmTable() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	peak, sustained := fmaPeak()
	fmt.Printf("single-core FMA peak (%s): %.1f GFLOP/s (best of 2000 short runs of a 12-accumulator loop); sustained %.1f GFLOP/s (median of 100 runs of 10 ms, a 1024³ call's length)\n", simd.Level(), peak, sustained)
	fmt.Printf("%-22s %12s %12s %12s %11s %11s %11s\n", "SGEMM (1 thread)", "median GF/s", "best GF/s", "GF/cpu-s", "best %peak", "cpu %peak", "median %sus")
	for _, s := range []struct {
		name    string
		m, n, k int
		packed  bool // B already in the packed layout, as im2col writes it
	}{{"256³", 256, 256, 256, false}, {"512³", 512, 512, 512, false}, {"1024³", 1024, 1024, 1024, false},
		{"conv M64 K576 N3136", 64, 3136, 576, false}, {"  same, B packed", 64, 3136, 576, true}} {
		r := rand.New(rand.NewPCG(1, 2))
		a, b, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), make([]float32, s.m*s.n)
		gemm := func() { simd.Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, b, s.n, 0, c, s.n, 1) }
		if s.packed {
			bp := make([]float32, simd.PackedBSize(s.k, s.n))
			simd.PackB(false, s.k, s.n, b, s.n, bp)
			gemm = func() { simd.SgemmPacked(false, s.m, s.n, s.k, 1, a, s.k, bp, 0, c, s.n, 1) }
		}
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		reps := max(15, int(60e9/flops))
		gemm() // warm-up
		var gf []float64
		cpu0 := threadCPU()
		for range reps {
			t := time.Now()
			gemm()
			gf = append(gf, flops/time.Since(t).Seconds()/1e9)
		}
		perCPU := flops * float64(reps) / (threadCPU() - cpu0).Seconds() / 1e9
		best := slices.Max(gf)
		pct := func(v, of float64) float64 {
			if of > 0 {
				return 100 * v / of
			}
			return 0
		}
		fmt.Printf("%-22s %12.1f %12.1f %12.1f %10.0f%% %10.0f%% %10.0f%%\n", s.name, median(gf), best, perCPU, pct(best, peak), pct(perCPU, peak), pct(median(gf), sustained))
	}
}

// fmaPeak measures the FMA loop two ways: the best of 2000 short runs
// (about 14 µs each: the core's peak in its luckiest moment) and the
// median of 100 runs of about 10 ms, measured as SGEMM's medians are (the
// machine's interruptions and frequency over a call's length: on the
// shared VM the loop's own median sits about 10% under its best).
func fmaPeak() (best, sustained float64) {
	const rounds = 1 << 14
	var f float64 // flops of one short run
	for range 2000 {
		t := time.Now()
		if f = simd.FMAPeakLoop(rounds); f == 0 {
			return 0, 0
		}
		best = max(best, f/time.Since(t).Seconds()/1e9)
	}
	long := max(1, int(10e-3*best*1e9/f))
	var runs []float64
	for range 100 {
		t := time.Now()
		f := simd.FMAPeakLoop(rounds * long)
		runs = append(runs, f/time.Since(t).Seconds()/1e9)
	}
	return best, median(runs)
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ") + " (1, 5, 15 min; 2 cores)"
}

// moduleRoot is the folder holding go.mod, found upward from the working
// directory.
func moduleRoot() string {
	d, _ := os.Getwd()
	for p := d; ; p = filepath.Dir(p) {
		if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
			return p
		}
		if filepath.Dir(p) == p {
			return d
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// randomInputs writes seeded random inputs for the model in file to dir as
// input_N.pb, in the order of the model's inputs.
func randomInputs(file, dir string, dims map[string]int64) error {
	m, err := onnx.Load(file)
	if err != nil {
		return err
	}
	sess, err := interp.NewSession(m, interp.Options{})
	if err != nil {
		return err
	}
	feeds, err := dataset.Random(sess.Inputs(), 1, dims)
	if err != nil {
		return err
	}
	var names []string
	var ts []*interp.Tensor
	for _, v := range sess.Inputs() {
		names = append(names, v.Name)
		ts = append(ts, feeds[v.Name])
	}
	return dataset.WritePB(dir, "input", names, ts)
}

func parseDims(list string) (map[string]int64, error) {
	dims := map[string]int64{}
	for _, kv := range strings.Split(list, ",") {
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil || n < 1 {
			return nil, fmt.Errorf("-dim %q: want NAME=POSITIVE", kv)
		}
		dims[k] = n
	}
	return dims, nil
}

// cpuName is the model name /proc/cpuinfo gives, for the report.
func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
