package calib

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// Stream runs visit on every batch of src with up to GOMAXPROCS batches in
// flight; visit must be safe for concurrent use. i numbers the batches in
// the source's order, the same on every pass over the same samples. Only
// the batches in flight (and what visit keeps) are held in memory. It
// returns the number of samples visited; the first error stops it.
func Stream(c *passes.Context, src *Source, visit func(i int, in map[string]*interp.Tensor) error) (int, error) {
	return StreamGroups(c, src, Grouping{Batches: 1, Workers: runtime.GOMAXPROCS(0)}, func(first int, ins []map[string]*interp.Tensor) error {
		return visit(first, ins[0])
	})
}

// Grouping is how StreamGroups hands out batches: up to Batches
// consecutive ones at a time, to up to Workers groups in flight.
type Grouping struct{ Batches, Workers int }

// GroupingFor is the grouping for runs of m: for a large model
// (interp.OptionsFor sets NoPrepack) one group of four batches at a time,
// run in lockstep (interp.Session.RunLockstep) so that each weight is read and decoded once
// per group, not once per batch and worker; else one batch per worker.
func GroupingFor(m *onnx.Model) Grouping {
	if interp.OptionsFor(m, interp.Options{}).NoPrepack {
		return Grouping{Batches: 4, Workers: 1}
	}
	return Grouping{Batches: 1, Workers: runtime.GOMAXPROCS(0)}
}

// StreamGroups is Stream handing visit groups of consecutive batches (g);
// first is the number of a group's first batch.
func StreamGroups(c *passes.Context, src *Source, g Grouping, visit func(first int, ins []map[string]*interp.Tensor) error) (int, error) {
	workers := max(1, g.Workers)
	groups := make(chan batchGroup)
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
			for b := range groups {
				if err := visit(b.first, b.ins); err != nil {
					fail(err)
				}
			}
		}()
	}
	var cur batchGroup
	flush := func() {
		if len(cur.ins) > 0 {
			groups <- cur
		}
		cur = batchGroup{}
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
		in, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail(err)
			break
		}
		samples += BatchSamples(in)
		if len(cur.ins) == 0 {
			cur.first = i
		}
		cur.ins = append(cur.ins, in)
		if len(cur.ins) >= max(1, g.Batches) {
			flush()
		}
	}
	mu.Lock()
	stop := firstErr != nil
	mu.Unlock()
	if !stop {
		flush()
	}
	close(groups)
	wg.Wait()
	return samples, firstErr
}

// batchGroup is consecutive calibration batches, from number first on.
type batchGroup struct {
	first int
	ins   []map[string]*interp.Tensor
}

// Prefix returns a clone of m whose main graph outputs the named tensors
// alone, in that order, without the nodes they do not depend on: a run of
// it costs only the part of the model that computes them.
func Prefix(m *onnx.Model, names []string) (*onnx.Model, error) {
	cp := m.Clone()
	g := cp.Graph
	var outs []*onnx.Value
	for _, name := range names {
		v := g.ValueByName(name)
		if v == nil {
			return nil, fmt.Errorf("tensor %s: not found in the main graph", name)
		}
		outs = append(outs, v)
	}
	needed := map[*onnx.Node]bool{}
	stack := slices.Clone(outs)
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n := v.Producer(); n != nil && n.Graph == g && !needed[n] {
			needed[n] = true
			for _, in := range slices.Concat(n.Inputs(), n.ImplicitInputs()) {
				if in != nil {
					stack = append(stack, in)
				}
			}
		}
	}
	var dead []*onnx.Node
	for _, n := range g.Nodes {
		if !needed[n] {
			dead = append(dead, n)
		}
	}
	g.Outputs = outs
	g.RemoveNodes(dead...)
	return cp, nil
}

// WithOutputs returns a clone of m whose main graph also outputs the named
// tensors, and the output index of each name (graph outputs keep theirs).
func WithOutputs(m *onnx.Model, names []string) (*onnx.Model, map[string]int, error) {
	cp := m.Clone()
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

// Activations runs m on every batch of src (in parallel, as Stream; a
// large model in lockstep groups, GroupingFor) and
// hands visit the values of the named tensors of m's main graph (graph
// outputs included) and the batch's number. It returns the samples seen.
func Activations(c *passes.Context, m *onnx.Model, names []string, src *Source, visit func(i int, acts map[string]*interp.Tensor) error) (int, error) {
	cm, idx, err := WithOutputs(m, names)
	if err != nil {
		return 0, err
	}
	sess, err := interp.NewSession(cm, interp.Options{})
	if err != nil {
		return 0, err
	}
	return StreamGroups(c, src, GroupingFor(m), func(first int, ins []map[string]*interp.Tensor) error {
		outs, err := sess.RunLockstep(c, ins)
		if err != nil && len(ins) == 1 {
			return fmt.Errorf("batch %d: %w", first, err)
		}
		if err != nil {
			return fmt.Errorf("batches %d–%d: %w", first, first+len(ins)-1, err)
		}
		for k, o := range outs {
			acts := make(map[string]*interp.Tensor, len(names))
			for _, name := range names {
				acts[name] = o[idx[name]]
			}
			if err := visit(first+k, acts); err != nil {
				return err
			}
		}
		return nil
	})
}
