package interp

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/onnxslim/onnxslim/onnx"
)

// Vision ops: GridSample, AffineGrid, RoiAlign, NonMaxSuppression, Col2Im,
// DeformConv, CenterCropPad and MaxUnpool. Sampling follows ONNX's reference
// (which follows PyTorch/torchvision); values are computed in float64.

// ---- GridSample ----

type gridSampleAttrs struct {
	mode, padding string
	align         bool
}

// gsReflect reflects x into [lo, hi] by the nearer border until it is inside.
func gsReflect(x, lo, hi float64) float64 {
	rng := hi - lo
	if rng <= 0 {
		return lo
	}
	if x < lo {
		dx := lo - x
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if int64(n)%2 == 0 {
			return lo + r
		}
		return hi - r
	}
	if x > hi {
		dx := x - hi
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if int64(n)%2 == 0 {
			return hi - r
		}
		return lo + r
	}
	return x
}

// tap maps an integer index along a dimension of length d to the index read,
// by the padding mode; ok is false when the value is zero padding.
func (a *gridSampleAttrs) tap(i, d int, lo, hi float64) (int, bool) {
	switch a.padding {
	case "border":
		return min(max(i, 0), d-1), true
	case "reflection":
		j := int(gsReflect(float64(i), lo, hi))
		return min(max(j, 0), d-1), true
	}
	return i, i >= 0 && i < d
}

// cubicCoeffs are Keys' cubic convolution weights (A = -0.75) for offset t in [0,1).
func cubicCoeffs(t float64) [4]float64 {
	const a = -0.75
	x := math.Abs(t)
	return [4]float64{
		((a*(x+1)-5*a)*(x+1)+8*a)*(x+1) - 4*a,
		((a+2)*x-(a+3))*x*x + 1,
		((a+2)*(1-x)-(a+3))*(1-x)*(1-x) + 1,
		((a*(2-x)-5*a)*(2-x)+8*a)*(2-x) - 4*a,
	}
}

func gridSampleBuilder(b *Build) (Kernel, error) {
	a := gridSampleAttrs{mode: b.String("mode", "linear"), padding: b.String("padding_mode", "zeros"), align: b.Int("align_corners", 0) != 0}
	switch a.mode {
	case "bilinear":
		a.mode = "linear"
	case "bicubic":
		a.mode = "cubic"
	case "linear", "cubic", "nearest":
	default:
		return nil, fmt.Errorf("unknown mode %q", a.mode)
	}
	switch a.padding {
	case "zeros", "border", "reflection":
	default:
		return nil, fmt.Errorf("unknown padding_mode %q", a.padding)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		out, err := gridSample(ctx, &a, in[0], in[1])
		return []*Tensor{out}, err
	}, nil
}

func gridSample(ctx *Ctx, a *gridSampleAttrs, x, grid *Tensor) (*Tensor, error) {
	r := x.Rank() - 2
	if r < 1 || grid.Rank() != r+2 || grid.Shape[0] != x.Shape[0] || grid.Shape[r+1] != r {
		return nil, fmt.Errorf("grid %s does not match input %s", grid, x)
	}
	// float32 input is read in place and written straight to a float32
	// result (each sum still in float64, rounded once as before).
	xf, isF32 := x.Data.([]float32)
	var xv []float64
	if !isF32 {
		var err error
		if xv, err = numbersAsFloat64(x); err != nil {
			return nil, err
		}
	}
	g, err := numbersAsFloat64(grid)
	if err != nil || !isFloat(grid.DType) {
		return nil, fmt.Errorf("grid must be a float tensor, got %s", grid)
	}
	n, c := x.Shape[0], x.Shape[1]
	dims := x.Shape[2:]
	outSp := grid.Shape[1 : r+1]
	shape := append([]int{n, c}, outSp...)
	inSize, outSize := prod(dims), prod(outSp)
	var res []float64
	var res32 []float32
	var out32 *Tensor
	if isF32 {
		out32 = ctx.newRaw(onnx.Float, shape...) // every output is written
		res32 = out32.Floats()
	} else {
		res = make([]float64, n*c*outSize)
	}
	lo, hi := make([]float64, r), make([]float64, r)
	for i, d := range dims {
		lo[i], hi[i] = -0.5, float64(d)-0.5
		if a.align {
			lo[i], hi[i] = 0, float64(d-1)
		}
	}
	strides := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		strides[i] = s
		s *= dims[i]
	}
	ntaps := map[string]int{"nearest": 1, "linear": 2, "cubic": 4}[a.mode]
	idx := make([][]int, r)     // per dim: tap offsets into the input (−1: zero)
	wts := make([][]float64, r) // per dim: tap weights
	coord := make([]float64, r) // denormalized coordinates, outermost dim first
	for i := range r {
		idx[i], wts[i] = make([]int, ntaps), make([]float64, ntaps)
	}
	cnt := make([]int, r)
	// An output position's taps (the tensor product of each dimension's,
	// zero padding left out), found once for all channels.
	sc, _ := gsScratches.Get().(*gsScratch)
	if sc == nil {
		sc = new(gsScratch)
	}
	defer gsScratches.Put(sc)
	taps := slices.Grow(sc.taps[:0], outSize*int(math.Pow(float64(ntaps), float64(r))))
	starts := slices.Grow(sc.starts[:0], outSize+1)[:outSize+1] // position o's taps: taps[starts[o]:starts[o+1]]
	defer func() { sc.taps, sc.starts = taps, starts }()
	for bn := range n {
		taps = taps[:0]
		for o := range outSize {
			gp := g[(bn*outSize+o)*r:]
			for i := range r {
				v := gp[r-1-i] // the grid lists the innermost dimension first
				d := float64(dims[i])
				var xc float64
				if a.align {
					xc = (v + 1) / 2 * (d - 1)
				} else {
					xc = ((v+1)*d - 1) / 2
				}
				coord[i] = float64(float32(xc)) // the reference holds coordinates in float32
			}
			for i := range r {
				xc := coord[i]
				if a.mode == "nearest" {
					xc = math.RoundToEven(xc) // halfway rounds to even, as the test data does in 2-D and 3-D
				}
				if xc < lo[i] || xc > hi[i] {
					switch a.padding {
					case "border":
						xc = min(max(xc, 0), float64(dims[i]-1))
					case "reflection":
						xc = gsReflect(xc, lo[i], hi[i])
					}
				}
				var base int
				switch a.mode {
				case "nearest":
					base = int(xc) // truncation, as the reference's astype(int32)
					wts[i][0] = 1
				case "linear":
					f := math.Floor(xc)
					base = int(f)
					wts[i][0], wts[i][1] = 1-(xc-f), xc-f
				case "cubic":
					f := math.Floor(xc)
					base = int(f) - 1
					cc := cubicCoeffs(xc - f)
					copy(wts[i], cc[:])
				}
				for t := range ntaps {
					j, ok := a.tap(base+t, dims[i], lo[i], hi[i])
					if ok {
						idx[i][t] = j * strides[i]
					} else {
						idx[i][t] = -1
					}
				}
			}
			starts[o] = len(taps)
			if r == 2 { // the odometer below, unrolled for images: same taps, same order
				for t0, o0 := range idx[0] {
					if o0 < 0 {
						continue
					}
					for t1, o1 := range idx[1] {
						if o1 >= 0 {
							taps = append(taps, gsTap{o0 + o1, wts[0][t0] * wts[1][t1]})
						}
					}
				}
				continue
			}
			clear(cnt)
			for {
				w, off, zero := 1.0, 0, false
				for i := range r {
					if idx[i][cnt[i]] < 0 {
						zero = true
						break
					}
					w *= wts[i][cnt[i]]
					off += idx[i][cnt[i]]
				}
				if !zero {
					taps = append(taps, gsTap{off, w})
				}
				k := r - 1
				for k >= 0 {
					cnt[k]++
					if cnt[k] < ntaps {
						break
					}
					cnt[k] = 0
					k--
				}
				if k < 0 {
					break
				}
			}
		}
		starts[outSize] = len(taps)
		// Then four channels at a time (four independent sums a tap),
		// their planes read while in cache.
		for ch := 0; ch < c; ch += 4 {
			nc := min(4, c-ch)
			plane, dst := (bn*c+ch)*inSize, (bn*c+ch)*outSize
			if isF32 {
				gsApply(res32[dst:dst+nc*outSize], xf[plane:plane+nc*inSize], nc, taps, starts)
			} else {
				gsApply(res[dst:dst+nc*outSize], xv[plane:plane+nc*inSize], nc, taps, starts)
			}
		}
	}
	if isF32 {
		return out32, nil
	}
	return tensorFromFloat64s(ctx, x.DType, shape, res)
}

// gsScratch is a GridSample run's tap table, kept between runs in
// gsScratches: fresh each run it came from fresh pages (8 page faults a
// run, ~11 µs each on this VM, for 32 channels of 64×64).
type gsScratch struct {
	taps   []gsTap
	starts []int
}

var gsScratches sync.Pool

// gsTap is one input tap of a GridSample output: its offset in a plane
// and its weight.
type gsTap struct {
	off int
	w   float64
}

// gsApply sets each output o of nc planes (nc ≤ 4; dst and src hold the
// planes one after another) to the weighted sum of its taps
// taps[starts[o]:starts[o+1]] of the plane's src, in float64, rounded once
// to T. Four planes go together: a tap is read once for four sums that do
// not wait on each other.
func gsApply[T float32 | float64](dst, src []T, nc int, taps []gsTap, starts []int) {
	n, m := len(dst)/nc, len(src)/nc
	if nc < 4 {
		for k := range nc {
			d, s := dst[k*n:(k+1)*n], src[k*m:(k+1)*m]
			for o := range d {
				sum := 0.0
				for _, t := range taps[starts[o]:starts[o+1]] {
					sum += t.w * float64(s[t.off])
				}
				d[o] = T(sum)
			}
		}
		return
	}
	d0, d1, d2, d3 := dst[:n], dst[n:2*n], dst[2*n:3*n], dst[3*n:4*n]
	s0, s1, s2, s3 := src[:m], src[m:2*m], src[2*m:3*m], src[3*m:4*m]
	for o := range d0 {
		var a0, a1, a2, a3 float64
		for _, t := range taps[starts[o]:starts[o+1]] {
			a0 += t.w * float64(s0[t.off])
			a1 += t.w * float64(s1[t.off])
			a2 += t.w * float64(s2[t.off])
			a3 += t.w * float64(s3[t.off])
		}
		d0[o], d1[o], d2[o], d3[o] = T(a0), T(a1), T(a2), T(a3)
	}
}

// ---- AffineGrid ----

func affineGridBuilder(b *Build) (Kernel, error) {
	align := b.Int("align_corners", 0) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		theta := in[0]
		size, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		r := len(size) - 2
		if (r != 2 && r != 3) || theta.Rank() != 3 || theta.Shape[1] != r || theta.Shape[2] != r+1 || int64(theta.Shape[0]) != size[0] {
			return nil, fmt.Errorf("theta %s does not match size %v", theta, size)
		}
		th, err := numbersAsFloat64(theta)
		if err != nil {
			return nil, err
		}
		sp := make([]int, r) // spatial output dims, outermost first
		for i := range r {
			if size[2+i] < 0 {
				return nil, fmt.Errorf("bad size %v", size)
			}
			sp[i] = int(size[2+i])
		}
		lin := func(i, d int) float64 {
			if align {
				if d <= 1 {
					return 0
				}
				return -1 + 2*float64(i)/float64(d-1)
			}
			return (2*float64(i)+1)/float64(d) - 1
		}
		n := int(size[0])
		pts := prod(sp)
		res := make([]float64, n*pts*r)
		base := make([]float64, r+1) // x, y(, z), 1: innermost coordinate first
		pos := make([]int, r)
		for bn := range n {
			t := th[bn*r*(r+1):]
			for p := range pts {
				rem := p
				for i := r - 1; i >= 0; i-- {
					pos[i] = rem % sp[i]
					rem /= sp[i]
				}
				for i := range r {
					base[i] = lin(pos[r-1-i], sp[r-1-i])
				}
				base[r] = 1
				for row := range r {
					v := 0.0
					for k := range r + 1 {
						v += t[row*(r+1)+k] * base[k]
					}
					res[(bn*pts+p)*r+row] = v
				}
			}
		}
		shape := append(append([]int{n}, sp...), r)
		out, err := tensorFromFloat64s(ctx, theta.DType, shape, res)
		return []*Tensor{out}, err
	}, nil
}

// ---- RoiAlign ----

type roiSample struct {
	pos [4]int
	w   [4]float64
}

func roiAlignBuilder(b *Build) (Kernel, error) {
	mode := b.String("mode", "avg")
	if mode != "avg" && mode != "max" {
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	ctm := b.String("coordinate_transformation_mode", "half_pixel")
	if b.Opset < 16 {
		ctm = "output_half_pixel"
	}
	if ctm != "half_pixel" && ctm != "output_half_pixel" {
		return nil, fmt.Errorf("unknown coordinate_transformation_mode %q", ctm)
	}
	oh, ow := int(b.Int("output_height", 1)), int(b.Int("output_width", 1))
	ratio := int(b.Int("sampling_ratio", 0))
	scale := float64(b.Float("spatial_scale", 1))
	if oh <= 0 || ow <= 0 || ratio < 0 {
		return nil, fmt.Errorf("bad output size %dx%d or sampling_ratio %d", oh, ow, ratio)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x, rois := in[0], in[1]
		if x.Rank() != 4 || rois.Rank() != 2 || rois.Shape[1] != 4 {
			return nil, fmt.Errorf("want X [N,C,H,W] and rois [R,4], got %s and %s", x, rois)
		}
		bi, err := toInt64s(in[2])
		if err != nil {
			return nil, err
		}
		nr := rois.Shape[0]
		if len(bi) != nr {
			return nil, fmt.Errorf("batch_indices has %d entries for %d rois", len(bi), nr)
		}
		xv, err := numbersAsFloat64(x)
		if err != nil {
			return nil, err
		}
		rv, err := numbersAsFloat64(rois)
		if err != nil {
			return nil, err
		}
		n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		res := make([]float64, nr*c*oh*ow)
		off := 0.0
		if ctm == "half_pixel" {
			off = 0.5
		}
		for ri := range nr {
			if bi[ri] < 0 || bi[ri] >= int64(n) {
				return nil, fmt.Errorf("batch index %d is out of range for %d images", bi[ri], n)
			}
			r := rv[ri*4:]
			for _, v := range r[:4] {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("roi %d has a non-finite coordinate", ri)
				}
			}
			x1, y1, x2, y2 := r[0]*scale-off, r[1]*scale-off, r[2]*scale-off, r[3]*scale-off
			rw, rh := x2-x1, y2-y1
			if ctm == "output_half_pixel" {
				rw, rh = max(rw, 1), max(rh, 1)
			}
			bh, bw := rh/float64(oh), rw/float64(ow)
			gh, gw := ratio, ratio
			if ratio == 0 {
				fh, fw := math.Ceil(rh/float64(oh)), math.Ceil(rw/float64(ow))
				if fh*fw*float64(oh*ow) > 1<<26 {
					return nil, fmt.Errorf("roi %d needs too many samples (%g×%g per bin)", ri, fh, fw)
				}
				gh, gw = max(int(fh), 0), max(int(fw), 0)
			}
			count := max(gh*gw, 1)
			samples := make([]roiSample, 0, oh*ow*gh*gw)
			for ph := range oh {
				for pw := range ow {
					for iy := range gh {
						yy := y1 + float64(ph)*bh + (float64(iy)+0.5)*bh/float64(gh)
						for ix := range gw {
							xx := x1 + float64(pw)*bw + (float64(ix)+0.5)*bw/float64(gw)
							samples = append(samples, roiBilinear(yy, xx, h, w))
						}
					}
				}
			}
			img := xv[int(bi[ri])*c*h*w:]
			for ch := range c {
				plane := img[ch*h*w : (ch+1)*h*w]
				k := 0
				for p := range oh * ow {
					acc := 0.0
					for s := range gh * gw {
						sm := &samples[k]
						k++
						if mode == "avg" {
							acc += sm.w[0]*plane[sm.pos[0]] + sm.w[1]*plane[sm.pos[1]] + sm.w[2]*plane[sm.pos[2]] + sm.w[3]*plane[sm.pos[3]]
							continue
						}
						// The max mode takes the largest weighted corner, as ONNX Runtime does.
						v := max(sm.w[0]*plane[sm.pos[0]], sm.w[1]*plane[sm.pos[1]], sm.w[2]*plane[sm.pos[2]], sm.w[3]*plane[sm.pos[3]])
						if s == 0 || v > acc {
							acc = v
						}
					}
					if mode == "avg" {
						acc /= float64(count)
					}
					res[(ri*c+ch)*oh*ow+p] = acc
				}
			}
		}
		out, err := tensorFromFloat64s(ctx, x.DType, []int{nr, c, oh, ow}, res)
		return []*Tensor{out}, err
	}, nil
}

// roiBilinear computes the four corner positions and weights of a sample.
func roiBilinear(y, x float64, h, w int) roiSample {
	var s roiSample
	if y < -1 || y > float64(h) || x < -1 || x > float64(w) {
		return s // contributes zero
	}
	y, x = max(y, 0), max(x, 0)
	yl, xl := int(y), int(x)
	var yh, xh int
	if yl >= h-1 {
		yl, yh, y = h-1, h-1, float64(h-1)
	} else {
		yh = yl + 1
	}
	if xl >= w-1 {
		xl, xh, x = w-1, w-1, float64(w-1)
	} else {
		xh = xl + 1
	}
	ly, lx := y-float64(yl), x-float64(xl)
	hy, hx := 1-ly, 1-lx
	s.pos = [4]int{yl*w + xl, yl*w + xh, yh*w + xl, yh*w + xh}
	s.w = [4]float64{hy * hx, hy * lx, ly * hx, ly * lx}
	return s
}

// ---- NonMaxSuppression ----

func nmsBuilder(b *Build) (Kernel, error) {
	center := b.Int("center_point_box", 0) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		boxes, scores := in[0], in[1]
		if boxes.Rank() != 3 || boxes.Shape[2] != 4 || scores.Rank() != 3 || scores.Shape[0] != boxes.Shape[0] || scores.Shape[2] != boxes.Shape[1] {
			return nil, fmt.Errorf("want boxes [B,N,4] and scores [B,C,N], got %s and %s", boxes, scores)
		}
		maxOut := int64(0)
		if len(in) > 2 && in[2] != nil && in[2].Len() > 0 {
			v, err := scalarInt(in[2], "max_output_boxes_per_class")
			if err != nil {
				return nil, err
			}
			maxOut = v
		}
		iouTh, scoreTh, hasScore := 0.0, 0.0, false
		if len(in) > 3 && in[3] != nil && in[3].Len() > 0 {
			v, err := scalarFloat(in[3], "iou_threshold")
			if err != nil {
				return nil, err
			}
			iouTh = v
		}
		if len(in) > 4 && in[4] != nil && in[4].Len() > 0 {
			v, err := scalarFloat(in[4], "score_threshold")
			if err != nil {
				return nil, err
			}
			scoreTh, hasScore = v, true
		}
		bv, err := numbersAsFloat64(boxes)
		if err != nil {
			return nil, err
		}
		sv, err := numbersAsFloat64(scores)
		if err != nil {
			return nil, err
		}
		nb, nc, nn := scores.Shape[0], scores.Shape[1], scores.Shape[2]
		// Boxes as (y1, x1, y2, x2) with ordered corners.
		corners := make([][4]float64, nb*nn)
		for i := range corners {
			p := bv[i*4 : i*4+4]
			var y1, x1, y2, x2 float64
			if center {
				x1, x2 = p[0]-p[2]/2, p[0]+p[2]/2
				y1, y2 = p[1]-p[3]/2, p[1]+p[3]/2
			} else {
				y1, x1, y2, x2 = min(p[0], p[2]), min(p[1], p[3]), max(p[0], p[2]), max(p[1], p[3])
			}
			corners[i] = [4]float64{y1, x1, y2, x2}
		}
		iou := func(a, b [4]float64) float64 {
			ih := min(a[2], b[2]) - max(a[0], b[0])
			iw := min(a[3], b[3]) - max(a[1], b[1])
			if ih <= 0 || iw <= 0 {
				return 0
			}
			inter := ih * iw
			union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
			if union <= 0 {
				return 0
			}
			return inter / union
		}
		var sel []int64
		cand := make([]int, 0, nn)
		for bt := range nb {
			for cl := range nc {
				sc := sv[(bt*nc+cl)*nn : (bt*nc+cl+1)*nn]
				cand = cand[:0]
				for i, s := range sc {
					if !hasScore || s > scoreTh {
						cand = append(cand, i)
					}
				}
				sort.SliceStable(cand, func(i, j int) bool { return sc[cand[i]] > sc[cand[j]] })
				var kept []int
				for _, ci := range cand {
					if int64(len(kept)) >= maxOut {
						break
					}
					ok := true
					for _, k := range kept {
						if iou(corners[bt*nn+ci], corners[bt*nn+k]) > iouTh {
							ok = false
							break
						}
					}
					if ok {
						kept = append(kept, ci)
						sel = append(sel, int64(bt), int64(cl), int64(ci))
					}
				}
			}
		}
		out := ctx.New(onnx.Int64, len(sel)/3, 3)
		copy(out.Data.([]int64), sel)
		return []*Tensor{out}, nil
	}, nil
}

// ---- Col2Im ----

func col2ImBuilder(b *Build) (Kernel, error) {
	dil, pads, strides := b.Ints("dilations", nil), b.Ints("pads", nil), b.Ints("strides", nil)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		img, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		blk, err := toInt64s(in[2])
		if err != nil {
			return nil, err
		}
		r := len(img)
		if r == 0 || len(blk) != r || x.Rank() != 3 {
			return nil, fmt.Errorf("image_shape %v and block_shape %v do not fit input %s", img, blk, x)
		}
		geta := func(v []int64, i int, def int64) int {
			if v == nil {
				return int(def)
			}
			return int(v[i])
		}
		if (dil != nil && len(dil) != r) || (strides != nil && len(strides) != r) || (pads != nil && len(pads) != 2*r) {
			return nil, fmt.Errorf("dilations/strides/pads do not match %d spatial dims", r)
		}
		kprod := 1
		outDims := make([]int, r)
		blocks := 1
		for i := range r {
			if img[i] <= 0 || blk[i] <= 0 {
				return nil, fmt.Errorf("bad image_shape %v or block_shape %v", img, blk)
			}
			kprod *= int(blk[i])
			ext := geta(dil, i, 1)*(int(blk[i])-1) + 1
			span := int(img[i]) + geta(pads, i, 0) + geta(pads, i+r, 0) - ext
			st := geta(strides, i, 1)
			if span < 0 || st <= 0 {
				return nil, fmt.Errorf("block %v does not fit image %v", blk, img)
			}
			outDims[i] = span/st + 1
			blocks *= outDims[i]
		}
		n, ck, l := x.Shape[0], x.Shape[1], x.Shape[2]
		if ck%kprod != 0 || l != blocks {
			return nil, fmt.Errorf("input %s does not match %d blocks of %d elements", x, blocks, kprod)
		}
		c := ck / kprod
		xv, err := numbersAsFloat64(x)
		if err != nil {
			return nil, err
		}
		isz := 1
		for _, d := range img {
			isz *= int(d)
		}
		res := make([]float64, n*c*isz)
		kpos, bpos := make([]int, r), make([]int, r)
		for bn := range n {
			for ch := range c {
				dst := res[(bn*c+ch)*isz:]
				for k := range kprod {
					rem := k
					for i := r - 1; i >= 0; i-- {
						kpos[i] = rem % int(blk[i])
						rem /= int(blk[i])
					}
					src := xv[((bn*c+ch)*kprod+k)*l:]
					for bl := range blocks {
						rem := bl
						for i := r - 1; i >= 0; i-- {
							bpos[i] = rem % outDims[i]
							rem /= outDims[i]
						}
						off, ok := 0, true
						for i := range r {
							p := bpos[i]*geta(strides, i, 1) - geta(pads, i, 0) + kpos[i]*geta(dil, i, 1)
							if p < 0 || p >= int(img[i]) {
								ok = false
								break
							}
							off = off*int(img[i]) + p
						}
						if ok {
							dst[off] += src[bl]
						}
					}
				}
			}
		}
		shape := []int{n, c}
		for _, d := range img {
			shape = append(shape, int(d))
		}
		out, err := tensorFromFloat64s(ctx, x.DType, shape, res)
		return []*Tensor{out}, err
	}, nil
}

// ---- DeformConv (2-D) ----

// deformSample is torchvision's bilinear sample: zero outside (-1, h)×(-1, w)
// and for corners outside the image.
func deformSample(plane []float64, h, w int, y, x float64) float64 {
	if y <= -1 || y >= float64(h) || x <= -1 || x >= float64(w) {
		return 0
	}
	y0, x0 := int(math.Floor(y)), int(math.Floor(x))
	ly, lx := y-float64(y0), x-float64(x0)
	v := 0.0
	for dy := range 2 {
		for dx := range 2 {
			yy, xx := y0+dy, x0+dx
			if yy < 0 || yy >= h || xx < 0 || xx >= w {
				continue
			}
			wy, wx := 1-ly, 1-lx
			if dy == 1 {
				wy = ly
			}
			if dx == 1 {
				wx = lx
			}
			v += wy * wx * plane[yy*w+xx]
		}
	}
	return v
}

func deformConvBuilder(b *Build) (Kernel, error) {
	wa := readWindowAttrs(b)
	group, offGroup := int(b.Int("group", 1)), int(b.Int("offset_group", 1))
	if group <= 0 || offGroup <= 0 {
		return nil, fmt.Errorf("group %d and offset_group %d must be positive", group, offGroup)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x, wt, offT := in[0], in[1], in[2]
		if x.Rank() != 4 || wt.Rank() != 4 || offT.Rank() != 4 {
			return nil, fmt.Errorf("only 2-D DeformConv is supported, got X %s, W %s, offset %s", x, wt, offT)
		}
		n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		oc, cg, kh, kw := wt.Shape[0], wt.Shape[1], wt.Shape[2], wt.Shape[3]
		if c != cg*group || oc%group != 0 || c%offGroup != 0 {
			return nil, fmt.Errorf("channels of X %s and W %s do not match group %d / offset_group %d", x, wt, group, offGroup)
		}
		g, err := wa.geometry([]int{h, w}, []int{kh, kw})
		if err != nil {
			return nil, err
		}
		outH, outW := g.out[0], g.out[1]
		k := kh * kw
		if offT.Shape[0] != n || offT.Shape[1] != offGroup*2*k || offT.Shape[2] != outH || offT.Shape[3] != outW {
			return nil, fmt.Errorf("offset %s does not match [%d,%d,%d,%d]", offT, n, offGroup*2*k, outH, outW)
		}
		xv, err := numbersAsFloat64(x)
		if err != nil {
			return nil, err
		}
		wv, err := numbersAsFloat64(wt)
		if err != nil {
			return nil, err
		}
		ov, err := numbersAsFloat64(offT)
		if err != nil {
			return nil, err
		}
		var bias, mask []float64
		if len(in) > 3 && in[3] != nil {
			if bias, err = numbersAsFloat64(in[3]); err != nil {
				return nil, err
			}
			if len(bias) != oc {
				return nil, fmt.Errorf("bias %s does not match %d output channels", in[3], oc)
			}
		}
		if len(in) > 4 && in[4] != nil {
			m := in[4]
			if m.Rank() != 4 || m.Shape[0] != n || m.Shape[1] != offGroup*k || m.Shape[2] != outH || m.Shape[3] != outW {
				return nil, fmt.Errorf("mask %s does not match [%d,%d,%d,%d]", m, n, offGroup*k, outH, outW)
			}
			if mask, err = numbersAsFloat64(m); err != nil {
				return nil, err
			}
		}
		sp := outH * outW
		// cols[(ci*k + kk)*sp + p]: the sampled, masked input for each kernel tap.
		cols := make([]float64, c*k*sp)
		res := make([]float64, n*oc*sp)
		cpo := c / offGroup
		for bn := range n {
			for ci := range c {
				og := ci / cpo
				plane := xv[(bn*c+ci)*h*w : (bn*c+ci+1)*h*w]
				for i := range kh {
					for j := range kw {
						kk := i*kw + j
						offY := ov[((bn*offGroup*2*k)+og*2*k+2*kk)*sp:]
						offX := ov[((bn*offGroup*2*k)+og*2*k+2*kk+1)*sp:]
						dst := cols[(ci*k+kk)*sp:]
						for oy := range outH {
							for ox := range outW {
								p := oy*outW + ox
								y := float64(oy*g.strides[0]-g.padB[0]+i*g.dilations[0]) + offY[p]
								xx := float64(ox*g.strides[1]-g.padB[1]+j*g.dilations[1]) + offX[p]
								v := deformSample(plane, h, w, y, xx)
								if mask != nil {
									v *= mask[((bn*offGroup+og)*k+kk)*sp+p]
								}
								dst[p] = v
							}
						}
					}
				}
			}
			opg := oc / group
			for o := range oc {
				gi := o / opg
				dst := res[(bn*oc+o)*sp : (bn*oc+o+1)*sp]
				if bias != nil {
					for p := range dst {
						dst[p] = bias[o]
					}
				}
				for cc := range cg {
					ci := gi*cg + cc
					for kk := range k {
						wgt := wv[(o*cg+cc)*k+kk]
						src := cols[(ci*k+kk)*sp:]
						for p := range dst {
							dst[p] += wgt * src[p]
						}
					}
				}
			}
		}
		out, err := tensorFromFloat64s(ctx, x.DType, []int{n, oc, outH, outW}, res)
		return []*Tensor{out}, err
	}, nil
}

// ---- CenterCropPad ----

func centerCropPadBuilder(b *Build) (Kernel, error) {
	axesAttr := b.Ints("axes", nil)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		shape, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		r := x.Rank()
		axes := make([]int, len(shape))
		if axesAttr == nil {
			if len(shape) != r {
				return nil, fmt.Errorf("shape %v does not match rank %d", shape, r)
			}
			for i := range axes {
				axes[i] = i
			}
		} else {
			if len(axesAttr) != len(shape) {
				return nil, fmt.Errorf("axes %v and shape %v differ in length", axesAttr, shape)
			}
			if axes, err = normAxes(axesAttr, r); err != nil {
				return nil, err
			}
		}
		outShape := append([]int{}, x.Shape...)
		srcStart := make([]int, r) // first input index copied per axis
		dstStart := make([]int, r) // where it lands in the output
		for i, a := range axes {
			t := int(shape[i])
			if t < 0 {
				return nil, fmt.Errorf("negative target size in %v", shape)
			}
			d := x.Shape[a]
			outShape[a] = t
			if d > t {
				srcStart[a] = (d - t) / 2
			} else {
				dstStart[a] = (t - d) / 2
			}
		}
		out := ctx.New(x.DType, outShape...)
		copyRegion(x, out, srcStart, dstStart)
		return []*Tensor{out}, nil
	}, nil
}

// copyRegion copies the overlap of x (from srcStart) and out (from dstStart),
// row by row along the last axis.
func copyRegion(x, out *Tensor, srcStart, dstStart []int) {
	r := x.Rank()
	if r == 0 {
		copyElems(out.Data, x.Data, 0, 0, 1)
		return
	}
	ext := make([]int, r)
	for i := range r {
		ext[i] = min(x.Shape[i]-srcStart[i], out.Shape[i]-dstStart[i])
		if ext[i] <= 0 {
			return
		}
	}
	pos := make([]int, r-1)
	for {
		so, do := 0, 0
		for i := range r {
			p := 0
			if i < r-1 {
				p = pos[i]
			}
			so = so*x.Shape[i] + srcStart[i] + p
			do = do*out.Shape[i] + dstStart[i] + p
		}
		copyElems(out.Data, x.Data, do, so, ext[r-1])
		k := r - 2
		for k >= 0 {
			pos[k]++
			if pos[k] < ext[k] {
				break
			}
			pos[k] = 0
			k--
		}
		if k < 0 {
			return
		}
	}
}

// ---- MaxUnpool ----

func maxUnpoolBuilder(b *Build) (Kernel, error) {
	wa := readWindowAttrs(b)
	if wa.kernel == nil {
		return nil, fmt.Errorf("kernel_shape is required")
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		idx, err := toInt64s(in[1])
		if err != nil {
			return nil, err
		}
		if x.Rank() < 3 || len(idx) != x.Len() {
			return nil, fmt.Errorf("indices %s do not match input %s", in[1], x)
		}
		r := x.Rank() - 2
		if len(wa.kernel) != r || (wa.strides != nil && len(wa.strides) != r) || (wa.pads != nil && len(wa.pads) != 2*r) {
			return nil, fmt.Errorf("kernel_shape/strides/pads do not match %d spatial dims", r)
		}
		inferred := []int{x.Shape[0], x.Shape[1]}
		for i := range r {
			st, pb, pe := 1, 0, 0
			if wa.strides != nil {
				st = int(wa.strides[i])
			}
			if wa.pads != nil {
				pb, pe = int(wa.pads[i]), int(wa.pads[i+r])
			}
			d := (x.Shape[2+i]-1)*st + int(wa.kernel[i]) - pb - pe
			if d < 0 {
				return nil, fmt.Errorf("negative output size for input %s", x)
			}
			inferred = append(inferred, d)
		}
		shape := inferred
		if len(in) > 2 && in[2] != nil {
			s, err := toInt64s(in[2])
			if err != nil {
				return nil, err
			}
			if len(s) != x.Rank() {
				return nil, fmt.Errorf("output_shape %v does not match rank %d", s, x.Rank())
			}
			shape = make([]int, len(s))
			for i, d := range s {
				if d < int64(inferred[i]) {
					return nil, fmt.Errorf("output_shape %v is smaller than the unpooled shape %v", s, inferred)
				}
				shape[i] = int(d)
			}
		}
		// Indices are flat over the unpooled tensor, as MaxPool produces them;
		// a larger output_shape holds it at the origin (ONNX's reference).
		y := ctx.New(x.DType, inferred...)
		for i, j := range idx {
			if j < 0 || j >= int64(y.Len()) {
				return nil, fmt.Errorf("index %d is out of range for the unpooled shape %v", j, inferred)
			}
			copyElems(y.Data, x.Data, int(j), i, 1)
		}
		if fmt.Sprint(shape) == fmt.Sprint(inferred) {
			return []*Tensor{y}, nil
		}
		out := ctx.New(x.DType, shape...)
		copyRegion(y, out, make([]int, len(shape)), make([]int, len(shape)))
		return []*Tensor{out}, nil
	}, nil
}

func init() {
	regVersions("GridSample", needInputs(2, gridSampleBuilder), 16, 20, 22)
	regVersions("AffineGrid", needInputs(2, affineGridBuilder), 20)
	regVersions("RoiAlign", needInputs(3, roiAlignBuilder), 10, 16, 22)
	regVersions("NonMaxSuppression", needInputs(2, nmsBuilder), 10, 11)
	regVersions("Col2Im", needInputs(3, col2ImBuilder), 18)
	regVersions("DeformConv", needInputs(3, deformConvBuilder), 19, 22)
	regVersions("CenterCropPad", needInputs(2, centerCropPadBuilder), 18)
	regVersions("MaxUnpool", needInputs(2, maxUnpoolBuilder), 9, 11, 22)
}
