package grad

import "fmt"

// Linear ops: MatMul (numpy semantics: batched, broadcast batch dims, 1-D
// operands) and Gemm.

func init() {
	register(gradMatMul, "MatMul")
	register(gradGemm, "Gemm")
}

// broadcastShape is the numpy broadcast of two shapes.
func broadcastShape(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

func gradMatMul(c *call) ([][]float64, error) {
	a, err := c.f(0)
	if err != nil {
		return nil, err
	}
	b, err := c.f(1)
	if err != nil {
		return nil, err
	}
	as, bs := c.in[0].Shape, c.in[1].Shape
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("MatMul of a scalar")
	}
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	M, K, N := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	if bs[len(bs)-2] != K {
		return nil, fmt.Errorf("MatMul shapes %v and %v", c.in[0].Shape, c.in[1].Shape)
	}
	ab, bb := as[:len(as)-2], bs[:len(bs)-2]
	bat, err := broadcastShape(ab, bb)
	if err != nil {
		return nil, err
	}
	ia, err := bcastIndex(bat, ab)
	if err != nil {
		return nil, err
	}
	ib, err := bcastIndex(bat, bb)
	if err != nil {
		return nil, err
	}
	var da, db []float64
	if c.wants(0) {
		da = make([]float64, len(a))
	}
	if c.wants(1) {
		db = make([]float64, len(b))
	}
	dy := c.dy[0]
	for t := range ia {
		A, B := a[ia[t]*M*K:], b[ib[t]*K*N:]
		G := dy[t*M*N : (t+1)*M*N]
		if da != nil {
			dA := da[ia[t]*M*K:]
			for m := 0; m < M; m++ {
				g := G[m*N : (m+1)*N]
				for k := 0; k < K; k++ {
					row := B[k*N : (k+1)*N]
					var s float64
					for n, gv := range g {
						s += gv * float64(row[n])
					}
					dA[m*K+k] += s
				}
			}
		}
		if db != nil {
			dB := db[ib[t]*K*N:]
			for m := 0; m < M; m++ {
				g := G[m*N : (m+1)*N]
				for k := 0; k < K; k++ {
					av := float64(A[m*K+k])
					if av == 0 {
						continue
					}
					row := dB[k*N : (k+1)*N]
					for n, gv := range g {
						row[n] += av * gv
					}
				}
			}
		}
	}
	return [][]float64{da, db}, nil
}

func gradGemm(c *call) ([][]float64, error) {
	a, err := c.f(0)
	if err != nil {
		return nil, err
	}
	b, err := c.f(1)
	if err != nil {
		return nil, err
	}
	if c.in[0].Rank() != 2 || c.in[1].Rank() != 2 {
		return nil, fmt.Errorf("Gemm needs 2-D A and B, got %v and %v", c.in[0].Shape, c.in[1].Shape)
	}
	ta, tb := c.n.AttrInt("transA", 0) != 0, c.n.AttrInt("transB", 0) != 0
	alpha, beta := float64(c.n.AttrFloat("alpha", 1)), float64(c.n.AttrFloat("beta", 1))
	M, K := c.in[0].Shape[0], c.in[0].Shape[1]
	if ta {
		M, K = K, M
	}
	N := c.in[1].Shape[1]
	if tb {
		N = c.in[1].Shape[0]
	}
	aAt := func(m, k int) int {
		if ta {
			return k*M + m
		}
		return m*K + k
	}
	bAt := func(k, n int) int {
		if tb {
			return n*K + k
		}
		return k*N + n
	}
	G := c.dy[0]
	res := make([][]float64, len(c.in))
	if c.wants(0) {
		da := make([]float64, len(a))
		for m := 0; m < M; m++ {
			for k := 0; k < K; k++ {
				var s float64
				for n := 0; n < N; n++ {
					s += G[m*N+n] * float64(b[bAt(k, n)])
				}
				da[aAt(m, k)] = alpha * s
			}
		}
		res[0] = da
	}
	if c.wants(1) {
		db := make([]float64, len(b))
		for k := 0; k < K; k++ {
			for n := 0; n < N; n++ {
				var s float64
				for m := 0; m < M; m++ {
					s += float64(a[aAt(m, k)]) * G[m*N+n]
				}
				db[bAt(k, n)] = alpha * s
			}
		}
		res[1] = db
	}
	if c.wants(2) {
		dc, err := reduceTo(G, []int{M, N}, c.in[2].Shape)
		if err != nil {
			return nil, err
		}
		for i := range dc {
			dc[i] *= beta
		}
		res[2] = dc
	}
	return res, nil
}
