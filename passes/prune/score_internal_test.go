package prune

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// TestUnstructuredKeepOrdersTiesByIndex: the weights pruned are the n of
// lowest score, ties taken at the lower index first, as a stable sort by
// score orders them (many ties: scores from a few values).
func TestUnstructuredKeepOrdersTiesByIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	scores := make([]float64, 5000)
	for i := range scores {
		scores[i] = float64(r.IntN(7)) / 3
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	for _, n := range []int{0, 1, 700, 2500, 4999, 5000} {
		keep := unstructuredKeep(scores, n)
		want := make([]bool, len(scores))
		for i := range want {
			want[i] = true
		}
		for _, i := range idx[:n] {
			want[i] = false
		}
		if !slices.Equal(keep, want) {
			t.Errorf("n=%d: the mask differs from the stable sort's", n)
		}
	}
}
