package quantize

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// randomSamples is the number of seeded random inputs used when no
// calibration folder is given.
const randomSamples = 64

// randomSeed seeds the random calibration inputs (fixed: runs repeat).
const randomSeed = 20240607

// source yields calibration batches one at a time.
type source struct {
	next  func() (map[string]*interp.Tensor, error) // io.EOF after the last
	close func() error
	total int // samples it will yield (an upper bound)
}

// openSource opens the calibration folder, or seeded random inputs when dir
// is empty, limited to `limit` samples (0: the whole folder, or randomSamples).
func openSource(c *passes.Context, inputs []*onnx.Value, dir string, limit int) (*source, error) {
	if dir == "" {
		n := limit
		if n <= 0 {
			n = randomSamples
		}
		i := 0
		return &source{
			next: func() (map[string]*interp.Tensor, error) {
				if i >= n {
					return nil, io.EOF
				}
				i++
				return dataset.Random(inputs, uint64(randomSeed+i), c.Dims)
			},
			close: func() error { return nil },
			total: n,
		}, nil
	}
	r, err := dataset.Open(dir, inputs, dataset.Options{Dims: c.Dims})
	if err != nil {
		return nil, fmt.Errorf("calibration data %s: %w", dir, err)
	}
	total := r.Samples()
	if limit > 0 && limit < total {
		total = limit
	}
	seen := 0
	return &source{
		next: func() (map[string]*interp.Tensor, error) {
			if seen >= total {
				return nil, io.EOF
			}
			b, err := r.Next()
			if err != nil {
				return nil, err
			}
			seen += batchSamples(b.Inputs)
			return b.Inputs, nil
		},
		close: r.Close,
		total: total,
	}, nil
}

// batchSamples is the leading dimension of a batch's first tensor input.
func batchSamples(in map[string]*interp.Tensor) int {
	for _, t := range in {
		if len(t.Shape) > 0 {
			return t.Shape[0]
		}
	}
	return 1
}

// batch is one calibration batch and its place in the source (0, 1, …).
type batch struct {
	i  int
	in map[string]*interp.Tensor
}

// stream runs visit on every batch of src with up to GOMAXPROCS batches in
// flight; visit must be safe for concurrent use. i numbers the batches in
// the source's order, the same on every pass over the same source. Only the
// batches in flight (and what visit keeps) are ever held in memory.
func stream(c *passes.Context, src *source, visit func(i int, in map[string]*interp.Tensor) error) (int, error) {
	workers := runtime.GOMAXPROCS(0)
	batches := make(chan batch)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		samples  int
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := visit(b.i, b.in); err != nil {
					fail(err)
				}
			}
		}()
	}
	for i := 0; ; i++ {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			break
		}
		if err := c.Err(); err != nil {
			fail(err)
			break
		}
		in, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail(err)
			break
		}
		samples += batchSamples(in)
		batches <- batch{i, in}
	}
	close(batches)
	wg.Wait()
	return samples, firstErr
}

// withOutputs returns a copy of m whose graph also outputs the named values
// (the activations calibration observes), and the output index of each.
func withOutputs(m *onnx.Model, names []string) (*onnx.Model, map[string]int, error) {
	cp, err := cloneModel(m)
	if err != nil {
		return nil, nil, err
	}
	g := cp.Graph
	idx := map[string]int{}
	for i, v := range g.Outputs {
		idx[v.Name] = i
	}
	for _, name := range names {
		if _, ok := idx[name]; ok {
			continue
		}
		v := g.ValueByName(name)
		if v == nil {
			return nil, nil, fmt.Errorf("tensor %s: not found in the main graph", name)
		}
		idx[name] = len(g.Outputs)
		g.Outputs = append(g.Outputs, v)
	}
	return cp, idx, nil
}

// cloneModel copies a model through the codec (payloads are shared).
func cloneModel(m *onnx.Model) (*onnx.Model, error) {
	b, err := onnx.Encode(m)
	if err != nil {
		return nil, fmt.Errorf("copying the model: %w", err)
	}
	cp, err := onnx.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("copying the model: %w", err)
	}
	cp.Dir = m.Dir
	return cp, nil
}

// calibrate streams the calibration data through a copy of m that outputs
// the named activations and returns their statistics; for the tensors in
// chanAxis it also keeps the mean of each channel along that axis.
func calibrate(c *passes.Context, m *onnx.Model, names []string, chanAxis map[string]int, cfg *config) (map[string]*tensorStats, int, error) {
	cm, idx, err := withOutputs(m, names)
	if err != nil {
		return nil, 0, fmt.Errorf("calibration: %w", err)
	}
	sess, err := interp.NewSession(cm, interp.Options{})
	if err != nil {
		return nil, 0, fmt.Errorf("calibration: %w", err)
	}
	src, err := openSource(c, sess.Inputs(), cfg.calib, cfg.samples)
	if err != nil {
		return nil, 0, err
	}
	defer src.close()
	stats := map[string]*tensorStats{}
	for _, n := range names {
		stats[n] = newTensorStats(cfg.method != "minmax")
	}
	n, err := stream(c, src, func(_ int, in map[string]*interp.Tensor) error {
		outs, err := sess.Run(in)
		if err != nil {
			return fmt.Errorf("calibration run: %w", err)
		}
		for _, name := range names {
			x, err := interp.AsFloat32(outs[idx[name]])
			if err != nil {
				return fmt.Errorf("calibration: tensor %s: %w", name, err)
			}
			stats[name].add(x)
			if axis, ok := chanAxis[name]; ok {
				stats[name].addChannels(x, outs[idx[name]].Shape, axis)
			}
		}
		return nil
	})
	return stats, n, err
}

// foldConstDQ returns a copy of m where every DequantizeLinear of constants
// (the quantized weights) is replaced by its float result: the same numbers,
// computed once instead of on every run, for the report's repeated runs.
func foldConstDQ(m *onnx.Model) (*onnx.Model, error) {
	cp, err := cloneModel(m)
	if err != nil {
		return nil, err
	}
	g := cp.Graph
	var dead []*onnx.Node
	for _, n := range g.Nodes {
		if n.OpType != "DequantizeLinear" || n.Domain != "" || n.Output(0).IsGraphOutput() {
			continue
		}
		var ins []*interp.Tensor
		for _, v := range n.Inputs() {
			t := passes.ConstTensor(v)
			if v != nil && t == nil {
				ins = nil
				break
			}
			var x *interp.Tensor
			if t != nil {
				if x, err = interp.FromONNX(t); err != nil {
					return nil, err
				}
			}
			ins = append(ins, x)
		}
		if ins == nil {
			continue
		}
		outs, err := interp.EvalNode(n, cp.Opset(""), ins)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", onnx.NodePlace(n), err)
		}
		ot, err := interp.ToONNX(n.Output(0).Name, outs[0])
		if err != nil {
			return nil, err
		}
		onnx.ReplaceAllUsesWith(n.Output(0), passes.AddConst(cp, g, n.Output(0).Name+"_folded", ot))
		dead = append(dead, n)
	}
	g.RemoveNodes(dead...)
	return cp, nil
}
