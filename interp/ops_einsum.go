package interp

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/onnxslim/onnxslim/onnx"
)

// einsumSpec is a parsed equation: for every operand and the output, the
// label of each dimension. Letters are labels 0..51; the dimensions an
// ellipsis covers get labels 64+i, counted from the right.
type einsumSpec struct {
	ins [][]int
	out []int
}

func einsumLabel(c rune) (int, bool) {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c - 'a'), true
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 26, true
	}
	return 0, false
}

const ellipsisBase = 64

// parseTerm turns one term into labels; rank is the operand's rank (-1 for
// the output, where ell is the ellipsis rank shared by the inputs).
func parseTerm(term string, rank, ell int) ([]int, int, error) {
	term = strings.TrimSpace(term)
	hasEll := strings.Contains(term, "...")
	letters := strings.Replace(term, "...", "", 1)
	if strings.Contains(letters, ".") {
		return nil, 0, fmt.Errorf("bad ellipsis in %q", term)
	}
	nl := 0
	for _, c := range letters {
		if c == ' ' {
			continue
		}
		if _, ok := einsumLabel(c); !ok {
			return nil, 0, fmt.Errorf("bad label %q in einsum term %q", c, term)
		}
		nl++
	}
	e := 0
	if hasEll {
		if rank >= 0 {
			e = rank - nl
		} else {
			e = ell
		}
		if e < 0 {
			return nil, 0, fmt.Errorf("term %q has more labels than rank %d", term, rank)
		}
	} else if rank >= 0 && nl != rank {
		return nil, 0, fmt.Errorf("term %q has %d labels for rank %d", term, nl, rank)
	}
	var labels []int
	for i, c := range term {
		if c == ' ' || c == '.' {
			if c == '.' && strings.HasPrefix(term[i:], "...") {
				for j := e - 1; j >= 0; j-- {
					labels = append(labels, ellipsisBase+j)
				}
			}
			continue
		}
		l, _ := einsumLabel(c)
		labels = append(labels, l)
	}
	return labels, e, nil
}

func parseEinsum(eq string, shapes [][]int) (*einsumSpec, error) {
	eq = strings.ReplaceAll(eq, " ", "")
	lhs, rhs, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if len(terms) != len(shapes) {
		return nil, fmt.Errorf("equation %q has %d operands, got %d inputs", eq, len(terms), len(shapes))
	}
	s := &einsumSpec{}
	ell := 0
	count := map[int]int{}
	for i, t := range terms {
		l, e, err := parseTerm(t, len(shapes[i]), 0)
		if err != nil {
			return nil, err
		}
		ell = max(ell, e)
		s.ins = append(s.ins, l)
		for _, x := range l {
			count[x]++
		}
	}
	if explicit {
		l, _, err := parseTerm(rhs, -1, ell)
		if err != nil {
			return nil, err
		}
		s.out = l
		for _, x := range l {
			if count[x] == 0 {
				return nil, fmt.Errorf("output label of %q is not in any input", eq)
			}
		}
	} else {
		// Implicit output: ellipsis dims, then labels seen once, alphabetically.
		for j := ell - 1; j >= 0; j-- {
			s.out = append(s.out, ellipsisBase+j)
		}
		var once []int
		for x, n := range count {
			if n == 1 && x < ellipsisBase {
				once = append(once, x)
			}
		}
		sort.Ints(once)
		s.out = append(s.out, once...)
	}
	return s, nil
}

func einsum(ctx *Ctx, eq string, in []*Tensor) (*Tensor, error) {
	shapes := make([][]int, len(in))
	vals := make([][]float64, len(in))
	for i, t := range in {
		shapes[i] = t.Shape
		v, err := asFloat64s(t)
		if err != nil {
			return nil, err
		}
		vals[i] = v
		if t.DType != in[0].DType {
			return nil, fmt.Errorf("input types %s and %s differ", in[0].DType, t.DType)
		}
	}
	s, err := parseEinsum(eq, shapes)
	if err != nil {
		return nil, err
	}
	// Size of every label; ellipsis dims broadcast (size 1 stretches).
	size := map[int]int{}
	for i, l := range s.ins {
		for d, x := range l {
			n := shapes[i][d]
			old, ok := size[x]
			switch {
			case !ok || old == 1:
				size[x] = n
			case n != old && n != 1:
				return nil, fmt.Errorf("einsum label dimension mismatch: %d vs %d", old, n)
			}
		}
	}
	if t, ok := einsumGemm(ctx, s, in, size); ok {
		return t, nil
	}
	labels := append([]int{}, s.out...)
	inOut := map[int]bool{}
	for _, x := range s.out {
		inOut[x] = true
	}
	for x := range size {
		if !inOut[x] {
			labels = append(labels, x)
		}
	}
	sort.Ints(labels[len(s.out):])
	pos := map[int]int{}
	dims := make([]int, len(labels))
	for i, x := range labels {
		pos[x] = i
		dims[i] = size[x]
	}
	// Strides of each operand per label position (0 where broadcast).
	strides := make([][]int, len(in))
	for i, l := range s.ins {
		st := make([]int, len(labels))
		acc := 1
		for d := len(l) - 1; d >= 0; d-- {
			if shapes[i][d] != 1 {
				st[pos[l[d]]] += acc
			}
			acc *= shapes[i][d]
		}
		strides[i] = st
	}
	outShape := dims[:len(s.out)]
	outLen := prod(outShape)
	sumLen := prod(dims[len(s.out):])
	res := make([]float64, outLen)
	ctx.New(in[0].DType, outShape...) // memory-limit check
	idx := make([]int, len(labels))
	offs := make([]int, len(in))
	total := outLen * sumLen
	for it := 0; it < total; it++ {
		p := 1.0
		for i := range in {
			p *= vals[i][offs[i]]
		}
		res[it/max(sumLen, 1)] += p
		for d := len(labels) - 1; d >= 0; d-- {
			idx[d]++
			for i := range in {
				offs[i] += strides[i][d]
			}
			if idx[d] < dims[d] {
				break
			}
			for i := range in {
				offs[i] -= strides[i][d] * dims[d]
			}
			idx[d] = 0
		}
	}
	return fromFloat64s(ctx, in[0].DType, append([]int{}, outShape...), res)
}

// einsumGemm computes a two-operand float32 einsum whose labels each are
// batch (both inputs and the output), rows (first input and output),
// columns (second input and output) or summed (both inputs only) as
// batched GEMMs on transposed copies: attention's "bhqd,bhkd->bhqk" was a
// float64 loop over every product, 200× ONNX Runtime's time. It reports
// false for the others (repeated or broadcast labels, labels summed within
// one operand, other types), which take the general loop.
func einsumGemm(ctx *Ctx, s *einsumSpec, in []*Tensor, size map[int]int) (*Tensor, bool) {
	if len(in) != 2 || in[0].DType != onnx.Float || in[1].DType != onnx.Float {
		return nil, false
	}
	a, b := s.ins[0], s.ins[1]
	where := func(l []int) map[int]int {
		m := map[int]int{}
		for d, x := range l {
			m[x] = d
		}
		return m
	}
	pa, pb, po := where(a), where(b), where(s.out)
	if len(pa) != len(a) || len(pb) != len(b) || len(po) != len(s.out) {
		return nil, false // a repeated label: a diagonal
	}
	for i, l := range s.ins {
		for d, x := range l {
			if in[i].Shape[d] != size[x] {
				return nil, false // broadcast
			}
		}
	}
	var batch, rows, cols, sum []int
	for _, x := range s.out {
		_, inA := pa[x]
		_, inB := pb[x]
		switch {
		case inA && inB:
			batch = append(batch, x)
		case inA:
			rows = append(rows, x)
		default:
			cols = append(cols, x)
		}
	}
	for _, x := range a {
		if _, out := po[x]; out {
			continue
		}
		if _, inB := pb[x]; !inB {
			return nil, false // summed within the first operand alone
		}
		sum = append(sum, x)
	}
	for _, x := range b {
		_, out := po[x]
		_, inA := pa[x]
		if !out && !inA {
			return nil, false
		}
	}
	n := func(ls []int) int {
		p := 1
		for _, x := range ls {
			p *= size[x]
		}
		return p
	}
	nb, m, nn, k := n(batch), n(rows), n(cols), n(sum)
	// arrange returns t's data with its labels in the given order.
	arrange := func(t *Tensor, pos map[int]int, order ...[]int) []float32 {
		var perm []int
		for _, ls := range order {
			for _, x := range ls {
				perm = append(perm, pos[x])
			}
		}
		identity := true
		for i, p := range perm {
			identity = identity && i == p
		}
		if identity {
			return t.Floats()
		}
		return transposeAs(ctx, t, t.Shape, perm).Floats()
	}
	x := arrange(in[0], pa, batch, rows, sum)
	y := arrange(in[1], pb, batch, sum, cols)
	c := ctx.newRaw(onnx.Float, nb, m, nn)
	z := c.Floats()
	for i := 0; i < nb; i++ {
		sgemm(ctx.Threads(), false, false, m, nn, k, 1, x[i*m*k:], k, y[i*k*nn:], nn, 0, z[i*m*nn:], nn)
	}
	// The result's labels are batch, rows, cols: the output's order.
	var cShape, perm []int
	pc := map[int]int{}
	for _, l := range slices.Concat(batch, rows, cols) {
		pc[l] = len(cShape)
		cShape = append(cShape, size[l])
	}
	identity := true
	for i, l := range s.out {
		perm = append(perm, pc[l])
		identity = identity && pc[l] == i
	}
	if identity {
		return newTensor(onnx.Float, cShape, z), true
	}
	return transposeAs(ctx, c, cShape, perm), true
}

func init() {
	Register("", "Einsum", 12, func(b *Build) (Kernel, error) {
		eq := b.String("equation", "")
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			out, err := einsum(ctx, eq, in)
			return []*Tensor{out}, err
		}, nil
	})
}
