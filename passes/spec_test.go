package passes_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
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
		{"default(x=1)", 0, `no member of group default has an option "x"`},
		{"default(nosuch.x=1)", 0, `group default has no member "nosuch"`},
		{"default(fold.nosuch=1)", 0, `pass fold has no option "nosuch"`},
		{"default(fold.max_bytes=lots)", 0, "not an integer"},
		{"default(fold.max_bytes=2MiB)", 1, ""},
		{"default(max_bytes=2MiB)", 1, ""},
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

// TestGroupMemberOptions: options given to a group reach its members, a
// member registered with options keeps them, and the others keep defaults.
func TestGroupMemberOptions(t *testing.T) {
	var got []string
	passes.Register(&passes.Pass{
		Name:    "test-echo",
		Options: []passes.Option{{Name: "word", Kind: passes.OptString, Default: "default"}, {Name: "n", Kind: passes.OptInt, Default: "1"}},
		Run: func(c *passes.Context, _ *onnx.Model) (int, error) {
			got = append(got, fmt.Sprintf("%s/%d", c.Options.String("word"), c.Options.Int("n")))
			return 0, nil
		},
	})
	passes.Register(&passes.Pass{Name: "test-quiet", Run: func(*passes.Context, *onnx.Model) (int, error) { return 0, nil }})
	passes.RegisterGroup(&passes.Group{Name: "test-group", Members: []string{"test-echo(n=5)", "test-quiet"}})
	for _, tc := range []struct{ spec, want string }{
		{"test-group", "default/5"},
		{"test-group(word=hi)", "hi/5"},
		{"test-group(test-echo.n=7,word=x)", "x/7"},
	} {
		got = nil
		p, err := passes.Parse(tc.spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.spec, err)
		}
		if _, err := p.Run(context.Background(), &onnx.Model{Graph: &onnx.Graph{}}, passes.Config{}); err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: member ran with %v, want [%s]", tc.spec, got, tc.want)
		}
	}
	if _, err := passes.Parse("test-group(test-quiet.n=1)"); err == nil || !strings.Contains(err.Error(), "pass test-quiet has no option") {
		t.Errorf("an option the named member lacks: err = %v", err)
	}
}
