package lowrank

import (
	"fmt"
	"math"
	"strings"
)

// Report is what lowrank did, per layer; the pass hands it to
// passes.Context.Detail (the CLI's --json) and logs a summary.
type Report struct {
	Method string  `json:"method"`
	Conv   string  `json:"conv"`
	Energy float64 `json:"energy,omitempty"`
	Ratio  float64 `json:"ratio,omitempty"`
	Budget string  `json:"budget,omitempty"`
	// Calibration says what the covariances came from (method=data or compare).
	Calibration string  `json:"calibration,omitempty"`
	Layers      []Layer `json:"layers"`
	Skipped     []Skip  `json:"skipped,omitempty"`
	// The candidate layers' weights and FLOPs before and after.
	ParamsBefore int64 `json:"params_before"`
	ParamsAfter  int64 `json:"params_after"`
	FLOPsBefore  int64 `json:"flops_before"`
	FLOPsAfter   int64 `json:"flops_after"`
	// Output compares the graph outputs with the original's.
	Output *Output `json:"output,omitempty"`
}

// Layer is one candidate layer.
type Layer struct {
	Node   string  `json:"node"`
	Op     string  `json:"op"`
	Weight []int64 `json:"weight"`
	// Matrix is the rows × cols matrix that was factored.
	Matrix [2]int `json:"matrix"`
	// Rank kept (0: left whole) of FullRank.
	Rank     int     `json:"rank"`
	FullRank int     `json:"full_rank"`
	Split    bool    `json:"split"`
	Energy   float64 `json:"energy_kept"`
	SVD      string  `json:"svd,omitempty"` // exact or randomized
	// Weights and FLOPs (2 per multiply-add; biases left out) before and after.
	ParamsBefore int64 `json:"params_before"`
	ParamsAfter  int64 `json:"params_after"`
	FLOPsBefore  int64 `json:"flops_before"`
	FLOPsAfter   int64 `json:"flops_after"`
	FLOPsKnown   bool  `json:"flops_known"`
	// ErrSVD and ErrData are the relative L2 error of the layer's output
	// (weights times its original inputs) on the calibration data with the
	// plain and the data-aware factors at this rank, where they were run.
	// WeightErr is ‖W − A·B‖/‖W‖ of the factors written.
	ErrSVD    *float64 `json:"err_svd,omitempty"`
	ErrData   *float64 `json:"err_data,omitempty"`
	WeightErr float64  `json:"weight_err"`
	Note      string   `json:"note,omitempty"`
}

// Skip is a layer that was not a candidate, and why.
type Skip struct {
	Node   string `json:"node"`
	Op     string `json:"op"`
	Reason string `json:"reason"`
}

// Output is the graph outputs' agreement with the original model.
type Output struct {
	Samples int     `json:"samples"`
	Cosine  float64 `json:"cosine"`
	RelL2   float64 `json:"rel_l2"`
}

// fptr returns a pointer to x, or nil when x is not finite (JSON has no NaN).
func fptr(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func sqrt(x float64) float64 { return math.Sqrt(max(x, 0)) }

// Markdown is the report as markdown tables for the CLI's --report: one
// row per candidate layer, then the skipped nodes.
func (r *Report) Markdown() string {
	var b strings.Builder
	choice := fmt.Sprintf("energy=%g", r.Energy)
	if r.Ratio > 0 {
		choice = fmt.Sprintf("ratio=%g of %s", r.Ratio, r.Budget)
	} else if r.Energy == 0 {
		choice = "fixed ranks"
	}
	fmt.Fprintf(&b, "method=%s, conv=%s, %s", r.Method, r.Conv, choice)
	if r.Calibration != "" {
		fmt.Fprintf(&b, ", calibrated on %s", r.Calibration)
	}
	fmt.Fprintf(&b, ". Weights %d → %d, FLOPs %d → %d", r.ParamsBefore, r.ParamsAfter, r.FLOPsBefore, r.FLOPsAfter)
	if r.Output != nil {
		fmt.Fprintf(&b, "; graph outputs on %d samples: cosine %.5f, relative L2 %.4g", r.Output.Samples, r.Output.Cosine, r.Output.RelL2)
	}
	b.WriteString(".\n\n| layer | op | weight | rank | energy kept | weights | FLOPs | output error svd | output error data | note |\n|---|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	opt := func(x *float64) string {
		if x == nil {
			return ""
		}
		return fmt.Sprintf("%.4f", *x)
	}
	for _, l := range r.Layers {
		rank := "whole"
		if l.Split {
			rank = fmt.Sprintf("%d / %d", l.Rank, l.FullRank)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %v | %s | %.3f | %d → %d | %d → %d | %s | %s | %s |\n", l.Node, l.Op, l.Weight, rank, l.Energy,
			l.ParamsBefore, l.ParamsAfter, l.FLOPsBefore, l.FLOPsAfter, opt(l.ErrSVD), opt(l.ErrData), l.Note)
	}
	if len(r.Skipped) > 0 {
		b.WriteString("\n| skipped | op | why |\n|---|---|---|\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", s.Node, s.Op, s.Reason)
		}
	}
	return b.String()
}
