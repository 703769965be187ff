package quantize

import (
	"fmt"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
)

// calibrate streams the calibration data through m and returns the named
// activations' statistics and where the data came from; for the tensors in
// chanAxis it also keeps the mean of each channel along that axis.
func calibrate(c *passes.Context, m *onnx.Model, names []string, chanAxis map[string]int, cfg *config) (map[string]*tensorStats, int, string, error) {
	src, err := calib.Open(c, m, cfg.calib, cfg.samples)
	if err != nil {
		return nil, 0, "", err
	}
	defer src.Close()
	stats := map[string]*tensorStats{}
	for _, n := range names {
		stats[n] = newTensorStats(cfg.method != "minmax")
	}
	n, err := calib.Activations(c, m, names, src, func(_ int, acts map[string]*interp.Tensor) error {
		for _, name := range names {
			x, err := interp.AsFloat32(acts[name])
			if err != nil {
				return fmt.Errorf("tensor %s: %w", name, err)
			}
			stats[name].add(x)
			if axis, ok := chanAxis[name]; ok {
				stats[name].addChannels(x, acts[name].Shape, axis)
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("calibration on %s: %w", src.Origin(), err)
	}
	return stats, n, src.Origin(), err
}

// foldConstDQ returns a copy of m where every DequantizeLinear of constants
// (the quantized weights) is replaced by its float result: the same numbers,
// computed once instead of on every run, for the report's repeated runs.
func foldConstDQ(m *onnx.Model) (*onnx.Model, error) {
	cp := m.Clone()
	g := cp.Graph
	var dead []*onnx.Node
	for _, n := range g.Nodes {
		if n.OpType != "DequantizeLinear" || n.Domain != "" || n.Output(0).IsGraphOutput() {
			continue
		}
		var ins []*interp.Tensor
		for _, v := range n.Inputs() {
			t := passes.ConstTensor(v)
			if v != nil && t == nil {
				ins = nil
				break
			}
			var x *interp.Tensor
			if t != nil {
				var err error
				if x, err = interp.FromONNX(t); err != nil {
					return nil, err
				}
			}
			ins = append(ins, x)
		}
		if ins == nil {
			continue
		}
		outs, err := interp.EvalNode(n, cp.Opset(""), ins)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", onnx.NodePlace(n), err)
		}
		ot, err := interp.ToONNX(n.Output(0).Name, outs[0])
		if err != nil {
			return nil, err
		}
		onnx.ReplaceAllUsesWith(n.Output(0), passes.AddConst(cp, g, n.Output(0).Name+"_folded", ot))
		dead = append(dead, n)
	}
	g.RemoveNodes(dead...)
	return cp, nil
}
