package interp

import (
	"reflect"
	"sync"
	"weak"

	"github.com/onnxslim/onnxslim/onnx"
)

// Buffer recycling. Each Session keeps arenas of free tensor buffers; a run
// takes one, Ctx.New draws from it, and the executor returns a buffer when
// the last value that may alias it is freed. Values alias each other freely
// (Reshape and Identity share Data, a Slice may share a sub-range, a
// sequence holds tensors), so the arena counts references per backing array:
// every slot holding a value whose data lies inside an arena buffer holds a
// reference, and only buffers the arena handed out are ever recycled — never
// weights, graph inputs or a kernel's own allocations. Graph outputs keep
// their reference, so the caller owns them.

// poolKey identifies interchangeable buffers: same storage type, same length.
type poolKey struct {
	dt onnx.DataType
	n  int
}

// liveBuf is a buffer handed out during the current run.
type liveBuf struct {
	start, end uintptr // address range of the backing array
	key        poolKey
	data       any
	refs       int
}

// arena is owned by one run at a time, so it needs no locking.
type arena struct {
	free  map[poolKey][]any
	live  []*liveBuf
	spare []*liveBuf // records to reuse
}

// arenas is a Session's set of idle arenas: one per concurrent Run at most.
type arenas struct {
	mu   sync.Mutex
	idle []*arena
}

func (as *arenas) get() *arena {
	as.mu.Lock()
	defer as.mu.Unlock()
	if n := len(as.idle); n > 0 {
		a := as.idle[n-1]
		as.idle = as.idle[:n-1]
		return a
	}
	return &arena{free: map[poolKey][]any{}}
}

// put returns a after a run. Buffers still live (graph outputs, values a
// failed run left behind) now belong to the caller or the collector.
func (as *arenas) put(a *arena) {
	for _, l := range a.live {
		*l = liveBuf{}
		a.spare = append(a.spare, l)
	}
	a.live = a.live[:0]
	as.mu.Lock()
	as.idle = append(as.idle, a)
	as.mu.Unlock()
}

// recycle adds a buffer the caller gave back (Session.Recycle) to an idle
// arena's free list; with no arena idle it is left to the collector.
func (as *arenas) recycle(k poolKey, d any) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if n := len(as.idle); n > 0 {
		a := as.idle[n-1]
		a.free[k] = append(a.free[k], d)
	}
}

// handedOutputs remembers which outputs of recent runs are whole arena
// buffers that no other output shares, so that Session.Recycle takes back
// only those. It points at them weakly (an output the caller drops is
// collected as before) and forgets all but the last maxHandedRuns runs'.
type handedOutputs struct {
	mu   sync.Mutex
	keys map[weak.Pointer[Tensor]]handedBuf
	runs [][]weak.Pointer[Tensor]
}

// handedBuf is an output's buffer: its pool key and first address (a
// tensor whose Data the caller has since replaced is not taken back).
type handedBuf struct {
	key        poolKey
	start, end uintptr
}

const maxHandedRuns = 4

// note records a run's outputs out, allocated from arena a.
func (h *handedOutputs) note(a *arena, out []*Tensor) {
	var run []weak.Pointer[Tensor]
	var bufs []handedBuf
	for i, t := range out {
		if t == nil || t.Kind != KindTensor || !pooled(t.DType) {
			continue
		}
		start, end := span(t.Data)
		l := a.find(start)
		if end <= start || l == nil || l.start != start || l.end != end {
			continue
		}
		shared := false
		for j, u := range out {
			if j != i && u != nil && u.Kind == KindTensor {
				us, ue := span(u.Data)
				shared = shared || us < end && start < ue
			}
		}
		if !shared {
			run, bufs = append(run, weak.Make(t)), append(bufs, handedBuf{l.key, start, end})
		}
	}
	if len(run) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.keys == nil {
		h.keys = map[weak.Pointer[Tensor]]handedBuf{}
	}
	if len(h.runs) == maxHandedRuns {
		for _, w := range h.runs[0] {
			delete(h.keys, w)
		}
		h.runs = h.runs[1:]
	}
	for i, w := range run {
		h.keys[w] = bufs[i]
	}
	h.runs = append(h.runs, run)
}

// take forgets t and reports its buffer's key if note recorded it and t
// still holds that buffer whole.
func (h *handedOutputs) take(t *Tensor) (poolKey, bool) {
	if t == nil {
		return poolKey{}, false
	}
	w := weak.Make(t)
	h.mu.Lock()
	b, ok := h.keys[w]
	delete(h.keys, w)
	h.mu.Unlock()
	start, end := span(t.Data)
	if !ok || start != b.start || end != b.end {
		return poolKey{}, false
	}
	return b.key, true
}

// pooled reports whether buffers of dt may be recycled: strings hold
// pointers that a reused buffer would keep alive, and need no speed.
func pooled(dt onnx.DataType) bool { return dt != onnx.String }

// take returns a buffer of n elements of dt, zeroed if zero is set, and
// records it as live with no references yet.
func (a *arena) take(dt onnx.DataType, n int, zero bool) (any, error) {
	k := poolKey{dt, n}
	var d any
	if l := a.free[k]; len(l) > 0 {
		d = l[len(l)-1]
		l[len(l)-1] = nil
		a.free[k] = l[:len(l)-1]
		if zero {
			clearData(d)
		}
	} else {
		var err error
		if d, err = makeData(dt, n); err != nil {
			return nil, err
		}
	}
	start, end := span(d)
	if end > start {
		var l *liveBuf
		if m := len(a.spare); m > 0 {
			l, a.spare = a.spare[m-1], a.spare[:m-1]
		} else {
			l = new(liveBuf)
		}
		*l = liveBuf{start: start, end: end, key: k, data: d}
		a.live = append(a.live, l)
	}
	return d, nil
}

// find returns the live buffer holding address p, or nil.
func (a *arena) find(p uintptr) *liveBuf {
	for _, l := range a.live {
		if p >= l.start && p < l.end {
			return l
		}
	}
	return nil
}

// ref adds delta references to every arena buffer that value t may alias;
// at zero references a buffer returns to the free lists.
func (a *arena) ref(t *Tensor, delta int) {
	if t == nil || len(a.live) == 0 {
		return
	}
	if t.Kind != KindTensor {
		for _, e := range t.Elems {
			a.ref(e, delta)
		}
		return
	}
	start, end := span(t.Data)
	if end <= start {
		return
	}
	if l := a.find(start); l != nil {
		l.refs += delta
		if l.refs <= 0 {
			a.recycle(l)
		}
	}
}

// sweep recycles the buffers taken since mark that no value references:
// a kernel's temporaries, once the step that made them is over.
func (a *arena) sweep(mark int) {
	for i := mark; i < len(a.live); {
		if l := a.live[i]; l.refs <= 0 {
			a.recycle(l)
			continue // recycle moved another record to i
		}
		i++
	}
}

func (a *arena) recycle(l *liveBuf) {
	for i, x := range a.live {
		if x == l {
			last := len(a.live) - 1
			a.live[i] = a.live[last]
			a.live[last] = nil
			a.live = a.live[:last]
			break
		}
	}
	a.free[l.key] = append(a.free[l.key], l.data)
	*l = liveBuf{}
	a.spare = append(a.spare, l)
}

// span is the address range of a slice's backing array (up to its capacity).
func span(d any) (start, end uintptr) {
	v := reflect.ValueOf(d)
	if v.Kind() != reflect.Slice || v.Cap() == 0 {
		return 0, 0
	}
	start = v.Pointer()
	return start, start + uintptr(v.Cap())*v.Type().Elem().Size()
}

func clearData(d any) {
	switch s := d.(type) {
	case []float32:
		clear(s)
	case []float64:
		clear(s)
	case []uint16:
		clear(s)
	case []int64:
		clear(s)
	case []int32:
		clear(s)
	case []int16:
		clear(s)
	case []int8:
		clear(s)
	case []uint8:
		clear(s)
	case []uint32:
		clear(s)
	case []uint64:
		clear(s)
	case []bool:
		clear(s)
	case []complex64:
		clear(s)
	case []complex128:
		clear(s)
	case []string:
		clear(s)
	}
}
