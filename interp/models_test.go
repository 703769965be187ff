package interp_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/testdata"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestModels runs every real model on each of its reference data sets and
// compares with the outputs PyTorch computed (rtol 1e-3, atol 1e-4).
func TestModels(t *testing.T) {
	root := testdata.Models(t)
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "model.onnx"))
	if len(dirs) == 0 {
		t.Fatal("no models found")
	}
	for _, path := range dirs {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, err := onnx.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			sess, err := interp.NewSession(m, interp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
			for _, set := range sets {
				feeds := map[string]*interp.Tensor{}
				for i, v := range sess.Inputs() {
					feeds[v.Name] = mustRead(t, filepath.Join(set, fmt.Sprintf("input_%d.pb", i)), v.Type)
				}
				got, err := sess.Run(feeds)
				if err != nil {
					t.Fatalf("%s: %v", set, err)
				}
				for i, v := range sess.Outputs() {
					want := mustRead(t, filepath.Join(set, fmt.Sprintf("output_%d.pb", i)), v.Type)
					if err := Compare(got[i], want, 1e-3, 1e-4); err != nil {
						t.Errorf("%s: output %q: %v", filepath.Base(set), v.Name, err)
					}
				}
			}
		})
	}
}

func mustRead(t *testing.T, path string, ty *onnx.Type) *interp.Tensor {
	t.Helper()
	x, err := readDatum(path, ty)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestMNISTAccuracy evaluates the trained MNIST models on the 2,000 held-out
// digits and checks the accuracy ONNX Runtime measured (../shared/models/README.md).
func TestMNISTAccuracy(t *testing.T) {
	root := testdata.Models(t)
	for _, tc := range []struct {
		model, data string
		want        float64
	}{
		{"mnist_cnn_op13", "cnn-eval", 0.970},
		{"mnist_mlp_op13", "mlp-eval", 0.948},
		{"mnist_cnn_op13_dynbatch", "cnn-eval", 0.970},
		{"mnist_mlp_op13_dynbatch", "mlp-eval", 0.948},
	} {
		t.Run(tc.model, func(t *testing.T) {
			m, err := onnx.Load(filepath.Join(root, tc.model, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			sess, err := interp.NewSession(m, interp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r, err := dataset.Open(filepath.Join(root, "mnist-data", tc.data), sess.Inputs(), dataset.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			correct, total := 0, 0
			for {
				b, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				out, err := sess.Run(b.Inputs)
				if err != nil {
					t.Fatal(err)
				}
				logits := out[0].Floats()
				classes := out[0].Shape[len(out[0].Shape)-1]
				for i, label := range b.Labels {
					row := logits[i*classes : (i+1)*classes]
					best := 0
					for c := range row {
						if row[c] > row[best] {
							best = c
						}
					}
					if int64(best) == label {
						correct++
					}
					total++
				}
			}
			acc := float64(correct) / float64(total)
			t.Logf("%s on %s: accuracy %.4f over %d digits", tc.model, tc.data, acc, total)
			if total != 2000 {
				t.Errorf("evaluated %d digits, want 2000", total)
			}
			if fmt.Sprintf("%.3f", acc) != fmt.Sprintf("%.3f", tc.want) {
				t.Errorf("accuracy %.4f, want %.3f", acc, tc.want)
			}
		})
	}
}

// BenchmarkResNet18Memory runs resnet18 and reports the peak live heap, to
// compare with weights + the two largest activations.
func BenchmarkResNet18Memory(b *testing.B) {
	b.Run("prepacked", func(b *testing.B) { benchMemory(b, interp.Options{Threads: 1}) })
	b.Run("noprepack", func(b *testing.B) { benchMemory(b, interp.Options{Threads: 1, NoPrepack: true}) })
}

func benchMemory(b *testing.B, opts interp.Options) {
	path := filepath.Join(testdata.Models(b), "resnet18_op13", "model.onnx")
	if _, err := os.Stat(path); err != nil {
		b.Fatal(err)
	}
	m, err := onnx.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	sess, err := interp.NewSession(m, opts)
	if err != nil {
		b.Fatal(err)
	}
	x := mustReadB(b, filepath.Join(filepath.Dir(path), "test_data_set_0", "input_0.pb"))
	feeds := map[string]*interp.Tensor{sess.Inputs()[0].Name: x}
	var weights int64
	for _, v := range m.Graph.Initializers {
		weights += v.Const.ByteSize()
	}
	var st interp.Stats
	var peakHeap uint64
	b.ReportAllocs()
	for b.Loop() {
		stop := sampleHeap(&peakHeap)
		_, st, err = sess.RunStats(feeds)
		stop()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(weights)/1e6, "weights-MB")
	b.ReportMetric(float64(st.PeakLiveBytes)/1e6, "peak-live-activations-MB")
	b.ReportMetric(float64(st.Largest[0]+st.Largest[1])/1e6, "two-largest-activations-MB")
	b.ReportMetric(float64(peakHeap)/1e6, "peak-heap-MB")
}

// sampleHeap records the largest live heap (objects in use, after the
// previous GC's accounting) seen while a run is in progress.
func sampleHeap(peak *uint64) (stop func()) {
	runtime.GC()
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(finished)
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > *peak {
				*peak = v
			}
			select {
			case <-done:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	return func() { close(done); <-finished }
}

func mustReadB(b *testing.B, path string) *interp.Tensor {
	x, err := readDatum(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	return x
}
