package quantize

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/onnx"
)

// TestBiasShift: with the shift added to the bias, a layer with quantized
// weights gives the float layer's output on an input equal to its mean
// (a constant input, so padding plays no part: no padding here).
func TestBiasShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name  string
		node  *onnx.Node
		dims  []int64
		group int
	}{
		{"conv", &onnx.Node{OpType: "Conv"}, []int64{4, 3, 3, 3}, 1},
		{"depthwise", &onnx.Node{OpType: "Conv"}, []int64{6, 1, 3, 3}, 6},
		{"grouped", &onnx.Node{OpType: "Conv"}, []int64{4, 2, 1, 1}, 2},
		{"gemm", &onnx.Node{OpType: "Gemm"}, []int64{5, 7}, 1},
		{"gemm transB", &onnx.Node{OpType: "Gemm"}, []int64{7, 5}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.node
			if tc.group > 1 {
				n.SetAttr(onnx.IntAttr("group", int64(tc.group)))
			}
			wd := &weighted{node: n, dims: tc.dims}
			if n.OpType == "Gemm" && tc.name == "gemm transB" {
				n.SetAttr(onnx.IntAttr("transB", 1))
			}
			// Output and reduction layout.
			var outAxis, cin int
			switch {
			case n.OpType == "Conv":
				outAxis, cin = 0, int(tc.dims[1])*tc.group
			case n.AttrInt("transB", 0) == 1:
				outAxis, cin = 0, int(tc.dims[1])
			default:
				outAxis, cin = 1, int(tc.dims[0])
			}
			size := 1
			for _, d := range tc.dims {
				size *= int(d)
			}
			w := make([]float32, size)
			for i := range w {
				w[i] = float32(rng.NormFloat64())
			}
			mean := make([]float64, cin)
			for i := range mean {
				mean[i] = rng.Float64() * 3
			}
			q, s := quantSymmetric(w, tc.dims, outAxis, 127)
			shift := biasShift(wd, w, q, s, mean)
			nout := int(tc.dims[outAxis])
			if len(shift) != nout {
				t.Fatalf("shift has %d channels, want %d", len(shift), nout)
			}
			// y[o] = Σ w·x over the layer's reduction, x constant per channel.
			apply := func(wt func(j int) float64) []float64 {
				y := make([]float64, nout)
				switch n.OpType {
				case "Conv":
					m, cg := int(tc.dims[0]), int(tc.dims[1])
					k := size / (m * cg)
					for o := 0; o < m; o++ {
						g := o / (m / tc.group)
						for i := 0; i < cg; i++ {
							for j := 0; j < k; j++ {
								y[o] += wt((o*cg+i)*k+j) * mean[g*cg+i]
							}
						}
					}
				default:
					rows, cols := int(tc.dims[0]), int(tc.dims[1])
					for r := 0; r < rows; r++ {
						for c := 0; c < cols; c++ {
							o, i := c, r
							if outAxis == 0 {
								o, i = r, c
							}
							y[o] += wt(r*cols+c) * mean[i]
						}
					}
				}
				return y
			}
			ch := func(j int) int {
				dim, inner := axisLayout(tc.dims, outAxis)
				return (j / inner) % dim
			}
			yf := apply(func(j int) float64 { return float64(w[j]) })
			yq := apply(func(j int) float64 { return float64(q[j]) * float64(s[ch(j)]) })
			var moved bool
			for o := range yf {
				if !testutil.Close(yq[o]+shift[o], yf[o], 1e-9, 1e-9) {
					t.Errorf("channel %d: quantized %g + shift %g != float %g", o, yq[o], shift[o], yf[o])
				}
				moved = moved || shift[o] != 0
			}
			if !moved {
				t.Error("every shift is zero")
			}
		})
	}
}

// TestHistogramOrder: the histogram, hence the calibrated range, does not
// depend on the order in which parallel batches arrive.
func TestHistogramOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var batches [][]float32
	for b := 0; b < 6; b++ {
		x := make([]float32, 1000)
		scale := float64(b*b + 1) // later batches reach further: the range grows
		for i := range x {
			x[i] = float32(rng.NormFloat64() * scale)
		}
		batches = append(batches, x)
	}
	fwd, rev := newTensorStats(true), newTensorStats(true)
	for i := range batches {
		fwd.add(batches[i])
		rev.add(batches[len(batches)-1-i])
	}
	if fwd.r != rev.r || !slices.Equal(fwd.bins, rev.bins) {
		t.Fatalf("histograms differ with the batch order: r %g vs %g", fwd.r, rev.r)
	}
	for _, m := range []string{"mse", "percentile", "entropy"} {
		l1, h1 := fwd.rangeFor(m, 99.99, false)
		l2, h2 := rev.rangeFor(m, 99.99, false)
		if l1 != l2 || h1 != h2 {
			t.Errorf("%s: [%g, %g] vs [%g, %g]", m, l1, h1, l2, h2)
		}
	}
}

// TestMSERange: a uniform distribution keeps its whole range (clipping only
// costs); a Gaussian's sparse tails are clipped near 4σ, the optimum for 8
// bits (Banner et al., ACIQ), on each side independently; zeros (ReLU) do
// not pull the range in.
func TestMSERange(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 200000)
	uni := newTensorStats(true)
	for i := range x {
		x[i] = float32(rng.Float64()*8 - 4)
	}
	uni.add(x)
	if lo, hi := uni.rangeFor("mse", 0, false); lo > -3.9 || hi < 3.9 {
		t.Errorf("uniform [-4, 4]: mse range [%g, %g], want about the whole range", lo, hi)
	}
	gauss := newTensorStats(true)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
		if x[i] < 0 {
			x[i] *= 2 // σ 2 below zero, 1 above
		}
	}
	gauss.add(x)
	for _, sym := range []bool{false, true} {
		lo, hi := gauss.rangeFor("mse", 0, sym)
		t.Logf("Gaussian σ 2 below zero, 1 above, symmetric %v: [%.3g, %.3g] of [%.3g, %.3g]", sym, lo, hi, gauss.min, gauss.max)
		if lo <= gauss.min || lo > -5 || hi >= gauss.max && !sym || hi < 3 {
			t.Errorf("symmetric %v: mse range [%g, %g] of [%g, %g], want the tails clipped, about -8 and 4", sym, lo, hi, gauss.min, gauss.max)
		}
	}
	relu := newTensorStats(true)
	for i := range x {
		x[i] = 0
		if i%10 == 0 {
			x[i] = float32(rng.Float64() * 6)
		}
	}
	relu.add(x)
	if lo, hi := relu.rangeFor("mse", 0, false); lo != 0 || hi < 5.9 {
		t.Errorf("90%% zeros, the rest uniform [0, 6]: mse range [%g, %g], want [0, about 6]", lo, hi)
	}
}
