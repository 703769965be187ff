package main

import (
	"context"
	"strings"

	"github.com/onnxslim/onnxslim/onnx"
)

// PassReport is one pass's entry in the --json run report (the CLI contract).
type PassReport struct {
	Name         string  `json:"name"`
	NodesBefore  int     `json:"nodes_before"`
	NodesAfter   int     `json:"nodes_after"`
	ParamsBefore int64   `json:"params_before"`
	ParamsAfter  int64   `json:"params_after"`
	BytesBefore  int64   `json:"bytes_before"`
	BytesAfter   int64   `json:"bytes_after"`
	FlopsBefore  *int64  `json:"flops_before"`
	FlopsAfter   *int64  `json:"flops_after"`
	MS           float64 `json:"ms"`
}

// Pipeline rewrites a model in place and reports each pass it ran.
type Pipeline func(ctx context.Context, m *onnx.Model) ([]PassReport, error)

// newPipeline turns the --passes spec into a Pipeline; given is false when the
// flag is absent (the default pipeline). This is the single place where the
// pass manager plugs in: replace the body with a call to it.
func newPipeline(spec string, given bool) (Pipeline, error) {
	if !given || strings.TrimSpace(spec) == "none" {
		// Until the pass manager exists the default pipeline is the lossless round trip too.
		return func(context.Context, *onnx.Model) ([]PassReport, error) { return []PassReport{}, nil }, nil
	}
	return nil, usageErrorf("--passes %q: the pass manager is not built yet; available: none", spec)
}
