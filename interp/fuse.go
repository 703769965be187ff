package interp

import (
	"math"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// Exact epilogue fusion.
//
// A Conv whose output only a BatchNormalization (inference, constant
// per-channel parameters) reads, and/or whose result only an Add of a
// value computed before the Conv reads (a residual connection), and/or
// whose result only a Relu or Clip (constant bounds) reads, runs those
// ops on each output channel row right after the row's bias, while the
// row is in cache, instead of as separate passes over the whole tensor
// (ONNX Runtime fuses the same chain into its NCHWc convolutions). The
// fused ops' steps stay in the plan but pass the Conv's (already
// finished) float32 output through; for any other element type the Conv
// applies no epilogue and the steps run their own kernels. The per-element arithmetic is the standalone kernels' own
// (bnCoeff and simd.ScaleShift for BatchNormalization, simd.Clip for Relu
// and Clip, or simd.ScaleShiftClip, which is both in one pass), applied to
// the same row slices, so the results are bit-identical to the unfused run. A value that is a graph
// output, or that any other node (or subgraph) reads, is never fused away.

// convEpilogue is the work fused into one Conv, per output channel j: y =
// y·k[j] + sh[j] when k is set, then y + r (r the residual, the other
// input of a fused Add) when add is set, then min(max(y, lo), hi) when
// clip is set (Relu is lo 0, hi +Inf).
type convEpilogue struct {
	k, sh  []float32
	clip   bool
	lo, hi float32
	// add is the fused Add's own kernel, set when one is fused: the Conv
	// then reads the residual as its fourth input, adds it where it has the
	// output's shape and runs add (then the clip) on the whole output where
	// it does not (broadcasting). addAt is the input of the Add the Conv's
	// value is (0 or 1), which keeps the sum's operand order.
	add   Kernel
	addAt int
	// res is one run's residual for one image of the batch, its rows the
	// output channels' (set on a copy per run, never on the compiled one).
	res []float32
}

// batch returns e for image b of a batch of images of size floats: the
// same epilogue with the residual's image b.
func (e *convEpilogue) batch(b, size int) *convEpilogue {
	if e == nil || e.res == nil || b == 0 && len(e.res) == size {
		return e
	}
	c := *e
	c.res = e.res[b*size : (b+1)*size]
	return &c
}

// finishChannels adds bias[j] (nil: none) to row j (of length osz) of the
// m rows of y, then applies epi (nil: none) to the row.
func finishChannels(y []float32, m, osz int, bias []float32, epi *convEpilogue) {
	if epi == nil {
		addChannelBias(y, bias, osz)
		return
	}
	finishColumns(y, osz, 0, m, 0, osz, bias, epi)
}

// one is the unit scale of a bias-only epilogue.
var one = [1]float32{1}

// finishColumns finishes columns [q0, q1) of output channels [j0, j1), row
// j at y[(j-j0)·ldy:]: bias[j] (nil: none) then epi (nil: none). The
// convolutions call it on each piece of output as soon as it is computed,
// while it is in cache; per element it is the same arithmetic as
// finishChannels.
func finishColumns(y []float32, ldy, j0, j1, q0, q1 int, bias []float32, epi *convEpilogue) {
	if epi != nil && epi.res != nil {
		// Bias and BatchNormalization as without the Add, then the sum in
		// the Add's operand order and the clip, row by row.
		pre := *epi
		pre.res, pre.clip = nil, false
		finishColumns(y, ldy, j0, j1, q0, q1, bias, &pre)
		for j := j0; j < j1; j++ {
			row, r := y[(j-j0)*ldy+q0:(j-j0)*ldy+q1], epi.res[j*ldy+q0:j*ldy+q1]
			if epi.addAt == 0 {
				simd.Add(row, row, r)
			} else {
				simd.Add(row, r, row)
			}
			if epi.clip {
				simd.Clip(row, row, epi.lo, epi.hi)
			}
		}
		return
	}
	if bias == nil && epi != nil && epi.k == nil && epi.clip && q0 == 0 && q1 == ldy {
		// One Clip over whole consecutive rows: the same bits as row by row.
		rows := y[:(j1-j0)*ldy]
		simd.Clip(rows, rows, epi.lo, epi.hi)
		return
	}
	rows, n, blk := j1-j0, q1-q0, y[q0:]
	if bias != nil {
		if epi != nil && epi.clip && epi.k == nil {
			// Bias then Relu/Clip in one pass: x·1 + bias is x + bias
			// exactly, and ScaleShiftClip's +0 is Clip's, so the bits are
			// those of AddScalar then Clip.
			simd.ScaleShiftClipRows(blk, ldy, rows, n, one[:], 0, bias[j0:j1], epi.lo, epi.hi)
			return
		}
		simd.ScaleShiftRows(blk, ldy, rows, n, one[:], 0, bias[j0:j1]) // AddScalar a row
	}
	if epi == nil {
		return
	}
	switch {
	case epi.k != nil && epi.clip:
		simd.ScaleShiftClipRows(blk, ldy, rows, n, epi.k[j0:j1], 1, epi.sh[j0:j1], epi.lo, epi.hi)
	case epi.k != nil:
		simd.ScaleShiftRows(blk, ldy, rows, n, epi.k[j0:j1], 1, epi.sh[j0:j1])
	case epi.clip:
		for j := range rows {
			row := blk[j*ldy : j*ldy+n]
			simd.Clip(row, row, epi.lo, epi.hi)
		}
	}
}

// passFloat is the kernel of a step fused into a Conv: its input at (the
// Conv's value), when float32, was already transformed by the Conv's
// epilogue and passes through; else the step's own kernel runs.
func passFloat(at int, orig Kernel) Kernel {
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if t := in[at]; t != nil && t.Kind == KindTensor && t.DType == onnx.Float {
			return []*Tensor{t}, nil
		}
		return orig(ctx, in)
	}
}

// stepGraph indexes which steps of a plan read and produce each slot, for
// fusions that follow chains of single readers.
type stepGraph struct {
	p        *plan
	readers  map[int]int // slot → reads; a subgraph's or the graph output's count 2, so they never fuse
	reader   map[int]int // slot → index of a step reading it
	producer map[int]int // slot → index of the step writing it
}

func newStepGraph(p *plan, g *onnx.Graph) *stepGraph {
	sg := &stepGraph{p: p, readers: map[int]int{}, reader: map[int]int{}, producer: map[int]int{}}
	for i := range p.steps {
		for _, s := range p.steps[i].in {
			if s >= 0 {
				sg.readers[s]++
				sg.reader[s] = i
			}
		}
		for _, v := range p.steps[i].node.ImplicitInputs() {
			if s, ok := p.slots[v]; ok {
				sg.readers[s] += 2 // never fuse a value a subgraph reads
			}
		}
		for _, s := range p.steps[i].out {
			if s >= 0 {
				sg.producer[s] = i
			}
		}
	}
	for _, v := range g.Outputs {
		if s, ok := p.slots[v]; ok {
			sg.readers[s] += 2
		}
	}
	return sg
}

// next returns the only step reading the single output of step i, if that
// output is read by exactly one input of one step.
func (sg *stepGraph) next(i int) (int, bool) {
	st := &sg.p.steps[i]
	if len(st.out) != 1 || st.out[0] < 0 || sg.readers[st.out[0]] != 1 {
		return 0, false
	}
	j := sg.reader[st.out[0]]
	if sg.p.steps[j].in[0] != st.out[0] || !soleOutput(&sg.p.steps[j]) {
		return 0, false
	}
	return j, true
}

// nextAdd returns the Add that alone reads the single output of step i,
// the input at which it reads it, and its other input, where that input
// has its value before step before runs (a graph input, a constant, or an
// output of an earlier step): the residual Add of a ResNet block.
func (sg *stepGraph) nextAdd(i, before int) (j, at, other int, ok bool) {
	st := &sg.p.steps[i]
	if len(st.out) != 1 || st.out[0] < 0 || sg.readers[st.out[0]] != 1 {
		return 0, 0, 0, false
	}
	j = sg.reader[st.out[0]]
	a := &sg.p.steps[j]
	if !isOp(a.node, "Add") || len(a.in) != 2 || !soleOutput(a) {
		return 0, 0, 0, false
	}
	at = 0
	if a.in[1] == st.out[0] {
		at = 1
	}
	other = a.in[1-at]
	if pi, made := sg.producer[other]; other < 0 || made && pi >= before {
		return 0, 0, 0, false
	}
	return j, at, other, true
}

// fuseConvEpilogues finds Conv → [BatchNormalization] → [Add] → [Relu|Clip]
// chains among the steps of p and fuses them (see above). constT holds the
// values known at compile time, by slot.
func (c *compiler) fuseConvEpilogues(p *plan, g *onnx.Graph, constT map[int]*Tensor) {
	sg := newStepGraph(p, g)
	next := sg.next
	for i := range p.steps {
		st := &p.steps[i]
		n := st.node
		if n.Domain != "" && n.Domain != "ai.onnx" || n.OpType != "Conv" || len(st.in) < 2 || st.in[1] < 0 {
			continue
		}
		w := constT[st.in[1]]
		if w == nil || w.Kind != KindTensor || len(w.Shape) < 3 {
			continue
		}
		m := w.Shape[0]
		epi := &convEpilogue{}
		var fused []int
		last := i
		if j, ok := next(last); ok {
			if k, sh, ok := c.bnEpilogue(&p.steps[j], m, constT); ok {
				epi.k, epi.sh = k, sh
				fused = append(fused, j)
				last = j
			}
		}
		residual, addStep := -1, -1
		if j, at, other, ok := sg.nextAdd(last, i); ok && len(st.in) <= 3 {
			epi.add, epi.addAt = p.steps[j].kernel, at
			residual, addStep = other, j
			fused = append(fused, j)
			last = j
		}
		if j, ok := next(last); ok {
			if lo, hi, ok := c.actEpilogue(&p.steps[j], constT); ok {
				epi.clip, epi.lo, epi.hi = true, lo, hi
				fused = append(fused, j)
			}
		}
		if len(fused) == 0 {
			continue
		}
		k, err := convKernel(&Build{Node: n, Opset: opsetFor(c.model, n.Domain), c: c}, epi)
		if err != nil {
			continue
		}
		st.kernel = k
		if residual >= 0 {
			// The residual becomes the Conv's fourth input (after a
			// missing bias, if need be). Its last reader stays the Add.
			for len(st.in) < 3 {
				st.in = append(st.in, -1)
			}
			st.in = append(st.in, residual)
			sg.readers[residual]++
		}
		for _, j := range fused {
			at := 0
			if j == addStep {
				at = epi.addAt
			}
			p.steps[j].kernel = passFloat(at, p.steps[j].kernel)
		}
	}
}

// soleOutput reports whether a step produces exactly one value.
func soleOutput(st *step) bool {
	n := 0
	for _, s := range st.out {
		if s >= 0 {
			n++
		}
	}
	return n == 1 && st.out[0] >= 0
}

func isOp(n *onnx.Node, op string) bool {
	return (n.Domain == "" || n.Domain == "ai.onnx") && n.OpType == op
}

// bnEpilogue returns the per-channel scale and shift of an inference-mode
// BatchNormalization with m channels and constant float32 parameters,
// computed as its kernel computes them.
func (c *compiler) bnEpilogue(st *step, m int, constT map[int]*Tensor) (k, sh []float32, ok bool) {
	n := st.node
	if !isOp(n, "BatchNormalization") || len(st.in) < 5 {
		return nil, nil, false
	}
	b := &Build{Node: n, Opset: opsetFor(c.model, n.Domain), c: c}
	if BatchNormTraining(n, b.Opset) {
		return nil, nil, false
	}
	eps := float64(b.Float("epsilon", 1e-5))
	var ps [4][]float32
	for i := range ps {
		s := st.in[1+i]
		t := constT[s]
		if s < 0 || t == nil || t.Kind != KindTensor || t.DType != onnx.Float || t.Len() != m {
			return nil, nil, false
		}
		ps[i] = t.Floats()
	}
	k, sh = make([]float32, m), make([]float32, m)
	for ch := range k {
		k[ch], sh[ch] = bnCoeff(ps[0][ch], ps[1][ch], ps[2][ch], ps[3][ch], eps)
	}
	return k, sh, true
}

// actEpilogue returns the float32 bounds of a Relu, or of a Clip with
// constant float32 bounds, as their own kernels apply them.
func (c *compiler) actEpilogue(st *step, constT map[int]*Tensor) (lo, hi float32, ok bool) {
	n := st.node
	switch {
	case isOp(n, "Relu"):
		return 0, float32(math.Inf(1)), true // simd.Relu's bounds
	case isOp(n, "Clip"):
		b := &Build{Node: n, Opset: opsetFor(c.model, n.Domain), c: c}
		if b.Opset < 11 {
			return b.Float("min", -math.MaxFloat32), b.Float("max", math.MaxFloat32), true
		}
		bound := [2]float64{math.Inf(-1), math.Inf(1)}
		for i := 1; i < len(st.in) && i <= 2; i++ {
			if st.in[i] < 0 {
				continue
			}
			t := constT[st.in[i]]
			if t == nil || t.Kind != KindTensor || t.DType != onnx.Float || t.Len() != 1 {
				return 0, 0, false
			}
			f, _, _, err := clipBound(t)
			if err != nil {
				return 0, 0, false
			}
			bound[i-1] = f
		}
		// As clipFns converts them for its vector function.
		return float32(bound[0]), float32(bound[1]), true
	}
	return 0, 0, false
}
