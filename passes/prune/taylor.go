package prune

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/interp/grad"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
)

// The Taylor criterion estimates how much the loss changes when a weight
// (or a channel) is removed, to first order: |w·∂L/∂w| per weight, and
// |Σ a·∂L/∂a| over a channel's activations a. The loss (interp/grad) is
// cross-entropy on the calibration folder's labels.npy when it has one;
// without labels, cross-entropy against the model's own top-1 (the
// pseudo-label proxy, see interp/grad). Per-batch terms are summed in
// absolute value, so that opposite signs on different samples do not
// cancel (Molchanov et al. 2019).

// gradVisit receives one batch's gradients.
type gradVisit func(i int, grads map[string]*interp.Tensor, acts map[string]*interp.Tensor) error

// taylorData says where the gradients' data and labels came from.
type taylorData struct {
	origin string
	labels string // the labels file, "" for the label-free loss
}

// streamGradients runs grad.Gradients with respect to wrt on every
// calibration batch (labels from labels.npy when the calibration folder has
// one), up to GOMAXPROCS batches in flight, and hands visit the gradients
// and the values of the named activations.
func streamGradients(c *passes.Context, m *onnx.Model, cfg *config, src *calib.Source, wrt, acts []string, visit gradVisit) (taylorData, error) {
	// The model also outputs the activations whose values the scores need.
	gm, idx, err := calib.WithOutputs(m, acts)
	if err != nil {
		return taylorData{}, err
	}
	var actSess *interp.Session
	if len(acts) > 0 {
		if actSess, err = interp.NewSession(gm, interp.Options{Threads: 1}); err != nil {
			return taylorData{}, err
		}
	}
	loss := grad.Loss{Output: m.Graph.Outputs[0].Name}
	one := func(i int, in map[string]*interp.Tensor, labels []int64, where string) error {
		l := loss
		l.Labels = labels
		_, gs, err := grad.Gradients(m, in, l, wrt)
		if err != nil {
			return fmt.Errorf("gradients on batch %d%s: %w", i, where, err)
		}
		values := map[string]*interp.Tensor{}
		if actSess != nil {
			outs, err := actSess.RunContext(c, in)
			if err != nil {
				return fmt.Errorf("batch %d: %w", i, err)
			}
			for _, a := range acts {
				values[a] = outs[idx[a]]
			}
		}
		return visit(i, gs, values)
	}
	dir := cfg.calib
	if dir == "" {
		dir = c.Inputs
	}
	labelsPath := filepath.Join(dir, "labels.npy")
	if _, statErr := os.Stat(labelsPath); dir == "" || statErr != nil {
		s, err := src.Reopen(0)
		if err != nil {
			return taylorData{}, err
		}
		defer s.Close()
		_, err = calib.Stream(c, s, func(i int, in map[string]*interp.Tensor) error { return one(i, in, nil, "") })
		return taylorData{origin: s.Origin()}, err
	}
	// A labelled folder: read it with its labels (calib.Source yields inputs only).
	r, err := dataset.Open(dir, calibInputs(m), dataset.Options{Dims: c.Dims, Fill: c.Fill})
	if err != nil {
		return taylorData{}, fmt.Errorf("calibration data %s: %w", dir, err)
	}
	defer r.Close()
	type job struct {
		i      int
		in     map[string]*interp.Tensor
		labels []int64
	}
	jobs := make(chan job)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := one(j.i, j.in, j.labels, " with "+labelsPath); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	seen := 0
	for i := 0; cfg.samples <= 0 || seen < cfg.samples; i++ {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop || c.Err() != nil {
			break
		}
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("calibration data %s: %w", dir, err)
			}
			mu.Unlock()
			break
		}
		seen += calib.BatchSamples(b.Inputs)
		jobs <- job{i, b.Inputs, b.Labels}
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil {
		firstErr = c.Err()
	}
	return taylorData{origin: fmt.Sprintf("%s with labels (%d samples)", dir, seen), labels: labelsPath}, firstErr
}

// calibInputs are the graph inputs a caller feeds.
func calibInputs(m *onnx.Model) []*onnx.Value {
	var out []*onnx.Value
	for _, v := range m.Graph.Inputs {
		if v.Const == nil {
			out = append(out, v)
		}
	}
	return out
}

// taylorWeightScores returns Σ_batches |w·∂L/∂w| for every weight of every
// layer, on the float model.
func taylorWeightScores(c *passes.Context, float *onnx.Model, layers []*layer, src *calib.Source, cfg *config) ([][]float64, error) {
	wrt := make([]string, len(layers))
	ws := make([][]float32, len(layers))
	out := make([][]float64, len(layers))
	for i, l := range layers {
		wrt[i] = l.weight.Name
		w, err := l.weights()
		if err != nil {
			return nil, err
		}
		ws[i] = w
		out[i] = make([]float64, len(w))
	}
	var mu sync.Mutex
	data, err := streamGradients(c, float, cfg, src, wrt, nil, func(_ int, gs, _ map[string]*interp.Tensor) error {
		for i, name := range wrt {
			g, err := interp.AsFloat32(gs[name])
			if err != nil || len(g) != len(ws[i]) {
				return fmt.Errorf("%s: gradient of %s: %v", layers[i].name(), name, err)
			}
			mu.Lock()
			for k, v := range g {
				out[i][k] += math.Abs(float64(v) * float64(ws[i][k]))
			}
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.Logf("taylor scores from gradients on %s", data.origin)
	return out, nil
}
