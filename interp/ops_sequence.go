package interp

import (
	"fmt"

	"github.com/onnxslim/onnxslim/onnx"
)

// Sequence and optional ops. A sequence is a Tensor with Kind KindSequence
// and its tensors in Elems; an optional has zero or one Elems. Elements are
// shared, never copied: values are immutable.

func newSequence(dt onnx.DataType, elems []*Tensor) *Tensor {
	return &Tensor{Kind: KindSequence, DType: dt, Elems: elems}
}

func needSequence(t *Tensor) error {
	if t == nil || t.Kind != KindSequence {
		return fmt.Errorf("expected a sequence, got %s", t)
	}
	return nil
}

// seqPosition resolves a position input (default def) against length n;
// insert positions may equal n.
func seqPosition(t *Tensor, def, n int, insert bool) (int, error) {
	if t == nil {
		return def, nil
	}
	p, err := scalarInt(t, "position")
	if err != nil {
		return 0, err
	}
	hi := int64(n)
	if !insert {
		hi--
	}
	if p < -int64(n) || p > hi {
		return 0, fmt.Errorf("position %d is out of range for a sequence of %d", p, n)
	}
	if p < 0 {
		p += int64(n)
	}
	return int(p), nil
}

func sequenceEmptyBuilder(b *Build) (Kernel, error) {
	dt := onnx.DataType(b.Int("dtype", int64(onnx.Float)))
	return func(*Ctx, []*Tensor) ([]*Tensor, error) {
		return []*Tensor{newSequence(dt, nil)}, nil
	}, nil
}

func sequenceConstruct(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("SequenceConstruct needs at least one input")
	}
	for _, t := range in {
		if err := needTensor(t); err != nil {
			return nil, err
		}
		if t.DType != in[0].DType {
			return nil, fmt.Errorf("sequence elements %s and %s differ in type", in[0], t)
		}
	}
	return []*Tensor{newSequence(in[0].DType, append([]*Tensor{}, in...))}, nil
}

func sequenceAt(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := needSequence(in[0]); err != nil {
		return nil, err
	}
	p, err := seqPosition(in[1], 0, len(in[0].Elems), false)
	if err != nil {
		return nil, err
	}
	return []*Tensor{in[0].Elems[p]}, nil
}

func sequenceInsert(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	s := in[0]
	if err := needSequence(s); err != nil {
		return nil, err
	}
	if err := needTensor(in[1]); err != nil {
		return nil, err
	}
	if len(s.Elems) > 0 && s.DType != in[1].DType {
		return nil, fmt.Errorf("cannot insert %s into %s", in[1], s)
	}
	var pos *Tensor
	if len(in) > 2 {
		pos = in[2]
	}
	p, err := seqPosition(pos, len(s.Elems), len(s.Elems), true)
	if err != nil {
		return nil, err
	}
	elems := make([]*Tensor, 0, len(s.Elems)+1)
	elems = append(append(append(elems, s.Elems[:p]...), in[1]), s.Elems[p:]...)
	return []*Tensor{newSequence(in[1].DType, elems)}, nil
}

func sequenceErase(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	s := in[0]
	if err := needSequence(s); err != nil {
		return nil, err
	}
	var pos *Tensor
	if len(in) > 1 {
		pos = in[1]
	}
	p, err := seqPosition(pos, len(s.Elems)-1, len(s.Elems), false)
	if err != nil {
		return nil, err
	}
	if p < 0 {
		return nil, fmt.Errorf("cannot erase from an empty sequence")
	}
	elems := append(append([]*Tensor{}, s.Elems[:p]...), s.Elems[p+1:]...)
	return []*Tensor{newSequence(s.DType, elems)}, nil
}

func sequenceLength(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := needSequence(in[0]); err != nil {
		return nil, err
	}
	return []*Tensor{Scalar(onnx.Int64, int64(len(in[0].Elems)))}, nil
}

func splitToSequenceBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", 0)
	keepdims := b.Int("keepdims", 1) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if err := needTensor(x); err != nil {
			return nil, err
		}
		a, err := normAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		dim := x.Shape[a]
		var sizes []int
		squeeze := false
		switch {
		case len(in) < 2 || in[1] == nil:
			sizes = make([]int, dim)
			for i := range sizes {
				sizes[i] = 1
			}
			squeeze = !keepdims
		case in[1].Rank() == 0:
			n, err := scalarInt(in[1], "split")
			if err != nil {
				return nil, err
			}
			if n <= 0 {
				return nil, fmt.Errorf("split %d must be positive", n)
			}
			for rest := dim; rest > 0; rest -= int(n) {
				sizes = append(sizes, min(int(n), rest))
			}
		default:
			split, err := toInt64s(in[1])
			if err != nil {
				return nil, err
			}
			if sizes, err = splitSizes(dim, split, 0); err != nil {
				return nil, err
			}
		}
		elems := make([]*Tensor, len(sizes))
		off := 0
		for i, s := range sizes {
			if squeeze {
				elems[i] = sliceAt(ctx, x, a, off)
			} else {
				elems[i] = sliceAxis(ctx, x, a, off, off+s)
			}
			off += s
		}
		return []*Tensor{newSequence(x.DType, elems)}, nil
	}, nil
}

func concatFromSequenceBuilder(b *Build) (Kernel, error) {
	axis := b.Int("axis", 0)
	newAxis := b.Int("new_axis", 0) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		s := in[0]
		if err := needSequence(s); err != nil {
			return nil, err
		}
		if !newAxis {
			out, err := concatTensors(ctx, s.Elems, axis)
			return []*Tensor{out}, err
		}
		var st stacker
		for _, t := range s.Elems {
			if err := st.add(t); err != nil {
				return nil, err
			}
		}
		if len(s.Elems) == 0 {
			return nil, fmt.Errorf("nothing to concatenate")
		}
		out, err := st.stack(ctx, axis, false, s.DType)
		return []*Tensor{out}, err
	}, nil
}

func sequenceMapBuilder(b *Build) (Kernel, error) {
	body, err := b.Subgraph("body")
	if err != nil {
		return nil, err
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if err := needSequence(in[0]); err != nil {
			return nil, err
		}
		n := len(in[0].Elems)
		for _, t := range in {
			if t != nil && t.Kind == KindSequence && len(t.Elems) != n {
				return nil, fmt.Errorf("input sequences differ in length (%d and %d)", n, len(t.Elems))
			}
		}
		outs := make([]*Tensor, body.NumOutputs())
		for k := range outs {
			outs[k] = newSequence(outputElem(body, k), nil)
		}
		for i := 0; i < n; i++ {
			args := make([]*Tensor, len(in))
			for j, t := range in {
				args[j] = t
				if t != nil && t.Kind == KindSequence {
					args[j] = t.Elems[i]
				}
			}
			res, err := ctx.RunGraph(body, args)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			for k, r := range res {
				outs[k].Elems = append(outs[k].Elems, r)
				outs[k].DType = r.DType
			}
		}
		return outs, nil
	}, nil
}

func optionalBuilder(b *Build) (Kernel, error) {
	dt := onnx.Undefined
	if a := b.Node.Attr("type"); a != nil && a.TypeValue != nil {
		t := a.TypeValue
		if t.Kind == onnx.TypeOptional && t.Inner != nil {
			t = t.Inner
		}
		if t.Kind == onnx.TypeSequence && t.Inner != nil {
			t = t.Inner
		}
		dt = t.Elem
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		if len(in) == 0 || in[0] == nil {
			return []*Tensor{{Kind: KindOptional, DType: dt}}, nil
		}
		return []*Tensor{{Kind: KindOptional, DType: in[0].DType, Elems: []*Tensor{in[0]}}}, nil
	}, nil
}

func optionalHasElement(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	has := len(in) > 0 && in[0] != nil && (in[0].Kind != KindOptional || len(in[0].Elems) > 0)
	return []*Tensor{Scalar(onnx.Bool, has)}, nil
}

func optionalGetElement(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	t := in[0]
	if t == nil {
		return nil, fmt.Errorf("missing input")
	}
	if t.Kind != KindOptional {
		return []*Tensor{t}, nil // opset 18 passes tensors and sequences through
	}
	if len(t.Elems) == 0 {
		return nil, fmt.Errorf("the optional is empty")
	}
	return []*Tensor{t.Elems[0]}, nil
}

func init() {
	regVersions("SequenceEmpty", sequenceEmptyBuilder, 11)
	regVersions("SequenceConstruct", noAttrs(sequenceConstruct), 11)
	regVersions("SequenceAt", noAttrs(sequenceAt), 11)
	regVersions("SequenceInsert", noAttrs(sequenceInsert), 11)
	regVersions("SequenceErase", noAttrs(sequenceErase), 11)
	regVersions("SequenceLength", noAttrs(sequenceLength), 11)
	regVersions("SplitToSequence", splitToSequenceBuilder, 11, 24)
	regVersions("ConcatFromSequence", concatFromSequenceBuilder, 11)
	regVersions("SequenceMap", sequenceMapBuilder, 17)
	regVersions("Optional", optionalBuilder, 15)
	regVersions("OptionalHasElement", noAttrs(optionalHasElement), 15, 18)
	regVersions("OptionalGetElement", noAttrs(optionalGetElement), 15, 18)
}
