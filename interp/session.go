package interp

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// DefaultMaxMemory bounds any single tensor a run may allocate (8 GiB).
const DefaultMaxMemory = 8 << 30

// LargeModel is the weight size from which every session (NewSession)
// holds a model's weights once, as stored (NoPrepack): such a run needs
// memory for activations and one weight at a time, not another copy of the
// model. A variable so that tests can take that path on a
// model of a few MiB.
var LargeModel int64 = 1 << 30

// OptionsFor returns o with NoPrepack set if m's weights come to
// LargeModel bytes or more (WeightBytes), as NewSession applies it; callers
// ask it to plan around such runs (verification's lockstep batches).
func OptionsFor(m *onnx.Model, o Options) Options {
	if WeightBytes(m) >= LargeModel {
		o.NoPrepack = true
	}
	return o
}

// WeightBytes is the size of m's weights as the interpreter computes with
// them: a quantized or float16 weight at 4 bytes an element, as float32.
func WeightBytes(m *onnx.Model) int64 {
	var n int64
	for _, g := range m.Graphs() {
		for _, v := range g.Initializers {
			n += max(v.Const.ByteSize(), 4*v.Const.NumElements())
		}
	}
	return n
}

// Options configure a Session.
type Options struct {
	// MaxMemory is the largest tensor, in bytes, a kernel may allocate; a node
	// whose output would be larger fails before allocating. 0 means DefaultMaxMemory.
	MaxMemory int64
	// Threads bounds the goroutines a kernel may use; 0 means GOMAXPROCS.
	Threads int
	// NoPrepack keeps constant Conv/MatMul/Gemm weights only in the model's
	// layout instead of also holding a copy packed for the SIMD GEMM, and
	// computes what reads a large constant (a DequantizeLinear or Cast of a
	// quantized weight) in every run instead of once: the weights are then
	// in memory once, as the model stores them, at some cost in speed.
	NoPrepack bool
	// FloatQDQ runs QDQ models node by node as the ONNX definition writes
	// them: DequantizeLinear to float, the float Conv or Gemm, then
	// QuantizeLinear. Without it (the default), DequantizeLinear → Conv →
	// [Relu|Clip] → QuantizeLinear patterns with constant 8-bit weights run
	// as one integer convolution and QDQ Gemms (DequantizeLinear inputs,
	// transB) as integer products (fuse_qdq.go), as ONNX Runtime runs them:
	// their exact integer sums can put an output one quantization step from
	// the float path's, and nearer ONNX Runtime's (TestFastQDQMobilenet).
	// (QDQ Adds and depthwise convolutions on the float path are fused
	// either way: they give its bytes.)
	FloatQDQ bool
	// FixedThreads runs every node on Threads goroutines. Otherwise a
	// session with Threads ≥ 2 times its first runs to learn which nodes
	// are faster on one thread (threadtune.go); the bits are the same
	// either way.
	FixedThreads bool
}

// Session is a model prepared for execution: kernels built, constants
// converted, and a plan of when each intermediate can be freed. It is
// immutable after NewSession, so Run may be called from several goroutines.
type Session struct {
	model *onnx.Model
	main  *plan
	opts  Options
	// pool recycles intermediate buffers across runs (pool.go).
	pool *arenas
	// handed holds the outputs of recent runs that Recycle may take back.
	handed handedOutputs
	// tune picks each node's thread count (threadtune.go); nil when fixed.
	tune *threadTuner
	// invariant marks the main graph's steps whose results are the same in
	// every run, which RunLockstep runs once for all feeds, and stackable
	// the MatMuls by such a value, which it runs as one product (lockstep.go).
	invariant, stackable []bool
}

// NewSession prepares m for execution. Every node's op must have a kernel at
// the model's opset: an unknown op is an error naming node, op, domain and opset.
func NewSession(m *onnx.Model, opts Options) (*Session, error) {
	// A model too large to hold twice keeps its weights as stored, whoever
	// runs it (a command, a pass, verification).
	opts = OptionsFor(m, opts)
	if opts.MaxMemory <= 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	if opts.Threads <= 0 {
		opts.Threads = runtime.GOMAXPROCS(0)
	}
	m, err := withFunctionsInlined(m)
	if err != nil {
		return nil, err
	}
	c := &compiler{model: m, opts: &opts, konst: map[*onnx.Value]bool{}, perRun: map[*onnx.Value]bool{}}
	p, err := c.compile(m.Graph)
	if err != nil {
		return nil, err
	}
	s := &Session{model: m, main: p, opts: opts, pool: &arenas{}}
	s.invariant, s.stackable = invariantSteps(p)
	if !opts.FixedThreads {
		s.tune = newThreadTuner(opts.Threads, len(p.steps))
	}
	return s, nil
}

// Inputs returns the graph inputs a caller must (or may) feed, excluding
// inputs that only carry an initializer (IR < 4 models list those as inputs).
func (s *Session) Inputs() []*onnx.Value {
	var out []*onnx.Value
	for _, v := range s.model.Graph.Inputs {
		if v.Const == nil {
			out = append(out, v)
		}
	}
	return out
}

// Outputs returns the graph outputs in order.
func (s *Session) Outputs() []*onnx.Value { return s.model.Graph.Outputs }

// Run executes the model on inputs keyed by input name and returns the
// outputs in graph order.
func (s *Session) Run(inputs map[string]*Tensor) ([]*Tensor, error) {
	return s.RunContext(context.Background(), inputs)
}

// RunContext is Run that stops once ctx is done (cancelled or past its
// deadline): it checks between nodes and between the iterations of Loop and
// Scan, so a model that would run for hours ends promptly with an error
// wrapping ctx.Err() and naming where it stopped.
func (s *Session) RunContext(cx context.Context, inputs map[string]*Tensor) ([]*Tensor, error) {
	in, err := s.feeds(inputs)
	if err != nil {
		return nil, err
	}
	ctx := &Ctx{}
	if cx.Done() != nil {
		ctx.done = cx
	}
	return s.runMain(ctx, in)
}

// runMain runs the main graph on in with ctx (its statistics, profiler or
// context set by the caller): a recycled arena, the run's thread plan
// (threadtune.go), and the helpers kept awake for the run.
func (s *Session) runMain(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	ctx.opts = &s.opts
	ctx.arena = s.pool.get()
	defer s.pool.put(ctx.arena)
	ctx.tune = s.tune.begin()
	defer simd.Awake(ctx.tune.awake(s.opts.Threads))()
	out, err := ctx.run(s.main, in, nil)
	if err == nil {
		s.tune.end(ctx.tune)
		s.handed.note(ctx.arena, out)
	}
	return out, err
}

// Recycle hands outputs of this session's runs back to it: later runs
// reuse their buffers instead of allocating fresh ones (whose pages a VM
// faults in at tens of µs each: a segmentation model's 120 MB of outputs
// cost a third of its run). The caller must not use them afterwards.
// Tensors that are not whole buffers of a recent run's outputs (views,
// inputs, constants, outputs sharing a buffer) are left alone, as are
// outputs once more than a few runs old.
func (s *Session) Recycle(outs []*Tensor) {
	for _, t := range outs {
		if key, ok := s.handed.take(t); ok {
			s.pool.recycle(key, t.Data)
		}
	}
}

// feeds checks inputs against the graph's inputs and orders them.
func (s *Session) feeds(inputs map[string]*Tensor) ([]*Tensor, error) {
	in := make([]*Tensor, len(s.main.inputValues))
	for i, v := range s.main.inputValues {
		t, ok := inputs[v.Name]
		if !ok {
			if v.Const != nil {
				continue // an initializer-backed input keeps its default
			}
			return nil, fmt.Errorf("input %q is missing (the model takes %s)", v.Name, describeInputs(s.Inputs()))
		}
		if err := checkInput(v, t); err != nil {
			return nil, err
		}
		in[i] = t
	}
	// Every name must be a graph input: a scan of the inputs, not
	// Graph.ValueByName, which lists all of the graph's values each run.
	for name := range inputs {
		if !slices.ContainsFunc(s.main.inputValues, func(v *onnx.Value) bool { return v.Name == name }) {
			return nil, fmt.Errorf("input %q is not an input of the model (it takes %s)", name, describeInputs(s.Inputs()))
		}
	}
	return in, nil
}

// Stats describes the memory of one run.
type Stats struct {
	// PeakLiveBytes is the largest total size of the intermediate tensors
	// alive at once in the main graph (inputs and weights not included).
	PeakLiveBytes int64
	// Largest holds the sizes of the two largest intermediates.
	Largest [2]int64
}

// RunStats is Run, also reporting the run's memory statistics.
func (s *Session) RunStats(inputs map[string]*Tensor) ([]*Tensor, Stats, error) {
	st := &Stats{}
	in := make([]*Tensor, len(s.main.inputValues))
	for i, v := range s.main.inputValues {
		in[i] = inputs[v.Name]
	}
	out, err := s.runMain(&Ctx{stats: st}, in)
	return out, *st, err
}

// tensorBytes is the in-memory size of a runtime value.
func tensorBytes(t *Tensor) int64 {
	if t == nil {
		return 0
	}
	if t.Kind != KindTensor {
		var n int64
		for _, e := range t.Elems {
			n += tensorBytes(e)
		}
		return n
	}
	return int64(t.Len()) * elemBytes(t.DType)
}

func describeInputs(vs []*onnx.Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%s %s", v.Name, v.Type)
	}
	return strings.Join(parts, ", ")
}

// checkInput compares a fed tensor with the declared type of a graph input.
func checkInput(v *onnx.Value, t *Tensor) error {
	if t == nil {
		return fmt.Errorf("input %q is nil", v.Name)
	}
	ty := v.Type
	if ty == nil {
		return nil
	}
	switch ty.Kind {
	case onnx.TypeTensor:
		if t.Kind != KindTensor {
			return fmt.Errorf("input %q: got %s, the model declares %s", v.Name, t, ty)
		}
		if ty.Elem != onnx.Undefined && ty.Elem != t.DType {
			return fmt.Errorf("input %q: got %s, the model declares %s", v.Name, t, ty)
		}
		if !ty.HasShape() {
			return nil
		}
		if len(ty.Shape) != len(t.Shape) {
			return fmt.Errorf("input %q: got %s (rank %d), the model declares %s (rank %d)", v.Name, t, len(t.Shape), ty, len(ty.Shape))
		}
		for i, d := range ty.Shape {
			if d.IsStatic() && d.Value != int64(t.Shape[i]) {
				return fmt.Errorf("input %q: got %s, the model declares %s (dimension %d differs)", v.Name, t, ty, i)
			}
		}
	case onnx.TypeSequence:
		if t.Kind != KindSequence {
			return fmt.Errorf("input %q: got %s, the model declares %s", v.Name, t, ty)
		}
	case onnx.TypeOptional:
		if t.Kind != KindOptional {
			return fmt.Errorf("input %q: got %s, the model declares %s", v.Name, t, ty)
		}
	case onnx.TypeMap:
		if t.Kind != KindMap {
			return fmt.Errorf("input %q: got %s, the model declares %s", v.Name, t, ty)
		}
	}
	return nil
}

// plan is a compiled graph: slots for its values, kernels, and a free list.
type plan struct {
	graph       *onnx.Graph
	slots       map[*onnx.Value]int
	nslots      int
	consts      []constSlot
	inputValues []*onnx.Value
	inputs      []int
	outputs     []int
	outer       []outerRef
	steps       []step
}

type constSlot struct {
	slot int
	t    *Tensor
}

type outerRef struct {
	slot int
	v    *onnx.Value
}

type step struct {
	node   *onnx.Node
	kernel Kernel
	in     []int // -1: omitted input
	out    []int // -1: omitted output
	free   []int // slots whose last reader is this step
	// dq, for a MatMul fused with the dequantization of its weight
	// (fuseDQMatMuls), which lockstep runs stack as plain MatMuls.
	dq *dqMatMul
}

type compiler struct {
	model *onnx.Model
	// opts, when set, lets compile evaluate nodes whose inputs are all
	// constants once (see fold); konst then holds the values so computed.
	opts  *Options
	konst map[*onnx.Value]bool
	// perRun holds the large initializers that Options.NoPrepack decodes in
	// every run (loadStep) rather than once: they are not constant to kernels.
	perRun map[*onnx.Value]bool
}

// isConst reports whether v has the same value in every run: an initializer
// that no feed can replace, or a value compile folded.
func (c *compiler) isConst(v *onnx.Value) bool {
	if v != nil && c != nil && c.perRun[v] {
		return false
	}
	return v != nil && (v.Const != nil && !v.IsGraphInput() || c != nil && c.konst[v])
}

// decodedPerRun reports whether an initializer is decoded in every run:
// under Options.NoPrepack, a large one whose interpreter form would be a
// copy (quantized and float16 weights, float32 ones not aligned in the
// file), so that a session holds the model once, as stored, plus one
// decoded weight at a time; and one whose bytes a pass left to be made
// (onnx.Tensor.IsLazy), which decoding at compile time would make and
// keep: an int4 weight's scales, made in the run right after the weight,
// come with it (the weight's payload hands them over) instead of reading
// the float weight once more.
func (c *compiler) decodedPerRun(v *onnx.Value) bool {
	t := v.Const
	if c.opts == nil || !c.opts.NoPrepack || t == nil {
		return false
	}
	if t.IsLazy() {
		return true
	}
	return t.NumElements() >= largeConst && !decodesToView(t)
}

// loadStep decodes initializer v into slot s, before its first reader. Its
// node is a stand-in (op LoadInitializer, named after v) for profiles and
// errors, that no fusion takes for one of the graph's.
func loadStep(v *onnx.Value, s int) step {
	return step{node: &onnx.Node{Name: v.Name, OpType: "LoadInitializer"}, out: []int{s}, kernel: func(ctx *Ctx, _ []*Tensor) ([]*Tensor, error) {
		t, err := loadConst(ctx, v.Const)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", v.Name, err)
		}
		return []*Tensor{t}, nil
	}}
}

// noFold lists the ops whose result differs between runs.
var noFold = map[string]bool{"RandomNormal": true, "RandomUniform": true, "RandomNormalLike": true,
	"RandomUniformLike": true, "Bernoulli": true, "Multinomial": true}

// fold runs a node whose inputs are all constants at compile time, so that
// runs skip it (the Constant nodes, shape arithmetic on them, a Transpose of
// a weight that an export left in the graph). The kernel is the one a run
// would use, so the values are the same. Nodes with subgraphs, random ops
// and graph outputs (which callers may modify) are left to run; so is a node
// that fails, to fail in the run with its usual error.
func (c *compiler) fold(st *step, in []*Tensor) ([]*Tensor, bool) {
	n := st.node
	if c.opts == nil || noFold[n.OpType] || len(n.Subgraphs()) > 0 {
		return nil, false
	}
	if c.opts.NoPrepack && readsLargeConst(in) {
		return nil, false // its result would be a second copy of a weight, held for the session
	}
	for _, v := range n.Outputs() {
		if v != nil && v.IsGraphOutput() {
			return nil, false
		}
	}
	out, err := (&Ctx{opts: c.opts}).call(st, in)
	if err != nil {
		return nil, false
	}
	for j, s := range st.out {
		if s >= 0 && (j >= len(out) || out[j] == nil) {
			return nil, false
		}
	}
	return out, true
}

// largeConst is the constant size, in elements (1 MiB as float32), from
// which under Options.NoPrepack a node reading it runs in every run rather
// than once at compile time.
const largeConst = 1 << 18

func readsLargeConst(in []*Tensor) bool {
	for _, t := range in {
		if t != nil && t.Kind == KindTensor && t.Len() >= largeConst {
			return true
		}
	}
	return false
}

func (c *compiler) compile(g *onnx.Graph) (*plan, error) {
	p := &plan{graph: g, slots: map[*onnx.Value]int{}}
	slot := func(v *onnx.Value) int {
		if s, ok := p.slots[v]; ok {
			return s
		}
		p.slots[v] = p.nslots
		p.nslots++
		if v.Graph() != g {
			p.outer = append(p.outer, outerRef{p.slots[v], v})
		}
		return p.slots[v]
	}
	for _, v := range g.Inputs {
		p.inputValues = append(p.inputValues, v)
		p.inputs = append(p.inputs, slot(v))
	}
	for _, v := range g.Initializers {
		if c.decodedPerRun(v) && !v.IsGraphInput() && !v.IsGraphOutput() {
			c.perRun[v] = true
			continue
		}
		t, err := FromONNX(v.Const)
		if err != nil {
			return nil, fmt.Errorf("graph %q: initializer %q: %w", g.Name, v.Name, err)
		}
		p.consts = append(p.consts, constSlot{slot(v), t})
	}
	// Values known at compile time, by slot (graph inputs can be fed even
	// when an initializer gives them a default).
	constT := map[int]*Tensor{}
	for _, cs := range p.consts {
		constT[cs.slot] = cs.t
	}
	for _, s := range p.inputs {
		delete(constT, s)
	}
	order, err := g.TopoOrder() // run in dependency order without reordering the model
	if err != nil {
		return nil, err
	}
	lastUse := map[int]int{}
	for _, n := range order {
		opset := opsetFor(c.model, n.Domain)
		b, _, ok := Lookup(n.Domain, n.OpType, opset)
		if !ok {
			return nil, notImplemented(n, opset)
		}
		k, err := b(&Build{Node: n, Opset: opset, c: c})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", onnx.NodePlace(n), err)
		}
		for _, v := range slices.Concat(n.Inputs(), n.ImplicitInputs()) {
			if _, seen := p.slots[v]; c.perRun[v] && v.Graph() == g && !seen {
				p.steps = append(p.steps, loadStep(v, slot(v)))
			}
		}
		st := step{node: n, kernel: k}
		allConst := true
		var cin []*Tensor
		for _, v := range n.Inputs() {
			if v == nil {
				st.in = append(st.in, -1)
				cin = append(cin, nil)
				continue
			}
			s := slot(v)
			st.in = append(st.in, s)
			t, ok := constT[s]
			allConst = allConst && ok
			cin = append(cin, t)
		}
		for _, v := range n.Outputs() {
			if v == nil {
				st.out = append(st.out, -1)
				continue
			}
			st.out = append(st.out, slot(v))
		}
		if allConst {
			if out, ok := c.fold(&st, cin); ok {
				for j, s := range st.out {
					if s >= 0 {
						p.consts = append(p.consts, constSlot{s, out[j]})
						constT[s] = out[j]
						c.konst[n.Output(j)] = true
					}
				}
				continue
			}
		}
		i := len(p.steps) // the index this step gets
		for _, s := range st.in {
			if s >= 0 {
				lastUse[s] = i
			}
		}
		for _, v := range n.ImplicitInputs() {
			lastUse[slot(v)] = i
		}
		p.steps = append(p.steps, st)
	}
	for _, v := range g.Outputs {
		p.outputs = append(p.outputs, slot(v))
	}
	// Conv → BatchNormalization → Relu/Clip chains run as one kernel (fuse.go).
	c.fuseConvEpilogues(p, g, constT)
	if c.opts != nil && !c.opts.FloatQDQ {
		c.fuseQDQConvs(p, g, constT, lastUse)
		c.fuseQDQGemms(p, g, constT, lastUse)
	}
	// QDQ depthwise convolutions and Adds give the float path's bytes:
	// fused whatever the options.
	c.fuseQDQDepthwise(p, g, constT, lastUse)
	c.fuseQDQAdds(p, g, constT, lastUse)
	// A large model's quantized MatMul weights, dequantized a tile at a time.
	c.fuseDQMatMuls(p, g, constT, lastUse)
	// Constants only folded nodes read are not needed in runs.
	if len(c.konst) > 0 {
		out := map[int]bool{}
		for _, s := range p.outputs {
			out[s] = true
		}
		kept := p.consts[:0]
		for _, cs := range p.consts {
			if _, read := lastUse[cs.slot]; read || out[cs.slot] {
				kept = append(kept, cs)
			}
		}
		clear(p.consts[len(kept):])
		p.consts = kept
	}
	// Free an intermediate after its last reader, unless it must survive the run.
	keep := map[int]bool{}
	for _, s := range p.outputs {
		keep[s] = true
	}
	for _, c := range p.consts {
		keep[c.slot] = true
	}
	for _, o := range p.outer {
		keep[o.slot] = true
	}
	for _, s := range p.inputs {
		keep[s] = true
	}
	for s, i := range lastUse {
		if !keep[s] {
			p.steps[i].free = append(p.steps[i].free, s)
		}
	}
	// An output nobody reads is dropped by the step that makes it.
	for i := range p.steps {
		for _, s := range p.steps[i].out {
			if _, read := lastUse[s]; s >= 0 && !read && !keep[s] {
				p.steps[i].free = append(p.steps[i].free, s)
			}
		}
	}
	return p, nil
}

func opsetFor(m *onnx.Model, domain string) int64 {
	v := m.Opset(domain)
	if v == 0 && (domain == "" || domain == "ai.onnx") {
		v = 1
	}
	return v
}

func domainName(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

// Ctx is the state of one run, handed to kernels: memory limit, thread bound
// and the frames of enclosing graphs for subgraph execution.
type Ctx struct {
	opts  *Options
	frame *frame
	stats *Stats          // nil unless the caller asked for statistics
	prof  *profiler       // nil unless the caller asked for a profile (profile.go)
	visit StepVisitor     // nil unless the caller watches every step (RunVisit)
	arena *arena          // recycled buffers of this run; nil allocates afresh
	step  *step           // the step running, for reuseInput
	done  context.Context // the run's context; nil when it cannot end early
	// tune is the run's thread plan (threadtune.go); threads, when > 0,
	// is the running step's thread count from it, for Threads.
	tune    *tuneRun
	threads int
}

// Err is the run's context error once it is cancelled or past its deadline,
// else nil. Kernels that loop (Loop, Scan) check it between iterations.
func (c *Ctx) Err() error {
	if c.done == nil {
		return nil
	}
	return c.done.Err()
}

type frame struct {
	plan   *plan
	vals   []*Tensor
	parent *frame
}

func (f *frame) lookup(v *onnx.Value) *Tensor {
	for ; f != nil; f = f.parent {
		if s, ok := f.plan.slots[v]; ok && f.vals[s] != nil {
			return f.vals[s]
		}
	}
	return nil
}

// Threads is the number of goroutines a kernel may use.
func (c *Ctx) Threads() int {
	if c.threads > 0 {
		return c.threads
	}
	return c.opts.Threads
}

// MemoryLimitError is returned when a tensor would exceed Options.MaxMemory.
type MemoryLimitError struct {
	Bytes, Limit int64
	Shape        []int
	DType        onnx.DataType
}

func (e *MemoryLimitError) Error() string {
	return fmt.Sprintf("a %s%v tensor would need %d bytes, over the memory limit of %d bytes (--max-memory)", e.DType, e.Shape, e.Bytes, e.Limit)
}

// New allocates a zeroed tensor, refusing (before allocating) any tensor over
// the memory limit: the run then fails with a MemoryLimitError naming the node.
func (c *Ctx) New(dt onnx.DataType, shape ...int) *Tensor {
	return c.alloc(dt, true, shape)
}

// newRaw is New without zeroing a recycled buffer, for kernels that write
// every element.
func (c *Ctx) newRaw(dt onnx.DataType, shape ...int) *Tensor {
	return c.alloc(dt, false, shape)
}

// scratch returns n floats of uninitialised temporary space; it returns to
// the pool after the current step.
func (c *Ctx) scratch(n int) []float32 {
	return c.alloc(onnx.Float, false, []int{n}).Floats()
}

func (c *Ctx) alloc(dt onnx.DataType, zero bool, shape []int) *Tensor {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			panic(kernelError{fmt.Errorf("negative dimension in shape %v", slices.Clone(shape))})
		}
		if d != 0 && n > (1<<62)/int64(d) {
			n = 1 << 62
			break
		}
		n *= int64(d)
	}
	bytes := n * elemBytes(dt)
	if bytes > c.opts.MaxMemory || bytes < 0 {
		panic(kernelError{&MemoryLimitError{Bytes: bytes, Limit: c.opts.MaxMemory, Shape: append([]int{}, shape...), DType: dt}})
	}
	var d any
	var err error
	if c.arena != nil && pooled(dt) {
		d, err = c.arena.take(dt, int(n), zero)
	} else {
		d, err = makeData(dt, int(n))
	}
	if err != nil {
		panic(kernelError{err})
	}
	return newTensor(dt, shape, d)
}

// tensorBlock is a tensor with room for its shape: one allocation instead
// of two for the tensors every node creates.
type tensorBlock struct {
	t    Tensor
	dims [6]int
}

// newTensor makes a tensor of d with a copy of shape.
func newTensor(dt onnx.DataType, shape []int, d any) *Tensor {
	b := &tensorBlock{t: Tensor{DType: dt, Data: d}}
	if len(shape) <= len(b.dims) {
		b.t.Shape = append(b.dims[:0:len(shape)], shape...)
	} else {
		b.t.Shape = slices.Clone(shape)
	}
	return &b.t
}

// reuseInput returns a tensor of t's type and shape that shares t's buffer
// when t dies with this step and nothing else holds its buffer, so an
// elementwise kernel can write its result in place (one buffer streamed
// instead of two); otherwise a new uninitialised tensor. The kernel must
// read each element of t before writing the element at the same index.
func (c *Ctx) reuseInput(t *Tensor) *Tensor {
	if c.reusable(t) {
		return newTensor(t.DType, t.Shape, t.Data)
	}
	return c.newRaw(t.DType, t.Shape...)
}

func (c *Ctx) reusable(t *Tensor) bool {
	if c.arena == nil || c.step == nil || c.frame == nil || t == nil || t.Kind != KindTensor {
		return false
	}
	dies := false
	for _, s := range c.step.free {
		dies = dies || c.frame.vals[s] == t
	}
	if !dies {
		return false
	}
	start, end := span(t.Data)
	l := c.arena.find(start)
	// One reference (this slot), and t spans the whole buffer.
	return l != nil && l.refs == 1 && l.start == start && l.end == end && end-start == uintptr(t.Len())*uintptr(elemBytes(t.DType))
}

// kernelError carries an error out of a kernel through panic (used by Ctx.New).
type kernelError struct{ err error }

// RunGraph runs a compiled subgraph with the given inputs. Values of enclosing
// graphs that the subgraph reads come from the current run.
func (c *Ctx) RunGraph(g *Graph, inputs []*Tensor) ([]*Tensor, error) {
	return c.run(g.plan, inputs, c.frame)
}

func (c *Ctx) run(p *plan, inputs []*Tensor, parent *frame) ([]*Tensor, error) {
	r, err := c.start(p, inputs, parent)
	if err != nil {
		return nil, err
	}
	for i := range p.steps {
		if err := r.exec(i); err != nil {
			return nil, err
		}
		r.release(i)
	}
	return r.outputs()
}

// A planRun is one execution of a plan under way: its frame, and the
// context its kernels get. Ctx.run takes its steps one after the other;
// Session.RunLockstep interleaves several.
type planRun struct {
	c, sub *Ctx // the caller's context, and the kernels' (this frame)
	p      *plan
	f      *frame
	live   int64 // bytes of live values, when tracking statistics
	track  bool
	in     []*Tensor // the running step's inputs (reused)
}

func (c *Ctx) start(p *plan, inputs []*Tensor, parent *frame) (*planRun, error) {
	f := &frame{plan: p, vals: make([]*Tensor, p.nslots), parent: parent}
	for _, cs := range p.consts {
		f.vals[cs.slot] = cs.t
	}
	if len(inputs) > len(p.inputs) {
		return nil, fmt.Errorf("graph %q takes %d inputs, got %d", p.graph.Name, len(p.inputs), len(inputs))
	}
	for i, t := range inputs {
		if t != nil {
			f.vals[p.inputs[i]] = t
		}
	}
	for _, o := range p.outer {
		f.vals[o.slot] = parent.lookup(o.v)
	}
	sub := &Ctx{opts: c.opts, frame: f, arena: c.arena, done: c.done, threads: c.threads, visit: c.visit}
	return &planRun{c: c, sub: sub, p: p, f: f, track: c.stats != nil && parent == nil, in: make([]*Tensor, 0, 8)}, nil
}

// exec runs step i and stores its outputs.
func (r *planRun) exec(i int) error {
	c, sub, p, f, a := r.c, r.sub, r.p, r.f, r.c.arena
	parent := f.parent
	st := &p.steps[i]
	if err := c.Err(); err != nil {
		return fmt.Errorf("stopped before %s: %w", onnx.NodePlace(st.node), err)
	}
	in := r.in[:0]
	for _, s := range st.in {
		if s < 0 {
			in = append(in, nil)
			continue
		}
		t := f.vals[s]
		if t == nil {
			return fmt.Errorf("%s: input %q has no value", onnx.NodePlace(st.node), slotName(p, s))
		}
		in = append(in, t)
	}
	r.in = in
	mark := 0
	if a != nil {
		mark = len(a.live)
	}
	sub.step = st
	timed := parent == nil && (c.prof != nil || c.tune != nil && c.tune.sample)
	var t0 time.Time
	if timed {
		t0 = time.Now()
	}
	if parent == nil && c.tune != nil {
		sub.threads = c.tune.stepThreads(i)
	}
	out, err := sub.call(st, in)
	if err != nil {
		return err
	}
	if timed && c.tune != nil && c.tune.sample {
		c.tune.dur[i] = time.Since(t0)
	}
	if c.prof != nil && parent == nil {
		c.prof.record(st.node, sub.Threads(), t0, in, out)
	}
	if c.visit != nil {
		c.visit(st.node, in, out)
	}
	for j, s := range st.out {
		if s < 0 {
			continue
		}
		if j >= len(out) || out[j] == nil {
			return fmt.Errorf("%s: kernel produced no value for output %d %q", onnx.NodePlace(st.node), j, st.node.Output(j).Name)
		}
		f.vals[s] = out[j]
		if a != nil {
			a.ref(out[j], 1)
		}
		if r.track {
			b := tensorBytes(out[j])
			r.live += b
			if l := &c.stats.Largest; b > l[0] {
				l[0], l[1] = b, l[0]
			} else if b > l[1] {
				l[1] = b
			}
		}
	}
	if r.track {
		c.stats.PeakLiveBytes = max(c.stats.PeakLiveBytes, r.live)
	}
	if a != nil {
		a.sweep(mark)
	}
	return nil
}

// release drops the values whose last reader is step i.
func (r *planRun) release(i int) {
	for _, s := range r.p.steps[i].free {
		if r.track {
			r.live -= tensorBytes(r.f.vals[s])
		}
		if a := r.c.arena; a != nil {
			a.ref(r.f.vals[s], -1)
		}
		r.f.vals[s] = nil
	}
}

func (r *planRun) outputs() ([]*Tensor, error) {
	outs := make([]*Tensor, len(r.p.outputs))
	for i, s := range r.p.outputs {
		outs[i] = r.f.vals[s]
		if outs[i] == nil {
			return nil, fmt.Errorf("graph %q: output %q was not computed", r.p.graph.Name, slotName(r.p, s))
		}
	}
	return outs, nil
}

func slotName(p *plan, s int) string {
	for v, i := range p.slots {
		if i == s {
			return v.Name
		}
	}
	return "?"
}

// call runs one kernel, turning panics and errors into errors that name the
// node and describe its inputs.
func (c *Ctx) call(st *step, in []*Tensor) (out []*Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			if ke, ok := r.(kernelError); ok {
				err = fmt.Errorf("%s: %w", describeNode(st.node, in), ke.err)
				return
			}
			if os.Getenv("ONNXSLIM_DEBUG") != "" {
				os.Stderr.Write(debug.Stack()) // where, for a bug report
			}
			err = fmt.Errorf("%s: internal error: %v", describeNode(st.node, in), r)
		}
	}()
	out, err = st.kernel(c, in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", describeNode(st.node, in), err)
	}
	return out, nil
}

// describeNode names a node and its inputs with their shapes for error messages.
func describeNode(n *onnx.Node, in []*Tensor) string {
	parts := make([]string, 0, len(in))
	for i, t := range in {
		name := ""
		if v := n.Input(i); v != nil {
			name = v.Name
		}
		if t == nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%q %s", name, t))
	}
	return fmt.Sprintf("%s with inputs %s", onnx.NodePlace(n), strings.Join(parts, ", "))
}
