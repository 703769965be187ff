package interp

import (
	"context"
	"time"

	"github.com/onnxslim/onnxslim/onnx"
)

// NodeTime is one node's share of a profiled run.
type NodeTime struct {
	Node *onnx.Node
	// Start is the node's start, from the start of the run.
	Start, Dur time.Duration
	// Threads is how many goroutines the node's kernel could use.
	Threads int
	// In and Out are the shapes the node read and wrote (nil for a
	// missing optional input or a non-tensor value).
	In, Out [][]int
}

// Profile is the per-node timing of one run of the main graph (the nodes
// of If/Loop/Scan bodies count in their parent node's time).
type Profile struct {
	Nodes []NodeTime
	Total time.Duration
}

type profiler struct {
	start time.Time
	p     *Profile
}

func (pr *profiler) record(n *onnx.Node, threads int, t0 time.Time, in, out []*Tensor) {
	pr.p.Nodes = append(pr.p.Nodes, NodeTime{Node: n, Start: t0.Sub(pr.start), Dur: time.Since(t0), Threads: threads, In: shapesOf(in), Out: shapesOf(out)})
}

func shapesOf(ts []*Tensor) [][]int {
	out := make([][]int, len(ts))
	for i, t := range ts {
		if t != nil && t.Kind == KindTensor {
			out[i] = append([]int(nil), t.Shape...)
		}
	}
	return out
}

// RunProfile is Run, also timing every node of the main graph. The timer
// costs about a microsecond a node, so profile a model, not a benchmark.
func (s *Session) RunProfile(inputs map[string]*Tensor) ([]*Tensor, *Profile, error) {
	in, err := s.feeds(inputs)
	if err != nil {
		return nil, nil, err
	}
	pr := &profiler{start: time.Now(), p: &Profile{}}
	out, err := s.runMain(&Ctx{prof: pr}, in)
	pr.p.Total = time.Since(pr.start)
	return out, pr.p, err
}

// StepVisitor sees each step a run executes, in every graph (an If's
// branch, each trip of a Loop's body), with the values it read and wrote;
// they belong to the run and may be recycled after the call. A step may
// stand for several nodes the compiler fused (a Conv with the
// BatchNormalization and activation after it).
type StepVisitor func(n *onnx.Node, in, out []*Tensor)

// RunVisit is RunContext, calling visit after every step.
func (s *Session) RunVisit(cx context.Context, inputs map[string]*Tensor, visit StepVisitor) ([]*Tensor, error) {
	in, err := s.feeds(inputs)
	if err != nil {
		return nil, err
	}
	ctx := &Ctx{visit: visit}
	if cx.Done() != nil {
		ctx.done = cx
	}
	return s.runMain(ctx, in)
}
