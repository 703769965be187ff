package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	pb "github.com/onnxslim/onnxslim/onnx/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

const externalLocation = 1 // TensorProto.DataLocation EXTERNAL

// MaxProtoSize is the largest model protobuf ONNX tools can read (2 GiB).
const MaxProtoSize = 2<<30 - 1

// Load reads a model file and the external data it refers to. Errors start
// with the file's path and name the place (graph, node, tensor).
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := DecodeUnchecked(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Dir = filepath.Dir(path)
	if err := m.loadExternal(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Tensors calls f for every constant tensor in the model: initializers,
// sparse initializer parts and attribute tensors, in all graphs and functions.
func (m *Model) Tensors(f func(place string, t *Tensor) error) error {
	for _, g := range m.Graphs() {
		for _, v := range g.Initializers {
			if err := f(fmt.Sprintf("%s: initializer %q", graphPlace(g), v.Name), v.Const); err != nil {
				return err
			}
		}
		for _, v := range g.Sparse {
			for _, t := range []*Tensor{v.Sparse.Values, v.Sparse.Indices} {
				if t != nil {
					if err := f(fmt.Sprintf("%s: sparse initializer %q", graphPlace(g), v.Name), t); err != nil {
						return err
					}
				}
			}
		}
		for _, n := range g.Nodes {
			for _, a := range n.Attrs {
				ts := append([]*Tensor{}, a.Tensors...)
				if a.Tensor != nil {
					ts = append(ts, a.Tensor)
				}
				for _, t := range ts {
					if err := f(fmt.Sprintf("%s: %s: attribute %q", graphPlace(g), NodePlace(n), a.Name), t); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

type externalRef struct {
	location       string
	offset, length int64
}

func parseExternal(kv []StringPair) (externalRef, error) {
	ref := externalRef{length: -1}
	for _, p := range kv {
		var err error
		switch p.Key {
		case "location":
			ref.location = p.Value
		case "offset":
			ref.offset, err = strconv.ParseInt(p.Value, 10, 64)
		case "length":
			ref.length, err = strconv.ParseInt(p.Value, 10, 64)
		}
		if err != nil || ref.offset < 0 || (p.Key == "length" && ref.length < 0) {
			return ref, fmt.Errorf("external data: bad %s %q", p.Key, p.Value)
		}
	}
	if ref.location == "" {
		return ref, errors.New("external data has no location")
	}
	return ref, nil
}

// SafeJoin resolves a relative location inside dir, refusing absolute paths,
// ".." components and symlinks whose target lies outside dir.
func SafeJoin(dir, location string) (string, error) {
	if location == "" || filepath.IsAbs(location) || strings.HasPrefix(location, "/") || strings.HasPrefix(location, `\`) || filepath.VolumeName(location) != "" {
		return "", fmt.Errorf("location %q must be a relative path inside the model's folder", location)
	}
	for _, part := range strings.FieldsFunc(location, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "", fmt.Errorf("location %q escapes the model's folder", location)
		}
	}
	full := filepath.Join(dir, location)
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	realFull, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(realDir, realFull)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("location %q leads outside the model's folder (through a symlink)", location)
	}
	return full, nil
}

// SaveOptions controls how Save writes a model.
type SaveOptions struct {
	// ExternalData writes initializers of at least ExternalThreshold bytes to a
	// file beside the model (ExternalFile, default: the model's base name + ".data").
	ExternalData      bool
	ExternalFile      string
	ExternalThreshold int
}

// Save writes the model to path. Files are written to a temporary file in the
// target folder and renamed, so a failed save leaves no partial output.
func Save(m *Model, path string, opts SaveOptions) error {
	mp, err := modelToProto(m)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if opts.ExternalData {
		if err := writeExternal(mp, path, opts); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if size := proto.Size(mp); size > MaxProtoSize {
		return fmt.Errorf("%s: the model is %d bytes, over protobuf's 2 GiB limit: write it with --external-data", path, size)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", path, err)
	}
	return WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// writeExternal moves large initializer payloads of the encoded model into one file.
func writeExternal(mp *pb.ModelProto, path string, opts SaveOptions) error {
	name := opts.ExternalFile
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + ".data"
	}
	if filepath.Base(name) != name {
		return fmt.Errorf("external data file %q must be a plain file name", name)
	}
	threshold := opts.ExternalThreshold
	if threshold <= 0 {
		threshold = 1024
	}
	var tensors []*pb.TensorProto
	var walk func(g *pb.GraphProto)
	walk = func(g *pb.GraphProto) {
		for _, t := range g.Initializer {
			if len(t.RawData) >= threshold {
				tensors = append(tensors, t)
			}
		}
		for _, n := range g.Node {
			for _, a := range n.Attribute {
				if a.G != nil {
					walk(a.G)
				}
				for _, sg := range a.Graphs {
					walk(sg)
				}
			}
		}
	}
	walk(mp.Graph)
	dataPath := filepath.Join(filepath.Dir(path), name)
	return WriteFileAtomic(dataPath, func(w io.Writer) error {
		var off int64
		for _, t := range tensors {
			// Large tensors start on a 64 KiB boundary so readers can mmap them.
			if len(t.RawData) >= 1<<20 && off%65536 != 0 {
				pad := 65536 - off%65536
				if _, err := w.Write(make([]byte, pad)); err != nil {
					return err
				}
				off += pad
			}
			if _, err := w.Write(t.RawData); err != nil {
				return err
			}
			t.ExternalData = []*pb.StringStringEntryProto{
				{Key: "location", Value: name},
				{Key: "offset", Value: strconv.FormatInt(off, 10)},
				{Key: "length", Value: strconv.Itoa(len(t.RawData))},
			}
			t.DataLocation = pb.TensorProto_EXTERNAL
			off += int64(len(t.RawData))
			t.RawData = nil
		}
		return nil
	})
}

// WriteFileAtomic writes a file through a temporary file in the same folder and
// renames it into place; on any error the temporary file is removed.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// No fsync: the rename already keeps readers from ever seeing a partial
	// file, and syncing a large model costs more than the whole pipeline.
	if err = write(f); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
