package prune

import "testing"

// TestLayerSamples: a layer whose runs are cheap uses every sample; an
// expensive one fewer (never below minLayerSamples) with more positions
// each, the same rows in all.
func TestLayerSamples(t *testing.T) {
	for _, tc := range []struct {
		total       int
		flops       int64
		wantSamples int
	}{
		{64, 1e8, 64},
		{64, 0, 64}, // FLOPs unknown: no bound
		{10, 1e8, 10},
		{64, 1e9, 25},
		{64, 5e10, minLayerSamples},
		{3, 5e10, 3},
	} {
		s, rows := layerSamples(tc.total, tc.flops)
		if s != tc.wantSamples {
			t.Errorf("total %d, %g FLOPs: %d samples, want %d", tc.total, float64(tc.flops), s, tc.wantSamples)
		}
		if s*rows < tc.total*maxRowsPerSample || (s == tc.total) != (rows == maxRowsPerSample) {
			t.Errorf("total %d, %g FLOPs: %d samples × %d rows, want at least %d × %d", tc.total, float64(tc.flops), s, rows, tc.total, maxRowsPerSample)
		}
	}
}
