package interp

import (
	"sync"
)

// constInput reports whether input i of a node is an initializer that a
// run cannot replace, so data derived from it (packed GEMM panels) can be
// kept in the kernel for all runs.
func constInput(b *Build, i int) bool {
	v := b.Node.Input(i)
	return v != nil && v.Const != nil && !v.IsGraphInput()
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
