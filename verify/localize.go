package verify

import (
	"fmt"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Divergence is the first node of the candidate whose output differs from the
// value of the same name in the reference.
type Divergence struct {
	Node   string       `json:"node"`
	Op     string       `json:"op"`
	Output string       `json:"output"`
	Index  int          `json:"index"` // position of the node in the candidate's topological order
	Error  OutputReport `json:"error"`
	// Compared is the number of values compared (names present in both models).
	Compared int `json:"compared"`
}

func (d *Divergence) String() string {
	return fmt.Sprintf("first divergence at node %q (%s), output %q: max abs err %.3g, rel L2 %.3g, cosine %.6f",
		d.Node, d.Op, d.Output, float64(d.Error.MaxAbsErr), float64(d.Error.RelL2), float64(d.Error.Cosine))
}

// Localize finds the first node, in topological order of b, whose output
// diverges beyond tol from the value of the same name in a, on one feed of
// inputs (nil: the first seeded random sample). Only values whose names exist
// in both models are compared, as Polygraphy's and MNN's tools do. The models
// are not modified: every intermediate is exposed as a graph output on fresh
// copies. It returns nil when no corresponding value diverges.
func Localize(a, b *onnx.Model, inputs map[string]*interp.Tensor, tol Tolerance, opts interp.Options) (*Divergence, error) {
	ca, namesA, err := exposeAll(a)
	if err != nil {
		return nil, fmt.Errorf("copying the original model: %w", err)
	}
	cb, _, err := exposeAll(b)
	if err != nil {
		return nil, fmt.Errorf("copying the optimized model: %w", err)
	}
	sa, err := interp.NewSession(ca, opts)
	if err != nil {
		return nil, &ReferenceError{Inputs: "generated inputs", Err: err}
	}
	sb, err := interp.NewSession(cb, opts)
	if err != nil {
		return nil, &CandidateError{Err: err}
	}
	if inputs == nil {
		r, err := OpenInputs(sa.Inputs(), Options{Samples: 1})
		if err != nil {
			return nil, err
		}
		batch, err := r.Next()
		if err != nil {
			return nil, err
		}
		inputs = batch.Inputs
	}
	outA, err := sa.Run(inputs)
	if err != nil {
		return nil, &ReferenceError{Inputs: "the given inputs", Err: err}
	}
	outB, err := sb.Run(inputs)
	if err != nil {
		return nil, &CandidateError{Err: err}
	}
	byName := map[string]*interp.Tensor{}
	for i, v := range sa.Outputs() {
		if namesA[v.Name] {
			byName[v.Name] = outA[i]
		}
	}
	posB := map[string]int{}
	for i, v := range sb.Outputs() {
		posB[v.Name] = i
	}
	compared := 0
	for i, n := range cb.Graph.Nodes {
		for _, v := range n.Outputs() {
			if v == nil || v.Name == "" {
				continue
			}
			ta, ok := byName[v.Name]
			j, okB := posB[v.Name]
			if !ok || !okB {
				continue
			}
			compared++
			c := newAcc(v.Name, tol)
			if err := c.add(0, ta, outB[j]); err != nil {
				return nil, fmt.Errorf("value %q: %w", v.Name, err)
			}
			rep := c.report()
			if rep.failure(tol) != "" {
				return &Divergence{Node: n.Name, Op: n.OpType, Output: v.Name, Index: i, Error: rep, Compared: compared}, nil
			}
		}
	}
	return nil, nil
}

// exposeAll decodes a fresh copy of m whose main graph outputs every node
// output, and returns the names of the values it exposes.
func exposeAll(m *onnx.Model) (*onnx.Model, map[string]bool, error) {
	data, err := onnx.Encode(m)
	if err != nil {
		return nil, nil, err
	}
	c, err := onnx.Decode(data)
	if err != nil {
		return nil, nil, err
	}
	c.Dir = m.Dir
	g := c.Graph
	if err := g.TopoSort(); err != nil {
		return nil, nil, err
	}
	names := map[string]bool{}
	for _, v := range g.Outputs {
		names[v.Name] = true
	}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs() {
			if v == nil || v.Name == "" || names[v.Name] {
				continue
			}
			// Only tensors (or values of unknown type) can be compared.
			if v.Type != nil && v.Type.Kind != onnx.TypeTensor {
				continue
			}
			names[v.Name] = true
			g.Outputs = append(g.Outputs, v)
		}
	}
	return c, names, nil
}
