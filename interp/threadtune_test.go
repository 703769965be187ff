package interp_test

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestThreadsSameBits checks what thread tuning relies on: a model's outputs
// are bit for bit the same on one thread, on two for every node, and on
// every run of a session choosing each node's thread count — including
// the runs that time the choices and the run after the plan is fixed.
func TestThreadsSameBits(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(testdata.Models(t), "*", "model.onnx"))
	real, _ := filepath.Glob(filepath.Join(testdata.RealModels(t), "*.onnx"))
	paths = append(paths, real...)
	if len(paths) == 0 {
		t.Fatal("no models found")
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".onnx")
		if name == "model" {
			name = filepath.Base(filepath.Dir(path))
		}
		t.Run(name, func(t *testing.T) {
			m, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			one, err := interp.NewSession(m, interp.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			// The dims make bench gives the real models' dynamic inputs.
			feeds, err := dataset.Generate(one.Inputs(), 7, dataset.Options{Dims: map[string]int64{"batch_size": 1, "samples": 1760}})
			if err != nil {
				t.Skipf("no random inputs without --dim: %v", err)
			}
			want, err := one.Run(feeds)
			if err != nil {
				t.Fatal(err)
			}
			fixed, err := interp.NewSession(m, interp.Options{Threads: 2, FixedThreads: true})
			if err != nil {
				t.Fatal(err)
			}
			check := func(s *interp.Session, what string) {
				t.Helper()
				got, err := s.Run(feeds)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if err := sameBits(got[i], want[i]); err != nil {
						t.Fatalf("%s: output %d: %v", what, i, err)
					}
				}
			}
			check(fixed, "2 threads")
			tuned, err := interp.NewSession(m, interp.Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			runs := 0
			for ; tuned.Tuning(); runs++ {
				if runs > 100 {
					t.Fatalf("still tuning after %d runs", runs)
				}
				check(tuned, fmt.Sprintf("tuning run %d", runs))
			}
			check(tuned, "tuned: "+tuned.ThreadPlan())
			if p := tuned.ThreadPlan(); !strings.Contains(p, "timed best") && !strings.Contains(p, "not timed") {
				t.Errorf("plan after %d runs: %q", runs, p)
			}
			t.Logf("%d runs to tune: %s", runs, tuned.ThreadPlan())
		})
	}
}

// sameBits compares two runtime values bit for bit (NaNs by their bits).
func sameBits(got, want *interp.Tensor) error {
	if !reflect.DeepEqual(got.Shape, want.Shape) || got.DType != want.DType {
		return fmt.Errorf("got %v %v, want %v %v", got.DType, got.Shape, want.DType, want.Shape)
	}
	switch w := want.Data.(type) {
	case []float32:
		g := got.Data.([]float32)
		for i := range w {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
				return fmt.Errorf("element %d: %v, want %v", i, g[i], w[i])
			}
		}
		return nil
	case []float64:
		g := got.Data.([]float64)
		for i := range w {
			if math.Float64bits(g[i]) != math.Float64bits(w[i]) {
				return fmt.Errorf("element %d: %v, want %v", i, g[i], w[i])
			}
		}
		return nil
	}
	if !reflect.DeepEqual(got.Data, want.Data) || len(got.Elems) != len(want.Elems) {
		return fmt.Errorf("values differ")
	}
	for i := range want.Elems {
		if err := sameBits(got.Elems[i], want.Elems[i]); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	return nil
}

// TestThreadTuningConcurrent runs a tuning session from four goroutines at
// once: every run gives the one-thread bits and the session settles on a
// plan (go test -race checks the tuner's state).
func TestThreadTuningConcurrent(t *testing.T) {
	m, err := onnx.Load(filepath.Join(testdata.Models(t), "mnist_cnn_op13", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	one, err := interp.NewSession(m, interp.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	feeds, err := dataset.Generate(one.Inputs(), 3, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := one.Run(feeds)
	if err != nil {
		t.Fatal(err)
	}
	tuned, err := interp.NewSession(m, interp.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for r := 0; r < 40; r++ {
				got, err := tuned.Run(feeds)
				if err == nil {
					err = sameBits(got[0], want[0])
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if tuned.Tuning() {
		t.Errorf("still tuning after 160 runs: %s", tuned.ThreadPlan())
	}
}
