package verify

import (
	"encoding/binary"
	"io"
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

// Perturb returns a copy of m whose float32 weights (constants of more than
// one value read only by the ops above) are each moved by -1, 0 or +1 ulp at
// random (seeded), and how many values that covers. Single values are left
// exact: they are hyperparameters (an epsilon, a ½, the 1 of a BERT
// export's (1 − mask)·(−FLT_MAX)) that a lossless rewrite keeps or folds
// into a weight, and moving the 1 there adds 2e31 or 4e31 to every
// attention score, a floor of 4e-3 that would pass real bugs. The moved
// weights are lazy payloads over m's (perturbed): made when read, so that a
// large model's runs, which read each weight once a run, hold no copy; m is
// unchanged.
func Perturb(m *onnx.Model, seed uint64) (*onnx.Model, int) {
	c := m.Clone()
	moved, k := 0, uint64(0)
	perturb := func(t *onnx.Tensor) *onnx.Tensor {
		k++
		moved += int(t.NumElements())
		return onnx.NewLazyTensor(t.Name, onnx.Float, t.Dims, perturbed{src: t, seed: seed, stream: k})
	}
	for _, g := range c.Graphs() {
		for _, v := range g.Initializers {
			if v.Const != nil && v.Const.DataType == onnx.Float && v.Const.NumElements() > 1 && readOnlyBy(v) {
				v.Const = perturb(v.Const)
			}
		}
		for _, n := range g.Nodes {
			a := n.Attr("value")
			if n.OpType != "Constant" || n.Domain != "" || a == nil || a.Tensor == nil || a.Tensor.DataType != onnx.Float || a.Tensor.NumElements() <= 1 || !readOnlyBy(n.Output(0)) {
				continue
			}
			a.Tensor = perturb(a.Tensor)
		}
	}
	return c, moved
}

// perturbed is a float32 tensor with each value moved by -1, 0 or +1 ulp,
// drawn from a generator seeded by seed and stream (the tensor's number),
// so that every reading gives the same bytes.
type perturbed struct {
	src          *onnx.Tensor
	seed, stream uint64
}

func (p perturbed) Len() int64 { return p.src.ByteSize() }

func (p perturbed) WriteTo(w io.Writer) (int64, error) {
	b, err := p.src.Data()
	if err != nil {
		return 0, err
	}
	rng := rand.NewPCG(p.seed, p.stream)
	var bits uint64 // 16 bits a draw, scaled to 0 down, 1 up, 2 kept
	left := 0
	buf := make([]byte, 64<<10)
	var n int64
	for len(b) > 0 {
		chunk := b[:min(len(b), len(buf))]
		out := buf[:len(chunk)]
		for i := 0; i+4 <= len(chunk); i += 4 {
			if left == 0 {
				bits, left = rng.Uint64(), 4
			}
			d := uint32(bits&0xffff) * 3 >> 16
			bits, left = bits>>16, left-1
			u := binary.LittleEndian.Uint32(chunk[i:])
			if mag := u & 0x7fffffff; mag-1 >= 0x7f7fffff { // zeros, infinities, NaNs
				if d < 2 {
					u = ulpStep(u, d == 1)
				}
			} else {
				// Without branches (the draws are random): one ulp away
				// from zero where the sign and the direction agree,
				// towards it where they differ, 0 for kept.
				away := (u>>31 ^ d) & 1
				u += (2*away - 1) * (1 - d>>1)
				if u&0x7fffffff == 0x7f800000 {
					// ±FLT_MAX went to ±Inf: one ulp towards zero
					// instead. Exporters use -FLT_MAX as an attention
					// mask's "minus infinity"; an Inf there makes
					// 0·Inf = NaN and a floor of +Inf, which would pass
					// anything.
					u -= 2
				}
			}
			binary.LittleEndian.PutUint32(out[i:], u)
		}
		m, err := w.Write(out)
		n += int64(m)
		if err != nil {
			return n, err
		}
		b = b[len(chunk):]
	}
	return n, nil
}

// ulpStep is math.Nextafter32 towards +Inf (up) or -Inf on a float32's
// bits, without the float conversions (a large model moves billions).
func ulpStep(u uint32, up bool) uint32 {
	switch mag := u & 0x7fffffff; {
	case mag > 0x7f800000: // NaN
		return u
	case mag == 0:
		if up {
			return 1
		}
		return 0x80000001
	case (u>>31 == 0) == up: // away from zero
		if mag == 0x7f800000 {
			return u // ±Inf
		}
		return u + 1
	}
	return u - 1
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
	out, unknown := map[string]NoiseFloor{}, map[string]bool{}
	for draw := range uint64(noiseDraws) {
		rep := perturbedReport(ref, m, opts, cache, opts.Seed+1+draw)
		if rep == nil {
			return nil
		}
		for _, o := range rep.Outputs {
			if !finite(o.RelL2) || !finite(o.MaxAbsErr) {
				// The perturbed copy overflowed or made NaN: this
				// output's floor is unknown, and the fixed tolerance
				// decides (an infinite floor would let anything pass).
				unknown[o.Name] = true
				continue
			}
			if o.Problem == "" && !o.Exact {
				f := out[o.Name]
				f.RelL2 = max(f.RelL2, o.RelL2)
				f.MaxAbs = max(f.MaxAbs, o.MaxAbsErr)
				out[o.Name] = f
			}
		}
	}
	for name := range unknown {
		delete(out, name)
	}
	return out
}

func finite(f Float) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

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
