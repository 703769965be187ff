package cleanup

import (
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
)

func init() {
	passes.Register(&passes.Pass{
		Name: "inline-functions",
		Doc:  "replace calls of model-local functions by their bodies and drop the functions (for consumers that do not read them: TensorRT, TFLite converters)",
		Run:  inlineFunctions,
	})
}

// inlineFunctions makes the model function-free: every call is expanded
// (onnx.Model.InlineFunctions checks the whole model before changing it, so
// a refusal leaves it as it was), then the functions nothing calls go too.
// It is one rewrite for --max-rewrites: the expansion is all or nothing.
func inlineFunctions(c *passes.Context, m *onnx.Model) (int, error) {
	if len(m.Functions) == 0 || !c.Allow() {
		return 0, nil
	}
	n, err := m.InlineFunctions()
	if err != nil {
		return 0, err
	}
	dropped := m.RemoveUncalledFunctions()
	if n > 0 || dropped > 0 {
		c.Logf("inlined %d calls, removed %d uncalled functions", n, dropped)
	}
	return n + dropped, nil
}
