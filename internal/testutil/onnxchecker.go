package testutil

import (
	"os"
	"os/exec"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
)

// CheckONNX runs ONNX's checker (python3 -c 'import onnx') on path, with
// full checking (ops of a domain it has no schema for are skipped).
// Without python3-onnx it says so and goes on; under CI=true, which
// installs it (make test), it fails.
func CheckONNX(t testing.TB, path string) {
	t.Helper()
	py := pythonWithONNX()
	if py == "" {
		testdata.Optional(t, "python3 with the onnx module not found (apt-get install -y python3-onnx): ONNX's checker not run")
		return
	}
	script := "import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True)"
	cmd := exec.Command(py, "-c", script, path)
	cmd.Dir = t.TempDir() // no folder named onnx shadows the module
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("ONNX checker rejects %s: %v\n%s", path, err, b)
	}
}

// pythonWithONNX is the first python3 (on PATH, then Debian's) that imports
// onnx.checker, or "".
func pythonWithONNX() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		p, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		cmd := exec.Command(p, "-c", "import onnx.checker")
		cmd.Dir = os.TempDir()
		if cmd.Run() == nil {
			return p
		}
	}
	return ""
}
