// Package testmodels builds small models for tests that need a particular
// structure, such as a custom-domain op (a TensorRT plugin) in the middle of
// a CNN.
package testmodels

import (
	"math"

	"github.com/onnxslim/onnxslim/onnx"
)

// PluginDomain and PluginOp name the custom op the plugin models carry.
const (
	PluginDomain = "com.example"
	PluginOp     = "MyPlugin"
)

// PluginOptions vary the plugin model.
type PluginOptions struct {
	// NoPluginShape leaves the plugin's output without value_info, so that
	// nothing in the file says its shape.
	NoPluginShape bool
	// Outputs is the number of plugin outputs (default 1); the second and
	// later ones are graph outputs.
	Outputs int
	// Stride2 makes the Conv after the plugin stride 2 (y is [1,8,8,8]): the
	// plugin's output size then cannot be derived from y's (15 or 16).
	Stride2 bool
}

// Plugin is x[1,3,16,16] → Conv → BatchNormalization → com.example.MyPlugin →
// Conv → BatchNormalization → y, with y declared float32 [1,8,16,16] and (unless
// NoPluginShape) the plugin's output declared float32 [1,4,16,16] in value_info.
// The output is named b_bn_out, the plugin's input a_bn_out.
func Plugin(o PluginOptions) *onnx.Model {
	g := &onnx.Graph{Name: "plugin"}
	m := &onnx.Model{IRVersion: 8, ProducerName: "onnxslim-test", Graph: g,
		Opsets: []onnx.OpsetID{{Version: 13}, {Domain: PluginDomain, Version: 1}}}
	x := g.AddInput("x", onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 3, 16, 16)))
	h := convBN(g, "a", x, 3, 4, 1)
	nOut := max(o.Outputs, 1)
	outNames := []string{"plugin_out"}
	for i := 1; i < nOut; i++ {
		outNames = append(outNames, "plugin_aux"+string(rune('0'+i)))
	}
	p := g.NewNode(PluginOp, PluginDomain, "plugin", []*onnx.Value{h}, outNames...)
	p.SetAttr(onnx.IntAttr("mode", 2))
	g.Append(p)
	if !o.NoPluginShape {
		pv := p.Output(0)
		pv.Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4, 16, 16))
		g.ValueInfo = append(g.ValueInfo, pv)
	}
	stride, side := int64(1), int64(16)
	if o.Stride2 {
		stride, side = 2, 8
	}
	y := convBN(g, "b", p.Output(0), 4, 8, 2)
	y.Producer().Input(0).Producer().SetAttr(onnx.IntsAttr("strides", []int64{stride, stride}))
	y.Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 8, side, side))
	g.Outputs = append(g.Outputs, y)
	for i := 1; i < nOut; i++ {
		v := p.Output(i)
		v.Type = onnx.TensorType(onnx.Float, onnx.ShapeOf(1, 4, 16, 16))
		g.Outputs = append(g.Outputs, v)
	}
	return m
}

// convBN appends a 3×3 same-padding Conv with bias and a BatchNormalization.
func convBN(g *onnx.Graph, tag string, in *onnx.Value, cin, cout int, seed int) *onnx.Value {
	w := g.AddInitializer(tag+"_w", onnx.NewFloatTensor("", []int64{int64(cout), int64(cin), 3, 3}, wave(cout*cin*9, seed, 0.3)))
	b := g.AddInitializer(tag+"_b", onnx.NewFloatTensor("", []int64{int64(cout)}, wave(cout, seed+1, 0.1)))
	conv := g.NewNode("Conv", "", tag+"_conv", []*onnx.Value{in, w, b}, tag+"_conv_out")
	conv.SetAttr(onnx.IntsAttr("pads", []int64{1, 1, 1, 1}))
	conv.SetAttr(onnx.IntsAttr("kernel_shape", []int64{3, 3}))
	g.Append(conv)
	scale := wave(cout, seed+2, 0.5)
	for i := range scale {
		scale[i] += 1
	}
	varc := wave(cout, seed+3, 0.4)
	for i := range varc {
		varc[i] = varc[i]*varc[i] + 0.5
	}
	params := []*onnx.Value{
		g.AddInitializer(tag+"_scale", onnx.NewFloatTensor("", []int64{int64(cout)}, scale)),
		g.AddInitializer(tag+"_shift", onnx.NewFloatTensor("", []int64{int64(cout)}, wave(cout, seed+4, 0.2))),
		g.AddInitializer(tag+"_mean", onnx.NewFloatTensor("", []int64{int64(cout)}, wave(cout, seed+5, 0.2))),
		g.AddInitializer(tag+"_var", onnx.NewFloatTensor("", []int64{int64(cout)}, varc)),
	}
	bn := g.NewNode("BatchNormalization", "", tag+"_bn", append([]*onnx.Value{conv.Output(0)}, params...), tag+"_bn_out")
	g.Append(bn)
	return bn.Output(0)
}

// wave is a deterministic pseudo-random vector of n values in [-amp, amp].
func wave(n, seed int, amp float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = amp * float32(math.Sin(float64(i*7+seed*13)*0.37+float64(seed)))
	}
	return out
}
