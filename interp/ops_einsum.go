package interp

import (
	"fmt"
	"sort"
	"strings"
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

func init() {
	Register("", "Einsum", 12, func(b *Build) (Kernel, error) {
		eq := b.String("equation", "")
		return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
			out, err := einsum(ctx, eq, in)
			return []*Tensor{out}, err
		}, nil
	})
}
