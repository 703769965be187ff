package lowrank

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"gonum.org/v1/gonum/mat"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
)

// maxFeatures bounds the feature vectors whose covariance is collected
// (cols²/2 float64s per layer input: 4096 is 64 MiB); wider layers use
// plain SVD.
const maxFeatures = 4096

// maxPatches bounds the conv patches taken per sample (evenly spaced), so
// that a large feature map costs a bounded im2col.
const maxPatches = 256

// covariance is X·Xᵀ / n of a layer's input feature vectors. Only the
// upper triangle is summed (half of cols² float64s): it is kept for the
// whole pass, the full matrix only while its layer is processed (sym).
type covariance struct {
	mu  sync.Mutex
	l   *layer    // the first layer it serves: its features, its name in errors
	sum []float64 // (i, j ≥ i) row by row; in the heap or a spilled file
	n   int64
}

// size is the number of float64s in the sums.
func (cv *covariance) size() int { return cv.l.cols * (cv.l.cols + 1) / 2 }

// sym returns the covariance as a cols×cols matrix.
func (cv *covariance) sym() *mat.SymDense {
	k := cv.l.cols
	s := mat.NewSymDense(k, nil)
	p := 0
	for i := range k {
		for j := i; j < k; j++ {
			s.SetSym(i, j, cv.sum[p]/float64(cv.n))
			p++
		}
	}
	return s
}

// covariances runs m on the calibration data (the calib= folder dir, else
// the CLI's --inputs, else seeded random inputs; at most limit samples) and
// returns the input covariance of every layer that has a data-aware path,
// and where the data came from. Layers that read the same input the same
// way (a transformer's Q, K and V) share one.
//
// The sums are held in the heap up to budget bytes (max_memory). When all
// of them take more, they are collected in groups within budget, one
// calibration run per group, and each group's sums are spilled (onnx.Spill)
// to a mapped temporary file once collected: spectra and apply, which
// rebuild a layer's whitener from them, page in only that layer's. The
// alternatives cost more: a compact form of what apply needs is no smaller
// (the whitener is cols×cols too), and collecting each group again for
// apply would double the calibration runs. A group's sums are the same
// whichever group it is in, so the results do not depend on the budget.
func covariances(c *passes.Context, m *onnx.Model, layers []*layer, dir string, limit int, budget int64) (map[*layer]*covariance, string, error) {
	of := map[*layer]*covariance{}
	var all []*covariance
	shared := map[string]*covariance{}
	for _, l := range layers {
		if l.feat.kind == featNone || l.cols > maxFeatures {
			continue
		}
		key := fmt.Sprintf("%s %d %v", l.node.Input(0).Name, l.cols, l.feat)
		cv := shared[key]
		if cv == nil {
			cv = &covariance{l: l}
			shared[key] = cv
			all = append(all, cv)
		}
		of[l] = cv
	}
	groups := group(all, budget)
	if len(groups) > 1 {
		var total int64
		for _, cv := range all {
			total += 8 * int64(cv.size())
		}
		c.Logf("input covariances: %d MiB > max_memory=%d: collected in %d groups, one calibration run each, kept in a temporary file",
			total>>20, budget, len(groups))
	}
	var origin string
	for _, g := range groups {
		var err error
		if origin, err = collect(c, m, g, dir, limit); err != nil {
			return nil, "", err
		}
		if len(groups) > 1 {
			spill(g)
		}
	}
	if origin == "" { // no covariance to collect: only where the data comes from
		src, err := calib.Open(c, m, dir, limit)
		if err != nil {
			return nil, "", err
		}
		origin = src.Origin()
		src.Close()
	}
	for l, cv := range of {
		if cv.n == 0 {
			delete(of, l)
		}
	}
	return of, origin, nil
}

// group splits covs, in order, into runs whose sums take at most budget
// bytes (a covariance larger than the budget makes a group of its own).
func group(covs []*covariance, budget int64) [][]*covariance {
	var out [][]*covariance
	var bytes int64
	for _, cv := range covs {
		b := 8 * int64(cv.size())
		if len(out) == 0 || bytes+b > budget {
			out = append(out, nil)
			bytes = 0
		}
		out[len(out)-1] = append(out[len(out)-1], cv)
		bytes += b
	}
	return out
}

// collect sums the covariances of one group over the calibration data in
// one buffer (one allocation, spilled at once) and returns where the data
// came from.
func collect(c *passes.Context, m *onnx.Model, covs []*covariance, dir string, limit int) (string, error) {
	src, err := calib.Open(c, m, dir, limit)
	if err != nil {
		return "", err
	}
	defer src.Close()
	total := 0
	for _, cv := range covs {
		total += cv.size()
	}
	buf := make([]float64, total)
	var names []string
	byName := map[string][]*covariance{}
	for _, cv := range covs {
		n := cv.size()
		cv.sum, buf = buf[:n:n], buf[n:]
		name := cv.l.node.Input(0).Name
		if byName[name] == nil {
			names = append(names, name)
		}
		byName[name] = append(byName[name], cv)
	}
	_, err = calib.Activations(c, m, names, src, func(_ int, acts map[string]*interp.Tensor) error {
		for name, t := range acts {
			if t.DType != onnx.Float {
				return fmt.Errorf("activation %s is %s, not float32", name, t.DType)
			}
			for _, cv := range byName[name] {
				if err := cv.add(t); err != nil {
					return fmt.Errorf("node %s, input %s: %w", cv.l.name(), name, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("calibration (%s): %w", src.Origin(), err)
	}
	return src.Origin(), nil
}

// spill moves a collected group's sums (one buffer, as collect made them)
// out of the Go heap into onnx's mapped temporary file; they then read as
// before. Below onnx.SpillMin, or where there is no such file, they stay.
func spill(covs []*covariance) {
	total := 0
	for _, cv := range covs {
		total += cv.size()
	}
	if total == 0 {
		return
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&covs[0].sum[0])), 8*total)
	t := onnx.NewTensor("covariances", onnx.Double, []int64{int64(total)}, raw)
	onnx.Spill(t)
	// The file is mapped at a page boundary: float64s align.
	buf := unsafe.Slice((*float64)(unsafe.Pointer(&t.Raw[0])), total)
	for _, cv := range covs {
		n := cv.size()
		cv.sum, buf = buf[:n:n], buf[n:]
	}
}

// add accumulates one batch's activation t.
func (cv *covariance) add(t *interp.Tensor) error {
	l := cv.l
	x := t.Floats()
	k := l.cols
	part := make([]float32, k*k)
	var vectors int
	threads := max(1, runtime.GOMAXPROCS(0)/2)
	switch l.feat.kind {
	case featRows:
		if len(x)%k != 0 {
			return fmt.Errorf("activation %v does not split into rows of %d", t.Shape, k)
		}
		vectors = len(x) / k
		simd.Sgemm(true, false, k, k, vectors, 1, x, k, x, k, 0, part, k, threads)
	case featColumns:
		if len(t.Shape) != 2 || t.Shape[0] != k {
			return fmt.Errorf("activation %v is not [%d, M]", t.Shape, k)
		}
		vectors = t.Shape[1]
		simd.Sgemm(false, true, k, k, vectors, 1, x, vectors, x, vectors, 0, part, k, threads)
	case featPixels:
		if len(t.Shape) < 3 || t.Shape[1] != k {
			return fmt.Errorf("activation %v has not %d channels on axis 1", t.Shape, k)
		}
		s := len(x) / (t.Shape[0] * k)
		for b := range t.Shape[0] {
			xb := x[b*k*s : (b+1)*k*s]
			simd.Sgemm(false, true, k, k, s, 1, xb, s, xb, s, 1, part, k, threads)
		}
		vectors = t.Shape[0] * s
	case featPatches:
		cols, n, err := patches(l.feat, t, k)
		if err != nil {
			return err
		}
		vectors = n
		simd.Sgemm(true, false, k, k, n, 1, cols, k, cols, k, 0, part, k, threads)
	default:
		return nil
	}
	cv.mu.Lock()
	p := 0
	for i := range k {
		for _, v := range part[i*k+i : (i+1)*k] {
			cv.sum[p] += float64(v)
			p++
		}
	}
	cv.n += int64(vectors)
	cv.mu.Unlock()
	return nil
}

// patches is im2col of a [B, C, H, W] (or [B, C, L]) input for a conv
// window, at most maxPatches evenly spaced positions per sample: rows of
// k = C·kh·kw values in the weight's (c, y, x) order.
func patches(f features, t *interp.Tensor, k int) ([]float32, int, error) {
	sh := t.Shape
	if len(sh) != len(f.kernel)+2 {
		return nil, 0, fmt.Errorf("activation %v does not match a %d-D kernel", sh, len(f.kernel))
	}
	// Lift 1-D to 2-D with a height of 1.
	kh, kw, sy, sx, dy, dx := 1, f.kernel[0], 1, f.strides[0], 1, f.dilations[0]
	H, W := 1, sh[2]
	pads := []int{0, f.pads[0], 0, f.pads[1]}
	if len(f.kernel) == 2 {
		kh, kw, sy, sx, dy, dx = f.kernel[0], f.kernel[1], f.strides[0], f.strides[1], f.dilations[0], f.dilations[1]
		H, W = sh[2], sh[3]
		pads = f.pads
	}
	B, C := sh[0], sh[1]
	if C*kh*kw != k {
		return nil, 0, fmt.Errorf("activation %v: %d channels × %d×%d window is not %d features", sh, C, kh, kw, k)
	}
	if f.autoPad == "SAME_UPPER" || f.autoPad == "SAME_LOWER" {
		same := func(in, k, s, d int) (int, int) {
			out := (in + s - 1) / s
			total := max(0, (out-1)*s+(k-1)*d+1-in)
			if f.autoPad == "SAME_UPPER" {
				return total / 2, total - total/2
			}
			return total - total/2, total / 2
		}
		pads = make([]int, 4)
		pads[0], pads[2] = same(H, kh, sy, dy)
		pads[1], pads[3] = same(W, kw, sx, dx)
	} else if f.autoPad == "VALID" {
		pads = []int{0, 0, 0, 0}
	}
	oh := (H+pads[0]+pads[2]-((kh-1)*dy+1))/sy + 1
	ow := (W+pads[1]+pads[3]-((kw-1)*dx+1))/sx + 1
	if oh <= 0 || ow <= 0 {
		return nil, 0, fmt.Errorf("activation %v: the window does not fit", sh)
	}
	step := max(1, (oh*ow+maxPatches-1)/maxPatches)
	x := t.Floats()
	var out []float32
	n := 0
	for b := range B {
		for p := 0; p < oh*ow; p += step {
			oy, ox := p/ow, p%ow
			row := make([]float32, k)
			for c := range C {
				for ky := range kh {
					iy := oy*sy - pads[0] + ky*dy
					if iy < 0 || iy >= H {
						continue
					}
					for kx := range kw {
						ix := ox*sx - pads[1] + kx*dx
						if ix < 0 || ix >= W {
							continue
						}
						row[(c*kh+ky)*kw+kx] = x[((b*C+c)*H+iy)*W+ix]
					}
				}
			}
			out = append(out, row...)
			n++
		}
	}
	return out, n, nil
}
