package quantize

import (
	"fmt"
	"sort"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/calib"
)

// Report is the per-layer error of a quantized model against the float
// model on the calibration data, like ONNX Runtime's qdq_loss_debug: for
// each quantized layer's output and each graph output, the relative L2 error
// and the cosine similarity of the two activations. The pass hands it to
// passes.Context.Detail (the CLI's --json) and logs the worst layers.
type Report struct {
	Mode    string `json:"mode"`
	Target  string `json:"target,omitempty"`
	Method  string `json:"method,omitempty"`
	Samples int    `json:"samples"`
	// Calibration says what calibrated the activations (mode=int8) and
	// MeasuredOn what the errors below were measured on (calib.Source.Origin).
	Calibration string       `json:"calibration,omitempty"`
	MeasuredOn  string       `json:"measured_on,omitempty"`
	Layers      []LayerError `json:"layers"`
	Outputs     []LayerError `json:"outputs"`
	// Fallback is what min_cosine did (absent when it is off).
	Fallback *Fallback `json:"fallback,omitempty"`
}

// LayerError compares one tensor of the float and the quantized model.
type LayerError struct {
	Node      string  `json:"node,omitempty"`
	Op        string  `json:"op,omitempty"`
	Tensor    string  `json:"tensor"`
	RelL2     float64 `json:"rel_l2"`
	Cosine    float64 `json:"cosine"`
	MaxAbsErr float64 `json:"max_abs_err"`
}

// layerError fills in le's figures from a Diff.
func layerError(d *calib.Diff, le LayerError) LayerError {
	le.RelL2, le.Cosine, le.MaxAbsErr = d.Result()
	if d.ShapesDiffer() {
		le.MaxAbsErr = 0 // as before: the error and cosine (NaN) say it
	}
	return le
}

// layerReport runs the float and the quantized model on the first
// cfg.report calibration samples and compares the layers' outputs.
func layerReport(c *passes.Context, float, quant *onnx.Model, layers []layer, cfg *config) (*Report, error) {
	var fNames, qNames []string
	for _, l := range layers {
		fNames = append(fNames, l.float)
		qNames = append(qNames, l.quant.Name)
	}
	fm, fIdx, err := calib.WithOutputs(float, fNames)
	if err != nil {
		return nil, fmt.Errorf("float model: %w", err)
	}
	// The session dequantizes constant weights once (or, for a large model,
	// in each run: interp.NewSession applies interp.OptionsFor).
	qm, qIdx, err := calib.WithOutputs(quant, qNames)
	if err != nil {
		return nil, fmt.Errorf("quantized model: %w", err)
	}
	fs, err := interp.NewSession(fm, interp.Options{})
	if err != nil {
		return nil, fmt.Errorf("float model: %w", err)
	}
	qs, err := interp.NewSession(qm, interp.Options{})
	if err != nil {
		return nil, fmt.Errorf("quantized model: %w", err)
	}
	src, err := calib.Open(c, float, cfg.calib, cfg.report)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	nOut := len(float.Graph.Outputs)
	accs := make([]calib.Diff, len(layers)+nOut)
	samples, err := calib.StreamGroups(c, src, calib.GroupingFor(float), func(first int, ins []map[string]*interp.Tensor) error {
		fos, err := fs.RunLockstep(c, ins)
		if err != nil {
			return fmt.Errorf("float model: %w", err)
		}
		qos, err := qs.RunLockstep(c, ins)
		if err != nil {
			return fmt.Errorf("quantized model: %w", err)
		}
		for k := range ins {
			batch, fo, qo := first+k, fos[k], qos[k]
			for i := range layers {
				addPair(&accs[i], batch, fo[fIdx[fNames[i]]], qo[qIdx[qNames[i]]])
			}
			for i := 0; i < nOut; i++ {
				addPair(&accs[len(layers)+i], batch, fo[i], qo[i])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep := &Report{Mode: cfg.mode, Samples: samples, MeasuredOn: src.Origin()}
	if cfg.mode == "int8" {
		rep.Target, rep.Method = cfg.target, methodText(cfg)
	}
	for i, l := range layers {
		rep.Layers = append(rep.Layers, layerError(&accs[i], LayerError{Node: l.node, Op: l.op, Tensor: l.float}))
	}
	for i, v := range float.Graph.Outputs {
		rep.Outputs = append(rep.Outputs, layerError(&accs[len(layers)+i], LayerError{Tensor: v.Name}))
	}
	return rep, nil
}

// log prints the graph outputs' error and the layers that hurt most.
func (r *Report) log(c *passes.Context) {
	for _, o := range r.Outputs {
		c.Logf("output %s vs float on %s: rel_l2 %.4g cosine %.6f", o.Tensor, r.MeasuredOn, o.RelL2, o.Cosine)
	}
	worst := append([]LayerError(nil), r.Layers...)
	sort.SliceStable(worst, func(i, j int) bool { return worst[i].RelL2 > worst[j].RelL2 })
	const show = 8
	if len(worst) > show {
		c.Logf("per-layer error, %d worst of %d layers (exclude=NODE leaves a layer in float):", show, len(worst))
		worst = worst[:show]
	} else {
		c.Logf("per-layer error:")
	}
	for _, l := range worst {
		c.Logf("  %-32s %-14s rel_l2 %.4g cosine %.6f", l.Node, l.Op, l.RelL2, l.Cosine)
	}
}

// addPair adds batch's float and quantized values of one tensor to acc;
// a tensor that is not float has nothing to compare.
func addPair(acc *calib.Diff, batch int, a, b *interp.Tensor) {
	x, err := interp.AsFloat32(a)
	if err != nil {
		return
	}
	if y, err := interp.AsFloat32(b); err == nil {
		acc.AddAt(batch, x, y)
	}
}
