package interp

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/onnxslim/onnxslim/onnx"
)

// ShapeFunc infers the output types of one node from what is known of its
// inputs. It fills c.Out (and c.OutSym for shape-valued outputs); outputs it
// leaves nil stay unknown. It returns an error (made with c.Errorf) only for
// inputs that can never be valid, such as MatMul inner dimensions that differ.
type ShapeFunc func(c *ShapeCtx) error

type shapeReg struct {
	since int64
	f     ShapeFunc
}

var (
	shapeMu       sync.RWMutex
	shapeRegistry = map[string][]shapeReg{}
)

// RegisterShape adds a shape function for op in domain ("" is ai.onnx), valid
// from opset version since until the next registration of the same op.
func RegisterShape(domain, op string, since int64, f ShapeFunc) {
	shapeMu.Lock()
	defer shapeMu.Unlock()
	k := regKey(domain, op)
	regs := append(shapeRegistry[k], shapeReg{since, f})
	sort.Slice(regs, func(i, j int) bool { return regs[i].since < regs[j].since })
	shapeRegistry[k] = regs
}

// LookupShape returns the shape function for op at the given opset version:
// the registration with the highest since-version not above it.
func LookupShape(domain, op string, opset int64) (ShapeFunc, bool) {
	shapeMu.RLock()
	defer shapeMu.RUnlock()
	regs := shapeRegistry[regKey(domain, op)]
	for i := len(regs) - 1; i >= 0; i-- {
		if regs[i].since <= opset {
			return regs[i].f, true
		}
	}
	return nil, false
}

// regShapes registers f for several ai.onnx ops from version 1.
func regShapes(f ShapeFunc, ops ...string) {
	for _, op := range ops {
		RegisterShape("", op, 1, f)
	}
}

// ShapeOptions configure InferShapes.
type ShapeOptions struct {
	// Dims fixes symbolic dimensions by name (the CLI's --dim NAME=VALUE).
	Dims map[string]int64
	// Strict makes inconsistencies (shapes that can never be valid) errors;
	// by default they are warnings and the outputs concerned stay unknown.
	Strict bool
}

// ShapeInfo is what InferShapes learned beyond the types it set on values.
type ShapeInfo struct {
	// Symbolic holds the content of small integer tensors of rank 0 or 1
	// (shape tensors): one Dim per element, static, symbolic or unknown.
	Symbolic map[*onnx.Value][]onnx.Dim
	// Consts holds the values computed during inference: Constant nodes and
	// nodes whose inputs were all constant. Initializers are not repeated here.
	Consts map[*onnx.Value]*Tensor
	// Warnings are notes on declared types that disagree with inferred ones,
	// inconsistent nodes and ops without shape inference.
	Warnings []string
}

// Static returns v's shape when every dimension is a known number.
func (s *ShapeInfo) Static(v *onnx.Value) ([]int64, bool) {
	if v == nil || v.Type == nil || v.Type.Kind != onnx.TypeTensor || !v.Type.HasShape() {
		return nil, false
	}
	return v.Type.Shape.Static()
}

// Content returns the symbolic content of a shape tensor, if known.
func (s *ShapeInfo) Content(v *onnx.Value) ([]onnx.Dim, bool) {
	d, ok := s.Symbolic[v]
	return d, ok
}

// StaticContent returns the content of a shape tensor when every element is a
// known number (the fold pass turns such values into constants).
func (s *ShapeInfo) StaticContent(v *onnx.Value) ([]int64, bool) {
	d, ok := s.Symbolic[v]
	if !ok {
		return nil, false
	}
	return onnx.Shape(d).Static()
}

// Constant returns v's value when it is an initializer or was computed during
// inference, else nil.
func (s *ShapeInfo) Constant(v *onnx.Value) *Tensor {
	if t := s.Consts[v]; t != nil {
		return t
	}
	if v != nil && v.Const != nil {
		t, err := FromONNX(v.Const)
		if err == nil {
			return t
		}
	}
	return nil
}

// ShapeError is an inconsistency found by a shape function, naming the node.
type ShapeError struct {
	Node string
	Err  error
}

func (e *ShapeError) Error() string { return e.Node + ": " + e.Err.Error() }
func (e *ShapeError) Unwrap() error { return e.Err }

// Limits of inference-time work: shape tensors longer than maxSymLen are not
// tracked, and nodes are evaluated only on small constant inputs.
const (
	maxSymLen       = 64
	evalElemsShaped = 1 << 16 // inputs of nodes that also have a shape function
	evalElemsOpaque = 1 << 22 // nodes whose only inference is evaluation
	evalMaxMemory   = 256 << 20
	maxConstElems   = 1 << 16 // initializers converted eagerly for shape functions
)

// ShapeCtx is what a ShapeFunc sees: the node, its opset, what is known of
// each input, and the outputs to fill.
type ShapeCtx struct {
	Node  *onnx.Node
	Opset int64
	In    []*onnx.Type // nil when unknown or the input is omitted
	Const []*Tensor    // constant input values, nil when not known
	Sym   [][]onnx.Dim // content of small integer inputs, nil when not known

	Out      []*onnx.Type // one per node output
	OutSym   [][]onnx.Dim // content of shape-valued outputs
	OutConst []*Tensor    // outputs with a known value

	st *shapeState
}

// NumIn is the number of inputs the node lists.
func (c *ShapeCtx) NumIn() int { return len(c.In) }

// Has reports whether input i is supplied.
func (c *ShapeCtx) Has(i int) bool { return c.Node.Input(i) != nil }

// Type returns input i's type, or nil.
func (c *ShapeCtx) Type(i int) *onnx.Type {
	if i < 0 || i >= len(c.In) {
		return nil
	}
	return c.In[i]
}

// Elem returns input i's element type, Undefined when unknown.
func (c *ShapeCtx) Elem(i int) onnx.DataType {
	t := c.Type(i)
	if t == nil {
		return onnx.Undefined
	}
	return t.Elem
}

// Shape returns a copy of input i's shape when its rank is known.
func (c *ShapeCtx) Shape(i int) (onnx.Shape, bool) {
	t := c.Type(i)
	if t == nil || (t.Kind != onnx.TypeTensor && t.Kind != onnx.TypeSparseTensor) || !t.HasShape() {
		return nil, false
	}
	return append(onnx.Shape{}, t.Shape...), true
}

// Rank returns input i's rank when known.
func (c *ShapeCtx) Rank(i int) (int, bool) {
	s, ok := c.Shape(i)
	return len(s), ok
}

// Ints returns the content of integer input i when every element is known.
func (c *ShapeCtx) Ints(i int) ([]int64, bool) {
	if i < len(c.Const) && c.Const[i] != nil {
		return tensorInts(c.Const[i])
	}
	if i < len(c.Sym) && c.Sym[i] != nil {
		return onnx.Shape(c.Sym[i]).Static()
	}
	return nil, false
}

// Dims returns the (possibly symbolic) content of a small integer input i.
func (c *ShapeCtx) Dims(i int) ([]onnx.Dim, bool) {
	if i < len(c.Sym) && c.Sym[i] != nil {
		return c.Sym[i], true
	}
	if i < len(c.Const) && c.Const[i] != nil {
		return symFromTensor(c.Const[i])
	}
	return nil, false
}

// Floats returns the content of a constant float input i.
func (c *ShapeCtx) Floats(i int) ([]float32, bool) {
	if i >= len(c.Const) || c.Const[i] == nil {
		return nil, false
	}
	f, err := AsFloat32(c.Const[i])
	return f, err == nil
}

// Set sets output i to a tensor type; a nil shape means the rank is unknown.
func (c *ShapeCtx) Set(i int, elem onnx.DataType, s onnx.Shape) {
	if i >= len(c.Out) {
		return
	}
	c.Out[i] = onnx.TensorType(elem, s)
}

// SetType sets output i to any type.
func (c *ShapeCtx) SetType(i int, t *onnx.Type) {
	if i < len(c.Out) {
		c.Out[i] = t
	}
}

// SetSym records the content of shape-valued output i.
func (c *ShapeCtx) SetSym(i int, d []onnx.Dim) {
	if i < len(c.OutSym) && len(d) <= maxSymLen {
		c.OutSym[i] = d
	}
}

// Same sets output i to input j's type (element types and shape).
func (c *ShapeCtx) Same(i, j int) {
	if t := c.Type(j); t != nil {
		c.SetType(i, t.Clone())
	}
}

// Errorf reports an inconsistency of the node's inputs.
func (c *ShapeCtx) Errorf(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// Warnf records a warning about the node.
func (c *ShapeCtx) Warnf(format string, args ...any) {
	c.st.warnf("%s: %s", onnx.NodePlace(c.Node), fmt.Sprintf(format, args...))
}

// InferGraph infers the types in a subgraph (a control-flow body) whose
// formal inputs have the given types (nil entries keep what is declared),
// and returns the types of its outputs. Outer-scope values keep what is
// already known of them.
func (c *ShapeCtx) InferGraph(g *onnx.Graph, inputs []*onnx.Type) []*onnx.Type {
	return c.st.inferBody(g, inputs)
}

// graphOut is the content and value of output i of an inferred subgraph.
func (c *ShapeCtx) graphOut(g *onnx.Graph, i int) ([]onnx.Dim, *Tensor) {
	v := g.Outputs[i]
	return c.st.info.Symbolic[v], c.st.info.Consts[v]
}

// shapeState is one run of InferShapes.
type shapeState struct {
	m         *onnx.Model
	opts      ShapeOptions
	info      *ShapeInfo
	declared  map[*onnx.Value]*onnx.Type
	initConst map[*onnx.Value]*Tensor
	funcs     map[string]*onnx.Function
	errs      []error
	warned    map[string]bool
	depth     int
}

func (st *shapeState) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if st.warned[msg] {
		return
	}
	st.warned[msg] = true
	st.info.Warnings = append(st.info.Warnings, msg)
}

// InferShapes infers the type of every value of m it can, in the main graph,
// control-flow bodies and (per call) local functions, and sets Value.Type.
// Declared static dimensions are never replaced; a declared type that
// disagrees with the inferred one is kept and a warning recorded. Symbolic
// dimensions stay symbolic unless opts.Dims fixes them by name. Ops without
// shape inference (custom domains) leave their outputs as declared, or unknown.
func InferShapes(m *onnx.Model, opts ShapeOptions) (*ShapeInfo, error) {
	st := &shapeState{
		m:         m,
		opts:      opts,
		info:      &ShapeInfo{Symbolic: map[*onnx.Value][]onnx.Dim{}, Consts: map[*onnx.Value]*Tensor{}},
		declared:  map[*onnx.Value]*onnx.Type{},
		initConst: map[*onnx.Value]*Tensor{},
		funcs:     map[string]*onnx.Function{},
		warned:    map[string]bool{},
	}
	for _, f := range m.Functions {
		st.funcs[f.Domain+"::"+f.Name] = f
	}
	for _, g := range m.Graphs() {
		st.snapshot(g)
	}
	if err := st.inferGraph(m.Graph); err != nil {
		return st.info, err
	}
	if opts.Strict && len(st.errs) > 0 {
		return st.info, errors.Join(st.errs...)
	}
	return st.info, nil
}

// snapshot applies opts.Dims to the declared types of g and remembers them,
// so that inferred types are always merged with what the file declares.
func (st *shapeState) snapshot(g *onnx.Graph) {
	for _, v := range g.Values() {
		if v.Const != nil && (v.Type == nil || !v.Type.HasShape()) {
			dims := make(onnx.Shape, len(v.Const.Dims))
			for i, d := range v.Const.Dims {
				dims[i] = onnx.D(d)
			}
			v.Type = onnx.TensorType(v.Const.DataType, dims)
		}
		if v.Type != nil {
			v.Type = st.fixDims(v.Type)
			st.declared[v] = v.Type.Clone()
		}
	}
	for _, v := range g.ValueInfo {
		if v.Type != nil {
			v.Type = st.fixDims(v.Type)
			st.declared[v] = v.Type.Clone()
		}
	}
	for _, v := range g.Outputs {
		if v.Type != nil {
			v.Type = st.fixDims(v.Type)
			st.declared[v] = v.Type.Clone()
		}
	}
}

func (st *shapeState) fixDims(t *onnx.Type) *onnx.Type {
	if t == nil || len(st.opts.Dims) == 0 {
		return t
	}
	t = t.Clone()
	for i, d := range t.Shape {
		if d.Kind == onnx.DimParam {
			if v, ok := st.opts.Dims[d.Param]; ok {
				t.Shape[i] = onnx.D(v)
			}
		}
	}
	t.Inner = st.fixDims(t.Inner)
	return t
}

// inferGraph infers the nodes of g in dependency order.
func (st *shapeState) inferGraph(g *onnx.Graph) error {
	st.depth++
	defer func() { st.depth-- }()
	if st.depth > onnx.MaxGraphDepth {
		return fmt.Errorf("graph %q: subgraphs nested too deep", g.Name)
	}
	order, err := g.TopoOrder() // visit in dependency order without reordering the model
	if err != nil {
		return err
	}
	for _, n := range order {
		st.inferNode(n)
	}
	return nil
}

// inferBody infers a control-flow body with the given formal input types
// and returns its output types.
func (st *shapeState) inferBody(g *onnx.Graph, inputs []*onnx.Type) []*onnx.Type {
	for i, v := range g.Inputs {
		if i < len(inputs) && inputs[i] != nil {
			v.Type = mergeType(st.declared[v], inputs[i], true, nil)
		} else {
			v.Type = st.declared[v].Clone()
		}
		delete(st.info.Symbolic, v)
		delete(st.info.Consts, v)
	}
	if err := st.inferGraph(g); err != nil {
		st.warnf("graph %q: %v", g.Name, err)
	}
	out := make([]*onnx.Type, len(g.Outputs))
	for i, v := range g.Outputs {
		out[i] = v.Type.Clone()
	}
	return out
}

// constOf returns the known value of v: computed during inference, or a
// converted initializer (not for overridable main-graph inputs).
func (st *shapeState) constOf(v *onnx.Value, maxElems int64) *Tensor {
	if v == nil {
		return nil
	}
	if t := st.info.Consts[v]; t != nil {
		return t
	}
	if v.Const == nil || st.overridable(v) {
		return nil
	}
	if t, ok := st.initConst[v]; ok {
		return t
	}
	if v.Const.NumElements() > maxElems {
		return nil
	}
	t, err := FromONNX(v.Const)
	if err != nil {
		t = nil
	}
	st.initConst[v] = t
	return t
}

func (st *shapeState) isConst(v *onnx.Value) bool {
	if st.info.Consts[v] != nil {
		return true
	}
	return v.Const != nil && !st.overridable(v)
}

// overridable reports whether an initializer is also a main-graph input that
// callers may feed (IR ≥ 4; before that every initializer had to be listed
// as an input, and runtimes treat them as constants).
func (st *shapeState) overridable(v *onnx.Value) bool {
	return st.m.IRVersion >= 4 && v.IsGraphInput() && v.Graph().Parent == nil
}

func shConstElems(v *onnx.Value, st *shapeState) int64 {
	if t := st.info.Consts[v]; t != nil {
		return int64(t.Len())
	}
	return v.Const.NumElements()
}

// shNoEval lists ops whose results are not a function of their inputs.
var shNoEval = map[string]bool{
	"RandomNormal": true, "RandomUniform": true, "RandomNormalLike": true, "RandomUniformLike": true,
	"Multinomial": true, "Bernoulli": true, "Dropout": true,
}

func shOpset(m *onnx.Model, domain string) int64 {
	v := m.Opset(domain)
	if v == 0 && (domain == "" || domain == "ai.onnx") {
		v = 1
	}
	return v
}

func (st *shapeState) inferNode(n *onnx.Node) {
	opset := shOpset(st.m, n.Domain)
	ins := n.Inputs()
	c := &ShapeCtx{
		Node: n, Opset: opset, st: st,
		In:       make([]*onnx.Type, len(ins)),
		Const:    make([]*Tensor, len(ins)),
		Sym:      make([][]onnx.Dim, len(ins)),
		Out:      make([]*onnx.Type, len(n.Outputs())),
		OutSym:   make([][]onnx.Dim, len(n.Outputs())),
		OutConst: make([]*Tensor, len(n.Outputs())),
	}
	allConst := len(ins) > 0
	var constSize int64
	for i, v := range ins {
		if v == nil {
			continue
		}
		c.In[i] = v.Type
		c.Const[i] = st.constOf(v, maxConstElems)
		c.Sym[i] = st.info.Symbolic[v]
		if c.Sym[i] == nil && c.Const[i] != nil {
			c.Sym[i], _ = symFromTensor(c.Const[i])
		}
		if st.isConst(v) {
			constSize += shConstElems(v, st)
		} else {
			allConst = false
		}
	}
	if f := st.funcs[n.Domain+"::"+n.OpType]; f != nil {
		st.inferCall(c, f)
		st.finish(c)
		return
	}
	f, hasShape := LookupShape(n.Domain, n.OpType, opset)
	limit := int64(evalElemsOpaque)
	if hasShape {
		limit = evalElemsShaped
	}
	if allConst && constSize <= limit && !shNoEval[n.OpType] && len(n.Subgraphs()) == 0 {
		if st.evaluate(c) {
			st.finish(c)
			return
		}
	}
	if !hasShape {
		if _, _, ok := Lookup(n.Domain, n.OpType, opset); ok || n.Domain == "" || n.Domain == "ai.onnx" {
			st.warnf("no shape inference for %s (domain %q, opset %d): its outputs stay as declared", n.OpType, domainName(n.Domain), opset)
		}
		st.finish(c)
		return
	}
	if err := callShape(f, c); err != nil {
		e := &ShapeError{Node: onnx.NodePlace(n), Err: err}
		st.errs = append(st.errs, e)
		st.warnf("%v", e)
		for i := range c.Out {
			c.Out[i], c.OutSym[i], c.OutConst[i] = nil, nil, nil
		}
	}
	st.finish(c)
}

// callShape runs f, turning a panic (a bug, or inputs a function did not
// expect) into an error so that inference goes on.
func callShape(f ShapeFunc, c *ShapeCtx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("shape inference failed: %v", r)
		}
	}()
	return f(c)
}

// evaluate runs the node's kernel on its constant inputs.
func (st *shapeState) evaluate(c *ShapeCtx) bool {
	if _, _, ok := Lookup(c.Node.Domain, c.Node.OpType, c.Opset); !ok {
		return false
	}
	in := make([]*Tensor, len(c.In))
	for i, v := range c.Node.Inputs() {
		if v == nil {
			continue
		}
		in[i] = st.constOf(v, evalElemsOpaque)
		if in[i] == nil {
			return false
		}
	}
	out, err := evalNode(c.Node, c.Opset, in, evalMaxMemory)
	if err != nil {
		return false
	}
	for i := range c.Out {
		if i >= len(out) || out[i] == nil || c.Node.Output(i) == nil {
			continue
		}
		c.OutConst[i] = out[i]
		c.Out[i] = typeOfTensor(out[i])
		if s, ok := symFromTensor(out[i]); ok {
			c.OutSym[i] = s
		}
	}
	return true
}

// finish merges the inferred outputs of a node into its values.
func (st *shapeState) finish(c *ShapeCtx) {
	for i, v := range c.Node.Outputs() {
		if v == nil {
			continue
		}
		var w []string
		v.Type = mergeType(st.declared[v], c.Out[i], v.IsGraphOutput(), &w)
		for _, msg := range w {
			st.warnf("%s: output %q: %s", onnx.NodePlace(c.Node), v.Name, msg)
		}
		delete(st.info.Consts, v)
		delete(st.info.Symbolic, v)
		if c.OutConst[i] != nil {
			st.info.Consts[v] = c.OutConst[i]
		}
		sym := c.OutSym[i]
		if sym == nil || len(sym) > maxSymLen || v.Type == nil || !v.Type.Elem.IsInteger() {
			continue
		}
		if v.Type.HasShape() && len(v.Type.Shape) > 1 {
			continue
		}
		st.info.Symbolic[v] = sym
		// A fully known shape tensor becomes a constant, so that the nodes it
		// feeds (Reshape, ConstantOfShape, Range, ...) can be evaluated.
		if st.info.Consts[v] == nil && (v.Type.Elem == onnx.Int64 || v.Type.Elem == onnx.Int32) && v.Type.HasShape() {
			if vals, ok := onnx.Shape(sym).Static(); ok {
				st.info.Consts[v] = shIntTensor(v.Type.Elem, len(v.Type.Shape) == 0, vals)
			}
		}
	}
}

func shIntTensor(dt onnx.DataType, scalar bool, vals []int64) *Tensor {
	shape := []int{len(vals)}
	if scalar {
		shape = []int{}
	}
	if dt == onnx.Int32 {
		d := make([]int32, len(vals))
		for i, v := range vals {
			d[i] = int32(v)
		}
		return &Tensor{DType: dt, Shape: shape, Data: d}
	}
	return &Tensor{DType: onnx.Int64, Shape: shape, Data: append([]int64{}, vals...)}
}

// typeOfTensor is the ONNX type of a runtime value.
func typeOfTensor(t *Tensor) *onnx.Type {
	switch t.Kind {
	case KindSequence:
		var inner *onnx.Type
		if len(t.Elems) > 0 {
			inner = typeOfTensor(t.Elems[0])
			for _, e := range t.Elems[1:] {
				inner = joinType(inner, typeOfTensor(e))
			}
		} else {
			inner = onnx.TensorType(t.DType, nil)
		}
		return &onnx.Type{Kind: onnx.TypeSequence, Inner: inner}
	case KindOptional:
		inner := onnx.TensorType(t.DType, nil)
		if len(t.Elems) > 0 {
			inner = typeOfTensor(t.Elems[0])
		}
		return &onnx.Type{Kind: onnx.TypeOptional, Inner: inner}
	case KindMap:
		key := onnx.Undefined
		if len(t.Elems) == 2 && t.Elems[0] != nil {
			key = t.Elems[0].DType
		}
		return &onnx.Type{Kind: onnx.TypeMap, Elem: key, Inner: onnx.TensorType(t.DType, nil)}
	}
	s := make(onnx.Shape, len(t.Shape))
	for i, d := range t.Shape {
		s[i] = onnx.D(int64(d))
	}
	return onnx.TensorType(t.DType, s)
}

// tensorInts returns an integer tensor's elements as int64.
func tensorInts(t *Tensor) ([]int64, bool) {
	if t == nil || t.Kind != KindTensor {
		return nil, false
	}
	switch d := t.Data.(type) {
	case []int64:
		return d, true
	case []int32:
		return shWiden(d), true
	case []int16:
		return shWiden(d), true
	case []int8:
		return shWiden(d), true
	case []uint8:
		if t.DType != onnx.Uint8 {
			return nil, false
		}
		return shWiden(d), true
	case []uint16:
		if t.DType != onnx.Uint16 {
			return nil, false
		}
		return shWiden(d), true
	case []uint32:
		return shWiden(d), true
	case []uint64:
		return shWiden(d), true
	}
	return nil, false
}

func shWiden[T int32 | int16 | int8 | uint8 | uint16 | uint32 | uint64](d []T) []int64 {
	out := make([]int64, len(d))
	for i, v := range d {
		out[i] = int64(v)
	}
	return out
}

// symFromTensor gives the content of a small integer tensor of rank ≤ 1.
func symFromTensor(t *Tensor) ([]onnx.Dim, bool) {
	if t == nil || t.Kind != KindTensor || t.Rank() > 1 || t.Len() > maxSymLen || !t.DType.IsInteger() {
		return nil, false
	}
	v, ok := tensorInts(t)
	if !ok {
		return nil, false
	}
	out := make([]onnx.Dim, len(v))
	for i, x := range v {
		out[i] = onnx.D(x)
	}
	return out, true
}

// mergeType combines a declared type with an inferred one, keeping the more
// specific of each part. Declared static dimensions always win; when both
// are symbolic, preferDeclared keeps the declared name (graph interfaces).
// Disagreements are appended to warn.
func mergeType(decl, inf *onnx.Type, preferDeclared bool, warn *[]string) *onnx.Type {
	w := func(format string, args ...any) {
		if warn != nil {
			*warn = append(*warn, fmt.Sprintf(format, args...))
		}
	}
	if decl == nil || decl.Kind == onnx.TypeNone {
		return inf.Clone()
	}
	if inf == nil || inf.Kind == onnx.TypeNone {
		return decl.Clone()
	}
	if decl.Kind != inf.Kind {
		w("declared %s, inferred %s; keeping the declared type", decl, inf)
		return decl.Clone()
	}
	out := decl.Clone()
	switch decl.Kind {
	case onnx.TypeSequence, onnx.TypeOptional:
		out.Inner = mergeType(decl.Inner, inf.Inner, preferDeclared, warn)
		return out
	case onnx.TypeTensor, onnx.TypeSparseTensor:
	default:
		return out
	}
	if out.Elem == onnx.Undefined {
		out.Elem = inf.Elem
	} else if inf.Elem != onnx.Undefined && inf.Elem != decl.Elem {
		w("declared %s, inferred %s; keeping the declared type", decl, inf)
		return out
	}
	if !inf.HasShape() {
		return out
	}
	if !decl.HasShape() {
		out.SetShape(append(onnx.Shape{}, inf.Shape...))
		return out
	}
	if len(decl.Shape) != len(inf.Shape) {
		w("declared %s, inferred %s (rank differs); keeping the declared type", decl, inf)
		return out
	}
	for i, d := range decl.Shape {
		e := inf.Shape[i]
		switch {
		case d.Kind == onnx.DimValue:
			if e.Kind == onnx.DimValue && e.Value != d.Value {
				w("declared %s, inferred %s (dimension %d differs); keeping the declared dimension", decl, inf, i)
			}
		case e.Kind == onnx.DimValue:
			out.Shape[i] = e
		case d.Kind == onnx.DimParam && preferDeclared:
		case e.Kind == onnx.DimParam:
			out.Shape[i] = e
		}
	}
	return out
}

// joinType is the most specific type that covers both (If branches, loop
// iterations): dims that differ become unknown.
func joinType(a, b *onnx.Type) *onnx.Type {
	if a == nil || b == nil || a.Kind != b.Kind {
		return nil
	}
	out := a.Clone()
	switch a.Kind {
	case onnx.TypeSequence, onnx.TypeOptional:
		out.Inner = joinType(a.Inner, b.Inner)
		return out
	}
	if a.Elem != b.Elem {
		out.Elem = onnx.Undefined
	}
	if !a.HasShape() || !b.HasShape() || len(a.Shape) != len(b.Shape) {
		out.SetShape(nil)
		return out
	}
	for i := range out.Shape {
		if !dimEq(a.Shape[i], b.Shape[i]) {
			out.Shape[i] = onnx.Dim{}
		}
	}
	return out
}

// inferCall infers a call of a model-local function by inferring its body
// with the caller's input types, then restores the body's declared types.
func (st *shapeState) inferCall(c *ShapeCtx, f *onnx.Function) {
	if f.Body == nil || st.depth > onnx.MaxGraphDepth {
		return
	}
	body := f.Body
	// Attributes that refer to the caller's attributes take their values.
	type saved struct {
		n     *onnx.Node
		attrs []*onnx.Attribute
	}
	var restore []saved
	defaults := map[string]*onnx.Attribute{}
	for _, a := range f.AttrProtos {
		defaults[a.Name] = a
	}
	for _, n := range body.Nodes {
		changed := false
		attrs := append([]*onnx.Attribute(nil), n.Attrs...)
		var kept []*onnx.Attribute
		for _, a := range n.Attrs {
			if a.RefAttrName == "" {
				kept = append(kept, a)
				continue
			}
			changed = true
			src := c.Node.Attr(a.RefAttrName)
			if src == nil {
				src = defaults[a.RefAttrName]
			}
			if src != nil {
				b := *src
				b.Name = a.Name
				b.RefAttrName = ""
				kept = append(kept, &b)
			}
		}
		if changed {
			restore = append(restore, saved{n, attrs})
			n.Attrs = kept
		}
	}
	vals := body.Values()
	for _, v := range vals {
		v.Type = st.declared[v].Clone()
		delete(st.info.Symbolic, v)
		delete(st.info.Consts, v)
	}
	for i, v := range body.Inputs {
		if i < len(c.In) {
			v.Type = c.In[i].Clone()
			if c.Sym[i] != nil {
				st.info.Symbolic[v] = c.Sym[i]
			}
			if c.Const[i] != nil {
				st.info.Consts[v] = c.Const[i]
			}
		}
	}
	saveM := st.m
	if len(f.Opsets) > 0 {
		st.m = &onnx.Model{Opsets: mergeOpsets(f.Opsets, saveM.Opsets), Functions: saveM.Functions}
	}
	if err := st.inferGraph(body); err != nil {
		st.warnf("function %s: %v", f.Name, err)
	}
	st.m = saveM
	for i, v := range body.Outputs {
		if i < len(c.Out) {
			c.Out[i] = v.Type.Clone()
			c.OutSym[i] = st.info.Symbolic[v]
			c.OutConst[i] = st.info.Consts[v]
		}
	}
	for _, v := range vals {
		v.Type = st.declared[v].Clone()
		delete(st.info.Symbolic, v)
		delete(st.info.Consts, v)
	}
	for _, r := range restore {
		r.n.Attrs = r.attrs
	}
}

func mergeOpsets(a, b []onnx.OpsetID) []onnx.OpsetID {
	out := append([]onnx.OpsetID{}, a...)
	for _, o := range b {
		found := false
		for _, p := range a {
			if p.Domain == o.Domain {
				found = true
			}
		}
		if !found {
			out = append(out, o)
		}
	}
	return out
}

// ---- dimension arithmetic ----

var unknownDim = onnx.Dim{}

// dimEq reports whether two dims are known to be equal.
func dimEq(a, b onnx.Dim) bool {
	switch {
	case a.Kind == onnx.DimValue && b.Kind == onnx.DimValue:
		return a.Value == b.Value
	case a.Kind == onnx.DimParam && b.Kind == onnx.DimParam:
		return a.Param == b.Param
	}
	return false
}

func dimIs(d onnx.Dim, v int64) bool { return d.Kind == onnx.DimValue && d.Value == v }

// clean drops denotations so that dims compare by value.
func shClean(d onnx.Dim) onnx.Dim { d.Denotation = ""; return d }

// dimOp applies static arithmetic, keeping a symbol through identities
// (x+0, x-0, x*1, x/1) and giving unknown otherwise.
func dimOp(op byte, a, b onnx.Dim) onnx.Dim {
	if a.IsStatic() && b.IsStatic() {
		x, y := a.Value, b.Value
		switch op {
		case '+':
			return onnx.D(x + y)
		case '-':
			return onnx.D(x - y)
		case '*':
			return onnx.D(x * y)
		case '/':
			if y == 0 {
				return unknownDim
			}
			return onnx.D(x / y) // ONNX integer Div truncates, as Go does
		}
	}
	switch op {
	case '+':
		if dimIs(b, 0) {
			return a
		}
		if dimIs(a, 0) {
			return b
		}
	case '-':
		if dimIs(b, 0) {
			return a
		}
		if dimEq(a, b) {
			return onnx.D(0)
		}
	case '*':
		if dimIs(b, 1) {
			return a
		}
		if dimIs(a, 1) {
			return b
		}
		if dimIs(a, 0) || dimIs(b, 0) {
			return onnx.D(0)
		}
	case '/':
		if dimIs(b, 1) {
			return a
		}
		if dimEq(a, b) {
			return onnx.D(1)
		}
	}
	return unknownDim
}

// symProduct is a product of dims: a number times symbols, or unknown.
type symProduct struct {
	coef    int64
	syms    map[string]int
	unknown bool
}

func productOf(ds []onnx.Dim) symProduct {
	p := symProduct{coef: 1, syms: map[string]int{}}
	for _, d := range ds {
		p.mul(d)
	}
	return p
}

func (p *symProduct) mul(d onnx.Dim) {
	switch d.Kind {
	case onnx.DimValue:
		p.coef *= d.Value
	case onnx.DimParam:
		p.syms[d.Param]++
	default:
		p.unknown = true
	}
}

// dim turns the product back into one dim when it is a number or one symbol.
func (p symProduct) dim() onnx.Dim {
	if p.coef == 0 {
		return onnx.D(0)
	}
	if p.unknown {
		return unknownDim
	}
	n := 0
	var name string
	for s, k := range p.syms {
		n += k
		name = s
	}
	switch {
	case n == 0:
		return onnx.D(p.coef)
	case n == 1 && p.coef == 1:
		return onnx.Sym(name)
	}
	return unknownDim
}

// div divides p by q when the quotient is a number or a single symbol.
func (p symProduct) div(q symProduct) onnx.Dim {
	if p.unknown || q.unknown || q.coef == 0 || p.coef%q.coef != 0 {
		return unknownDim
	}
	r := symProduct{coef: p.coef / q.coef, syms: map[string]int{}}
	for s, k := range p.syms {
		r.syms[s] = k
	}
	for s, k := range q.syms {
		if r.syms[s] < k {
			return unknownDim
		}
		r.syms[s] -= k
		if r.syms[s] == 0 {
			delete(r.syms, s)
		}
	}
	return r.dim()
}

// prodDim is the product of dims as one dim, or unknown.
func prodDim(ds []onnx.Dim) onnx.Dim { return productOf(ds).dim() }

// broadcastDim combines two dims under numpy broadcasting.
func broadcastDim(a, b onnx.Dim) (onnx.Dim, error) {
	a, b = shClean(a), shClean(b)
	switch {
	case dimIs(a, 1):
		return b, nil
	case dimIs(b, 1):
		return a, nil
	case a.IsStatic() && b.IsStatic():
		if a.Value != b.Value {
			return unknownDim, fmt.Errorf("dimensions %d and %d cannot be broadcast", a.Value, b.Value)
		}
		return a, nil
	case a.IsStatic():
		return a, nil // b must be 1 or equal to a
	case b.IsStatic():
		return b, nil
	case dimEq(a, b):
		return a, nil
	}
	return unknownDim, nil
}

// broadcastShapes is the multidirectional broadcast of shapes; nil (unknown
// rank) when any input's rank is unknown.
func broadcastShapes(shapes ...onnx.Shape) (onnx.Shape, error) {
	r := 0
	for _, s := range shapes {
		if s == nil {
			return nil, nil
		}
		r = max(r, len(s))
	}
	out := make(onnx.Shape, r)
	for i := range out {
		out[i] = onnx.D(1)
	}
	for _, s := range shapes {
		off := r - len(s)
		for i, d := range s {
			b, err := broadcastDim(out[off+i], d)
			if err != nil {
				return nil, fmt.Errorf("shapes %s cannot be broadcast: %v", shapesString(shapes), err)
			}
			out[off+i] = b
		}
	}
	return out, nil
}

func shapesString(shapes []onnx.Shape) string {
	parts := make([]string, len(shapes))
	for i, s := range shapes {
		parts[i] = s.String()
	}
	return strings.Join(parts, " and ")
}

// shAxis makes a possibly negative axis non-negative for rank r.
func shAxis(a int64, r int) (int, error) {
	if a < -int64(r) || a >= int64(r) {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", a, r)
	}
	if a < 0 {
		a += int64(r)
	}
	return int(a), nil
}

func shUnknown(r int) onnx.Shape { return make(onnx.Shape, r) }

func shStatic(vals []int64) onnx.Shape { return onnx.ShapeOf(vals...) }
