package verify

import (
	"math"
	"math/rand/v2"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Float32 rounding makes two correct evaluations of one model differ: a
// lossless rewrite (BatchNormalization folded into a Conv, a MatMul and an
// Add fused into a Gemm) rounds its new weights and sums in another order.
// How far that moves an output depends on the model — an output that is a
// small difference of large terms moves a lot in relative terms — so a
// fixed tolerance either rejects correct rewrites of ill-conditioned models
// or lets real bugs through on well-conditioned ones.
//
// The noise floor measures it instead: the reference is evaluated again
// with every float32 weight moved by at most one unit in the last place, at
// random — rounding of the kind a rewrite introduces — and the change of
// each output is its own rounding noise on these inputs. A candidate whose
// error stays within Tolerance.NoiseMultiple times that noise computes the
// same function up to float32 rounding.

// NoiseFloor is an output's own float32 rounding noise on the inputs
// compared: the reference against itself with its weights moved by ±1 ulp.
type NoiseFloor struct {
	RelL2  Float `json:"rel_l2"`
	MaxAbs Float `json:"max_abs"`
}

// noiseWeightBytes bounds the float32 weights of a reference whose noise
// floor is measured up front, so that every report shows it: a larger
// model is measured only when a candidate fails the fixed tolerance (the
// perturbed copy holds its weights in memory once more).
const noiseWeightBytes = 64 << 20

// noisyConsumers are the ops whose float inputs a rewrite may re-round
// (weights, biases, normalisation parameters, elementwise operands). Other
// float constants steer rather than scale (Resize scales, Clip bounds, Pow
// exponents, Range limits) and are left exact.
var noisyConsumers = map[string]bool{
	"Conv": true, "ConvTranspose": true, "Gemm": true, "MatMul": true,
	"BatchNormalization": true, "InstanceNormalization": true, "LayerNormalization": true, "GroupNormalization": true,
	"Add": true, "Sub": true, "Mul": true, "Div": true, "PRelu": true, "Sum": true,
}

// Perturb returns a copy of m whose float32 weights (constants read only by
// the ops above) are each moved by -1, 0 or +1 ulp at random (seeded).
// Payloads are new tensors; m is unchanged.
func Perturb(m *onnx.Model, seed uint64) (*onnx.Model, int) {
	c := m.Clone()
	rng := rand.New(rand.NewPCG(seed, 0x6e6f697365))
	moved := 0
	perturb := func(t *onnx.Tensor) *onnx.Tensor {
		b, err := t.Data()
		if err != nil {
			return nil
		}
		raw := append([]byte(nil), b...)
		w := onnx.Float32View(raw)
		for i, x := range w {
			switch rng.IntN(3) {
			case 0:
				w[i] = math.Nextafter32(x, float32(math.Inf(-1)))
			case 1:
				w[i] = math.Nextafter32(x, float32(math.Inf(1)))
			}
		}
		moved += len(w)
		p := onnx.NewTensor(t.Name, onnx.Float, t.Dims, raw)
		onnx.Spill(p) // a large model's copy goes to disk, not memory
		return p
	}
	for _, g := range c.Graphs() {
		for _, v := range g.Initializers {
			if v.Const != nil && v.Const.DataType == onnx.Float && readOnlyBy(v) {
				if t := perturb(v.Const); t != nil {
					v.Const = t
				}
			}
		}
		for _, n := range g.Nodes {
			a := n.Attr("value")
			if n.OpType != "Constant" || n.Domain != "" || a == nil || a.Tensor == nil || a.Tensor.DataType != onnx.Float || !readOnlyBy(n.Output(0)) {
				continue
			}
			if t := perturb(a.Tensor); t != nil {
				a.Tensor = t
			}
		}
	}
	return c, moved
}

func readOnlyBy(v *onnx.Value) bool {
	if v == nil || v.NumUses() == 0 || v.IsGraphOutput() {
		return false
	}
	for _, n := range v.Consumers() {
		if !noisyConsumers[n.OpType] || (n.Domain != "" && n.Domain != "ai.onnx") {
			return false
		}
	}
	return true
}

// floatWeightBytes is the size of m's float32 constants.
func floatWeightBytes(m *onnx.Model) int64 {
	var n int64
	for _, g := range m.Graphs() {
		for _, v := range g.Initializers {
			if v.Const != nil && v.Const.DataType == onnx.Float {
				n += 4 * v.Const.NumElements()
			}
		}
	}
	return n
}

// noiseDraws is how many perturbed copies measure a floor; each output
// keeps the largest change, so that one draw that happens to cancel out
// does not make the floor too low.
const noiseDraws = 2

// noiseFloors measures each reference output's noise floor on the inputs of
// opts: perturbed copies of the reference are compared with the reference
// (whose outputs the cache may hold). Nil when the model has no weights to
// perturb or a perturbed copy does not run.
func noiseFloors(ref *interp.Session, m *onnx.Model, opts Options, cache *refCache) map[string]NoiseFloor {
	out := map[string]NoiseFloor{}
	for draw := range uint64(noiseDraws) {
		rep := perturbedReport(ref, m, opts, cache, opts.Seed+1+draw)
		if rep == nil {
			return nil
		}
		for _, o := range rep.Outputs {
			if o.Problem == "" && !o.Exact {
				f := out[o.Name]
				f.RelL2 = max(f.RelL2, o.RelL2)
				f.MaxAbs = max(f.MaxAbs, o.MaxAbsErr)
				out[o.Name] = f
			}
		}
	}
	return out
}

// perturbedReport compares the reference with one perturbed copy (seed).
func perturbedReport(ref *interp.Session, m *onnx.Model, opts Options, cache *refCache, seed uint64) *Report {
	p, moved := Perturb(m, seed)
	if moved == 0 {
		return nil
	}
	s, err := interp.NewSession(p, opts.Interp)
	if err != nil {
		return nil
	}
	r, err := OpenInputs(ref.Inputs(), opts)
	if err != nil {
		return nil
	}
	defer r.Close()
	quiet := opts
	quiet.Progress = nil
	rep, err := compare(ref, s, r, quiet, cache)
	if err != nil {
		return nil
	}
	return rep
}

// withNoise sets each output's noise floor in r.
func (r *Report) withNoise(floors map[string]NoiseFloor) {
	for i, o := range r.Outputs {
		if f, ok := floors[o.Name]; ok {
			r.Outputs[i].Noise = &f
		}
	}
}

// minNoiseElements is how many output elements (over all samples) a noise
// floor needs to be trusted as the only bound: the floor of a scalar
// output on one sample is a single random draw, which may come out near 0
// by chance, and would then reject a correct rewrite.
const minNoiseElements = 8

// noiseDecides reports whether o's measured rel L2 noise floor, rather than
// the fixed bound, decides o's rel L2.
func (o OutputReport) noiseDecides(k float64) bool {
	return k > 0 && o.Noise != nil && float64(o.Noise.RelL2) > 0 && o.Elements >= minNoiseElements
}

// withinNoise reports whether err is within k times the noise level.
func withinNoise(err Float, k float64, noise Float) bool {
	return k > 0 && float64(noise) > 0 && float64(err) <= k*float64(noise)
}
