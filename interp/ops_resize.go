package interp

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// Resize is computed separably, one axis at a time from the last to the
// first, which matches ONNX's reference (it interpolates inner dimensions
// first). For every output index of an axis we precompute its taps.

type resizeAttrs struct {
	mode, coord, nearest string
	cubicA               float64
	excludeOutside       bool
	extrapolation        float64
	antialias            bool
	axes                 []int64
	policy               string
	opset                int64
}

type axisTaps struct {
	idx    [][]int
	w      [][]float64
	extrap []bool // output index falls outside the crop (tf_crop_and_resize)
}

func cubicCoeff(x, a float64) float64 {
	x = math.Abs(x)
	switch {
	case x <= 1:
		return (a+2)*x*x*x - (a+3)*x*x + 1
	case x < 2:
		return a*x*x*x - 5*a*x*x + 8*a*x - 4*a
	}
	return 0
}

// neighbors returns the n integers nearest to x, ties going to the smaller,
// in increasing order.
func neighbors(x float64, n int) []int {
	f := int(math.Floor(x))
	cand := make([]int, 0, 2*n+2)
	for i := f - n; i <= f+n+1; i++ {
		cand = append(cand, i)
	}
	sort.SliceStable(cand, func(i, j int) bool {
		di, dj := math.Abs(x-float64(cand[i])), math.Abs(x-float64(cand[j]))
		if di != dj {
			return di < dj
		}
		return cand[i] < cand[j]
	})
	out := append([]int{}, cand[:n]...)
	sort.Ints(out)
	return out
}

// origCoord maps an output coordinate back into the input axis.
func (a *resizeAttrs) origCoord(x float64, in, out int, scale, roiStart, roiEnd float64) float64 {
	fin, fout := float64(in), float64(out)
	switch a.coord {
	case "half_pixel":
		return (x+0.5)/scale - 0.5
	case "half_pixel_symmetric":
		adj := fout / (scale * fin)
		center := fin / 2
		return center*(1-adj) + (x+0.5)/scale - 0.5
	case "pytorch_half_pixel":
		if out > 1 {
			return (x+0.5)/scale - 0.5
		}
		return 0
	case "align_corners":
		// The reference divides by the unrounded output length in·scale.
		w := fin * scale
		if w == 1 {
			return 0
		}
		return x * (fin - 1) / (w - 1)
	case "tf_crop_and_resize":
		if out > 1 {
			return roiStart*(fin-1) + x*(roiEnd-roiStart)*(fin-1)/(fout-1)
		}
		return 0.5 * (roiStart + roiEnd) * (fin - 1)
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / scale
	}
	return x / scale // asymmetric
}

func (a *resizeAttrs) taps(in, out int, scale, roiStart, roiEnd float64) (*axisTaps, error) {
	t := &axisTaps{idx: make([][]int, out), w: make([][]float64, out), extrap: make([]bool, out)}
	clampIdx := func(i int) int { return min(max(i, 0), in-1) }
	for o := 0; o < out; o++ {
		x := a.origCoord(float64(o), in, out, scale, roiStart, roiEnd)
		if a.coord == "tf_crop_and_resize" && (x < 0 || x > float64(in-1)) {
			t.extrap[o] = true
			continue
		}
		xi := math.Floor(x)
		ratio := x - xi
		if ratio == 0 {
			ratio = 1 // the reference prefers the pixel left of x
		}
		switch a.mode {
		case "nearest":
			var i int
			switch a.nearest {
			case "round_prefer_ceil":
				i = int(math.Floor(x + 0.5))
			case "floor":
				i = int(math.Floor(x))
			case "ceil":
				i = int(math.Ceil(x))
			case "simple": // Upsample and Resize-10
				if scale < 1 {
					i = int(math.Ceil(x))
				} else {
					i = int(math.Floor(x))
				}
			default: // round_prefer_floor
				i = int(math.Ceil(x - 0.5))
			}
			t.idx[o] = []int{clampIdx(i)}
			t.w[o] = []float64{1}
			continue
		case "linear", "cubic":
		default:
			return nil, fmt.Errorf("unknown Resize mode %q", a.mode)
		}
		var coeffs []float64
		s := scale
		if a.antialias && s < 1 {
			if a.mode == "linear" {
				start := int(math.Floor(-1/s) + 1)
				for i := start; i < 2-start; i++ {
					coeffs = append(coeffs, max(0, 1-math.Abs((float64(i)-ratio)*s)))
				}
			} else {
				start := int(math.Floor(-2/s) + 1)
				for i := start; i < 2-start; i++ {
					coeffs = append(coeffs, cubicCoeff(s*(float64(i)-ratio), a.cubicA))
				}
			}
			var sum float64
			for _, c := range coeffs {
				sum += c
			}
			for i := range coeffs {
				coeffs[i] /= sum
			}
		} else if a.mode == "linear" {
			coeffs = []float64{1 - ratio, ratio}
		} else {
			coeffs = []float64{cubicCoeff(ratio+1, a.cubicA), cubicCoeff(ratio, a.cubicA), cubicCoeff(1-ratio, a.cubicA), cubicCoeff(2-ratio, a.cubicA)}
		}
		nb := neighbors(x, len(coeffs))
		if a.excludeOutside {
			var sum float64
			for i, j := range nb {
				if j < 0 || j >= in {
					coeffs[i] = 0
				}
				sum += coeffs[i]
			}
			if sum != 0 {
				for i := range coeffs {
					coeffs[i] /= sum
				}
			}
		}
		for i := range nb {
			nb[i] = clampIdx(nb[i])
		}
		t.idx[o], t.w[o] = nb, coeffs
	}
	return t, nil
}

// applyAxis resizes v (shape) along axis with the taps.
func applyAxis(v []float64, shape []int, axis int, t *axisTaps, extrap float64) ([]float64, []int) {
	outer, in, inner := prod(shape[:axis]), shape[axis], prod(shape[axis+1:])
	out := len(t.idx)
	res := make([]float64, outer*out*inner)
	for o := 0; o < outer; o++ {
		for k := 0; k < out; k++ {
			dst := res[(o*out+k)*inner : (o*out+k+1)*inner]
			if t.extrap[k] {
				for i := range dst {
					dst[i] = extrap
				}
				continue
			}
			for j, idx := range t.idx[k] {
				w := t.w[k][j]
				src := v[(o*in+idx)*inner : (o*in+idx+1)*inner]
				for i := range dst {
					dst[i] += w * src[i]
				}
			}
		}
	}
	ns := append([]int{}, shape...)
	ns[axis] = out
	return res, ns
}

// geometry resolves scales or sizes (and roi) for an input of shape: each
// axis's scale, the output shape, and the crop's starts and ends.
func (a *resizeAttrs) geometry(shape []int, scales []float64, sizes []int64, roi []float64) (sc []float64, outShape []int, starts, ends []float64, err error) {
	r := len(shape)
	axes := make([]int, 0, r)
	if a.axes == nil {
		for i := range r {
			axes = append(axes, i)
		}
	} else {
		for _, ax := range a.axes {
			n, err := normAxis(ax, r)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			axes = append(axes, n)
		}
	}
	sc = make([]float64, r)
	outShape = append([]int{}, shape...)
	for i := range sc {
		sc[i] = 1
	}
	switch {
	case sizes != nil:
		if len(sizes) != len(axes) {
			return nil, nil, nil, nil, fmt.Errorf("sizes has %d elements for %d axes", len(sizes), len(axes))
		}
		if a.policy == "not_larger" || a.policy == "not_smaller" {
			s := math.Inf(1)
			if a.policy == "not_smaller" {
				s = math.Inf(-1)
			}
			for i, ax := range axes {
				v := float64(sizes[i]) / float64(shape[ax])
				if a.policy == "not_larger" {
					s = min(s, v)
				} else {
					s = max(s, v)
				}
			}
			for _, ax := range axes {
				sc[ax] = s
				outShape[ax] = int(math.Floor(s*float64(shape[ax]) + 0.5))
			}
		} else {
			for i, ax := range axes {
				if sizes[i] < 0 {
					return nil, nil, nil, nil, fmt.Errorf("negative size %d", sizes[i])
				}
				outShape[ax] = int(sizes[i])
				sc[ax] = float64(sizes[i]) / float64(shape[ax])
			}
		}
	case scales != nil:
		if len(scales) != len(axes) {
			return nil, nil, nil, nil, fmt.Errorf("scales has %d elements for %d axes", len(scales), len(axes))
		}
		for i, ax := range axes {
			if scales[i] <= 0 {
				return nil, nil, nil, nil, fmt.Errorf("scales must be positive, got %v", scales)
			}
			sc[ax] = scales[i]
			outShape[ax] = int(math.Floor(float64(shape[ax]) * scales[i]))
		}
	default:
		return nil, nil, nil, nil, fmt.Errorf("scales or sizes is required")
	}
	starts, ends = make([]float64, r), make([]float64, r)
	for i := range ends {
		ends[i] = 1
	}
	if roi != nil && a.coord == "tf_crop_and_resize" {
		switch len(roi) {
		case 2 * r:
			copy(starts, roi[:r])
			copy(ends, roi[r:])
		case 2 * len(axes):
			for i, ax := range axes {
				starts[ax], ends[ax] = roi[i], roi[len(axes)+i]
			}
		default:
			return nil, nil, nil, nil, fmt.Errorf("roi has %d elements for rank %d", len(roi), r)
		}
	}
	return sc, outShape, starts, ends, nil
}

// resize runs the op given per-axis scales (or nil) and sizes (or nil) over
// all axes of x, and roi over all axes (or nil).
func (a *resizeAttrs) resize(ctx *Ctx, x *Tensor, scales []float64, sizes []int64, roi []float64) (*Tensor, error) {
	r := len(x.Shape)
	sc, outShape, starts, ends, err := a.geometry(x.Shape, scales, sizes, roi)
	if err != nil {
		return nil, err
	}
	if (x.DType == onnx.Float || x.DType == onnx.Float16) && a.coord != "tf_crop_and_resize" {
		// float16 computes in float32 (converted through this step's
		// buffers), rounded once at the end.
		xf := x
		if x.DType == onnx.Float16 {
			v, err := ctx.float32Of(x)
			if err != nil {
				return nil, err
			}
			xf = FromSlice(onnx.Float, x.Shape, v)
		}
		if y, ok, err := a.resizePlanes(ctx, xf, sc, outShape); ok || err != nil {
			if err != nil {
				return nil, err
			}
			return ctx.roundFloat32(x.DType, y), nil
		}
	}
	v, err := asFloat64s(x)
	if err != nil {
		return nil, err
	}
	shape := append([]int{}, x.Shape...)
	ctx.New(x.DType, outShape...) // checks the memory limit before working
	for ax := r - 1; ax >= 0; ax-- {
		if outShape[ax] == shape[ax] && sc[ax] == 1 && a.coord != "tf_crop_and_resize" {
			continue
		}
		if shape[ax] == 0 {
			return nil, fmt.Errorf("cannot resize an empty axis")
		}
		t, err := a.taps(shape[ax], outShape[ax], sc[ax], starts[ax], ends[ax])
		if err != nil {
			return nil, err
		}
		v, shape = applyAxis(v, shape, ax, t, a.extrapolation)
	}
	if !isFloat(x.DType) {
		for i := range v {
			v[i] = math.RoundToEven(v[i])
		}
	}
	return fromFloat64s(ctx, x.DType, shape, v)
}

// planeTaps is an axis's taps in float32: output index o reads input
// indices idx[o·k : (o+1)·k] with weights w[…]. Every output of an axis
// has the same number of taps k (1 nearest, 2 linear, 4 cubic, more
// antialiased).
type planeTaps struct {
	k   int
	idx []int32
	w   []float32
}

func flattenTaps(t *axisTaps) (planeTaps, bool) {
	p := planeTaps{k: len(t.idx[0])}
	for o, ix := range t.idx {
		if len(ix) != p.k {
			return p, false
		}
		for j, i := range ix {
			p.idx = append(p.idx, int32(i))
			p.w = append(p.w, float32(t.w[o][j]))
		}
	}
	return p, true
}

// errUnevenTaps sends resizePlanes back to the general path.
var errUnevenTaps = errors.New("resize: outputs with different tap counts")

// resizePlanes is resize's path for float32 tensors whose last two axes
// (H, W) are the only ones resized, as in image models' upsampling. It
// uses the same taps in the same order (W first, then H) in float32
// arithmetic, where the general path sums in float64: nearest gives the
// same bits, interpolation within a rounding of them (TestResizePlanes).
// Each input row an output row reads is interpolated along W once, then
// rows are combined with vector kernels; output rows are spread over the
// threads. ok is false where the path does not apply.
func (a *resizeAttrs) resizePlanes(ctx *Ctx, x *Tensor, sc []float64, outShape []int) (*Tensor, bool, error) {
	r := len(x.Shape)
	if r == 0 {
		return nil, false, nil
	}
	for ax := 0; ax < r-2; ax++ {
		if outShape[ax] != x.Shape[ax] || sc[ax] != 1 {
			return nil, false, nil
		}
	}
	h, w, oh, ow := 1, x.Shape[r-1], 1, outShape[r-1]
	if r >= 2 {
		h, oh = x.Shape[r-2], outShape[r-2]
	}
	// A worker holds every input row of a plane interpolated along W: at
	// most 64 MiB of them (larger planes go the general way).
	if h == 0 || w == 0 || h*ow > 16<<20 {
		return nil, false, nil
	}
	axisTaps := func(in, out int, scale float64) (*planeTaps, error) {
		if in == out && scale == 1 {
			return nil, nil
		}
		t, err := a.taps(in, out, scale, 0, 1)
		if err != nil {
			return nil, err
		}
		if p, ok := flattenTaps(t); ok {
			return &p, nil
		}
		return nil, errUnevenTaps
	}
	var th, tw *planeTaps
	var err error
	if r >= 2 {
		th, err = axisTaps(h, oh, sc[r-2])
	}
	if err == nil {
		tw, err = axisTaps(w, ow, sc[r-1])
	}
	if err == errUnevenTaps {
		return nil, false, nil
	} else if err != nil {
		return nil, true, err
	}
	y := ctx.newRaw(onnx.Float, outShape...)
	planes := prod(x.Shape[:max(0, r-2)])
	xs, ys := x.Floats(), y.Floats()
	if len(ys) == 0 {
		return y, true, nil
	}
	threads := 1
	if len(ys) >= 1<<16 {
		threads = ctx.Threads()
	}
	simd.ParallelRuns(planes*oh, threads, func(r0, r1 int) {
		// rows[i] holds input row i of plane rowPlane[i]-1 interpolated
		// along W (rows are computed once per plane and worker).
		var rows []float32
		var rowPlane []int
		if tw != nil {
			rows, rowPlane = make([]float32, h*ow), make([]int, h)
		}
		row := func(p, i int) []float32 {
			src := xs[(p*h+i)*w : (p*h+i+1)*w]
			if tw == nil {
				return src
			}
			dst := rows[i*ow : (i+1)*ow]
			if rowPlane[i] != p+1 {
				interpolateRow(dst, src, tw)
				rowPlane[i] = p + 1
			}
			return dst
		}
		for u := r0; u < r1; u++ {
			p, o := u/oh, u%oh
			dst := ys[u*ow : (u+1)*ow]
			if th == nil {
				copy(dst, row(p, o))
				continue
			}
			taps, ws := th.idx[o*th.k:(o+1)*th.k], th.w[o*th.k:(o+1)*th.k]
			if th.k == 1 && ws[0] == 1 {
				copy(dst, row(p, int(taps[0])))
				continue
			}
			simd.Scale(dst, row(p, int(taps[0])), ws[0])
			for j := 1; j < len(taps); j++ {
				simd.Axpy(dst, row(p, int(taps[j])), ws[j])
			}
		}
	})
	return y, true, nil
}

// interpolateRow writes dst[o] = Σ w·src[idx] over o's taps, in tap
// order.
func interpolateRow(dst, src []float32, t *planeTaps) {
	idx, w := t.idx[:len(dst)*t.k], t.w[:len(dst)*t.k]
	switch t.k {
	case 1:
		for o := range dst {
			if w[o] == 1 {
				dst[o] = src[idx[o]]
			} else {
				dst[o] = w[o] * src[idx[o]]
			}
		}
	case 2:
		for o := range dst {
			i := 2 * o
			s := w[i] * src[idx[i]]
			dst[o] = s + w[i+1]*src[idx[i+1]]
		}
	default:
		for o := range dst {
			var s float32
			for j := o * t.k; j < (o+1)*t.k; j++ {
				s += w[j] * src[idx[j]]
			}
			dst[o] = s
		}
	}
}

// optFloats reads an optional float input; an empty tensor counts as absent.
func optFloats(in []*Tensor, i int) ([]float64, error) {
	if len(in) <= i || in[i] == nil || in[i].Len() == 0 {
		return nil, nil
	}
	return asFloat64s(in[i])
}

// newResizeAttrs reads a Resize node's attributes at opset.
func newResizeAttrs(n *onnx.Node, opset int64) *resizeAttrs {
	a := &resizeAttrs{
		mode:           n.AttrString("mode", "nearest"),
		coord:          n.AttrString("coordinate_transformation_mode", "half_pixel"),
		nearest:        n.AttrString("nearest_mode", "round_prefer_floor"),
		cubicA:         float64(n.AttrFloat("cubic_coeff_a", -0.75)),
		excludeOutside: n.AttrInt("exclude_outside", 0) != 0,
		extrapolation:  float64(n.AttrFloat("extrapolation_value", 0)),
		antialias:      n.AttrInt("antialias", 0) != 0,
		axes:           n.AttrInts("axes", nil),
		policy:         n.AttrString("keep_aspect_ratio_policy", "stretch"),
		opset:          opset,
	}
	if opset < 11 {
		// Resize-10 behaves like Upsample.
		a.coord, a.nearest = "asymmetric", "simple"
	}
	return a
}

// args reads a Resize's scales, sizes and roi inputs (empty ones absent).
func (a *resizeAttrs) args(in []*Tensor) (scales []float64, sizes []int64, roi []float64, err error) {
	if a.opset < 11 {
		scales, err = optFloats(in, 1)
		return scales, nil, nil, err
	}
	if roi, err = optFloats(in, 1); err != nil {
		return nil, nil, nil, err
	}
	if scales, err = optFloats(in, 2); err != nil {
		return nil, nil, nil, err
	}
	if len(in) > 3 && in[3] != nil && in[3].Len() > 0 {
		if sizes, err = intsOf(in[3]); err != nil {
			return nil, nil, nil, err
		}
	}
	return scales, sizes, roi, nil
}

func resizeBuilder(b *Build) (Kernel, error) {
	a := newResizeAttrs(b.Node, b.Opset)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		scales, sizes, roi, err := a.args(in)
		if err != nil {
			return nil, err
		}
		out, err := a.resize(ctx, in[0], scales, sizes, roi)
		return []*Tensor{out}, err
	}, nil
}

// newUpsampleAttrs reads an Upsample node's attributes.
func newUpsampleAttrs(n *onnx.Node) *resizeAttrs {
	a := &resizeAttrs{mode: n.AttrString("mode", "nearest"), coord: "asymmetric", nearest: "simple", cubicA: -0.75}
	if a.mode == "bilinear" {
		a.mode = "linear"
	}
	return a
}

// Upsample1Scales is the per-axis scales of an Upsample-1, which scaled
// the last two axes of an [N,C,H,W] input by height_scale and width_scale.
func Upsample1Scales(n *onnx.Node) []float32 {
	return []float32{1, 1, n.AttrFloat("height_scale", 1), n.AttrFloat("width_scale", 1)}
}

// upsampleScales reads an Upsample's scales: an attribute before opset 9,
// input 1 from then on.
func upsampleScales(n *onnx.Node, opset int64, in []*Tensor) ([]float64, error) {
	if opset < 7 && n.Attr("scales") == nil {
		// Upsample-1 scaled the last two axes of an [N,C,H,W] input.
		var scales []float64
		for _, s := range Upsample1Scales(n) {
			scales = append(scales, float64(s))
		}
		return scales, nil
	}
	if opset < 9 {
		var scales []float64
		for _, s := range n.AttrFloats("scales", nil) {
			scales = append(scales, float64(s))
		}
		return scales, nil
	}
	return optFloats(in, 1)
}

func upsampleBuilder(b *Build) (Kernel, error) {
	a := newUpsampleAttrs(b.Node)
	n, opset := b.Node, b.Opset
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		scales, err := upsampleScales(n, opset, in)
		if err != nil {
			return nil, err
		}
		out, err := a.resize(ctx, in[0], scales, nil, nil)
		return []*Tensor{out}, err
	}, nil
}

// ResizeAxis is what a Resize computes along one axis: output index o is
// the sum of input indices Idx[o] weighted by W[o], or the extrapolation
// value where Extrap[o] (tf_crop_and_resize outside the crop).
type ResizeAxis struct {
	Idx    [][]int
	W      [][]float64
	Extrap []bool
}

// ResizeMap returns what a Resize or Upsample node at opset computes on
// inputs in: per axis its map (nil where the axis is left as it is) and the
// output shape. The node applies them one axis at a time, the last axis
// first; it is linear in in[0], so its gradient applies them transposed.
func ResizeMap(n *onnx.Node, opset int64, in []*Tensor) ([]*ResizeAxis, []int, error) {
	var a *resizeAttrs
	var scales, roi []float64
	var sizes []int64
	var err error
	switch n.OpType {
	case "Resize":
		a = newResizeAttrs(n, opset)
		scales, sizes, roi, err = a.args(in)
	case "Upsample":
		a = newUpsampleAttrs(n)
		scales, err = upsampleScales(n, opset, in)
	default:
		return nil, nil, fmt.Errorf("ResizeMap of %s", n.OpType)
	}
	if err != nil {
		return nil, nil, err
	}
	shape := in[0].Shape
	sc, outShape, starts, ends, err := a.geometry(shape, scales, sizes, roi)
	if err != nil {
		return nil, nil, err
	}
	maps := make([]*ResizeAxis, len(shape))
	for ax := range shape {
		if outShape[ax] == shape[ax] && sc[ax] == 1 && a.coord != "tf_crop_and_resize" {
			continue
		}
		if shape[ax] == 0 {
			return nil, nil, fmt.Errorf("cannot resize an empty axis")
		}
		t, err := a.taps(shape[ax], outShape[ax], sc[ax], starts[ax], ends[ax])
		if err != nil {
			return nil, nil, err
		}
		maps[ax] = &ResizeAxis{Idx: t.idx, W: t.w, Extrap: t.extrap}
	}
	return maps, outShape, nil
}

func init() {
	for _, v := range []int64{10, 11, 13, 18, 19} {
		Register("", "Resize", v, resizeBuilder)
	}
	for _, v := range []int64{1, 7, 9} {
		Register("", "Upsample", v, upsampleBuilder)
	}
}
