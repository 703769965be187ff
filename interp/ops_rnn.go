package interp

import (
	"fmt"
	"math"
	"strings"

	"github.com/onnxslim/onnxslim/interp/simd"
)

type rnnKind int

const (
	kindRNN rnnKind = iota
	kindGRU
	kindLSTM
)

// gates per kind (G) and activations per direction.
func (k rnnKind) gates() int { return [...]int{1, 3, 4}[k] }
func (k rnnKind) acts() int  { return [...]int{1, 2, 3}[k] }

type activation func(float32) float32

// vecActivation is the slice form of an activation that has one (the
// vector kernels of the scalar functions makeActivation returns), or nil.
func vecActivation(name string) func(dst, x []float32) {
	switch strings.ToLower(name) {
	case "sigmoid":
		return simd.Sigmoid
	case "tanh":
		return simd.Tanh
	}
	return nil
}

func makeActivation(name string, alpha, beta *float32) (activation, error) {
	a := func(def float32) float32 {
		if alpha != nil {
			return *alpha
		}
		return def
	}
	b := func(def float32) float32 {
		if beta != nil {
			return *beta
		}
		return def
	}
	switch strings.ToLower(name) {
	// The gates' sigmoid and tanh use the vector kernels' float32 methods
	// (relative error under 4e-7): math.Exp in float64 was most of an
	// LSTM's time.
	case "sigmoid":
		return simd.Sigmoidf, nil
	case "tanh":
		return simd.Tanhf, nil
	case "relu":
		return func(x float32) float32 { return max(x, 0) }, nil
	case "affine":
		al, be := a(1), b(0)
		return func(x float32) float32 { return al*x + be }, nil
	case "leakyrelu":
		al := a(0.01)
		return func(x float32) float32 {
			if x < 0 {
				return al * x
			}
			return x
		}, nil
	case "thresholdedrelu":
		al := a(1)
		return func(x float32) float32 {
			if x > al {
				return x
			}
			return 0
		}, nil
	case "scaledtanh":
		al, be := a(1), b(1)
		return func(x float32) float32 { return al * float32(math.Tanh(float64(be*x))) }, nil
	case "hardsigmoid":
		al, be := a(0.2), b(0.5)
		return func(x float32) float32 { return min(max(al*x+be, 0), 1) }, nil
	case "elu":
		al := a(1)
		return func(x float32) float32 {
			if x < 0 {
				return al * float32(math.Expm1(float64(x)))
			}
			return x
		}, nil
	case "softsign":
		return func(x float32) float32 { return x / (1 + float32(math.Abs(float64(x)))) }, nil
	case "softplus":
		return func(x float32) float32 { return float32(math.Log1p(math.Exp(float64(x)))) }, nil
	}
	return nil, fmt.Errorf("unknown activation %q", name)
}

type rnnAttrs struct {
	kind        rnnKind
	hidden      int
	dirs        int
	reverse     bool // single direction, reverse
	acts        []activation
	vecs        []func(dst, x []float32) // acts' slice forms, nil where there is none
	clip        float32
	inputForget bool
	lbr         bool
	layout      int64
	wpack       *prepacked // W's packed panels, when W is constant
	rpack       *prepacked // R's packed panels, when R is constant
}

func rnnBuilder(kind rnnKind) Builder {
	return func(b *Build) (Kernel, error) {
		a := &rnnAttrs{kind: kind, hidden: int(b.Int("hidden_size", 0)), clip: b.Float("clip", 0),
			inputForget: b.Int("input_forget", 0) != 0, lbr: b.Int("linear_before_reset", 0) != 0,
			layout: b.Int("layout", 0)}
		if constInput(b, 1) {
			a.wpack = &prepacked{}
		}
		if constInput(b, 2) {
			a.rpack = &prepacked{}
		}
		switch dir := b.String("direction", "forward"); dir {
		case "forward":
			a.dirs = 1
		case "reverse":
			a.dirs, a.reverse = 1, true
		case "bidirectional":
			a.dirs = 2
		default:
			return nil, fmt.Errorf("unknown direction %q", dir)
		}
		var names []string
		if at := b.Node.Attr("activations"); at != nil {
			for _, s := range at.Strings {
				names = append(names, string(s))
			}
		}
		defs := [][]string{{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}}[kind]
		if len(names) == 0 {
			for range a.dirs {
				names = append(names, defs...)
			}
		}
		if len(names) == len(defs) && a.dirs == 2 {
			names = append(names, names...)
		}
		if len(names) != kind.acts()*a.dirs {
			return nil, fmt.Errorf("%d activations given, want %d", len(names), kind.acts()*a.dirs)
		}
		alphas, betas := b.Floats("activation_alpha", nil), b.Floats("activation_beta", nil)
		for i, n := range names {
			var al, be *float32
			if i < len(alphas) {
				al = &alphas[i]
			}
			if i < len(betas) {
				be = &betas[i]
			}
			f, err := makeActivation(n, al, be)
			if err != nil {
				return nil, err
			}
			a.acts = append(a.acts, f)
			a.vecs = append(a.vecs, vecActivation(n))
		}
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) { return a.run(ctx, in) }, nil
	}
}

func optIn(in []*Tensor, i int) *Tensor {
	if len(in) > i {
		return in[i]
	}
	return nil
}

// run evaluates the recurrence. Inputs: X, W, R, B, sequence_lens,
// initial_h, (LSTM) initial_c, P.
func (a *rnnAttrs) run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if len(in) < 3 {
		return nil, fmt.Errorf("needs X, W and R")
	}
	xt := in[0]
	if len(xt.Shape) != 3 {
		return nil, fmt.Errorf("input X must be 3-D, got %v", xt.Shape)
	}
	seq, batch, isz := xt.Shape[0], xt.Shape[1], xt.Shape[2]
	if a.layout != 0 {
		seq, batch = batch, seq
	}
	G, H, D := a.kind.gates(), a.hidden, a.dirs
	if H <= 0 {
		H = in[2].Shape[len(in[2].Shape)-1]
	}
	want := map[int][]int{1: {D, G * H, isz}, 2: {D, G * H, H}, 3: {D, 2 * G * H}, 5: {D, batch, H}, 6: {D, batch, H}, 7: {D, 3 * H}}
	if a.layout != 0 {
		want[5], want[6] = []int{batch, D, H}, []int{batch, D, H}
	}
	v := make([][]float32, 8)
	for i := 0; i < 8; i++ {
		t := optIn(in, i)
		if t == nil || i == 4 || (a.kind != kindLSTM && i > 5) {
			continue
		}
		if w, ok := want[i]; ok && fmt.Sprint(w) != fmt.Sprint(t.Shape) {
			return nil, fmt.Errorf("input %d has shape %v, want %v", i, t.Shape, w)
		}
		f, err := floatIn(t)
		if err != nil {
			return nil, err
		}
		v[i] = f
	}
	x, W, R, B, h0, c0, P := v[0], v[1], v[2], v[3], v[5], v[6], v[7]
	seqLens := make([]int, batch)
	for i := range seqLens {
		seqLens[i] = seq
	}
	if sl := optIn(in, 4); sl != nil {
		l, err := intsOf(sl)
		if err != nil || len(l) != batch {
			return nil, fmt.Errorf("sequence_lens must hold %d integers", batch)
		}
		for i, n := range l {
			if n < 0 || n > int64(seq) {
				return nil, fmt.Errorf("sequence length %d is out of range", n)
			}
			seqLens[i] = int(n)
		}
	}
	// x as [seq][batch][isz] regardless of layout.
	if a.layout != 0 {
		tx := make([]float32, len(x))
		for bi := 0; bi < batch; bi++ {
			for t := 0; t < seq; t++ {
				copy(tx[(t*batch+bi)*isz:(t*batch+bi+1)*isz], x[(bi*seq+t)*isz:(bi*seq+t+1)*isz])
			}
		}
		x = tx
	}
	y := newFloats(ctx, seq, D, batch, H)
	yh := newFloats(ctx, D, batch, H)
	yc := newFloats(ctx, D, batch, H)
	th := ctx.Threads()
	wp := packedDirs(a.wpack, in[1], W, D, G*H, isz)
	rp := packedDirs(a.rpack, in[2], R, D, G*H, H)
	xw := ctx.scratch(seq * batch * G * H)
	h := ctx.scratch(batch * H)
	c := ctx.scratch(batch * H)
	hr := ctx.scratch(batch * G * H)
	rh := ctx.scratch(batch * H) // GRU: r ⊙ h
	scratch := ctx.scratch(5 * H)
	for d := 0; d < D; d++ {
		reverse := a.reverse || d == 1
		Rd := R[d*G*H*H : (d+1)*G*H*H]
		// Input projections of all steps at once: [seq·batch, G·H].
		simd.SgemmPacked(false, seq*batch, G*H, isz, 1, x, isz, wp[d], 0, xw, G*H, th)
		var wb, rb []float32
		if B != nil {
			wb = B[d*2*G*H : d*2*G*H+G*H]
			rb = B[d*2*G*H+G*H : (d+1)*2*G*H]
		}
		clear(h)
		clear(c)
		for bi := 0; bi < batch; bi++ {
			for j := 0; j < H; j++ {
				if h0 != nil {
					h[bi*H+j] = h0[a.stateIdx(d, bi, j, batch, H)]
				}
				if c0 != nil {
					c[bi*H+j] = c0[a.stateIdx(d, bi, j, batch, H)]
				}
			}
		}
		var p []float32
		if P != nil {
			p = P[d*3*H : (d+1)*3*H]
		}
		acts := a.acts[d*a.kind.acts() : (d+1)*a.kind.acts()]
		vecs := a.vecs[d*a.kind.acts() : (d+1)*a.kind.acts()]
		vecLSTM := a.kind == kindLSTM && vecs[0] != nil && vecs[1] != nil && vecs[2] != nil
		vecGRU := a.kind == kindGRU && vecs[0] != nil && vecs[1] != nil
		if vecLSTM && wb != nil {
			// Both biases of every gate enter the sum alike: add them to the
			// input projections once instead of at every step.
			for r := 0; r < seq*batch; r++ {
				row := xw[r*G*H : (r+1)*G*H]
				simd.Add(row, row, wb)
				simd.Add(row, row, rb)
			}
		}
		// GRU without linear_before_reset takes the candidate's product from
		// r ⊙ h, not h: the step's product covers the z and r gates only
		// and the candidate's reads Rh's packed panels (gruCellVec).
		stepCols := G * H
		var rhPacked []float32
		if vecGRU && !a.lbr {
			if sub, ok := simd.PackedBColumns(rp[d], H, 2*H, 3*H); ok {
				stepCols, rhPacked = 2*H, sub
			}
		}
		for step := 0; step < seq; step++ {
			simd.SgemmPacked(false, batch, stepCols, H, 1, h, H, rp[d], 0, hr, G*H, th)
			for bi := 0; bi < batch; bi++ {
				t := step
				if reverse {
					t = seqLens[bi] - 1 - step
				}
				if t < 0 || step >= seqLens[bi] {
					continue
				}
				xg := xw[(t*batch+bi)*G*H : (t*batch+bi+1)*G*H]
				hg := hr[bi*G*H : (bi+1)*G*H]
				hb, cb := h[bi*H:(bi+1)*H], c[bi*H:(bi+1)*H]
				switch {
				case vecLSTM:
					a.lstmCellVec(vecs, xg, hg, p, hb, cb, scratch)
				case vecGRU:
					a.gruCellVec(vecs, xg, hg, wb, rb, hb, Rd, rhPacked, rh[bi*H:(bi+1)*H], scratch)
				default:
					a.cell(acts, xg, hg, wb, rb, p, hb, cb, Rd, rh[bi*H:(bi+1)*H])
				}
				copy(y[((t*D+d)*batch+bi)*H:((t*D+d)*batch+bi+1)*H], hb)
			}
		}
		copy(yh[d*batch*H:], h)
		copy(yc[d*batch*H:], c)
	}
	dt := xt.DType
	yShape := []int{seq, D, batch, H}
	hShape := []int{D, batch, H}
	if a.layout != 0 {
		// [seq, D, batch, H] -> [batch, seq, D, H]; [D, batch, H] -> [batch, D, H].
		ty := make([]float32, len(y))
		for t := 0; t < seq; t++ {
			for d := 0; d < D; d++ {
				for bi := 0; bi < batch; bi++ {
					copy(ty[((bi*seq+t)*D+d)*H:], y[((t*D+d)*batch+bi)*H:((t*D+d)*batch+bi+1)*H])
				}
			}
		}
		y, yShape = ty, []int{batch, seq, D, H}
		yh, yc = swap01(yh, D, batch, H), swap01(yc, D, batch, H)
		hShape = []int{batch, D, H}
	}
	outs := make([]*Tensor, 3)
	var err error
	if outs[0], err = floatOut(dt, yShape, y); err != nil {
		return nil, err
	}
	if outs[1], err = floatOut(dt, hShape, yh); err != nil {
		return nil, err
	}
	if outs[2], err = floatOut(dt, hShape, yc); err != nil {
		return nil, err
	}
	return outs, nil
}

// packedDirs returns each direction's weight matrix (n×k, of w's D) as
// op(B) = its transpose in the packed GEMM layout, kept in pp across runs
// when the weight is constant (pp not nil). Packed, R makes a step's product
// h·Rᵀ run the register-blocked micro-kernels even for one row of h,
// without packing R again at every step.
func packedDirs(pp *prepacked, t *Tensor, w []float32, D, n, k int) [][]float32 {
	build := func() any {
		wp := make([][]float32, D)
		for d := range wp {
			wp[d] = packedB(true, k, n, w[d*n*k:(d+1)*n*k], k)
		}
		return wp
	}
	if pp != nil {
		return pp.get(t, build).([][]float32)
	}
	return build().([][]float32)
}

func swap01(v []float32, a, b, n int) []float32 {
	out := make([]float32, len(v))
	for i := 0; i < a; i++ {
		for j := 0; j < b; j++ {
			copy(out[(j*a+i)*n:(j*a+i+1)*n], v[(i*b+j)*n:(i*b+j+1)*n])
		}
	}
	return out
}

func (a *rnnAttrs) stateIdx(d, bi, j, batch, H int) int {
	if a.layout != 0 {
		return (bi*a.dirs+d)*H + j
	}
	return (d*batch+bi)*H + j
}

func (a *rnnAttrs) clipv(x float32) float32 {
	if a.clip > 0 {
		return min(max(x, -a.clip), a.clip)
	}
	return x
}

// gateBias returns the summed input and recurrence bias of gate g, unit j
// (0 without biases).
func gateBias(wb, rb []float32, H int) func(g, j int) float32 {
	return func(g, j int) float32 {
		if wb == nil {
			return 0
		}
		return wb[g*H+j] + rb[g*H+j]
	}
}

// lstmCellVec is cell's LSTM step with activations that have slice forms:
// each gate's pre-activations are gathered, then activated in one call. xg
// holds the input projections with both biases added. scratch holds 5H
// floats.
func (a *rnnAttrs) lstmCellVec(vecs []func(dst, x []float32), xg, hg, p, h, c, scratch []float32) {
	H := len(h)
	f, g, hh := vecs[0], vecs[1], vecs[2]
	it, ot, ft, ct, hc := scratch[:H], scratch[H:2*H], scratch[2*H:3*H], scratch[3*H:4*H], scratch[4*H:5*H]
	simd.Add(it, xg[:H], hg[:H])
	simd.Add(ft, xg[2*H:3*H], hg[2*H:3*H])
	simd.Add(ct, xg[3*H:4*H], hg[3*H:4*H])
	simd.Add(ot, xg[H:2*H], hg[H:2*H])
	if p != nil {
		for j := 0; j < H; j++ {
			it[j] += p[j] * c[j]
			ft[j] += p[2*H+j] * c[j]
		}
	}
	a.clipAll(it)
	a.clipAll(ft)
	a.clipAll(ct)
	f(it, it)
	f(ft, ft)
	g(ct, ct)
	if a.inputForget {
		for j := 0; j < H; j++ {
			ft[j] = 1 - it[j]
		}
	}
	for j := 0; j < H; j++ {
		c[j] = ft[j]*c[j] + it[j]*ct[j]
	}
	if p != nil || a.clip > 0 {
		for j := 0; j < H; j++ {
			var po float32
			if p != nil {
				po = p[H+j]
			}
			ot[j] = a.clipv(ot[j] + po*c[j])
		}
	}
	f(ot, ot)
	hh(hc, c)
	simd.Mul(h, ot, hc)
}

// gruCellVec is cell's GRU step with activations that have slice forms,
// each gate activated in one call: xg holds the input projections (no
// bias), hg = h·Rᵀ, rh room for r ⊙ h; scratch holds 4H floats. Without
// linear_before_reset the candidate's product (r ⊙ h)·Rhᵀ is a vector
// product too (it was a scalar loop of H² terms a step), from Rh's packed
// panels when rhPacked is set.
func (a *rnnAttrs) gruCellVec(vecs []func(dst, x []float32), xg, hg, wb, rb, h, R, rhPacked, rh, scratch []float32) {
	H := len(h)
	f, g := vecs[0], vecs[1]
	z, r, ht, t := scratch[:H], scratch[H:2*H], scratch[2*H:3*H], scratch[3*H:4*H]
	simd.Add(z, xg[:H], hg[:H])
	simd.Add(r, xg[H:2*H], hg[H:2*H])
	if wb != nil {
		simd.Add(t, wb[:H], rb[:H])
		simd.Add(z, z, t)
		simd.Add(t, wb[H:2*H], rb[H:2*H])
		simd.Add(r, r, t)
	}
	a.clipAll(z)
	a.clipAll(r)
	f(z, z)
	f(r, r)
	if a.lbr {
		// ht = g(xg + r ⊙ (hg + Rbh) + Wbh)
		copy(t, hg[2*H:3*H])
		if wb != nil {
			simd.Add(t, t, rb[2*H:3*H])
		}
		simd.Mul(t, t, r)
		simd.Add(t, t, xg[2*H:3*H])
		if wb != nil {
			simd.Add(t, t, wb[2*H:3*H])
		}
	} else {
		// ht = g(xg + (r ⊙ h)·Rhᵀ + Wbh + Rbh)
		simd.Mul(rh, r, h)
		if rhPacked != nil {
			simd.SgemmPacked(false, 1, H, H, 1, rh, H, rhPacked, 0, t, H, 1)
		} else {
			simd.Sgemm(false, true, 1, H, H, 1, rh, H, R[2*H*H:3*H*H], H, 0, t, H, 1)
		}
		simd.Add(t, t, xg[2*H:3*H])
		if wb != nil {
			simd.Add(ht, wb[2*H:3*H], rb[2*H:3*H])
			simd.Add(t, t, ht)
		}
	}
	a.clipAll(t)
	g(ht, t)
	// h = (1-z)⊙ht + z⊙h = ht + z⊙(h - ht)
	simd.Sub(t, h, ht)
	simd.Mul(t, t, z)
	simd.Add(h, ht, t)
}

// clipAll applies the clip attribute (if set) to v in place.
func (a *rnnAttrs) clipAll(v []float32) {
	if a.clip > 0 {
		for j := range v {
			v[j] = a.clipv(v[j])
		}
	}
}

// cell advances one batch entry by one step: xg are the input projections
// (G·H), hg = h·Rᵀ (G·H); h and c are updated in place.
func (a *rnnAttrs) cell(acts []activation, xg, hg, wb, rb, p, h, c, R, rh []float32) {
	H := len(h)
	bias := gateBias(wb, rb, H)
	switch a.kind {
	case kindRNN:
		for j := 0; j < H; j++ {
			h[j] = acts[0](a.clipv(xg[j] + hg[j] + bias(0, j)))
		}
	case kindLSTM:
		f, g, hh := acts[0], acts[1], acts[2]
		for j := 0; j < H; j++ {
			var pi, po, pf float32
			if p != nil {
				pi, po, pf = p[j], p[H+j], p[2*H+j]
			}
			it := f(a.clipv(xg[j] + hg[j] + bias(0, j) + pi*c[j]))
			ft := f(a.clipv(xg[2*H+j] + hg[2*H+j] + bias(2, j) + pf*c[j]))
			if a.inputForget {
				ft = 1 - it
			}
			ct := g(a.clipv(xg[3*H+j] + hg[3*H+j] + bias(3, j)))
			c[j] = ft*c[j] + it*ct
			ot := f(a.clipv(xg[H+j] + hg[H+j] + bias(1, j) + po*c[j]))
			h[j] = ot * hh(c[j])
		}
	case kindGRU:
		f, g := acts[0], acts[1]
		z := make([]float32, H)
		r := make([]float32, H)
		for j := 0; j < H; j++ {
			z[j] = f(a.clipv(xg[j] + hg[j] + bias(0, j)))
			r[j] = f(a.clipv(xg[H+j] + hg[H+j] + bias(1, j)))
		}
		var rbh, wbh []float32
		if wb != nil {
			wbh, rbh = wb[2*H:3*H], rb[2*H:3*H]
		}
		if !a.lbr {
			// (r ⊙ h)·Rhᵀ needs its own product.
			for j := range rh {
				rh[j] = r[j] * h[j]
			}
			Rh := R[2*H*H : 3*H*H]
			hn := make([]float32, H)
			for j := 0; j < H; j++ {
				var s float32
				row := Rh[j*H : (j+1)*H]
				for k, v := range row {
					s += v * rh[k]
				}
				hn[j] = s
			}
			for j := 0; j < H; j++ {
				b := float32(0)
				if wb != nil {
					b = wbh[j] + rbh[j]
				}
				ht := g(a.clipv(xg[2*H+j] + hn[j] + b))
				h[j] = (1-z[j])*ht + z[j]*h[j]
			}
			return
		}
		for j := 0; j < H; j++ {
			var bw, br float32
			if wb != nil {
				bw, br = wbh[j], rbh[j]
			}
			ht := g(a.clipv(xg[2*H+j] + r[j]*(hg[2*H+j]+br) + bw))
			h[j] = (1-z[j])*ht + z[j]*h[j]
		}
	}
}

func init() {
	for _, v := range []int64{1, 7, 14, 22} {
		Register("", "RNN", v, rnnBuilder(kindRNN))
		Register("", "GRU", v, rnnBuilder(kindGRU))
		Register("", "LSTM", v, rnnBuilder(kindLSTM))
	}
	Register("", "GRU", 3, rnnBuilder(kindGRU))
}
