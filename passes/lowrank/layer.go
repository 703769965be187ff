package lowrank

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/onnxslim/onnxslim/internal/stats"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

// layer is a Gemm, MatMul, Conv or ConvTranspose seen as a matrix W (rows ×
// cols) that maps an input feature vector (cols) to outputs (rows), so that
// W ≈ A·B (A rows×r, B r×cols) splits it into two layers: B applied first,
// then A.
//
//	Gemm, MatMul   W = B'ᵀ (N×K): a row of the activation is the feature vector
//	Conv channel   W[n][(c,y,x)]: a k×k patch; B is a k×k conv to r channels, A a 1×1 conv
//	Conv spatial   W[(n,x)][(c,y)]: a kh×1 patch; B is a kh×1 conv, A a 1×kw conv (Jaderberg)
//	ConvTranspose  W[(n,y,x)][c]: a pixel; B is a 1×1 conv to r channels, A the transposed conv
type layer struct {
	node *onnx.Node
	op   string
	// spatial is the Jaderberg k×1 + 1×k factorisation of a Conv.
	spatial    bool
	weight     *onnx.Value
	dims       []int64 // the weight's dims
	rows, cols int
	// wT says the weight holds Wᵀ row-major (cols×rows): MatMul, Gemm
	// transB=0, ConvTranspose. Else it holds W (Gemm transB=1, Conv), or
	// for spatial the Jaderberg matricization of [N, C, kh, kw].
	wT bool
	// p1 and p2 are the positions (per run, batch included) at which the
	// first factor (B) and the second (A) are applied; the original layer
	// runs at p2 positions. flopsKnown is false when shapes were missing
	// (then p1 = p2 = 1 and only ratios are meaningful).
	p1, p2     int64
	flopsKnown bool
	// feat says how the input activation becomes feature vectors (data-aware).
	feat features
}

// params is the weight elements at rank r (r ≤ 0: the original layer).
func (l *layer) params(r int) int64 {
	if r <= 0 {
		return int64(l.rows) * int64(l.cols)
	}
	return int64(r) * int64(l.rows+l.cols)
}

// flops is the multiply-add FLOPs (2 per multiply-add) at rank r (r ≤ 0:
// the original layer). Biases are the same before and after and left out.
func (l *layer) flops(r int) int64 {
	if r <= 0 {
		return 2 * l.p2 * int64(l.rows) * int64(l.cols)
	}
	return 2*l.p1*int64(r)*int64(l.cols) + 2*l.p2*int64(r)*int64(l.rows)
}

// fullRank is the largest meaningful rank.
func (l *layer) fullRank() int { return min(l.rows, l.cols) }

// name is the node's name, or its output's when it has none.
func (l *layer) name() string { return nodeName(l.node) }

func nodeName(n *onnx.Node) string {
	if n.Name != "" {
		return n.Name
	}
	if o := n.Output(0); o != nil {
		return o.Name
	}
	return n.OpType
}

// features says how to turn a layer's input activation into feature vectors.
type features struct {
	kind featKind
	// conv patches: kernel, strides, dilations, pads (begin…, end…) of a 2-D
	// (or 1-D) window over the input.
	kernel, strides, dilations, pads []int
	autoPad                          string
}

type featKind int

const (
	featRows    featKind = iota // rows of the activation reshaped to [-1, cols]
	featColumns                 // columns of a 2-D activation [cols, M] (Gemm transA=1)
	featPixels                  // per pixel channel vectors of [B, C, spatial…] (ConvTranspose)
	featPatches                 // im2col patches (Conv)
	featNone                    // unsupported: plain SVD only
)

// recognize returns the layer view of n, or a reason it is not a
// candidate. shape gives static shapes where known.
func recognize(n *onnx.Node, conv string, shape stats.ShapeFunc) (*layer, string) {
	if n.Domain != "" {
		return nil, "not an ai.onnx op"
	}
	switch n.OpType {
	case "Gemm", "MatMul", "Conv", "ConvTranspose":
	default:
		return nil, ""
	}
	wv := n.Input(1)
	t := passes.ConstTensor(wv)
	if t == nil && wv != nil && wv.Const != nil && wv.IsGraphInput() {
		return nil, "the weight is a graph input whose initializer is only a default (it can be overridden at run time)"
	}
	if t == nil {
		return nil, "the weight (input 1) is not a constant"
	}
	if t.DataType != onnx.Float {
		return nil, fmt.Sprintf("the weight is %s, not float32", t.DataType)
	}
	if wv.NumUses() > 1 || wv.IsGraphOutput() {
		return nil, "the weight is shared with other nodes"
	}
	if x := n.Input(0); x == nil || passes.ConstTensor(x) != nil {
		return nil, "the input is constant (fold it instead)"
	}
	// Only its size is read here: W is made later, one layer at a time
	// (matrix), from its bytes (a large model's are a mapped file).
	if t.DataType != onnx.Float {
		return nil, fmt.Sprintf("weight %s: tensor %q is %s, not float32", wv.Name, t.Name, t.DataType)
	}
	elems := int(t.NumElements())
	l := &layer{node: n, op: n.OpType, weight: wv, dims: slices.Clone(t.Dims), p1: 1, p2: 1}
	d := t.Dims
	switch n.OpType {
	case "Gemm":
		if len(d) != 2 {
			return nil, "the weight is not 2-D"
		}
		if n.AttrInt("transB", 0) == 1 {
			l.rows, l.cols = int(d[0]), int(d[1])
		} else {
			l.rows, l.cols, l.wT = int(d[1]), int(d[0]), true
		}
		l.feat.kind = featRows
		if n.AttrInt("transA", 0) == 1 {
			l.feat.kind = featColumns
		}
	case "MatMul":
		if len(d) != 2 {
			return nil, fmt.Sprintf("the weight has rank %d (only a 2-D weight is one matrix)", len(d))
		}
		if r, ok := passes.StaticShape(n.Input(0)); ok && len(r) < 2 {
			return nil, "the input is a vector"
		}
		l.rows, l.cols, l.wT = int(d[1]), int(d[0]), true
		l.feat.kind = featRows
	case "Conv":
		if g := n.AttrInt("group", 1); g != 1 {
			return nil, fmt.Sprintf("a grouped convolution (group=%d)", g)
		}
		if len(d) < 3 {
			return nil, "the weight has no spatial axes"
		}
		if conv == "spatial" {
			if len(d) != 4 || d[2] < 2 || d[3] < 2 {
				return nil, "conv=spatial needs a 2-D kernel of at least 2×2"
			}
			l.spatial = true
			l.rows, l.cols = int(d[0]*d[3]), int(d[1]*d[2])
		} else {
			l.rows = int(d[0])
			l.cols = elems / l.rows
		}
		l.feat = convFeatures(n, d, l.spatial)
	case "ConvTranspose":
		if g := n.AttrInt("group", 1); g != 1 {
			return nil, fmt.Sprintf("a grouped transposed convolution (group=%d)", g)
		}
		if len(d) < 3 {
			return nil, "the weight has no spatial axes"
		}
		C := int(d[0])
		l.rows, l.cols, l.wT = elems/C, C, true
		l.feat.kind = featPixels
	}
	if l.rows == 0 || l.cols == 0 {
		return nil, "the weight is empty"
	}
	l.positions(shape)
	return l, ""
}

// matrix returns W (rows×cols, float64) made from the weight tensor.
// Candidates do not keep it: each caller drops it when done, so that the
// pass holds one layer's matrices at a time, whatever the model's size (a
// large model's weights are views of its mapped data file).
func (l *layer) matrix() (*mat.Dense, error) {
	data, err := l.weight.Const.Float32s()
	if err != nil {
		return nil, fmt.Errorf("weight %s: %w", l.weight.Name, err)
	}
	switch {
	case l.wT:
		return transposed(data, l.cols, l.rows), nil
	case l.spatial:
		N, C, kh, kw := int(l.dims[0]), int(l.dims[1]), int(l.dims[2]), int(l.dims[3])
		w := mat.NewDense(l.rows, l.cols, nil)
		for o := range N {
			for c := range C {
				for y := range kh {
					for x := range kw {
						w.Set(o*kw+x, c*kh+y, float64(data[((o*C+c)*kh+y)*kw+x]))
					}
				}
			}
		}
		return w, nil
	}
	return mat.NewDense(l.rows, l.cols, f64(data)), nil
}

// convFeatures describes a Conv's patches (2-D or 1-D kernels; others have
// no data-aware path).
func convFeatures(n *onnx.Node, d []int64, spatial bool) features {
	sp := len(d) - 2
	if sp > 2 {
		return features{kind: featNone}
	}
	get := func(name string, def int) []int {
		out := make([]int, sp)
		v := n.AttrInts(name, nil)
		for i := range out {
			out[i] = def
			if i < len(v) {
				out[i] = int(v[i])
			}
		}
		return out
	}
	f := features{kind: featPatches, strides: get("strides", 1), dilations: get("dilations", 1), autoPad: n.AttrString("auto_pad", "NOTSET")}
	for _, k := range d[2:] {
		f.kernel = append(f.kernel, int(k))
	}
	f.pads = make([]int, 2*sp)
	for i, p := range n.AttrInts("pads", nil) {
		if i < len(f.pads) {
			f.pads[i] = int(p)
		}
	}
	if spatial { // the first factor's window: kh×1, stride and dilation along H only
		f.kernel[1], f.strides[1], f.dilations[1] = 1, 1, 1
		f.pads[1], f.pads[3] = 0, 0
	}
	return f
}

// positions sets p1, p2 from the shapes of the node's input and output
// (inferred, at the generated inputs' sizes where the model's are symbolic:
// passes.SizedShapes).
func (l *layer) positions(shape stats.ShapeFunc) {
	n := l.node
	in, okIn := shape(n.Input(0))
	out, okOut := shape(n.Output(0))
	prod := func(s []int64) int64 {
		p := int64(1)
		for _, v := range s {
			p *= v
		}
		return p
	}
	switch l.op {
	case "Gemm", "MatMul":
		if okOut && len(out) >= 1 {
			l.p1 = prod(out[:len(out)-1])
			l.p2, l.flopsKnown = l.p1, true
		}
	case "Conv":
		if !okOut || len(out) < 3 {
			return
		}
		l.p2, l.flopsKnown = prod(out[:1])*prod(out[2:]), true
		l.p1 = l.p2
		if l.spatial {
			// The k×1 conv keeps the input's width (stride 1, no padding along W).
			sw := int64(1)
			if s := n.AttrInts("strides", nil); len(s) == 2 {
				sw = s[1]
			}
			win := out[3] * sw
			if okIn && len(in) == 4 {
				win = in[3]
			}
			l.p1 = out[0] * out[2] * win
		}
	case "ConvTranspose":
		if okIn && len(in) >= 3 {
			l.p1 = prod(in[:1]) * prod(in[2:])
			l.p2, l.flopsKnown = l.p1, true
		}
	}
}

// f64 converts float32s to float64s.
func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// transposed returns the transpose of the row-major r×c matrix x, as c×r.
func transposed(x []float32, r, c int) *mat.Dense {
	out := mat.NewDense(c, r, nil)
	for i := range r {
		for j := range c {
			out.Set(j, i, float64(x[i*c+j]))
		}
	}
	return out
}
