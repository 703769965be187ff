package onnx

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxslim/onnxslim/internal/testdata"
	pb "github.com/onnxslim/onnxslim/onnx/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// allModelFiles lists every .onnx file under the shared conformance suites and models.
func allModelFiles(t *testing.T) []string {
	var files []string
	for _, root := range []string{testdata.Conformance(t), testdata.Models(t)} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".onnx") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// TestRoundTrip decodes and re-encodes every model and checks the result is
// the same protobuf message as the original, field for field.
func TestRoundTrip(t *testing.T) {
	passed, files := 0, 0
	eachModelFile(t, func(f string, data []byte) {
		files++
		want := &pb.ModelProto{}
		if err := proto.Unmarshal(data, want); err != nil {
			t.Errorf("%s: reference unmarshal: %v", f, err)
			return
		}
		m, err := Decode(data)
		if err != nil {
			t.Errorf("%s: decode: %v", f, err)
			return
		}
		out, err := Encode(m)
		if err != nil {
			t.Errorf("%s: encode: %v", f, err)
			return
		}
		got := &pb.ModelProto{}
		if err := proto.Unmarshal(out, got); err != nil {
			t.Errorf("%s: re-decode: %v", f, err)
			return
		}
		if !proto.Equal(want, got) {
			t.Errorf("%s: round trip changed the model", f)
			return
		}
		passed++
	})
	t.Logf("round trip: %d of %d models identical", passed, files)
}

// eachModelFile calls visit with the path and bytes of every shared model
// file; it fails when there are none.
func eachModelFile(t *testing.T, visit func(path string, data []byte)) {
	t.Helper()
	files := allModelFiles(t)
	if len(files) == 0 {
		t.Fatal("no models found")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		visit(f, data)
	}
}
