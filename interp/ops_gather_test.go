package interp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestElementOffsets checks GatherElements' and ScatterElements' offsets
// along every axis, indices smaller than the data and negative, against
// the data position of each index position with its axis replaced.
func TestElementOffsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	data := []int{4, 5, 6}
	for _, ishape := range [][]int{{4, 5, 6}, {2, 3, 4}, {1, 5, 1}, {3, 0, 2}} {
		for a := range data {
			ishape := append([]int(nil), ishape...)
			ishape[a] = 1 + rng.IntN(7) // the axis may be longer than the data's
			idx := make([]int64, numElements(ishape))
			for i := range idx {
				idx[i] = int64(rng.IntN(2*data[a]) - data[a])
			}
			offs := make([]int, len(idx))
			if err := elementOffsets(offs, data, ishape, idx, a); err != nil {
				t.Fatal(err)
			}
			pos := make([]int, len(ishape))
			for i, v := range idx {
				unflatten(i, ishape, pos)
				pos[a] = int(v)
				if v < 0 {
					pos[a] += data[a]
				}
				if want := (pos[0]*data[1]+pos[1])*data[2] + pos[2]; offs[i] != want {
					t.Fatalf("indices %v along %d: offset %d of position %d, want %d", ishape, a, offs[i], i, want)
				}
			}
		}
	}
	if err := elementOffsets(make([]int, 120), data, []int{4, 5, 6}, make([]int64, 120), 1); err != nil {
		t.Fatal(err)
	}
	for _, v := range []int64{5, -6, math.MinInt64, math.MaxInt64} {
		bad := make([]int64, 120)
		bad[77] = v
		err := elementOffsets(make([]int, 120), data, []int{4, 5, 6}, bad, 1)
		if want := fmt.Sprintf("index %d is out of range for a dimension of size 5", v); err == nil || err.Error() != want {
			t.Fatalf("index %d along an axis of 5: error %v, want %q", v, err, want)
		}
	}
}
