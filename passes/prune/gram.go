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
// (zf), at the same positions of the same samples, and the group's float
// rows θ₀ᵣ (weights and bias):
//
//	H = Σ zpᵀzp   cᵣ = Σ zpᵀ(zf θ₀ᵣ)   fᵣ = Σ (zf θ₀ᵣ)²
//
// so that for a row θ refitting float row r,
// ||Zp θ − Zf θ₀ᵣ||² = θᵀHθ − 2θᵀcᵣ + fᵣ: the refit, and the output error
// before and after it, need no second pass over the data. The float side is
// projected on the rows as it is accumulated: K·R products per row of z
// instead of the K² of Σ zpᵀzf and Σ zfᵀzf (R is a ninth of K in a 3×3
// conv with as many outputs as inputs).
type gram struct {
	np     int            // columns of zp: the layer's K plus 1 (channel pruning shrinks K)
	theta0 blas64.General // the group's float rows, R × (float K + 1)
	h      blas64.Symmetric
	c      blas64.General // np × R: column r is cᵣ
	f      []float64      // fᵣ
	rows   int            // rows of z accumulated
}

func newGram(kp int, theta0 [][]float64) *gram {
	np, nf, r := kp+1, len(theta0[0]), len(theta0)
	th := blas64.General{Rows: r, Cols: nf, Stride: nf, Data: make([]float64, 0, r*nf)}
	for _, row := range theta0 {
		th.Data = append(th.Data, row...)
	}
	return &gram{
		np: np, theta0: th,
		h: blas64.Symmetric{N: np, Stride: np, Uplo: blas.Upper, Data: make([]float64, np*np)},
		c: blas64.General{Rows: np, Cols: r, Stride: r, Data: make([]float64, np*r)},
		f: make([]float64, r),
	}
}

// add accumulates rows of zp and zf (row-major, np and the float K + 1
// columns).
func (g *gram) add(zp, zf []float64) {
	r := len(zp) / g.np
	if r == 0 {
		return
	}
	a := blas64.General{Rows: r, Cols: g.np, Stride: g.np, Data: zp}
	b := blas64.General{Rows: r, Cols: g.theta0.Cols, Stride: g.theta0.Cols, Data: zf}
	y := blas64.General{Rows: r, Cols: g.theta0.Rows, Stride: g.theta0.Rows, Data: make([]float64, r*g.theta0.Rows)}
	blas64.Gemm(blas.NoTrans, blas.Trans, 1, b, g.theta0, 0, y)
	blas64.Syrk(blas.Trans, 1, a, 1, g.h)
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, a, y, 1, g.c)
	for i := 0; i < r; i++ {
		for j, v := range y.Data[i*y.Stride : i*y.Stride+y.Cols] {
			g.f[j] += v * v
		}
	}
	g.rows += r
}

// merge adds o's sums into g (the same float rows).
func (g *gram) merge(o *gram) {
	for i := range g.h.Data {
		g.h.Data[i] += o.h.Data[i]
	}
	for i := range g.c.Data {
		g.c.Data[i] += o.c.Data[i]
	}
	for i := range g.f {
		g.f[i] += o.f[i]
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

// cRow returns cᵣ.
func (g *gram) cRow(r int) []float64 {
	out := make([]float64, g.np)
	for i := range out {
		out[i] = g.c.Data[i*g.c.Stride+r]
	}
	return out
}

// maxRowsPerSample bounds the im2col rows a sample contributes (sampled
// output positions), which bounds memory and time on big feature maps.
const maxRowsPerSample = 256

// layerBudgetFLOPs bounds the work of one layer's statistics: both models
// run up to the layer on each calibration sample, once per layer, so a
// model of L layers costs about L·S runs of itself. Beyond the budget the
// layer's statistics use fewer samples (at least minLayerSamples) and more
// positions of each, the same number of rows in all, so that refitting a
// 50-GFLOP model takes minutes rather than hours.
const layerBudgetFLOPs = 5e10

// minLayerSamples is the fewest samples the budget leaves a layer: four
// to fit on and one held out.
const minLayerSamples = 5

// layerSamples is how many of total samples layer statistics whose runs
// cost flops each use, and how many rows each contributes.
func layerSamples(total int, flops int64) (samples, rowsPer int) {
	samples = total
	if flops > 0 {
		samples = min(total, max(minLayerSamples, int(layerBudgetFLOPs/(2*float64(flops)))))
	}
	rowsPer = maxRowsPerSample
	if samples < total {
		rowsPer = (total*maxRowsPerSample + samples - 1) / samples
	}
	return samples, rowsPer
}

// flushRows is how many rows are buffered before a rank-k update.
const flushRows = 512

// layerStats runs the pruned model m and the float model on the calibration
// data and accumulates the Gram matrices of layer lp of m against the same
// layer lf of the float model (the same node; channel pruning may have
// shrunk lp's input), one per group, for the float rows theta0[g] of each
// group (the rows the refit targets).
func layerStats(c *passes.Context, m, float *onnx.Model, lp, lf *layer, src *calib.Source, theta0 [][][]float64) (fit, check []*gram, err error) {
	in, inF := lp.node.Input(0).Name, lf.node.Input(0).Name
	if lp.groups != lf.groups {
		return nil, nil, fmt.Errorf("%s: %d groups, float layer has %d", lp.name(), lp.groups, lf.groups)
	}
	// Each model runs only up to the layer.
	pm, err := calib.Prefix(m, []string{in})
	if err != nil {
		return nil, nil, err
	}
	fm, err := calib.Prefix(float, []string{inF})
	if err != nil {
		return nil, nil, err
	}
	flops, _ := passes.FLOPsAt(fm, c.InputDims())
	samples, rowsPer := layerSamples(src.Total(), flops)
	src, err = src.Reopen(samples)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	// Every fifth batch is held out to choose the refit's ridge (when there
	// are at least five).
	held := func(i int) bool { return src.Total() >= 5 && i%5 == 4 }
	grams := make([]*gram, 2*lp.groups) // fit groups, then held-out groups
	for i := range grams {
		grams[i] = newGram(lp.cols, theta0[i%lp.groups])
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
		tp, tf := po[0], fo[0]
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
		pick := samplePositions(np, rowsPer, rng) // the same positions in every group
		for g0 := 0; g0 < lp.groups; g0++ {
			g := part + g0
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
	if err := streamPair(c, src, pm, fm, float, one); err != nil {
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

// streamPair runs the pruned model pm and the float model fm (parts of
// float, say) on every batch of src and hands visit each sample's outputs
// of both. Batches run in parallel, a thread each (visit must be safe for
// that); those of a large float model in lockstep groups, on every thread
// (calib.GroupingFor).
func streamPair(c *passes.Context, src *calib.Source, pm, fm, float *onnx.Model, visit func(i int, po, fo []*interp.Tensor) error) error {
	grouping, threads := calib.GroupingFor(float), 1
	if grouping.Workers == 1 {
		threads = 0
	}
	ps, err := interp.NewSession(pm, interp.Options{Threads: threads})
	if err != nil {
		return fmt.Errorf("pruned model: %w", err)
	}
	fs, err := interp.NewSession(fm, interp.Options{Threads: threads})
	if err != nil {
		return fmt.Errorf("float model: %w", err)
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
			if err := visit(first+k, pos[k], fos[k]); err != nil {
				return err
			}
		}
		return nil
	})
	return err
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
	// Each tap's displacement per axis, then per position each tap's
	// offset in a channel plane (-1: in the padding), shared by the
	// channels.
	disp := make([]int, l.spatial*nd)
	for s := 0; s < l.spatial; s++ {
		rest := s
		for d := nd - 1; d >= 0; d-- {
			disp[s*nd+d] = rest % geo.kernel[d] * geo.dilations[d]
			rest /= geo.kernel[d]
		}
	}
	outPos := make([]int, nd)
	taps := make([]int, l.spatial)
	for _, p := range pick {
		b, rest := p/geo.outSize, p%geo.outSize
		for d := nd - 1; d >= 0; d-- {
			outPos[d] = rest % geo.out[d]
			rest /= geo.out[d]
		}
		for s := range taps {
			off := 0
			for d := 0; d < nd; d++ {
				q := outPos[d]*geo.strides[d] - geo.padBegin[d] + disp[s*nd+d]
				if q < 0 || q >= geo.in[d] {
					off = -1
					break
				}
				off = off*geo.in[d] + q
			}
			taps[s] = off
		}
		for c := 0; c < cg; c++ {
			plane := x[(b*geo.channels+g*cg+c)*geo.inSize:][:geo.inSize]
			for _, off := range taps {
				v := 0.0
				if off >= 0 {
					v = float64(plane[off])
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

// samplePositions returns all of 0..n-1 when n ≤ k, else k of them drawn
// without replacement.
func samplePositions(n, k int, rng *rand.Rand) []int {
	if n <= k {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	return rng.Perm(n)[:k]
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
