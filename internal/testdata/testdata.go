// Package testdata finds the shared test data (ONNX conformance suites and real
// models) that tests read but the repository does not hold.
//
// The folder is $ONNXSLIM_TESTDATA, else ../shared beside the module. Where it is
// absent, tests skip with a message saying so; under CI=true its absence fails.
package testdata

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root returns the shared data folder, or "" if it cannot be found.
func Root() string {
	if d := os.Getenv("ONNXSLIM_TESTDATA"); d != "" {
		return d
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	// internal/testdata/testdata.go → module root → ../shared
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
}

// Dir returns a sub-folder of the shared data (e.g. "models", "onnx-conformance/node").
// If it is missing the test is skipped, or failed under CI=true.
func Dir(t testing.TB, sub string) string {
	t.Helper()
	d := filepath.Join(Root(), sub)
	if _, err := os.Stat(d); err != nil {
		msg := "shared test data not found at " + d + " (set ONNXSLIM_TESTDATA to the folder holding models/ and onnx-conformance/)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return d
}

// Models returns the folder of real models (../shared/models).
func Models(t testing.TB) string { return Dir(t, "models") }

// RealModels returns the folder of the real-models corpus that `make
// real-models` fetches ($ONNXSLIM_REAL_MODELS, else .cache/real-models in the
// module). If it is missing the test is skipped, or failed under CI=true.
func RealModels(t testing.TB) string {
	t.Helper()
	d := os.Getenv("ONNXSLIM_REAL_MODELS")
	if d == "" {
		_, file, _, _ := runtime.Caller(0)
		d = filepath.Join(filepath.Dir(file), "..", "..", ".cache", "real-models")
	}
	if _, err := os.Stat(filepath.Join(d, "fp_age.onnx")); err != nil {
		msg := "real-models corpus not found at " + d + " (run `make real-models`, or set ONNXSLIM_REAL_MODELS)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return d
}

// Conformance returns the ONNX conformance folder (../shared/onnx-conformance).
func Conformance(t testing.TB) string { return Dir(t, "onnx-conformance") }
