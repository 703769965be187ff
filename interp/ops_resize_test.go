package interp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestResizePlanes runs Resize on float32 tensors (resizePlanes) and on the
// same values as float64 (the general path, which sums in float64): nearest
// must give the same bits, the interpolating modes values within a few
// float32 roundings of the output range. Shapes cover upsampling and
// downsampling of H and W, one axis only, odd sizes, rank 2 to 5 and
// output rows split over two threads.
func TestResizePlanes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	str := onnx.StringAttr
	cases := []struct {
		shape []int
		sizes []int64
		attrs []*onnx.Attribute
	}{
		{[]int{1, 3, 8, 8}, []int64{1, 3, 16, 16}, []*onnx.Attribute{str("mode", "linear")}},
		{[]int{2, 5, 7, 9}, []int64{2, 5, 14, 18}, []*onnx.Attribute{str("mode", "linear"), str("coordinate_transformation_mode", "align_corners")}},
		{[]int{1, 4, 16, 12}, []int64{1, 4, 5, 7}, []*onnx.Attribute{str("mode", "linear"), onnx.IntAttr("antialias", 1)}},
		{[]int{1, 2, 9, 11}, []int64{1, 2, 20, 23}, []*onnx.Attribute{str("mode", "cubic"), onnx.IntAttr("exclude_outside", 1)}},
		{[]int{1, 2, 9, 11}, []int64{1, 2, 4, 30}, []*onnx.Attribute{str("mode", "cubic"), str("coordinate_transformation_mode", "pytorch_half_pixel")}},
		{[]int{1, 6, 10, 10}, []int64{1, 6, 20, 20}, []*onnx.Attribute{str("mode", "nearest")}},
		{[]int{1, 6, 13, 10}, []int64{1, 6, 5, 31}, []*onnx.Attribute{str("mode", "nearest"), str("nearest_mode", "floor"), str("coordinate_transformation_mode", "asymmetric")}},
		{[]int{3, 40, 33}, []int64{3, 40, 65}, []*onnx.Attribute{str("mode", "linear")}},            // W only
		{[]int{1, 2, 31, 64}, []int64{1, 2, 62, 64}, []*onnx.Attribute{str("mode", "linear")}},      // H only
		{[]int{17, 5}, []int64{34, 3}, []*onnx.Attribute{str("mode", "linear")}},                    // rank 2: one plane
		{[]int{1, 2, 2, 6, 6}, []int64{1, 2, 2, 12, 12}, []*onnx.Attribute{str("mode", "linear")}},  // rank 5
		{[]int{1, 1, 128, 96}, []int64{1, 1, 256, 192}, []*onnx.Attribute{str("mode", "linear")}},   // threads split one plane's rows
		{[]int{1, 16, 64, 64}, []int64{1, 16, 128, 128}, []*onnx.Attribute{str("mode", "nearest")}}, // and planes
		{[]int{1, 3, 96, 80}, []int64{1, 3, 48, 40}, []*onnx.Attribute{str("mode", "linear")}},      // downscale by 2
		{[]int{5}, []int64{9}, []*onnx.Attribute{str("mode", "linear")}},                            // rank 1
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%v→%v/%s", tc.shape, tc.sizes, tc.attrs[0].String)
		for _, a := range tc.attrs[1:] {
			if a.Name == "coordinate_transformation_mode" || a.Name == "nearest_mode" {
				name += "/" + string(a.String)
			} else {
				name += "/" + a.Name
			}
		}
		t.Run(name, func(t *testing.T) {
			n := prod(tc.shape)
			x32, x64 := make([]float32, n), make([]float64, n)
			for i := range x32 {
				x32[i] = float32(r.NormFloat64() * 3)
				x64[i] = float64(x32[i])
			}
			if n > 4 {
				x32[3], x64[3] = float32(math.NaN()), math.NaN()
			}
			sizes := FromSlice(onnx.Int64, []int{len(tc.sizes)}, tc.sizes)
			run := func(x *Tensor, threads int) *Tensor {
				bld, _, ok := Lookup("", "Resize", 19)
				if !ok {
					t.Fatal("Resize-19 is not registered")
				}
				k, err := bld(&Build{Node: &onnx.Node{OpType: "Resize", Attrs: tc.attrs}, Opset: 19})
				if err != nil {
					t.Fatal(err)
				}
				ctx := &Ctx{opts: &Options{MaxMemory: DefaultMaxMemory, Threads: threads}}
				out, err := k(ctx, []*Tensor{x, nil, nil, sizes})
				if err != nil {
					t.Fatal(err)
				}
				return out[0]
			}
			want := run(FromSlice(onnx.Double, tc.shape, x64), 1).Data.([]float64)
			for _, threads := range []int{1, 2} {
				got := run(FromSlice(onnx.Float, tc.shape, x32), threads).Floats()
				if len(got) != len(want) {
					t.Fatalf("%d outputs, want %d", len(got), len(want))
				}
				nearest := string(tc.attrs[0].String) == "nearest"
				scale := 0.0
				for _, v := range want {
					if !math.IsNaN(v) {
						scale = max(scale, math.Abs(v))
					}
				}
				for i, v := range want {
					g := float64(got[i])
					if math.IsNaN(v) || math.IsNaN(g) {
						if math.IsNaN(v) != math.IsNaN(g) {
							t.Fatalf("threads %d: output %d: %v, want %v", threads, i, g, v)
						}
						continue
					}
					if nearest && float32(v) != got[i] || math.Abs(g-v) > 4e-7*scale {
						t.Fatalf("threads %d: output %d: %v, want %v (float64 path)", threads, i, g, v)
					}
				}
			}
		})
	}
}

// BenchmarkResize upsamples a [1,32,256,256] float32 tensor 2× in H and W
// (a U-Net decoder's step), linear and nearest, on one thread.
func BenchmarkResize(b *testing.B) {
	x := FromSlice(onnx.Float, []int{1, 32, 256, 256}, make([]float32, 32*256*256))
	sizes := FromSlice(onnx.Int64, []int{4}, []int64{1, 32, 512, 512})
	for _, mode := range []string{"linear", "nearest"} {
		b.Run(mode, func(b *testing.B) {
			bld, _, _ := Lookup("", "Resize", 19)
			k, err := bld(&Build{Node: &onnx.Node{OpType: "Resize", Attrs: []*onnx.Attribute{onnx.StringAttr("mode", mode)}}, Opset: 19})
			if err != nil {
				b.Fatal(err)
			}
			ctx := testCtx()
			for b.Loop() {
				if _, err := k(ctx, []*Tensor{x, nil, nil, sizes}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
