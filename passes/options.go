package passes

import (
	"fmt"
	"strconv"
	"strings"
)

// OptionKind is the type of a pass option.
type OptionKind int

// The option types.
const (
	OptString OptionKind = iota
	OptInt
	OptFloat
	OptBool
	OptEnum
	OptList // a list of strings: exclude=[Conv_0,Gemm_3] or exclude=Conv_0|Gemm_3
)

func (k OptionKind) String() string {
	return [...]string{"string", "int", "float", "bool", "enum", "list"}[k]
}

// Option declares one option of a pass.
type Option struct {
	Name    string
	Kind    OptionKind
	Default string
	Enum    []string // allowed values of an OptEnum
	Doc     string
}

// Values are a pass's parsed options.
type Values map[string]any

// Int returns an int option.
func (v Values) Int(name string) int64 { return v[name].(int64) }

// Float returns a float option.
func (v Values) Float(name string) float64 { return v[name].(float64) }

// Bool returns a bool option.
func (v Values) Bool(name string) bool { return v[name].(bool) }

// String returns a string or enum option.
func (v Values) String(name string) string { return v[name].(string) }

// List returns a list option.
func (v Values) List(name string) []string { return v[name].([]string) }

// parse converts a textual value to the option's type.
func (o Option) parse(s string) (any, error) {
	switch o.Kind {
	case OptInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			// Accept sizes like 1MiB / 64KiB for byte budgets.
			if n, ok := parseSize(s); ok {
				return n, nil
			}
			return nil, fmt.Errorf("option %s=%q: not an integer", o.Name, s)
		}
		return n, nil
	case OptFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("option %s=%q: not a number", o.Name, s)
		}
		return f, nil
	case OptBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("option %s=%q: not true or false", o.Name, s)
		}
		return b, nil
	case OptEnum:
		for _, e := range o.Enum {
			if e == s {
				return s, nil
			}
		}
		return nil, fmt.Errorf("option %s=%q: must be one of %s", o.Name, s, strings.Join(o.Enum, ", "))
	case OptList:
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		if s == "" {
			return []string{}, nil
		}
		return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' || r == ';' }), nil
	}
	return s, nil
}

func parseSize(s string) (int64, bool) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			f, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			if err != nil {
				return 0, false
			}
			return int64(f * float64(u.mult)), true
		}
	}
	return 0, false
}

// defaults returns the option values with every default filled in.
func (p *Pass) defaults() (Values, error) {
	v := Values{}
	for _, o := range p.Options {
		x, err := o.parse(o.Default)
		if err != nil {
			return nil, fmt.Errorf("pass %s: bad default: %w", p.Name, err)
		}
		v[o.Name] = x
	}
	return v, nil
}

func (p *Pass) option(name string) (Option, bool) {
	for _, o := range p.Options {
		if o.Name == name {
			return o, true
		}
	}
	return Option{}, false
}

func (p *Pass) optionNames() string {
	if len(p.Options) == 0 {
		return "it takes none"
	}
	var ns []string
	for _, o := range p.Options {
		ns = append(ns, o.Name)
	}
	return "options: " + strings.Join(ns, ", ")
}
