package passes

import (
	"fmt"
	"slices"
	"strings"
)

// Step is one entry of a pipeline: a pass with its options, or a group.
type Step struct {
	Pass    *Pass
	Group   *Group
	Options Values
	// MemberOptions are a group's members' options (defaults filled in),
	// by member name; nil for a pass.
	MemberOptions map[string]Values
	Text          string // the spec text of this step, for reports
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
			opts, err := g.memberOptions(args)
			if err != nil {
				return nil, err
			}
			p.Steps = append(p.Steps, Step{Group: g, MemberOptions: opts, Text: item})
			continue
		}
		pass, ok := Lookup(name)
		if !ok {
			return nil, specErrorf("--passes: unknown pass %q (available: %s; `onnxslim passes` lists their options)", name, strings.Join(names(), ", "))
		}
		vals, err := pass.parseOptions(args)
		if err != nil {
			return nil, err
		}
		p.Steps = append(p.Steps, Step{Pass: pass, Options: vals, Text: item})
	}
	return p, nil
}

// parseOptions returns the pass's options: its defaults, overridden by
// args ("k=v,k2=v2", or "").
func (p *Pass) parseOptions(args string) (Values, error) {
	vals, err := p.defaults()
	if err != nil {
		return nil, err
	}
	err = eachOption(p.Name, args, func(k, v string) error { return p.setOption(vals, k, v) })
	return vals, err
}

// setOption parses value v of option k into vals.
func (p *Pass) setOption(vals Values, k, v string) error {
	opt, ok := p.option(k)
	if !ok {
		return specErrorf("--passes: pass %s has no option %q (%s)", p.Name, k, p.optionNames())
	}
	x, err := opt.parse(v)
	if err != nil {
		return specErrorf("--passes: pass %s: %v", p.Name, err)
	}
	vals[k] = x
	return nil
}

// eachOption calls set for each "k=v" of step name's option list args.
func eachOption(name, args string, set func(k, v string) error) error {
	if args == "" {
		return nil
	}
	kvs, err := splitTop(args)
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return specErrorf("--passes: %s: %q is not NAME=VALUE", name, kv)
		}
		if err := set(k, v); err != nil {
			return err
		}
	}
	return nil
}

// memberOptions returns the options of each member of g: the member's own
// (a member may be registered as "fold(max_bytes=1MiB)"), overridden by
// args. In args, "member.option=V" sets one member's option and
// "option=V" every member that has an option of that name.
func (g *Group) memberOptions(args string) (map[string]Values, error) {
	out := map[string]Values{}
	passesOf := map[string]*Pass{}
	for _, member := range g.Members {
		name, margs, err := splitCall(member)
		if err != nil {
			return nil, err
		}
		pass, ok := Lookup(name)
		if !ok {
			return nil, fmt.Errorf("group %s: unknown pass %s", g.Name, name)
		}
		if out[name], err = pass.parseOptions(margs); err != nil {
			return nil, fmt.Errorf("group %s: %w", g.Name, err)
		}
		passesOf[name] = pass
	}
	err := eachOption(g.Name, args, func(k, v string) error {
		if member, opt, qualified := strings.Cut(k, "."); qualified {
			pass := passesOf[member]
			if pass == nil {
				return specErrorf("--passes: group %s has no member %q (members: %s)", g.Name, member, strings.Join(g.memberNames(), ", "))
			}
			return pass.setOption(out[member], opt, v)
		}
		found := false
		for _, name := range g.memberNames() {
			if _, ok := passesOf[name].option(k); ok {
				found = true
				if err := passesOf[name].setOption(out[name], k, v); err != nil {
					return err
				}
			}
		}
		if !found {
			return specErrorf("--passes: no member of group %s has an option %q (members: %s; MEMBER.OPTION=V sets one member's)", g.Name, k, strings.Join(g.memberNames(), ", "))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// memberNames returns the pass names of g's members, without options.
func (g *Group) memberNames() []string {
	var out []string
	for _, member := range g.Members {
		name, _, _ := splitCall(member)
		out = append(out, name)
	}
	return out
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

// Has reports whether a step of the pipeline runs the pass called name.
func (p *Pipeline) Has(name string) bool {
	for _, s := range p.Steps {
		if s.Pass != nil && s.Pass.Name == name {
			return true
		}
		if s.Group != nil && slices.Contains(s.Group.Members, name) {
			return true
		}
	}
	return false
}

// Lossy reports whether a step of the pipeline changes numbers on purpose.
func (p *Pipeline) Lossy() bool {
	for _, s := range p.Steps {
		if s.Pass != nil && s.Pass.Lossy {
			return true
		}
	}
	return false
}
