package prune

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// maxGramCols bounds a layer's reduction length K for which the pass keeps
// a (K+1)² Gram matrix per group and held-out part (2·2305²·8 B ≈ 85 MB); longer layers are
// pruned without refit or output-error figures, and the report says so.
const maxGramCols = 2304

// maxRefitWork bounds the Cholesky work of one layer's refit (Σ |S|³/3 over
// the distinct kept sets S), ~20 s of one core.
const maxRefitWork = 2e10

// fit is the outcome of refitting one group of rows.
type fit struct {
	errBefore, errAfter, norm float64 // Σ squared output errors and Σ ||y||², over the group's rows
	checkBefore, checkAfter   float64 // the same on the held-out batches, when the ridge was chosen there
	checkNorm                 float64
	ridge                     float64 // the λ (relative) used
	refit                     bool
	note                      string // why nothing was refit
}

// refitRows refits the rows of one Gram group: row o targets g's float
// row o (its weights and bias, θ₀). start holds the pruned layer's rows as
// they are (np values: θ₀ for unstructured pruning, the kept channels'
// weights after channel pruning); kept lists each row's kept columns in
// start (sorted, bias excluded). With solve false only the errors of the
// masked rows are measured. It returns the new rows (pruned columns 0, the
// bias solved when solveBias) and the errors.
//
// The ridge is chosen on held-out calibration batches (check, when it has
// rows): the rows are solved on g alone with λ = ridge·{1, 10, 100, 1000}
// and the λ with the least error on check wins, if any beats the pruned
// rows there; otherwise nothing is refit (a refit that fits the
// calibration set but not new data is worse than none). check is then added
// into g and the rows solved on all the data with the chosen λ.
func refitRows(g, check *gram, start [][]float64, kept [][]int, solve, solveBias bool, ridge float64) ([][]float64, fit, error) {
	k := g.np - 1
	masked := make([][]float64, len(start))
	all := make([]int, len(start))
	for o := range start {
		all[o] = o
		masked[o] = make([]float64, g.np)
		for _, c := range kept[o] {
			masked[o][c] = start[o][c]
		}
		masked[o][k] = start[o][k]
	}
	var res fit
	if solve && check != nil && check.rows > 0 {
		// Rows with their own kept columns each need a factorization: the
		// ridge is chosen on at most cvRows of them, evenly spread.
		sub := make([]int, 0, len(start))
		step := 1
		if !sameColumns(kept) && len(start) > cvRows {
			step = len(start) / cvRows
		}
		for o := 0; o < len(start); o += step {
			sub = append(sub, o)
		}
		pick := func(x [][]float64) [][]float64 {
			out := make([][]float64, len(sub))
			for i, o := range sub {
				out[i] = x[o]
			}
			return out
		}
		keptS := make([][]int, len(sub))
		for i, o := range sub {
			keptS[i] = kept[o]
		}
		startS, maskedS := pick(start), pick(masked)
		best := 0.0
		var bestErr float64
		for i, e := range rowErrors(check, maskedS, sub) {
			bestErr += e
			res.checkNorm += check.f[sub[i]]
		}
		res.checkBefore = bestErr
		for _, mult := range []float64{1, 10, 100, 1000} {
			rows, err := solveRows(g, sub, startS, keptS, solveBias, ridge*mult)
			if illConditioned(err) {
				continue // a larger ridge may do
			}
			if err != nil {
				return nil, res, err
			}
			var e float64
			for _, ei := range rowErrors(check, rows, sub) {
				e += ei
			}
			if e < bestErr {
				best, bestErr = mult, e
			}
		}
		res.checkAfter = bestErr
		if best == 0 {
			solve = false
			res.note = "kept the pruned weights: no ridge lowered the error on held-out calibration batches"
		}
		ridge *= best
	}
	if check != nil {
		g.merge(check)
	}
	res.ridge = ridge
	for o, e := range rowErrors(g, masked, all) {
		res.norm += g.f[o]
		res.errBefore += e
	}
	res.errAfter = res.errBefore
	if !solve {
		return masked, res, nil
	}
	out, err := solveRows(g, all, start, kept, solveBias, ridge)
	if illConditioned(err) {
		res.note = "kept the pruned weights: " + err.Error()
		return masked, res, nil
	}
	if err != nil {
		return nil, res, err
	}
	var after float64
	for _, e := range rowErrors(g, out, all) {
		after += e
	}
	// A refit that does not lower the error (ill-conditioned data) is not kept.
	if !(after < res.errBefore) {
		res.note = "kept the pruned weights: the refit did not lower the error"
		return masked, res, nil
	}
	res.errAfter, res.refit = after, true
	return out, res, nil
}

// illConditioned reports whether err is gonum's warning that a solve's
// matrix is near-singular (inputs of wildly different scales, or columns
// that are copies of others): its solution cannot be trusted, and the
// layer keeps its pruned weights rather than failing the pass.
func illConditioned(err error) bool {
	var c mat.Condition
	return errors.As(err, &c)
}

// cvRows is how many rows choose the ridge when rows have different kept
// columns (unstructured, 2:4).
const cvRows = 16

func sameColumns(kept [][]int) bool {
	for _, k := range kept[1:] {
		if !slices.Equal(k, kept[0]) {
			return false
		}
	}
	return true
}

// solveRows solves the ridge least squares of row o, which targets g's
// float row idx[o]: (H[S,S] + λI) θ_S = (c_idx[o])_S + λ·start_S.
// Rows are solved in contiguous runs, one a core: neighbouring rows with
// the same kept columns (channel pruning: all of them) share a
// factorization, and a row's solution does not depend on which run has it.
func solveRows(g *gram, idx []int, start [][]float64, kept [][]int, solveBias bool, ridge float64) ([][]float64, error) {
	out := make([][]float64, len(idx))
	runs := min(len(idx), runtime.GOMAXPROCS(0))
	if sameColumns(kept) {
		runs = 1 // one factorization serves every row
	}
	errs := make([]error, max(runs, 1))
	var wg sync.WaitGroup
	for t := range runs {
		wg.Go(func() {
			o0, o1 := t*len(idx)/runs, (t+1)*len(idx)/runs
			errs[t] = solveRowRun(g, idx, start, kept, solveBias, ridge, out, o0, o1)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first run's, as a serial solve would meet it first
		}
	}
	return out, nil
}

// solveRowRun is solveRows on rows [o0, o1), into out.
func solveRowRun(g *gram, idx []int, start [][]float64, kept [][]int, solveBias bool, ridge float64, out [][]float64, o0, o1 int) error {
	k := g.np - 1
	var (
		chol     mat.Cholesky
		lastCols []int
		lambda   float64
	)
	for o := o0; o < o1; {
		// Rows o…e−1 keep the same columns: one factorization, and one
		// solve with their right-hand sides side by side (a blocked
		// triangular solve, much faster than one a row).
		e := o + 1
		for e < o1 && e-o < maxSolveRows && slices.Equal(kept[e], kept[o]) {
			e++
		}
		cols := append([]int(nil), kept[o]...)
		if solveBias {
			cols = append(cols, k)
		}
		for q := o; q < e; q++ {
			out[q] = make([]float64, g.np)
			out[q][k] = start[q][k]
		}
		if len(cols) == 0 {
			o = e
			continue
		}
		if !slices.Equal(cols, lastCols) {
			var err error
			if lambda, err = factorize(&chol, g, cols, solveBias, ridge); err != nil {
				return err
			}
			lastCols = cols
		}
		b := mat.NewDense(len(cols), e-o, nil)
		for q := o; q < e; q++ {
			ct := g.cRow(idx[q])
			for i, c := range cols {
				// The ridge pulls toward the float weights, not toward 0:
				// with fewer calibration rows than columns (a Gemm sees one
				// row per sample) the refit stays near the original instead
				// of fitting the calibration set alone.
				v := ct[c]
				if c < k {
					v += lambda * start[q][c]
				}
				if !solveBias { // the bias stays as it is: move its term to the right
					v -= g.H(c, k) * start[q][k]
				}
				b.Set(i, q-o, v)
			}
		}
		var x mat.Dense
		if err := chol.SolveTo(&x, b); err != nil {
			return fmt.Errorf("least squares: %w", err)
		}
		for q := o; q < e; q++ {
			for i, c := range cols {
				out[q][c] = x.At(i, q-o)
			}
		}
		o = e
	}
	return nil
}

// maxSolveRows bounds the right-hand sides solved together (their memory:
// columns × rows float64s, twice).
const maxSolveRows = 512

// factorize builds H[S,S] + λI and returns λ (relative to the mean of the weight
// columns' diagonal; none on the bias) and its Cholesky factor, raising λ
// tenfold while the matrix is not positive definite.
func factorize(chol *mat.Cholesky, g *gram, cols []int, solveBias bool, ridge float64) (float64, error) {
	n := len(cols)
	nw := n
	if solveBias {
		nw--
	}
	var trace float64
	for _, c := range cols[:nw] {
		trace += g.H(c, c)
	}
	lambda := ridge * trace / math.Max(1, float64(nw))
	if lambda <= 0 {
		lambda = 1e-8
	}
	for try := 0; try < 8; try++ {
		a := mat.NewSymDense(n, nil)
		for i, ci := range cols {
			for j := i; j < n; j++ {
				a.SetSym(i, j, g.H(ci, cols[j]))
			}
		}
		for i := 0; i < n; i++ {
			d := lambda
			if i >= nw {
				d = lambda * 1e-6 // the bias column: barely damped
			}
			a.SetSym(i, i, a.At(i, i)+d)
		}
		if chol.Factorize(a) {
			return lambda, nil
		}
		lambda *= 10
	}
	return 0, fmt.Errorf("least squares: calibration inputs too degenerate to refit %d columns", n)
}

// rowErrors is, for each row θ = rows[i] targeting g's float row r =
// idx[i], ||Zp θ − Zf θ₀ᵣ||² = θᵀHθ − 2θᵀcᵣ + fᵣ (≥ 0; rounding can make
// it slightly negative). The quadratic forms of all rows are one product
// Θ·H (gonum's Gemm, on every core) rather than a Symv a row.
func rowErrors(g *gram, rows [][]float64, idx []int) []float64 {
	n, np := len(rows), g.np
	out := make([]float64, n)
	if n == 0 {
		return out
	}
	h := blas64.General{Rows: np, Cols: np, Stride: np, Data: make([]float64, np*np)}
	for i := 0; i < np; i++ {
		for j := i; j < np; j++ {
			v := g.h.Data[i*np+j]
			h.Data[i*np+j], h.Data[j*np+i] = v, v
		}
	}
	// Rows a block at a time: a language model's head has tens of
	// thousands, and Θ and Θ·H would each be as large as the Gram's c.
	blk := min(n, errorBlockRows)
	th := blas64.General{Cols: np, Stride: np, Data: make([]float64, blk*np)}
	y := blas64.General{Cols: np, Stride: np, Data: make([]float64, blk*np)}
	for i0 := 0; i0 < n; i0 += blk {
		i1 := min(n, i0+blk)
		th.Rows, y.Rows = i1-i0, i1-i0
		for i := i0; i < i1; i++ {
			copy(th.Data[(i-i0)*np:(i-i0+1)*np], rows[i][:np])
		}
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, th, h, 0, y)
		for i := i0; i < i1; i++ {
			r := idx[i]
			t, yi := th.Data[(i-i0)*np:(i-i0+1)*np], y.Data[(i-i0)*np:(i-i0+1)*np]
			var quad, cross float64
			for j, v := range t {
				quad += v * yi[j]
				cross += v * g.c.Data[j*g.c.Stride+r]
			}
			out[i] = math.Max(0, quad-2*cross+g.f[r])
		}
	}
	return out
}

// errorBlockRows is how many rows rowErrors multiplies by H at a time.
const errorBlockRows = 1024

// relL2 is the relative L2 error of a layer's output from squared sums.
func relL2(errSq, norm float64) float64 {
	if norm <= 0 {
		return math.NaN()
	}
	return math.Sqrt(errSq / norm)
}

// refitTotals sums the fits of one layer's row groups (errors, the largest
// ridge, the last note) and writes the rows of those that were refit.
type refitTotals struct {
	fit
	refitted int
}

// add counts f and, when it was refit, stores its rows (weights, then the
// bias) from output row first on into newW and newB.
func (t *refitTotals) add(f fit, l *layer, rows [][]float64, first int, newW, newB []float32) {
	t.errBefore += f.errBefore
	t.errAfter += f.errAfter
	t.norm += f.norm
	t.checkBefore += f.checkBefore
	t.checkAfter += f.checkAfter
	t.checkNorm += f.checkNorm
	t.ridge = max(t.ridge, f.ridge)
	if f.note != "" {
		t.note = f.note
	}
	if !f.refit {
		return
	}
	t.refitted++
	for j, row := range rows {
		o := first + j
		for k := 0; k < l.cols; k++ {
			newW[l.index(o, k)] = float32(row[k])
		}
		newB[o] = float32(row[l.cols])
	}
}

// report puts the summed errors and the ridge into lr.
func (t *refitTotals) report(lr *LayerReport) {
	lr.ErrBefore, lr.ErrAfter = ptr(relL2(t.errBefore, t.norm)), ptr(relL2(t.errAfter, t.norm))
	lr.HeldOutBefore, lr.HeldOutAfter, lr.Ridge = ptr(relL2(t.checkBefore, t.checkNorm)), ptr(relL2(t.checkAfter, t.checkNorm)), t.ridge
}
