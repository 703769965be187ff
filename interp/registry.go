package interp

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/onnxslim/onnxslim/onnx"
)

// Kernel computes one node's outputs. It must not modify its inputs and must
// be safe to call from several goroutines at once (state lives in ctx).
// Absent optional inputs are nil; it returns at least as many outputs as the
// node has, and may return nil for outputs the node does not ask for.
type Kernel func(ctx *Ctx, in []*Tensor) ([]*Tensor, error)

// Builder prepares the kernel of one node: it reads and checks attributes once
// per session so that Run does not.
type Builder func(b *Build) (Kernel, error)

type registration struct {
	since   int64
	builder Builder
}

var (
	registryMu sync.RWMutex
	registry   = map[string][]registration{} // key: domain + "::" + op, sorted by since
)

func regKey(domain, op string) string {
	if domain == "ai.onnx" {
		domain = ""
	}
	return domain + "::" + op
}

// Register adds a kernel builder for op in domain ("" is ai.onnx), valid from
// opset version since until the next registration of the same op.
func Register(domain, op string, since int64, b Builder) {
	registryMu.Lock()
	defer registryMu.Unlock()
	k := regKey(domain, op)
	regs := append(registry[k], registration{since, b})
	sort.Slice(regs, func(i, j int) bool { return regs[i].since < regs[j].since })
	registry[k] = regs
}

// Lookup returns the builder for op at the given opset version: the
// registration with the highest since-version not above it.
func Lookup(domain, op string, opset int64) (Builder, int64, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	regs := registry[regKey(domain, op)]
	for i := len(regs) - 1; i >= 0; i-- {
		if regs[i].since <= opset {
			return regs[i].builder, regs[i].since, true
		}
	}
	return nil, 0, false
}

// Registered lists every registered op as "domain::op" with its since-versions.
func Registered() map[string][]int64 {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := map[string][]int64{}
	for k, regs := range registry {
		for _, r := range regs {
			out[k] = append(out[k], r.since)
		}
	}
	return out
}

// Build is what a Builder sees: the node, the opset it is used at, and helpers
// for attributes and subgraphs.
type Build struct {
	Node  *onnx.Node
	Opset int64 // the model's import of the node's domain
	c     *compiler
}

// NumInputs is the number of inputs the node lists (including omitted ones).
func (b *Build) NumInputs() int { return len(b.Node.Inputs()) }

// NumOutputs is the number of outputs the node lists (including omitted ones).
func (b *Build) NumOutputs() int { return len(b.Node.Outputs()) }

// HasOutput reports whether the node asks for output i.
func (b *Build) HasOutput(i int) bool { return b.Node.Output(i) != nil }

// HasInput reports whether the node supplies input i.
func (b *Build) HasInput(i int) bool { return b.Node.Input(i) != nil }

// ConstInput returns input i when it is an initializer (for kernels that can
// precompute from constant weights), else nil.
func (b *Build) ConstInput(i int) *Tensor {
	v := b.Node.Input(i)
	if v == nil || v.Const == nil || b.c != nil && b.c.perRun[v] {
		return nil
	}
	t, err := FromONNX(v.Const)
	if err != nil {
		return nil
	}
	return t
}

// Prepack reports whether constant weights may be held in a packed copy
// (see Options.NoPrepack).
func (b *Build) Prepack() bool { return b.c == nil || b.c.opts == nil || !b.c.opts.NoPrepack }

// Int returns an INT attribute or def.
func (b *Build) Int(name string, def int64) int64 { return b.Node.AttrInt(name, def) }

// Float returns a FLOAT attribute or def.
func (b *Build) Float(name string, def float32) float32 { return b.Node.AttrFloat(name, def) }

// String returns a STRING attribute or def.
func (b *Build) String(name, def string) string { return b.Node.AttrString(name, def) }

// Ints returns an INTS attribute or def.
func (b *Build) Ints(name string, def []int64) []int64 { return b.Node.AttrInts(name, def) }

// Floats returns a FLOATS attribute or def.
func (b *Build) Floats(name string, def []float32) []float32 { return b.Node.AttrFloats(name, def) }

// Has reports whether the node has the attribute.
func (b *Build) Has(name string) bool { return b.Node.Attr(name) != nil }

// Tensor returns a TENSOR attribute converted for the interpreter, or nil.
func (b *Build) Tensor(name string) (*Tensor, error) {
	a := b.Node.Attr(name)
	if a == nil || a.Tensor == nil {
		return nil, nil
	}
	return FromONNX(a.Tensor)
}

// Subgraph compiles the GRAPH attribute name for execution with Ctx.RunGraph.
func (b *Build) Subgraph(name string) (*Graph, error) {
	a := b.Node.Attr(name)
	if a == nil || a.Graph == nil {
		return nil, fmt.Errorf("missing graph attribute %q", name)
	}
	p, err := b.c.compile(a.Graph)
	if err != nil {
		return nil, err
	}
	return &Graph{plan: p}, nil
}

// Graph is a compiled subgraph, run by a kernel through Ctx.RunGraph.
type Graph struct{ plan *plan }

// NumInputs is the number of formal inputs of the subgraph.
func (g *Graph) NumInputs() int { return len(g.plan.inputs) }

// NumOutputs is the number of outputs of the subgraph.
func (g *Graph) NumOutputs() int { return len(g.plan.outputs) }

// Errorf formats an error; kernels return it and the session adds the node's place.
func Errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// NewestOpset is the newest version any kernel of domain is registered at:
// a model importing a later opset runs each op as its newest version known
// here.
func NewestOpset(domain string) int64 {
	prefix := regKey(domain, "")
	registryMu.RLock()
	defer registryMu.RUnlock()
	var v int64
	for k, regs := range registry {
		if strings.HasPrefix(k, prefix) {
			for _, r := range regs {
				v = max(v, r.since)
			}
		}
	}
	return v
}
