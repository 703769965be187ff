package dataset

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/onnxslim/onnxslim/onnx"
)

// A symbolic dimension may be a sum rather than a name: Hugging Face's
// exporters call an attention mask's length "past_sequence_length + 1" or
// "past_sequence_length + sequence_length", torch.export "s0 + s1" or
// "2*s0". Such a dimension is not free: it follows from its symbols, which
// are chosen as other dimensions are.

// dimTerm is one term of a dimension expression: coef·sym, or coef alone
// where sym is "".
type dimTerm struct {
	coef int64
	sym  string
}

// parseDimExpr reads a sum of terms (a name, an integer, or integer*name,
// joined by + or -); ok is false for a plain name or anything else.
func parseDimExpr(s string) (terms []dimTerm, ok bool) {
	// + and - only with spaces around them, as the exporters write them:
	// "seq-len" is a name.
	if !strings.Contains(s, " + ") && !strings.Contains(s, " - ") && !strings.Contains(s, "*") {
		return nil, false
	}
	s = strings.ReplaceAll(s, " ", "")
	if s == "" || isIdent(s) {
		return nil, false
	}
	sign := int64(1)
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '+' && s[i] != '-' {
			continue
		}
		if i == start { // a leading sign
			if i == len(s) || i > 0 {
				return nil, false
			}
		} else {
			t, ok := parseDimTerm(s[start:i])
			if !ok {
				return nil, false
			}
			t.coef *= sign
			terms = append(terms, t)
		}
		if i < len(s) {
			sign = 1
			if s[i] == '-' {
				sign = -1
			}
		}
		start = i + 1
	}
	return terms, len(terms) > 0
}

func parseDimTerm(s string) (dimTerm, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return dimTerm{coef: n}, true
	}
	if isIdent(s) {
		return dimTerm{coef: 1, sym: s}, true
	}
	c, sym, ok := strings.Cut(s, "*")
	if !ok {
		return dimTerm{}, false
	}
	if n, err := strconv.ParseInt(c, 10, 64); err == nil && isIdent(sym) {
		return dimTerm{coef: n, sym: sym}, true
	}
	if n, err := strconv.ParseInt(sym, 10, 64); err == nil && isIdent(c) {
		return dimTerm{coef: n, sym: c}, true
	}
	return dimTerm{}, false
}

func isIdent(s string) bool {
	for i, r := range s {
		if !(r == '_' || r == '.' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return s != ""
}

// evalDimExpr is the value of the expression s with its symbols from dims;
// ok is false when s is not an expression, a symbol has no value, or the
// sum is not positive.
func evalDimExpr(s string, dims map[string]int64) (int64, bool) {
	terms, ok := parseDimExpr(s)
	if !ok {
		return 0, false
	}
	var v int64
	for _, t := range terms {
		x := int64(1)
		if t.sym != "" {
			if x, ok = dims[t.sym]; !ok || x <= 0 {
				return 0, false
			}
		}
		v += t.coef * x
	}
	return v, v > 0
}

// paramValue is a symbolic dimension's size from dims: its own, or its
// expression's ("past_sequence_length + 1"); 0 when neither is known.
func paramValue(d onnx.Dim, dims map[string]int64) int64 {
	if d.Kind != onnx.DimParam {
		return 0
	}
	if n := dims[d.Param]; n > 0 {
		return n
	}
	n, _ := evalDimExpr(d.Param, dims)
	return n
}
