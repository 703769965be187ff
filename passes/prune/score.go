package prune

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
)

// weightScores returns each weight's importance (flat, in the weight
// tensor's order): |w| for magnitude and l1, w² for l2, |w|·||x_k|| for
// wanda (colNorm: the L2 norm of input column k over the calibration data,
// per group), |w·∂L/∂w| for taylor (grad: the accumulated term).
func weightScores(l *layer, w []float32, criterion string, colNorm [][]float64, taylor []float64) ([]float64, error) {
	s := make([]float64, len(w))
	switch criterion {
	case "magnitude", "l1":
		for i, v := range w {
			s[i] = math.Abs(float64(v))
		}
	case "l2":
		for i, v := range w {
			s[i] = float64(v) * float64(v)
		}
	case "wanda":
		if colNorm == nil {
			return nil, fmt.Errorf("%s: no input statistics for criterion=wanda", l.name())
		}
		og := l.rows / l.groups
		for o := 0; o < l.rows; o++ {
			norms := colNorm[o/og]
			for k := 0; k < l.cols; k++ {
				i := l.index(o, k)
				s[i] = math.Abs(float64(w[i])) * norms[k]
			}
		}
	case "taylor":
		if len(taylor) != len(w) {
			return nil, fmt.Errorf("%s: no gradient statistics for criterion=taylor", l.name())
		}
		copy(s, taylor)
	default:
		return nil, fmt.Errorf("criterion=%s: unknown", criterion)
	}
	for i, v := range s {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s: criterion=%s: weight %d has a non-finite score %v", l.name(), criterion, i, v)
		}
	}
	return s, nil
}

// unstructuredKeep returns the mask (true: kept) that prunes the n weights
// of lowest score (ties: the earlier index is pruned first, so runs repeat).
func unstructuredKeep(scores []float64, n int) []bool {
	// Ties go to the lower index, as a stable sort would order them; an
	// unstable sort of (score, index) pairs held side by side is several
	// times faster on a layer of millions of weights.
	type scored struct {
		s float64
		i int
	}
	idx := make([]scored, len(scores))
	for i, v := range scores {
		idx[i] = scored{v, i}
	}
	slices.SortFunc(idx, func(a, b scored) int {
		if c := cmp.Compare(a.s, b.s); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	keep := make([]bool, len(scores))
	for i := range keep {
		keep[i] = true
	}
	for _, e := range idx[:n] {
		keep[e.i] = false
	}
	return keep
}

// nmGroups lists the groups of 4 consecutive weights along the input-channel
// axis of every output row (TensorRT's 2:4 layout), as flat indices, or
// says why the layer cannot take the pattern.
func nmGroups(l *layer, m int) ([][]int, string) {
	cg := l.cols / l.spatial // input channels per group
	if cg%m != 0 {
		return nil, fmt.Sprintf("%d input channels per output: not a multiple of %d", cg, m)
	}
	var out [][]int
	for o := 0; o < l.rows; o++ {
		for s := 0; s < l.spatial; s++ {
			for c0 := 0; c0 < cg; c0 += m {
				grp := make([]int, m)
				for j := range grp {
					grp[j] = l.index(o, (c0+j)*l.spatial+s)
				}
				out = append(out, grp)
			}
		}
	}
	return out, ""
}

// nmKeep keeps the n highest-scored weights of every group (2:4: n=2).
func nmKeep(scores []float64, groups [][]int, n int) []bool {
	keep := make([]bool, len(scores))
	for _, grp := range groups {
		g := append([]int(nil), grp...)
		sort.SliceStable(g, func(a, b int) bool { return scores[g[a]] > scores[g[b]] })
		for _, i := range g[:n] {
			keep[i] = true
		}
	}
	return keep
}

// globalCounts turns one amount over all layers' weights into per-layer
// counts: the weights below the global threshold of score.
func globalCounts(scores [][]float64, amount float64) []int {
	var all []float64
	for _, s := range scores {
		all = append(all, s...)
	}
	n := int(math.Round(amount * float64(len(all))))
	counts := make([]int, len(scores))
	if n == 0 {
		return counts
	}
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	thr := sorted[n-1]
	// Strictly below the threshold first, then ties in layer order.
	left := n
	for i, s := range scores {
		for _, v := range s {
			if v < thr {
				counts[i]++
				left--
			}
		}
	}
	for i, s := range scores {
		for _, v := range s {
			if left > 0 && v == thr {
				counts[i]++
				left--
			}
		}
	}
	return counts
}

// summary is the distribution of a layer's scores.
type summary struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
	// Threshold is the highest pruned score (0 when nothing was pruned).
	Threshold float64 `json:"threshold"`
}

func summarize(scores []float64, keep []bool) summary {
	if len(scores) == 0 {
		return summary{}
	}
	s := slices.Clone(scores)
	slices.Sort(s)
	sm := summary{Min: s[0], Median: s[len(s)/2], Max: s[len(s)-1]}
	for i, k := range keep {
		if !k && scores[i] > sm.Threshold {
			sm.Threshold = scores[i]
		}
	}
	return sm
}
