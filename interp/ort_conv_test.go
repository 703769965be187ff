package interp_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/dataset"
	"github.com/onnxslim/onnxslim/internal/ort"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// convModel is one float32 Conv (with bias) on a 1×c×hw×hw input, with
// seeded random weights.
// normalTensors makes tensors of N(0, 0.1²) values drawn from r.
func normalTensors(r *rand.Rand) func(shape ...int64) *onnx.Tensor {
	return func(shape ...int64) *onnx.Tensor {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64() * 0.1)
		}
		return onnx.NewFloatTensor("", shape, v)
	}
}

// convModel is one Conv; extra, when given, is {strideW, dilation} (stride
// applies to H, and to W without extra) or {stride, dilation, 1} for a 1-D
// convolution over hw samples.
func convModel(c, m, hw, k, stride, pad, group int, extra ...int) *onnx.Model {
	sw, dil := stride, 1
	if len(extra) >= 2 {
		sw, dil = extra[0], extra[1]
	}
	if len(extra) == 3 {
		return conv1DModel(c, m, hw, k, sw, pad, group, dil)
	}
	r := rand.New(rand.NewPCG(uint64(c*m), uint64(k*hw)))
	normal := normalTensors(r)
	g := &onnx.Graph{Name: "conv"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.Shape{onnx.D(1), onnx.D(int64(c)), onnx.D(int64(hw)), onnx.D(int64(hw))}))
	w := g.AddInitializer("w", normal(int64(m), int64(c/group), int64(k), int64(k)))
	b := g.AddInitializer("b", normal(int64(m)))
	n := g.NewNode("Conv", "", "conv", []*onnx.Value{x, w, b}, "y")
	n.SetAttr(onnx.IntsAttr("kernel_shape", []int64{int64(k), int64(k)}))
	n.SetAttr(onnx.IntsAttr("strides", []int64{int64(stride), int64(sw)}))
	n.SetAttr(onnx.IntsAttr("dilations", []int64{int64(dil), int64(dil)}))
	n.SetAttr(onnx.IntsAttr("pads", []int64{int64(pad), int64(pad), int64(pad), int64(pad)}))
	n.SetAttr(onnx.IntAttr("group", int64(group)))
	g.Append(n)
	y := n.Output(0)
	y.Type = onnx.TensorType(onnx.Float, nil)
	g.Outputs = append(g.Outputs, y)
	return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
}

func conv1DModel(c, m, l, k, stride, pad, group, dil int) *onnx.Model {
	r := rand.New(rand.NewPCG(uint64(c*m), uint64(k*l)))
	normal := normalTensors(r)
	g := &onnx.Graph{Name: "conv1d"}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.Shape{onnx.D(1), onnx.D(int64(c)), onnx.D(int64(l))}))
	w := g.AddInitializer("w", normal(int64(m), int64(c/group), int64(k)))
	b := g.AddInitializer("b", normal(int64(m)))
	n := g.NewNode("Conv", "", "conv", []*onnx.Value{x, w, b}, "y")
	n.SetAttr(onnx.IntsAttr("kernel_shape", []int64{int64(k)}))
	n.SetAttr(onnx.IntsAttr("strides", []int64{int64(stride)}))
	n.SetAttr(onnx.IntsAttr("pads", []int64{int64(pad), int64(pad)}))
	n.SetAttr(onnx.IntsAttr("dilations", []int64{int64(dil)}))
	n.SetAttr(onnx.IntAttr("group", int64(group)))
	g.Append(n)
	y := n.Output(0)
	y.Type = onnx.TensorType(onnx.Float, nil)
	g.Outputs = append(g.Outputs, y)
	return &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
}

// TestConvMatchesORT checks that float32 convolutions give ONNX Runtime's
// results bit for bit (its CPU provider with graph optimizations off, one
// thread): the GEMM sums in MLAS's K blocks (simd.ConvKBlock) and depthwise
// channels in its M=1 kernel's order. This is what lets a quantized model
// agree with ONNX Runtime: a value one ulp off can land on the other side of
// a rounding boundary and change a quantized activation.
func TestConvMatchesORT(t *testing.T) {
	ort.Require(t)
	if !simd.Accelerated() {
		t.Skip("bit-exact agreement holds for the AVX2/FMA kernels; the pure-Go twins round products apart")
	}
	for _, tc := range []struct {
		c, m, hw, k, stride, pad, group int
		extra                           []int // strideW, dilation
	}{
		{3, 64, 224, 7, 2, 3, 1, nil},              // resnet's stem: K 147 in two blocks
		{16, 16, 14, 3, 1, 1, 1, nil},              // K 144: 128 + 16
		{64, 64, 56, 3, 1, 1, 1, nil},              // K 576, N 3136
		{256, 512, 14, 3, 2, 1, 1, nil},            // N 49 < K 2304: 512-deep blocks
		{512, 512, 7, 3, 1, 1, 1, nil},             // K 4608
		{64, 64, 56, 1, 1, 0, 1, nil},              // 1×1, one block
		{960, 160, 7, 1, 1, 0, 1, nil},             // 1×1, N < K: 256-deep blocks
		{16, 32, 130, 1, 1, 0, 1, nil},             // 1×1, few channels, wide plane: B read in place, ragged edge packed
		{32, 16, 97, 1, 1, 0, 1, nil},              // the same, 16 filters, odd plane
		{64, 128, 56, 1, 2, 0, 1, nil},             // strided 1×1: columns gathered a chunk at a time
		{16, 16, 130, 1, 2, 0, 1, nil},             // the same, 65² outputs: chunks of 3072 columns (rows padded off 4 KiB)
		{24, 40, 29, 1, 3, 1, 1, nil},              // strided 1×1 with padding: zero columns and rows
		{20, 12, 17, 1, 2, 2, 1, []int{1, 1}},      // 1×1, stride (2,1), padding wider than the stride
		{16, 32, 30, 1, 2, 0, 4, nil},              // grouped strided 1×1 (ShuffleNet's shortcuts)
		{32, 16, 112, 3, 1, 1, 1, nil},             // 16 filters, OutW 112: implicit GEMM (taps kernels)
		{24, 20, 64, 3, 2, 1, 1, nil},              // the same, stride 2, OutW 32, 20 filters
		{32, 32, 56, 3, 1, 1, 32, nil},             // depthwise
		{96, 96, 57, 3, 2, 1, 96, nil},             // depthwise, stride 2, odd size
		{24, 24, 15, 5, 1, 2, 24, nil},             // depthwise 5×5 (general kernel)
		{40, 40, 28, 5, 2, 2, 40, nil},             // depthwise 5×5 stride 2 (EfficientNet)
		{16, 16, 21, 3, 2, 1, 16, []int{1, 1}},     // depthwise stride (2,1) (text recognizers)
		{16, 16, 19, 3, 1, 2, 16, []int{1, 2}},     // depthwise dilated 2
		{8, 8, 23, 7, 1, 3, 8, nil},                // depthwise 7×7
		{72, 72, 7, 3, 1, 1, 72, nil},              // depthwise on 7² (channel lanes)
		{100, 100, 14, 3, 2, 1, 100, nil},          // depthwise stride 2 to 7² (channel lanes)
		{8, 16, 20, 3, 1, 1, 2, nil},               // grouped
		{16, 32, 400, 5, 1, 2, 1, []int{2, 1, 1}},  // 1-D, stride 2
		{1, 64, 512, 64, 1, 0, 1, []int{16, 1, 1}}, // 1-D, STFT-like: long kernel, hop 16
		{16, 16, 300, 9, 1, 4, 16, []int{1, 2, 1}}, // 1-D depthwise, dilated
	} {
		name := fmt.Sprintf("c%d_m%d_hw%d_k%d_s%d_g%d", tc.c, tc.m, tc.hw, tc.k, tc.stride, tc.group)
		if tc.extra != nil {
			name += fmt.Sprintf("_sw%d_d%d", tc.extra[0], tc.extra[1])
		}
		oneD := len(tc.extra) == 3
		if oneD {
			name += "_1d"
		}
		t.Run(name, func(t *testing.T) {
			m := convModel(tc.c, tc.m, tc.hw, tc.k, tc.stride, tc.pad, tc.group, tc.extra...)
			dir := t.TempDir()
			path := filepath.Join(dir, "conv.onnx")
			if err := onnx.Save(m, path, onnx.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			x := interp.Make(onnx.Float, 1, tc.c, tc.hw, tc.hw)
			if oneD {
				x = interp.Make(onnx.Float, 1, tc.c, tc.hw)
			}
			r := rand.New(rand.NewPCG(7, uint64(tc.hw)))
			for i := range x.Floats() {
				x.Floats()[i] = float32(r.NormFloat64())
			}
			inDir := filepath.Join(dir, "in")
			if err := os.MkdirAll(inDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := dataset.WritePB(inDir, "input", []string{"x"}, []*interp.Tensor{x}); err != nil {
				t.Fatal(err)
			}
			want := ort.Run(t, path, inDir, "--optimize", "disabled", "--threads", "1")
			wf, err := want[0].AsFloat32()
			if err != nil {
				t.Fatal(err)
			}
			for _, th := range []int{1, 2} {
				s, err := interp.NewSession(m, interp.Options{Threads: th})
				if err != nil {
					t.Fatal(err)
				}
				out, err := s.Run(map[string]*interp.Tensor{"x": x})
				if err != nil {
					t.Fatal(err)
				}
				got := out[0].Floats()
				if len(got) != len(wf) {
					t.Fatalf("%d outputs, ONNX Runtime %d", len(got), len(wf))
				}
				diff, first := 0, -1
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(wf[i]) {
						if first < 0 {
							first = i
						}
						diff++
					}
				}
				if diff > 0 {
					t.Errorf("threads=%d: %d of %d outputs differ from ONNX Runtime's bits (first [%d]: %v, ORT %v)", th, diff, len(got), first, got[first], wf[first])
				}
			}
		})
	}
}
