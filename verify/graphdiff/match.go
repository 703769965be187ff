// Package graphdiff compares two ONNX models for code review: which nodes were
// added, removed or changed, attribute and initializer changes, I/O signature
// changes, and the op histogram, parameter, size and FLOPs deltas. Nodes are
// matched by name first, then by op type and matched inputs, so renamed but
// otherwise equal nodes match. Output is deterministic: the same models give
// the same bytes.
package graphdiff

import (
	"sort"
	"strings"

	"github.com/onnxslim/onnxslim/onnx"
)

// matching pairs the main-graph nodes and values of two models.
type matching struct {
	a, b    []*onnx.Node
	ab      map[*onnx.Node]*onnx.Node
	ba      map[*onnx.Node]*onnx.Node
	vals    map[*onnx.Value]*onnx.Value // A value → corresponding B value
	renamed int
}

func nodesOf(m *onnx.Model) []*onnx.Node {
	if m == nil || m.Graph == nil {
		return nil
	}
	return m.Graph.Nodes
}

func match(a, b *onnx.Model) *matching {
	mt := &matching{a: nodesOf(a), b: nodesOf(b), ab: map[*onnx.Node]*onnx.Node{}, ba: map[*onnx.Node]*onnx.Node{}, vals: map[*onnx.Value]*onnx.Value{}}
	// Graph inputs and initializers correspond by name.
	if a != nil && a.Graph != nil && b != nil && b.Graph != nil {
		bv := map[string]*onnx.Value{}
		for _, v := range append(append([]*onnx.Value{}, b.Graph.Inputs...), b.Graph.Initializers...) {
			bv[v.Name] = v
		}
		for _, v := range append(append([]*onnx.Value{}, a.Graph.Inputs...), a.Graph.Initializers...) {
			if w, ok := bv[v.Name]; ok {
				mt.vals[v] = w
			}
		}
	}
	// 1. By name, where the name is unique on both sides.
	byName := uniqueNames(mt.b)
	for n, c := range uniqueNames(mt.a) {
		if bn, ok := byName[n]; ok && c != nil && bn != nil {
			mt.pair(c, bn)
		}
	}
	// 2. By op type and corresponding inputs, then 3. by op type and
	// corresponding non-constant inputs (a rewritten weight keeps its node),
	// each repeated while matches enable more matches downstream.
	for _, loose := range []bool{false, true} {
		for {
			if mt.structural(loose) == 0 {
				break
			}
		}
	}
	return mt
}

// uniqueNames maps names used by exactly one node to it (nil when repeated).
func uniqueNames(ns []*onnx.Node) map[string]*onnx.Node {
	m := map[string]*onnx.Node{}
	for _, n := range ns {
		if n.Name == "" {
			continue
		}
		if _, dup := m[n.Name]; dup {
			m[n.Name] = nil
			continue
		}
		m[n.Name] = n
	}
	return m
}

func (mt *matching) pair(a, b *onnx.Node) {
	mt.ab[a], mt.ba[b] = b, a
	if a.Name != b.Name {
		mt.renamed++
	}
	oa, ob := a.Outputs(), b.Outputs()
	for i := range min(len(oa), len(ob)) {
		if oa[i] != nil && ob[i] != nil {
			mt.vals[oa[i]] = ob[i]
		}
	}
	ia, ib := a.Inputs(), b.Inputs()
	for i := range min(len(ia), len(ib)) {
		if ia[i] != nil && ib[i] != nil && ia[i].IsConst() && ib[i].IsConst() {
			if _, ok := mt.vals[ia[i]]; !ok {
				mt.vals[ia[i]] = ib[i]
			}
		}
	}
}

// structural matches unmatched nodes with the same op whose inputs
// correspond; loose ignores constant inputs. It returns the matches made.
func (mt *matching) structural(loose bool) int {
	index := map[string][]*onnx.Node{}
	for _, n := range mt.a {
		if _, done := mt.ab[n]; done {
			continue
		}
		k := mt.key(n, true, loose)
		index[k] = append(index[k], n)
	}
	made := 0
	for _, n := range mt.b {
		if _, done := mt.ba[n]; done {
			continue
		}
		k := mt.key(n, false, loose)
		if cands := index[k]; len(cands) > 0 {
			mt.pair(cands[0], n)
			index[k] = cands[1:]
			made++
		}
	}
	return made
}

// key identifies a node by op and inputs in B's terms: an A input is named by
// the B value it corresponds to, else by its own name.
func (mt *matching) key(n *onnx.Node, isA, loose bool) string {
	var b strings.Builder
	b.WriteString(n.Domain)
	b.WriteByte('.')
	b.WriteString(n.OpType)
	for _, v := range n.Inputs() {
		b.WriteByte('|')
		switch {
		case v == nil:
		case loose && v.IsConst():
			b.WriteString("<const>")
		case isA && mt.vals[v] != nil:
			b.WriteString(mt.vals[v].Name)
		default:
			b.WriteString(v.Name)
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
