package quantize

import (
	"math"
	"sort"
	"sync"
)

// histBins is the number of histogram bins on each side of zero. TensorRT's
// entropy calibration uses 2048 bins of |x|; keeping both signs lets the
// percentile method clip each tail separately for asymmetric ranges.
const histBins = 2048

// tensorStats accumulates what calibration keeps about one activation: its
// running min and max and, for percentile and entropy, a histogram whose
// range doubles when a value falls outside it. Nothing else of the
// activation is kept, so memory does not grow with the number of samples.
type tensorStats struct {
	mu       sync.Mutex
	min, max float64
	n        int64
	withHist bool
	r        float64 // histogram covers [-r, r)
	bins     []int64 // 2·histBins bins of width r/histBins
	// chSum[c]/chN is the mean of channel c along the channel axis (bias
	// correction needs the mean input of each weighted layer); nil when not
	// asked for.
	chSum []float64
	chN   int64
}

func newTensorStats(withHist bool) *tensorStats {
	return &tensorStats{min: math.Inf(1), max: math.Inf(-1), withHist: withHist}
}

// add folds one batch of an activation into the statistics.
func (s *tensorStats) add(x []float32) {
	if len(x) == 0 {
		return
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range x {
		f := float64(v)
		if f != f || math.IsInf(f, 0) { // NaN/Inf would poison the range
			continue
		}
		lo, hi = min(lo, f), max(hi, f)
	}
	if lo > hi {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.min, s.max = min(s.min, lo), max(s.max, hi)
	s.n += int64(len(x))
	if !s.withHist {
		return
	}
	amax := max(-lo, hi)
	if s.bins == nil {
		// A power of two, so that the range after doubling does not depend
		// on which batch came first: batches run in parallel, and the
		// calibrated ranges must not change from run to run.
		s.bins = make([]int64, 2*histBins)
		s.r = math.Exp2(math.Ceil(math.Log2(max(amax, 1e-12))))
	}
	for amax >= s.r {
		s.grow()
	}
	w := s.r / histBins
	for _, v := range x {
		f := float64(v)
		if f != f || math.IsInf(f, 0) {
			continue
		}
		i := int((f + s.r) / w)
		s.bins[min(max(i, 0), 2*histBins-1)]++
	}
}

// addChannels folds one batch into the per-channel sums; axis is the
// channel axis of shape.
func (s *tensorStats) addChannels(x []float32, shape []int, axis int) {
	if axis < 0 || axis >= len(shape) || len(x) == 0 {
		return
	}
	dim, inner := shape[axis], 1
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	sum := make([]float64, dim)
	for i, v := range x {
		if f := float64(v); f == f && !math.IsInf(f, 0) {
			sum[(i/inner)%dim] += f
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chSum == nil {
		s.chSum = make([]float64, dim)
	}
	if len(s.chSum) != dim {
		return // the channel count changed between batches: no mean
	}
	for c, v := range sum {
		s.chSum[c] += v
	}
	s.chN += int64(len(x) / dim)
}

// channelMeans returns the mean of each channel, or nil.
func (s *tensorStats) channelMeans() []float64 {
	if s == nil || s.chN == 0 {
		return nil
	}
	m := make([]float64, len(s.chSum))
	for c, v := range s.chSum {
		m[c] = v / float64(s.chN)
	}
	return m
}

// grow doubles the histogram's range. Bin edges are symmetric around zero,
// so old bin i falls entirely into new bin (histBins+i)/2: merging is exact.
func (s *tensorStats) grow() {
	nb := make([]int64, len(s.bins))
	for i, c := range s.bins {
		nb[(histBins+i)/2] += c
	}
	s.bins, s.r = nb, 2*s.r
}

// rangeFor returns the calibrated range [lo, hi] of the activation.
func (s *tensorStats) rangeFor(method string, percentile float64, symmetric bool) (lo, hi float64) {
	if s.n == 0 {
		return 0, 0
	}
	if method == "minmax" || s.bins == nil {
		return s.min, s.max
	}
	var amax float64
	switch method {
	case "mse":
		lo, hi = s.mseRange(symmetric)
	case "entropy":
		amax = entropyThreshold(flattenSpikes(s.absHist()), s.r/histBins)
		lo, hi = max(s.min, -amax), min(s.max, amax)
	default: // percentile
		if symmetric {
			amax = percentileAbs(s.absHist(), s.r/histBins, percentile)
			lo, hi = max(s.min, -amax), min(s.max, amax)
		} else {
			lo, hi = s.percentileSigned(percentile)
		}
	}
	return lo, hi
}

// mseRange picks the range whose quantization error over the histogram is
// the smallest: values inside the range cost step²/12 (uniform rounding
// noise), values outside cost their squared distance to the range's end.
// The candidates shrink min and max towards zero independently (±max|x|
// together when symmetric) in steps of 1/256. This is the "mse" calibrator
// of NVIDIA's pytorch-quantization and AIMET's TF-enhanced scheme. The bin
// at zero costs nothing: zero (ReLU's output) quantizes exactly.
func (s *tensorStats) mseRange(symmetric bool) (lo, hi float64) {
	n := len(s.bins)
	w := s.r / histBins
	center := func(i int) float64 { return -s.r + (float64(i)+0.5)*w }
	// Prefix sums of the count, Σx and Σx² of the bins below i.
	c0, c1, c2 := make([]float64, n+1), make([]float64, n+1), make([]float64, n+1)
	for i, c := range s.bins {
		f, x := float64(c), center(i)
		if i == histBins {
			f = 0
		}
		c0[i+1], c1[i+1], c2[i+1] = c0[i]+f, c1[i]+f*x, c2[i]+f*x*x
	}
	// first is the first bin whose centre is above v.
	first := func(v float64) int {
		return min(max(int(math.Floor((v+s.r)/w-0.5))+1, 0), n)
	}
	// below and above are Σ (x − v)² over the bins beyond v on each side.
	below := func(v float64) float64 {
		k := first(v)
		return c2[k] - 2*v*c1[k] + v*v*c0[k]
	}
	above := func(v float64) float64 {
		k := first(v)
		a0, a1, a2 := c0[n]-c0[k], c1[n]-c1[k], c2[n]-c2[k]
		return a2 - 2*v*a1 + v*v*a0
	}
	inside := func(l, h float64) float64 { return c0[first(h)] - c0[first(l)] }
	const steps = 256
	lo0, hi0 := min(s.min, 0), max(s.max, 0)
	if symmetric {
		a0 := max(-lo0, hi0)
		best, bestErr := a0, math.Inf(1)
		for k := steps; k >= 1; k-- {
			a := a0 * float64(k) / steps
			step := a / 127
			if e := below(-a) + above(a) + inside(-a, a)*step*step/12; e < bestErr {
				best, bestErr = a, e
			}
		}
		return max(s.min, -best), min(s.max, best)
	}
	bestLo, bestHi, bestErr := lo0, hi0, math.Inf(1)
	for i := steps; i >= 0; i-- {
		l := lo0 * float64(i) / steps
		if lo0 == 0 && i < steps {
			break // nothing below zero: lo stays 0
		}
		clipLo := below(l)
		for j := steps; j >= 0; j-- {
			h := hi0 * float64(j) / steps
			if hi0 == 0 && j < steps {
				break
			}
			step := (h - l) / 255
			if step <= 0 {
				continue
			}
			if e := clipLo + above(h) + inside(l, h)*step*step/12; e < bestErr {
				bestLo, bestHi, bestErr = l, h, e
			}
		}
	}
	return bestLo, bestHi
}

// absHist folds the signed histogram into one of |x|.
func (s *tensorStats) absHist() []float64 {
	a := make([]float64, histBins)
	for k := range a {
		a[k] = float64(s.bins[histBins+k] + s.bins[histBins-1-k])
	}
	return a
}

// flattenSpikes caps every bin at the 99th percentile of the non-empty
// bins. A single value repeated (zeros after Relu, the background of a
// normalised image) would otherwise dominate the divergence and pull the
// threshold just above it, clipping everything else; TensorRT's calibrators
// do the same for the zero bin.
func flattenSpikes(a []float64) []float64 {
	var nz []float64
	for _, c := range a {
		if c > 0 {
			nz = append(nz, c)
		}
	}
	if len(nz) < 2 {
		return a
	}
	sort.Float64s(nz)
	limit := nz[int(0.99*float64(len(nz)-1))]
	for k, c := range a {
		a[k] = min(c, limit)
	}
	return a
}

// percentileAbs is the value below which p percent of |x| falls.
func percentileAbs(a []float64, w, p float64) float64 {
	var total float64
	for _, c := range a {
		total += c
	}
	target, cum := total*p/100, 0.0
	for k, c := range a {
		cum += c
		if cum >= target {
			return float64(k+1) * w
		}
	}
	return float64(len(a)) * w
}

// percentileSigned clips (100-p) percent off each tail.
func (s *tensorStats) percentileSigned(p float64) (lo, hi float64) {
	var total float64
	for _, c := range s.bins {
		total += float64(c)
	}
	tail := total * (100 - p) / 100
	w := s.r / histBins
	lo, hi = s.min, s.max
	cum := 0.0
	for i, c := range s.bins {
		cum += float64(c)
		if cum > tail {
			lo = max(s.min, -s.r+float64(i)*w)
			break
		}
	}
	cum = 0
	for i := len(s.bins) - 1; i >= 0; i-- {
		cum += float64(s.bins[i])
		if cum > tail {
			hi = min(s.max, -s.r+float64(i+1)*w)
			break
		}
	}
	return lo, hi
}

// entropyThreshold picks the |x| clipping threshold that minimises the KL
// divergence between the histogram and its 128-level quantization, as
// TensorRT's entropy calibrator does.
func entropyThreshold(a []float64, w float64) float64 {
	const levels = 128
	nbins := len(a)
	for nbins > 0 && a[nbins-1] == 0 {
		nbins--
	}
	if nbins <= levels {
		return float64(nbins) * w
	}
	best, bestKL := nbins, math.Inf(1)
	p := make([]float64, nbins)
	q := make([]float64, nbins)
	var outliers float64
	for _, c := range a[nbins:] {
		outliers += c
	}
	// suffix sums give the outlier mass beyond each candidate cheaply.
	suffix := make([]float64, nbins+1)
	for k := nbins - 1; k >= 0; k-- {
		suffix[k] = suffix[k+1] + a[k]
	}
	for i := levels; i <= nbins; i++ {
		copy(p, a[:i])
		p[i-1] += suffix[i] + outliers
		// Quantize a[:i] into `levels` buckets and spread each bucket evenly
		// over the bins that were non-zero.
		merged := float64(i) / levels
		for j := 0; j < levels; j++ {
			start := int(float64(j) * merged)
			stop := int(float64(j+1) * merged)
			if j == levels-1 {
				stop = i
			}
			var sum float64
			nz := 0
			for k := start; k < stop; k++ {
				sum += a[k]
				if a[k] != 0 {
					nz++
				}
			}
			for k := start; k < stop; k++ {
				q[k] = 0
				if a[k] != 0 {
					q[k] = sum / float64(nz)
				}
			}
		}
		if kl := klDivergence(p[:i], q[:i]); kl < bestKL {
			best, bestKL = i, kl
		}
	}
	return float64(best) * w
}

// klDivergence is KL(p‖q) of two unnormalised histograms; bins where q is
// empty but p is not get a small mass instead of an infinite divergence.
func klDivergence(p, q []float64) float64 {
	var sp, sq float64
	for k := range p {
		sp += p[k]
		sq += q[k]
	}
	if sp == 0 || sq == 0 {
		return math.Inf(1)
	}
	const eps = 1e-4
	var kl float64
	for k := range p {
		if p[k] == 0 {
			continue
		}
		pk := p[k] / sp
		qk := q[k] / sq
		if qk == 0 {
			qk = eps / sq
		}
		kl += pk * math.Log(pk/qk)
	}
	return kl
}

// qparams are the quantization parameters of one activation.
type qparams struct {
	scale float32
	zp    int32
	elem  int32 // onnx.Int8 or onnx.Uint8, as int32 for the tensor builders
}

// paramsFor turns a calibrated range into int8 (symmetric, zero point 0) or
// uint8 (asymmetric) parameters. The range always includes zero so that
// zero padding is exact.
func paramsFor(lo, hi float64, symmetric bool) qparams {
	if symmetric {
		amax := max(math.Abs(lo), math.Abs(hi))
		s := amax / 127
		if s <= 0 || math.IsNaN(s) {
			s = 1
		}
		return qparams{scale: float32(s), zp: 0, elem: int8Type}
	}
	lo, hi = min(lo, 0), max(hi, 0)
	s := (hi - lo) / 255
	if s <= 0 || math.IsNaN(s) {
		return qparams{scale: 1, zp: 0, elem: uint8Type}
	}
	zp := math.Round(-lo / float64(float32(s)))
	return qparams{scale: float32(s), zp: int32(min(max(zp, 0), 255)), elem: uint8Type}
}
