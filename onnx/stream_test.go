package onnx

import (
	"bytes"
	"testing"
)

// TestWriteToMatchesEncode: the streaming encoder, streaming every message
// however small, writes the bytes Encode does, on every shared model.
func TestWriteToMatchesEncode(t *testing.T) {
	n := 0
	eachModelFile(t, func(f string, data []byte) {
		m, err := DecodeUnchecked(data)
		if err != nil {
			return
		}
		want, err := Encode(m)
		if err != nil {
			return
		}
		mp, err := modelToProto(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, min := range []int{0, 64, streamMin} {
			var buf bytes.Buffer
			w, err := writeProto(&buf, mp.ProtoReflect(), min)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if w != int64(buf.Len()) || !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("%s (messages from %d bytes streamed): %d bytes written, differ from Encode's %d", f, min, w, len(want))
			}
		}
		n++
	})
	if n < 100 {
		t.Errorf("only %d models compared", n)
	}
}
