package lowrank

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// lowRankPlusNoise is an m×n matrix with a decaying spectrum, as trained
// weights have: singular values 1/(1+i/8) on random orthonormal-ish
// directions, plus small noise.
func lowRankPlusNoise(m, n int, seed uint64) *mat.Dense {
	rng := rand.New(rand.NewPCG(seed, 1))
	k := min(m, n)
	u := mat.NewDense(m, k, nil)
	v := mat.NewDense(n, k, nil)
	for i := range m {
		for j := range k {
			u.Set(i, j, rng.NormFloat64()/math.Sqrt(float64(m)))
		}
	}
	for i := range n {
		for j := range k {
			v.Set(i, j, rng.NormFloat64()/math.Sqrt(float64(n)))
		}
	}
	for j := range k {
		s := 1 / (1 + float64(j)/8)
		for i := range m {
			u.Set(i, j, u.At(i, j)*s)
		}
	}
	var a mat.Dense
	a.Mul(u, v.T())
	for i := range m {
		for j := range n {
			a.Set(i, j, a.At(i, j)+1e-3*rng.NormFloat64())
		}
	}
	return &a
}

// TestRandomizedSVDWithinOnePercent: at the same rank, the randomized
// SVD's truncation error ‖A − A_r‖_F is within 1% of the exact SVD's (the
// optimum), on matrices of the shapes the pass meets.
func TestRandomizedSVDWithinOnePercent(t *testing.T) {
	for _, c := range []struct{ m, n, k int }{{256, 1024, 32}, {1024, 256, 48}, {512, 512, 64}, {300, 700, 20}} {
		t.Run(fmt.Sprintf("%dx%d_r%d", c.m, c.n, c.k), func(t *testing.T) {
			a := lowRankPlusNoise(c.m, c.n, uint64(c.m*c.n))
			ex, ok := svdExact(a)
			if !ok {
				t.Fatal("exact SVD did not converge")
			}
			rs, ok := svdRandomized(a, c.k, 7)
			if !ok {
				t.Fatal("randomized SVD failed")
			}
			errOf := func(s *spectrum) float64 {
				l, r := s.factors(c.k)
				var ab mat.Dense
				ab.Mul(l, r)
				return relFrob(a, &ab)
			}
			e, r := errOf(ex), errOf(rs)
			t.Logf("exact %.6f randomized %.6f (%.3f%% more)", e, r, 100*(r/e-1))
			if math.IsNaN(r) || r > 1.01*e || e <= 0 {
				t.Fatalf("randomized error %.6f, exact %.6f: beyond 1%%", r, e)
			}
			// The leading singular values agree too (those near the
			// cut-off converge last).
			for i := range c.k / 2 {
				if d := math.Abs(rs.S[i]-ex.S[i]) / ex.S[i]; d > 0.01 {
					t.Fatalf("σ%d: randomized %g, exact %g", i, rs.S[i], ex.S[i])
				}
			}
		})
	}
}

// BenchmarkSVD times the exact SVD against the randomized one at several
// ranks: the switch (useRandomized) is where the randomized one stops
// being clearly faster.
func BenchmarkSVD(b *testing.B) {
	for _, sz := range []struct{ m, n int }{{128, 1152}, {256, 1024}, {256, 2304}, {512, 512}, {512, 4608}, {1024, 1024}} {
		a := lowRankPlusNoise(sz.m, sz.n, 3)
		b.Run(fmt.Sprintf("%dx%d/exact", sz.m, sz.n), func(b *testing.B) {
			for b.Loop() {
				svdExact(a)
			}
		})
		d := min(sz.m, sz.n)
		for _, frac := range []int{16, 8, 4, 2} {
			k := d / frac
			b.Run(fmt.Sprintf("%dx%d/randomized_r%d", sz.m, sz.n, k), func(b *testing.B) {
				for b.Loop() {
					svdRandomized(a, k, 1)
				}
			})
		}
	}
}
