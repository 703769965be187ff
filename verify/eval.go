package verify

import (
	"errors"
	"fmt"
	"sort"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Accuracy is a classifier's accuracy on labelled samples.
type Accuracy struct {
	Samples int     `json:"samples"`
	Top1    float64 `json:"top1"`
	Top5    float64 `json:"top5"`
}

// ErrNoLabels says an evaluation folder has no labels.npy.
var ErrNoLabels = errors.New("the data folder has no labels.npy, so accuracy cannot be measured")

// Evaluate runs model on every batch of r and measures top-1 and top-5
// accuracy of its first output ([batch, classes] scores) against the labels.
func Evaluate(model *onnx.Model, r dataset.Reader, opts Options) (Accuracy, error) {
	opts = opts.forReference(model)
	s, err := interp.NewSession(model, opts.Interp)
	if err != nil {
		return Accuracy{}, err
	}
	return EvaluateSession(s, r, opts)
}

// EvaluateSession is Evaluate for a session already built; with
// opts.Interp.NoPrepack (a large model) batches run in lockstep groups.
func EvaluateSession(s *interp.Session, r dataset.Reader, opts Options) (Accuracy, error) {
	var a accuracyAcc
	total, done := r.Samples(), 0
	ctx, cancel := opts.runContext()
	defer cancel()
	for {
		batches, err := nextBatches(r, opts.lockstepGroup())
		if err != nil {
			return Accuracy{}, err
		}
		if len(batches) == 0 {
			break
		}
		for _, b := range batches {
			if len(b.Labels) == 0 {
				return Accuracy{}, ErrNoLabels
			}
		}
		outs, ferr := runBatches(ctx, s, batches)
		if ferr != nil {
			return Accuracy{}, fmt.Errorf("on %s: %w", batches[ferr.feed].Source, opts.timeoutErr(ferr.err))
		}
		for j, b := range batches {
			if err := a.add(outs[j][0], b.Labels); err != nil {
				return Accuracy{}, fmt.Errorf("output %q on %s: %w", s.Outputs()[0].Name, b.Source, err)
			}
			done = min(total, done+len(b.Labels))
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		}
	}
	if a.n == 0 {
		return Accuracy{}, errors.New("no labelled samples")
	}
	return a.result(), nil
}

type accuracyAcc struct {
	n, top1, top5 int
}

// add scores one batch: scores is [batch, classes] (or [classes] for one sample).
func (a *accuracyAcc) add(scores *interp.Tensor, labels []int64) error {
	vals, _, _, err := values(scores)
	if err != nil {
		return err
	}
	if len(vals) == 0 || len(vals)%len(labels) != 0 {
		return fmt.Errorf("scores %s do not split into %d rows of class scores", scores, len(labels))
	}
	classes := len(vals) / len(labels)
	idx := make([]int, classes)
	for r, label := range labels {
		row := vals[r*classes : (r+1)*classes]
		for i := range idx {
			idx[i] = i
		}
		// Stable, so ties rank the lower class first, as argmax does.
		sort.SliceStable(idx, func(i, j int) bool { return row[idx[i]] > row[idx[j]] })
		for k := 0; k < min(5, classes); k++ {
			if int64(idx[k]) == label {
				if k == 0 {
					a.top1++
				}
				a.top5++
				break
			}
		}
		a.n++
	}
	return nil
}

func (a *accuracyAcc) result() Accuracy {
	if a.n == 0 {
		return Accuracy{}
	}
	return Accuracy{Samples: a.n, Top1: float64(a.top1) / float64(a.n), Top5: float64(a.top5) / float64(a.n)}
}

// EvaluateDir opens a labelled folder for model and evaluates it.
func EvaluateDir(model *onnx.Model, dir string, opts Options) (Accuracy, error) {
	opts = opts.forReference(model)
	s, err := interp.NewSession(model, opts.Interp)
	if err != nil {
		return Accuracy{}, err
	}
	r, err := dataset.Open(dir, s.Inputs(), opts.dataOptions())
	if err != nil {
		return Accuracy{}, fmt.Errorf("data %s: %w", dir, err)
	}
	defer r.Close()
	return EvaluateSession(s, r, opts)
}
