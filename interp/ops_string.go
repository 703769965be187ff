package interp

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/onnxslim/onnxslim/onnx"
)

// String ops: StringNormalizer, StringConcat, StringSplit, RegexFullMatch and
// TfIdfVectorizer.

func stringsOf(t *Tensor) ([]string, error) {
	if t == nil || t.DType != onnx.String {
		return nil, fmt.Errorf("expected a string tensor, got %s", t)
	}
	return t.Data.([]string), nil
}

func stringNormalizerBuilder(b *Build) (Kernel, error) {
	action := b.String("case_change_action", "NONE")
	if action != "NONE" && action != "LOWER" && action != "UPPER" {
		return nil, fmt.Errorf("unknown case_change_action %q", action)
	}
	sensitive := b.Int("is_case_sensitive", 0) != 0
	stop := map[string]bool{}
	if a := b.Node.Attr("stopwords"); a != nil {
		for _, w := range a.Strings {
			s := string(w)
			if !sensitive {
				s = strings.ToLower(s)
			}
			stop[s] = true
		}
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		v, err := stringsOf(x)
		if err != nil {
			return nil, err
		}
		if x.Rank() > 2 || (x.Rank() == 2 && x.Shape[0] != 1) {
			return nil, fmt.Errorf("input must be [C] or [1, C], got %s", x)
		}
		var kept []string
		for _, s := range v {
			key := s
			if !sensitive {
				key = strings.ToLower(s)
			}
			if stop[key] {
				continue
			}
			switch action {
			case "LOWER":
				s = strings.ToLower(s)
			case "UPPER":
				s = strings.ToUpper(s)
			}
			kept = append(kept, s)
		}
		if len(kept) == 0 {
			kept = []string{""} // an empty result is one empty string
		}
		shape := []int{len(kept)}
		if x.Rank() == 2 {
			shape = []int{1, len(kept)}
		}
		out := ctx.New(onnx.String, shape...)
		copy(out.Data.([]string), kept)
		return []*Tensor{out}, nil
	}, nil
}

func stringConcatKernel(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if in[0].DType != onnx.String || in[1].DType != onnx.String {
		return nil, fmt.Errorf("inputs must be strings, got %s and %s", in[0], in[1])
	}
	out, err := Binary(ctx, onnx.String, in[0], in[1], func(a, b string) string { return a + b })
	return []*Tensor{out}, err
}

func stringSplitBuilder(b *Build) (Kernel, error) {
	delim := b.String("delimiter", "")
	maxSplit := b.Int("maxsplit", -1)
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		v, err := stringsOf(x)
		if err != nil {
			return nil, err
		}
		parts := make([][]string, len(v))
		most := 0
		for i, s := range v {
			parts[i] = pySplit(s, delim, maxSplit)
			most = max(most, len(parts[i]))
		}
		subs := ctx.New(onnx.String, append(append([]int{}, x.Shape...), most)...)
		lens := ctx.New(onnx.Int64, x.Shape...)
		sd, ld := subs.Data.([]string), lens.Data.([]int64)
		for i, p := range parts {
			copy(sd[i*most:], p)
			ld[i] = int64(len(p))
		}
		return []*Tensor{subs, lens}, nil
	}, nil
}

// pySplit splits like Python's str.split: an empty delimiter splits on runs
// of whitespace and drops empty ends; maxsplit < 0 means no limit.
func pySplit(s, delim string, maxSplit int64) []string {
	if delim != "" {
		n := -1
		if maxSplit >= 0 {
			n = int(maxSplit) + 1
		}
		return strings.SplitN(s, delim, n)
	}
	var out []string
	rest := strings.TrimLeft(s, " \t\n\r\v\f")
	for rest != "" {
		if maxSplit >= 0 && int64(len(out)) == maxSplit {
			out = append(out, strings.TrimRight(rest, " \t\n\r\v\f"))
			break
		}
		i := strings.IndexAny(rest, " \t\n\r\v\f")
		if i < 0 {
			out = append(out, rest)
			break
		}
		out = append(out, rest[:i])
		rest = strings.TrimLeft(rest[i:], " \t\n\r\v\f")
	}
	return out
}

// regexFullMatchBuilder matches with Go's RE2-syntax regexp package, which
// ONNX's RE2 reference shares (no backreferences or lookaround).
func regexFullMatchBuilder(b *Build) (Kernel, error) {
	pat := b.String("pattern", "")
	re, err := regexp.Compile(`^(?:` + pat + `)$`)
	if err != nil {
		return nil, fmt.Errorf("bad pattern %q: %v", pat, err)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		v, err := stringsOf(in[0])
		if err != nil {
			return nil, err
		}
		out := ctx.New(onnx.Bool, in[0].Shape...)
		d := out.Data.([]bool)
		for i, s := range v {
			d[i] = re.MatchString(s)
		}
		return []*Tensor{out}, nil
	}, nil
}

// ---- TfIdfVectorizer ----

type tfidf struct {
	minN, maxN, maxSkip int
	mode                string
	grams               []map[string]int // per length n-1: gram key → output column
	weights             []float32
	width               int
}

func tfidfBuilder(b *Build) (Kernel, error) {
	t := &tfidf{minN: int(b.Int("min_gram_length", 0)), maxN: int(b.Int("max_gram_length", 0)),
		maxSkip: int(b.Int("max_skip_count", 0)), mode: b.String("mode", "")}
	if t.minN < 1 || t.maxN < t.minN || t.maxSkip < 0 {
		return nil, fmt.Errorf("bad gram lengths [%d, %d] or max_skip_count %d", t.minN, t.maxN, t.maxSkip)
	}
	if t.mode != "TF" && t.mode != "IDF" && t.mode != "TFIDF" {
		return nil, fmt.Errorf("unknown mode %q", t.mode)
	}
	counts, indexes := b.Ints("ngram_counts", nil), b.Ints("ngram_indexes", nil)
	var pool []string
	if a := b.Node.Attr("pool_strings"); a != nil && len(a.Strings) > 0 {
		for _, s := range a.Strings {
			pool = append(pool, string(s))
		}
	} else {
		for _, v := range b.Ints("pool_int64s", nil) {
			pool = append(pool, strconv.FormatInt(v, 10))
		}
	}
	t.weights = b.Floats("weights", nil)
	if t.weights != nil && len(t.weights) != len(indexes) {
		return nil, fmt.Errorf("%d weights for %d n-grams", len(t.weights), len(indexes))
	}
	for _, ix := range indexes {
		if ix < 0 {
			return nil, fmt.Errorf("negative ngram_indexes entry %d", ix)
		}
		t.width = max(t.width, int(ix)+1)
	}
	// Pool segment n (from ngram_counts[n-1]) holds the n-grams of length n.
	gi := 0
	for n := 1; n <= len(counts); n++ {
		lo, hi := int(counts[n-1]), len(pool)
		if n < len(counts) {
			hi = int(counts[n])
		}
		if lo < 0 || hi > len(pool) || lo > hi || (hi-lo)%n != 0 {
			return nil, fmt.Errorf("ngram_counts %v do not fit a pool of %d", counts, len(pool))
		}
		m := map[string]int{}
		for p := lo; p < hi; p += n {
			if gi >= len(indexes) {
				return nil, fmt.Errorf("fewer ngram_indexes (%d) than n-grams in the pool", len(indexes))
			}
			m[strings.Join(pool[p:p+n], "\x00")] = gi
			gi++
		}
		t.grams = append(t.grams, m)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		var tok []string
		if x.DType == onnx.String {
			tok = x.Data.([]string)
		} else {
			v, err := toInt64s(x)
			if err != nil {
				return nil, err
			}
			tok = make([]string, len(v))
			for i, n := range v {
				tok[i] = strconv.FormatInt(n, 10)
			}
		}
		rows, c := 1, x.Len()
		shape := []int{t.width}
		switch x.Rank() {
		case 1:
		case 2:
			rows, c = x.Shape[0], x.Shape[1]
			shape = []int{rows, t.width}
		default:
			return nil, fmt.Errorf("input must have rank 1 or 2, got %s", x)
		}
		out := ctx.New(onnx.Float, shape...)
		y := out.Floats()
		cnt := make([]float32, len(indexes))
		for r := range rows {
			clear(cnt)
			t.count(tok[r*c:(r+1)*c], cnt)
			for g, v := range cnt {
				if v == 0 {
					continue
				}
				w := float32(1)
				if t.weights != nil {
					w = t.weights[g]
				}
				switch t.mode {
				case "IDF":
					v = w
				case "TFIDF":
					v *= w
				}
				y[r*t.width+int(indexes[g])] = v
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

// count adds the pool n-grams found in one row: for each skip distance, every
// start position extends grams of lengths 1..maxN; unigrams count only once.
func (t *tfidf) count(row []string, cnt []float32) {
	start := t.minN
	for skip := 1; skip <= t.maxSkip+1; skip++ {
		for s := range row {
			if s+skip*(start-1) >= len(row) {
				break
			}
			key := ""
			for n, p := 1, s; n <= t.maxN && p < len(row) && n <= len(t.grams); n, p = n+1, p+skip {
				if n == 1 {
					key = row[p]
				} else {
					key += "\x00" + row[p]
				}
				if n < start {
					continue
				}
				if g, ok := t.grams[n-1][key]; ok {
					cnt[g]++
				}
			}
		}
		if start == 1 {
			start++
			if start > t.maxN {
				break
			}
		}
	}
}

func init() {
	Register("", "StringNormalizer", 10, needInputs(1, stringNormalizerBuilder))
	Register("", "StringConcat", 20, needInputs(2, noAttrs(stringConcatKernel)))
	Register("", "StringSplit", 20, needInputs(1, stringSplitBuilder))
	Register("", "RegexFullMatch", 20, needInputs(1, regexFullMatchBuilder))
	Register("", "TfIdfVectorizer", 9, needInputs(1, tfidfBuilder))
}
