package lowrank

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"
)

// spectrum is a (possibly truncated) SVD A ≈ U·diag(S)·Vᵀ with U m×k, V n×k
// and S in decreasing order. Total is ‖A‖_F², so that the energy of the
// singular values not computed is known: Total − Σ S².
type spectrum struct {
	U, V  *mat.Dense
	S     []float64
	Total float64
	// Randomized says the factors came from the randomized SVD.
	Randomized bool
}

// kept is Σ_{i<r} S_i².
func (s *spectrum) kept(r int) float64 {
	var e float64
	for _, v := range s.S[:min(r, len(s.S))] {
		e += v * v
	}
	return e
}

// tail is the squared Frobenius error of the rank-r truncation: Total − kept(r).
func (s *spectrum) tail(r int) float64 { return max(s.Total-s.kept(r), 0) }

// rankFor is the smallest rank whose singular values hold the fraction
// energy of Total; ok is false when the computed values do not reach it.
func (s *spectrum) rankFor(energy float64) (int, bool) {
	want := energy * s.Total
	var e float64
	for i, v := range s.S {
		e += v * v
		// Rounding: the last value may leave the sum a hair below energy=1.
		if e >= want*(1-1e-12) {
			return i + 1, true
		}
	}
	return len(s.S), false
}

// frob2 is ‖a‖_F².
func frob2(a mat.Matrix) float64 {
	f := mat.Norm(a, 2)
	return f * f
}

// svdExact is the thin SVD of a by gonum (LAPACK's Dgesvd).
func svdExact(a *mat.Dense) (*spectrum, bool) {
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDThin) {
		return nil, false
	}
	s := &spectrum{U: &mat.Dense{}, V: &mat.Dense{}, S: svd.Values(nil), Total: frob2(a)}
	svd.UTo(s.U)
	svd.VTo(s.V)
	return s, true
}

// Randomized SVD parameters (Halko, Martinsson, Tropp 2011, algorithm 4.4
// with the QR re-orthonormalisation between power iterations).
const (
	oversample = 10
	powerIters = 2
)

// svdRandomized is a rank-k randomized SVD of a: an orthonormal basis Q of
// the range of (A·Aᵀ)^q·A·Ω for a Gaussian Ω with k+oversample columns,
// then the exact SVD of the small matrix Qᵀ·A. The seed is fixed so that
// runs repeat.
func svdRandomized(a *mat.Dense, k int, seed uint64) (*spectrum, bool) {
	m, n := a.Dims()
	l := min(k+oversample, m, n)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	omega := mat.NewDense(n, l, nil)
	for i := range n {
		for j := range l {
			omega.Set(i, j, rng.NormFloat64())
		}
	}
	var y mat.Dense
	y.Mul(a, omega)
	q := orthonormal(&y)
	for range powerIters {
		var z mat.Dense
		z.Mul(a.T(), q)
		zq := orthonormal(&z)
		var y2 mat.Dense
		y2.Mul(a, zq)
		q = orthonormal(&y2)
	}
	var b mat.Dense
	b.Mul(q.T(), a) // l×n
	var svd mat.SVD
	if !svd.Factorize(&b, mat.SVDThin) {
		return nil, false
	}
	var ub, v mat.Dense
	svd.UTo(&ub)
	svd.VTo(&v)
	var u mat.Dense
	u.Mul(q, &ub)
	vals := svd.Values(nil)
	k = min(k, len(vals))
	s := &spectrum{
		U:          mat.DenseCopyOf(u.Slice(0, m, 0, k)),
		V:          mat.DenseCopyOf(v.Slice(0, n, 0, k)),
		S:          vals[:k],
		Total:      frob2(a),
		Randomized: true,
	}
	return s, true
}

// orthonormal returns an orthonormal basis of a's columns: the thin Q
// (m×min(m,n)) of its QR factorisation. (mat.QR.QTo forms the full m×m Q,
// which for a 4608×64 matrix costs more than the whole randomized SVD.)
func orthonormal(a *mat.Dense) *mat.Dense {
	m, n := a.Dims()
	k := min(m, n)
	g := mat.DenseCopyOf(a).RawMatrix()
	tau := make([]float64, k)
	work := make([]float64, 1)
	lapack64.Geqrf(g, tau, work, -1)
	work = make([]float64, int(work[0]))
	lapack64.Geqrf(g, tau, work, len(work))
	q := mat.DenseCopyOf(mat.NewDense(m, n, g.Data).Slice(0, m, 0, k)).RawMatrix()
	work = make([]float64, 1)
	lapack64.Orgqr(q, tau, work, -1)
	work = make([]float64, int(work[0]))
	lapack64.Orgqr(q, tau, work, len(work))
	return mat.NewDense(m, k, q.Data)
}

// randomizedMinDim and randomizedMaxFraction decide when the randomized SVD
// replaces the exact one for the factors (BenchmarkSVD measures both): the
// smaller side of the matrix is at least randomizedMinDim, and the rank
// with its oversampling is at most randomizedMaxFraction of it. Measured
// (2 cores, shared): 512×4608 exact 5.8 s, randomized rank 128 2.4 s, rank
// 32 0.35 s; 256×2304 exact 0.39 s, rank 64 0.11 s, rank 128 0.45 s;
// 1024×1024 exact 21.6 s, rank 256 2.6 s; 128×1152 exact 44 ms, rank 32
// 29 ms, rank 64 64 ms.
const (
	randomizedMinDim      = 128
	randomizedMaxFraction = 0.35
)

// useRandomized reports whether a rank-k SVD of an m×n matrix should be
// randomized.
func useRandomized(m, n, k int) bool {
	d := min(m, n)
	return d >= randomizedMinDim && float64(k+oversample) <= randomizedMaxFraction*float64(d)
}

// svdMode selects the SVD algorithm for the factors: auto (by
// useRandomized), exact, randomized.
type svdMode string

// singularValues is the spectrum without vectors: all singular values
// (LAPACK's Dgesvd without U and V, 7-20× cheaper than with them on the
// sizes above), enough to choose ranks.
func singularValues(a *mat.Dense) (*spectrum, bool) {
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDNone) {
		return nil, false
	}
	return &spectrum{S: svd.Values(nil), Total: frob2(a)}, true
}

// truncated returns the rank-r factors of a: by the randomized SVD when
// mode is randomized, or auto and useRandomized says so; else exact.
func truncated(a *mat.Dense, r int, mode svdMode) (*spectrum, bool) {
	m, n := a.Dims()
	if mode == "randomized" || (mode == "auto" && useRandomized(m, n, r)) {
		return svdRandomized(a, r, uint64(m)<<32|uint64(n))
	}
	return svdExact(a)
}

// factors returns U_r·diag(√S_r) (m×r) and diag(√S_r)·V_rᵀ (r×n): the two
// factors of the rank-r truncation, balanced so neither holds the scale.
func (s *spectrum) factors(r int) (left, right *mat.Dense) {
	m, _ := s.U.Dims()
	n, _ := s.V.Dims()
	left = mat.NewDense(m, r, nil)
	right = mat.NewDense(r, n, nil)
	for j := range r {
		f := math.Sqrt(s.S[j])
		for i := range m {
			left.Set(i, j, s.U.At(i, j)*f)
		}
		for i := range n {
			right.Set(j, i, s.V.At(i, j)*f)
		}
	}
	return left, right
}
