package onnx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	pb "github.com/onnxslim/onnxslim/onnx/internal/onnxpb"
)

const externalLocation = 1 // TensorProto.DataLocation EXTERNAL

// MaxProtoSize is the largest model protobuf ONNX tools can read (2 GiB).
const MaxProtoSize = 2<<30 - 1

// protoLimit is MaxProtoSize, lowered by tests.
var protoLimit = MaxProtoSize

// testHookMidSave runs between writing the external data and the model
// file (tests kill the process there).
var testHookMidSave func()

// Load reads a model file and the external data it refers to. Errors start
// with the file's path and name the place (graph, node, tensor).
func Load(path string) (*Model, error) {
	// Mapped, not read: the file's bytes are page cache, not a copy (the
	// decoder copies what it keeps but large raw_data: alias.go).
	data, err := mapPath(path, false)
	if err != nil {
		return nil, err
	}
	m, err := decodeMapped(data)
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
// sparse initializer parts, attribute tensors and sparse tensors, in all
// graphs, and those of functions' attribute defaults.
func (m *Model) Tensors(f func(place string, t *Tensor) error) error {
	attrs := func(place string, as []*Attribute) error {
		for _, a := range as {
			ts := append([]*Tensor{}, a.Tensors...)
			if a.Tensor != nil {
				ts = append(ts, a.Tensor)
			}
			for _, st := range append([]*SparseTensor{a.SparseTensor}, a.SparseTensors...) {
				if st != nil {
					ts = append(ts, st.Values, st.Indices)
				}
			}
			for _, t := range ts {
				if t != nil {
					if err := f(fmt.Sprintf("%s: attribute %q", place, a.Name), t); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
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
			if err := attrs(fmt.Sprintf("%s: %s", graphPlace(g), NodePlace(n)), n.Attrs); err != nil {
				return err
			}
		}
	}
	for _, fn := range m.Functions {
		if err := attrs(fmt.Sprintf("function %q", fn.Name), fn.AttrProtos); err != nil {
			return err
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
	// ExternalData writes initializers of at least ExternalThreshold bytes
	// (default 1024) to a file beside the model (ExternalFile, default: the
	// model's base name + ".data"). A model over protobuf's 2 GiB limit is
	// written this way even when not asked, with a note.
	ExternalData      bool
	ExternalFile      string
	ExternalThreshold int
	// ExternalAlign is where tensors of 1 MiB or more start in the data
	// file: at a multiple of it, so a consumer can map them (default
	// 64 KiB, the mapping granularity ONNX Runtime needs on Windows; 4096
	// is a page on Linux).
	ExternalAlign int64
	// ExternalFileBytes splits the external data into files of at most
	// this size (NAME.data, NAME.1.data, …; a larger tensor gets a file
	// of its own); 0: one file.
	ExternalFileBytes int64
	// LinkData: an input data file whose tensors go out unchanged is
	// hard-linked beside the output (named as a data file written here
	// would be) and those tensors keep their offsets in it, instead of
	// being copied; only new and changed tensors are written. For a model
	// of many GiB through passes that leave most weights alone, the save
	// then costs no disk writes for them. The two names then share one
	// file: changing either in place changes both (onnxslim itself never
	// writes in place). Where a link cannot be made (another file system,
	// not Linux) the tensors are written as without. It applies where
	// external data is written (ExternalData, or a model over 2 GiB); a
	// linked file keeps its size (ExternalFileBytes splits the written ones).
	LinkData bool
	// Note receives what Save decided on its own (nil: discarded).
	Note func(string)
	// Context, when set, stops a save of large payloads early with its
	// error once it is done (nothing is then put in place).
	Context context.Context
}

// Saved describes what Save wrote.
type Saved struct {
	// Bytes is the size of the model file.
	Bytes int64
	// External lists the external data files written (nil: none).
	External []ExternalFile
}

// Staged is a model written under no name yet (see Stage).
type Staged struct {
	Saved
	files []*tempFile
}

// Stage writes the model as SaveFile does, but leaves every file unseen:
// Commit puts them in place, Discard drops them. It lets a caller check
// what it is about to write while the bytes go to disk, and write nothing
// if the check fails.
func Stage(m *Model, path string, opts SaveOptions) (*Staged, error) {
	st, err := stageFile(m, path, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// Commit names the staged files: data files first, so that a model file
// never names data that is not there.
func (s *Staged) Commit() error {
	files := s.files
	s.files = nil
	for i, f := range files {
		if err := f.commit(); err != nil {
			for _, g := range files[i+1:] {
				g.abort()
			}
			return err
		}
	}
	return nil
}

// Discard drops the staged files.
func (s *Staged) Discard() {
	for _, f := range s.files {
		f.abort()
	}
	s.files = nil
}

// Save writes the model to path (see SaveFile).
func Save(m *Model, path string, opts SaveOptions) error {
	_, err := SaveFile(m, path, opts)
	return err
}

// SaveFile writes the model to path and, when asked or when the model is
// over 2 GiB, its large initializers to an external data file. It streams:
// payloads go from their buffers or mapped files to the output, and the
// protobuf is never built whole in memory. Every file is written under a
// temporary name and renamed into place only when all are complete, so a
// failed or killed save leaves no partial output.
func SaveFile(m *Model, path string, opts SaveOptions) (*Saved, error) {
	st, err := Stage(m, path, opts)
	if err != nil {
		return nil, err
	}
	if err := st.Commit(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &st.Saved, nil
}

// directSaveMin is the model file size from which stageFile writes it
// through a dataWriter (direct I/O, payloads read from their files): below
// it the two 8 MiB buffers are not worth it. A variable for tests.
var directSaveMin = 64 << 20

func stageFile(m *Model, path string, opts SaveOptions) (*Staged, error) {
	if err := m.prepareLazy(); err != nil {
		return nil, err
	}
	mp, err := modelToProto(m)
	if err != nil {
		return nil, err
	}
	saved := &Saved{}
	external := opts.ExternalData
	if size := deterministic.Size(mp); !external && size > protoLimit {
		external = true
		if opts.Note != nil {
			opts.Note(fmt.Sprintf("the model is %d bytes, over protobuf's 2 GiB limit: its large tensors go to the external data file %s", size, externalName(path, opts)))
		}
	}
	var files []*tempFile
	defer func() {
		for _, f := range files {
			f.abort()
		}
	}()
	if external {
		data, recs, err := writeExternal(mp, path, opts)
		files = append(files, data...)
		if err != nil {
			return nil, err
		}
		saved.External = recs
	}
	if testHookMidSave != nil {
		testHookMidSave()
	}
	if size := deterministic.Size(mp); size > protoLimit {
		return nil, fmt.Errorf("the model is %d bytes without its external data, over protobuf's 2 GiB limit", size)
	}
	f, err := createTemp(path)
	if err != nil {
		return nil, err
	}
	files = append(files, f)
	if size := deterministic.Size(mp); size >= directSaveMin {
		// A large model file goes through dataWriter as data files do.
		w := newDataWriter(opts.Context, f.f)
		saved.Bytes, err = writeProto(w, mp.ProtoReflect(), streamMin)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	} else {
		saved.Bytes, err = writeProto(f.f, mp.ProtoReflect(), streamMin)
	}
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	st := &Staged{Saved: *saved, files: files} // the data files first
	files = nil
	return st, nil
}

func externalName(path string, opts SaveOptions) string {
	if opts.ExternalFile != "" {
		return opts.ExternalFile
	}
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)) + ".data"
}

// writeExternal moves the large initializer payloads of the encoded model
// into data files (one, or several of at most ExternalFileBytes each),
// written unseen (the caller commits them), and points the tensors at them.
func writeExternal(mp *pb.ModelProto, path string, opts SaveOptions) ([]*tempFile, []ExternalFile, error) {
	base := externalName(path, opts)
	if filepath.Base(base) != base || base == "." || base == ".." {
		return nil, nil, fmt.Errorf("external data file %q must be a plain file name", base)
	}
	threshold := opts.ExternalThreshold
	if threshold <= 0 {
		threshold = 1024
	}
	align := opts.ExternalAlign
	if align <= 0 {
		align = 64 << 10
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
	var (
		files []*tempFile
		recs  []ExternalFile
		w     *dataWriter
		off   int64
		cur   int // the file being written: its index in recs
	)
	dir := filepath.Dir(path)
	name := func() string { // the next file's name: base, then NAME.1.data, …
		if len(recs) == 0 {
			return base
		}
		ext := filepath.Ext(base)
		return fmt.Sprintf("%s.%d%s", strings.TrimSuffix(base, ext), len(recs), ext)
	}
	closeData := func() error { // finish the file being written
		if w == nil {
			return nil
		}
		err := w.Close()
		w = nil
		return err
	}
	// On an error, the writer goroutine ends before the files are dropped.
	defer closeData()
	next := func() error { // start the next data file
		if err := closeData(); err != nil {
			return err
		}
		loc := name()
		f, err := createTemp(filepath.Join(dir, loc))
		if err != nil {
			return err
		}
		files, recs = append(files, f), append(recs, ExternalFile{Location: loc})
		w, off = newDataWriter(opts.Context, f.f), 0
		return nil
	}
	// With LinkData, an input data file whose tensors are kept unchanged
	// is linked (one file each) and they point at their old offsets in it.
	linked := map[*os.File]int{}    // input file → its index in recs
	linkable := map[*os.File]bool{} // canLink, asked once a file
	linkOf := func(p []byte) (*os.File, int64, bool) {
		if !opts.LinkData {
			return nil, 0, false
		}
		f, at, ok := externalFileOf(p)
		if !ok {
			return nil, 0, false
		}
		can, seen := linkable[f]
		if !seen {
			can = canLink(f, dir)
			linkable[f] = can
		}
		return f, at, can
	}
	for i, t := range tensors {
		n := int64(len(t.RawData))
		if f, at, ok := linkOf(t.RawData); ok {
			k, seen := linked[f]
			if !seen {
				st, err := f.Stat()
				if err != nil {
					return files, nil, err
				}
				k = len(recs)
				linked[f] = k
				loc := name()
				files = append(files, linkTemp(f, filepath.Join(dir, loc)))
				recs = append(recs, ExternalFile{Location: loc, Bytes: st.Size(), Linked: true})
			}
			pointExternal(t, recs[k].Location, at, n)
			recs[k].Tensors++
			recs[k].TensorBytes += n
			continue
		}
		if next := tensors[i+1:]; w != nil && len(next) > 0 && len(next[0].RawData) >= SpillMin && lazyOf(next[0].RawData) == nil && !w.readsDirect(next[0].RawData) {
			if _, _, ok := linkOf(next[0].RawData); !ok {
				// Read the next payload from disk (when mapped) while
				// this one is copied.
				prefetchBytes(next[0].RawData)
			}
		}
		if w == nil || opts.ExternalFileBytes > 0 && off > 0 && off+n > opts.ExternalFileBytes {
			if err := next(); err != nil {
				return files, nil, err
			}
			cur = len(recs) - 1
		}
		if n >= 1<<20 && off%align != 0 {
			pad := align - off%align
			if _, err := w.Write(make([]byte, pad)); err != nil {
				return files, nil, err
			}
			off += pad
		}
		if err := w.WritePayload(t.RawData); err != nil {
			return files, nil, err
		}
		rec := &recs[cur]
		pointExternal(t, rec.Location, off, n)
		off += n
		rec.Tensors++
		rec.TensorBytes += n
		rec.Bytes = off
	}
	if len(recs) == 0 {
		// Asked for, so there: an empty data file.
		if err := next(); err != nil {
			return files, nil, err
		}
	}
	if err := closeData(); err != nil {
		return files, nil, err
	}
	return files, recs, nil
}

// pointExternal makes t's payload the n bytes at off in the data file loc.
func pointExternal(t *pb.TensorProto, loc string, off, n int64) {
	t.ExternalData = []*pb.StringStringEntryProto{
		{Key: "location", Value: loc},
		{Key: "offset", Value: strconv.FormatInt(off, 10)},
		{Key: "length", Value: strconv.FormatInt(n, 10)},
	}
	t.DataLocation = pb.TensorProto_EXTERNAL
	t.RawData = nil
}

// WriteFileAtomic writes a file through a temporary file in the same folder and
// renames it into place; on any error the temporary file is removed.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	f, err := createTemp(path)
	if err != nil {
		return err
	}
	if err := write(f.f); err != nil {
		f.abort()
		return err
	}
	return f.commit()
}
