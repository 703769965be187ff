package interp

import (
	"fmt"
	"math"
	"sort"

	"github.com/onnxslim/onnxslim/onnx"
)

// topK selects the k largest (or smallest) elements along axis; ties keep
// the smaller index first, as ONNX expects.
func topK(ctx *Ctx, x *Tensor, k int64, axis int64, largest bool) ([]*Tensor, error) {
	ax, err := normAxis(axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	dim := x.Shape[ax]
	if k < 0 || k > int64(dim) {
		return nil, fmt.Errorf("k = %d is out of range for axis of size %d", k, dim)
	}
	v, err := asFloat64s(x)
	if err != nil {
		return nil, err
	}
	outer, inner := prod(x.Shape[:ax]), prod(x.Shape[ax+1:])
	shape := append([]int{}, x.Shape...)
	shape[ax] = int(k)
	vals := make([]float64, prod(shape))
	idxT := ctx.New(onnx.Int64, shape...)
	idx := idxT.Data.([]int64)
	order := make([]int, dim)
	kk := int(k)
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*dim*inner + in
			for i := range order {
				order[i] = i
			}
			at := func(i int) float64 { return v[base+i*inner] }
			sort.SliceStable(order, func(i, j int) bool {
				a, b := at(order[i]), at(order[j])
				// NaN ranks above every number, as in numpy and ORT.
				if na, nb := math.IsNaN(a), math.IsNaN(b); na || nb {
					if largest {
						return na && !nb
					}
					return !na && nb
				}
				if largest {
					return a > b
				}
				return a < b
			})
			for j := 0; j < kk; j++ {
				p := o*kk*inner + j*inner + in
				vals[p] = at(order[j])
				idx[p] = int64(order[j])
			}
		}
	}
	out, err := fromFloat64s(ctx, x.DType, shape, vals)
	if err != nil {
		return nil, err
	}
	return []*Tensor{out, idxT}, nil
}

func init() {
	Register("", "TopK", 1, func(b *Build) (Kernel, error) {
		k, axis := b.Int("k", 0), b.Int("axis", -1)
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			return topK(ctx, in[0], k, axis, true)
		}, nil
	})
	for _, v := range []int64{10, 11} {
		Register("", "TopK", v, func(b *Build) (Kernel, error) {
			axis := b.Int("axis", -1)
			largest := b.Int("largest", 1) != 0
			return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
				if len(in) < 2 || in[1] == nil {
					return nil, fmt.Errorf("input k is required")
				}
				k, err := intsOf(in[1])
				if err != nil || len(k) != 1 {
					return nil, fmt.Errorf("k must be a single integer")
				}
				return topK(ctx, in[0], k[0], axis, largest)
			}, nil
		})
	}
}
