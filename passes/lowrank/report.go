package lowrank

import "math"

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
