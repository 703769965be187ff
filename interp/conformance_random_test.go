package interp_test

import (
	"errors"
	"fmt"
	"math"

	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/onnx"
)

// Random ops cannot reproduce numpy's seeded generator, so a case whose graph
// samples (Bernoulli, RandomUniform/Normal and their *Like forms, Multinomial,
// Dropout in training mode with ratio > 0) and whose outputs differ from the
// recorded ones is checked by shape, type and statistics instead:
//
//   - Bernoulli (also its expansion RandomUniformLike → Greater → Cast): every
//     output is 0 or 1, 1 where p = 1 and 0 where p = 0, and the mean is within
//     4σ + 1/n of the mean probability.
//   - Dropout in training mode: every output is 0 or x/(1-ratio), the mask
//     marks exactly the kept elements, and the dropped fraction is within
//     4σ + 1/n of ratio.
//   - RandomUniform(Like): values in [low, high]; RandomNormal(Like): finite;
//     Multinomial: class indices in range.
//
// Such cases are reported as "passed by statistics", counted apart from exact
// passes and never toward the exact floor.

const statPassed = "passed by statistics"

// randomNodes returns the sampling nodes of the main graph that make the
// outputs irreproducible, given the feeds (Dropout samples only in training
// mode with a ratio above zero).
func randomNodes(m *onnx.Model, feeds map[string]*interp.Tensor) []*onnx.Node {
	var out []*onnx.Node
	for _, n := range m.Graph.Nodes {
		switch n.OpType {
		case "Bernoulli", "RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike", "Multinomial":
			out = append(out, n)
		case "Dropout":
			train := valueOf(n.Input(2), feeds)
			if train == nil || train.DType != onnx.Bool || !train.Data.([]bool)[0] {
				continue
			}
			if r := dropoutRatio(n, feeds); r > 0 {
				out = append(out, n)
			}
		}
	}
	return out
}

// valueOf is a node input's value: a feed or an initializer.
func valueOf(v *onnx.Value, feeds map[string]*interp.Tensor) *interp.Tensor {
	if v == nil {
		return nil
	}
	if t := feeds[v.Name]; t != nil {
		return t
	}
	if v.Const != nil {
		t, err := interp.FromONNX(v.Const)
		if err == nil {
			return t
		}
	}
	return nil
}

func dropoutRatio(n *onnx.Node, feeds map[string]*interp.Tensor) float64 {
	r := valueOf(n.Input(1), feeds)
	if r == nil {
		return float64(n.AttrFloat("ratio", 0.5))
	}
	v, err := asFloat64s(r)
	if err != nil || len(v) != 1 {
		return math.NaN()
	}
	return v[0]
}

// checkRandom checks the outputs of a sampling graph by statistics.
func checkRandom(m *onnx.Model, nodes []*onnx.Node, feeds map[string]*interp.Tensor, got, want []*interp.Tensor) (string, error) {
	for i := range want {
		if i >= len(got) || got[i] == nil {
			return "", fmt.Errorf("output %d is missing", i)
		}
		if got[i].DType != want[i].DType || fmt.Sprint(got[i].Shape) != fmt.Sprint(want[i].Shape) {
			return "", fmt.Errorf("output %d: got %s, want %s", i, got[i], want[i])
		}
	}
	var checks []string
	outIndex := map[string]int{}
	for i, v := range m.Graph.Outputs {
		outIndex[v.Name] = i
	}
	for _, n := range nodes {
		switch n.OpType {
		case "Dropout":
			if err := checkDropout(n, feeds, got, outIndex); err != nil {
				return "", err
			}
			checks = append(checks, "Dropout: outputs 0 or x/(1-ratio), mask consistent, dropped fraction near ratio")
		case "Bernoulli", "RandomUniformLike":
			if n.OpType == "RandomUniformLike" && !bernoulliExpansion(m) {
				if err := checkUniform(n, got); err != nil {
					return "", err
				}
				checks = append(checks, "RandomUniformLike: values in [low, high]")
				continue
			}
			p := valueOf(n.Input(0), feeds)
			if p == nil {
				return "", errors.New("the Bernoulli probabilities are not a feed")
			}
			for _, g := range got {
				if err := checkBernoulli(p, g); err != nil {
					return "", err
				}
			}
			checks = append(checks, "Bernoulli: outputs 0/1, consistent with p = 0 or 1, mean near mean(p)")
		case "RandomUniform":
			if err := checkUniform(n, got); err != nil {
				return "", err
			}
			checks = append(checks, n.OpType+": values in [low, high]")
		default: // RandomNormal(Like), Multinomial: shapes and types were checked above
			for _, g := range got {
				v, err := asFloat64s(g)
				if err != nil {
					return "", err
				}
				for _, x := range v {
					if math.IsNaN(x) || math.IsInf(x, 0) {
						return "", fmt.Errorf("%s produced %v", n.OpType, x)
					}
				}
			}
			checks = append(checks, n.OpType+": shape, type and finite values")
		}
	}
	return fmt.Sprint(checks), nil
}

// bernoulliExpansion reports whether the graph is Bernoulli's function body:
// RandomUniformLike feeding a comparison.
func bernoulliExpansion(m *onnx.Model) bool {
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Greater" || n.OpType == "Less" {
			return true
		}
	}
	return false
}

func checkBernoulli(p, y *interp.Tensor) error {
	pv, err := asFloat64s(p)
	if err != nil {
		return err
	}
	yv, err := asFloat64s(y)
	if err != nil {
		return err
	}
	if len(pv) != len(yv) {
		return fmt.Errorf("%d probabilities for %d outputs", len(pv), len(yv))
	}
	var sum, mean, variance float64
	for i, v := range yv {
		if v != 0 && v != 1 {
			return fmt.Errorf("element %d is %v, not 0 or 1", i, v)
		}
		if (pv[i] <= 0 && v != 0) || (pv[i] >= 1 && v != 1) {
			return fmt.Errorf("element %d is %v with p = %v", i, v, pv[i])
		}
		sum += v
		mean += pv[i]
		variance += pv[i] * (1 - pv[i])
	}
	n := float64(len(yv))
	if n > 0 && !(math.Abs(sum-mean)/n <= 4*math.Sqrt(variance)/n+1/n) {
		return fmt.Errorf("mean %.3f is far from the mean probability %.3f", sum/n, mean/n)
	}
	return nil
}

func checkDropout(n *onnx.Node, feeds map[string]*interp.Tensor, got []*interp.Tensor, outIndex map[string]int) error {
	x := valueOf(n.Input(0), feeds)
	if x == nil {
		return errors.New("the Dropout input is not a feed")
	}
	xv, err := asFloat64s(x)
	if err != nil {
		return err
	}
	ratio := dropoutRatio(n, feeds)
	if !(ratio > 0 && ratio < 1) {
		return fmt.Errorf("ratio %v is not in (0, 1)", ratio)
	}
	yi, ok := outIndex[n.Output(0).Name]
	if !ok {
		return errors.New("the Dropout output is not a graph output")
	}
	yv, err := asFloat64s(got[yi])
	if err != nil {
		return err
	}
	var mask []bool
	if mv := n.Output(1); mv != nil {
		if mi, ok := outIndex[mv.Name]; ok {
			mask, _ = got[mi].Data.([]bool)
		}
	}
	dropped, counted := 0, 0
	for i, v := range yv {
		scaled := xv[i] / (1 - ratio)
		kept := math.Abs(v-scaled) <= 1e-5+1e-4*math.Abs(scaled)
		if !kept && v != 0 {
			return fmt.Errorf("element %d is %v, neither 0 nor x/(1-ratio) = %v", i, v, scaled)
		}
		if mask != nil && xv[i] != 0 && mask[i] != kept {
			return fmt.Errorf("mask element %d is %v but the element was %s", i, mask[i], map[bool]string{true: "kept", false: "dropped"}[kept])
		}
		if xv[i] != 0 {
			counted++
			if !kept {
				dropped++
			}
		}
	}
	if c := float64(counted); c > 0 {
		sigma := math.Sqrt(ratio * (1 - ratio) / c)
		if frac := float64(dropped) / c; math.Abs(frac-ratio) > 4*sigma+1/c {
			return fmt.Errorf("dropped fraction %.3f is far from ratio %.3f", frac, ratio)
		}
	}
	return nil
}

func checkUniform(n *onnx.Node, got []*interp.Tensor) error {
	lo, hi := float64(n.AttrFloat("low", 0)), float64(n.AttrFloat("high", 1))
	for _, g := range got {
		v, err := asFloat64s(g)
		if err != nil {
			return err
		}
		for i, x := range v {
			// float16/bfloat16 rounding may land exactly on the bounds.
			if !(x >= lo-1e-3*math.Abs(lo) && x <= hi+1e-3*math.Abs(hi)) { // NaN fails
				return fmt.Errorf("element %d is %v, outside [%v, %v]", i, x, lo, hi)
			}
		}
	}
	return nil
}
