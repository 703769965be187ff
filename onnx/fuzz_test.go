package onnx

import (
	"bytes"
	"testing"
)

// FuzzDecode checks that Decode never panics on any input, and that whatever
// it accepts encodes, decodes again, and then encodes to the same bytes (the
// codec is a fixed point after one round). Seeds: testdata/fuzz/FuzzDecode/seed-*,
// small models from the ONNX conformance suite. Run with `make fuzz`.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded model does not encode: %v", err)
		}
		m2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded model does not decode: %v", err)
		}
		out2, err := Encode(m2)
		if err != nil {
			t.Fatalf("second encode: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("encode∘decode is not stable: %d then %d bytes", len(out), len(out2))
		}
	})
}
