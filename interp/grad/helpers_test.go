package grad

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// gb builds small graphs with random float data for the gradient tests.
type gb struct {
	m      *onnx.Model
	g      *onnx.Graph
	feeds  map[string]*interp.Tensor
	params []string // float inputs and initializers, the default wrt
	r      *rand.Rand
	n      int
}

func newGB(opset int64) *gb {
	g := &onnx.Graph{Name: "g"}
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: opset}}, Graph: g}
	return &gb{m: m, g: g, feeds: map[string]*interp.Tensor{}, r: rand.New(rand.NewSource(int64(opset) * 7919))}
}

// rnd is uniform data in [-s, s] kept at least 0.05 away from the kinks.
func (b *gb) rnd(s float64, shape []int, kinks ...float64) []float32 {
	if kinks == nil {
		kinks = []float64{0}
	}
	d := make([]float32, numel(shape))
	for i := range d {
	again:
		v := (b.r.Float64()*2 - 1) * s
		for _, k := range kinks {
			if math.Abs(v-k) < 0.05 {
				goto again
			}
		}
		d[i] = float32(v)
	}
	return d
}

// pos is uniform data in [lo, hi].
func (b *gb) pos(lo, hi float64, shape []int) []float32 {
	d := make([]float32, numel(shape))
	for i := range d {
		d[i] = float32(lo + b.r.Float64()*(hi-lo))
	}
	return d
}

// spaced is a random permutation of values 0.05 apart (no near-ties, for max).
func (b *gb) spaced(shape []int) []float32 {
	n := numel(shape)
	d := make([]float32, n)
	for i, p := range b.r.Perm(n) {
		d[i] = float32(p-n/2) * 0.05
	}
	return d
}

func (b *gb) in(shape []int, data []float32) *onnx.Value {
	if data == nil {
		data = b.rnd(1.5, shape)
	}
	b.n++
	name := fmt.Sprintf("x%d", b.n)
	v := b.g.AddInput(name, onnx.TensorType(onnx.Float, nil))
	b.feeds[name] = interp.FromSlice(onnx.Float, shape, data)
	b.params = append(b.params, name)
	return v
}

func (b *gb) w(shape []int, data []float32) *onnx.Value {
	if data == nil {
		data = b.rnd(1, shape)
	}
	b.n++
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	v := b.g.AddInitializer(fmt.Sprintf("w%d", b.n), onnx.NewFloatTensor("", dims, data))
	b.params = append(b.params, v.Name)
	return v
}

// floats is a float constant that is not differentiated (Resize's scales).
func (b *gb) floats(vals ...float32) *onnx.Value {
	b.n++
	return b.g.AddInitializer(fmt.Sprintf("f%d", b.n), onnx.NewFloatTensor("", []int64{int64(len(vals))}, vals))
}

func (b *gb) ints(vals ...int64) *onnx.Value {
	b.n++
	return b.g.AddInitializer(fmt.Sprintf("i%d", b.n), onnx.NewInt64Tensor("", []int64{int64(len(vals))}, vals))
}

func (b *gb) op(op string, attrs []*onnx.Attribute, in ...*onnx.Value) *onnx.Value {
	return b.opN(op, attrs, 1, in...)[0]
}

func (b *gb) opN(op string, attrs []*onnx.Attribute, nout int, in ...*onnx.Value) []*onnx.Value {
	b.n++
	name := fmt.Sprintf("%s%d", op, b.n)
	var outs []string
	for k := range nout {
		outs = append(outs, fmt.Sprintf("%s_out%d", name, k))
	}
	n := b.g.NewNode(op, "", name, in, outs...)
	for _, a := range attrs {
		n.SetAttr(a)
	}
	b.g.Append(n)
	return n.Outputs()
}

func (b *gb) output(v *onnx.Value) {
	v.Type = onnx.TensorType(onnx.Float, nil)
	b.g.Outputs = append(b.g.Outputs, v)
}

// projLoss is Σ r·y with fixed pseudo-random r: every element of y counts,
// with a different weight.
func projLoss(z *interp.Tensor) (float64, []float64, error) {
	r := rand.New(rand.NewSource(int64(z.Len())))
	d := make([]float64, z.Len())
	var L float64
	for i, v := range z.Floats() {
		d[i] = r.Float64()*2 - 1
		L += d[i] * float64(v)
	}
	return L, d, nil
}

// tensorOf returns the forward value named name.
func tensorOf(t testing.TB, m *onnx.Model, feeds map[string]*interp.Tensor, name string) *interp.Tensor {
	t.Helper()
	vals, err := forward(m, feeds, nil)
	if err != nil {
		t.Fatal(err)
	}
	for v, x := range vals {
		if v.Name == name {
			return x
		}
	}
	t.Fatalf("no value %s", name)
	return nil
}

// fdCheck compares the analytic gradient of the loss lf of output out with
// respect to name against central finite differences on up to maxElems
// elements (all when the tensor is smaller) and returns the relative L2
// error ‖g − fd‖/‖fd‖ over them. A zero finite-difference gradient fails:
// it would test nothing.
//
// skipKinks leaves out elements where the one-sided slopes disagree (the
// loss is not differentiable there: Relu at 0, ties in a max), as gradient
// checks of whole networks must; it fails when fewer than a quarter remain.
func fdCheck(t testing.TB, m *onnx.Model, feeds map[string]*interp.Tensor, out string, lf lossFunc, name string, eps float64, maxElems int, skipKinks bool) float64 {
	t.Helper()
	_, gs, err := run(m, feeds, nil, out, lf, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	g := gs[name].Floats()
	x0 := tensorOf(t, m, feeds, name)
	base := x0.Floats()
	sel := make([]int, 0, len(base))
	if len(base) <= maxElems {
		for i := range base {
			sel = append(sel, i)
		}
	} else {
		// Half the largest gradients (where the signal is), half at random.
		order := rand.New(rand.NewSource(int64(len(base)))).Perm(len(base))
		byMag := append([]int(nil), order...)
		sort.SliceStable(byMag, func(a, b int) bool { return math.Abs(float64(g[byMag[a]])) > math.Abs(float64(g[byMag[b]])) })
		seen := map[int]bool{}
		for _, list := range [][]int{byMag[:maxElems/2], order} {
			for _, i := range list {
				if len(sel) < maxElems && !seen[i] {
					seen[i] = true
					sel = append(sel, i)
				}
			}
		}
	}
	lossAt := func(i int, v float32) float64 {
		x := append([]float32(nil), base...)
		x[i] = v
		vals, err := forward(m, feeds, map[string]*interp.Tensor{name: interp.FromSlice(onnx.Float, x0.Shape, x)})
		if err != nil {
			t.Fatal(err)
		}
		for val, z := range vals {
			if val.Name == out {
				L, _, err := lf(z)
				if err != nil {
					t.Fatal(err)
				}
				return L
			}
		}
		t.Fatalf("no output %s", out)
		return 0
	}
	L0 := lossAt(0, base[0])
	var gmax float64
	for _, v := range g {
		gmax = math.Max(gmax, math.Abs(float64(v)))
	}
	var got, want []float32
	var num, den float64
	kinks := 0
	for _, i := range sel {
		h := eps * math.Max(1, math.Abs(float64(base[i])))
		hi, lo := float32(float64(base[i])+h), float32(float64(base[i])-h)
		Lp, Lm := lossAt(i, hi), lossAt(i, lo)
		if skipKinks {
			// One-sided slopes that disagree: x sits on a kink (a Relu at 0,
			// a max with a tie) where the loss has no derivative to check.
			fw, bw := (Lp-L0)/(float64(hi)-float64(base[i])), (L0-Lm)/(float64(base[i])-float64(lo))
			if math.Abs(fw-bw) > 0.05*(math.Abs(fw)+math.Abs(bw))+1e-3*gmax {
				kinks++
				continue
			}
		}
		fd := (Lp - Lm) / (float64(hi) - float64(lo))
		got, want = append(got, g[i]), append(want, float32(fd))
		d := float64(g[i]) - fd
		num += d * d
		den += fd * fd
	}
	if len(got) == 0 || 4*len(got) < len(sel) {
		t.Fatalf("gradient of %s: %d of %d elements sit on kinks, too few left to check", name, kinks, len(sel))
	}
	// NaN or infinity anywhere fails here.
	if msg := testutil.Mismatch(got, want, math.Inf(1), 0, -1); msg != "" {
		t.Fatalf("gradient of %s: %s", name, msg)
	}
	if !(den > 0) {
		t.Fatalf("gradient of %s: finite differences are all zero, nothing is tested", name)
	}
	return math.Sqrt(num / den)
}
