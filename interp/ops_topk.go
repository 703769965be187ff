package interp

import (
	"fmt"
	"math"
	"slices"

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
	outer, inner := prod(x.Shape[:ax]), prod(x.Shape[ax+1:])
	shape := append([]int{}, x.Shape...)
	shape[ax] = int(k)
	idxT := ctx.New(onnx.Int64, shape...)
	idx := idxT.Data.([]int64)
	if v, ok := x.Data.([]float32); ok {
		// float32 in place: no float64 copy, values copied as they are.
		out := ctx.New(onnx.Float, shape...)
		topKRows(out.Floats(), idx, v, outer, dim, inner, int(k), largest)
		return []*Tensor{out, idxT}, nil
	}
	v, err := asFloat64s(x)
	if err != nil {
		return nil, err
	}
	vals := make([]float64, prod(shape))
	topKRows(vals, idx, v, outer, dim, inner, int(k), largest)
	out, err := fromFloat64s(ctx, x.DType, shape, vals)
	if err != nil {
		return nil, err
	}
	return []*Tensor{out, idxT}, nil
}

// topKRows selects, for each of the outer·inner runs of dim values of v
// (stride inner), its k first in TopK's order, writing their values to vals
// and indices to idx (shape outer × k × inner).
func topKRows[T float32 | float64](vals []T, idx []int64, v []T, outer, dim, inner, k int, largest bool) {
	sel := make([]int, 0, k)
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			row := v[o*dim*inner+in:]
			sel = selectTop(sel[:0], row, inner, dim, k, largest)
			for j, i := range sel {
				p := o*k*inner + j*inner + in
				vals[p] = row[i*inner]
				idx[p] = int64(i)
			}
		}
	}
}

// ranksBefore reports whether value a at index i comes before b at index
// j in TopK's order: the larger (smallest when !largest) first, NaN above
// every number as in numpy and ONNX Runtime, ties by the smaller index. It
// is a strict total order on (value, index) pairs.
func ranksBefore(a, b float64, i, j int, largest bool) bool {
	if na, nb := math.IsNaN(a), math.IsNaN(b); na || nb {
		if na != nb {
			return na == largest
		}
		return i < j
	}
	if a != b {
		return (a > b) == largest
	}
	return i < j
}

// selectTop appends to sel the k indices i of [0, n) whose values
// row[i·inner] come first in TopK's order (ranksBefore), in that order: a
// heap of the k best so far whose root is the worst of them, so O(n log k)
// rather than a sort of n.
func selectTop[T float32 | float64](sel []int, row []T, inner, n, k int, largest bool) []int {
	before := func(i, j int) bool { return ranksBefore(float64(row[i*inner]), float64(row[j*inner]), i, j, largest) }
	h := sel
	// down restores the heap (worst at the root) from position i.
	down := func(i int) {
		for {
			w, l, r := i, 2*i+1, 2*i+2
			if l < len(h) && before(h[w], h[l]) {
				w = l
			}
			if r < len(h) && before(h[w], h[r]) {
				w = r
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	var root float64 // the root's value, once the heap is full
	for i := 0; i < n; i++ {
		if len(h) < k {
			h = append(h, i)
			for c := len(h) - 1; c > 0; { // sift up
				p := (c - 1) / 2
				if !before(h[p], h[c]) {
					break
				}
				h[p], h[c] = h[c], h[p]
				c = p
			}
			root = float64(row[h[0]*inner])
			continue
		}
		// The common case first: most values are plainly worse than the
		// root (the comparison is false for NaN, which takes the full one).
		a := float64(row[i*inner])
		if largest && a < root || !largest && a > root {
			continue
		}
		if k > 0 && ranksBefore(a, root, i, h[0], largest) {
			h[0] = i
			down(0)
			root = float64(row[h[0]*inner])
		}
	}
	slices.SortFunc(h, func(a, b int) int {
		switch {
		case a == b:
			return 0
		case before(a, b):
			return -1
		}
		return 1
	})
	return h
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
