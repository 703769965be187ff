package prune

import (
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testutil"
)

// TestRowErrorsAcrossBlocks: rowErrors' figures, computed from the Gram
// sums a block of rows at a time, equal ||Zp θ − Zf θ₀ᵣ||² computed from
// the rows of z directly, for more rows than one block.
func TestRowErrorsAcrossBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const k, samples = 6, 40
	rowsN := errorBlockRows*2 + 37
	theta0 := make([][]float64, rowsN)
	for o := range theta0 {
		theta0[o] = make([]float64, k+1)
		for j := range theta0[o] {
			theta0[o][j] = r.NormFloat64()
		}
	}
	g := newGram(k, theta0)
	zp, zf := make([]float64, samples*(k+1)), make([]float64, samples*(k+1))
	for i := 0; i < samples; i++ {
		for j := 0; j < k; j++ {
			zf[i*(k+1)+j] = r.NormFloat64()
			zp[i*(k+1)+j] = zf[i*(k+1)+j] + 0.1*r.NormFloat64()
		}
		zp[i*(k+1)+k], zf[i*(k+1)+k] = 1, 1
	}
	g.add(zp, zf)
	rows := make([][]float64, rowsN)
	idx := make([]int, rowsN)
	for o := range rows {
		idx[o] = rowsN - 1 - o // any float row
		rows[o] = make([]float64, k+1)
		for j := range rows[o] {
			rows[o][j] = theta0[idx[o]][j] + 0.2*r.NormFloat64()
		}
	}
	got := rowErrors(g, rows, idx)
	for o := range rows {
		var want float64
		for i := 0; i < samples; i++ {
			var p, f float64
			for j := 0; j <= k; j++ {
				p += zp[i*(k+1)+j] * rows[o][j]
				f += zf[i*(k+1)+j] * theta0[idx[o]][j]
			}
			want += (p - f) * (p - f)
		}
		if !testutil.Close(got[o], want, 1e-9, 1e-7) {
			t.Fatalf("row %d: %g from the Gram sums, %g directly", o, got[o], want)
		}
	}
}
