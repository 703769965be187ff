package interp

import (
	"fmt"

	"github.com/onnxslim/onnxslim/onnx"
)

// Control flow: If, Loop and Scan run compiled subgraphs through
// Ctx.RunGraph, which lets the bodies read values of the enclosing graphs.

// boolScalar reads a one-element bool tensor.
func boolScalar(t *Tensor, what string) (bool, error) {
	b, ok := t.Data.([]bool)
	if t.Kind != KindTensor || !ok || len(b) != 1 {
		return false, fmt.Errorf("%s must be a one-element bool tensor, got %s", what, t)
	}
	return b[0], nil
}

func ifBuilder(b *Build) (Kernel, error) {
	thenG, err := b.Subgraph("then_branch")
	if err != nil {
		return nil, err
	}
	elseG, err := b.Subgraph("else_branch")
	if err != nil {
		return nil, err
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		c, err := boolScalar(in[0], "cond")
		if err != nil {
			return nil, err
		}
		g := elseG
		if c {
			g = thenG
		}
		return ctx.RunGraph(g, nil)
	}, nil
}

// stacker collects per-iteration tensors into one output with a new axis.
type stacker struct {
	parts []*Tensor
}

func (s *stacker) add(t *Tensor) error {
	if err := needTensor(t); err != nil {
		return err
	}
	if len(s.parts) > 0 {
		p := s.parts[0]
		if p.DType != t.DType || fmt.Sprint(p.Shape) != fmt.Sprint(t.Shape) {
			return fmt.Errorf("scan output changes from %s to %s between iterations", p, t)
		}
	}
	s.parts = append(s.parts, t)
	return nil
}

// stack builds the output with the iterations along axis (in the output's
// rank), in reverse order if reverse. With no iterations the result is an
// empty tensor of type dt.
func (s *stacker) stack(ctx *Ctx, axis int64, reverse bool, dt onnx.DataType) (*Tensor, error) {
	if len(s.parts) == 0 {
		if dt == onnx.Undefined {
			dt = onnx.Float
		}
		return ctx.New(dt, 0), nil
	}
	p := s.parts[0]
	a, err := normAxis(axis, p.Rank()+1)
	if err != nil {
		return nil, err
	}
	shape := append(append(append([]int{}, p.Shape[:a]...), len(s.parts)), p.Shape[a:]...)
	out := ctx.New(p.DType, shape...)
	ost := contiguousStrides(shape)
	dst := append(append([]int{}, ost[:a]...), ost[a+1:]...)
	for i, t := range s.parts {
		pos := i
		if reverse {
			pos = len(s.parts) - 1 - i
		}
		stridedCopy(out.Data, t.Data, t.Shape, pos*ost[a], dst, 0, contiguousStrides(t.Shape))
	}
	return out, nil
}

// outputElem is the declared element type of a subgraph output, if known.
func outputElem(g *Graph, i int) onnx.DataType {
	outs := g.plan.graph.Outputs
	if i < len(outs) && outs[i].Type != nil {
		if outs[i].Type.Kind == onnx.TypeTensor {
			return outs[i].Type.Elem
		}
	}
	return onnx.Undefined
}

func loopBuilder(b *Build) (Kernel, error) {
	body, err := b.Subgraph("body")
	if err != nil {
		return nil, err
	}
	nCarried := b.NumInputs() - 2
	if nCarried < 0 {
		nCarried = 0
	}
	nScan := body.NumOutputs() - 1 - nCarried
	if nScan < 0 || body.NumInputs() != 2+nCarried {
		return nil, fmt.Errorf("the body takes %d inputs and gives %d outputs for %d loop-carried values", body.NumInputs(), body.NumOutputs(), nCarried)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		var trip int64 = -1
		if len(in) > 0 && in[0] != nil {
			m, err := scalarInt(in[0], "M")
			if err != nil {
				return nil, err
			}
			trip = m
		}
		useCond := len(in) > 1 && in[1] != nil
		cond := true
		if useCond {
			c, err := boolScalar(in[1], "cond")
			if err != nil {
				return nil, err
			}
			cond = c
		}
		if trip < 0 && !useCond {
			// The spec's "for (;;)" form ends only when the body fails: refuse it.
			return nil, fmt.Errorf("the loop has neither a trip count M nor a condition, so it would never end")
		}
		carried := make([]*Tensor, nCarried)
		copy(carried, in[min(2, len(in)):])
		scans := make([]stacker, nScan)
		for i := int64(0); (trip < 0 || i < trip) && cond; i++ {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("stopped at iteration %d: %w", i, err)
			}
			args := append([]*Tensor{Scalar(onnx.Int64, i), Scalar(onnx.Bool, cond)}, carried...)
			out, err := ctx.RunGraph(body, args)
			if err != nil {
				return nil, fmt.Errorf("iteration %d: %w", i, err)
			}
			if useCond {
				if cond, err = boolScalar(out[0], "the body's cond output"); err != nil {
					return nil, err
				}
			}
			copy(carried, out[1:1+nCarried])
			for k := range scans {
				if err := scans[k].add(out[1+nCarried+k]); err != nil {
					return nil, err
				}
			}
		}
		res := append([]*Tensor{}, carried...)
		for k := range scans {
			t, err := scans[k].stack(ctx, 0, false, outputElem(body, 1+nCarried+k))
			if err != nil {
				return nil, err
			}
			res = append(res, t)
		}
		return res, nil
	}, nil
}

// sliceAt returns t[..., i, ...] along axis a, without that axis.
func sliceAt(ctx *Ctx, t *Tensor, a, i int) *Tensor {
	s := sliceAxis(ctx, t, a, i, i+1)
	return reshapeView(s, append(append([]int{}, t.Shape[:a]...), t.Shape[a+1:]...))
}

type scanAttrs struct {
	nScanIn                         int
	inAxes, inDirs, outAxes, outDir []int64
}

func (s *scanAttrs) at(v []int64, i int) int64 {
	if i < len(v) {
		return v[i]
	}
	return 0
}

// runScan runs the opset 9+ Scan semantics over states and scan inputs.
func runScan(ctx *Ctx, body *Graph, a *scanAttrs, states, xs []*Tensor) ([]*Tensor, error) {
	seqLen := -1
	axes := make([]int, len(xs))
	for i, x := range xs {
		if err := needTensor(x); err != nil {
			return nil, err
		}
		ax, err := normAxis(a.at(a.inAxes, i), x.Rank())
		if err != nil {
			return nil, err
		}
		axes[i] = ax
		if seqLen >= 0 && x.Shape[ax] != seqLen {
			return nil, fmt.Errorf("scan inputs have different lengths %d and %d", seqLen, x.Shape[ax])
		}
		seqLen = x.Shape[ax]
	}
	if seqLen < 0 {
		return nil, fmt.Errorf("no scan inputs")
	}
	nState := len(states)
	nOut := body.NumOutputs() - nState
	if nOut < 0 || body.NumInputs() != nState+len(xs) {
		return nil, fmt.Errorf("the body takes %d inputs and gives %d outputs for %d states and %d scan inputs", body.NumInputs(), body.NumOutputs(), nState, len(xs))
	}
	st := append([]*Tensor{}, states...)
	scans := make([]stacker, nOut)
	for t := 0; t < seqLen; t++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("stopped at iteration %d of %d: %w", t, seqLen, err)
		}
		args := append([]*Tensor{}, st...)
		for i, x := range xs {
			pos := t
			if a.at(a.inDirs, i) != 0 {
				pos = seqLen - 1 - t
			}
			args = append(args, sliceAt(ctx, x, axes[i], pos))
		}
		out, err := ctx.RunGraph(body, args)
		if err != nil {
			return nil, fmt.Errorf("iteration %d: %w", t, err)
		}
		copy(st, out[:nState])
		for k := range scans {
			if err := scans[k].add(out[nState+k]); err != nil {
				return nil, err
			}
		}
	}
	res := st
	for k := range scans {
		o, err := scans[k].stack(ctx, a.at(a.outAxes, k), a.at(a.outDir, k) != 0, outputElem(body, nState+k))
		if err != nil {
			return nil, err
		}
		res = append(res, o)
	}
	return res, nil
}

func scanBuilder(b *Build) (Kernel, error) {
	body, err := b.Subgraph("body")
	if err != nil {
		return nil, err
	}
	a := &scanAttrs{nScanIn: int(b.Int("num_scan_inputs", 0))}
	if b.Opset < 9 {
		a.inDirs = b.Ints("directions", nil)
		return scan8(body, a), nil
	}
	a.inAxes, a.inDirs = b.Ints("scan_input_axes", nil), b.Ints("scan_input_directions", nil)
	a.outAxes, a.outDir = b.Ints("scan_output_axes", nil), b.Ints("scan_output_directions", nil)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		nState := len(in) - a.nScanIn
		if nState < 0 || a.nScanIn <= 0 {
			return nil, fmt.Errorf("num_scan_inputs %d does not fit %d inputs", a.nScanIn, len(in))
		}
		return runScan(ctx, body, a, in[:nState], in[nState:])
	}, nil
}

// scan8 is Scan-8: a leading batch axis on every input and output, and an
// optional sequence_lens input; each batch entry is scanned separately.
func scan8(body *Graph, a *scanAttrs) Kernel {
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		lens, err := toInt64s(in[0])
		if err != nil {
			return nil, err
		}
		rest := in[1:]
		nState := len(rest) - a.nScanIn
		if nState < 0 || a.nScanIn <= 0 {
			return nil, fmt.Errorf("num_scan_inputs %d does not fit %d inputs", a.nScanIn, len(rest))
		}
		if len(rest) == 0 || rest[0].Rank() == 0 {
			return nil, fmt.Errorf("Scan-8 inputs need a batch axis")
		}
		batch := rest[0].Shape[0]
		if batch == 0 {
			return nil, fmt.Errorf("Scan-8 with an empty batch is not supported")
		}
		perBatch := make([][]*Tensor, batch)
		for bi := 0; bi < batch; bi++ {
			args := make([]*Tensor, len(rest))
			for i, t := range rest {
				if err := needTensor(t); err != nil {
					return nil, err
				}
				if t.Rank() == 0 || t.Shape[0] != batch {
					return nil, fmt.Errorf("input %s does not have batch size %d", t, batch)
				}
				args[i] = sliceAt(ctx, t, 0, bi)
			}
			xs := args[nState:]
			if lens != nil {
				if len(lens) != batch {
					return nil, fmt.Errorf("sequence_lens has %d entries for batch %d", len(lens), batch)
				}
				for i, x := range xs {
					if x.Rank() == 0 || lens[bi] < 0 || lens[bi] > int64(x.Shape[0]) {
						return nil, fmt.Errorf("sequence length %d does not fit %s", lens[bi], x)
					}
					xs[i] = sliceAxis(ctx, x, 0, 0, int(lens[bi]))
				}
			}
			out, err := runScan(ctx, body, a, args[:nState], xs)
			if err != nil {
				return nil, err
			}
			perBatch[bi] = out
		}
		res := make([]*Tensor, len(perBatch[0]))
		for k := range res {
			var s stacker
			for bi := range perBatch {
				if err := s.add(perBatch[bi][k]); err != nil {
					return nil, err
				}
			}
			t, err := s.stack(ctx, 0, false, onnx.Undefined)
			if err != nil {
				return nil, err
			}
			res[k] = t
		}
		return res, nil
	}
}

func init() {
	regVersions("If", ifBuilder, 1, 11, 13, 16, 19, 21, 23, 24, 25)
	regVersions("Loop", loopBuilder, 1, 11, 13, 16, 19, 21, 23, 24, 25)
	regVersions("Scan", scanBuilder, 8, 9, 11, 16, 19, 21, 23, 24, 25)
}
