package interp

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// SVMClassifier and SVMRegressor (ai.onnx.ml 1), as libsvm models exported
// by skl2onnx: support vectors with a kernel (SVC mode) or plain
// coefficient rows (liblinear mode, no support vectors). Scores, votes and
// the binary cases follow ONNX Runtime.

// svmKernel is kernel_type with kernel_params [gamma, coef0, degree].
type svmKernel struct {
	kind                 string
	gamma, coef0, degree float64
}

func svmKernelOf(b *Build) (svmKernel, error) {
	k := svmKernel{kind: b.String("kernel_type", "LINEAR")}
	switch k.kind {
	case "LINEAR", "POLY", "RBF", "SIGMOID":
	default:
		return k, fmt.Errorf("unknown kernel_type %q", k.kind)
	}
	if p := b.Floats("kernel_params", nil); len(p) > 0 {
		if len(p) != 3 {
			return k, fmt.Errorf("kernel_params must be [gamma, coef0, degree], got %d values", len(p))
		}
		k.gamma, k.coef0, k.degree = float64(p[0]), float64(p[1]), float64(p[2])
	}
	return k, nil
}

// eval is K(x, v).
func (k svmKernel) eval(x, v []float64) float64 {
	if k.kind == "RBF" {
		s := 0.0
		for i, a := range x {
			d := a - v[i]
			s += d * d
		}
		return math.Exp(-k.gamma * s)
	}
	s := 0.0
	for i, a := range x {
		s += a * v[i]
	}
	switch k.kind {
	case "POLY":
		return math.Pow(k.gamma*s+k.coef0, k.degree)
	case "SIGMOID":
		return math.Tanh(k.gamma*s + k.coef0)
	}
	return s
}

// svmRows reads X, checking that it has f features per row.
func svmRows(x *Tensor, f int) ([]float64, int, error) {
	xv, n, got, err := mlRows(x)
	if err != nil {
		return nil, 0, err
	}
	if got != f {
		return nil, 0, fmt.Errorf("input has %d features, the model %d", got, f)
	}
	return xv, n, nil
}

type svmClassifier struct {
	kernel      svmKernel
	labels      *Tensor
	nc          int       // classes
	starts      []int     // first support vector of each class
	perClass    []int     // support vectors per class
	sv          []float64 // [V, F]
	coef        []float64 // SVC: [nc-1, V]; linear: [nc, F]
	rho         []float64
	probA       []float64
	probB       []float64
	post        int64
	f, v        int
	allPositive bool
}

func svmClassifierBuilder(b *Build) (Kernel, error) {
	s := &svmClassifier{allPositive: true}
	var err error
	if s.kernel, err = svmKernelOf(b); err != nil {
		return nil, err
	}
	if s.labels, err = svmLabels(b); err != nil {
		return nil, err
	}
	s.nc = s.labels.Len()
	if s.post, err = mlPost(b); err != nil {
		return nil, err
	}
	for _, a := range []struct {
		name string
		dst  *[]float64
	}{{"coefficients", &s.coef}, {"rho", &s.rho}, {"prob_a", &s.probA}, {"prob_b", &s.probB}, {"support_vectors", &s.sv}} {
		if *a.dst, err = mlFloats(b, a.name); err != nil {
			return nil, err
		}
	}
	if len(s.coef) == 0 {
		return nil, fmt.Errorf("coefficients is required")
	}
	if len(s.probA) != len(s.probB) {
		return nil, fmt.Errorf("prob_a (%d) and prob_b (%d) differ in length", len(s.probA), len(s.probB))
	}
	for _, c := range s.coef {
		s.allPositive = s.allPositive && c >= 0
	}
	for _, n := range b.Ints("vectors_per_class", nil) {
		if n < 0 {
			return nil, fmt.Errorf("negative vectors_per_class %d", n)
		}
		s.starts = append(s.starts, s.v)
		s.perClass = append(s.perClass, int(n))
		s.v += int(n)
	}
	pairs := s.nc * (s.nc - 1) / 2
	if s.v > 0 {
		if len(s.perClass) != s.nc {
			return nil, fmt.Errorf("vectors_per_class has %d classes, the labels %d", len(s.perClass), s.nc)
		}
		if len(s.sv)%s.v != 0 || len(s.sv) == 0 {
			return nil, fmt.Errorf("%d support vector values for %d vectors", len(s.sv), s.v)
		}
		s.f = len(s.sv) / s.v
		if len(s.coef) != (s.nc-1)*s.v {
			return nil, fmt.Errorf("%d coefficients, want (classes-1)·vectors = %d", len(s.coef), (s.nc-1)*s.v)
		}
		if len(s.rho) != pairs {
			return nil, fmt.Errorf("%d rho values for %d class pairs", len(s.rho), pairs)
		}
		if len(s.probA) != 0 && len(s.probA) != pairs {
			return nil, fmt.Errorf("%d prob_a values for %d class pairs", len(s.probA), pairs)
		}
	} else {
		s.kernel.kind = "LINEAR" // liblinear mode
		if len(s.coef)%s.nc != 0 {
			return nil, fmt.Errorf("%d coefficients for %d classes", len(s.coef), s.nc)
		}
		s.f = len(s.coef) / s.nc
		if len(s.rho) == 0 {
			return nil, fmt.Errorf("rho is required")
		}
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		xv, n, err := svmRows(in[0], s.f)
		if err != nil {
			return nil, err
		}
		cols := s.scoreColumns()
		label := ctx.New(s.labels.DType, n)
		z := make([]float64, n*cols)
		for r := range n {
			copyElems(label.Data, s.labels.Data, r, s.row(xv[r*s.f:(r+1)*s.f], z[r*cols:(r+1)*cols]), 1)
		}
		scores, err := tensorFromFloat64s(ctx, onnx.Float, []int{n, cols}, z)
		return []*Tensor{label, scores}, err
	}, nil
}

func svmLabels(b *Build) (*Tensor, error) {
	if s := mlStrings(b, "classlabels_strings"); len(s) > 0 {
		return FromSlice(onnx.String, []int{len(s)}, s), nil
	}
	if v := b.Ints("classlabels_ints", nil); len(v) > 0 {
		return FromSlice(onnx.Int64, []int{len(v)}, v), nil
	}
	return nil, fmt.Errorf("classlabels_strings or classlabels_ints is required")
}

// scoreColumns: one score per class, but without probabilities an SVC
// gives one per class pair (two for two classes).
func (s *svmClassifier) scoreColumns() int {
	if s.v > 0 && len(s.probA) == 0 {
		if s.nc > 2 {
			return s.nc * (s.nc - 1) / 2
		}
		return 2
	}
	return s.nc
}

// row scores one input row into z and returns its label's index.
func (s *svmClassifier) row(x []float64, z []float64) int {
	if s.v == 0 { // liblinear: one score per class
		for c := range s.nc {
			z[c] = s.kernel.eval(x, s.coef[c*s.f:(c+1)*s.f]) + s.rho[0]
		}
		best := 0
		for c := range z {
			if z[c] > z[best] {
				best = c
			}
		}
		label := best
		if s.nc == 2 && len(s.probA) == 0 && ((s.allPositive && z[best] >= 0.5) || (!s.allPositive && z[best] > 0)) {
			label = 1
		}
		mlPostTransform(z, s.post)
		return label
	}
	k := make([]float64, s.v)
	for i := range s.v {
		k[i] = s.kernel.eval(x, s.sv[i*s.f:(i+1)*s.f])
	}
	// One-vs-one: the classifier of classes i < j weighs class i's vectors
	// by coefficient row j-1 and class j's by row i; positive votes for i.
	pairs := make([]float64, 0, s.nc*(s.nc-1)/2)
	votes := make([]int, s.nc)
	for i := 0; i < s.nc-1; i++ {
		for j := i + 1; j < s.nc; j++ {
			sum := 0.0
			for m := range s.perClass[i] {
				sum += s.coef[(j-1)*s.v+s.starts[i]+m] * k[s.starts[i]+m]
			}
			for m := range s.perClass[j] {
				sum += s.coef[i*s.v+s.starts[j]+m] * k[s.starts[j]+m]
			}
			sum += s.rho[len(pairs)]
			pairs = append(pairs, sum)
			if sum > 0 {
				votes[i]++
			} else {
				votes[j]++
			}
		}
	}
	best := 0
	for c, v := range votes {
		if v > votes[best] {
			best = c
		}
	}
	switch {
	case len(s.probA) > 0:
		svmProbabilities(s.nc, pairs, s.probA, s.probB, z)
		mlPostTransform(z, s.post)
	case s.nc > 2:
		copy(z, pairs)
		mlPostTransform(z, s.post)
	case s.post == 4:
		z[0], z[1] = mlProbit(pairs[0]), 0
	case s.post == 0:
		z[0], z[1] = -pairs[0], pairs[0]
	case s.post == 2:
		z[0], z[1] = 1-mlLogistic(pairs[0]), mlLogistic(pairs[0])
	default: // ONNX Runtime writes [1-s, s], untransformed
		z[0], z[1] = 1-pairs[0], pairs[0]
	}
	return best
}

// svmProbabilities turns the pairwise decision values into class
// probabilities: Platt's sigmoid per pair (prob_a, prob_b), then libsvm's
// pairwise coupling (Wu, Lin and Weng's method 2), in float32 as ONNX
// Runtime computes it, so that its iterations stop at the same point.
func svmProbabilities(k int, pairs, probA, probB []float64, p []float64) {
	r := make([]float32, k*k)
	idx := 0
	for i := 0; i < k-1; i++ {
		for j := i + 1; j < k; j++ {
			v := float32(pairs[idx])*float32(probA[idx]) + float32(probB[idx])
			q := 1 - mlLogistic32(v)
			q = min(max(q, 1e-7), 1-1e-7)
			r[i*k+j], r[j*k+i] = q, 1-q
			idx++
		}
	}
	q := make([]float32, k*k)
	qp := make([]float32, k)
	pp := make([]float32, k)
	for i := range k {
		pp[i] = 1 / float32(k)
		for j := range i {
			q[i*k+i] += r[j*k+i] * r[j*k+i]
			q[i*k+j] = q[j*k+i]
		}
		for j := i + 1; j < k; j++ {
			q[i*k+i] += r[j*k+i] * r[j*k+i]
			q[i*k+j] = -r[j*k+i] * r[i*k+j]
		}
	}
	eps := 0.005 / float32(k)
	for range 100 {
		var pqp float32
		for i := range k {
			qp[i] = 0
			for j := range k {
				qp[i] += q[i*k+j] * pp[j]
			}
			pqp += pp[i] * qp[i]
		}
		var maxErr float32
		for i := range k {
			maxErr = max(maxErr, float32(math.Abs(float64(qp[i]-pqp))))
		}
		if maxErr < eps {
			break
		}
		for i := range k {
			diff := (-qp[i] + pqp) / q[i*k+i]
			pp[i] += diff
			pqp = (pqp + diff*(diff*q[i*k+i]+2*qp[i])) / (1 + diff) / (1 + diff)
			for j := range k {
				qp[j] = (qp[j] + diff*q[i*k+j]) / (1 + diff)
				pp[j] /= 1 + diff
			}
		}
	}
	for i := range k {
		p[i] = float64(pp[i])
	}
}

func mlLogistic32(v float32) float32 {
	e := 1 / (1 + float32(math.Exp(-math.Abs(float64(v)))))
	if v < 0 {
		return 1 - e
	}
	return e
}

// svmRegressorBuilder: Σ coefficients·K(x, support vector) + rho[0], or
// in liblinear mode (n_supports 0) coefficients·x + rho[0]; one_class turns
// the value into ±1. Output [N, 1].
func svmRegressorBuilder(b *Build) (Kernel, error) {
	kern, err := svmKernelOf(b)
	if err != nil {
		return nil, err
	}
	coef, err := mlFloats(b, "coefficients")
	if err != nil || len(coef) == 0 {
		return nil, fmt.Errorf("coefficients is required")
	}
	rho, err := mlFloats(b, "rho")
	if err != nil || len(rho) == 0 {
		return nil, fmt.Errorf("rho is required")
	}
	sv, err := mlFloats(b, "support_vectors")
	if err != nil {
		return nil, err
	}
	nv := int(b.Int("n_supports", 0))
	oneClass := b.Int("one_class", 0) != 0
	f := len(coef)
	if nv < 0 {
		return nil, fmt.Errorf("negative n_supports %d", nv)
	}
	if nv > 0 {
		if len(sv) == 0 || len(sv)%nv != 0 || len(coef) != nv {
			return nil, fmt.Errorf("%d support vector values and %d coefficients for %d support vectors", len(sv), len(coef), nv)
		}
		f = len(sv) / nv
	} else {
		kern.kind = "LINEAR"
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		xv, n, err := svmRows(in[0], f)
		if err != nil {
			return nil, err
		}
		res := make([]float64, n)
		for r := range n {
			x := xv[r*f : (r+1)*f]
			y := rho[0]
			if nv == 0 {
				y += kern.eval(x, coef)
			} else {
				for i := range nv {
					y += coef[i] * kern.eval(x, sv[i*f:(i+1)*f])
				}
			}
			if oneClass && y > 0 {
				y = 1
			} else if oneClass {
				y = -1
			}
			res[r] = y
		}
		out, err := tensorFromFloat64s(ctx, onnx.Float, []int{n, 1}, res)
		return []*Tensor{out}, err
	}, nil
}

func init() {
	Register(mlDomain, "SVMClassifier", 1, needInputs(1, svmClassifierBuilder))
	Register(mlDomain, "SVMRegressor", 1, needInputs(1, svmRegressorBuilder))
}
