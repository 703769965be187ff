package passes

import (
	"fmt"
	"strings"
)

// Step is one entry of a pipeline: a pass with its options, or a group.
type Step struct {
	Pass    *Pass
	Group   *Group
	Options Values
	Text    string // the spec text of this step, for reports
}

// Pipeline is a parsed --passes spec.
type Pipeline struct{ Steps []Step }

// SpecError is a mistake in a --passes spec (a usage error).
type SpecError struct{ Msg string }

func (e *SpecError) Error() string { return e.Msg }

func specErrorf(format string, args ...any) error {
	return &SpecError{fmt.Sprintf(format, args...)}
}

// Parse reads a spec such as "fold,cleanup,quantize(mode=int8,calib=entropy)".
// "none" (or "") is the empty pipeline. Unknown passes or options and bad
// values are SpecErrors listing what exists.
func Parse(spec string) (*Pipeline, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "none" {
		return &Pipeline{}, nil
	}
	items, err := splitTop(spec)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{}
	for _, item := range items {
		name, args, err := splitCall(item)
		if err != nil {
			return nil, err
		}
		if g := groups[name]; g != nil {
			if args != "" {
				return nil, specErrorf("--passes: group %q takes no options", name)
			}
			p.Steps = append(p.Steps, Step{Group: g, Text: item})
			continue
		}
		pass, ok := Lookup(name)
		if !ok {
			return nil, specErrorf("--passes: unknown pass %q (available: %s; `onnxslim passes` lists their options)", name, strings.Join(names(), ", "))
		}
		vals, err := pass.defaults()
		if err != nil {
			return nil, err
		}
		if args != "" {
			kvs, err := splitTop(args)
			if err != nil {
				return nil, err
			}
			for _, kv := range kvs {
				k, v, ok := strings.Cut(kv, "=")
				k, v = strings.TrimSpace(k), strings.TrimSpace(v)
				if !ok || k == "" {
					return nil, specErrorf("--passes: %s: %q is not NAME=VALUE", name, kv)
				}
				opt, ok := pass.option(k)
				if !ok {
					return nil, specErrorf("--passes: pass %s has no option %q (%s)", name, k, pass.optionNames())
				}
				x, err := opt.parse(v)
				if err != nil {
					return nil, specErrorf("--passes: pass %s: %v", name, err)
				}
				vals[k] = x
			}
		}
		p.Steps = append(p.Steps, Step{Pass: pass, Options: vals, Text: item})
	}
	return p, nil
}

// splitTop splits on commas that are not inside parentheses or brackets.
func splitTop(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
			if depth < 0 {
				return nil, specErrorf("--passes %q: unbalanced %q", s, r)
			}
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, specErrorf("--passes %q: unbalanced parentheses", s)
	}
	out = append(out, strings.TrimSpace(s[start:]))
	for _, item := range out {
		if item == "" {
			return nil, specErrorf("--passes %q: empty entry", s)
		}
	}
	return out, nil
}

// splitCall splits "name(args)" into name and args.
func splitCall(item string) (string, string, error) {
	open := strings.IndexByte(item, '(')
	if open < 0 {
		return item, "", nil
	}
	if !strings.HasSuffix(item, ")") {
		return "", "", specErrorf("--passes: %q: text after the closing parenthesis", item)
	}
	return strings.TrimSpace(item[:open]), strings.TrimSpace(item[open+1 : len(item)-1]), nil
}

// String renders the pipeline back as a spec.
func (p *Pipeline) String() string {
	var parts []string
	for _, s := range p.Steps {
		parts = append(parts, s.Text)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// Lossy reports whether any pass of the pipeline is lossy.
func (p *Pipeline) Lossy() bool {
	for _, s := range p.Steps {
		if s.Pass != nil && s.Pass.Lossy {
			return true
		}
	}
	return false
}
