package interp

import (
	"sync"
)

// constInput reports whether input i of a node is the same in every run
// (an initializer no feed replaces, or a value folded at compile time), so
// data derived from it (packed GEMM panels) can be kept in the kernel.
func constInput(b *Build, i int) bool {
	return b.c.isConst(b.Node.Input(i))
}

// prepacked holds one value derived from a constant input, built on first
// use. It is keyed by the input's data address and length as a safeguard:
// a different tensor rebuilds it.
type prepacked struct {
	mu    sync.Mutex
	key   uintptr
	n     int
	value any
}

// get returns the value for data t, calling build the first time.
func (p *prepacked) get(t *Tensor, build func() any) any {
	start, _ := span(t.Data)
	n := t.Len()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.value == nil || p.key != start || p.n != n {
		p.value, p.key, p.n = build(), start, n
	}
	return p.value
}
