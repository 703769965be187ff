package interp

import (
	"context"
	"fmt"
	"slices"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// RunLockstep runs the main graph on each of feeds, node by node: a node
// runs for every feed before the next node starts, and a node whose result
// is the same in every run (invariantSteps: a weight's per-run decoding
// under Options.NoPrepack, and what reads only such values) runs once for
// all of them. A model whose weights dwarf its activations so reads each
// weight once per call instead of once per feed — from disk, when the
// model is larger than the page cache — and decodes it once. Each feed's
// outputs are those Run gives for it; the activations of all feeds are
// live at once. One feed runs as RunContext runs it.
func (s *Session) RunLockstep(cx context.Context, feeds []map[string]*Tensor) ([][]*Tensor, error) {
	if len(feeds) == 1 {
		out, err := s.RunContext(cx, feeds[0])
		return [][]*Tensor{out}, err
	}
	// One arena for every feed: its reference counts then cover values
	// that several runs hold, so none is recycled or written over in place
	// while another run still reads it.
	a := s.pool.get()
	defer s.pool.put(a)
	var tune *tuneRun
	if s.tune != nil {
		tune = s.tune.final.Load() // the thread plan once chosen; tuning times single runs
	}
	defer simd.Awake(tune.awake(s.opts.Threads))()
	runs := make([]*planRun, len(feeds))
	for j, fd := range feeds {
		in, err := s.feeds(fd)
		if err != nil {
			return nil, &FeedError{j, err}
		}
		ctx := &Ctx{opts: &s.opts, arena: a, tune: tune}
		if cx.Done() != nil {
			ctx.done = cx
		}
		if runs[j], err = ctx.start(s.main, in, nil); err != nil {
			return nil, &FeedError{j, err}
		}
	}
	for i, st := range s.main.steps {
		if s.stackable[i] && s.opts.NoPrepack && stackMatMul(runs, i) {
			for _, r := range runs {
				r.release(i)
			}
			continue
		}
		for j, r := range runs {
			if j > 0 && s.invariant[i] {
				for _, sl := range st.out {
					if sl >= 0 {
						r.f.vals[sl] = runs[0].f.vals[sl]
						a.ref(r.f.vals[sl], 1)
					}
				}
				continue
			}
			if err := r.exec(i); err != nil {
				return nil, &FeedError{j, err}
			}
		}
		for _, r := range runs {
			r.release(i)
		}
	}
	outs := make([][]*Tensor, len(runs))
	for j, r := range runs {
		o, err := r.outputs()
		if err != nil {
			return nil, err
		}
		for k, t := range o {
			if j > 0 && t == outs[0][k] && t.Kind == KindTensor {
				o[k] = cloneTensor(t) // an invariant output: each feed gets its own
			}
		}
		outs[j] = o
		s.handed.note(a, o)
	}
	return outs, nil
}

// FeedError is RunLockstep's error: which feed's run failed, and how.
type FeedError struct {
	Feed int
	Err  error
}

func (e *FeedError) Error() string { return fmt.Sprintf("feed %d: %v", e.Feed, e.Err) }
func (e *FeedError) Unwrap() error { return e.Err }

// maxStackedRows bounds the rows stackMatMul multiplies at once.
const maxStackedRows = 64

// stackMatMul runs MatMul step i for every run at once when each run's A
// has the same shape of at most simd.FewRows rows and B is one float32 or
// float16 matrix (both operands of one type): the rows stacked, one product
// that reads B once (simd.SgemmRows) instead of once a run, each run's
// output a view of its rows (float16: rounded back, as matMul does). The
// sums are bit for bit those of the runs' own products (matmulF32 under
// NoPrepack, on float16 operands widened as matMul widens them). A MatMul
// fused with its weight's dequantization (fuseDQMatMuls) stacks the same
// way, its float32 rows times the weight dequantized a tile at a time.
// false leaves the step to the runs.
func stackMatMul(runs []*planRun, i int) bool {
	r0 := runs[0]
	st := &r0.p.steps[i]
	x0, b := r0.f.vals[st.in[0]], r0.f.vals[st.in[1]]
	if x0 == nil || b == nil || x0.Kind != KindTensor || b.Kind != KindTensor || x0.Rank() < 1 {
		return false
	}
	dt := x0.DType
	var k, n int
	if st.dq != nil { // b is the quantized weight, maybe packed
		var ok bool
		if k, n, ok = st.dq.dims(b); !ok || dt != onnx.Float {
			return false
		}
	} else {
		if b.Rank() != 2 || x0.DType != b.DType || dt != onnx.Float && dt != onnx.Float16 {
			return false
		}
		k, n = b.Shape[0], b.Shape[1]
	}
	if k == 0 || x0.Shape[x0.Rank()-1] != k {
		return false
	}
	rows := x0.Len() / k
	if rows == 0 || rows > simd.FewRows || rows*len(runs) > maxStackedRows || r0.c.Err() != nil {
		return false
	}
	for _, r := range runs[1:] {
		if x := r.f.vals[st.in[0]]; x == nil || x.Kind != KindTensor || x.DType != dt || !slices.Equal(x.Shape, x0.Shape) {
			return false
		}
		for _, s := range st.in[1:] {
			if r.f.vals[s] != r0.f.vals[s] {
				return false
			}
		}
	}
	ctx, a := r0.sub, r0.c.arena
	threads := ctx.opts.Threads
	if r0.c.tune != nil {
		threads = r0.c.tune.stepThreads(i)
	}
	mark := len(a.live)
	stacked := ctx.newRaw(onnx.Float, rows*len(runs), k).Floats()
	for j, r := range runs {
		x := stacked[j*rows*k : (j+1)*rows*k]
		if dt == onnx.Float16 {
			simd.FromFloat16s(x, r.f.vals[st.in[0]].Data.([]uint16))
		} else {
			copy(x, r.f.vals[st.in[0]].Floats())
		}
	}
	c := ctx.newRaw(onnx.Float, rows*len(runs), n).Floats()
	if q := st.dq; q != nil {
		var z *Tensor
		if len(st.in) > 3 {
			z = r0.f.vals[st.in[3]]
		}
		if !q.product(ctx, stacked, rows*len(runs), b, r0.f.vals[st.in[2]], z, c, threads) {
			a.sweep(mark)
			return false
		}
	} else if b.DType == onnx.Float16 {
		simd.SgemmRowsTiles(rows*len(runs), n, k, stacked, k, widenTiles(b), c, n, threads) // widened a tile at a time
	} else {
		simd.SgemmRows(false, false, rows*len(runs), n, k, 1, stacked, k, b.Floats(), n, 0, c, n, threads)
	}
	shape := append(slices.Clone(x0.Shape[:x0.Rank()-1]), n)
	for j, r := range runs {
		y := FromSlice(onnx.Float, shape, c[j*rows*n:(j+1)*rows*n])
		if dt == onnx.Float16 {
			y = ctx.roundFloat32(dt, y)
		}
		r.f.vals[st.out[0]] = y
		a.ref(y, 1)
	}
	a.sweep(mark)
	return true
}

// invariantSteps marks the steps of p whose results are the same in every
// run: those reading only constants (graph inputs excluded, since a feed
// may replace their defaults) and the results of such steps, unless random
// or with subgraphs. Compile folds most such nodes; what is left are the
// ones it may not fold, such as a large weight decoded in every run.
// stackable marks the plain MatMul steps by such a value (stackMatMul).
func invariantSteps(p *plan) (invariant, stackable []bool) {
	known := make([]bool, p.nslots)
	for _, cs := range p.consts {
		known[cs.slot] = true
	}
	for _, s := range p.inputs {
		known[s] = false
	}
	inv := make([]bool, len(p.steps))
	stackable = make([]bool, len(p.steps))
	for i, st := range p.steps {
		nd := st.node
		stackable[i] = nd.OpType == "MatMul" && nd.Domain == "" && len(st.in) == 2 && len(st.out) == 1 && st.in[1] >= 0 && known[st.in[1]] &&
			st.in[0] == p.slots[nd.Input(0)] && st.in[1] == p.slots[nd.Input(1)] && st.out[0] == p.slots[nd.Output(0)] // not a fused step
		if st.dq != nil { // but this fused one: its weight, scales and zero points
			stackable[i] = true
			for _, s := range st.in[1:] {
				stackable[i] = stackable[i] && known[s]
			}
		}
		if noFold[st.node.OpType] || len(st.node.Subgraphs()) > 0 || len(st.node.ImplicitInputs()) > 0 {
			continue
		}
		inv[i] = true
		for _, s := range st.in {
			inv[i] = inv[i] && (s < 0 || known[s])
		}
		if inv[i] {
			for _, s := range st.out {
				if s >= 0 {
					known[s] = true
				}
			}
		}
	}
	return inv, stackable
}

// cloneTensor is a copy of t with its own buffer.
func cloneTensor(t *Tensor) *Tensor {
	c := Make(t.DType, t.Shape...)
	copyElems(c.Data, t.Data, 0, 0, t.Len())
	return c
}
