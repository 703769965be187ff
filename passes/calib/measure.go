package calib

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// Diff accumulates, over batches, how far a tensor's values (got) are from
// the reference's (want): relative L2 error, cosine and largest absolute
// difference. Safe for concurrent use. NaN or Inf in got where want is
// finite makes the cosine and the error NaN (and is counted), so a bound
// such as Cosine ≥ x fails on it.
type Diff struct {
	mu sync.Mutex
	// parts holds each batch's sums, added up in batch order by Result: in
	// the order batches finish, concurrent measurements of one candidate
	// would differ in their last bits, and a choice between two nearly
	// equal candidates would then depend on timing.
	parts      map[int]diffPart
	next       int
	mismatched bool
}

type diffPart struct {
	aa, bb, ab, dd, maxAbs float64
	nonFinite              int
}

// Add compares one batch, numbered after those added before; slices of
// different lengths mark the shapes as mismatched.
func (d *Diff) Add(want, got []float32) {
	d.mu.Lock()
	i := d.next
	d.next++
	d.mu.Unlock()
	d.AddAt(i, want, got)
}

// AddAt compares batch i (Stream's numbering), so that the result does not
// depend on the order in which concurrent batches finish.
func (d *Diff) AddAt(i int, want, got []float32) {
	if len(want) != len(got) {
		d.mu.Lock()
		d.mismatched = true
		d.mu.Unlock()
		return
	}
	var p diffPart
	for k := range want {
		x, y := float64(want[k]), float64(got[k])
		p.aa += x * x
		p.bb += y * y
		p.ab += x * y
		diff := x - y
		p.dd += diff * diff
		p.maxAbs = max(p.maxAbs, math.Abs(diff))
		if !finite(y) && finite(x) {
			p.nonFinite++
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.parts == nil {
		d.parts = map[int]diffPart{}
	}
	if q, ok := d.parts[i]; ok { // a batch compared in pieces
		p = diffPart{q.aa + p.aa, q.bb + p.bb, q.ab + p.ab, q.dd + p.dd, max(q.maxAbs, p.maxAbs), q.nonFinite + p.nonFinite}
	}
	d.parts[i] = p
	d.next = max(d.next, i+1)
}

// total sums the batches in batch order; d.mu must be held.
func (d *Diff) total() diffPart {
	var t diffPart
	for _, i := range slices.Sorted(maps.Keys(d.parts)) {
		p := d.parts[i]
		t.aa, t.bb, t.ab, t.dd = t.aa+p.aa, t.bb+p.bb, t.ab+p.ab, t.dd+p.dd
		t.maxAbs = max(t.maxAbs, p.maxAbs)
		t.nonFinite += p.nonFinite
	}
	return t
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Result returns the relative L2 error ‖want−got‖/‖want‖, the cosine of
// the two and the largest absolute difference; NaN for all three when the
// shapes differed, and NaN error and cosine when got held NaN or Inf where
// want did not.
func (d *Diff) Result() (relL2, cosine, maxAbs float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.total()
	switch {
	case d.mismatched:
		return math.NaN(), math.NaN(), math.NaN()
	case t.nonFinite > 0:
		return math.NaN(), math.NaN(), t.maxAbs
	case t.aa == 0 && t.dd == 0:
		return 0, 1, t.maxAbs
	case t.aa == 0:
		return math.Inf(1), 0, t.maxAbs
	}
	relL2 = math.Sqrt(t.dd / t.aa)
	if t.bb > 0 {
		cosine = t.ab / math.Sqrt(t.aa*t.bb)
	}
	return relL2, cosine, t.maxAbs
}

// ShapesDiffer reports whether two compared slices had different lengths.
func (d *Diff) ShapesDiffer() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mismatched
}

// NonFinite is the number of NaN or Inf values in got where want was finite.
func (d *Diff) NonFinite() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total().nonFinite
}

// Agreement is how closely a candidate model's graph outputs follow the
// reference's on the measured samples.
type Agreement struct {
	// Cosine is the smallest over the float outputs, RelL2 the largest;
	// both NaN when a candidate output holds NaN/Inf where the reference's
	// is finite (NonFinite counts them), so that a bound fails on them.
	Cosine, RelL2 float64
	// Top1 is the share of samples whose argmax of the first output agrees
	// with the reference's, when that output is classifier-shaped ([N, C],
	// C > 1); NaN otherwise.
	Top1      float64
	NonFinite int
	Samples   int
}

// refOutputBudget bounds the reference outputs a Measurer keeps; beyond
// it the reference runs again for each measurement, so memory stays bounded.
const refOutputBudget = 64 << 20

// Measurer compares candidate models' outputs with a reference model's on
// the first n samples of a source. The reference's outputs are computed
// once (kept up to refOutputBudget bytes); each measurement reads the
// samples again from the start.
type Measurer struct {
	c    *passes.Context
	src  *Source
	n    int
	ref  *interp.Session
	outs []*onnx.Value

	mu    sync.Mutex
	cache map[int][]*interp.Tensor
	bytes int
	group Grouping // StreamGroups' for the reference's runs and the candidates'
}

// NewMeasurer runs ref on the first n samples of src (0: all of them) and
// keeps its outputs. src is not consumed: measurements reopen it.
func NewMeasurer(c *passes.Context, ref *onnx.Model, src *Source, n int) (*Measurer, error) {
	sess, err := interp.NewSession(ref, interp.Options{})
	if err != nil {
		return nil, fmt.Errorf("reference model: %w", err)
	}
	if n <= 0 || n > src.Total() {
		n = src.Total()
	}
	ms := &Measurer{c: c, src: src, n: n, ref: sess, outs: ref.Graph.Outputs, cache: map[int][]*interp.Tensor{}, group: GroupingFor(ref)}
	s, err := src.Reopen(n)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if _, err := StreamGroups(c, s, ms.group, func(first int, ins []map[string]*interp.Tensor) error {
		_, err := ms.reference(first, ins)
		return err
	}); err != nil {
		return nil, err
	}
	return ms, nil
}

// reference returns the reference's outputs on the batches from number
// first on, those not kept run together (interp.Session.RunLockstep).
func (ms *Measurer) reference(first int, ins []map[string]*interp.Tensor) ([][]*interp.Tensor, error) {
	outs := make([][]*interp.Tensor, len(ins))
	var todo []int
	ms.mu.Lock()
	for k := range ins {
		if out, ok := ms.cache[first+k]; ok {
			outs[k] = out
		} else {
			todo = append(todo, k)
		}
	}
	ms.mu.Unlock()
	if len(todo) == 0 {
		return outs, nil
	}
	feeds := make([]map[string]*interp.Tensor, len(todo))
	for j, k := range todo {
		feeds[j] = ins[k]
	}
	ran, err := ms.ref.RunLockstep(ms.c, feeds)
	if err != nil {
		return nil, fmt.Errorf("reference model: %w", err)
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for j, k := range todo {
		out := ran[j]
		outs[k] = out
		size := 0
		for _, t := range out {
			size += t.Len() * max(1, t.DType.BitSize()/8)
		}
		if ms.bytes+size <= refOutputBudget {
			ms.cache[first+k] = out
			ms.bytes += size
		}
	}
	return outs, nil
}

// Samples is the number of samples measurements run on.
func (ms *Measurer) Samples() int { return ms.n }

// Agreement measures cand (same inputs and outputs as the reference) on
// the measurer's samples.
func (ms *Measurer) Agreement(cand *onnx.Model) (Agreement, error) {
	return ms.AgreementOn(cand, ms.n)
}

// AgreementOn measures cand on the first n of the measurer's samples.
func (ms *Measurer) AgreementOn(cand *onnx.Model, n int) (Agreement, error) {
	if len(cand.Graph.Outputs) != len(ms.outs) {
		return Agreement{}, fmt.Errorf("candidate model: %d outputs, the reference has %d", len(cand.Graph.Outputs), len(ms.outs))
	}
	sess, err := interp.NewSession(cand, interp.Options{})
	if err != nil {
		return Agreement{}, fmt.Errorf("candidate model: %w", err)
	}
	if n <= 0 || n > ms.n {
		n = ms.n
	}
	src, err := ms.src.Reopen(n)
	if err != nil {
		return Agreement{}, err
	}
	defer src.Close()
	diffs := make([]Diff, len(ms.outs))
	var top1Mu sync.Mutex
	top1, rows, classifier := 0, 0, true
	add := func(i int, want, got []*interp.Tensor) error {
		for j := range diffs {
			x, err := interp.AsFloat32(want[j])
			if err != nil {
				continue // not a float output: nothing to compare
			}
			y, err := interp.AsFloat32(got[j])
			if err != nil {
				return fmt.Errorf("candidate model: output %s: %w", ms.outs[j].Name, err)
			}
			diffs[j].AddAt(i, x, y)
		}
		agree, n, ok := argmaxAgreement(want[0], got[0])
		top1Mu.Lock()
		top1, rows, classifier = top1+agree, rows+n, classifier && ok
		top1Mu.Unlock()
		return nil
	}
	samples, err := StreamGroups(ms.c, src, ms.group, func(first int, ins []map[string]*interp.Tensor) error {
		wants, err := ms.reference(first, ins)
		if err != nil {
			return err
		}
		gots, err := sess.RunLockstep(ms.c, ins)
		if err != nil {
			return fmt.Errorf("candidate model: %w", err)
		}
		for k := range ins {
			if err := add(first+k, wants[k], gots[k]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Agreement{}, err
	}
	a := Agreement{Cosine: 1, RelL2: 0, Top1: math.NaN(), Samples: samples}
	for j := range diffs {
		rel, cos, _ := diffs[j].Result()
		if diffs[j].ShapesDiffer() {
			return Agreement{}, fmt.Errorf("output %s: the reference's and the candidate's shapes differ", ms.outs[j].Name)
		}
		// NaN wins over any number, so a NaN output is never hidden by min/max.
		a.Cosine, a.RelL2 = nanMin(a.Cosine, cos), nanMax(a.RelL2, rel)
		a.NonFinite += diffs[j].NonFinite()
	}
	if classifier && rows > 0 {
		a.Top1 = float64(top1) / float64(rows)
	}
	return a, nil
}

func nanMin(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return math.Min(a, b)
}

func nanMax(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return math.Max(a, b)
}

// argmaxAgreement counts the rows of a [N, C] (C > 1) float output whose
// argmax is the same in want and got; ok is false for any other shape.
func argmaxAgreement(want, got *interp.Tensor) (agree, rows int, ok bool) {
	if len(want.Shape) != 2 || want.Shape[1] < 2 || len(got.Shape) != 2 || got.Shape[0] != want.Shape[0] || got.Shape[1] != want.Shape[1] {
		return 0, 0, false
	}
	x, err1 := interp.AsFloat32(want)
	y, err2 := interp.AsFloat32(got)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	c := want.Shape[1]
	for r := 0; r < want.Shape[0]; r++ {
		if argmax(x[r*c:(r+1)*c]) == argmax(y[r*c:(r+1)*c]) {
			agree++
		}
	}
	return agree, want.Shape[0], true
}

// argmax returns the index of the largest value; a NaN anywhere gives -1,
// which agrees with nothing.
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x != x {
			return -1
		}
		if x > v[best] {
			best = i
		}
	}
	return best
}
