package prune

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
)

// gram holds a layer's calibration statistics for one group of its rows,
// over rows z = [x, 1] of the layer's input (Conv: im2col patches at sampled
// output positions) in the model being pruned (zp) and in the float model
// (zf), at the same positions of the same samples:
//
//	H = Σ zpᵀzp   C = Σ zpᵀzf   F = Σ zfᵀzf
//
// so that for a row θ (weights and bias) refitting the float row θ₀,
// ||Zp θ − Zf θ₀||² = θᵀHθ − 2θᵀCθ₀ + θ₀ᵀFθ₀: the refit, and the output
// error before and after it, need no second pass over the data.
type gram struct {
	np, nf int // columns of zp and zf: the layer's K plus 1 in each model (channel pruning shrinks K)
	h, f   blas64.Symmetric
	c      blas64.General
	rows   int // rows of z accumulated
}

func newGram(kp, kf int) *gram {
	np, nf := kp+1, kf+1
	return &gram{
		np: np, nf: nf,
		h: blas64.Symmetric{N: np, Stride: np, Uplo: blas.Upper, Data: make([]float64, np*np)},
		f: blas64.Symmetric{N: nf, Stride: nf, Uplo: blas.Upper, Data: make([]float64, nf*nf)},
		c: blas64.General{Rows: np, Cols: nf, Stride: nf, Data: make([]float64, np*nf)},
	}
}

// add accumulates rows of zp and zf (row-major, np and nf columns).
func (g *gram) add(zp, zf []float64) {
	r := len(zp) / g.np
	if r == 0 {
		return
	}
	a := blas64.General{Rows: r, Cols: g.np, Stride: g.np, Data: zp}
	b := blas64.General{Rows: r, Cols: g.nf, Stride: g.nf, Data: zf}
	blas64.Syrk(blas.Trans, 1, a, 1, g.h)
	blas64.Syrk(blas.Trans, 1, b, 1, g.f)
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, a, b, 1, g.c)
	g.rows += r
}

// merge adds o's sums into g.
func (g *gram) merge(o *gram) {
	for i := range g.h.Data {
		g.h.Data[i] += o.h.Data[i]
	}
	for i := range g.f.Data {
		g.f.Data[i] += o.f.Data[i]
	}
	for i := range g.c.Data {
		g.c.Data[i] += o.c.Data[i]
	}
	g.rows += o.rows
}

// H returns element (i, j) of the symmetric H (stored upper).
func (g *gram) H(i, j int) float64 {
	if i > j {
		i, j = j, i
	}
	return g.h.Data[i*g.np+j]
}

// F returns element (i, j) of F.
func (g *gram) F(i, j int) float64 {
	if i > j {
		i, j = j, i
	}
	return g.f.Data[i*g.nf+j]
}

// maxRowsPerSample bounds the im2col rows a sample contributes (sampled
// output positions), which bounds memory and time on big feature maps.
const maxRowsPerSample = 256

// flushRows is how many rows are buffered before a rank-k update.
const flushRows = 512

// layerStats runs the pruned model m and the float model on the calibration
// data and accumulates the Gram matrices of layer lp of m against the same
// layer lf of the float model (the same node; channel pruning may have
// shrunk lp's input), one per group.
func layerStats(c *passes.Context, m, float *onnx.Model, lp, lf *layer, src *calib.Source) (fit, check []*gram, err error) {
	in, inF := lp.node.Input(0).Name, lf.node.Input(0).Name
	if lp.groups != lf.groups {
		return nil, nil, fmt.Errorf("%s: %d groups, float layer has %d", lp.name(), lp.groups, lf.groups)
	}
	pm, pIdx, err := calib.WithOutputs(m, []string{in})
	if err != nil {
		return nil, nil, err
	}
	fm, fIdx, err := calib.WithOutputs(float, []string{inF})
	if err != nil {
		return nil, nil, err
	}
	// Batches run in parallel, a thread each; a large model's in lockstep
	// groups, on every thread (calib.GroupingFor).
	grouping, threads := calib.GroupingFor(float), 1
	if grouping.Workers == 1 {
		threads = 0
	}
	ps, err := interp.NewSession(pm, interp.Options{Threads: threads})
	if err != nil {
		return nil, nil, fmt.Errorf("pruned model: %w", err)
	}
	fs, err := interp.NewSession(fm, interp.Options{Threads: threads})
	if err != nil {
		return nil, nil, fmt.Errorf("float model: %w", err)
	}
	src, err = src.Reopen(0)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	// Every fifth batch is held out to choose the refit's ridge (when there
	// are at least five).
	held := func(i int) bool { return src.Total() >= 5 && i%5 == 4 }
	grams := make([]*gram, 2*lp.groups) // fit groups, then held-out groups
	for i := range grams {
		grams[i] = newGram(lp.cols, lf.cols)
	}
	var (
		mu     sync.Mutex // guards the pending buffers
		accMu  sync.Mutex // guards the Gram matrices
		pendP  = make([][]float64, 2*lp.groups)
		pendF  = make([][]float64, 2*lp.groups)
		flushG = func(g int, zp, zf []float64) {
			accMu.Lock()
			grams[g].add(zp, zf)
			accMu.Unlock()
		}
	)
	one := func(i int, po, fo []*interp.Tensor) error {
		tp, tf := po[pIdx[in]], fo[fIdx[inF]]
		xp, err := interp.AsFloat32(tp)
		if err != nil {
			return fmt.Errorf("%s: input %s: %w", lp.name(), in, err)
		}
		xf, err := interp.AsFloat32(tf)
		if err != nil {
			return fmt.Errorf("%s: input %s: %w", lf.name(), inF, err)
		}
		np, err := lp.positions(tp.Shape)
		if err != nil {
			return err
		}
		nf, err := lf.positions(tf.Shape)
		if err != nil {
			return err
		}
		if np != nf {
			return fmt.Errorf("%s: %d output positions, %d in the float model", lp.name(), np, nf)
		}
		rng := newRand(i)
		part := 0
		if held(i) {
			part = lp.groups
		}
		for g0 := 0; g0 < lp.groups; g0++ {
			g := part + g0
			pick := samplePositions(np, rng)
			zp, err := lp.patches(tp.Shape, xp, g0, pick)
			if err != nil {
				return err
			}
			zf, err := lf.patches(tf.Shape, xf, g0, pick)
			if err != nil {
				return err
			}
			mu.Lock()
			pendP[g] = append(pendP[g], zp...)
			pendF[g] = append(pendF[g], zf...)
			var outP, outF []float64
			if len(pendP[g]) >= flushRows*(lp.cols+1) {
				outP, outF, pendP[g], pendF[g] = pendP[g], pendF[g], nil, nil
			}
			mu.Unlock()
			if outP != nil {
				flushG(g, outP, outF)
			}
		}
		return nil
	}
	_, err = calib.StreamGroups(c, src, grouping, func(first int, ins []map[string]*interp.Tensor) error {
		pos, err := ps.RunLockstep(c, ins)
		if err != nil {
			return fmt.Errorf("batch %d: pruned model: %w", first, err)
		}
		fos, err := fs.RunLockstep(c, ins)
		if err != nil {
			return fmt.Errorf("batch %d: float model: %w", first, err)
		}
		for k := range ins {
			if err := one(first+k, pos[k], fos[k]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for g := range grams {
		flushG(g, pendP[g], pendF[g])
	}
	fit, check = grams[:lp.groups], grams[lp.groups:]
	for _, g := range fit {
		if g.rows == 0 {
			return nil, nil, fmt.Errorf("%s: no calibration rows", lp.name())
		}
	}
	return fit, check, nil
}

// positions is the number of rows the layer's input of this shape yields:
// batch × output positions for Conv, the product of the leading dims
// otherwise.
func (l *layer) positions(shape []int) (int, error) {
	if l.node.OpType != "Conv" {
		if len(shape) == 0 || shape[len(shape)-1] != l.cols {
			return 0, fmt.Errorf("%s: input shape %v does not end in %d", l.name(), shape, l.cols)
		}
		n := 1
		for _, d := range shape[:len(shape)-1] {
			n *= d
		}
		return n, nil
	}
	geo, err := l.convGeometry(shape)
	if err != nil {
		return 0, err
	}
	return geo.batch * geo.outSize, nil
}

// patches extracts the z = [x, 1] rows of group g of the layer's input x at the
// picked positions (see positions).
func (l *layer) patches(shape []int, x []float32, g int, pick []int) ([]float64, error) {
	z := make([]float64, 0, len(pick)*(l.cols+1))
	if l.node.OpType != "Conv" {
		for _, p := range pick {
			for _, v := range x[p*l.cols : (p+1)*l.cols] {
				z = append(z, float64(v))
			}
			z = append(z, 1)
		}
		return z, nil
	}
	geo, err := l.convGeometry(shape)
	if err != nil {
		return nil, err
	}
	cg := l.cols / l.spatial
	nd := len(geo.in)
	outPos := make([]int, nd)
	kPos := make([]int, nd)
	for _, p := range pick {
		b, rest := p/geo.outSize, p%geo.outSize
		for d := nd - 1; d >= 0; d-- {
			outPos[d] = rest % geo.out[d]
			rest /= geo.out[d]
		}
		for c := 0; c < cg; c++ {
			base := (b*geo.channels + g*cg + c) * geo.inSize
			for s := 0; s < l.spatial; s++ {
				rest := s
				for d := nd - 1; d >= 0; d-- {
					kPos[d] = rest % geo.kernel[d]
					rest /= geo.kernel[d]
				}
				off, inside := 0, true
				for d := 0; d < nd; d++ {
					q := outPos[d]*geo.strides[d] - geo.padBegin[d] + kPos[d]*geo.dilations[d]
					if q < 0 || q >= geo.in[d] {
						inside = false
						break
					}
					off = off*geo.in[d] + q
				}
				v := 0.0
				if inside {
					v = float64(x[base+off])
				}
				z = append(z, v)
			}
		}
		z = append(z, 1)
	}
	return z, nil
}

// newRand seeds the position sampling of batch i: every pass over the data
// (and both models) picks the same positions.
func newRand(i int) *rand.Rand { return rand.New(rand.NewPCG(uint64(i), 0x9e3779b97f4a7c15)) }

// samplePositions returns all of 0..n-1 when n is small, else
// maxRowsPerSample of them drawn without replacement.
func samplePositions(n int, rng *rand.Rand) []int {
	if n <= maxRowsPerSample {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	return rng.Perm(n)[:maxRowsPerSample]
}

// geometry is a Conv's input and output layout.
type geometry struct {
	batch, channels              int
	in, out, kernel              []int
	strides, dilations, padBegin []int
	inSize, outSize              int
}

func (l *layer) convGeometry(shape []int) (*geometry, error) {
	n := l.node
	dims := l.weight.Const.Dims
	nd := len(dims) - 2
	if len(shape) != nd+2 {
		return nil, fmt.Errorf("%s: input shape %v is not rank %d", l.name(), shape, nd+2)
	}
	geo := &geometry{batch: shape[0], channels: shape[1], in: shape[2:], inSize: 1, outSize: 1}
	if geo.channels != int(dims[1])*l.groups {
		return nil, fmt.Errorf("%s: input has %d channels, weight wants %d×%d", l.name(), geo.channels, dims[1], l.groups)
	}
	ints := func(name string, def int64, k int) []int {
		v := n.AttrInts(name, nil)
		out := make([]int, k)
		for i := range out {
			out[i] = int(def)
			if i < len(v) {
				out[i] = int(v[i])
			}
		}
		return out
	}
	geo.kernel = make([]int, nd)
	for i := range geo.kernel {
		geo.kernel[i] = int(dims[2+i])
	}
	geo.strides = ints("strides", 1, nd)
	geo.dilations = ints("dilations", 1, nd)
	pads := ints("pads", 0, 2*nd)
	geo.padBegin = pads[:nd]
	autoPad := n.AttrString("auto_pad", "NOTSET")
	geo.out = make([]int, nd)
	for d := 0; d < nd; d++ {
		ext := geo.dilations[d]*(geo.kernel[d]-1) + 1
		switch autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			o := (geo.in[d] + geo.strides[d] - 1) / geo.strides[d]
			total := max(0, (o-1)*geo.strides[d]+ext-geo.in[d])
			geo.padBegin[d] = total / 2
			if autoPad == "SAME_LOWER" {
				geo.padBegin[d] = total - total/2
			}
			geo.out[d] = o
		case "VALID":
			geo.padBegin[d] = 0
			geo.out[d] = (geo.in[d]-ext)/geo.strides[d] + 1
		default:
			geo.out[d] = (geo.in[d]+pads[d]+pads[nd+d]-ext)/geo.strides[d] + 1
		}
		if geo.out[d] <= 0 {
			return nil, fmt.Errorf("%s: empty output along spatial axis %d", l.name(), d)
		}
		geo.inSize *= geo.in[d]
		geo.outSize *= geo.out[d]
	}
	return geo, nil
}
