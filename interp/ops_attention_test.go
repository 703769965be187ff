package interp_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
)

// TestFamilyConformance runs only the node/ cases whose name matches
// $ONNXSLIM_FAMILY (a regular expression), for quick iteration on a family of
// kernels; it is skipped when the variable is unset. The cases among them
// that interp/testdata/conformance-pass.txt lists must pass.
func TestFamilyConformance(t *testing.T) {
	pat := os.Getenv("ONNXSLIM_FAMILY")
	if pat == "" {
		t.Skip("ONNXSLIM_FAMILY is not set")
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		t.Fatal(err)
	}
	root := testdata.Conformance(t)
	dirs, err := os.ReadDir(filepath.Join(root, "node"))
	if err != nil {
		t.Fatal(err)
	}
	passed, total := 0, 0
	var res []caseResult
	for _, d := range dirs {
		if !d.IsDir() || !re.MatchString(d.Name()) {
			continue
		}
		total++
		r := runCaseLimited(filepath.Join(root, "node", d.Name()), caseCPU)
		r.suite, r.name = "node", d.Name()
		res = append(res, r)
		if r.status == "passed" {
			passed++
			continue
		}
		t.Logf("%s: %s: %s", d.Name(), r.status, r.reason)
	}
	t.Logf("%d of %d cases pass", passed, total)
	// The listed cases among them must still pass.
	checkPassList(t, passList, res, func(key string) bool {
		suite, name, _ := strings.Cut(key, "/")
		return suite == "node" && re.MatchString(name)
	})
}
