package lowrank

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// whitener is the Cholesky factor of a layer's input covariance with a
// ridge: C + λ·mean(diag C)·I = L·Lᵀ. ‖E·L‖_F² is then the squared error
// that a weight error E makes on the layer's output over the calibration
// data (plus the ridge's share), so the SVD of W·L truncated at rank r is
// the rank-r weight that minimises it (SVD-LLM; ASVD scales by a diagonal
// instead).
type whitener struct {
	cov *mat.SymDense // the covariance without the ridge, for reporting
	u   *mat.TriDense // Lᵀ (upper)
}

func newWhitener(cov *mat.SymDense, ridge float64) (*whitener, error) {
	n := cov.SymmetricDim()
	var tr float64
	for i := range n {
		tr += cov.At(i, i)
	}
	lambda := ridge * tr / float64(n)
	if lambda <= 0 {
		lambda = 1e-12 // an all-zero input: any factor does
	}
	reg := mat.NewSymDense(n, nil)
	reg.CopySym(cov)
	for i := range n {
		reg.SetSym(i, i, reg.At(i, i)+lambda)
	}
	var ch mat.Cholesky
	if !ch.Factorize(reg) {
		return nil, fmt.Errorf("the input covariance (%d×%d) with ridge %g is not positive definite", n, n, ridge)
	}
	u := mat.NewTriDense(n, mat.Upper, nil)
	ch.UTo(u)
	return &whitener{cov: cov, u: u}, nil
}

// apply returns W·L.
func (w *whitener) apply(a *mat.Dense) *mat.Dense {
	var out mat.Dense
	out.Mul(a, w.u.T())
	return &out
}

// unwhiten turns the right factor B̃ (r×cols, of W·L ≈ A·B̃) into B = B̃·L⁻¹.
func (w *whitener) unwhiten(bt *mat.Dense) (*mat.Dense, error) {
	// B = B̃·L⁻¹  ⇔  Bᵀ = L⁻ᵀ·B̃ᵀ = U⁻¹·B̃ᵀ: solve U·Bᵀ = B̃ᵀ.
	var x mat.Dense
	if err := x.Solve(w.u, bt.T()); err != nil {
		return nil, fmt.Errorf("un-whitening: %w", err)
	}
	return mat.DenseCopyOf(x.T()), nil
}

// relErr is the relative output error of approximating w by approx on the
// calibration inputs: √(tr(E·C·Eᵀ) / tr(W·C·Wᵀ)) with E = W − approx;
// approx is overwritten with E.
func (w *whitener) relErr(weight, approx *mat.Dense) float64 {
	approx.Sub(weight, approx)
	num, den := quad(approx, w.cov), quad(weight, w.cov)
	if den == 0 {
		if num == 0 {
			return 0
		}
		return 1
	}
	return sqrt(num / den)
}

// quad is tr(A·C·Aᵀ).
func quad(a *mat.Dense, c *mat.SymDense) float64 {
	var ac mat.Dense
	ac.Mul(a, c)
	r, k := a.Dims()
	var s float64
	for i := range r {
		for j := range k {
			s += ac.At(i, j) * a.At(i, j)
		}
	}
	return s
}
