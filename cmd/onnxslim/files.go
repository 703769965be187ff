package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/onnxslim/onnxslim/onnx"
)

// modelFiles describes a model on disk: the .onnx file and its external data files.
type modelFiles struct {
	Path     string
	Bytes    int64
	External []externalFile
}

// externalFile is an external data file: its size and how many tensors
// and bytes of the model it holds.
type externalFile struct {
	Location    string `json:"location"`
	Bytes       int64  `json:"bytes"`
	Tensors     int    `json:"tensors"`
	TensorBytes int64  `json:"tensor_bytes"`
	Linked      bool   `json:"linked,omitempty"` // a hard link to the input's data file (--link-data)
	// Names is how many names the file has when more than one: a data
	// file --link-data shares between models (inspect).
	Names int `json:"names,omitempty"`
}

func externalFiles(fs []onnx.ExternalFile) []externalFile {
	var out []externalFile
	for _, f := range fs {
		out = append(out, externalFile{Location: f.Location, Bytes: f.Bytes, Tensors: f.Tensors, TensorBytes: f.TensorBytes, Linked: f.Linked})
	}
	return out
}

// TotalBytes is the model's size on disk, external data included.
func (f modelFiles) TotalBytes() int64 {
	n := f.Bytes
	for _, e := range f.External {
		n += e.Bytes
	}
	return n
}

// loadModel loads a model and records the files it occupies.
func loadModel(path string) (*onnx.Model, modelFiles, error) {
	files := modelFiles{Path: path}
	st, err := os.Stat(path)
	if err != nil {
		return nil, files, err // *PathError names the file
	}
	if st.IsDir() {
		return nil, files, fmt.Errorf("%s: is a directory, not an ONNX model file", path)
	}
	files.Bytes = st.Size()
	m, err := onnx.Load(path)
	if err != nil {
		return nil, files, inFile(path, err)
	}
	files.External = externalFiles(m.ExternalFiles())
	for i, e := range files.External {
		if fi, err := os.Stat(filepath.Join(filepath.Dir(path), e.Location)); err == nil {
			if n := hardLinks(fi); n > 1 {
				files.External[i].Names = n
			}
		}
	}
	return m, files, nil
}

// stagedSave is onnx.Stage of a model run in the background.
type stagedSave struct {
	done   chan struct{} // closed when Stage has returned
	staged *onnx.Staged
	err    error
}

func (s *stagedSave) run(m *onnx.Model, path string, opts onnx.SaveOptions) {
	defer close(s.done)
	s.staged, s.err = onnx.Stage(m, path, opts)
}

// discard stops the save if it is still writing and drops what it wrote
// (nothing once committed).
func (s *stagedSave) discard(stop func()) {
	stop()
	<-s.done
	if s.staged != nil {
		s.staged.Discard()
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
