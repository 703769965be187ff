package prune

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/onnxslim/onnxslim/passes"
)

// Report is what the prune pass did, handed to passes.Context.Detail (the
// CLI's --json) and logged (the CLI's --report shows the log).
type Report struct {
	Structure   string  `json:"structure"`
	Criterion   string  `json:"criterion"`
	Scope       string  `json:"scope"`
	Amount      float64 `json:"amount"`
	Reconstruct bool    `json:"reconstruct"`
	// Calibration says what calibrated scores and refits (calib.Source.Origin).
	Calibration string `json:"calibration"`
	Samples     int    `json:"samples"`
	// FLOPs and parameters of the whole model; Nonzero counts the float
	// weights that are not 0 (what unstructured and 2:4 pruning lower).
	FLOPsBefore int64 `json:"flops_before"`
	FLOPsAfter  int64 `json:"flops_after"`
	FLOPsKnown  bool  `json:"flops_known"`
	// FLOPsOn says where the FLOPs were counted when not at the inputs'
	// sizes: on a run, for a model whose shapes depend on the data.
	FLOPsOn       string        `json:"flops_on,omitempty"`
	ParamsBefore  int64         `json:"params_before"`
	ParamsAfter   int64         `json:"params_after"`
	NonzeroBefore int64         `json:"nonzero_before"`
	NonzeroAfter  int64         `json:"nonzero_after"`
	Layers        []LayerReport `json:"layers"`
	Skipped       []Skip        `json:"skipped,omitempty"`
	// Output is the pruned model's agreement with the float model on the
	// calibration samples (the first ones, at most 64).
	Output *Agreement `json:"output,omitempty"`
}

// LayerReport is one pruned layer.
type LayerReport struct {
	Node    string `json:"node"`
	Op      string `json:"op"`
	Weights int    `json:"weights"`
	Pruned  int    `json:"pruned"` // weights set to 0 (unstructured, 2:4) or removed (channel: of the group's producers)
	// Channel structure: output channels of the group's producers.
	ChannelsKept    int     `json:"channels_kept,omitempty"`
	ChannelsRemoved int     `json:"channels_removed,omitempty"`
	Scores          summary `json:"scores"`
	FLOPsBefore     int64   `json:"flops_before,omitempty"`
	FLOPsAfter      int64   `json:"flops_after,omitempty"`
	// ErrBefore and ErrAfter are the relative L2 error of the layer's output
	// against the float model's on the calibration data, with the pruned
	// weights before and after the least-squares refit (absent: not measured).
	ErrBefore *float64 `json:"err_before,omitempty"`
	ErrAfter  *float64 `json:"err_after,omitempty"`
	// HeldOutBefore/After are the same on the held-out calibration batches
	// (every fifth) on which the refit's ridge was chosen: the refit's
	// effect on data it was not fit on (absent with fewer than 5 batches).
	HeldOutBefore *float64 `json:"held_out_before,omitempty"`
	HeldOutAfter  *float64 `json:"held_out_after,omitempty"`
	// Ridge is the refit's λ relative to the mean diagonal of XᵀX.
	Ridge float64 `json:"ridge,omitempty"`
	// Refit: "refit", "off", or why it was skipped.
	Refit string `json:"refit"`
}

// Skip is a layer left as it is, and why.
type Skip struct {
	Node   string `json:"node"`
	Op     string `json:"op"`
	Reason string `json:"reason"`
}

// Agreement is the output agreement (calib.Agreement without NaNs, which
// JSON cannot hold).
type Agreement struct {
	Cosine float64 `json:"cosine"`
	RelL2  float64 `json:"rel_l2"`
	Top1   float64 `json:"top1,omitempty"`
}

func finiteOr(x, def float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return def
	}
	return x
}

func ptr(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func (r *Report) log(c *passes.Context) {
	c.Logf("structure=%s criterion=%s scope=%s amount=%g reconstruct=%v, calibrated on %s",
		r.Structure, r.Criterion, r.Scope, r.Amount, r.Reconstruct, r.Calibration)
	if r.FLOPsKnown {
		c.Logf("FLOPs %d → %d (%.1f%%), params %d → %d, nonzero weights %d → %d (%.1f%%)",
			r.FLOPsBefore, r.FLOPsAfter, 100*float64(r.FLOPsAfter)/math.Max(1, float64(r.FLOPsBefore)),
			r.ParamsBefore, r.ParamsAfter, r.NonzeroBefore, r.NonzeroAfter, 100*float64(r.NonzeroAfter)/math.Max(1, float64(r.NonzeroBefore)))
		if r.FLOPsOn != "" {
			c.Logf("FLOPs counted on %s", r.FLOPsOn)
		}
	} else {
		c.Logf("params %d → %d, nonzero weights %d → %d", r.ParamsBefore, r.ParamsAfter, r.NonzeroBefore, r.NonzeroAfter)
	}
	if r.Output != nil {
		c.Logf("output vs float on the calibration samples: cosine %.6f rel_l2 %.4g", r.Output.Cosine, r.Output.RelL2)
	}
	layers := append([]LayerReport(nil), r.Layers...)
	sort.SliceStable(layers, func(i, j int) bool { return errOf(layers[i].ErrAfter) > errOf(layers[j].ErrAfter) })
	c.Logf("per layer (worst output error first; exclude=NODE keeps a layer):")
	for _, l := range layers {
		kept := ""
		if l.ChannelsKept+l.ChannelsRemoved > 0 {
			kept = " channels " + itoa(l.ChannelsKept) + " kept " + itoa(l.ChannelsRemoved) + " removed"
		}
		held := ""
		if l.HeldOutBefore != nil {
			held = fmt.Sprintf(", held out %s → %s, ridge %g", fmtErr(l.HeldOutBefore), fmtErr(l.HeldOutAfter), l.Ridge)
		}
		flops := ""
		if l.FLOPsBefore != l.FLOPsAfter {
			flops = fmt.Sprintf(", FLOPs %d → %d", l.FLOPsBefore, l.FLOPsAfter)
		}
		c.Logf("  %-28s %-6s pruned %d/%d%s%s, error %s → %s%s (%s)", l.Node, l.Op, l.Pruned, l.Weights, kept, flops, fmtErr(l.ErrBefore), fmtErr(l.ErrAfter), held, l.Refit)
	}
	for _, s := range r.Skipped {
		c.Logf("  %-28s %-6s kept: %s", s.Node, s.Op, s.Reason)
	}
}

func errOf(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func fmtErr(p *float64) string {
	if p == nil {
		return "n/a"
	}
	return ftoa(*p)
}

// Markdown is the report as the CLI's --report shows it: a summary line and
// one table row per layer, then the layers left as they were.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "structure=%s, criterion=%s, scope=%s, amount=%g, reconstruct=%v, calibrated on %s. ",
		r.Structure, r.Criterion, r.Scope, r.Amount, r.Reconstruct, r.Calibration)
	fmt.Fprintf(&b, "FLOPs %d → %d, parameters %d → %d, nonzero weights %d → %d", r.FLOPsBefore, r.FLOPsAfter, r.ParamsBefore, r.ParamsAfter, r.NonzeroBefore, r.NonzeroAfter)
	if r.Output != nil {
		fmt.Fprintf(&b, "; graph outputs on the calibration samples: cosine %.5f, relative L2 %.4g", r.Output.Cosine, r.Output.RelL2)
	}
	b.WriteString(".\n\n| layer | op | pruned | channels kept / removed | FLOPs | scores min / median / max | threshold | output error before → after refit | held out | ridge | refit |\n|---|---|---:|---|---:|---|---:|---|---|---:|---|\n")
	for _, l := range r.Layers {
		ch := ""
		if l.ChannelsKept+l.ChannelsRemoved > 0 {
			ch = fmt.Sprintf("%d / %d", l.ChannelsKept, l.ChannelsRemoved)
		}
		held := ""
		if l.HeldOutBefore != nil {
			held = fmtErr(l.HeldOutBefore) + " → " + fmtErr(l.HeldOutAfter)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %d / %d | %s | %d → %d | %.4g / %.4g / %.4g | %.4g | %s → %s | %s | %g | %s |\n",
			l.Node, l.Op, l.Pruned, l.Weights, ch, l.FLOPsBefore, l.FLOPsAfter, l.Scores.Min, l.Scores.Median, l.Scores.Max, l.Scores.Threshold,
			fmtErr(l.ErrBefore), fmtErr(l.ErrAfter), held, l.Ridge, l.Refit)
	}
	if len(r.Skipped) > 0 {
		b.WriteString("\nLeft as they are:\n\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "- `%s` (%s): %s\n", s.Node, s.Op, s.Reason)
		}
	}
	return b.String()
}
