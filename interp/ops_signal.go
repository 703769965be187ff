package interp

import (
	"fmt"
	"math"
	"math/cmplx"

	"github.com/onnxslim/onnxslim/onnx"
)

// Signal processing: DFT, STFT, the window functions and MelWeightMatrix.
// Transforms are computed in float64 with a twiddle table (a direct DFT:
// signals in ONNX models are short frames, and exactness matters more here).

// needInputs wraps a builder so that its kernel first checks that the first n
// inputs are present tensors (a node may omit or mistype required inputs).
func needInputs(n int, b Builder) Builder {
	return func(bd *Build) (Kernel, error) {
		k, err := b(bd)
		if err != nil {
			return nil, err
		}
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			if len(in) < n {
				return nil, fmt.Errorf("%d inputs are required, got %d", n, len(in))
			}
			for i := range n {
				if err := needTensor(in[i]); err != nil {
					return nil, fmt.Errorf("input %d: %w", i, err)
				}
			}
			return k(ctx, in)
		}, nil
	}
}

// scalarFloat reads a one-element numeric tensor.
func scalarFloat(t *Tensor, name string) (float64, error) {
	v, err := numbersAsFloat64(t)
	if err != nil || len(v) != 1 {
		return 0, fmt.Errorf("%s must be a numeric scalar, got %s", name, t)
	}
	return v[0], nil
}

// dftPlan computes length-n transforms of complex rows.
type dftPlan struct {
	n        int
	inverse  bool
	twiddles []complex128 // exp(∓2πi·k/n)
}

func newDFTPlan(n int, inverse bool) *dftPlan {
	p := &dftPlan{n: n, inverse: inverse, twiddles: make([]complex128, n)}
	sign := -1.0
	if inverse {
		sign = 1
	}
	for k := range n {
		s, c := math.Sincos(sign * 2 * math.Pi * float64(k) / float64(n))
		p.twiddles[k] = complex(c, s)
	}
	return p
}

// transform writes the first len(dst) bins of the transform of src (zero
// padded or truncated to n) to dst; the inverse is scaled by 1/n.
func (p *dftPlan) transform(dst, src []complex128) {
	n := p.n
	m := min(len(src), n)
	for k := range dst {
		var acc complex128
		idx := 0
		for j := 0; j < m; j++ {
			acc += src[j] * p.twiddles[idx]
			idx += k
			if idx >= n {
				idx %= n
			}
		}
		if p.inverse {
			acc /= complex(float64(n), 0)
		}
		dst[k] = acc
	}
}

type dftAttrs struct {
	inverse, onesided bool
	axis              int64 // opset < 20: attribute
	opset             int64
}

func dftBuilder(b *Build) (Kernel, error) {
	a := dftAttrs{inverse: b.Int("inverse", 0) != 0, onesided: b.Int("onesided", 0) != 0, axis: b.Int("axis", 1), opset: b.Opset}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		out, err := dft(ctx, a, in)
		return []*Tensor{out}, err
	}, nil
}

func dft(ctx *Ctx, a dftAttrs, in []*Tensor) (*Tensor, error) {
	x := in[0]
	r := x.Rank()
	if r < 2 || (x.Shape[r-1] != 1 && x.Shape[r-1] != 2) {
		return nil, fmt.Errorf("input must end in a dimension of 1 (real) or 2 (complex), got %s", x)
	}
	axis := a.axis
	if a.opset >= 20 {
		axis = -2
		if len(in) > 2 && in[2] != nil {
			v, err := scalarInt(in[2], "axis")
			if err != nil {
				return nil, err
			}
			axis = v
		}
	}
	ax, err := normAxis(axis, r)
	if err != nil || ax == r-1 {
		return nil, fmt.Errorf("axis %d is not a signal axis of rank %d", axis, r)
	}
	inLen := x.Shape[ax]
	n := inLen
	if a.inverse && a.onesided {
		n = 2 * (inLen - 1) // the full length of a one-sided spectrum
	}
	if len(in) > 1 && in[1] != nil {
		v, err := scalarInt(in[1], "dft_length")
		if err != nil {
			return nil, err
		}
		n = int(v)
	}
	if n <= 0 {
		return nil, fmt.Errorf("dft_length must be positive, got %d", n)
	}
	v, err := numbersAsFloat64(x)
	if err != nil || !isFloat(x.DType) {
		return nil, fmt.Errorf("type %s is not supported (want a float type)", x.DType)
	}
	complexIn := x.Shape[r-1] == 2
	outer, inner := prod(x.Shape[:ax]), prod(x.Shape[ax+1:r-1])
	outLen, outC := n, 2
	switch {
	case a.onesided && a.inverse:
		outC = 1
	case a.onesided:
		outLen = n/2 + 1
	}
	shape := append([]int{}, x.Shape...)
	shape[ax], shape[r-1] = outLen, outC
	res := make([]float64, outer*outLen*inner*outC)
	plan := newDFTPlan(n, a.inverse)
	src := make([]complex128, n)
	dst := make([]complex128, outLen)
	inC := x.Shape[r-1]
	for o := range outer {
		for i := range inner {
			clear(src)
			get := func(j int) complex128 {
				base := ((o*inLen+j)*inner + i) * inC
				if complexIn {
					return complex(v[base], v[base+1])
				}
				return complex(v[base], 0)
			}
			if a.inverse && a.onesided {
				// Rebuild the Hermitian-symmetric full spectrum.
				for k := 0; k < n; k++ {
					switch {
					case k < inLen:
						src[k] = get(k)
					case n-k < inLen:
						src[k] = cmplx.Conj(get(n - k))
					}
				}
			} else {
				for j := 0; j < min(inLen, n); j++ {
					src[j] = get(j)
				}
			}
			plan.transform(dst, src)
			for k, c := range dst {
				base := ((o*outLen+k)*inner + i) * outC
				res[base] = real(c)
				if outC == 2 {
					res[base+1] = imag(c)
				}
			}
		}
	}
	return tensorFromFloat64s(ctx, x.DType, shape, res)
}

func stftBuilder(b *Build) (Kernel, error) {
	onesided := b.Int("onesided", 1) != 0
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if x.Rank() != 3 || (x.Shape[2] != 1 && x.Shape[2] != 2) {
			return nil, fmt.Errorf("signal must be [batch, length, 1 or 2], got %s", x)
		}
		if !isFloat(x.DType) {
			return nil, fmt.Errorf("type %s is not supported (want a float type)", x.DType)
		}
		step, err := scalarInt(in[1], "frame_step")
		if err != nil {
			return nil, err
		}
		var window []float64
		if len(in) > 2 && in[2] != nil {
			if in[2].Rank() != 1 {
				return nil, fmt.Errorf("window must have rank 1, got %s", in[2])
			}
			if window, err = numbersAsFloat64(in[2]); err != nil {
				return nil, err
			}
		}
		frame := int64(len(window))
		if len(in) > 3 && in[3] != nil {
			if frame, err = scalarInt(in[3], "frame_length"); err != nil {
				return nil, err
			}
		}
		if window != nil && int64(len(window)) != frame {
			return nil, fmt.Errorf("window length %d differs from frame_length %d", len(window), frame)
		}
		length := x.Shape[1]
		if frame <= 0 || step <= 0 || frame > int64(length) {
			return nil, fmt.Errorf("frame_length %d and frame_step %d do not fit a signal of length %d", frame, step, length)
		}
		fl := int(frame)
		complexIn := x.Shape[2] == 2
		if complexIn && onesided {
			return nil, fmt.Errorf("onesided output is not possible for a complex signal")
		}
		frames := (length-fl)/int(step) + 1
		bins := fl
		if onesided {
			bins = fl/2 + 1
		}
		v, err := numbersAsFloat64(x)
		if err != nil {
			return nil, err
		}
		batch, c := x.Shape[0], x.Shape[2]
		res := make([]float64, batch*frames*bins*2)
		plan := newDFTPlan(fl, false)
		src, dst := make([]complex128, fl), make([]complex128, bins)
		for bt := range batch {
			for f := range frames {
				start := f * int(step)
				for j := range fl {
					base := (bt*length + start + j) * c
					s := complex(v[base], 0)
					if complexIn {
						s = complex(v[base], v[base+1])
					}
					if window != nil {
						s *= complex(window[j], 0)
					}
					src[j] = s
				}
				plan.transform(dst, src)
				for k, z := range dst {
					o := ((bt*frames+f)*bins + k) * 2
					res[o], res[o+1] = real(z), imag(z)
				}
			}
		}
		out, err := tensorFromFloat64s(ctx, x.DType, []int{batch, frames, bins, 2}, res)
		return []*Tensor{out}, err
	}, nil
}

// windowBuilder builds the cosine-sum windows: w[n] = Σ a_k·cos(2πkn/N)·(-1)^k,
// N = size (periodic) or size-1 (symmetric).
func windowBuilder(coeffs ...float64) Builder {
	return func(b *Build) (Kernel, error) {
		dt := onnx.DataType(b.Int("output_datatype", int64(onnx.Float)))
		periodic := b.Int("periodic", 1) != 0
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			size, err := scalarInt(in[0], "size")
			if err != nil {
				return nil, err
			}
			if size < 0 {
				return nil, fmt.Errorf("size must not be negative, got %d", size)
			}
			den := float64(size)
			if !periodic {
				den--
			}
			v := make([]float64, size)
			for i := range v {
				sign := 1.0
				for k, a := range coeffs {
					v[i] += sign * a * math.Cos(2*math.Pi*float64(k)*float64(i)/den)
					sign = -sign
				}
			}
			out, err := tensorFromFloat64s(ctx, dt, []int{int(size)}, v)
			return []*Tensor{out}, err
		}, nil
	}
}

func melWeightMatrixBuilder(b *Build) (Kernel, error) {
	dt := onnx.DataType(b.Int("output_datatype", int64(onnx.Float)))
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		bins, err := scalarInt(in[0], "num_mel_bins")
		if err != nil {
			return nil, err
		}
		dftLen, err := scalarInt(in[1], "dft_length")
		if err != nil {
			return nil, err
		}
		rate, err := scalarInt(in[2], "sample_rate")
		if err != nil {
			return nil, err
		}
		lo, err := scalarFloat(in[3], "lower_edge_hertz")
		if err != nil {
			return nil, err
		}
		hi, err := scalarFloat(in[4], "upper_edge_hertz")
		if err != nil {
			return nil, err
		}
		if bins <= 0 || dftLen <= 0 || rate <= 0 {
			return nil, fmt.Errorf("num_mel_bins %d, dft_length %d and sample_rate %d must be positive", bins, dftLen, rate)
		}
		spec := int(dftLen/2 + 1)
		nb := int(bins)
		toMel := func(f float64) float64 { return 2595 * math.Log10(1+f/700) }
		loMel, hiMel := toMel(lo), toMel(hi)
		step := (hiMel - loMel) / float64(nb+2)
		edges := make([]int, nb+2)
		for i := range edges {
			hz := 700 * (math.Pow(10, (float64(i)*step+loMel)/2595) - 1)
			edges[i] = int(math.Floor(float64(dftLen+1) * hz / float64(rate)))
		}
		v := make([]float64, spec*nb)
		set := func(j, i int, w float64) {
			if j >= 0 && j < spec {
				v[j*nb+i] = w
			}
		}
		// Triangular filters between consecutive edges, as ONNX defines them.
		for i := range nb {
			l, c, h := edges[i], edges[i+1], edges[i+2]
			if c == l {
				set(c, i, 1)
			} else {
				for j := l; j <= c; j++ {
					set(j, i, float64(j-l)/float64(c-l))
				}
			}
			if h > c {
				for j := c; j < h; j++ {
					set(j, i, float64(h-j)/float64(h-c))
				}
			}
		}
		out, err := tensorFromFloat64s(ctx, dt, []int{spec, nb}, v)
		return []*Tensor{out}, err
	}, nil
}

func init() {
	regVersions("DFT", needInputs(1, dftBuilder), 17, 20)
	Register("", "STFT", 17, needInputs(2, stftBuilder))
	Register("", "HannWindow", 17, needInputs(1, windowBuilder(0.5, 0.5)))
	Register("", "HammingWindow", 17, needInputs(1, windowBuilder(25.0/46, 21.0/46)))
	Register("", "BlackmanWindow", 17, needInputs(1, windowBuilder(0.42, 0.5, 0.08)))
	Register("", "MelWeightMatrix", 17, needInputs(5, melWeightMatrixBuilder))
}
