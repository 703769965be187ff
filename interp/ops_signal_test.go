package interp

import (
	"fmt"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
	"github.com/onnxslim/onnxslim/onnx"
)

// runKernel runs one node of op (all nout outputs asked for) on in.
func runKernel(op, domain string, opset int64, attrs []*onnx.Attribute, nout int, in ...*Tensor) ([]*Tensor, error) {
	g := &onnx.Graph{}
	outs := make([]string, nout)
	for i := range outs {
		outs[i] = fmt.Sprintf("out%d", i)
	}
	n := g.NewNode(op, domain, "n", nil, outs...)
	n.Attrs = attrs
	return EvalNode(n, opset, in)
}

// closeTo compares numeric tensor data with want within 1e-4.
func closeTo(t *testing.T, name string, got *Tensor, want ...float64) {
	t.Helper()
	v, err := numbersAsFloat64(got)
	if err != nil {
		t.Errorf("%s: got %v (%v), want %v", name, got, err, want)
		return
	}
	if msg := testutil.Mismatch(v, want, 1e-4, 0, -1); msg != "" {
		t.Errorf("%s: got %v, want %v: %s", name, v, want, msg)
	}
}

func TestDFT(t *testing.T) {
	x := FromSlice(onnx.Float, []int{1, 4, 1}, []float32{1, 2, 3, 4})
	out, err := runKernel("DFT", "", 20, nil, 1, x, nil, Scalar(onnx.Int64, int64(1)))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "forward", out[0], 10, 0, -2, 2, -2, 0, -2, -2)
	if fmt.Sprint(out[0].Shape) != "[1 4 2]" {
		t.Errorf("shape %v", out[0].Shape)
	}
	back, err := runKernel("DFT", "", 20, []*onnx.Attribute{onnx.IntAttr("inverse", 1)}, 1, out[0], nil, Scalar(onnx.Int64, int64(1)))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "inverse", back[0], 1, 0, 2, 0, 3, 0, 4, 0)

	// One-sided forward and its inverse (irfft) restore the real signal.
	half, err := runKernel("DFT", "", 20, []*onnx.Attribute{onnx.IntAttr("onesided", 1)}, 1, x, nil, Scalar(onnx.Int64, int64(1)))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "rfft", half[0], 10, 0, -2, 2, -2, 0)
	real, err := runKernel("DFT", "", 20, []*onnx.Attribute{onnx.IntAttr("onesided", 1), onnx.IntAttr("inverse", 1)}, 1, half[0], nil, Scalar(onnx.Int64, int64(1)))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "irfft", real[0], 1, 2, 3, 4)

	// dft_length pads with zeros; opset 17 takes the axis as an attribute.
	padded, err := runKernel("DFT", "", 17, []*onnx.Attribute{onnx.IntAttr("axis", 1)}, 1, FromSlice(onnx.Float, []int{1, 2, 1}, []float32{1, 1}), Scalar(onnx.Int64, int64(4)))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "padded", padded[0], 2, 0, 1, -1, 0, 0, 1, 1)

	for _, bad := range []struct {
		name string
		in   []*Tensor
	}{
		{"axis is the complex axis", []*Tensor{x, nil, Scalar(onnx.Int64, int64(2))}},
		{"axis out of range", []*Tensor{x, nil, Scalar(onnx.Int64, int64(7))}},
		{"zero length", []*Tensor{x, Scalar(onnx.Int64, int64(0)), nil}},
		{"last dim 3", []*Tensor{FromSlice(onnx.Float, []int{1, 3}, []float32{1, 2, 3}), nil, nil}},
	} {
		if _, err := runKernel("DFT", "", 20, nil, 1, bad.in...); err == nil {
			t.Errorf("%s: want an error", bad.name)
		}
	}
}

func TestWindowsAndSTFT(t *testing.T) {
	n := Scalar(onnx.Int64, int64(4))
	out, err := runKernel("HannWindow", "", 17, nil, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "hann periodic", out[0], 0, 0.5, 1, 0.5)
	out, err = runKernel("HannWindow", "", 17, []*onnx.Attribute{onnx.IntAttr("periodic", 0)}, 1, Scalar(onnx.Int64, int64(5)))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "hann symmetric", out[0], 0, 0.5, 1, 0.5, 0)
	out, err = runKernel("BlackmanWindow", "", 17, []*onnx.Attribute{onnx.IntAttr("output_datatype", int64(onnx.Double))}, 1, n)
	if err != nil || out[0].DType != onnx.Double {
		t.Fatalf("blackman as double: %v %v", out, err)
	}
	closeTo(t, "blackman", out[0], 0, 0.34, 1, 0.34)

	// STFT frames of a ramp without window equal DFTs of the frames.
	sig := FromSlice(onnx.Float, []int{1, 6, 1}, []float32{0, 1, 2, 3, 4, 5})
	out, err = runKernel("STFT", "", 17, nil, 1, sig, Scalar(onnx.Int64, int64(2)), nil, Scalar(onnx.Int64, int64(4)))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out[0].Shape) != "[1 2 3 2]" {
		t.Fatalf("STFT shape %v", out[0].Shape)
	}
	closeTo(t, "stft", out[0], 6, 0, -2, 2, -2, 0, 14, 0, -2, 2, -2, 0)
	if _, err := runKernel("STFT", "", 17, nil, 1, sig, Scalar(onnx.Int64, int64(2)), nil, Scalar(onnx.Int64, int64(9))); err == nil {
		t.Error("a frame longer than the signal: want an error")
	}
	if _, err := runKernel("HannWindow", "", 17, nil, 1, Scalar(onnx.Int64, int64(-1))); err == nil {
		t.Error("negative window size: want an error")
	}
}

func TestMelWeightMatrix(t *testing.T) {
	out, err := runKernel("MelWeightMatrix", "", 17, nil, 1, Scalar(onnx.Int32, int32(8)), Scalar(onnx.Int32, int32(16)),
		Scalar(onnx.Int32, int32(8192)), Scalar(onnx.Float, float32(0)), Scalar(onnx.Float, float32(4096)))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out[0].Shape) != "[9 8]" {
		t.Fatalf("shape %v", out[0].Shape)
	}
	// ONNX's documented example: the first rows of the expected matrix.
	closeTo(t, "mel", &Tensor{DType: onnx.Float, Shape: []int{16}, Data: out[0].Floats()[:16]},
		1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0)
}
