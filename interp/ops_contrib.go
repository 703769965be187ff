package interp

// ONNX Runtime's contrib ops: the com.microsoft domain that its graph
// optimizer (level "extended" and above), its quantizer and its
// transformer tools write into models users ship, and the few ops it
// registers in the default domain below their standard opset. Each kernel
// follows ONNX Runtime's CPU kernel (docs/ContribOperators.md and
// onnxruntime/contrib_ops/cpu) and is checked against it node by node
// (checkORT in ort_node_test.go).

// msDomain is ONNX Runtime's contrib op domain.
const msDomain = "com.microsoft"
