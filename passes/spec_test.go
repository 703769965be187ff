package passes_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/passes"
	_ "github.com/onnxslim/onnxslim/passes/all"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		steps   int
		wantErr string
	}{
		{"", 0, ""},
		{"none", 0, ""},
		{"fold", 1, ""},
		{"fold,cleanup,fuse", 3, ""},
		{"default", 1, ""},
		{" fold ( max_bytes = 2048 ) , cleanup", 2, ""},
		{"fold(max_bytes=4MiB)", 1, ""},
		{"fold(bn=false,affine=false)", 1, ""},
		{"nosuch", 0, `unknown pass "nosuch"`},
		{"fold(nosuch=1)", 0, `has no option "nosuch"`},
		{"fold(max_bytes=lots)", 0, "not an integer"},
		{"fold(bn=maybe)", 0, "not true or false"},
		{"fold(max_bytes)", 0, "is not NAME=VALUE"},
		{"fold(", 0, "unbalanced"},
		{"fold,,cleanup", 0, "empty entry"},
		{"default(x=1)", 0, "takes no options"},
	} {
		p, err := passes.Parse(tc.spec)
		if tc.wantErr != "" {
			var se *passes.SpecError
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &se) {
				t.Errorf("Parse(%q) = %v, want a SpecError containing %q", tc.spec, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.spec, err)
			continue
		}
		if len(p.Steps) != tc.steps {
			t.Errorf("Parse(%q): %d steps, want %d", tc.spec, len(p.Steps), tc.steps)
		}
	}
	p, err := passes.Parse("fold(max_bytes=4MiB)")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Steps[0].Options.Int("max_bytes"); got != 4<<20 {
		t.Errorf("max_bytes = %d, want %d", got, 4<<20)
	}
}

func TestUnknownPassListsAvailable(t *testing.T) {
	_, err := passes.Parse("nosuch")
	for _, name := range []string{"fold", "cleanup", "fuse", "default"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not list %q", err, name)
		}
	}
}
