package interp_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// benchModels are the models `make bench` compares with ONNX Runtime.
var benchModels = []string{"resnet18_op13", "mobilenet_v2_op13", "transformer_op14", "lstm_op13"}

// benchThreads is interp.Options.Threads for the model benchmarks, from
// ONNXSLIM_BENCH_THREADS (default 1): `go test -cpu` cannot set it per run
// with b.Loop (golang/go#49980).
func benchThreads() int {
	if n, err := strconv.Atoi(os.Getenv("ONNXSLIM_BENCH_THREADS")); err == nil && n > 0 {
		return n
	}
	return 1
}

// loadBench opens a model with its test_data_set_0 inputs.
func loadBench(tb testing.TB, name string, threads int) (*interp.Session, map[string]*interp.Tensor) {
	tb.Helper()
	dir := filepath.Join(testdata.Models(tb), name)
	m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		tb.Fatal(err)
	}
	sess, err := interp.NewSession(m, interp.Options{Threads: threads})
	if err != nil {
		tb.Fatal(err)
	}
	feeds := map[string]*interp.Tensor{}
	for i, v := range sess.Inputs() {
		x, err := readDatum(filepath.Join(dir, "test_data_set_0", "input_"+strconv.Itoa(i)+".pb"), v.Type)
		if err != nil {
			tb.Fatal(err)
		}
		feeds[v.Name] = x
	}
	return sess, feeds
}

// BenchmarkModels times one run of each model and reports allocations per
// run; a warm-up run first fills the session's buffer pool.
func BenchmarkModels(b *testing.B) {
	threads := benchThreads()
	for _, name := range benchModels {
		b.Run(name, func(b *testing.B) {
			sess, feeds := loadBench(b, name, threads)
			benchRuns(b, sess, feeds, 1)
		})
	}
}

// benchRuns times sess's runs on feeds, reporting allocations, after at
// least warm runs that fill its buffer pool and until it has chosen its
// nodes' thread counts.
func benchRuns(b *testing.B, sess *interp.Session, feeds map[string]*interp.Tensor, warm int) {
	for i := 0; i < warm || sess.Tuning(); i++ {
		if _, err := sess.Run(feeds); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sess.Run(feeds); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRealModels times one run and counts the allocations of each
// small third-party model (fp_gender, fp_landmark: 0.2–0.4 ms, where a
// node's fixed costs show) on seeded random inputs, one thread.
func BenchmarkRealModels(b *testing.B) {
	dir := testdata.RealModels(b)
	for _, name := range []string{"fp_gender", "fp_landmark"} {
		b.Run(name, func(b *testing.B) {
			m, err := onnx.Load(filepath.Join(dir, name+".onnx"))
			if err != nil {
				b.Fatal(err)
			}
			sess, err := interp.NewSession(m, interp.Options{Threads: 1})
			if err != nil {
				b.Fatal(err)
			}
			feeds, err := dataset.Random(m.Graph.Inputs, 1, nil)
			if err != nil {
				b.Fatal(err)
			}
			benchRuns(b, sess, feeds, 3)
		})
	}
}

// TestRunHeapSteady runs each model 100 times and checks that the live heap
// afterwards is not larger than after the first few runs: intermediates are
// recycled, nothing accumulates per run.
func TestRunHeapSteady(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for _, name := range []string{"mobilenet_v2_op13", "transformer_op14", "lstm_op13"} {
		t.Run(name, func(t *testing.T) {
			sess, feeds := loadBench(t, name, 2)
			live := func() uint64 {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				return ms.HeapAlloc
			}
			for range 3 {
				if _, err := sess.Run(feeds); err != nil {
					t.Fatal(err)
				}
			}
			before := live()
			for range 100 {
				if _, err := sess.Run(feeds); err != nil {
					t.Fatal(err)
				}
			}
			after := live()
			runtime.KeepAlive(sess) // else the collector may free its buffers before the second reading
			t.Logf("live heap after 3 runs %.1f MB, after 103 runs %.1f MB", float64(before)/1e6, float64(after)/1e6)
			if after > before+before/20+1<<20 {
				t.Errorf("live heap grew from %d to %d bytes over 100 runs", before, after)
			}
		})
	}
}
