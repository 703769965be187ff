package main

import (
	"bytes"
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

type externalFile struct {
	Location string `json:"location"`
	Bytes    int64  `json:"bytes"`
}

// TotalBytes is the model's size on disk, external data included.
func (f modelFiles) TotalBytes() int64 {
	n := f.Bytes
	for _, e := range f.External {
		n += e.Bytes
	}
	return n
}

// loadModel loads a model and records the files it occupies. onnx.Load inlines
// external data and forgets where it came from, so externalFiles lists the
// locations first.
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
	if files.External, err = externalFiles(path); err != nil {
		return nil, files, err
	}
	m, err := onnx.Load(path)
	if err != nil {
		return nil, files, inFile(path, err)
	}
	for i, e := range files.External {
		if st, err := os.Stat(filepath.Join(filepath.Dir(path), e.Location)); err == nil {
			files.External[i].Bytes = st.Size()
		}
	}
	return m, files, nil
}

// externalFiles lists the external data files a model refers to. Only files
// with an external_data entry contain the key "location", so most models are
// not decoded here.
func externalFiles(path string) ([]externalFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(data, []byte("location")) {
		return nil, nil
	}
	pre, err := onnx.DecodeUnchecked(data)
	if err != nil {
		return nil, inFile(path, err)
	}
	var out []externalFile
	seen := map[string]bool{}
	_ = pre.Tensors(func(_ string, t *onnx.Tensor) error {
		for _, kv := range t.External {
			if kv.Key == "location" && t.DataLocation == 1 && !seen[kv.Value] {
				seen[kv.Value] = true
				out = append(out, externalFile{Location: kv.Value})
			}
		}
		return nil
	})
	return out, nil
}

// saveModel writes m to path and reports the files written. If the save fails
// after the external data file was written, that file is removed too, so a
// failed run leaves no partial output.
func saveModel(m *onnx.Model, path string, opts onnx.SaveOptions) (modelFiles, error) {
	files := modelFiles{Path: path}
	var dataPath string
	if opts.ExternalData {
		name := opts.ExternalFile
		if name == "" {
			name = trimExt(filepath.Base(path)) + ".data"
		}
		dataPath = filepath.Join(filepath.Dir(path), name)
		files.External = []externalFile{{Location: name}}
	}
	dataExisted := dataPath != "" && exists(dataPath)
	if err := onnx.Save(m, path, opts); err != nil {
		if dataPath != "" && !dataExisted {
			os.Remove(dataPath)
		}
		return files, inFile(path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return files, err
	}
	files.Bytes = st.Size()
	if dataPath != "" {
		if st, err := os.Stat(dataPath); err == nil {
			files.External[0].Bytes = st.Size()
		}
	}
	return files, nil
}

func trimExt(name string) string { return name[:len(name)-len(filepath.Ext(name))] }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// removeModel deletes a model saveModel wrote, with its external data.
func removeModel(f modelFiles) {
	os.Remove(f.Path)
	for _, e := range f.External {
		os.Remove(filepath.Join(filepath.Dir(f.Path), e.Location))
	}
}
