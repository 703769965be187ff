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
	n       int // columns of z: the layer's K plus 1
	h, f    blas64.Symmetric
	c       blas64.General
	rows    int // rows of z accumulated
	pending []float64
	pendF   []float64
}

func newGram(k int) *gram {
	n := k + 1
	return &gram{
		n: n,
		h: blas64.Symmetric{N: n, Stride: n, Uplo: blas.Upper, Data: make([]float64, n*n)},
		f: blas64.Symmetric{N: n, Stride: n, Uplo: blas.Upper, Data: make([]float64, n*n)},
		c: blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)},
	}
}

// add accumulates r rows of zp and zf (row-major, n columns each).
func (g *gram) add(zp, zf []float64) {
	r := len(zp) / g.n
	if r == 0 {
		return
	}
	a := blas64.General{Rows: r, Cols: g.n, Stride: g.n, Data: zp}
	b := blas64.General{Rows: r, Cols: g.n, Stride: g.n, Data: zf}
	blas64.Syrk(blas.Trans, 1, a, 1, g.h)
	blas64.Syrk(blas.Trans, 1, b, 1, g.f)
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, a, b, 1, g.c)
	g.rows += r
}

// H returns element (i, j) of the symmetric H (stored upper).
func (g *gram) H(i, j int) float64 {
	if i > j {
		i, j = j, i
	}
	return g.h.Data[i*g.n+j]
}

// F returns element (i, j) of F.
func (g *gram) F(i, j int) float64 {
	if i > j {
		i, j = j, i
	}
	return g.f.Data[i*g.n+j]
}

// maxRowsPerSample bounds the im2col rows a sample contributes (sampled
// output positions), which bounds memory and time on big feature maps.
const maxRowsPerSample = 256

// flushRows is how many rows are buffered before a rank-k update.
const flushRows = 512

// layerStats runs the pruned model m and the float model on the calibration
// data and accumulates the layer's Gram matrices, one per group.
func layerStats(c *passes.Context, m, float *onnx.Model, l *layer, src *calib.Source) ([]*gram, error) {
	in := l.node.Input(0).Name
	pm, pIdx, err := calib.WithOutputs(m, []string{in})
	if err != nil {
		return nil, err
	}
	fm, fIdx, err := calib.WithOutputs(float, []string{in})
	if err != nil {
		return nil, err
	}
	ps, err := interp.NewSession(pm, interp.Options{Threads: 1})
	if err != nil {
		return nil, fmt.Errorf("pruned model: %w", err)
	}
	fs, err := interp.NewSession(fm, interp.Options{Threads: 1})
	if err != nil {
		return nil, fmt.Errorf("float model: %w", err)
	}
	src, err = src.Reopen(0)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	grams := make([]*gram, l.groups)
	for i := range grams {
		grams[i] = newGram(l.cols)
	}
	var (
		mu     sync.Mutex // guards the pending buffers
		accMu  sync.Mutex // guards the Gram matrices
		pendP  = make([][]float64, l.groups)
		pendF  = make([][]float64, l.groups)
		flushG = func(g int, zp, zf []float64) {
			accMu.Lock()
			grams[g].add(zp, zf)
			accMu.Unlock()
		}
	)
	_, err = calib.Stream(c, src, func(i int, feeds map[string]*interp.Tensor) error {
		po, err := ps.RunContext(c, feeds)
		if err != nil {
			return fmt.Errorf("batch %d: pruned model: %w", i, err)
		}
		fo, err := fs.RunContext(c, feeds)
		if err != nil {
			return fmt.Errorf("batch %d: float model: %w", i, err)
		}
		xp, err := interp.AsFloat32(po[pIdx[in]])
		if err != nil {
			return fmt.Errorf("%s: input %s: %w", l.name(), in, err)
		}
		xf, err := interp.AsFloat32(fo[fIdx[in]])
		if err != nil {
			return fmt.Errorf("%s: input %s: %w", l.name(), in, err)
		}
		shape := po[pIdx[in]].Shape
		rng := newRand(i)
		for g := 0; g < l.groups; g++ {
			zp, zf, err := l.rowsOf(shape, xp, xf, g, rng)
			if err != nil {
				return err
			}
			mu.Lock()
			pendP[g] = append(pendP[g], zp...)
			pendF[g] = append(pendF[g], zf...)
			var outP, outF []float64
			if len(pendP[g]) >= flushRows*(l.cols+1) {
				outP, outF, pendP[g], pendF[g] = pendP[g], pendF[g], nil, nil
			}
			mu.Unlock()
			if outP != nil {
				flushG(g, outP, outF)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for g := range grams {
		flushG(g, pendP[g], pendF[g])
		if grams[g].rows == 0 {
			return nil, fmt.Errorf("%s: no calibration rows", l.name())
		}
	}
	return grams, nil
}

// rowsOf extracts the z = [x, 1] rows of group g from the layer's input in
// both models (same shape), at up to maxRowsPerSample sampled positions.
func (l *layer) rowsOf(shape []int, xp, xf []float32, g int, rng *rand.Rand) (zp, zf []float64, err error) {
	if l.node.OpType != "Conv" {
		if len(shape) == 0 || shape[len(shape)-1] != l.cols {
			return nil, nil, fmt.Errorf("%s: input shape %v does not end in %d", l.name(), shape, l.cols)
		}
		r := len(xp) / l.cols
		pick := samplePositions(r, rng)
		zp = make([]float64, 0, len(pick)*(l.cols+1))
		zf = make([]float64, 0, len(pick)*(l.cols+1))
		for _, p := range pick {
			for k := 0; k < l.cols; k++ {
				zp = append(zp, float64(xp[p*l.cols+k]))
				zf = append(zf, float64(xf[p*l.cols+k]))
			}
			zp, zf = append(zp, 1), append(zf, 1)
		}
		return zp, zf, nil
	}
	geo, err := l.convGeometry(shape)
	if err != nil {
		return nil, nil, err
	}
	pick := samplePositions(geo.batch*geo.outSize, rng)
	cg := l.cols / l.spatial
	zp = make([]float64, 0, len(pick)*(l.cols+1))
	zf = make([]float64, 0, len(pick)*(l.cols+1))
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
			ch := g*cg + c
			base := (b*geo.channels + ch) * geo.inSize
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
				if inside {
					zp = append(zp, float64(xp[base+off]))
					zf = append(zf, float64(xf[base+off]))
				} else {
					zp, zf = append(zp, 0), append(zf, 0)
				}
			}
		}
		zp, zf = append(zp, 1), append(zf, 1)
	}
	return zp, zf, nil
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
