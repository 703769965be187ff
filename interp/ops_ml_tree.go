package interp

import (
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// Tree ensembles: TreeEnsemble (ai.onnx.ml 5) and the classic
// TreeEnsembleClassifier and TreeEnsembleRegressor (ai.onnx.ml 1 and 3) that
// skl2onnx writes. All three compile to one form, trees of treeNode with
// leaves holding (target, weight) lists, and share the walker; they differ in
// how leaf weights become scores. The classic ops follow ONNX Runtime, whose
// results their exporters are checked against (see treeClassifier.finish).

type treeNode struct {
	mode           uint8 // 0 LEQ, 1 LT, 2 GTE, 3 GT, 4 EQ, 5 NEQ, 6 MEMBER
	split          float64
	set            map[float64]bool
	feature        int
	missingTrue    bool
	tChild, fChild int // ≥ 0: node index; < 0: leaf -1-index
}

// treeEnsemble is the compiled form: leaf l's weights are
// leafW[leafStart[l]:leafStart[l+1]], for targets leafT of the same range.
type treeEnsemble struct {
	nodes      []treeNode
	roots      []int // encoded like children
	leafStart  []int
	leafW      []float64
	leafT      []int
	nTargets   int
	maxFeature int
}

func intsAttr(b *Build, name string) []int64 { return b.Ints(name, nil) }

// addLeaf appends a leaf with the given weights and returns its encoding.
func (te *treeEnsemble) addLeaf(targets []int, weights []float64) int {
	if te.leafStart == nil {
		te.leafStart = []int{0}
	}
	te.leafT = append(te.leafT, targets...)
	te.leafW = append(te.leafW, weights...)
	te.leafStart = append(te.leafStart, len(te.leafW))
	return -len(te.leafStart) + 1
}

// check rejects features out of range of the model's own attributes and
// cycles, so that walking a tree always ends at a leaf.
func (te *treeEnsemble) check() error {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(te.nodes))
	var visit func(i, depth int) error
	visit = func(i, depth int) error {
		if i < 0 {
			return nil
		}
		switch state[i] {
		case onPath:
			return fmt.Errorf("the trees contain a cycle through node %d", i)
		case done:
			return nil
		}
		if depth > len(te.nodes) {
			return fmt.Errorf("the trees contain a cycle through node %d", i)
		}
		state[i] = onPath
		nd := &te.nodes[i]
		te.maxFeature = max(te.maxFeature, nd.feature)
		if err := visit(nd.tChild, depth+1); err != nil {
			return err
		}
		if err := visit(nd.fChild, depth+1); err != nil {
			return err
		}
		state[i] = done
		return nil
	}
	for _, r := range te.roots {
		if err := visit(r, 0); err != nil {
			return err
		}
	}
	return nil
}

func (nd *treeNode) goesTrue(x float64) bool {
	if math.IsNaN(x) && nd.missingTrue {
		return true
	}
	switch nd.mode {
	case 0:
		return x <= nd.split
	case 1:
		return x < nd.split
	case 2:
		return x >= nd.split
	case 3:
		return x > nd.split
	case 4:
		return x == nd.split
	case 5:
		return x != nd.split
	}
	return nd.set[x]
}

// leaf walks the tree from root c (checked acyclic) to its leaf index.
func (te *treeEnsemble) leaf(c int, row []float64) int {
	for c >= 0 {
		nd := &te.nodes[c]
		if nd.goesTrue(row[nd.feature]) {
			c = nd.tChild
		} else {
			c = nd.fChild
		}
	}
	return -1 - c
}

// rows reads the input [N, F] (or [F], one row) as float64 rows, checking
// that every feature the trees test exists.
func (te *treeEnsemble) rows(x *Tensor) (xv []float64, n, f int, err error) {
	if xv, n, f, err = mlRows(x); err == nil && len(te.nodes) > 0 && te.maxFeature >= f {
		err = fmt.Errorf("the trees test feature %d but the input has %d features", te.maxFeature, f)
	}
	return xv, n, f, err
}

// scoreRow adds up (or takes the min or max of) the leaf weights of one row
// per target, marking the targets that got any: ONNX Runtime's "has_score".
func (te *treeEnsemble) scoreRow(row []float64, agg string, y []float64, has []bool) {
	for i := range y {
		y[i], has[i] = 0, false
	}
	for _, r := range te.roots {
		l := te.leaf(r, row)
		for k := te.leafStart[l]; k < te.leafStart[l+1]; k++ {
			t, w := te.leafT[k], te.leafW[k]
			switch {
			case agg == "MIN" && has[t]:
				y[t] = min(y[t], w)
			case agg == "MAX" && has[t]:
				y[t] = max(y[t], w)
			case agg == "MIN" || agg == "MAX":
				y[t] = w
			default:
				y[t] += w
			}
			has[t] = true
		}
	}
}

// ---- TreeEnsemble (ml opset 5) ----

// treeEnsembleV5 keeps TreeEnsemble's own definition of MIN and MAX: they
// start from the type's extremes (ONNX's reference), not from the first leaf.
type treeEnsembleV5 struct {
	*treeEnsemble
	aggregate int64
	post      int64
}

func treeEnsembleBuilder(b *Build) (Kernel, error) {
	te := &treeEnsemble{nTargets: int(b.Int("n_targets", 0)), leafStart: []int{0}}
	v5 := &treeEnsembleV5{treeEnsemble: te, aggregate: b.Int("aggregate_function", 1), post: b.Int("post_transform", 0)}
	if v5.aggregate < 0 || v5.aggregate > 3 {
		return nil, fmt.Errorf("unknown aggregate_function %d", v5.aggregate)
	}
	feat, tIDs, fIDs := intsAttr(b, "nodes_featureids"), intsAttr(b, "nodes_truenodeids"), intsAttr(b, "nodes_falsenodeids")
	tLeaf, fLeaf := intsAttr(b, "nodes_trueleafs"), intsAttr(b, "nodes_falseleafs")
	missing := intsAttr(b, "nodes_missing_value_tracks_true")
	floatsOf := func(name string) ([]float64, error) {
		t, err := b.Tensor(name)
		if err != nil || t == nil {
			return nil, err
		}
		return numbersAsFloat64(t)
	}
	modesT, err := b.Tensor("nodes_modes")
	if err != nil || modesT == nil {
		return nil, fmt.Errorf("nodes_modes is required")
	}
	modes, err := toInt64s(modesT)
	if err != nil {
		return nil, err
	}
	splits, err := floatsOf("nodes_splits")
	if err != nil {
		return nil, err
	}
	members, err := floatsOf("membership_values")
	if err != nil {
		return nil, err
	}
	leafW, err := floatsOf("leaf_weights")
	if err != nil {
		return nil, err
	}
	n := len(modes)
	if len(feat) != n || len(tIDs) != n || len(fIDs) != n || len(tLeaf) != n || len(fLeaf) != n || len(splits) != n || (missing != nil && len(missing) != n) {
		return nil, fmt.Errorf("the nodes_* attributes differ in length")
	}
	lt := intsAttr(b, "leaf_targetids")
	if len(lt) != len(leafW) {
		return nil, fmt.Errorf("leaf_targetids and leaf_weights differ in length")
	}
	for i, t := range lt {
		if t < 0 || t >= int64(te.nTargets) {
			return nil, fmt.Errorf("leaf target %d is out of range for %d targets", t, te.nTargets)
		}
		te.addLeaf([]int{int(t)}, leafW[i:i+1])
	}
	child := func(id, leaf int64) (int, error) {
		if leaf != 0 {
			if id < 0 || id >= int64(len(leafW)) {
				return 0, fmt.Errorf("leaf index %d is out of range", id)
			}
			return -1 - int(id), nil
		}
		if id < 0 || id >= int64(n) {
			return 0, fmt.Errorf("node index %d is out of range", id)
		}
		return int(id), nil
	}
	mi := 0
	for i := range n {
		nd := treeNode{mode: uint8(modes[i]), split: splits[i], feature: int(feat[i]), missingTrue: missing != nil && missing[i] != 0}
		if modes[i] < 0 || modes[i] > 6 || nd.feature < 0 {
			return nil, fmt.Errorf("bad mode %d or feature %d at node %d", modes[i], nd.feature, i)
		}
		if nd.mode == 6 { // the next NaN-terminated run of membership_values
			nd.set = map[float64]bool{}
			for mi < len(members) && !math.IsNaN(members[mi]) {
				nd.set[members[mi]] = true
				mi++
			}
			mi++
		}
		if nd.tChild, err = child(tIDs[i], tLeaf[i]); err != nil {
			return nil, err
		}
		if nd.fChild, err = child(fIDs[i], fLeaf[i]); err != nil {
			return nil, err
		}
		te.nodes = append(te.nodes, nd)
	}
	for _, r := range intsAttr(b, "tree_roots") {
		if r < 0 || r >= int64(n) {
			return nil, fmt.Errorf("tree root %d is out of range", r)
		}
		nd := te.nodes[r]
		if tLeaf[r] != 0 && fLeaf[r] != 0 && nd.tChild == nd.fChild {
			te.roots = append(te.roots, nd.tChild) // a tree that is a single leaf
		} else {
			te.roots = append(te.roots, int(r))
		}
	}
	if err := te.check(); err != nil {
		return nil, err
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		out, err := v5.run(ctx, in[0])
		return []*Tensor{out}, err
	}, nil
}

func (v5 *treeEnsembleV5) run(ctx *Ctx, x *Tensor) (*Tensor, error) {
	xv, rows, f, err := v5.rows(x)
	if err != nil {
		return nil, err
	}
	nt := v5.nTargets
	res := make([]float64, rows*nt)
	has := make([]bool, nt)
	names := [...]string{"AVERAGE", "SUM", "MIN", "MAX"}
	extreme := float64(math.MaxFloat32)
	if x.DType == onnx.Double {
		extreme = math.MaxFloat64
	}
	for r := range rows {
		y := res[r*nt : (r+1)*nt]
		v5.scoreRow(xv[r*f:(r+1)*f], names[v5.aggregate], y, has)
		for i := range y {
			switch {
			case v5.aggregate == 0:
				y[i] /= float64(len(v5.roots))
			case has[i]:
			case v5.aggregate == 2:
				y[i] = extreme
			case v5.aggregate == 3:
				y[i] = -extreme
			}
		}
		mlPostTransform(y, v5.post)
	}
	return tensorFromFloat64s(ctx, x.DType, []int{rows, nt}, res)
}

// mlPostTransform applies post_transform (NONE, SOFTMAX, LOGISTIC,
// SOFTMAX_ZERO, PROBIT) to one row of scores.
func mlPostTransform(y []float64, post int64) {
	switch post {
	case 1, 3:
		m := math.Inf(-1)
		for _, v := range y {
			if post == 1 || v != 0 {
				m = max(m, v)
			}
		}
		s := 0.0
		for i, v := range y {
			if post == 3 && v == 0 {
				continue
			}
			y[i] = math.Exp(v - m)
			s += y[i]
		}
		for i := range y {
			if s > 0 {
				y[i] /= s
			}
		}
	case 2:
		for i, v := range y {
			y[i] = mlLogistic(v)
		}
	case 4:
		for i, v := range y {
			y[i] = mlProbit(v)
		}
	}
}

func mlLogistic(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

// mlProbit is √2·erfinv(2v-1) with erfinv in Winitzki's approximation
// (a = 0.147), as ONNX Runtime and ONNX's reference implementation compute
// it: the exact inverse differs from theirs by up to 2e-3.
func mlProbit(v float64) float64 {
	x := 2*v - 1
	sgn := 1.0
	if x < 0 {
		sgn = -1
	}
	l := math.Log((1 - x) * (1 + x))
	a := 2/(math.Pi*0.147) + 0.5*l
	return math.Sqrt2 * sgn * math.Sqrt(-a+math.Sqrt(a*a-l/0.147))
}

// postNames are post_transform's values; their index is TreeEnsemble's code.
var postNames = map[string]int64{"NONE": 0, "SOFTMAX": 1, "LOGISTIC": 2, "SOFTMAX_ZERO": 3, "PROBIT": 4}

func mlPost(b *Build) (int64, error) {
	s := b.String("post_transform", "NONE")
	p, ok := postNames[s]
	if !ok {
		return 0, fmt.Errorf("unknown post_transform %q", s)
	}
	return p, nil
}

// ---- TreeEnsembleClassifier, TreeEnsembleRegressor (ml opsets 1, 3) ----

// mlStrings reads a STRINGS attribute.
func mlStrings(b *Build, name string) []string {
	a := b.Node.Attr(name)
	if a == nil {
		return nil
	}
	out := make([]string, len(a.Strings))
	for i, s := range a.Strings {
		out[i] = string(s)
	}
	return out
}

// mlFloats reads name (FLOATS) or, from ai.onnx.ml 3, name_as_tensor (a
// double tensor); nil when both are absent.
func mlFloats(b *Build, name string) ([]float64, error) {
	t, err := b.Tensor(name + "_as_tensor")
	if err != nil {
		return nil, err
	}
	if t != nil {
		if b.Has(name) {
			return nil, fmt.Errorf("both %s and %s_as_tensor are set", name, name)
		}
		return numbersAsFloat64(t)
	}
	f := b.Floats(name, nil)
	if f == nil {
		return nil, nil
	}
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out, nil
}

var classicModes = map[string]uint8{"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4, "BRANCH_NEQ": 5, "LEAF": 255}

// classicTrees compiles the nodes_* attributes and the leaf weights
// (prefix "class" or "target": *_treeids, *_nodeids, *_ids, *_weights) of
// the classic tree ops. Nodes are named by (tree id, node id); the first
// node of each tree is its root. nTargets bounds the weights' target ids.
func classicTrees(b *Build, prefix string, nTargets int) (*treeEnsemble, error) {
	te := &treeEnsemble{nTargets: nTargets}
	treeIDs, nodeIDs := intsAttr(b, "nodes_treeids"), intsAttr(b, "nodes_nodeids")
	feat, tIDs, fIDs := intsAttr(b, "nodes_featureids"), intsAttr(b, "nodes_truenodeids"), intsAttr(b, "nodes_falsenodeids")
	missing := intsAttr(b, "nodes_missing_value_tracks_true")
	modes := mlStrings(b, "nodes_modes")
	values, err := mlFloats(b, "nodes_values")
	if err != nil {
		return nil, err
	}
	n := len(treeIDs)
	if len(nodeIDs) != n || len(feat) != n || len(modes) != n || len(tIDs) != n || len(fIDs) != n ||
		len(values) != n || (missing != nil && len(missing) != n) {
		return nil, fmt.Errorf("the nodes_* attributes differ in length (%d tree ids, %d node ids, %d features, %d modes, %d values, %d true ids, %d false ids)",
			n, len(nodeIDs), len(feat), len(modes), len(values), len(tIDs), len(fIDs))
	}
	type key struct{ tree, node int64 }
	index := make(map[key]int, n)
	for i := range n {
		k := key{treeIDs[i], nodeIDs[i]}
		if _, dup := index[k]; dup {
			return nil, fmt.Errorf("node %d of tree %d is defined twice", k.node, k.tree)
		}
		index[k] = i
	}
	// Leaf weights, grouped by node in the order given.
	wTree, wNode, wIDs := intsAttr(b, prefix+"_treeids"), intsAttr(b, prefix+"_nodeids"), intsAttr(b, prefix+"_ids")
	weights, err := mlFloats(b, prefix+"_weights")
	if err != nil {
		return nil, err
	}
	if len(wNode) != len(wTree) || len(wIDs) != len(wTree) || len(weights) != len(wTree) {
		return nil, fmt.Errorf("the %s_* attributes differ in length (%d tree ids, %d node ids, %d ids, %d weights)",
			prefix, len(wTree), len(wNode), len(wIDs), len(weights))
	}
	leafTargets := make(map[int][]int)
	leafWeights := make(map[int][]float64)
	for i := range wTree {
		j, ok := index[key{wTree[i], wNode[i]}]
		if !ok {
			return nil, fmt.Errorf("%s weight %d is for node %d of tree %d, which does not exist", prefix, i, wNode[i], wTree[i])
		}
		if wIDs[i] < 0 || wIDs[i] >= int64(nTargets) {
			return nil, fmt.Errorf("%s_ids[%d] = %d is out of range for %d %s", prefix, i, wIDs[i], nTargets, map[string]string{"class": "classes", "target": "targets"}[prefix])
		}
		// Weights on a branch are ignored, as ONNX Runtime does: old
		// onnxmltools exports have them.
		leafTargets[j] = append(leafTargets[j], int(wIDs[i]))
		leafWeights[j] = append(leafWeights[j], weights[i])
	}
	enc := make([]int, n) // node i's encoding as a child
	for i := range n {
		m, ok := classicModes[modes[i]]
		if !ok {
			return nil, fmt.Errorf("unknown mode %q at node %d of tree %d", modes[i], nodeIDs[i], treeIDs[i])
		}
		if m == 255 {
			enc[i] = te.addLeaf(leafTargets[i], leafWeights[i])
			continue
		}
		if feat[i] < 0 {
			return nil, fmt.Errorf("negative feature %d at node %d of tree %d", feat[i], nodeIDs[i], treeIDs[i])
		}
		enc[i] = len(te.nodes)
		te.nodes = append(te.nodes, treeNode{mode: m, split: values[i], feature: int(feat[i]), missingTrue: missing != nil && missing[i] != 0})
	}
	if te.leafStart == nil {
		te.leafStart = []int{0}
	}
	seen := map[int64]bool{}
	for i := range n {
		if !seen[treeIDs[i]] {
			seen[treeIDs[i]] = true
			te.roots = append(te.roots, enc[i])
		}
		if enc[i] < 0 {
			continue
		}
		nd := &te.nodes[enc[i]]
		for _, c := range []struct {
			id  int64
			dst *int
		}{{tIDs[i], &nd.tChild}, {fIDs[i], &nd.fChild}} {
			j, ok := index[key{treeIDs[i], c.id}]
			if !ok {
				return nil, fmt.Errorf("node %d of tree %d points to node %d, which does not exist", nodeIDs[i], treeIDs[i], c.id)
			}
			*c.dst = enc[j]
		}
	}
	return te, te.check()
}

// treeClassifier is TreeEnsembleClassifier: leaf weights summed per class,
// plus base_values, then post_transform.
type treeClassifier struct {
	te          *treeEnsemble
	labels      *Tensor // int64 or string, one per class
	base        []float64
	post        int64
	binary      bool // two classes and every weight for the same one
	allPositive bool
}

func treeClassifierBuilder(b *Build) (Kernel, error) {
	labels, err := mlClassLabels(b)
	if err != nil {
		return nil, err
	}
	nc := labels.Len()
	if nc < 2 {
		return nil, fmt.Errorf("%d class labels: at least 2 are needed", nc)
	}
	tc := &treeClassifier{labels: labels, allPositive: true}
	if tc.post, err = mlPost(b); err != nil {
		return nil, err
	}
	if tc.base, err = mlFloats(b, "base_values"); err != nil {
		return nil, err
	}
	if len(tc.base) != 0 && len(tc.base) != nc && !(nc == 2 && len(tc.base) == 1) {
		return nil, fmt.Errorf("%d base_values for %d classes", len(tc.base), nc)
	}
	if tc.te, err = classicTrees(b, "class", nc); err != nil {
		return nil, err
	}
	classes := map[int64]bool{}
	for _, c := range intsAttr(b, "class_ids") {
		classes[c] = true
	}
	weights, _ := mlFloats(b, "class_weights") // read by classicTrees
	for _, w := range weights {
		tc.allPositive = tc.allPositive && w >= 0
	}
	tc.binary = nc == 2 && len(classes) == 1
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		xv, rows, f, err := tc.te.rows(in[0])
		if err != nil {
			return nil, err
		}
		label := ctx.New(labels.DType, rows)
		z := make([]float64, rows*nc)
		y := make([]float64, nc)
		has := make([]bool, nc)
		for r := range rows {
			tc.te.scoreRow(xv[r*f:(r+1)*f], "SUM", y, has)
			copyElems(label.Data, labels.Data, r, tc.finish(y, has, z[r*nc:(r+1)*nc]), 1)
		}
		scores, err := tensorFromFloat64s(ctx, onnx.Float, []int{rows, nc}, z)
		return []*Tensor{label, scores}, err
	}, nil
}

// mlClassLabels reads classlabels_strings or classlabels_int64s.
func mlClassLabels(b *Build) (*Tensor, error) {
	s, i := b.Node.Attr("classlabels_strings"), b.Node.Attr("classlabels_int64s")
	switch {
	case s != nil && i != nil:
		return nil, fmt.Errorf("both classlabels_strings and classlabels_int64s are set")
	case s != nil:
		l := mlStrings(b, "classlabels_strings")
		return FromSlice(onnx.String, []int{len(l)}, l), nil
	case i != nil:
		return FromSlice(onnx.Int64, []int{len(i.Ints)}, i.Ints), nil
	}
	return nil, fmt.Errorf("classlabels_strings or classlabels_int64s is required")
}

// finish turns one row's class sums into its scores z and returns the index
// of its label, as ONNX Runtime does. Beyond two classes: base values, the
// label of the top class that got a score, post_transform. With two classes
// and one weight column (binary), the one score s gives the label (s > 0.5
// for nonnegative weights, else s > 0) and becomes [1-s, s] (nonnegative
// weights) or [-s, s], with s = σ(s) for LOGISTIC, Φ⁻¹(s) alone for PROBIT
// and the other post_transforms ignored.
// ONNX Runtime's own quirks with two classes are kept: base_values[0] unused
// and class 0's sum moved to class 1 when both classes got weights; where it
// then returns the literal labels 1 and 0, this returns classes 1 and 0.
func (tc *treeClassifier) finish(y []float64, has []bool, z []float64) int {
	nc := len(y)
	if nc > 2 {
		for k, v := range tc.base {
			y[k] += v
			has[k] = true
		}
		best := 0
		for k := range y {
			if has[k] && (!has[best] || y[k] > y[best]) {
				best = k
			}
		}
		copy(z, y)
		mlPostTransform(z, tc.post)
		return best
	}
	s := y[:2]
	add := -1
	switch len(tc.base) {
	case 2:
		if has[1] {
			s[1] = tc.base[1] + s[0]
			s[0] = -s[1]
		} else {
			s[1] += tc.base[1]
			s[0] += tc.base[0]
		}
	case 1:
		s[0] += tc.base[0]
		if !has[1] {
			s = s[:1]
		}
	case 0:
		add = 3
		if !has[1] {
			s = s[:1]
		}
	}
	pos := 0.0
	switch {
	case len(s) == 2 && has[1]:
		pos = s[1]
	case has[0]:
		pos = s[0]
	}
	label := 0
	if tc.binary && tc.allPositive {
		add = 1
		if pos > 0.5 {
			label, add = 1, 0
		}
	} else if tc.binary {
		add = 3
		if pos > 0 {
			label, add = 1, 2
		}
	} else if pos > 0 {
		label = 1
	}
	z[0], z[1] = 0, 0
	switch {
	case len(s) == 2:
		copy(z, s)
		mlPostTransform(z, tc.post)
	case tc.post == 4:
		z[0] = mlProbit(s[0])
	case (add == 0 || add == 1) && tc.post == 2:
		z[0], z[1] = 1-mlLogistic(s[0]), mlLogistic(s[0])
	case add == 0 || add == 1:
		z[0], z[1] = 1-s[0], s[0]
	case (add == 2 || add == 3) && tc.post == 2:
		z[0], z[1] = mlLogistic(-s[0]), mlLogistic(s[0])
	case add == 2 || add == 3:
		z[0], z[1] = -s[0], s[0]
	default:
		z[0] = s[0]
	}
	return label
}

// treeRegressorBuilder is TreeEnsembleRegressor: leaf weights aggregated per
// target (SUM, AVERAGE, MIN, MAX) plus base_values. As in ONNX Runtime, a
// single target takes only PROBIT of the post_transforms, and a target no
// leaf reached is 0 plus its base value.
func treeRegressorBuilder(b *Build) (Kernel, error) {
	nt := int(b.Int("n_targets", 1))
	if nt < 1 {
		return nil, fmt.Errorf("n_targets must be positive, got %d", nt)
	}
	post, err := mlPost(b)
	if err != nil {
		return nil, err
	}
	agg := b.String("aggregate_function", "SUM")
	if agg != "SUM" && agg != "AVERAGE" && agg != "MIN" && agg != "MAX" {
		return nil, fmt.Errorf("unknown aggregate_function %q", agg)
	}
	base, err := mlFloats(b, "base_values")
	if err != nil {
		return nil, err
	}
	if len(base) != 0 && len(base) != nt {
		return nil, fmt.Errorf("%d base_values for %d targets", len(base), nt)
	}
	te, err := classicTrees(b, "target", nt)
	if err != nil {
		return nil, err
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		xv, rows, f, err := te.rows(in[0])
		if err != nil {
			return nil, err
		}
		res := make([]float64, rows*nt)
		has := make([]bool, nt)
		for r := range rows {
			y := res[r*nt : (r+1)*nt]
			te.scoreRow(xv[r*f:(r+1)*f], agg, y, has)
			for k := range y {
				if agg == "AVERAGE" {
					y[k] /= float64(len(te.roots))
				}
				if base != nil {
					y[k] += base[k]
				}
			}
			switch {
			case nt > 1:
				mlPostTransform(y, post)
			case post == 4:
				y[0] = mlProbit(y[0])
			}
		}
		out, err := tensorFromFloat64s(ctx, onnx.Float, []int{rows, nt}, res)
		return []*Tensor{out}, err
	}, nil
}

func init() {
	Register(mlDomain, "TreeEnsemble", 5, needInputs(1, treeEnsembleBuilder))
	Register(mlDomain, "TreeEnsembleClassifier", 1, needInputs(1, treeClassifierBuilder))
	Register(mlDomain, "TreeEnsembleRegressor", 1, needInputs(1, treeRegressorBuilder))
}
