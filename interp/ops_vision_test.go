package interp

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func TestGridSample(t *testing.T) {
	x := FromSlice(onnx.Float, []int{1, 1, 2, 2}, []float32{1, 2, 3, 4})
	// The corner-centered identity grid (x first, then y).
	ident := FromSlice(onnx.Float, []int{1, 2, 2, 2}, []float32{-1, -1, 1, -1, -1, 1, 1, 1})
	for _, mode := range []string{"linear", "nearest", "cubic", "bilinear", "bicubic"} {
		out, err := runKernel("GridSample", "", 22, []*onnx.Attribute{onnx.StringAttr("mode", mode), onnx.IntAttr("align_corners", 1)}, 1, x, ident)
		if err != nil {
			t.Fatal(mode, err)
		}
		closeTo(t, "identity "+mode, out[0], 1, 2, 3, 4)
	}
	// The center of the image is the mean; far outside, border padding clamps
	// and zeros padding gives 0.
	g := FromSlice(onnx.Float, []int{1, 1, 3, 2}, []float32{0, 0, 5, 5, -5, 0})
	out, err := runKernel("GridSample", "", 22, []*onnx.Attribute{onnx.StringAttr("padding_mode", "border")}, 1, x, g)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "border", out[0], 2.5, 4, 2)
	out, err = runKernel("GridSample", "", 22, nil, 1, x, g)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "zeros", out[0], 2.5, 0, 0)
	// 1-D input (rank 3).
	x1 := FromSlice(onnx.Float, []int{1, 1, 3}, []float32{0, 10, 20})
	out, err = runKernel("GridSample", "", 22, []*onnx.Attribute{onnx.IntAttr("align_corners", 1)}, 1, x1, FromSlice(onnx.Float, []int{1, 2, 1}, []float32{-0.5, 1}))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "1-D", out[0], 5, 20)
	if _, err := runKernel("GridSample", "", 22, nil, 1, x, FromSlice(onnx.Float, []int{1, 2, 2, 3}, make([]float32, 12))); err == nil {
		t.Error("a 3-coordinate grid for a 2-D input: want an error")
	}
	if _, err := runKernel("GridSample", "", 22, []*onnx.Attribute{onnx.StringAttr("mode", "area")}, 1, x, ident); err == nil {
		t.Error("unknown mode: want an error")
	}
}

func TestAffineGridAndRoiAlign(t *testing.T) {
	theta := FromSlice(onnx.Float, []int{1, 2, 3}, []float32{1, 0, 0, 0, 1, 0})
	out, err := runKernel("AffineGrid", "", 20, []*onnx.Attribute{onnx.IntAttr("align_corners", 1)}, 1, theta, FromSlice(onnx.Int64, []int{4}, []int64{1, 1, 2, 2}))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "identity grid", out[0], -1, -1, 1, -1, -1, 1, 1, 1)

	x := FromSlice(onnx.Float, []int{1, 1, 4, 4}, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	rois := FromSlice(onnx.Float, []int{1, 4}, []float32{0, 0, 4, 4})
	out, err = runKernel("RoiAlign", "", 16, []*onnx.Attribute{onnx.IntAttr("sampling_ratio", 1)}, 1, x, rois, FromSlice(onnx.Int64, []int{1}, []int64{0}))
	if err != nil {
		t.Fatal(err)
	}
	// One bin over the whole image, sampled at its center (1.5, 1.5).
	closeTo(t, "roi center", out[0], 7.5)
	if _, err := runKernel("RoiAlign", "", 16, nil, 1, x, rois, FromSlice(onnx.Int64, []int{1}, []int64{3})); err == nil {
		t.Error("batch index out of range: want an error")
	}
}

func TestNonMaxSuppression(t *testing.T) {
	boxes := FromSlice(onnx.Float, []int{1, 3, 4}, []float32{0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, 5, 1, 6})
	scores := FromSlice(onnx.Float, []int{1, 1, 3}, []float32{0.9, 0.8, 0.7})
	out, err := runKernel("NonMaxSuppression", "", 11, nil, 1, boxes, scores, Scalar(onnx.Int64, int64(3)), Scalar(onnx.Float, float32(0.5)))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "nms", out[0], 0, 0, 0, 0, 0, 2)
	out, err = runKernel("NonMaxSuppression", "", 11, nil, 1, boxes, scores)
	if err != nil || out[0].Len() != 0 || fmt.Sprint(out[0].Shape) != "[0 3]" {
		t.Errorf("no max_output_boxes_per_class: want [0 3], got %v %v", out, err)
	}
	if _, err := runKernel("NonMaxSuppression", "", 11, nil, 1, boxes, FromSlice(onnx.Float, []int{1, 1, 2}, []float32{1, 1})); err == nil {
		t.Error("scores of another box count: want an error")
	}
}

func TestCropUnpoolCol2Im(t *testing.T) {
	x := FromSlice(onnx.Float, []int{1, 4}, []float32{1, 2, 3, 4})
	out, err := runKernel("CenterCropPad", "", 18, nil, 1, x, FromSlice(onnx.Int64, []int{2}, []int64{3, 2}))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "crop and pad", out[0], 0, 0, 2, 3, 0, 0)

	v := FromSlice(onnx.Float, []int{1, 1, 1, 2}, []float32{5, 6})
	idx := FromSlice(onnx.Int64, []int{1, 1, 1, 2}, []int64{1, 2})
	attrs := []*onnx.Attribute{onnx.IntsAttr("kernel_shape", []int64{2, 2}), onnx.IntsAttr("strides", []int64{2, 2})}
	out, err = runKernel("MaxUnpool", "", 11, attrs, 1, v, idx)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "unpool", out[0], 0, 5, 6, 0, 0, 0, 0, 0)
	if _, err := runKernel("MaxUnpool", "", 11, attrs, 1, v, FromSlice(onnx.Int64, []int{1, 1, 1, 2}, []int64{1, 99})); err == nil {
		t.Error("index out of range: want an error")
	}

	cols := FromSlice(onnx.Float, []int{1, 4, 1}, []float32{1, 2, 3, 4})
	out, err = runKernel("Col2Im", "", 18, nil, 1, cols, FromSlice(onnx.Int64, []int{2}, []int64{2, 2}), FromSlice(onnx.Int64, []int{2}, []int64{2, 2}))
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "col2im", out[0], 1, 2, 3, 4)
	if _, err := runKernel("Col2Im", "", 18, nil, 1, cols, FromSlice(onnx.Int64, []int{2}, []int64{2, 2}), FromSlice(onnx.Int64, []int{2}, []int64{3, 3})); err == nil {
		t.Error("block larger than the image: want an error")
	}
}

func TestDeformConvZeroOffset(t *testing.T) {
	// With zero offsets DeformConv is a plain convolution.
	x := FromSlice(onnx.Float, []int{1, 1, 3, 3}, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8})
	w := FromSlice(onnx.Float, []int{1, 1, 2, 2}, []float32{1, 1, 1, 1})
	off := FromSlice(onnx.Float, []int{1, 8, 2, 2}, make([]float32, 32))
	out, err := runKernel("DeformConv", "", 19, nil, 1, x, w, off)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "deform", out[0], 8, 12, 20, 24)
	if _, err := runKernel("DeformConv", "", 19, nil, 1, x, w, FromSlice(onnx.Float, []int{1, 2, 2, 2}, make([]float32, 8))); err == nil {
		t.Error("offset with the wrong channel count: want an error")
	}
}

// TestGridSampleChannels checks that channels sampled four at a time give
// what each channel gives alone, bit for bit: 2-D and 3-D, every mode,
// 7 channels (a group of four and a rest of three), grid points outside
// the input, float32 and float64.
func TestGridSampleChannels(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, sp := range [][]int{{5, 6}, {3, 4, 5}} {
		const n, c = 2, 7
		xs := append([]int{n, c}, sp...)
		gs := append([]int{n}, sp...) // the output has the input's spatial size
		gs = append(gs, len(sp))
		x := make([]float64, prod(xs))
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		g := make([]float32, prod(gs))
		for i := range g {
			g[i] = 2.4*rng.Float32() - 1.2
		}
		grid := FromSlice(onnx.Float, gs, g)
		for _, dt := range []onnx.DataType{onnx.Float, onnx.Double} {
			in := FromSlice(onnx.Double, xs, x)
			if dt == onnx.Float {
				in = FromSlice(onnx.Float, xs, float32s(x))
			}
			for _, mode := range []string{"nearest", "linear", "cubic"} {
				if mode == "cubic" && len(sp) == 3 {
					continue // cubic is 2-D only
				}
				attrs := []*onnx.Attribute{onnx.StringAttr("mode", mode), onnx.StringAttr("padding_mode", "zeros")}
				all, err := runKernel("GridSample", "", 22, attrs, 1, in, grid)
				if err != nil {
					t.Fatal(err)
				}
				plane, outPlane := prod(sp), prod(sp)
				for b := range n {
					for ch := range c {
						one := sliceChannel(in, b, ch, plane)
						got, err := runKernel("GridSample", "", 22, attrs, 1, one, sliceBatch(grid, b))
						if err != nil {
							t.Fatal(err)
						}
						want := fmt.Sprint(got[0].Data)
						have := fmt.Sprint(sliceChannel(all[0], b, ch, outPlane).Data)
						if want != have {
							t.Fatalf("%v %s %s: batch %d channel %d differs alone:\n%s\n%s", sp, dt, mode, b, ch, have, want)
						}
					}
				}
			}
		}
	}
}

func float32s(x []float64) []float32 {
	f := make([]float32, len(x))
	for i, v := range x {
		f[i] = float32(v)
	}
	return f
}

// sliceChannel is channel ch of batch item b of an [N, C, …] tensor as a
// [1, 1, …] tensor.
func sliceChannel(t *Tensor, b, ch, plane int) *Tensor {
	c := t.Shape[1]
	at := (b*c + ch) * plane
	shape := append([]int{1, 1}, t.Shape[2:]...)
	switch d := t.Data.(type) {
	case []float32:
		return FromSlice(t.DType, shape, d[at:at+plane])
	default:
		return FromSlice(t.DType, shape, t.Data.([]float64)[at:at+plane])
	}
}

// sliceBatch is batch item b of a float32 grid.
func sliceBatch(t *Tensor, b int) *Tensor {
	per := prod(t.Shape[1:])
	return FromSlice(t.DType, append([]int{1}, t.Shape[1:]...), t.Data.([]float32)[b*per:(b+1)*per])
}

// TestGridSample2DAs3D checks the 2-D tap loop against the general one: a
// 2-D sample equals the 3-D sample of the same planes as one-deep volumes
// at depth coordinate 0, bit for bit (zero padding drops the second depth
// tap; the weights multiply in the same order).
func TestGridSample2DAs3D(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	const n, c, h, w, oh, ow = 2, 3, 5, 7, 4, 6
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	g2 := make([]float32, n*oh*ow*2)
	g3 := make([]float32, n*oh*ow*3)
	for p := range n * oh * ow {
		gx, gy := 2.4*rng.Float32()-1.2, 2.4*rng.Float32()-1.2
		g2[2*p], g2[2*p+1] = gx, gy
		g3[3*p], g3[3*p+1], g3[3*p+2] = gx, gy, 0
	}
	x2 := FromSlice(onnx.Float, []int{n, c, h, w}, x)
	x3 := FromSlice(onnx.Float, []int{n, c, 1, h, w}, x)
	for _, mode := range []string{"nearest", "linear"} {
		for _, align := range []int64{0, 1} {
			attrs := []*onnx.Attribute{onnx.StringAttr("mode", mode), onnx.IntAttr("align_corners", align)}
			a, err := runKernel("GridSample", "", 22, attrs, 1, x2, FromSlice(onnx.Float, []int{n, oh, ow, 2}, g2))
			if err != nil {
				t.Fatal(err)
			}
			b, err := runKernel("GridSample", "", 22, attrs, 1, x3, FromSlice(onnx.Float, []int{n, 1, oh, ow, 3}, g3))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(a[0].Data) != fmt.Sprint(b[0].Data) {
				t.Fatalf("%s align %d: 2-D\n%v\n3-D\n%v", mode, align, a[0].Data, b[0].Data)
			}
		}
	}
}
