// Package passes is onnxslim's pass manager. A Pass is a named rewrite of the
// IR with typed options; pipelines are parsed from specs such as
// "fold,cleanup,quantize(mode=int8,calib=entropy)". The manager runs them in
// order, checks the graph after each one, measures what changed and can stop
// a pipeline after N rewrites to bisect a bad one.
//
// Passes see only the IR (package onnx), never protobuf structs. Like
// golang.org/x/tools/go/analysis, a pass declares the analyses it requires
// (e.g. shape inference); results are computed on first use and cached for
// the pipeline run until a pass changes the graph (see Context.Invalidate).
package passes

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"sync"

	"github.com/onnxslim/onnxslim/onnx"
)

// Pass is one rewrite of the model.
type Pass struct {
	Name string
	Doc  string
	// Options the pass accepts, with defaults; Run sees them parsed.
	Options []Option
	// Requires lists analyses computed before Run (available via Context.Result
	// or Get); a failure is reported as the pass's, naming the analysis.
	Requires []*Analysis
	// Lossy passes change the numbers on purpose (quantize, prune, lowrank):
	// their verification is reported, not enforced, unless the user binds it.
	Lossy bool
	// Run edits m and returns how many rewrites it made (0: nothing changed).
	Run func(c *Context, m *onnx.Model) (int, error)
}

// Analysis computes a fact about the model that passes can use, such as
// inferred shapes. Its result is computed on first use in a pipeline run and
// cached until the graph changes: the manager drops every cached result
// after a pass that made rewrites, and a pass that edits the graph and then
// needs a fresh result (e.g. shapes mid-pass) calls Context.Invalidate.
// Run may use other analyses through c.
type Analysis struct {
	Name string
	// Doc names the result's type, for Get[T] callers.
	Doc string
	Run func(c *Context, m *onnx.Model) (any, error)
}

// Context is what a running pass sees: its options, required analyses, a
// rewrite budget (for bisection) and a place to log.
type Context struct {
	context.Context
	Pass    *Pass
	Options Values
	// Dims fixes symbolic dimensions (the CLI's --dim NAME=VALUE).
	Dims map[string]int64
	// Inputs is the user's data folder (the CLI's --inputs), or "".
	Inputs string
	// Fill sets inputs to a constant in calibration data, folders and
	// generated alike (the CLI's --fill NAME=VALUE).
	Fill map[string]float64
	// GenerateDims are the values the CLI chose for symbolic dims so that
	// the model runs on generated inputs: for random calibration data only,
	// never for shape inference (the model stays dynamic).
	GenerateDims map[string]int64
	// Log receives human-readable notes and warnings (never nil).
	Log io.Writer

	model   *onnx.Model
	results *analysisCache
	budget  *int // rewrites left, nil for unlimited
}

// Result returns the analysis's result on the model the pass is running on,
// computing it on first use; nil if the analysis failed (Get returns the
// error).
func (c *Context) Result(a *Analysis) any {
	v, _ := c.result(a)
	return v
}

// Get returns analysis a's result as a T: computed on first use, cached
// until invalidated.
func Get[T any](c *Context, a *Analysis) (T, error) {
	var zero T
	v, err := c.result(a)
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("analysis %s: result is a %T, not a %T", a.Name, v, zero)
	}
	return t, nil
}

// Invalidate drops cached analysis results (all of them, or only those
// given) so that the next Result or Get recomputes them on the graph as it
// is now. A pass calls it after editing the graph when it needs fresh
// results before it returns; the manager drops them all after a pass that
// made rewrites.
func (c *Context) Invalidate(as ...*Analysis) { c.cache().invalidate(as...) }

func (c *Context) result(a *Analysis) (any, error) {
	if c.model == nil {
		return nil, fmt.Errorf("analysis %s: the context has no model (not run by a pipeline)", a.Name)
	}
	return c.cache().get(c, a)
}

func (c *Context) cache() *analysisCache {
	if c.results == nil {
		c.results = newAnalysisCache()
	}
	return c.results
}

// analysisCache holds a pipeline run's analysis results. Each entry is
// computed once by the first caller; others wait for it.
type analysisCache struct {
	mu      sync.Mutex
	model   *onnx.Model
	entries map[*Analysis]*analysisEntry
}

type analysisEntry struct {
	once sync.Once
	v    any
	err  error
}

func newAnalysisCache() *analysisCache {
	return &analysisCache{entries: map[*Analysis]*analysisEntry{}}
}

func (ac *analysisCache) get(c *Context, a *Analysis) (any, error) {
	ac.mu.Lock()
	if ac.model != c.model { // results describe one model
		ac.model, ac.entries = c.model, map[*Analysis]*analysisEntry{}
	}
	e := ac.entries[a]
	if e == nil {
		e = &analysisEntry{}
		ac.entries[a] = e
	}
	ac.mu.Unlock()
	e.once.Do(func() {
		e.v, e.err = a.Run(c, c.model)
		if e.err != nil {
			e.err = fmt.Errorf("analysis %s: %w", a.Name, e.err)
		}
	})
	return e.v, e.err
}

func (ac *analysisCache) invalidate(as ...*Analysis) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if len(as) == 0 {
		ac.entries = map[*Analysis]*analysisEntry{}
		return
	}
	for _, a := range as {
		delete(ac.entries, a)
	}
}

// InputDims are the dims for generated inputs: GenerateDims, then Dims.
func (c *Context) InputDims() map[string]int64 {
	d := maps.Clone(c.GenerateDims)
	if d == nil {
		d = map[string]int64{}
	}
	maps.Copy(d, c.Dims)
	return d
}

// Allow reports whether the pass may make one more rewrite, and counts it.
// Passes call it before each rewrite so that --max-rewrites can stop a
// pipeline at an exact point to find the rewrite that breaks a model.
func (c *Context) Allow() bool {
	if c.budget == nil {
		return true
	}
	if *c.budget <= 0 {
		return false
	}
	*c.budget--
	return true
}

// Logf writes a note to the pass log.
func (c *Context) Logf(format string, args ...any) {
	fmt.Fprintf(c.Log, "%s: %s\n", c.Pass.Name, fmt.Sprintf(format, args...))
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*Pass{}
	groups     = map[string]*Group{}
)

// Register makes a pass available to pipelines by name.
func Register(p *Pass) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[p.Name]; dup {
		panic("passes: duplicate pass " + p.Name)
	}
	registry[p.Name] = p
}

// Group is a named list of passes run repeatedly until none changes the
// model, at most MaxIterations times ("default" is the lossless group).
type Group struct {
	Name          string
	Doc           string
	Members       []string
	MaxIterations int
}

// RegisterGroup makes a group available to pipelines by name.
func RegisterGroup(g *Group) {
	registryMu.Lock()
	defer registryMu.Unlock()
	groups[g.Name] = g
}

// Lookup returns a registered pass.
func Lookup(name string) (*Pass, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	p, ok := registry[name]
	return p, ok
}

// All returns the registered passes sorted by name.
func All() []*Pass {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]*Pass, 0, len(registry))
	for _, p := range registry {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Groups returns the registered groups sorted by name.
func Groups() []*Group {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]*Group, 0, len(groups))
	for _, g := range groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func names() []string {
	var out []string
	for _, p := range All() {
		out = append(out, p.Name)
	}
	for _, g := range Groups() {
		out = append(out, g.Name)
	}
	sort.Strings(out)
	return out
}
