package interp

import (
	"fmt"
	"math"
)

// Loss functions: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss,
// computed in float64 and rounded to the input type.

type lossAttrs struct {
	reduction   string
	ignore      int64
	hasIgnore   bool
	withLogProb bool
}

func readLossAttrs(b *Build) (lossAttrs, error) {
	a := lossAttrs{
		reduction: b.String("reduction", "mean"),
		ignore:    b.Int("ignore_index", 0),
		hasIgnore: b.Has("ignore_index"),
	}
	switch a.reduction {
	case "none", "sum", "mean":
	default:
		return a, fmt.Errorf("unknown reduction %q (want none, sum or mean)", a.reduction)
	}
	return a, nil
}

// nllLoss computes the loss of log-probabilities lp of shape (N, C, d...) for
// the labels; weight may be nil. It returns the loss tensor of the labels'
// shape, or a scalar when reduced.
func nllLoss(a *lossAttrs, lp []float64, shape []int, labels []int64, weight []float64) ([]float64, []int, error) {
	if len(shape) < 2 {
		return nil, nil, fmt.Errorf("input must have rank ≥ 2 (N, C, ...), got shape %v", shape)
	}
	n, c := shape[0], shape[1]
	inner := prod(shape[2:])
	if len(labels) != n*inner {
		return nil, nil, fmt.Errorf("target has %d elements, want %d for input shape %v", len(labels), n*inner, shape)
	}
	if weight != nil && len(weight) != c {
		return nil, nil, fmt.Errorf("weight has %d elements for %d classes", len(weight), c)
	}
	loss := make([]float64, n*inner)
	var sumLoss, sumW float64
	for i := 0; i < n; i++ {
		for j := 0; j < inner; j++ {
			t := labels[i*inner+j]
			if a.hasIgnore && t == a.ignore {
				continue
			}
			if t < 0 || t >= int64(c) {
				return nil, nil, fmt.Errorf("target %d is out of range [0, %d)", t, c)
			}
			w := 1.0
			if weight != nil {
				w = weight[t]
			}
			l := -lp[(i*c+int(t))*inner+j] * w
			loss[i*inner+j] = l
			sumLoss += l
			sumW += w
		}
	}
	switch a.reduction {
	case "sum":
		return []float64{sumLoss}, []int{}, nil
	case "mean":
		return []float64{sumLoss / sumW}, []int{}, nil
	}
	return loss, append([]int{n}, shape[2:]...), nil
}

func buildLoss(softmaxFirst bool) Builder {
	return func(b *Build) (Kernel, error) {
		a, err := readLossAttrs(b)
		if err != nil {
			return nil, err
		}
		a.withLogProb = softmaxFirst && b.HasOutput(1)
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			if len(in) < 2 || in[0] == nil || in[1] == nil {
				return nil, fmt.Errorf("the op needs its input and target")
			}
			x, err := attnIn[float64](in[0])
			if err != nil {
				return nil, err
			}
			labels, err := intsOf(in[1])
			if err != nil {
				return nil, fmt.Errorf("target: %w", err)
			}
			var weight []float64
			if len(in) > 2 && in[2] != nil {
				if weight, err = attnIn[float64](in[2]); err != nil {
					return nil, fmt.Errorf("weight: %w", err)
				}
			}
			shape := in[0].Shape
			lp := x
			if softmaxFirst {
				if len(shape) < 2 {
					return nil, fmt.Errorf("scores must have rank ≥ 2 (N, C, ...), got shape %v", shape)
				}
				lp = make([]float64, len(x))
				copy(lp, x)
				logSoftmaxAxis1(lp, shape[0], shape[1], prod(shape[2:]))
			}
			loss, lshape, err := nllLoss(&a, lp, shape, labels, weight)
			if err != nil {
				return nil, err
			}
			out, err := attnOut(in[0].DType, lshape, loss)
			if err != nil {
				return nil, err
			}
			outs := []*Tensor{out, nil}
			if a.withLogProb {
				if outs[1], err = attnOut(in[0].DType, shape, lp); err != nil {
					return nil, err
				}
			}
			return outs, nil
		}, nil
	}
}

// logSoftmaxAxis1 replaces x, of shape (n, c, inner), by its log-softmax over c.
func logSoftmaxAxis1(x []float64, n, c, inner int) {
	for i := 0; i < n; i++ {
		for j := 0; j < inner; j++ {
			base := i*c*inner + j
			m := math.Inf(-1)
			for k := 0; k < c; k++ {
				m = max(m, x[base+k*inner])
			}
			var s float64
			for k := 0; k < c; k++ {
				s += math.Exp(x[base+k*inner] - m)
			}
			ls := m + math.Log(s)
			for k := 0; k < c; k++ {
				x[base+k*inner] -= ls
			}
		}
	}
}

func init() {
	for _, v := range []int64{12, 13, 22} {
		Register("", "NegativeLogLikelihoodLoss", v, buildLoss(false))
	}
	for _, v := range []int64{12, 13} {
		Register("", "SoftmaxCrossEntropyLoss", v, buildLoss(true))
	}
}
